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
from pathlib import Path

import numpy as np

from ..errors import A4merError, MotionFileError
from ..geometry import euler_to_quat
from ._asf import DEFAULT_LENGTH_UNIT, AsfBone, AsfSkeleton, read_asf
from ._mocap import (MAX_JOINT_FRAMES, check_angles, check_positions, euler_soa, fk_soa, hold_nonfinite_rows,
                     parse_number, qmul_soa, read_text, source_fps, to_world)
from .source import SourceClip

__all__ = ["read_asf", "read_amc", "find_asf", "AsfSkeleton", "AsfBone", "extrinsic_quat",
           "HDM05_FPS", "DEFAULT_LENGTH_UNIT"]

HDM05_FPS = 120.0


def extrinsic_quat(angles: np.ndarray, order: str) -> np.ndarray:
    """Extrinsic Euler angles ``(..., 3)`` radians, one per letter of ``order``, to wxyz ``(..., 4)``.

    "XYZ" gives ``Rz(a2) @ Ry(a1) @ Rx(a0)`` (rotate about X first), i.e. intrinsic "ZYX" reversed.
    """
    angles = np.asarray(angles, dtype=np.float64)
    return euler_to_quat(angles[..., ::-1], order[::-1])


def find_asf(amc_path: str | os.PathLike, asf: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The ASF file of an AMC clip and how it was found.

    Order: ``asf`` if given; ``<stem>.asf`` beside the AMC; in a sibling ``asf/`` folder (``../asf``,
    then ``./asf``) the ASF whose stem is the longest prefix of the AMC's stem (HDM05:
    ``amc/HDM_bd_x_120.amc`` -> ``asf/HDM_bd.asf``); the same in the AMC's own folder (CMU:
    ``01_02.amc`` -> ``01.asf``), then in the folder above it (a library sorted into label folders:
    ``lib/hop/HDM_bd_x.amc`` -> ``lib/HDM_bd.asf``). Raises MotionFileError listing every place tried.
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
    here = Path(os.path.abspath(amc)).parent  # a bare file name has no folder above it otherwise
    for folder, how in ((here.parent / "asf", "sibling asf/"), (here / "asf", "asf/ subfolder"),
                        (here, "prefix in folder"), (here.parent, "prefix in parent folder")):
        tried.append(f"{folder}/<longest prefix of {amc.stem!r}>.asf")
        if not folder.is_dir():
            continue
        best = None
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() == ".asf" and f.is_file() and _name_prefix(f.stem.lower(), stem):
                if best is None or len(f.stem) > len(best.stem):
                    best = f
        if best is not None:
            return best, how
    raise MotionFileError(amc, "no ASF skeleton found; tried: " + "; ".join(tried)
                          + " (give the skeleton: --asf PATH on the command line, the import's 'ASF skeleton' field "
                            "in Blender, asf=PATH in Python)")


def _name_prefix(prefix: str, stem: str) -> bool:
    """Whether ``prefix`` starts ``stem`` up to a name boundary (``01`` starts ``01_02``, not ``010_02``:
    subject 10's skeleton is not subject 100's)."""
    return stem.startswith(prefix) and (len(stem) == len(prefix) or stem[len(prefix)] in "_-. ")


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


def _parse_amc(path: object, text: str, skel: AsfSkeleton, nonfinite_ok: bool = False
               ) -> tuple[dict[str, np.ndarray], str | None, np.ndarray]:
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
        flat, angle_kw = _parse_amc_lines(path, lines, counts, expected, cut=not text.endswith(("\n", "\r")))
    flat, bad = hold_nonfinite_rows(path, flat, nonfinite_ok, "AMC frame {row} (frame {frame} counting from 0) contains NaN/inf values")
    out, c = {}, 0
    for n in expected:
        out[n] = flat[:, c:c + counts[n]]
        c += counts[n]
    return out, angle_kw, bad


def _parse_amc_lines(path: object, lines: list[str], counts: dict[str, int], expected: list[str],
                     cut: bool = False) -> tuple[np.ndarray, str | None]:
    """Line-by-line AMC parser: (T, sum of dof) values in ``expected`` order, the angle keyword;
    MotionFileError with the line for anything malformed (``cut``: the text ends without a line break,
    so a bad last line is named as a truncated file)."""
    angle_kw = None
    frames: list[list[str]] = []   # per frame: the value tokens in `expected` order
    cur: dict[str, list[str]] | None = None
    number = 0

    def close(ln: int, last: bool = False) -> None:
        missing = [n for n in expected if n not in cur]
        if missing:
            where = "the last frame" if last else "frame"
            raise MotionFileError(path, f"{where} {number} (ends line {ln}): missing bones {', '.join(missing[:6])}"
                                        + ("; the file looks truncated" if last else ""))
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
        if cut and ln == len(lines) and (name not in counts or len(toks) - 1 != counts[name]):
            raise MotionFileError(path, f"line {ln}: the file ends in the middle of this line (truncated)")
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
    close(ln, last=True)
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


