"""Error types that the CLI turns into one clear line (no traceback)."""
from __future__ import annotations


class A4merError(Exception):
    """Base class of every error a user can cause (bad file, bad option, bad rig)."""


class MotionFileError(A4merError, ValueError):
    """A motion file cannot be read: the message names the file and the problem."""

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class BadValue(A4merError, ValueError):
    """An argument of the wrong kind or out of range (a frame rate, a frame index, a device ...)."""


class SkeletonError(A4merError, ValueError):
    """A skeleton or rig cannot be mapped onto SMPL (names the missing bones)."""


class A4merWarning(UserWarning):
    """A result was produced but with less support than recommended (e.g. short context, a clip that
    does not look like metres); the command line prints it as one ``a4mer VERB: warning:`` line."""
