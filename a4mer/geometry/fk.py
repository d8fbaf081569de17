"""Forward kinematics (numpy)."""
from __future__ import annotations

import numpy as np

from .quat import quat_apply, quat_mul


def forward_kinematics(rotations: np.ndarray, root_translation: np.ndarray, offsets: np.ndarray,
                       parents: tuple[int, ...] | list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions and orientations.

    rotations: (..., J, 4) wxyz local rotations (joint 0: global orientation).
    root_translation: (..., 3) metres, world position of joint 0.
    offsets: (J, 3) metres, rest offset of each joint in its parent's frame (row 0 ignored).
    Returns positions (..., J, 3) metres and global orientations (..., J, 4) wxyz.
    """
    # joint-major contiguous copies: per-joint slices of (..., J, 4) are strided and slow
    rot = np.ascontiguousarray(np.moveaxis(np.asarray(rotations, dtype=np.float64), -2, 0))
    gq = [rot[0]]
    pos = [np.broadcast_to(np.asarray(root_translation, dtype=np.float64), rot.shape[1:-1] + (3,))]
    for j in range(1, len(rot)):
        p = parents[j]
        gq.append(quat_mul(gq[p], rot[j]))
        pos.append(pos[p] + quat_apply(gq[p], offsets[j]))
    return np.stack(pos, axis=-2), np.stack(gq, axis=-2)