def _check_rotation_values(path: object, values: dict[str, np.ndarray], skel: AsfSkeleton, to_rad: float) -> None:
    """MotionFileError for a rotation value (file unit, ``to_rad`` radians each) beyond ``ANGLE_LIMIT`` in
    the per-bone ``values`` of :func:`_parse_amc`, naming the frame (counted from 1) and the bone's dof."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    dofs = {b.name: b.dof for b in skel.bones}
    for name, arr in values.items():
        if name == "root":
            dof = [(k, c.lower()) for k, c in enumerate(skel.root_order) if c.startswith("R")]
        else:
            dof = list(enumerate(dofs[name]))
        cols += [arr[:, k] for k, _ in dof]
        names += [f"{name} {d}" for _, d in dof]
    if cols:
        check_angles(path, np.stack(cols, axis=1), to_rad, lambda i: f"frame {{row}}, {names[i]}")


def read_amc(path: str | os.PathLike, asf: str | os.PathLike | AsfSkeleton | None = None,
             fps: float | None = None, up: str = "y", nonfinite_ok: bool = False) -> SourceClip:
    """Read an AMC clip with its ASF skeleton into a :class:`SourceClip` (Z-up world, metres).

    asf: an ASF path or parsed skeleton; None looks it up with :func:`find_asf`.
    fps: the clip's rate (AMC files carry none: default 120, HDM05's). up: the files' up axis.
    nonfinite_ok: frames holding NaN/inf are read as the nearest finite frame and listed in
    ``meta["nonfinite_frames"]`` (else an error).
    """
    if up not in ("y", "z"):
        raise A4merError(f"up must be 'y' or 'z', got {up!r}")
    rate = source_fps(fps, HDM05_FPS)
    if isinstance(asf, AsfSkeleton):
        skel, how = asf, "given"
    else:
        asf_path, how = find_asf(path, asf)
        skel = read_asf(asf_path)
    text = read_text(path)
    values, angle_kw, bad = _parse_amc(path, text, skel, nonfinite_ok)
    ang = np.pi / 180 if (angle_kw or ("degrees" if skel.angle_unit == "deg" else "radians")) == "degrees" else 1.0
    _check_rotation_values(path, values, skel, ang)
    T = len(values["root"]) if "root" in values else len(next(iter(values.values())))
    if 2 * (len(skel.bones) + 1) * T > MAX_JOINT_FRAMES:  # bones and their end points
        raise MotionFileError(path, f"{len(skel.bones) + 1} bones x {T} frames is more than this reader holds at once "
                                    f"({MAX_JOINT_FRAMES:,} joint-frames): split the take")

    bones = skel.bones
    names = ["root"] + [b.name for b in bones]
    index = {n: i for i, n in enumerate(names)}
    parents = [-1] + [index[b.parent] for b in bones]
    offsets = [skel.root_position] + [
        np.zeros(3) if b.parent == "root" else bones[index[b.parent] - 1].direction * bones[index[b.parent] - 1].length
        for b in bones]
    has_child = {c.parent for c in bones}
    leaves = [b for b in bones if b.name not in has_child]
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
    # the root turns about the fixed axes in the sequence its `order` lists them (RZ RY RX: Z, then Y,
    # then X; Acclaim's spec), `axis` orders its rest orientation only; CMU and HDM05 give both as XYZ
    turns = "".join(c[1] for c in skel.root_order if c.startswith("R"))
    groups.setdefault(turns if sorted(turns) == ["X", "Y", "Z"] else skel.root_axis, []).append(0)
    for j, b in enumerate(bones, 1):
        axes[j] = (b.axis, b.axis_order)
        if b.dof:
            groups.setdefault(b.axis_order, []).append(j)
    for order, js in groups.items():
        ang3 = np.stack([_dof_angles(root_vals[:, rot_cols], rot_dof, order, T) if j == 0 else
                         _dof_angles(values[bones[j - 1].name], bones[j - 1].dof, order, T) for j in js])
        # extrinsic in `order` = intrinsic in the reversed order
        m = euler_soa(ang3.transpose(2, 0, 1)[::-1] * ang, tuple("XYZ".index(a) for a in order[::-1]))
        c = np.stack([extrinsic_quat(*axes[j]) for j in js]).T[:, :, None]  # (4, Jg, 1) rest orientations
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
    rest, rest_rot = (a[0] for a in to_world(rest, rest_rot, up, scale))
    check_positions(path, pos, rot)
    return SourceClip(
        path=str(path), format="asf/amc", fps=rate, names=tuple(names), parents=tuple(parents),
        end_site=np.arange(J) > len(bones), positions=pos, orientations=rot, rest_positions=rest, rest_orientations=rest_rot,
        unit_scale=scale, source_up=up,
        meta={"asf": skel.path, "asf_found": how, "header_fps": None, "fps_assumed": fps is None,
              "angle_unit": "deg" if ang != 1.0 else "rad", **skel.meta,
              **({"nonfinite_frames": bad.tolist()} if len(bad) else {})},
    )
