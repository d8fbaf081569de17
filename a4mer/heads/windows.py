"""Per-frame pose features of the learned heads and left/right mirroring (numpy).

Frames are at the model rate (30 fps): root translation ``(..., W, 3)`` m and local rotations
``(..., W, 22, 4)`` wxyz of SMPL joints 0-21, already in a canonical frame (see ``layouts``).
"""
from __future__ import annotations

import numpy as np

from ..bench.metrics import body_fk
from ..geometry import quat_conj, quat_mul, quat_to_rotmat, rotmat_to_rot6d
from ..skeleton import SMPL

MODEL_FPS = 30.0
BODY = 22
#: SMPL joints 0-21 with left and right swapped
MIRROR_PERM = tuple(int(j) for j in SMPL.mirror_index()[:22])
FEATURES = 3 + 6 + 21 * 6 + 21 * 3 + 2


def mirror(trans: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right mirror image (world x -> -x, SMPL template x -> -x, joints swapped).

    trans ``(T, 3)``, rot ``(T, 22, 4)`` wxyz -> new arrays."""
    t = np.array(trans, dtype=float)
    t[:, 0] *= -1
    q = np.array(rot, dtype=float)[:, MIRROR_PERM]
    q[..., 2:] *= -1
    return t, q


def distance_to_known(known: np.ndarray) -> np.ndarray:
    """Frames ``(W,)`` from each frame to the nearest known frame (0 on known frames)."""
    W = len(known)
    idx = np.flatnonzero(known)
    return np.min(np.abs(np.arange(W)[:, None] - idx[None, :]), axis=1).astype(float)


def features(trans_c: np.ndarray, rot_c: np.ndarray, known: np.ndarray, rot_ref: np.ndarray | None = None
             ) -> np.ndarray:
    """Per-frame input ``(..., W, FEATURES)`` float32 from canonical ``trans_c (..., W, 3)``,
    ``rot_c (..., W, 22, 4)`` and ``known (W,)``: root position (3), root orientation 6D (6), local 6D of
    joints 1-21 (126), joint positions relative to the root (63), known flag (1), distance to the
    nearest known frame / 30 (1).

    With ``rot_ref (..., 1, 22, 4)`` (the local rotations of a reference key) the local rotations of
    joints 1-21 enter relative to it (``ref^-1 q``): capture sources and retargets differ by near
    constant offsets of local rotations (rest-pose conventions of collars, ankles, wrists), which
    absolute rotations would let the network recognise."""
    pos, _ = body_fk(rot_c, trans_c)  # (..., W, 22, 3)
    if rot_ref is not None:
        rel = quat_mul(quat_conj(np.broadcast_to(rot_ref, rot_c.shape)), rot_c)
        rot_c = np.concatenate([rot_c[..., :1, :], rel[..., 1:, :]], -2)
    r6 = rotmat_to_rot6d(quat_to_rotmat(rot_c))  # (..., W, 22, 6)
    lead = trans_c.shape[:-1]  # (..., W)
    extra = np.stack([np.asarray(known, float), distance_to_known(known) / 30.0], -1)  # (W, 2)
    return np.concatenate([trans_c, r6.reshape(lead + (-1,)), (pos[..., 1:, :] - pos[..., :1, :]).reshape(lead + (-1,)),
                           np.broadcast_to(extra, lead + (2,))], axis=-1).astype(np.float32)
