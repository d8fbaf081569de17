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
    rotations = np.asarray(rotations, dtype=np.float64)
    J = rotations.shape[-2]
    gq = np.empty_like(rotations)
    pos = np.empty(rotations.shape[:-1] + (3,))
    gq[..., 0, :] = rotations[..., 0, :]
    pos[..., 0, :] = root_translation
    for j in range(1, J):
        p = parents[j]
        gq[..., j, :] = quat_mul(gq[..., p, :], rotations[..., j, :])
        pos[..., j, :] = pos[..., p, :] + quat_apply(gq[..., p, :], offsets[j])
    return pos, gq
