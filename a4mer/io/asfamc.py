"""Acclaim ASF/AMC reader (numpy only), as used by CMU and HDM05.

- Units: ``:units length L`` means metres = value * 0.0254 / L (L = 0.45 in CMU/HDM05 files; a file
  without ``length`` is assumed to follow that convention too). Angles in degrees unless
  ``angle rad`` (ASF) / ``:RADIANS`` (AMC).
- A bone's ``axis a b c ORDER`` gives its frame C; the numbers belong to the letters in the order
  written and compose extrinsically in that order ("XYZ": ``C = Rz(c) @ Ry(b) @ Rx(a)``, the
  'sxyz' convention of CMU's tools). The dof angles (picked by name: rx, ry, rz) build M the same
  way, and the bone's local rotation is ``L = C @ M @ C^-1`` (the ASF spec's convention).
  The root uses its ``axis`` order, its ``orientation`` as C and the AMC's RX RY RZ as M; the AMC's
  TX TY TZ are the root's position.
- Joints: the root at the root position, then one joint per bone located at the bone's *start*
  (its parent's tip) carrying the bone's orientation, so ``lfemur`` sits at the hip. The tip of a
  bone without children becomes an end site ``<bone>_end``.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import A4merError, MotionFileError
from ..geometry import euler_to_quat
from ._mocap import check_positions, euler_soa, fk_soa, parse_number, qmul_soa, read_text, to_world
from .source import SourceClip

HDM05_FPS = 120.0
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


def extrinsic_quat(angles: np.ndarray, order: str) -> np.ndarray:
    """Extrinsic Euler angles ``(..., 3)`` radians, one per letter of ``order``, to wxyz ``(..., 4)``.

    "XYZ" gives ``Rz(a2) @ Ry(a1) @ Rx(a0)`` (rotate about X first), i.e. intrinsic "ZYX" reversed.
    """
    angles = np.asarray(angles, dtype=np.float64)
    return euler_to_quat(angles[..., ::-1], order[::-1])


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


def read_asf(path: str | os.PathLike) -> AsfSkeleton:
    """Parse an ASF skeleton file. Raises MotionFileError naming the file and the problem."""
    sec = _sections(path, _lines(read_text(path)))
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sec:
            raise MotionFileError(path, f"no :{need} section (not an ASF file, or truncated)")
    units = {toks[0].lower(): toks[1] for _, toks in sec.get("units", []) if len(toks) >= 2}
    if "length" in units:
        length = parse_number(path, units["length"], ":units length")
        if length <= 0:
            raise MotionFileError(path, f":units length {length} is not positive")
    else:
        length = DEFAULT_LENGTH_UNIT
    angle_unit = units.get("angle", "deg").lower()
    if angle_unit not in ("deg", "rad"):
        raise MotionFileError(path, f":units angle {angle_unit!r} (expected deg or rad)")
    ang = np.pi / 180 if angle_unit == "deg" else 1.0
    root = {toks[0].lower(): (ln, toks[1:]) for ln, toks in sec["root"]}
    order = tuple(t.upper() for t in root.get("order", (0, list(_ROOT_CHANNELS)))[1])
    if any(t not in _ROOT_CHANNELS for t in order) or len(set(order)) != len(order):
        raise MotionFileError(path, f":root order {' '.join(order)!r} (expected TX TY TZ RX RY RZ in any order)")
    raxis = root.get("axis", (0, ["XYZ"]))[1]
    raxis = raxis[0].upper() if raxis else ""
    if not _ORDER.match(raxis) or len(set(raxis)) != 3:
        raise MotionFileError(path, f":root axis {raxis!r} is not an order such as XYZ")
    rpos = _floats(path, root["position"][1], 3, ":root position") if "position" in root else np.zeros(3)
    rori = _floats(path, root["orientation"][1], 3, ":root orientation") * ang if "orientation" in root else np.zeros(3)

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

    parent: dict[str, str] = {}
    hier = [(ln, t) for ln, t in sec["hierarchy"] if t[0].lower() not in ("begin", "end")]
    for ln, toks in hier:
        for child in toks[1:]:
            if child not in bones:
                raise MotionFileError(path, f"line {ln}: hierarchy names unknown bone {child!r}")
            if child in parent:
                raise MotionFileError(path, f"line {ln}: bone {child!r} has two parents")
            parent[child] = toks[0]
        if toks[0] != "root" and toks[0] not in bones:
            raise MotionFileError(path, f"line {ln}: hierarchy names unknown bone {toks[0]!r}")
    ordered: list[str] = []
    frontier = ["root"]
    while frontier:  # breadth-first from the root: parents precede children
        nxt = []
        for p in frontier:
            kids = [c for c in bones if parent.get(c) == p]
            ordered += kids
            nxt += kids
        frontier = nxt
    orphans = [b for b in bones if b not in ordered]
    if orphans:
        raise MotionFileError(path, f"bones not connected to the root in :hierarchy: {', '.join(orphans[:8])}")
    return AsfSkeleton(
        path=str(path), name=" ".join(sec.get("name", [(0, ["?"])])[0][1]) if sec.get("name") else "",
        unit_scale=0.0254 / length, angle_unit=angle_unit, root_order=order, root_axis=raxis,
        root_position=rpos, root_orientation=rori,
        bones=tuple(AsfBone(n, bones[n]["direction"], float(bones[n]["length"]), bones[n]["axis"],
                            bones[n]["axis_order"], bones[n]["dof"], parent[n]) for n in ordered),
        meta={"units_length": length, "units_length_assumed": "length" not in units},
    )


def find_asf(amc_path: str | os.PathLike, asf: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The ASF file of an AMC clip and how it was found.

    Order: ``asf`` if given; ``<stem>.asf`` beside the AMC; in a sibling ``asf/`` folder (``../asf``,
    then ``./asf``) the ASF whose stem is the longest prefix of the AMC's stem (HDM05:
    ``amc/HDM_bd_x_120.amc`` -> ``asf/HDM_bd.asf``); the same in the AMC's own folder (CMU:
    ``01_02.amc`` -> ``01.asf``). Raises MotionFileError listing every place tried.
    """
    amc = Path(amc_path)
    if asf is not None:
        if Path(asf).is_file():
            return Path(asf), "given"
        raise MotionFileError(amc, f"ASF skeleton not found: {asf} (given)")
    tried: list[str] = []
    for suffix in (".asf", ".ASF"):
        cand = amc.with_suffix(suffix)
        tried.append(str(cand))
        if cand.is_file():
            return cand, "beside"
    stem = amc.stem.lower()
    for folder, how in ((amc.parent.parent / "asf", "sibling asf/"), (amc.parent / "asf", "asf/ subfolder"),
                        (amc.parent, "prefix in folder")):
        tried.append(f"{folder}/<longest prefix of {amc.stem!r}>.asf")
        if not folder.is_dir():
            continue
        best = None
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() == ".asf" and f.is_file() and stem.startswith(f.stem.lower()):
                if best is None or len(f.stem) > len(best.stem):
                    best = f
        if best is not None:
            return best, how
    raise MotionFileError(amc, "no ASF skeleton found; tried: " + "; ".join(tried) + " (pass asf=PATH)")


