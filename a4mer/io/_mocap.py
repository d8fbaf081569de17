"""Shared helpers of the mocap readers: text loading, numbers, fast forward kinematics, units.

The kinematics here work on component-major ("structure of arrays") quaternions ``(4, J, T)`` and
positions ``(3, J, T)``: every operation runs on contiguous length-T rows, several times faster
than ``(T, J, 4)`` arrays for long clips. Results are handed out as ``(T, J, ...)`` arrays.
"""
from __future__ import annotations

import codecs
import locale
import os
import stat
from pathlib import Path
from typing import Callable

import numpy as np

from ..conventions import MAX_FPS, MIN_FPS, positive_number
from ..errors import MotionFileError
from ..geometry import reproducible as rp

_C = float(np.sqrt(0.5))
#: metres per unit for the unit guess: (upper bound of the limb-chain length in file units, scale, name)
UNIT_GUESSES: tuple[tuple[float, float, str], ...] = (
    (3.0, 1.0, "m"),
    (30.0, 0.0254 / 0.45, "cmu"),    # CMU/ASF scale: 1 unit = 1/0.45 inch
    (60.0, 0.0254, "inch"),
    (300.0, 0.01, "cm"),
    (np.inf, 0.001, "mm"),
)


#: the most joints (End Sites included) a skeleton file may declare: face and finger rigs stay well under 500
MAX_JOINTS = 1024
#: the most joints x frames a reader holds at once (~140 bytes each at its peak: 60 M is ~8 GB; a one-hour take
#: at 120 fps of a 130-joint rig); a 100 KB file of empty joints and one-value rows asked for 15 GB
MAX_JOINT_FRAMES = 60_000_000


