"""SMPL-family skeleton tables: joint names, parents and neutral rest offsets.

Offsets are metres in SMPL's template frame (Y up, the body faces +Z, +X is the body's left),
each joint relative to its parent; joint 0 (pelvis) holds its absolute rest position.
Body joints 0-23 are the neutral SMPL model's (betas = 0). Finger, jaw and eye offsets are
*approximate* (a plausible adult hand, for drawing and for retargeting onto hands only): SMPL-H/X
rest joints depend on the model files, which we do not ship; read a rig's own rest pose instead.
"""
from __future__ import annotations

import numpy as np

SMPL_BODY_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)
SMPL_NAMES: tuple[str, ...] = SMPL_BODY_NAMES + ("left_hand", "right_hand")
SMPL_OFFICIAL_NAMES: tuple[str, ...] = (
    "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle",
    "Spine3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
    "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand",
)
SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)
SMPL_OFFSETS = np.array([
    [-0.0018, -0.2233, +0.0282], [+0.0695, -0.0914, -0.0068], [-0.0677, -0.0905, -0.0043],
    [-0.0025, +0.1090, -0.0267], [+0.0343, -0.3752, -0.0045], [-0.0383, -0.3826, -0.0089],
    [+0.0055, +0.1352, +0.0011], [-0.0136, -0.3980, -0.0437], [+0.0158, -0.3984, -0.0423],
    [+0.0015, +0.0529, +0.0254], [+0.0264, -0.0558, +0.1193], [-0.0254, -0.0481, +0.1233],
    [-0.0028, +0.2139, -0.0429], [+0.0788, +0.1217, -0.0341], [-0.0818, +0.1188, -0.0386],
    [+0.0052, +0.0650, +0.0513], [+0.0910, +0.0305, -0.0089], [-0.0960, +0.0326, -0.0091],
    [+0.2596, -0.0128, -0.0275], [-0.2537, -0.0133, -0.0214], [+0.2492, +0.0090, -0.0012],
    [-0.2553, +0.0078, -0.0056], [+0.0840, -0.0082, -0.0149], [-0.0846, -0.0061, -0.0103],
])
SMPL_OFFSETS.setflags(write=False)
NUM_BODY_JOINTS = 22

FINGERS: tuple[str, ...] = ("index", "middle", "pinky", "ring", "thumb")
# approximate left-hand phalanx offsets (metres, template frame), first row from the wrist
_LEFT_FINGER_OFFSETS = {
    "index": [[0.095, -0.006, 0.025], [0.035, -0.002, 0.001], [0.024, -0.002, 0.0]],
    "middle": [[0.098, -0.006, 0.004], [0.036, -0.002, -0.001], [0.026, -0.002, 0.0]],
    "pinky": [[0.082, -0.010, -0.038], [0.024, -0.002, -0.006], [0.018, -0.002, -0.003]],
    "ring": [[0.091, -0.008, -0.017], [0.032, -0.002, -0.004], [0.024, -0.002, -0.001]],
    "thumb": [[0.026, -0.016, 0.030], [0.026, -0.008, 0.020], [0.024, -0.004, 0.016]],
}


def _hand_tables(first_index: int) -> tuple[list[str], list[int], list[list[float]]]:
    names, parents, offsets = [], [], []
    for side, wrist, sx in (("left", 20, 1.0), ("right", 21, -1.0)):
        for f in FINGERS:
            for k in range(3):
                names.append(f"{side}_{f}{k + 1}")
                parents.append(wrist if k == 0 else first_index + len(names) - 2)
                o = _LEFT_FINGER_OFFSETS[f][k]
                offsets.append([sx * o[0], o[1], o[2]])
    return names, parents, offsets


def _smplh() -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray]:
    n, p, o = _hand_tables(22)
    return (SMPL_BODY_NAMES + tuple(n), SMPL_PARENTS[:22] + tuple(p),
            np.concatenate([SMPL_OFFSETS[:22], np.array(o)]))


def _smplx() -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray]:
    n, p, o = _hand_tables(25)
    face_names = ("jaw", "left_eye_smplhf", "right_eye_smplhf")
    face_offsets = np.array([[0.0, -0.01, 0.03], [0.03, 0.06, 0.09], [-0.03, 0.06, 0.09]])  # approximate
    return (SMPL_BODY_NAMES + face_names + tuple(n), SMPL_PARENTS[:22] + (15, 15, 15) + tuple(p),
            np.concatenate([SMPL_OFFSETS[:22], face_offsets, np.array(o)]))


SMPLH_NAMES, SMPLH_PARENTS, SMPLH_OFFSETS = _smplh()
SMPLX_NAMES, SMPLX_PARENTS, SMPLX_OFFSETS = _smplx()
SMPLH_OFFSETS.setflags(write=False)
SMPLX_OFFSETS.setflags(write=False)