_NAME_TOKEN = re.compile(r"(?<!\S)[A-Za-z_]\S*")


def _amc_fast(body: str, counts: dict[str, int], expected: list[str]) -> np.ndarray | None:
    """(T, sum of dof) values in ``expected`` order when every frame lists the bones in the same order
    with consecutive frame numbers (the usual layout); None otherwise (the line parser then decides).

    A regular expression checks the layout (frame number line, then each bone with exactly its dof
    count of values), then the numbers are parsed in one call."""
    head = body.split("\n", len(expected) + 1)[1:len(expected) + 1]
    order = [ln.split(None, 1)[0] if ln.strip() else "" for ln in head]
    if sorted(order) != sorted(expected):
        return None
    frame = r"\d+[ \t]*\n" + "".join(rf"[ \t]*{re.escape(n)}(?:[ \t]+\S+){{{counts[n]}}}[ \t]*\n" for n in order)
    if not re.fullmatch(f"(?:{frame})+", body):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (does not raise) on unparsable text
        try:
            flat = np.fromstring(_NAME_TOKEN.sub(" ", body), sep=" ")
        except (DeprecationWarning, ValueError):
            return None
    width = 1 + sum(counts[n] for n in order)
    if flat.size % width:
        return None
    grid = flat.reshape(-1, width)                                          # (T, 1 + sum of dof)
    if not np.array_equal(grid[:, 0], grid[0, 0] + np.arange(len(grid))):
        return None
    start = dict(zip(order, np.cumsum([1] + [counts[n] for n in order[:-1]])))
    return grid[:, [start[n] + k for n in expected for k in range(counts[n])]]


