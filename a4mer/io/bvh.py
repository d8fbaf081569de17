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
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from ..conventions import MAX_FPS, MIN_FPS, snap_fps
from ..errors import A4merError, MotionFileError
from ._bvh_hierarchy import BvhJoint, parse_hierarchy
from ._mocap import (MAX_JOINT_FRAMES, MAX_JOINTS, UNIT_GUESSES, check_angles, check_positions, euler_soa, fk_soa,
                     guess_unit_scale, hold_nonfinite_rows, parse_number, read_text, source_fps, to_world)
from .source import SourceClip

__all__ = ["read_bvh", "parse_bvh", "bvh_source", "bvh_rest_positions", "BvhTake", "UNIT_GUESSES"]

_MOTION = re.compile(r"^[ \t]*MOTION[ \t]*\r?$", re.MULTILINE)


def _parse_motion(path: object, body: str, num_channels: int, nonfinite_ok: bool = False
                  ) -> tuple[np.ndarray, float, np.ndarray]:
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
    if dt <= 0:
        raise MotionFileError(path, f"Frame Time {m2.group(1)} is not a positive frame time")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" is reported below
            values = np.loadtxt(lines[k:], dtype=np.float64, ndmin=2, comments=None)
    except ValueError as e:
        _raise_bad_row(path, lines[k:], str(e))
    if values.size == 0:
        raise MotionFileError(path, f"Frames: {frames} but no frame data (truncated file?)")
    if values.shape[1] != num_channels:
        raise MotionFileError(path, f"frame rows have {values.shape[1]} values, the HIERARCHY declares "
                                    f"{num_channels} channels")
    if values.shape[0] != frames:
        raise MotionFileError(path, f"Frames: {frames} but {values.shape[0]} rows of frame data")
    values, bad = hold_nonfinite_rows(path, values, nonfinite_ok, "frame row {row} (frame {frame} counting from 0) contains NaN/inf values")
    return values, dt, bad


def _raise_bad_row(path: object, rows: list[str], numpy_msg: str) -> NoReturn:
    """MotionFileError naming the first malformed line of the frame data ``rows`` (the text after the
    ``Frame Time`` line): ``frame row N`` counts the MOTION section's frame rows from 1 (blank lines
    skipped), as every message of this reader does. ``numpy_msg``: loadtxt's error, kept when no row
    is found wrong here."""
    width = None
    row = 0
    for line in rows:
        toks = line.split()
        if not toks:
            continue
        row += 1
        if width is None:
            width = len(toks)
        elif len(toks) != width:
            raise MotionFileError(path, f"bad frame data: frame row {row} has {len(toks)} values, "
                                        f"the rows before it {width}")
        for col, tok in enumerate(toks, 1):
            try:
                float(tok)
            except ValueError:
                raise MotionFileError(path, f"bad frame data: {tok[:40]!r} in frame row {row}, value {col} "
                                            f"is not a number") from None
    msg = numpy_msg.splitlines()[0] if numpy_msg else "unreadable"
    raise MotionFileError(path, f"bad frame data: {msg[:200]}")


def _check_rotation_values(path: object, values: np.ndarray, joints: list[BvhJoint]) -> None:
    """MotionFileError for a rotation channel value (degrees) beyond ``ANGLE_LIMIT`` in ``values (T, C)``,
    naming the frame row (from 1) and the joint's channel."""
    names: list[str] = []  # per rotation column: "<joint> <axis>rotation"
    cols: list[int] = []
    c = 0
    for jt in joints:
        for kind, a in jt.channels:
            if kind == "r":
                cols.append(c)
                names.append(f"{jt.name} {'XYZ'[a]}rotation")
            c += 1
    check_angles(path, values[:, cols], np.pi / 180, lambda i: f"frame row {{row}}, channel {names[i]}")


def _header_fps(path: object, dt: float, overridden: bool) -> float:
    """The rate of the ``Frame Time`` ``dt`` (seconds): :func:`header_rate`.
    MotionFileError when it lies outside ``MIN_FPS`` .. ``MAX_FPS``, unless the caller gives the rate
    (``overridden``: the header's ``1/dt`` is then only kept in the meta)."""
    rate = 1.0 / dt
    if MIN_FPS <= rate <= MAX_FPS:
        return header_rate(dt)
    if overridden:
        return rate
    raise MotionFileError(path, f"Frame Time {dt:g} s is {rate:g} fps, not a plausible frame rate "
                                f"({MIN_FPS:g} to {MAX_FPS:g} fps): give the real rate with --source-fps (Source fps in the "
                                f"Blender importer)")


