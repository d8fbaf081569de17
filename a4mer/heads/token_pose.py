"""Heading-free pose vectors: what the token decoder outputs, and back to a clip (numpy).

Per frame (``POSE_DIM`` = 136):

=========  =====  ================================================================================
slice      width  content
=========  =====  ================================================================================
0:6        6      root orientation with the heading (yaw) removed, 6D (tilt only; forward = +X)
6:132      126    local rotations of SMPL joints 1-21, 6D
132        1      pelvis height, metres
133:135    2      pelvis planar velocity in the frame's own heading frame, m/s
135        1      yaw rate, rad/s
=========  =====  ================================================================================

Heading (yaw): the angle about world +Z of the body's forward direction, taken as the SMPL template's
+X axis (the body's left, mapped to the world by the root orientation) turned by -90 degrees about +Z.
For an upright body this is the heading of :mod:`a4mer.features` (template +Z projected on the
ground); unlike that one it stays defined when the body bends forward (picking something up from
the floor), where the projected +Z axis shrinks to nothing and its angle spins (HDM05 "depositFloor"
clips: yaw rates of 20 rad/s). A clip is rebuilt from these vectors by integrating the velocities
from an anchor frame's position and heading (:func:`compose`).
"""
from __future__ import annotations

import numpy as np

from ..features import _rot_z
from ..geometry import quat_to_rotmat, quat_unflip, rot6d_to_rotmat, rotmat_to_quat, rotmat_to_rot6d
from ..geometry import reproducible as rp

BODY = 22
POSE_DIM = 6 + 21 * 6 + 1 + 2 + 1


def heading(rot0: np.ndarray) -> np.ndarray:
    """Unwrapped yaw (T,) rad of root orientations ``rot0 (T, 4)`` wxyz (see the module docstring)."""
    left = quat_to_rotmat(rot0)[:, :, 0]
    return np.unwrap(rp.arctan2(left[:, 1], left[:, 0]) - 0.5 * np.pi)


def pose_vectors(trans: np.ndarray, rot: np.ndarray, fps: float) -> np.ndarray:
    """(T, POSE_DIM) float32 from root translation ``trans (T, 3)`` m and local rotations
    ``rot (T, 22, 4)`` wxyz at ``fps``; velocities by central differences."""
    q = quat_unflip(np.asarray(rot, float)[:, :BODY])
    T = len(q)
    m = quat_to_rotmat(q)  # (T, 22, 3, 3)
    yaw = heading(q[:, 0])
    tilt = _rot_z(-yaw) @ m[:, 0]
    if T > 1:
        vel = np.gradient(np.asarray(trans, float)[:, :2], axis=0) * fps
        yaw_rate = np.gradient(yaw) * fps
    else:
        vel, yaw_rate = np.zeros((T, 2)), np.zeros(T)
    c, s = rp.cos(-yaw), rp.sin(-yaw)
    vel_local = np.stack([c * vel[:, 0] - s * vel[:, 1], s * vel[:, 0] + c * vel[:, 1]], 1)
    return np.concatenate([rotmat_to_rot6d(tilt), rotmat_to_rot6d(m[:, 1:]).reshape(T, -1),
                           np.asarray(trans, float)[:, 2:3], vel_local, yaw_rate[:, None]], 1).astype(np.float32)


def compose(pose: np.ndarray, fps: float, yaw0: float, xy0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip from ``pose (T, POSE_DIM)`` at ``fps``: frame 0 gets heading ``yaw0`` (rad) and planar
    position ``xy0 (2,)`` m; later frames integrate the yaw rate and planar velocity (trapezoids).
    Returns root translation (T, 3) m and local rotations (T, 22, 4) wxyz."""
    pose = np.asarray(pose, float)
    T = len(pose)
    dt = 1.0 / fps
    yr = pose[:, 135]
    yaw = yaw0 + np.r_[0.0, np.cumsum(0.5 * (yr[1:] + yr[:-1]) * dt)]
    c, s = rp.cos(yaw), rp.sin(yaw)
    v = np.stack([c * pose[:, 133] - s * pose[:, 134], s * pose[:, 133] + c * pose[:, 134]], 1)  # world
    xy = np.asarray(xy0, float) + np.r_[np.zeros((1, 2)), np.cumsum(0.5 * (v[1:] + v[:-1]) * dt, 0)]
    mats = rot6d_to_rotmat(np.concatenate([pose[:, :6], pose[:, 6:132]], 1).reshape(T, BODY, 6))
    mats[:, 0] = _rot_z(yaw) @ mats[:, 0]
    trans = np.concatenate([xy, pose[:, 132:133]], 1)
    return trans, rotmat_to_quat(mats)