def read_text(path: str | os.PathLike) -> str:
    """The file's text (UTF-8, optional BOM, or UTF-16 with its BOM, as Windows PowerShell's ``>`` writes;
    CRLF and CR line ends read as LF); MotionFileError for missing, binary or non-UTF-8 files, naming
    UTF-16 without a BOM.

    Non-UTF-8 bytes are accepted only inside ``#`` comment lines (read as Latin-1)."""
    p = Path(path)
    check_regular_file(path)
    try:
        data = p.read_bytes()
    except OSError as e:  # removed or made unreadable since the check
        raise MotionFileError(path, f"cannot read file ({e.strerror or e})") from None
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and data[:4] != codecs.BOM_UTF32_LE:
        try:
            return _newlines(data.decode("utf-16"))
        except UnicodeDecodeError as e:
            raise MotionFileError(path, f"not UTF-16 text despite its byte-order mark ({e.reason} at offset "
                                        f"{e.start})") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        if _utf16_without_bom(data):
            raise MotionFileError(path, "UTF-16 text without a byte-order mark: save it as UTF-8 (or UTF-16 "
                                        "with its byte-order mark)")
        raise MotionFileError(path, f"binary data (NUL byte at offset {nul}), not a text file")
    try:
        return _newlines(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        bad = f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
    # tolerated: legacy 8-bit text in '#' comment lines only (HDM05 headers hold a Latin-1 path)
    text = data.decode("latin-1")
    for line in text.splitlines():
        if not line.isascii() and not line.lstrip().startswith("#"):
            raise MotionFileError(path, bad)
    return _newlines(text)


def _utf16_without_bom(data: bytes) -> bool:
    """True when ``data`` starts as ASCII text written in UTF-16 without a byte-order mark: in its first
    4 KB every other byte is NUL, and no other."""
    head = data[:4096]
    head = head[:len(head) // 2 * 2]
    for zeros, chars in ((head[1::2], head[0::2]), (head[0::2], head[1::2])):  # little-, big-endian
        if len(head) >= 8 and not zeros.strip(b"\x00") and b"\x00" not in chars:
            return True
    return False


def read_user_text(path: str | os.PathLike) -> str:
    """A text file a person wrote or saved (a label CSV, a bone map, a training config): UTF-8 with or
    without a BOM (Notepad, Excel's "CSV UTF-8"), UTF-16 with its BOM (Windows PowerShell's ``>``,
    Excel's "Unicode Text"), else this machine's own code page where that is not UTF-8 (Excel's "CSV"
    on Windows: cp1252, cp932, ...; also in Python's UTF-8 mode, as a4mer's workers run), but only for a
    file with no UTF-8 character in it (a UTF-8 file with a stray byte is an error, not read garbled).
    OSError or UnicodeDecodeError as raised; line ends as in the file."""
    data = Path(path).read_bytes()
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        local = getattr(locale, "getencoding", locale.getpreferredencoding)()  # the code page, also in UTF-8 mode
        if codecs.lookup(local).name == "utf-8" or any(
                ord(c) > 127 and c != "\ufffd" for c in data.decode("utf-8", "replace")):
            raise
        return data.decode(local)


def not_a_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` (a link: its target) is not a regular file to read: "file not found" (a broken link
    too), "is a directory, not a file", or "not a regular file" for a FIFO, device or socket (reading one
    could block or never end); None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as e:
        return f"cannot read file ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    return None if stat.S_ISREG(mode) else f"not a regular file (a {_kind(mode)})"


def check_regular_file(path: str | os.PathLike) -> None:
    """MotionFileError naming ``path`` and :func:`not_a_file`'s reason unless it is a regular file."""
    why = not_a_file(path)
    if why is not None:
        raise MotionFileError(path, why)


def _kind(mode: int) -> str:
    """The kind of a non-regular, non-folder file from its ``st_mode``."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file"


def _newlines(text: str) -> str:
    """Windows (CRLF) and classic-Mac (CR) line ends made LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse_number(path: object, token: str, what: str) -> float:
    """A finite float from ``token``; MotionFileError naming ``what`` otherwise."""
    try:
        v = float(token)
    except ValueError:
        raise MotionFileError(path, f"{what}: {token!r} is not a number") from None
    if not np.isfinite(v):
        raise MotionFileError(path, f"{what}: value {token!r} is not finite")
    return v


def _mul_axis(q: np.ndarray, axis: int, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``q (4, ...) * (c, s e_axis)``: right-multiply by a rotation about a principal axis."""
    w, x, y, z = q
    if axis == 0:
        return np.stack([w * c - x * s, x * c + w * s, y * c + z * s, z * c - y * s])
    if axis == 1:
        return np.stack([w * c - y * s, x * c - z * s, y * c + w * s, z * c + x * s])
    return np.stack([w * c - z * s, x * c + y * s, y * c - x * s, z * c + w * s])


def euler_soa(angles: np.ndarray, axes: tuple[int, int, int]) -> np.ndarray:
    """Intrinsic Euler angles ``(3, ...)`` radians about ``axes`` (0=x, 1=y, 2=z), composed in that
    order (``R = R_a0 @ R_a1 @ R_a2``, the BVH convention), to quaternions ``(4, ...)`` wxyz."""
    half = 0.5 * np.asarray(angles, dtype=np.float64)
    c, s = rp.cos(half), rp.sin(half)
    q = np.zeros((4,) + c.shape[1:])
    q[0] = c[0]
    q[1 + axes[0]] = s[0]
    q = _mul_axis(q, axes[1], c[1], s[1])
    return _mul_axis(q, axes[2], c[2], s[2])


def _qmul_into(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    out[0] = aw * bw - ax * bx - ay * by - az * bz
    out[1] = aw * bx + ax * bw + ay * bz - az * by
    out[2] = aw * by - ax * bz + ay * bw + az * bx
    out[3] = aw * bz + ax * by - ay * bx + az * bw


def qmul_soa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of component-major quaternions ``(4, ...)`` (broadcasting)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    _qmul_into(a, b, out)
    return out


def _qapply(q: np.ndarray, v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w, ux, uy, uz = q
    vx, vy, vz = v
    tx = 2.0 * (uy * vz - uz * vy)
    ty = 2.0 * (uz * vx - ux * vz)
    tz = 2.0 * (ux * vy - uy * vx)
    return (vx + w * tx + (uy * tz - uz * ty), vy + w * ty + (uz * tx - ux * tz), vz + w * tz + (ux * ty - uy * tx))


def fk_soa(local: np.ndarray | None, trans: list[np.ndarray], parents: list[int] | tuple[int, ...],
           rotates: list[bool] | None = None, T: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics on component-major arrays.

    local: (4, J, T) wxyz local rotations (None: all identity). trans: J arrays, (3,) or (3, T), each
    joint's translation in its parent's frame (the root's: its position). parents: (J,), parents
    first. rotates: (J,) False where the local rotation is the identity (skipped).
    Returns positions (3, J, T) and global orientations (4, J, T).
    """
    J = len(parents)
    T = local.shape[2] if local is not None else T
    pos = np.empty((3, J, T))
    rot = np.empty((4, J, T))
    for j in range(J):
        p = parents[j]
        t = trans[j] if trans[j].ndim == 2 else trans[j][:, None]
        turn = local is not None and (rotates is None or rotates[j])
        if p < 0:
            if turn:
                rot[:, j] = local[:, j]
            else:
                rot[:, j] = 0.0
                rot[0, j] = 1.0
            pos[:, j] = t
            continue
        if turn:
            _qmul_into(rot[:, p], local[:, j], rot[:, j])
        else:
            rot[:, j] = rot[:, p]
        dx, dy, dz = _qapply(rot[:, p], t)
        pos[0, j] = pos[0, p] + dx
        pos[1, j] = pos[1, p] + dy
        pos[2, j] = pos[2, p] + dz
    return pos, rot


def to_world(pos: np.ndarray, rot: np.ndarray, up: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(3, J, T) positions (file units) and (4, J, T) orientations in the file's world to
    (T, J, 3) metres and (T, J, 4) in the Z-up world (Y-up files: left-multiplied by Y_UP_TO_Z_UP)."""
    _, J, T = pos.shape
    p = np.empty((T, J, 3))
    q = np.empty((T, J, 4))
    if up == "y":  # (x, y, z) -> (x, -z, y); q' = (c, c, 0, 0) * q
        p[..., 0], p[..., 1], p[..., 2] = (pos[0] * scale).T, (pos[2] * -scale).T, (pos[1] * scale).T
        w, x, y, z = rot
        q[..., 0], q[..., 1] = (_C * (w - x)).T, (_C * (x + w)).T
        q[..., 2], q[..., 3] = (_C * (y - z)).T, (_C * (z + y)).T
    else:
        p[:] = (pos * scale).transpose(2, 1, 0)
        q[:] = rot.transpose(2, 1, 0)
    return p, q


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


def hold_nonfinite_rows(path: object, values: np.ndarray, allowed: bool, message: str
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``values (T, C)`` with each row holding a NaN/inf replaced by the nearest finite row (the earlier of
    two as near), and the indices ``(N,)`` of those rows. MotionFileError ``message`` (formatted with the
    first such row: ``row`` counted from 1, ``frame`` from 0) unless ``allowed`` and a row is finite."""
    finite = np.isfinite(values).all(axis=1)
    bad = np.flatnonzero(~finite)
    if len(bad) and not (allowed and finite.any()):
        raise MotionFileError(path, message.format(row=int(bad[0]) + 1, frame=int(bad[0])))
    if len(bad):
        good = np.flatnonzero(finite)
        at = np.searchsorted(good, bad)  # the first finite row after each bad one
        lo, hi = good[np.maximum(at - 1, 0)], good[np.minimum(at, len(good) - 1)]
        values = values.copy()
        values[bad] = values[np.where(bad - lo <= hi - bad, lo, hi)]
    return values, bad


def check_positions(path: object, pos: np.ndarray, rot: np.ndarray, limit: float = 1e6) -> None:
    """MotionFileError unless positions (metres) and orientations are finite and |pos| <= ``limit``."""
    if not (np.isfinite(pos).all() and np.isfinite(rot).all()):
        raise MotionFileError(path, "values too large: forward kinematics overflows")
    if np.abs(pos).max() > limit:
        raise MotionFileError(path, f"implausible positions (more than {limit:g} m from the origin)")


#: the largest rotation channel value the BVH and AMC readers accept, in radians (the npz reader's
#: ``ANGLE_LIMIT``, about 573,000 degrees): real takes stay within a few turns even where a spin is
#: unwrapped (CMU dance BVH: up to 2,846 degrees); a larger value is a corrupt number, and its sine
#: and cosine are noise
ANGLE_LIMIT = 1e4


def check_angles(path: object, angles: np.ndarray, to_rad: float, label: Callable[[int], str]) -> None:
    """MotionFileError naming the first frame (counted from 1) and channel where a rotation value
    ``angles (T, C)`` in the file's unit (``to_rad`` radians per unit) is beyond :data:`ANGLE_LIMIT`.

    label(c): how the message names the frame and channel of column ``c``, formatted with ``{row}``
    (e.g. ``"frame row {row}, Hips Xrotation"``)."""
    if angles.size == 0:
        return
    big = np.abs(angles).max(axis=0) * to_rad > ANGLE_LIMIT  # (C,) columns holding a bad value
    if not big.any():
        return
    sub = np.abs(angles[:, big]) * to_rad > ANGLE_LIMIT
    t = int(np.flatnonzero(sub.any(axis=1))[0])
    c = int(np.flatnonzero(big)[np.flatnonzero(sub[t])[0]])
    unit = "rad" if to_rad == 1.0 else "degrees"
    raise MotionFileError(path, f"implausible rotation value {angles[t, c]:.3g} {unit} in "
                                f"{label(c).format(row=t + 1)} (at most {ANGLE_LIMIT / to_rad:,.0f} {unit})")


def source_fps(fps: float | None, default: float | None = None) -> float | None:
    """A reader's ``fps`` argument (the caller's rate, overriding the file's) checked to lie in the
    plausible range :data:`~a4mer.conventions.MIN_FPS` .. :data:`~a4mer.conventions.MAX_FPS`
    (:class:`~a4mer.errors.BadValue` otherwise); ``default`` when None."""
    if fps is None:
        return default
    return positive_number(fps, "fps override", most=MAX_FPS, least=MIN_FPS)