def _local_rotations(vt: np.ndarray, joints: list[BvhJoint], cols: list[list[int]]) -> tuple[np.ndarray, list[bool]]:
    """(4, J, T) local rotations from the channel rows ``vt`` (C + 1, T) in degrees (last row: zeros),
    grouped by Euler order; and per joint whether it has rotation channels."""
    T = vt.shape[1]
    zero_row = vt.shape[0] - 1
    local = np.zeros((4, len(joints), T))
    local[0] = 1.0
    groups: dict[tuple[int, ...], list[int]] = {}
    idx: dict[int, list[int]] = {}
    for j, jt in enumerate(joints):
        rc = [(c, a) for c, (kind, a) in zip(cols[j], jt.channels) if kind == "r"]
        if not rc:
            continue
        axes = [a for _, a in rc] + [a for a in range(3) if a not in [a for _, a in rc]]  # missing: angle 0
        idx[j] = [c for c, _ in rc] + [zero_row] * (3 - len(rc))
        groups.setdefault(tuple(axes), []).append(j)
    for axes, js in groups.items():
        rows = np.array([idx[j] for j in js]).T                             # (3, Jg) channel rows
        local[:, js] = euler_soa(np.deg2rad(vt[rows]), axes)               # (4, Jg, T)
    return local, [j in idx for j in range(len(joints))]


def header_rate(dt: float) -> float:
    """The rate of a ``Frame Time``: a standard rate within 0.05 % (:func:`snap_fps`), else ``1/dt``,
    rounded to 6 decimals when that only removes float rounding (a frame time written in full, as
    ``0.022222222222222223``, is 45 fps, not 45.00000000000001)."""
    rate = snap_fps(1.0 / dt, least=None)  # the reader checks the range first (_header_fps); the writer need not
    if rate != 1.0 / dt:
        return rate
    nice = round(rate, 6)
    return nice if nice > 0 and abs(nice - rate) <= 1e-12 * rate else rate


def read_bvh(path: str | os.PathLike, fps: float | None = None, up: str = "y",
             unit_scale: float | None = None, unit_frames: np.ndarray | None = None,
             nonfinite_ok: bool = False) -> SourceClip:
    """Read a BVH file into a :class:`SourceClip` (Z-up world, metres).

    fps: override the header's rate (the header's, snapped by ``snap_fps``, is kept in
    ``meta["header_fps"]``). up: the file's up axis, ``"y"`` (default) or ``"z"``.
    unit_scale: metres per file unit; None guesses it (``meta["unit_guess"]``) from the frames where
    ``unit_frames (T,)`` bool is True (default: every frame). nonfinite_ok: frames holding NaN/inf are
    read as the nearest finite frame and listed in ``meta["nonfinite_frames"]`` (else an error).
    Raises :class:`MotionFileError` naming the file and the problem for any malformed input.
    A file read more than one way (both up axes, the unit guessed on other frames) is parsed once with
    :func:`parse_bvh` and made a clip each way with :func:`bvh_source`.
    """
    _check_reading(up, unit_scale)
    return bvh_source(parse_bvh(path, fps, nonfinite_ok), up, unit_scale, unit_frames)


def _check_reading(up: str, unit_scale: float | None) -> None:
    """A4merError for an ``up`` axis other than "y"/"z" or a ``unit_scale`` that is not positive."""
    if up not in ("y", "z"):
        raise A4merError(f"up must be 'y' or 'z', got {up!r}")
    if unit_scale is not None and not (np.isfinite(unit_scale) and unit_scale > 0):
        raise A4merError(f"unit_scale must be positive, got {unit_scale}")


