"""Retargeting mocap skeletons onto SMPL-24."""
from .schemes import SCHEMES, BoneMap, detect_scheme, load_bone_map
from .solve import RetargetResult, leg_length, retarget

__all__ = ["SCHEMES", "BoneMap", "detect_scheme", "load_bone_map", "RetargetResult", "leg_length", "retarget"]
