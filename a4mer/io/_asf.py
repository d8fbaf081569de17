"""ASF skeleton files (Acclaim), as written by CMU's and HDM05's tools: see :mod:`a4mer.io.asfamc`."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import MotionFileError
from ._mocap import MAX_JOINTS, parse_number, read_text

DEFAULT_LENGTH_UNIT = 0.45
_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
_ROT_DOF = ("rx", "ry", "rz")
_ORDER = re.compile(r"^[XYZ]{3}$")


@dataclass(frozen=True, eq=False)
class AsfBone:
    """One ASF bone. direction: (3,) unit vector in the rest world; length: file units;
    axis: (3,) radians, one per letter of ``axis_order``; dof: rotation dof names in file order."""

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]
    parent: str


@dataclass(frozen=True, eq=False)
class AsfSkeleton:
    """A parsed ASF file. bones are in hierarchy order (parents first); lengths in file units.

    unit_scale: metres per file length unit. root_order: AMC root channel names (e.g. TX ... RZ).
    root_position: (3,) file units; root_orientation: (3,) radians for the letters of root_axis.
    """

    path: str
    name: str
    unit_scale: float
    angle_unit: str
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    bones: tuple[AsfBone, ...]
    meta: dict = field(default_factory=dict)

    def bone(self, name: str) -> AsfBone:
        for b in self.bones:
            if b.name == name:
                return b
        raise KeyError(name)


def _lines(text: str) -> list[tuple[int, list[str]]]:
    """(line number, tokens) of the non-empty lines, comments (#) removed."""
    out = []
    for ln, line in enumerate(text.splitlines(), 1):
        toks = line.split("#", 1)[0].split()
        if toks:
            out.append((ln, toks))
    return out


def _floats(path: object, toks: list[str], n: int, what: str) -> np.ndarray:
    if len(toks) < n:
        raise MotionFileError(path, f"{what}: needs {n} numbers, found {len(toks)}")
    return np.array([parse_number(path, t, what) for t in toks[:n]])


def _parse_bone(path: object, block: list[tuple[int, list[str]]], ang: float) -> dict:
    bone: dict = {"dof": ()}
    for ln, toks in block:
        key = toks[0].lower()
        where = f"line {ln}"
        if key == "name":
            if len(toks) < 2:
                raise MotionFileError(path, f"{where}: bone without a name")
            bone["name"] = toks[1]
        elif key == "direction":
            bone["direction"] = _floats(path, toks[1:], 3, f"{where}: direction")
        elif key == "length":
            bone["length"] = _floats(path, toks[1:], 1, f"{where}: length")[0]
        elif key == "axis":
            bone["axis"] = _floats(path, toks[1:], 3, f"{where}: axis") * ang
            order = toks[4].upper() if len(toks) > 4 else "XYZ"
            if not _ORDER.match(order) or len(set(order)) != 3:
                raise MotionFileError(path, f"{where}: bad axis order {order!r}")
            bone["axis_order"] = order
        elif key == "dof":
            dof = tuple(t.lower() for t in toks[1:])
            bad = [d for d in dof if d not in _ROT_DOF]
            if bad:
                raise MotionFileError(path, f"{where}: unsupported dof {bad[0]!r} (only rx ry rz)")
            if len(set(dof)) != len(dof):
                raise MotionFileError(path, f"{where}: repeated dof")
            bone["dof"] = dof
    if "name" not in bone:
        raise MotionFileError(path, f"line {block[0][0] if block else '?'}: bone without a name")
    for k in ("direction", "length"):
        if k not in bone:
            raise MotionFileError(path, f"bone {bone['name']!r} has no {k}")
    n = float(np.linalg.norm(bone["direction"]))
    if bone["length"] < 0 or (n < 1e-9 and bone["length"] > 0):
        raise MotionFileError(path, f"bone {bone['name']!r}: bad direction/length")
    bone["direction"] = bone["direction"] / n if n >= 1e-9 else np.zeros(3)
    bone.setdefault("axis", np.zeros(3))
    bone.setdefault("axis_order", "XYZ")
    return bone


def _sections(path: object, lines: list[tuple[int, list[str]]]) -> dict[str, list[tuple[int, list[str]]]]:
    sec: dict[str, list[tuple[int, list[str]]]] = {}
    cur = None
    for ln, toks in lines:
        if toks[0].startswith(":"):
            cur = toks[0][1:].lower()
            if cur in sec:
                raise MotionFileError(path, f"line {ln}: second :{cur} section")
            sec[cur] = [(ln, toks[1:])] if len(toks) > 1 else []
        elif cur is None:
            raise MotionFileError(path, f"line {ln}: text before the first ':' section: not an ASF file")
        else:
            sec[cur].append((ln, toks))
    return sec


def _units(path: object, sec: dict) -> tuple[float, str]:
    """(length unit L, angle unit) of the :units section; L defaults to 0.45 (CMU/HDM05)."""
    units = {toks[0].lower(): toks[1] for _, toks in sec.get("units", []) if len(toks) >= 2}
    length = DEFAULT_LENGTH_UNIT
    if "length" in units:
        length = parse_number(path, units["length"], ":units length")
        if length <= 0:
            raise MotionFileError(path, f":units length {length} is not positive")
    angle_unit = units.get("angle", "deg").lower()
    if angle_unit not in ("deg", "rad"):
        raise MotionFileError(path, f":units angle {angle_unit!r} (expected deg or rad)")
    return length, angle_unit


def _root(path: object, sec: dict, ang: float) -> tuple[tuple[str, ...], str, np.ndarray, np.ndarray]:
    """Root channel order, axis order, position (file units) and orientation (radians)."""
    root = {toks[0].lower(): toks[1:] for _, toks in sec["root"]}
    order = tuple(t.upper() for t in root.get("order", _ROOT_CHANNELS))
    if any(t not in _ROOT_CHANNELS for t in order) or len(set(order)) != len(order):
        raise MotionFileError(path, f":root order {' '.join(order)!r} (expected TX TY TZ RX RY RZ in any order)")
    raxis = root.get("axis", ["XYZ"])
    raxis = raxis[0].upper() if raxis else ""
    if not _ORDER.match(raxis) or len(set(raxis)) != 3:
        raise MotionFileError(path, f":root axis {raxis!r} is not an order such as XYZ")
    rpos = _floats(path, root["position"], 3, ":root position") if "position" in root else np.zeros(3)
    rori = _floats(path, root["orientation"], 3, ":root orientation") * ang if "orientation" in root else np.zeros(3)
    return order, raxis, rpos, rori


def _bonedata(path: object, sec: dict, ang: float) -> dict[str, dict]:
    bones: dict[str, dict] = {}
    block: list[tuple[int, list[str]]] | None = None
    for ln, toks in sec["bonedata"]:
        key = toks[0].lower()
        if key == "begin":
            if block is not None:
                raise MotionFileError(path, f"line {ln}: 'begin' inside a bone block")
            block = []
        elif key == "end":
            if block is None:
                raise MotionFileError(path, f"line {ln}: 'end' without 'begin'")
            b = _parse_bone(path, block, ang)
            if b["name"] in bones or b["name"] == "root":
                raise MotionFileError(path, f"line {ln}: duplicate bone {b['name']!r}")
            bones[b["name"]] = b
            block = None
        elif block is None:
            raise MotionFileError(path, f"line {ln}: {toks[0]!r} outside a begin/end bone block")
        else:
            block.append((ln, toks))
    if block is not None:
        raise MotionFileError(path, "bone block without 'end' (truncated file?)")
    return bones


def _hierarchy(path: object, sec: dict, bones: dict[str, dict]) -> tuple[list[str], dict[str, str]]:
    """Bone names breadth-first from the root (parents first) and each bone's parent."""
    parent: dict[str, str] = {}
    for ln, toks in sec["hierarchy"]:
        if toks[0].lower() in ("begin", "end"):
            continue
        if toks[0] != "root" and toks[0] not in bones:
            raise MotionFileError(path, f"line {ln}: hierarchy names unknown bone {toks[0]!r}")
        for child in toks[1:]:
            if child not in bones:
                raise MotionFileError(path, f"line {ln}: hierarchy names unknown bone {child!r}")
            if child in parent:
                raise MotionFileError(path, f"line {ln}: bone {child!r} has two parents")
            parent[child] = toks[0]
    children: dict[str, list[str]] = {}
    for c in bones:  # in file order, as the frontier lists them
        if c in parent:
            children.setdefault(parent[c], []).append(c)
    ordered: list[str] = []
    frontier = ["root"]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, ())]
        ordered += frontier
    seen = set(ordered)
    orphans = [b for b in bones if b not in seen]
    if orphans:
        raise MotionFileError(path, f"bones not connected to the root in :hierarchy: {', '.join(orphans[:8])}")
    return ordered, parent


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Parse an ASF skeleton file. Raises MotionFileError naming the file and the problem."""
    sec = _sections(path, _lines(read_text(path)))
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sec:
            raise MotionFileError(path, f"no :{need} section (not an ASF file, or truncated)")
    length, angle_unit = _units(path, sec)
    ang = np.pi / 180 if angle_unit == "deg" else 1.0
    order, raxis, rpos, rori = _root(path, sec, ang)
    bones = _bonedata(path, sec, ang)
    if 2 * len(bones) > MAX_JOINTS:  # bones and their end points
        raise MotionFileError(path, f"{len(bones)} bones; this reader takes at most {MAX_JOINTS // 2}")
    ordered, parent = _hierarchy(path, sec, bones)
    name_lines = sec.get("name")
    return AsfSkeleton(
        path=str(path), name=" ".join(name_lines[0][1]) if name_lines else "",
        unit_scale=0.0254 / length, angle_unit=angle_unit, root_order=order, root_axis=raxis,
        root_position=rpos, root_orientation=rori,
        bones=tuple(AsfBone(n, bones[n]["direction"], float(bones[n]["length"]), bones[n]["axis"],
                            bones[n]["axis_order"], bones[n]["dof"], parent[n]) for n in ordered),
        meta={"units_length": length, "units_length_assumed": not any(
            t[0].lower() == "length" for _, t in sec.get("units", []))},
    )