@dataclass(frozen=True, eq=False)
class BvhTake:
    """A BVH file parsed and posed in its own world and units (:func:`parse_bvh`): what every reading
    of it shares, whatever its up axis and unit (:func:`bvh_source`).

    path: the file. names, parents, end_site: (J,) as :class:`SourceClip` has them. fps: the clip's
    rate (the caller's, else the header's). positions: (3, J, T) joint positions in file units and the
    file's world; orientations: (4, J, T) wxyz world orientations there (component-major, as
    :func:`~a4mer.io._mocap.fk_soa` gives them). translations: J arrays, (3,) or (3, T) file units: each
    joint's translation in its parent's frame (the unit guess measures bones on them). rest_positions
    (3, J, 1) / rest_orientations (4, J, 1): the rest pose (zero rotations) there. meta: what the
    reading's ``meta`` starts with (header rate, frame time, channels, ``nonfinite_frames``)."""

    path: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    end_site: np.ndarray
    fps: float
    positions: np.ndarray
    orientations: np.ndarray
    translations: tuple[np.ndarray, ...]
    rest_positions: np.ndarray
    rest_orientations: np.ndarray
    meta: dict

    @property
    def num_frames(self) -> int:
        """T: the file's frames."""
        return int(self.positions.shape[2])


def parse_bvh(path: str | os.PathLike, fps: float | None = None, nonfinite_ok: bool = False) -> BvhTake:
    """The text of the BVH file ``path`` parsed, checked and posed by forward kinematics in the file's
    own world and units (the costly part of :func:`read_bvh`; ``fps`` and ``nonfinite_ok`` as there).
    Raises :class:`MotionFileError` naming the file and the problem for any malformed input."""
    fps = source_fps(fps)
    text = read_text(path)
    parts = _MOTION.split(text, maxsplit=1)
    if len(parts) < 2:
        if "HIERARCHY" not in text[:4096].upper():
            raise MotionFileError(path, "not a BVH file (no HIERARCHY section)")
        raise MotionFileError(path, "no MOTION section (truncated file?)")
    joints = parse_hierarchy(path, parts[0])
    if len(joints) > MAX_JOINTS:
        raise MotionFileError(path, f"{len(joints)} joints (End Sites included); this reader takes at most {MAX_JOINTS}")
    cols: list[list[int]] = []
    c = 0
    for jt in joints:
        cols.append(list(range(c, c + len(jt.channels))))
        c += len(jt.channels)
    values, dt, bad = _parse_motion(path, parts[1], c, nonfinite_ok)
    del text, parts
    if len(joints) * len(values) > MAX_JOINT_FRAMES:
        raise MotionFileError(path, f"{len(joints)} joints x {len(values)} frames is more than this reader holds at "
                                    f"once ({MAX_JOINT_FRAMES:,} joint-frames): split the take")
    _check_rotation_values(path, values, joints)
    header_fps = _header_fps(path, dt, fps is not None)
    parents = tuple(jt.parent for jt in joints)
    vt = np.zeros((c + 1, len(values)))                                    # (C + 1, T), last row zeros
    vt[:c] = values.T
    local, rotates = _local_rotations(vt, joints, cols)
    trans = _translations(vt, joints, cols)
    pos, rot = fk_soa(local, list(trans), parents, rotates)                # (3, J, T), (4, J, T)
    rest, rest_rot = fk_soa(None, [jt.offset for jt in joints], parents)   # (3, J, 1), (4, J, 1)
    for a in (pos, rot, rest, rest_rot, *trans):  # shared by every reading of the take
        a.setflags(write=False)
    return BvhTake(
        path=str(path), names=tuple(jt.name for jt in joints), parents=parents,
        end_site=np.array([jt.end_site for jt in joints]), fps=header_fps if fps is None else fps,
        positions=pos, orientations=rot, translations=trans, rest_positions=rest, rest_orientations=rest_rot,
        meta={"header_fps": header_fps, "frame_time": dt, "channels": c, "fps_overridden": fps is not None,
              **({"nonfinite_frames": bad.tolist()} if len(bad) else {})})


def _translations(vt: np.ndarray, joints: list[BvhJoint], cols: list[list[int]]) -> tuple[np.ndarray, ...]:
    """Each joint's translation in its parent's frame (file units) from the channel rows ``vt (C + 1, T)``:
    its OFFSET (3,), or (3, T) where position channels replace components of it."""
    T = vt.shape[1]
    trans: list[np.ndarray] = []
    for j, jt in enumerate(joints):
        pc = [(col, a) for col, (kind, a) in zip(cols[j], jt.channels) if kind == "p"]
        if not pc:
            trans.append(jt.offset)
            continue
        t = np.repeat(jt.offset[:, None], T, axis=1)                       # (3, T)
        for col, a in pc:
            t[a] = vt[col]
        trans.append(t)
    return tuple(trans)


#: a joint's position channels that stay within this fraction of the link's own length of their mean
#: are a fixed bone (see :func:`_bone_lengths`)
FIXED_LINK_TOLERANCE = 1e-3