def _parse_amc(path: object, text: str, skel: AsfSkeleton) -> tuple[dict[str, np.ndarray], str | None]:
    """Per bone (and 'root') a (T, n) array of the AMC's values in file order; the angle keyword."""
    counts = {"root": len(skel.root_order), **{b.name: len(b.dof) for b in skel.bones}}
    expected = [n for n, c in counts.items() if c > 0]
    lines = text.splitlines()
    angle_kw = None
    first = len(lines)
    for k, line in enumerate(lines):
        head = line.split("#", 1)[0].strip()
        if head.isdigit():
            first = k
            break
        if head.upper() in (":DEGREES", ":RADIANS"):
            angle_kw = head[1:].lower()
        elif head and not head.startswith(":"):
            first = -1  # data before the first frame number: the line parser reports it
            break
    body = "\n".join(lines[first:]) + "\n"
    flat = None
    if first >= 0 and "#" not in body and ":" not in body:
        flat = _amc_fast(body, counts, expected)
    if flat is None:
        flat, angle_kw = _parse_amc_lines(path, lines, counts, expected)
    finite = np.isfinite(flat).all(axis=1)
    if not finite.all():
        raise MotionFileError(path, f"frame {int(np.argmin(finite)) + 1} contains NaN/inf values")
    out, c = {}, 0
    for n in expected:
        out[n] = flat[:, c:c + counts[n]]
        c += counts[n]
    return out, angle_kw


def _parse_amc_lines(path: object, lines: list[str], counts: dict[str, int], expected: list[str]
                     ) -> tuple[np.ndarray, str | None]:
    """Line-by-line AMC parser: (T, sum of dof) values in ``expected`` order, the angle keyword;
    MotionFileError with the line for anything malformed."""
    angle_kw = None
    frames: list[list[str]] = []   # per frame: the value tokens in `expected` order
    cur: dict[str, list[str]] | None = None
    number = 0

    def close(ln: int) -> None:
        missing = [n for n in expected if n not in cur]
        if missing:
            raise MotionFileError(path, f"frame {number} (ends line {ln}): missing bones {', '.join(missing[:6])}")
        frames.append([v for n in expected for v in cur[n]])

    ln = 0
    for ln, line in enumerate(lines, 1):
        toks = line.split("#", 1)[0].split()
        if not toks:
            continue
        if toks[0].startswith(":"):
            if cur is not None:
                raise MotionFileError(path, f"line {ln}: keyword {toks[0]} inside the frame data")
            kw = toks[0].upper()
            if kw in (":DEGREES", ":RADIANS"):
                angle_kw = kw[1:].lower()
            continue
        if len(toks) == 1 and toks[0].isdigit():
            if cur is not None:
                close(ln - 1)
            n = int(toks[0])
            if cur is not None and n != number + 1:
                raise MotionFileError(path, f"line {ln}: frame number {n} follows {number}")
            number, cur = n, {}
            continue
        if cur is None:
            raise MotionFileError(path, f"line {ln}: {toks[0]!r} before the first frame number")
        name = toks[0]
        if name not in counts:
            raise MotionFileError(path, f"line {ln}: unknown bone {name!r} (not in the ASF)")
        if name in cur:
            raise MotionFileError(path, f"line {ln}: bone {name!r} twice in frame {number}")
        if len(toks) - 1 != counts[name]:
            raise MotionFileError(path, f"line {ln}: bone {name!r} has {len(toks) - 1} values, "
                                        f"its dof in the ASF need {counts[name]}")
        cur[name] = toks[1:]
    if cur is None:
        raise MotionFileError(path, "no frames (not an AMC file, or empty)")
    close(ln)
    try:
        flat = np.array(frames, dtype=np.float64).reshape(len(frames), -1)  # (T, sum of dof)
    except ValueError:
        for i, fr in enumerate(frames):
            for v in fr:
                parse_number(path, v, f"frame {i + 1}")
        raise MotionFileError(path, "bad frame data") from None
    return flat, angle_kw


def _dof_angles(values: np.ndarray | None, dof: tuple[str, ...], order: str, T: int) -> np.ndarray:
    """(T, 3) angles (file units) for the letters of ``order``, taken from dof values by name."""
    ang = np.zeros((T, 3))
    if values is not None:
        for k, d in enumerate(dof):
            ang[:, order.index(d[-1].upper())] = values[:, k]
    return ang


