"""A rig's pose channels as numbers (no Blender needed): Blender's rotation modes (quaternion, axis-angle,
the six Euler orders) <-> wxyz quaternions, Euler angles rewritten so that keys interpolate the short
way, and the errors that name the channels and frames whose keys are NaN/inf.

Shapes: T frames, B bones. Quaternions wxyz; angles in radians; frames are the host's (scene) frames.
"""
from __future__ import annotations

import numpy as np

from .errors import A4merError
from .geometry import axis_quat, quat_mul, quat_normalize, quat_to_rotmat, quat_unflip
from .geometry import reproducible as rp

#: Blender Euler rotation modes (R = R_C @ R_B @ R_A for mode "ABC").
EULER_MODES = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_AXIS = {"X": 0, "Y": 1, "Z": 2}

def euler_to_quat_blender(euler: np.ndarray, mode: str) -> np.ndarray:
    """Blender Euler angles ``(..., 3)`` (x, y, z radians) in ``mode`` (e.g. "XYZ") to wxyz ``(..., 4)``.

    Mode "ABC" applies A first: ``R = R_C(e_C) @ R_B(e_B) @ R_A(e_A)``.
    """
    e = np.asarray(euler, dtype=np.float64)
    a, b, c = (_AXIS[ch] for ch in mode)
    q = quat_mul(axis_quat("xyz"[c], e[..., c]), axis_quat("xyz"[b], e[..., b]))
    return quat_mul(q, axis_quat("xyz"[a], e[..., a]))


def quat_to_euler_blender(q: np.ndarray, mode: str) -> np.ndarray:
    """wxyz ``(..., 4)`` to Blender Euler angles ``(..., 3)`` (x, y, z radians) in ``mode``.

    The middle angle lies in [-pi/2, pi/2]; at gimbal lock (middle angle +-pi/2, where only the sum or
    difference of the outer angles is defined) the last-applied angle is 0. Sequences are unwrapped
    along axis 0 when ``q`` has more than one dimension (continuous keys).
    """
    m = quat_to_rotmat(q)
    i, j, k = (_AXIS[ch] for ch in mode)
    s = 1.0 if (i, j, k) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0
    out = np.empty(m.shape[:-2] + (3,))
    cos_mid = np.hypot(m[..., k, j], m[..., k, k])
    out[..., j] = rp.arctan2(-s * m[..., k, i], cos_mid)
    out[..., i] = rp.arctan2(s * m[..., k, j], m[..., k, k])
    out[..., k] = rp.arctan2(s * m[..., j, i], m[..., i, i])
    lock = cos_mid < 1e-9  # the entries above are all 0 (or rounding noise): R = R_B(mid) @ R_A(first)
    if np.any(lock):
        first = quat_to_rotmat(axis_quat("xyz"[j], -out[..., j])) @ m  # = R_A(first)
        i1, i2 = (i + 1) % 3, (i + 2) % 3
        out[..., i] = np.where(lock, rp.arctan2(first[..., i2, i1], first[..., i1, i1]), out[..., i])
        out[..., k] = np.where(lock, 0.0, out[..., k])
    if out.ndim > 1:
        out = np.unwrap(out, axis=0)
    return out


def channels_to_quat(values: np.ndarray, mode: str) -> np.ndarray:
    """Rotation channels of one bone ``(T, 4|3)`` in Blender ``mode`` to wxyz ``(T, 4)``.

    QUATERNION: (w, x, y, z); AXIS_ANGLE: (angle, x, y, z) with any axis length; Euler modes: (x, y, z).
    """
    v = np.asarray(values, dtype=np.float64)
    if mode == "QUATERNION":
        return quat_normalize(v)
    if mode == "AXIS_ANGLE":
        axis = v[..., 1:]
        n = np.linalg.norm(axis, axis=-1, keepdims=True)
        axis = np.where(n > 1e-12, axis / np.maximum(n, 1e-12), 0.0)
        half = 0.5 * v[..., :1]
        return quat_normalize(np.concatenate([rp.cos(half), rp.sin(half) * axis], axis=-1))
    if mode in EULER_MODES:
        return euler_to_quat_blender(v, mode)
    raise ValueError(f"unknown rotation mode {mode!r}")


def _axis_angle_continuous(q: np.ndarray) -> np.ndarray:
    """Sign-continuous unit wxyz ``(T, 4)`` to Blender axis-angle channels ``(T, 4)`` (angle in radians,
    then the axis) that interpolate key to key as the rotations do: where the rotation passes near the
    identity, the axis would turn round (26 deg about a, then 7 deg about -a, 19 deg off halfway
    between), so the axis keeps its hemisphere and the angle turns negative instead; an identity frame
    keeps the axis of the frame before (the first one's: +Y as Blender's default)."""
    s = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2.0 * rp.arctan2(s, q[..., 0])
    axis = q[..., 1:] / np.maximum(s, 1e-12)[..., None]
    defined = s > 1e-12
    idx = np.maximum.accumulate(np.where(defined, np.arange(len(q)), -1))  # the last defined frame so far
    first = np.flatnonzero(defined)
    axis = np.where((idx >= 0)[:, None], axis[np.maximum(idx, 0)],
                    axis[first[0]] if len(first) else np.array([0.0, 1.0, 0.0]))
    turned = np.concatenate([[False], (axis[1:] * axis[:-1]).sum(axis=-1) < 0.0])
    sign = np.where(np.cumsum(turned) % 2 == 1, -1.0, 1.0)
    return np.concatenate([(angle * sign)[:, None], axis * sign[:, None]], axis=-1)