def _bone_lengths(trans: tuple[np.ndarray, ...], at: np.ndarray) -> np.ndarray:
    """(J,) file units: each joint's link to its parent, from its translations ``trans`` (J arrays, (3,) or
    (3, T)) on the frames ``at (T,)`` bool; 0 for the root and for joints whose translation moves there.

    A translation whose every component stays within :data:`FIXED_LINK_TOLERANCE` of the link's mean
    length from its mean is fixed, and the link that long: exporters that key every joint's position
    (Blender's: 6 channels on every joint, its local translations recomputed from float32 matrices)
    write a fixed bone with noise of ~1e-5 of its length from frame to frame, while a stretching bone
    or a joint carrying root motion moves by percents of its length or more. The tolerance is relative
    to the link itself, so it holds in any unit, and a link it takes for moving because it is tiny
    (under 1000 times the noise) leaves out no more than its own tiny length from the limb chain."""
    lengths = np.zeros(len(trans))
    for j, t in enumerate(trans):
        tk = t[:, at] if t.ndim == 2 else t[:, None]
        mean = tk.mean(axis=1)
        length = float(np.linalg.norm(mean))
        if np.abs(tk - mean[:, None]).max() <= FIXED_LINK_TOLERANCE * length:
            lengths[j] = length
    lengths[0] = 0.0
    return lengths


def _unit(take: BvhTake, up: str, unit_scale: float | None, unit_frames: np.ndarray | None) -> tuple[float, dict]:
    """Metres per file unit of ``take`` read with the up axis ``up`` and the meta's ``unit_guess``:
    ``unit_scale``, else guessed on the frames ``unit_frames (T,)`` bool (default every frame)."""
    _check_reading(up, unit_scale)
    T = take.num_frames
    at = np.ones(T, bool) if unit_frames is None else np.asarray(unit_frames, dtype=bool)
    if at.shape != (T,) or not at.any():
        raise MotionFileError(take.path, f"unit frames: expected a ({T},) mask with a True, got shape {at.shape}")
    if unit_scale is not None:
        return float(unit_scale), {"unit": "given"}
    heights = take.positions[1 if up == "y" else 2][:, at].mean(axis=1)     # (J,) file units
    scale, unit, chain, leaf = guess_unit_scale(_bone_lengths(take.translations, at), take.parents, heights)
    return scale, {"unit": unit, "limb_chain_units": round(chain, 4), "lowest_leaf": take.names[leaf]}


def bvh_rest_positions(take: BvhTake, up: str = "y", unit_scale: float | None = None,
                       unit_frames: np.ndarray | None = None) -> np.ndarray:
    """(J, 3) metres, Z-up: the rest pose of ``bvh_source(take, up, unit_scale, unit_frames)``, without
    posing its frames (what tells a file's up axis)."""
    scale, _ = _unit(take, up, unit_scale, unit_frames)
    return to_world(take.rest_positions, take.rest_orientations, up, scale)[0][0]


def bvh_source(take: BvhTake, up: str = "y", unit_scale: float | None = None,
               unit_frames: np.ndarray | None = None) -> SourceClip:
    """The :class:`SourceClip` of a parsed BVH ``take`` (:func:`parse_bvh`) read with the up axis ``up``
    and ``unit_scale`` (None: guessed on the frames ``unit_frames (T,)`` bool; default every frame), as
    :func:`read_bvh` reads it. ``take`` is left as it is."""
    scale, guess = _unit(take, up, unit_scale, unit_frames)
    pos, rot = to_world(take.positions, take.orientations, up, scale)
    rest, rest_rot = (a[0] for a in to_world(take.rest_positions, take.rest_orientations, up, scale))
    check_positions(take.path, pos, rot)
    m = take.meta
    return SourceClip(
        path=take.path, format="bvh", fps=take.fps, names=take.names, parents=take.parents,
        end_site=take.end_site.copy(), positions=pos, orientations=rot, rest_positions=rest,
        rest_orientations=rest_rot, unit_scale=scale, source_up=up,
        meta={"header_fps": m["header_fps"], "frame_time": m["frame_time"], "unit_guess": guess,
              "channels": m["channels"], "fps_overridden": m["fps_overridden"],
              **({"nonfinite_frames": list(m["nonfinite_frames"])} if "nonfinite_frames" in m else {})},
    )
