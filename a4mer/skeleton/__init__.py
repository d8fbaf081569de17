"""Skeletons: SMPL-family tables, the Skeleton dataclass, bone-name matching."""
from .mapping import RigMatch, match_smpl_rig, normalize_bone_name
from .skeleton import SMPL, SMPL_FAMILY, SMPLH, SMPLX, Skeleton, smpl_family
from .smpl import NUM_BODY_JOINTS

__all__ = ["Skeleton", "SMPL", "SMPLH", "SMPLX", "SMPL_FAMILY", "smpl_family", "RigMatch",
           "match_smpl_rig", "normalize_bone_name", "NUM_BODY_JOINTS"]