def quat_to_channels(q: np.ndarray, mode: str) -> np.ndarray:
    """wxyz ``(T, 4)`` to rotation channels in Blender ``mode`` (inverse of :func:`channels_to_quat`)."""
    if mode == "QUATERNION":
        return quat_unflip(q)  # Blender normalises quaternion channels when it evaluates them
    q = quat_unflip(quat_normalize(q))
    if mode == "AXIS_ANGLE":
        return _axis_angle_continuous(q)
    if mode in EULER_MODES:
        return quat_to_euler_blender(q, mode)
    raise ValueError(f"unknown rotation mode {mode!r}")


def euler_between(values: np.ndarray, prev: np.ndarray, after: np.ndarray | None, mode: str) -> np.ndarray:
    """Euler channels ``values (N, 3)`` (radians, Blender ``mode`` such as ``"ZXY"``) between the user's
    keys ``prev (3,)`` (the frame before) and ``after (3,)`` (the frame after; None: none), rewritten as
    equivalent angles so that keys in a row interpolate the short way (as Blender's Euler filter makes
    them), with the same pose on every frame: each frame takes whichever of its two triples (the two
    outer angles + pi and the middle one pi - it), shifted by whole turns toward the frame before, makes
    the whole path, both keys included, move least (squared steps; dynamic programming over the two triples). Near gimbal lock
    the path switches triples where they nearly agree, not at the key after (a jump of more than pi
    the keys would interpolate through a turn)."""
    mid = "XYZ".index(mode[1])
    outer = [i for i in range(3) if i != mid]
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0:
        return v.reshape(0, 3)
    other = v.copy()
    other[:, outer] += np.pi
    other[:, mid] = np.pi - v[:, mid]
    cands = np.stack([v, other], axis=1)  # (N, 2, 3)
    val = np.empty((n, 2, 3))  # each state's value, unwrapped toward its best predecessor
    cost = np.empty((n, 2))
    back = np.zeros((n, 2), dtype=np.int64)
    ref = np.asarray(prev, dtype=np.float64)
    for b in range(2):
        val[0, b] = cands[0, b] + 2 * np.pi * np.round((ref - cands[0, b]) / (2 * np.pi))
        cost[0, b] = ((val[0, b] - ref) ** 2).sum()
    for t in range(1, n):
        for b in range(2):
            best = None
            for a in range(2):
                c = cands[t, b] + 2 * np.pi * np.round((val[t - 1, a] - cands[t, b]) / (2 * np.pi))
                total = cost[t - 1, a] + ((c - val[t - 1, a]) ** 2).sum()
                if best is None or total < best[0]:
                    best = (total, a, c)
            cost[t, b], back[t, b], val[t, b] = best
    end = cost[-1].copy()
    if after is not None:
        end += ((val[-1] - np.asarray(after, dtype=np.float64)) ** 2).sum(-1)
    b = int(np.argmin(end))
    out = np.empty((n, 3))
    for t in range(n - 1, -1, -1):
        out[t] = val[t, b]
        b = back[t, b]
    return out


def frames_text(frames: np.ndarray, limit: int = 3) -> str:
    """Scene ``frames (N,)`` for a message, rounded to whole frames, in runs: ``"frame 140"``,
    ``"frames 139-141, 150"`` (``...`` past ``limit`` runs)."""
    f = np.unique(np.round(np.asarray(frames, dtype=np.float64)).astype(np.int64))
    cuts = np.flatnonzero(np.diff(f) != 1) + 1
    runs = [f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in np.split(f, cuts)]
    return f"frame{'s' if len(f) > 1 else ''} " + ", ".join(runs[:limit]) + (", ..." if len(runs) > limit else "")


def check_finite_channels(names: list[str], frames: np.ndarray, bad_location: np.ndarray,
                          bad_rotation: np.ndarray) -> None:
    """:class:`A4merError` naming the bones and frames where pose channels are NaN/inf (a value no
    rotation or position can be read from), else nothing.

    names: (B,) bone names; frames: (T,) the host's (scene) frames; bad_location, bad_rotation: (T, B)
    True where a location / rotation channel of the bone is not finite on the frame."""
    bad = []
    for b, name in enumerate(names):
        for what, mask in (("rotation", bad_rotation[:, b]), ("location", bad_location[:, b])):
            if mask.any():
                bad.append((f"{name} {what}", np.asarray(frames)[mask]))
    refuse_nonfinite_keys(bad)


def refuse_nonfinite_keys(channels: list[tuple[str, np.ndarray]], owner: str = "") -> None:
    """:class:`A4merError` naming (at most 4 of) ``channels``, (name, scene frames) pairs whose keys are
    NaN/inf there, after ``owner`` (e.g. ``"the object 'X': "``); nothing when there are none."""
    if channels:
        what = ", ".join(f"{name} ({frames_text(at)})" for name, at in channels[:4])
        more = f" and {len(channels) - 4} more" if len(channels) > 4 else ""
        raise A4merError(f"NaN/inf values in the keys of {owner}{what}{more}: fix or delete those keys, then rerun")
