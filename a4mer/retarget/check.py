"""Independent checks of a retarget: limb directions, uprightness, root travel per leg length."""
from __future__ import annotations

import numpy as np

from ..io.source import SourceClip
from ..skeleton import SMPL
from .schemes import BoneMap
from .solve import RetargetResult, leg_length
from ..geometry import reproducible as rp

#: limb bones compared between the source and the SMPL result
LIMBS = (("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_hip", "right_knee"),
         ("right_knee", "right_ankle"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
         ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("neck", "head"))


def check_retarget(src: SourceClip, bmap: BoneMap, res: RetargetResult) -> dict:
    """Numbers that say whether a retarget is faithful.

    median_limb_deg: median angle (degrees) between source and SMPL limb directions over all limbs
    and frames (same world, no alignment needed). upright: head above pelvis above ankles on average
    (Z up). travel_ratio: SMPL root travel per SMPL leg length / source root travel per source leg
    length (1.0 = the same walk).
    """
    smpl = res.motion.joint_positions()
    idx = {n: i for i, n in enumerate(SMPL.names)}

    def src_joint(name):
        return src.positions[:, src.index(bmap.joints[name])]

    angles = []
    for a, b in LIMBS:
        u, v = src_joint(b) - src_joint(a), smpl[:, idx[b]] - smpl[:, idx[a]]
        cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1) + 1e-12)
        angles.append(np.degrees(rp.arccos(np.clip(cos, -1, 1))))
    head, pelvis = smpl[:, idx["head"], 2].mean(), smpl[:, 0, 2].mean()
    ankles = smpl[:, [idx["left_ankle"], idx["right_ankle"]], 2].mean()
    zeros = np.zeros_like(src.positions[:, 0])
    src_pos = np.stack([src_joint(n) if n in bmap.joints else zeros for n in SMPL.names], 1)
    travel_src = np.linalg.norm(np.diff(src_joint("pelvis"), axis=0), axis=-1).sum()
    travel_smpl = np.linalg.norm(np.diff(res.motion.root_translation, axis=0), axis=-1).sum()
    ratio = 1.0
    if travel_src > 1e-3:
        ratio = (travel_smpl / leg_length(SMPL.rest_positions()[None], idx)) / (travel_src / leg_length(src_pos, idx))
    return {"median_limb_deg": float(np.median(np.concatenate(angles))), "upright": bool(head > pelvis > ankles),
            "travel_ratio": float(ratio), "frames": res.motion.num_frames}