def read_amc(path: str | os.PathLike, asf: str | os.PathLike | AsfSkeleton | None = None,
             fps: float | None = None, up: str = "y") -> SourceClip:
    """Read an AMC clip with its ASF skeleton into a :class:`SourceClip` (Z-up world, metres).

    asf: an ASF path or parsed skeleton; None looks it up with :func:`find_asf`.
    fps: the clip's rate (AMC files carry none: default 120, HDM05's). up: the files' up axis.
    """
    if up not in ("y", "z"):
        raise A4merError(f"up must be 'y' or 'z', got {up!r}")
    rate = HDM05_FPS if fps is None else float(fps)
    if not np.isfinite(rate) or rate <= 0:
        raise A4merError(f"fps must be positive, got {fps}")
    if isinstance(asf, AsfSkeleton):
        skel, how = asf, "given"
    else:
        asf_path, how = find_asf(path, asf)
        skel = read_asf(asf_path)
    text = read_text(path)
    values, angle_kw = _parse_amc(path, text, skel)
    ang = np.pi / 180 if (angle_kw or ("degrees" if skel.angle_unit == "deg" else "radians")) == "degrees" else 1.0
    T = len(values["root"]) if "root" in values else len(next(iter(values.values())))

    bones = skel.bones
    names = ["root"] + [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    parents = [-1] + [index[b.parent] for b in bones]
    offsets = [skel.root_position] + [
        np.zeros(3) if b.parent == "root" else bones[index[b.parent] - 1].direction * bones[index[b.parent] - 1].length
        for b in bones]
    leaves = [b for b in bones if not any(c.parent == b.name for c in bones)]
    for b in leaves:
        names.append(f"{b.name}_end")
        parents.append(index[b.name])
        offsets.append(b.direction * b.length)
    J = len(names)

    local = np.zeros((4, J, T))                                             # component-major
    local[0] = 1.0
    root_vals = values.get("root", np.zeros((T, 0)))
    rot_dof = tuple(c.lower() for c in skel.root_order if c.startswith("R"))
    rot_cols = [k for k, c in enumerate(skel.root_order) if c.startswith("R")]
    groups: dict[str, list[int]] = {}
    axes = {0: (skel.root_orientation, skel.root_axis)}
    groups.setdefault(skel.root_axis, []).append(0)
    for j, b in enumerate(bones, 1):
        axes[j] = (b.axis, b.axis_order)
        if b.dof:
            groups.setdefault(b.axis_order, []).append(j)
    for order, js in groups.items():
        ang3 = np.stack([_dof_angles(root_vals[:, rot_cols], rot_dof, order, T) if j == 0 else
                         _dof_angles(values[bones[j - 1].name], bones[j - 1].dof, order, T) for j in js])
        # extrinsic in `order` = intrinsic in the reversed order
        m = euler_soa(ang3.transpose(2, 0, 1)[::-1] * ang, tuple("XYZ".index(a) for a in order[::-1]))
        c = np.stack([extrinsic_quat(axes[j][0], order) for j in js]).T[:, :, None]  # (4, Jg, 1)
        local[:, js] = qmul_soa(qmul_soa(c, m), c * np.array([1.0, -1.0, -1.0, -1.0])[:, None, None])
    trans: list[np.ndarray] = list(offsets)
    root_pos = np.repeat(skel.root_position[:, None], T, axis=1)          # (3, T)
    for k, c in enumerate(skel.root_order):
        if c.startswith("T"):
            root_pos["XYZ".index(c[1])] = root_vals[:, k]
    trans[0] = root_pos
    rotates = [j == 0 or bool(bones[j - 1].dof) for j in range(len(bones) + 1)] + [False] * len(leaves)
    pos, rot = fk_soa(local, trans, parents, rotates)
    rest, rest_rot = fk_soa(None, offsets, parents)
    scale = skel.unit_scale
    pos, rot = to_world(pos, rot, up, scale)
    rest = to_world(rest, rest_rot, up, scale)[0][0]
    check_positions(path, pos, rot)
    return SourceClip(
        path=str(path), format="asf/amc", fps=rate, names=tuple(names), parents=tuple(parents),
        end_site=np.arange(J) > len(bones), positions=pos, orientations=rot, rest_positions=rest,
        unit_scale=scale, source_up=up,
        meta={"asf": skel.path, "asf_found": how, "header_fps": None, "fps_assumed": fps is None,
              "angle_unit": "deg" if ang != 1.0 else "rad", **skel.meta},
    )
