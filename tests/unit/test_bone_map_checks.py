"""Bone-map mistakes that used to pass silently, and rig names that hid a known scheme: two SMPL joints
on one source joint, left and right swapped (told from real takes), a HumanIK prefix on every joint but
the root."""
from __future__ import annotations

import json
import re

import pytest

from a4mer.api import load_motion
from a4mer.errors import MotionFileError, SkeletonError
from a4mer.io import read_bvh
from a4mer.retarget import SCHEMES, detect_scheme, load_bone_map
from a4mer.retarget.schemes import shared_prefix

BANDAI = "bandai-namco/dataset-1/bvh/dataset-1_walk-left_tired_001.bvh"
HDM05 = "hdm05/amc/HDM_bd_squat1Reps_001_120.amc"


def _map(scheme: str) -> dict[str, str]:
    return {k: v for k, v in SCHEMES[scheme].items() if v is not None}


def _swapped(m: dict[str, str]) -> dict[str, str]:
    return {re.sub(r"^(left|right)_", lambda s: {"left_": "right_", "right_": "left_"}[s.group(0)], k): v
            for k, v in m.items()}


def test_two_smpl_joints_on_one_source_joint(tmp_path):
    """left_collar and left_shoulder both on the clavicle: an error naming both keys and the joint."""
    names = tuple(v for v in _map("mixamo").values())
    p = tmp_path / "map.json"
    p.write_text(json.dumps({**_map("mixamo"), "left_shoulder": "LeftShoulder"}))
    with pytest.raises(SkeletonError, match=r"left_collar and left_shoulder the same joint 'LeftShoulder'.*"
                                            r"left_collar is the clavicle, left_shoulder the upper arm"):
        load_bone_map(p, names)
    p.write_text(json.dumps({**_map("mixamo"), "spine3": "spine_1"}))  # any two keys, however spelled
    with pytest.raises(SkeletonError, match=r"spine2 and spine3 the same joint 'Spine1'"):
        load_bone_map(p, names)
    p.write_text(json.dumps(_map("mixamo")))
    assert load_bone_map(p, names).joints["left_shoulder"] == "LeftArm"


@pytest.mark.parametrize("clip, scheme", [(BANDAI, "bandai"), (HDM05, "hdm05-asf")])
def test_left_right_swapped_map(data_root, tmp_path, clip, scheme):
    """A map giving left_* the source's right joints turned the body round (knees bending backwards) with
    a retarget error of 0.00 degrees; now an error naming a pair, told from where the feet point and the
    knees bend over the take (Bandai's rest pose is no pose). The map right way round reads as the
    automatic scheme does."""
    good, bad = tmp_path / "good.json", tmp_path / "swapped.json"
    good.write_text(json.dumps(_map(scheme)))
    bad.write_text(json.dumps(_swapped(_map(scheme))))
    auto = load_motion(data_root / clip)
    user = load_motion(data_root / clip, bone_map=str(good))
    assert abs(user.rotations - auto.rotations).max() < 1e-9
    right_hip = SCHEMES[scheme]["right_hip"]
    with pytest.raises(MotionFileError, match=rf"left and right look swapped: its left_hip \('{right_hip}'\)"):
        load_motion(data_root / clip, bone_map=str(bad))


def test_prefix_on_every_joint_but_the_root(data_root, tmp_path):
    """Maya HumanIK names (``Character1_``) on every joint of a real Bandai take but its root: read with the
    Bandai scheme, as with the prefix everywhere (the error said none of its names matched)."""
    text = (data_root / BANDAI).read_text()
    p = tmp_path / "humanik.bvh"
    p.write_text(re.sub(r"(?m)^(\s*JOINT\s+)", r"\1Character1_", text))
    names = read_bvh(p).names
    assert names[0] == "joint_Root" and names[1] == "Character1_Hips"
    assert shared_prefix(names) == "Character1_"
    bm = detect_scheme(names)
    assert bm.scheme == "bandai" and bm.joints["left_hip"] == "Character1_UpperLeg_L"
    assert abs(load_motion(p).rotations - load_motion(data_root / BANDAI).rotations).max() < 1e-9
    # a prefix shared by every name but one, either end of the sorted names; none where two names lack it
    assert shared_prefix(["Reference", "Character1_Hips", "Character1_Spine"]) == "Character1_"
    assert shared_prefix(["Armature", "rig_Hips", "rig_Spine"]) == "rig_"
    assert shared_prefix(["Reference", "Root", "Character1_Hips", "Character1_Spine"]) == ""
    assert shared_prefix(["Hips", "Spine"]) == "" and shared_prefix(["L_Hip", "R_Hip", "Pelvis"]) == ""
