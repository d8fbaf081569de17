"""The HIERARCHY section of a BVH file (numpy only): joints, OFFSETs and CHANNELS, read token by token,
with errors naming the line. :func:`parse_hierarchy` is what :mod:`a4mer.io.bvh` reads a file's skeleton with."""
from __future__ import annotations

import re
from collections import Counter
from typing import NoReturn

import numpy as np

from ..errors import MotionFileError
from ._mocap import parse_number

_CHANNELS = {"xposition": ("p", 0), "yposition": ("p", 1), "zposition": ("p", 2),
             "xrotation": ("r", 0), "yrotation": ("r", 1), "zrotation": ("r", 2)}
_TOKEN = re.compile(r"[{}]|[^\s{}]+")


class BvhJoint:
    """One joint of the hierarchy (an End Site too): name, parent index (-1: the root), OFFSET (3,) in the
    file's units, channels ``(kind "p"|"r", axis 0-2)`` in file order."""

    __slots__ = ("name", "parent", "offset", "channels", "end_site")

    def __init__(self, name: str, parent: int, end_site: bool = False):
        self.name = name
        self.parent = parent
        self.offset: np.ndarray | None = None
        self.channels: list[tuple[str, int]] = []
        self.end_site = end_site


class _Parser:
    """Reads the HIERARCHY section token by token; one method per keyword."""

    def __init__(self, path: object):
        self.path = path
        self.joints: list[BvhJoint] = []
        self.stack: list[int] = []           # open joint blocks (indices into joints)
        self.pending: BvhJoint | None = None   # joint declared, waiting for its "{"
        self.seen_hierarchy = False
        self.where = ""

    def fail(self, problem: str) -> NoReturn:
        raise MotionFileError(self.path, f"{self.where}: {problem}")

    def current(self, what: str) -> BvhJoint:
        if not self.stack or self.pending is not None:
            self.fail(f"{what} outside a joint block")
        return self.joints[self.stack[-1]]

    def declare(self, toks: list[str], i: int) -> list[str]:
        """ROOT name / JOINT name / End Site at toks[i]; returns the braces left on the line."""
        key = toks[i].upper()
        end = key == "END"
        if not self.seen_hierarchy:
            self.fail(f"{toks[i]} before HIERARCHY")
        if self.pending is not None:
            self.fail(f"expected '{{' after {self.pending.name!r}")
        if key == "ROOT" and self.joints:
            self.fail("a second ROOT (only one skeleton per file is supported)")
        if key != "ROOT" and not self.stack:
            self.fail(f"{toks[i]} outside any joint block")
        rest = [x for x in toks[i + (2 if end else 1):] if x not in ("{", "}")]
        if end:
            parent = self.joints[self.stack[-1]]
            if parent.end_site:
                self.fail("End Site inside an End Site")
            name = f"{parent.name}_end"
        elif not rest:
            self.fail(f"{toks[i]} without a name")
        else:
            name = " ".join(rest)  # the name runs to the end of the line
        self.pending = BvhJoint(name, self.stack[-1] if self.stack else -1, end_site=end)
        return [x for x in toks[i + 1:] if x in ("{", "}")]

    def open(self) -> None:
        if self.pending is None:
            self.fail("'{' without a joint")
        self.joints.append(self.pending)
        self.stack.append(len(self.joints) - 1)
        self.pending = None

    def close(self) -> None:
        if not self.stack:
            self.fail("unbalanced '}'")
        j = self.joints[self.stack.pop()]
        if j.offset is None:
            self.fail(f"joint {j.name!r} has no OFFSET")

    def offset(self, toks: list[str], i: int) -> int:
        j = self.current("OFFSET")
        vals = toks[i + 1:i + 4]
        if len(vals) != 3:
            self.fail(f"OFFSET of {j.name!r} needs 3 numbers")
        j.offset = np.array([parse_number(self.path, v, f"{self.where}: OFFSET of {j.name!r}") for v in vals])
        return i + 4

    def channels(self, toks: list[str], i: int) -> int:
        j = self.current("CHANNELS")
        if j.end_site:
            self.fail("an End Site cannot have CHANNELS")
        if j.channels:
            self.fail(f"second CHANNELS line for {j.name!r}")
        if i + 1 >= len(toks) or not toks[i + 1].isdigit():
            self.fail(f"CHANNELS of {j.name!r} needs a count")
        n = int(toks[i + 1])
        names = toks[i + 2:i + 2 + n]
        if n > 6 or len(names) != n:
            self.fail(f"CHANNELS {n} of {j.name!r} lists {len(names)} channel names (at most 6)")
        for c in names:
            if c.lower() not in _CHANNELS:
                self.fail(f"unknown channel {c!r} of {j.name!r}")
        chans = [_CHANNELS[c.lower()] for c in names]
        if len(set(chans)) != len(chans):
            self.fail(f"repeated channel in CHANNELS of {j.name!r}")
        j.channels = chans
        return i + 2 + n

    def line(self, toks: list[str]) -> None:
        i = 0
        while i < len(toks):
            t, key = toks[i], toks[i].upper()
            if key == "HIERARCHY":
                if self.seen_hierarchy or self.joints:
                    self.fail("unexpected second HIERARCHY")
                self.seen_hierarchy = True
                i += 1
            elif key in ("ROOT", "JOINT") or (key == "END" and i + 1 < len(toks) and toks[i + 1].upper() == "SITE"):
                toks, i = self.declare(toks, i), 0
            elif t == "{":
                self.open()
                i += 1
            elif t == "}":
                self.close()
                i += 1
            elif key == "OFFSET":
                i = self.offset(toks, i)
            elif key == "CHANNELS":
                i = self.channels(toks, i)
            else:
                self.fail(f"unexpected {t!r} in HIERARCHY")


def parse_hierarchy(path: object, header: str) -> list[BvhJoint]:
    """Joints in file order (parents first) from the text before ``MOTION``."""
    p = _Parser(path)
    for ln, line in enumerate(header.splitlines(), 1):
        p.where = f"line {ln}"
        p.line(_TOKEN.findall(line))
    if not p.seen_hierarchy:
        raise MotionFileError(path, "no HIERARCHY section: not a BVH file")
    if p.pending is not None or p.stack:
        raise MotionFileError(path, "HIERARCHY ends inside an open joint block (truncated file?)")
    if not p.joints:
        raise MotionFileError(path, "HIERARCHY has no ROOT joint")
    names = [j.name for j in p.joints if not j.end_site]
    if len(set(names)) != len(names):
        dup = sorted(n for n, k in Counter(names).items() if k > 1)
        raise MotionFileError(path, f"duplicate joint names: {', '.join(dup)}")
    taken = set(names)
    next_k: dict[str, int] = {}  # per base name: where its numbering goes on (linear in the End Sites)
    for j in p.joints:  # an End Site whose "<parent>_end" name is taken gets a number
        if j.end_site:
            base, k = j.name, next_k.get(j.name, 2)
            while j.name in taken:
                j.name, k = f"{base}{k}", k + 1
            next_k[base] = k
            taken.add(j.name)
    return p.joints
