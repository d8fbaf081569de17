"""A rig's rest pose must be SMPL's T-pose: body-shape variation passes, an A-pose or a posed rest is
refused with the bones named (reading SMPL rotations off it would give wrong poses)."""
from __future__ import annotations

import numpy as np
import pytest

from a4mer.errors import SkeletonError
from a4mer.geometry import axis_angle_to_quat, quat_to_rotmat
from a4mer.rig import RigRest
from a4mer.skeleton import SMPL

RX90 = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # template (Y up) -> Blender (Z up)


def _rest(heads: np.ndarray) -> np.ndarray:
    """(24, 4, 4) armature-space rest matrices: identity axes at ``heads`` (Z up)."""
    rest = np.tile(np.eye(4), (24, 1, 1))
    rest[:, :3, 3] = heads @ RX90.T
    return rest


def _rotate_chain(heads: np.ndarray, pivot: int, joints: list[int], axis_angle) -> np.ndarray:
    r = quat_to_rotmat(axis_angle_to_quat(np.asarray(axis_angle, dtype=float)))
    out = heads.copy()
    out[joints] = (heads[joints] - heads[pivot]) @ r.T + heads[pivot]
    return out


def test_t_pose_and_body_shapes_pass():
    heads = SMPL.rest_positions()
    assert RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(heads)).rest_pose_deviation().max() < 1e-3
    for aa in ([0, 0, np.radians(27)], [np.radians(31), 0, 0], [0.4, -1.1, 2.0]):  # armature data turned
        turned = heads @ quat_to_rotmat(axis_angle_to_quat(np.array(aa))).T
        rig = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(turned))
        assert rig.rest_pose_deviation().max() < 1e-3
    rng = np.random.default_rng(0)
    for _ in range(20):  # bone lengths x0.8-1.2 and every offset tilted by up to 8 degrees
        offsets = np.zeros_like(heads)
        for j in range(1, 24):
            tilt = quat_to_rotmat(axis_angle_to_quat(rng.normal(size=3) * np.radians(8) / np.sqrt(3)))
            offsets[j] = tilt @ (heads[j] - heads[SMPL.parents[j]]) * rng.uniform(0.8, 1.2)
        shaped = np.zeros_like(heads)
        for j in range(1, 24):
            shaped[j] = shaped[SMPL.parents[j]] + offsets[j]
        RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(shaped))


def test_a_pose_is_refused_naming_the_arms():
    heads = SMPL.rest_positions()
    a_pose = _rotate_chain(heads, 16, [18, 20, 22], [0, 0, -np.radians(40)])  # left arm 40 deg down
    a_pose = _rotate_chain(a_pose, 17, [19, 21, 23], [0, 0, np.radians(40)])
    with pytest.raises(SkeletonError, match=r"not SMPL's T-pose \(left_shoulder -> left_elbow 40 deg, "
                                            r"right_shoulder -> right_elbow 40 deg\)?"):
        RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(a_pose))


def test_bent_knee_rest_is_refused():
    heads = _rotate_chain(SMPL.rest_positions(), 4, [7, 10], [np.radians(60), 0, 0])
    with pytest.raises(SkeletonError, match=r"left_knee -> left_ankle 60 deg"):
        RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(heads))
