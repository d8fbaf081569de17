"""Every BVH naming scheme in tests/fixtures/bvh_schemes maps automatically and retargets onto
SMPL with the written motion's limb directions."""
import json

import numpy as np
import pytest

from a4mer.api import load_motion
from a4mer.io.bvh import read_bvh
from a4mer.retarget import detect_scheme
from a4mer.skeleton import SMPL

EXPECTED = {"cmu_3dsmax": "cmu-3dsmax", "cmu_daz": "cmu-daz", "cmu_motionbuilder": "cmu-motionbuilder",
            "lafan": "lafan", "mixamo": "mixamo", "smpl_names": "smpl", "smplx_names": "smpl"}
LIMBS = [("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
         ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scheme_fixture(repo_root, name):
    folder = repo_root / "tests" / "fixtures" / "bvh_schemes"
    truth = json.loads((folder / f"{name}.json").read_text())
    src = read_bvh(folder / truth["bvh"])
    bmap = detect_scheme(src.names)
    assert bmap.scheme == EXPECTED[name]
    for smpl_joint, bone in truth["bone_map"].items():
        assert bmap.joints[smpl_joint] == bone, (smpl_joint, bmap.joints.get(smpl_joint), bone)
    m = load_motion(folder / truth["bvh"])
    pos = m.joint_positions()
    true = np.array(truth["positions"])  # (T, len(joints), 3) metres, Z-up
    jidx = {n: i for i, n in enumerate(truth["joints"])}
    sidx = {n: i for i, n in enumerate(SMPL.names)}
    for a, b in LIMBS:
        u = true[:, jidx[b]] - true[:, jidx[a]]
        v = pos[:, sidx[b]] - pos[:, sidx[a]]
        cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0, (name, a, b)
    # whatever the file's units, the retargeted body has SMPL's size: pelvis height ~ true height
    assert abs(pos[:, 0, 2].mean() - true[:, jidx["pelvis"], 2].mean()) < 0.1
