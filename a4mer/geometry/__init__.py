"""Numpy geometry of the light core: rotations (wxyz quaternions), forward kinematics, resampling."""
from .fk import forward_kinematics
from .quat import (axis_angle_to_quat, axis_quat, euler_to_quat, euler_unwrap, quat_angle, quat_apply, quat_between,
                   quat_conj, quat_identity, quat_mul, quat_normalize, quat_slerp, quat_to_axis_angle,
                   quat_to_rotmat, quat_unflip, rot6d_to_rotmat, rotmat_project, rotmat_to_quat,
                   rotmat_to_rot6d)
from .resample import known_coords, lerp_at, resample_count, resample_times, rows_read, slerp_at

__all__ = ["forward_kinematics", "axis_angle_to_quat", "axis_quat", "euler_to_quat", "euler_unwrap", "quat_angle",
           "quat_apply", "quat_between", "quat_conj", "quat_identity", "quat_mul", "quat_normalize",
           "quat_slerp", "quat_to_axis_angle", "quat_to_rotmat", "quat_unflip", "rot6d_to_rotmat",
           "rotmat_project", "rotmat_to_quat", "rotmat_to_rot6d", "known_coords", "rows_read", "lerp_at",
           "resample_count", "resample_times", "slerp_at"]
