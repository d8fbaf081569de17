"""Output files: checked before any work starts, written whole or not at all (numpy only).

Every command that writes a file names it with :func:`check_output` first, so a typo, a folder in
the way or the input itself given as the output is one clear error before minutes of computing,
and the user's input is never overwritten.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import A4merError


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), suffixes: Iterable[str] = (),
                 companions: Iterable[str | os.PathLike] = ()) -> Path:
    """``out`` checked for a file about to be written: one of ``suffixes`` (when given), none of
    ``inputs``, not a folder, in an existing writable folder; ``companions`` (files written beside it,
    e.g. a quality sidecar) not folders either. Returns ``Path(out)``; :class:`A4merError` naming the
    path and the problem."""
    out = Path(out)
    suffixes = tuple(s.lower() for s in suffixes)
    if suffixes and not any(out.name.lower().endswith(s) for s in suffixes):
        raise A4merError(f"{out}: the output must be a {' or '.join(suffixes)} file")
    for src in inputs:
        if Path(src).exists() and out.exists() and os.path.samefile(src, out):
            raise A4merError(f"{out}: refusing to overwrite the input {src}; choose another output")
    folder = out.resolve().parent
    if not folder.is_dir():
        raise A4merError(f"{out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise A4merError(f"{out}: the folder {folder} is not writable")
    for p in (out, *map(Path, companions)):
        if p.is_dir():
            raise A4merError(f"{p}: is a folder; choose another output")
    return out


@functools.lru_cache(maxsize=1)
def _file_mode() -> int:
    """Permissions of a new file under this process's umask (0644 under the usual 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` to a temporary file beside ``path``, then renamed into place: the file is whole or
    absent, whatever ``write`` raises. :class:`A4merError` naming the path when it cannot be written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        write(tmp)
        os.chmod(tmp, _file_mode())  # a writer may create 0600 files (safetensors does): the umask's mode
        os.replace(tmp, path)
    except OSError as e:
        raise A4merError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """``np.savez`` of ``arrays`` to ``path`` atomically (:func:`write_atomic`)."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return write_atomic(path, write)
