"""BVH reader (numpy only): any channel order, position channels on any joint, End Sites.

Conventions of the format as read here:

- Rotation channels of a joint compose *intrinsically in the order written*: ``Zrotation Xrotation
  Yrotation`` means ``R = Rz(z) @ Rx(x) @ Ry(y)`` (degrees in the file).
- A joint with position channels takes its local translation from them (each channel replaces the
  matching component of its OFFSET); joints without keep their OFFSET.
- End Sites become extra joints named ``<parent>_end`` (orientation = their parent's).
- The file's world is Y-up unless ``up="z"``; everything returned is in the Z-up world, metres.
- Units are guessed from the length of the lowest limb chain (see :func:`guess_unit_scale`).
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from ..conventions import Y_UP_TO_Z_UP, snap_fps
from ..errors import A4merError, MotionFileError
from ..geometry import euler_to_quat, quat_apply, quat_identity, quat_mul
from .source import SourceClip

_CHANNELS = {"xposition": ("p", 0), "yposition": ("p", 1), "zposition": ("p", 2),
             "xrotation": ("r", 0), "yrotation": ("r", 1), "zrotation": ("r", 2)}
_AXIS_LETTERS = "XYZ"
_TOKEN = re.compile(r"[{}]|[^\s{}]+")
_MOTION = re.compile(r"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)
#: metres per unit for the unit guess: (upper bound of the limb-chain length in file units, scale, name)
UNIT_GUESSES: tuple[tuple[float, float, str], ...] = (
    (3.0, 1.0, "m"),
    (30.0, 0.0254 / 0.45, "cmu"),    # CMU/ASF scale: 1 unit = 1/0.45 inch
    (60.0, 0.0254, "inch"),
    (300.0, 0.01, "cm"),
    (np.inf, 0.001, "mm"),
)


def read_text(path: str | os.PathLike) -> str:
    """The file's text (UTF-8, optional BOM); MotionFileError for missing, binary or non-UTF-8 files.

    Non-UTF-8 bytes are accepted only inside ``#`` comment lines (read as Latin-1)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise MotionFileError(path, "file not found") from None
    except IsADirectoryError:
        raise MotionFileError(path, "is a directory, not a file") from None
    except OSError as e:
        raise MotionFileError(path, f"cannot read file ({e.strerror or e})") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise MotionFileError(path, f"binary data (NUL byte at offset {nul}), not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bad = f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
    # tolerated: legacy 8-bit text in '#' comment lines only (HDM05 headers hold a Latin-1 path)
    text = data.decode("latin-1")
    for line in text.splitlines():
        if not line.isascii() and not line.lstrip().startswith("#"):
            raise MotionFileError(path, bad)
    return text


def parse_number(path: object, token: str, what: str) -> float:
    """A finite float from ``token``; MotionFileError naming ``what`` otherwise."""
    try:
        v = float(token)
    except ValueError:
        raise MotionFileError(path, f"{what}: {token!r} is not a number") from None
    if not np.isfinite(v):
        raise MotionFileError(path, f"{what}: value {token!r} is not finite")
    return v


class _Joint:
    __slots__ = ("name", "parent", "offset", "channels", "end_site", "line")

    def __init__(self, name: str, parent: int, line: int, end_site: bool = False):
        self.name = name
        self.parent = parent
        self.offset: np.ndarray | None = None
        self.channels: list[tuple[str, int]] = []
        self.end_site = end_site
        self.line = line


def _parse_hierarchy(path: object, header: str) -> list[_Joint]:
    """Joints in file order (parents first) from the text before ``MOTION``."""
    lines = header.splitlines()
    joints: list[_Joint] = []
    stack: list[int] = []          # open joint blocks (indices into joints)
    pending: _Joint | None = None  # joint declared, waiting for its "{"
    seen_hierarchy = False
    for ln, line in enumerate(lines, 1):
        toks = _TOKEN.findall(line)
        i = 0
        while i < len(toks):
            t = toks[i]
            key = t.upper()
            where = f"line {ln}"
            if key == "HIERARCHY":
                if seen_hierarchy or joints:
                    raise MotionFileError(path, f"{where}: unexpected second HIERARCHY")
                seen_hierarchy = True
                i += 1
            elif key in ("ROOT", "JOINT") or (key == "END" and i + 1 < len(toks) and toks[i + 1].upper() == "SITE"):
                if not seen_hierarchy:
                    raise MotionFileError(path, f"{where}: {t} before HIERARCHY")
                if pending is not None:
                    raise MotionFileError(path, f"{where}: expected '{{' after {pending.name!r}")
                if key == "ROOT":
                    if joints:
                        raise MotionFileError(path, f"{where}: a second ROOT (only one skeleton per file is supported)")
                elif not stack:
                    raise MotionFileError(path, f"{where}: {t} outside any joint block")
                end = key == "END"
                rest = [x for x in toks[i + (2 if end else 1):] if x not in ("{", "}")]
                if end:
                    parent = joints[stack[-1]]
                    if parent.end_site:
                        raise MotionFileError(path, f"{where}: End Site inside an End Site")
                    name = f"{parent.name}_end"
                else:
                    if not rest:
                        raise MotionFileError(path, f"{where}: {t} without a name")
                    name = " ".join(rest)
                pending = _Joint(name, stack[-1] if stack else -1, ln, end_site=end)
                # the name runs to the end of the line: keep only its braces
                toks = [x for x in toks[i + 1:] if x in ("{", "}")]
                i = 0
            elif t == "{":
                if pending is None:
                    raise MotionFileError(path, f"{where}: '{{' without a joint")
                joints.append(pending)
                stack.append(len(joints) - 1)
                pending = None
                i += 1
            elif t == "}":
                if not stack:
                    raise MotionFileError(path, f"{where}: unbalanced '}}'")
                j = joints[stack.pop()]
                if j.offset is None:
                    raise MotionFileError(path, f"{where}: joint {j.name!r} has no OFFSET")
                i += 1
            elif key == "OFFSET":
                if not stack or pending is not None:
                    raise MotionFileError(path, f"{where}: OFFSET outside a joint block")
                j = joints[stack[-1]]
                vals = toks[i + 1:i + 4]
                if len(vals) != 3:
                    raise MotionFileError(path, f"{where}: OFFSET of {j.name!r} needs 3 numbers")
                j.offset = np.array([parse_number(path, v, f"{where}: OFFSET of {j.name!r}") for v in vals])
                i += 4
            elif key == "CHANNELS":
                if not stack or pending is not None:
                    raise MotionFileError(path, f"{where}: CHANNELS outside a joint block")
                j = joints[stack[-1]]
                if j.end_site:
                    raise MotionFileError(path, f"{where}: an End Site cannot have CHANNELS")
                if j.channels:
                    raise MotionFileError(path, f"{where}: second CHANNELS line for {j.name!r}")
                if i + 1 >= len(toks) or not toks[i + 1].isdigit():
                    raise MotionFileError(path, f"{where}: CHANNELS of {j.name!r} needs a count")
                n = int(toks[i + 1])
                names = toks[i + 2:i + 2 + n]
                if n > 6 or len(names) != n:
                    raise MotionFileError(path, f"{where}: CHANNELS {n} of {j.name!r} lists {len(names)} channel names (at most 6)")
                chans = []
                for c in names:
                    if c.lower() not in _CHANNELS:
                        raise MotionFileError(path, f"{where}: unknown channel {c!r} of {j.name!r}")
                    chans.append(_CHANNELS[c.lower()])
                if len(set(chans)) != len(chans):
                    raise MotionFileError(path, f"{where}: repeated channel in CHANNELS of {j.name!r}")
                j.channels = chans
                i += 2 + n
            else:
                raise MotionFileError(path, f"{where}: unexpected {t!r} in HIERARCHY")
    if not seen_hierarchy:
        raise MotionFileError(path, "no HIERARCHY section: not a BVH file")
    if pending is not None or stack:
        raise MotionFileError(path, "HIERARCHY ends inside an open joint block (truncated file?)")
    if not joints:
        raise MotionFileError(path, "HIERARCHY has no ROOT joint")
    names = [j.name for j in joints]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise MotionFileError(path, f"duplicate joint names: {', '.join(dup)}")
    return joints


def _parse_motion(path: object, body: str, num_channels: int) -> tuple[np.ndarray, float]:
    """(T, C) channel values and the frame time from the text after ``MOTION``."""
    lines = body.splitlines()
    k = 0
    head: list[str] = []
    while k < len(lines) and len(head) < 2:
        if lines[k].strip():
            head.append(lines[k].strip())
        k += 1
    if len(head) < 2:
        raise MotionFileError(path, "MOTION section has no 'Frames:' and 'Frame Time:' lines (truncated file?)")
    m1 = re.fullmatch(r"Frames\s*:\s*(\S+)", head[0], re.IGNORECASE)
    m2 = re.fullmatch(r"Frame\s+Time\s*:\s*(\S+)", head[1], re.IGNORECASE)
    if not m1:
        raise MotionFileError(path, f"expected 'Frames: N' after MOTION, found {head[0][:40]!r}")
    if not m2:
        raise MotionFileError(path, f"expected 'Frame Time: seconds' after Frames, found {head[1][:40]!r}")
    if not m1.group(1).isdigit():
        raise MotionFileError(path, f"Frames: {m1.group(1)!r} is not a whole number")
    frames = int(m1.group(1))
    if frames == 0:
        raise MotionFileError(path, "the file has zero frames")
    dt = parse_number(path, m2.group(1), "Frame Time")
    if dt <= 0 or 1.0 / dt > 1e5:
        raise MotionFileError(path, f"Frame Time {m2.group(1)} is not a plausible positive frame time")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" is reported below
            values = np.loadtxt(lines[k:], dtype=np.float64, ndmin=2, comments=None)
    except ValueError as e:
        msg = str(e).splitlines()[0] if str(e) else "unreadable"
        m = re.search(r"columns changed from (\d+) to (\d+) at row (\d+)", msg)
        if m:
            msg = f"frame row {m.group(3)} has {m.group(2)} values, the rows before it {m.group(1)}"
        else:
            msg = msg.replace("string ", "").replace("float64", "a number").replace(" at row ", " in frame row ")
        raise MotionFileError(path, f"bad frame data: {msg[:200]}") from None
    if values.size == 0:
        raise MotionFileError(path, f"Frames: {frames} but no frame data (truncated file?)")
    if values.shape[1] != num_channels:
        raise MotionFileError(path, f"frame rows have {values.shape[1]} values, the HIERARCHY declares "
                                    f"{num_channels} channels")
    if values.shape[0] != frames:
        raise MotionFileError(path, f"Frames: {frames} but {values.shape[0]} rows of frame data")
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        raise MotionFileError(path, f"frame row {int(np.argmin(finite)) + 1} contains NaN/inf values")
    return values, dt


def fk_local(local_rot: np.ndarray, local_trans: list[np.ndarray], parents: list[int]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics with per-joint translations.

    local_rot: (T, J, 4) wxyz local rotations. local_trans: J arrays, each (3,) or (T, 3), the joint's
    translation in its parent's frame (the root's: its position). parents: (J,), parents first.
    Returns positions (T, J, 3) and global orientations (T, J, 4).
    """
    T, J = local_rot.shape[:2]
    pos = np.empty((T, J, 3))
    rot = np.empty((T, J, 4))
    for j in range(J):
        p = parents[j]
        if p < 0:
            rot[:, j] = local_rot[:, j]
            pos[:, j] = local_trans[j]
        else:
            rot[:, j] = quat_mul(rot[:, p], local_rot[:, j])
            pos[:, j] = pos[:, p] + quat_apply(rot[:, p], local_trans[j])
    return pos, rot


def y_up_to_z_up(pos: np.ndarray, rot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Rotate positions (..., 3) and left-multiply orientations (..., 4) by ``Y_UP_TO_Z_UP``."""
    out = np.stack([pos[..., 0], -pos[..., 2], pos[..., 1]], axis=-1)  # (x, y, z) -> (x, -z, y)
    return out, (None if rot is None else quat_mul(Y_UP_TO_Z_UP, rot))


def guess_unit_scale(lengths: np.ndarray, parents: list[int] | tuple[int, ...], heights: np.ndarray
                     ) -> tuple[float, str, float, int]:
    """Guess metres per file unit from the skeleton's size.

    lengths: (J,) bone length in file units of each joint's link to its parent (0 for joints whose
    translation is animated, i.e. root motion). heights: (J,) mean height of each joint over the clip.
    The chain from the lowest leaf (a foot, or a hand when lying down) up to the root is measured:
    about 1.0-1.3 m for a human. Returns (scale, unit name, chain length in units, lowest leaf index).
    """
    J = len(parents)
    has_child = np.zeros(J, bool)
    for p in parents:
        if p >= 0:
            has_child[p] = True
    leaves = np.flatnonzero(~has_child)
    leaf = int(leaves[np.argmin(heights[leaves])])
    chain, j = 0.0, leaf
    while j >= 0:
        chain += float(lengths[j])
        j = parents[j]
    for bound, scale, name in UNIT_GUESSES:
        if chain < bound:
            return scale, name, chain, leaf
    raise AssertionError("unreachable")


def check_positions(path: object, pos: np.ndarray, rot: np.ndarray, limit: float = 1e6) -> None:
    """MotionFileError unless positions (metres) and orientations are finite and |pos| <= ``limit``."""
    if not (np.isfinite(pos).all() and np.isfinite(rot).all()):
        raise MotionFileError(path, "values too large: forward kinematics overflows")
    if np.abs(pos).max() > limit:
        raise MotionFileError(path, f"implausible positions (more than {limit:g} m from the origin)")


def _local_rotations(values: np.ndarray, joints: list[_Joint], cols: list[list[int]]) -> np.ndarray:
    """(T, J, 4) local rotations from the channel values (degrees), grouped by Euler order."""
    T = len(values)
    local = quat_identity((T, len(joints)))
    groups: dict[str, list[int]] = {}
    for j, jt in enumerate(joints):
        axes = [a for kind, a in jt.channels if kind == "r"]
        if not axes:
            continue
        axes += [a for a in range(3) if a not in axes]  # missing axes: angle 0
        groups.setdefault("".join(_AXIS_LETTERS[a] for a in axes), []).append(j)
    for order, js in groups.items():
        ang = np.zeros((T, len(js), 3))
        for k, j in enumerate(js):
            rc = [c for c, (kind, _) in zip(cols[j], joints[j].channels) if kind == "r"]
            ang[:, k, :len(rc)] = values[:, rc]
        local[:, js] = euler_to_quat(np.deg2rad(ang), order)
    return local


def read_bvh(path: str | os.PathLike, fps: float | None = None, up: str = "y",
             unit_scale: float | None = None) -> SourceClip:
    """Read a BVH file into a :class:`SourceClip` (Z-up world, metres).

    fps: override the header's rate (the header's, snapped by ``snap_fps``, is kept in
    ``meta["header_fps"]``). up: the file's up axis, ``"y"`` (default) or ``"z"``.
    unit_scale: metres per file unit; None guesses it (``meta["unit_guess"]``).
    Raises :class:`MotionFileError` naming the file and the problem for any malformed input.
    """
    if up not in ("y", "z"):
        raise A4merError(f"up must be 'y' or 'z', got {up!r}")
    text = read_text(path)
    parts = _MOTION.split(text, maxsplit=1)
    if len(parts) < 2:
        if "HIERARCHY" not in text[:4096].upper():
            raise MotionFileError(path, "not a BVH file (no HIERARCHY section)")
        raise MotionFileError(path, "no MOTION section (truncated file?)")
    joints = _parse_hierarchy(path, parts[0])
    cols: list[list[int]] = []
    c = 0
    for jt in joints:
        cols.append(list(range(c, c + len(jt.channels))))
        c += len(jt.channels)
    values, dt = _parse_motion(path, parts[1], c)
    header_fps = snap_fps(1.0 / dt)
    rate = header_fps if fps is None else float(fps)
    if not np.isfinite(rate) or rate <= 0:
        raise A4merError(f"fps override must be positive, got {fps}")

    parents = [jt.parent for jt in joints]
    T, J = len(values), len(joints)
    local = _local_rotations(values, joints, cols)
    trans: list[np.ndarray] = []
    lengths = np.zeros(J)
    for j, jt in enumerate(joints):
        pc = [(col, a) for col, (kind, a) in zip(cols[j], jt.channels) if kind == "p"]
        if not pc:
            trans.append(jt.offset)
            lengths[j] = np.linalg.norm(jt.offset)
            continue
        t = np.repeat(jt.offset[None], T, axis=0)
        for col, a in pc:
            t[:, a] = values[:, col]
        trans.append(t)
        if np.ptp(t, axis=0).max() <= 1e-6 * max(1.0, np.abs(t).max()):
            lengths[j] = np.linalg.norm(t[0])  # constant translation: a bone
    if parents[0] == -1:
        lengths[0] = 0.0
    pos, rot = fk_local(local, trans, parents)
    rest, _ = fk_local(quat_identity((1, J)), [jt.offset for jt in joints], parents)
    up_axis = 1 if up == "y" else 2
    if unit_scale is None:
        scale, unit, chain, leaf = guess_unit_scale(lengths, parents, pos[..., up_axis].mean(axis=0))
        guess = {"unit": unit, "limb_chain_units": round(chain, 4), "lowest_leaf": joints[leaf].name}
    else:
        scale = float(unit_scale)
        if not np.isfinite(scale) or scale <= 0:
            raise A4merError(f"unit_scale must be positive, got {unit_scale}")
        guess = {"unit": "given"}
    pos = pos * scale
    rest = rest[0] * scale
    if up == "y":
        pos, rot = y_up_to_z_up(pos, rot)
        rest, _ = y_up_to_z_up(rest)
    check_positions(path, pos, rot)
    return SourceClip(
        path=str(path), format="bvh", fps=rate, names=tuple(jt.name for jt in joints),
        parents=tuple(parents), end_site=np.array([jt.end_site for jt in joints]),
        positions=pos, orientations=rot, rest_positions=rest, unit_scale=scale, source_up=up,
        meta={"header_fps": header_fps, "frame_time": dt, "unit_guess": guess, "channels": c,
              "fps_overridden": fps is not None},
    )
