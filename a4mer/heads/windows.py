"""Windows of motion for the learned heads (numpy): base curves, canonical frame, per-frame features.

A window is ``W`` frames at the model rate (30 fps) of root translation ``trans (W, 3)`` m, local
rotations ``rot (W, 22, 4)`` wxyz of SMPL joints 0-21, and a mask ``known (W,)``. Unknown frames
are first filled with the classical answer (:func:`base_fill`): a Catmull-Rom curve through the
known frames (Blender-like auto tangents; with dense context this is the "bezier_auto" baseline, with
sparse keys the blocking baseline) and, after the last known frame, damped constant velocity.
The network then predicts a correction of that curve.
"""
from __future__ import annotations

import numpy as np

from ..bench.metrics import body_fk
from ..geometry import axis_quat, quat_apply, quat_mul, quat_to_rotmat, rotmat_to_rot6d
from . import baselines as BL

MODEL_FPS = 30.0
BODY = 22
#: SMPL joints 0-21 with left and right swapped
MIRROR_PERM = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20)
#: correction blends in over this many frames from the nearest known frame
ENVELOPE_FRAMES = 6.0
FEATURES = 3 + 6 + 21 * 6 + 21 * 3 + 2


def mirror(trans: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror image (world x -> -x, SMPL template x -> -x, joints swapped).

    trans ``(T, 3)``, rot ``(T, 22, 4)`` wxyz -> new arrays."""
    t = np.array(trans, dtype=float)
    t[:, 0] *= -1
    q = np.array(rot, dtype=float)[:, MIRROR_PERM]
    q[..., 2:] *= -1
    return t, q


def base_fill(trans: np.ndarray, rot: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Classical answer for the unknown frames of a window (known frames copied).

    Runs between known frames: Catmull-Rom through all known frames. Frames after the last known
    frame: damped constant velocity. Frames before the first known frame: the first known frame held.
    """
    idx = np.flatnonzero(known)
    if len(idx) == 0:
        raise ValueError("window without known frames")
    tr, q = (BL.catmull_rom_keys(trans, rot, idx) if len(idx) >= 2
             else (np.array(trans, float), np.array(rot, float)))
    last, first = idx[-1], idx[0]
    n = len(trans) - 1 - last
    if n > 0:
        et, eq = BL.extend_damped_velocity(tr[:last + 1], q[:last + 1], n)
        tr[last + 1:], q[last + 1:] = et, eq
    if first > 0:
        tr[:first], q[:first] = tr[first], q[first]
    return tr, q


def distance_to_known(known: np.ndarray) -> np.ndarray:
    """Frames ``(W,)`` from each frame to the nearest known frame (0 on known frames)."""
    W = len(known)
    idx = np.flatnonzero(known)
    return np.min(np.abs(np.arange(W)[:, None] - idx[None, :]), axis=1).astype(float)


def envelope(known: np.ndarray) -> np.ndarray:
    """Weight ``(W,)`` of the correction: 0 on known frames, smoothstep up to 1 over ENVELOPE_FRAMES."""
    x = np.clip(distance_to_known(known) / ENVELOPE_FRAMES, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def reference_frame(known: np.ndarray) -> int:
    """The window's canonical frame: the last known frame before the first unknown one."""
    unk = np.flatnonzero(~known)
    first_unknown = unk[0] if len(unk) else len(known)
    before = np.flatnonzero(known[:first_unknown])
    return int(before[-1]) if len(before) else int(np.flatnonzero(known)[0])


def canonical_transform(trans: np.ndarray, rot: np.ndarray, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-heading quaternion ``(4,)`` and planar shift ``(3,)`` of frame ``ref``: canonical
    position = inv * (p - shift)."""
    f = quat_apply(rot[ref, 0], np.array([0.0, 0.0, 1.0]))
    yaw = np.arctan2(-f[0], f[1])
    return axis_quat("z", -yaw), np.array([trans[ref, 0], trans[ref, 1], 0.0])


def to_canonical(trans: np.ndarray, rot: np.ndarray, inv: np.ndarray, shift: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Root translation and rotations ``(W, 3)``, ``(W, 22, 4)`` in the canonical frame (joints 1-21 are
    local, so only the root orientation changes)."""
    t = quat_apply(inv, trans - shift)
    q = np.array(rot, float)
    q[:, 0] = quat_mul(np.broadcast_to(inv, q[:, 0].shape), q[:, 0])
    return t, q


def features(trans_c: np.ndarray, rot_c: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per-frame input ``(..., W, FEATURES)`` float32 from canonical ``trans_c (..., W, 3)``,
    ``rot_c (..., W, 22, 4)`` and ``known (W,)``: root position (3), root orientation 6D (6), local 6D of
    joints 1-21 (126), joint positions relative to the root (63), known flag (1), distance to the
    nearest known frame / 30 (1)."""
    pos, _ = body_fk(rot_c, trans_c)  # (..., W, 22, 3)
    r6 = rotmat_to_rot6d(quat_to_rotmat(rot_c))  # (..., W, 22, 6)
    lead = trans_c.shape[:-1]  # (..., W)
    extra = np.stack([np.asarray(known, float), distance_to_known(known) / 30.0], -1)  # (W, 2)
    return np.concatenate([trans_c, r6.reshape(lead + (-1,)), (pos[..., 1:, :] - pos[..., :1, :]).reshape(lead + (-1,)),
                           np.broadcast_to(extra, lead + (2,))], axis=-1).astype(np.float32)
