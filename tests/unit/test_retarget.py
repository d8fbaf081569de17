import json

import numpy as np
import pytest

from a4mer.errors import A4merError, SkeletonError
from a4mer.geometry import axis_angle_to_quat, quat_conj, quat_mul
from a4mer.io.source import SourceClip
from a4mer.motion import Motion
from a4mer.retarget import SCHEMES, detect_scheme, load_bone_map, retarget
from a4mer.retarget.schemes import shared_prefix
from a4mer.skeleton import SMPL, match_smpl_rig, normalize_bone_name
from a4mer.skeleton.smpl import SMPL_OFFICIAL_NAMES


def _walk(T=150, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 30
    aa = 0.4 * np.sin(t[:, None, None] * rng.uniform(1, 3, (1, 24, 3)) + rng.uniform(0, 6, (1, 24, 3)))
    aa[:, 0] = [np.pi / 2, 0, 0]
    return Motion(30, np.c_[t, 0 * t, 0.9 + 0.02 * np.sin(t)], axis_angle_to_quat(aa))


def _source_from(m: Motion, names, scale=2.5, seed=1):
    """A source skeleton with SMPL's joints under other names and arbitrary rest frames."""
    rng = np.random.default_rng(seed)
    pos, gq = m.joint_positions(), m.global_rotations()
    frames = axis_angle_to_quat(rng.normal(size=(24, 3)))
    return SourceClip("synthetic.bvh", "bvh", m.fps, tuple(names), SMPL.parents, np.zeros(24, bool),
                      pos * scale, quat_mul(gq, frames), pos[0] * scale, 1.0, "z")


def test_identity_retarget_reproduces_positions_and_scales_root():
    m = _walk()
    src = _source_from(m, SMPL.names)
    r = retarget(src, detect_scheme(src.names))
    assert r.scale == pytest.approx(1 / 2.5)
    assert np.abs(r.motion.joint_positions() - m.joint_positions()).max() < 1e-6
    assert r.median_error_deg < 1e-3
    assert r.motion.meta["scheme"] == "smpl"


def test_scale_override_and_travel_ratio():
    m = _walk()
    src = _source_from(m, SMPL.names, scale=10.0)
    r = retarget(src, detect_scheme(src.names), scale=0.05)
    assert np.allclose(r.motion.root_translation[:, :2], src.positions[:, 0, :2] * 0.05)  # travel: x 0.05
    # height: one constant lift, so the ankles stand as high as the source's ankles x 0.05
    lift = r.motion.root_translation[:, 2] - src.positions[:, 0, 2] * 0.05
    assert np.ptp(lift) < 1e-9 and r.motion.meta["retarget_lift_m"] == pytest.approx(lift[0], abs=1e-4)
    ankles = [SMPL.names.index(n) for n in ("left_ankle", "right_ankle")]
    err = r.motion.joint_positions()[:, ankles, 2] - src.positions[:, ankles, 2] * 0.05
    assert np.abs(np.median(err)) < 1e-9 and np.abs(err).max() < 0.1  # the legs are 2x too long for x 0.05


def test_official_names_and_prefixes_detected():
    m = _walk(T=20)
    for names in (SMPL_OFFICIAL_NAMES, tuple("m_avg_" + n for n in SMPL_OFFICIAL_NAMES)):
        assert detect_scheme(_source_from(m, names).names).scheme == "smpl"


def test_each_scheme_resolves_its_own_names():
    for name, scheme in SCHEMES.items():
        src_names = [v for v in scheme.values() if v] + ["Extra_Bone"]
        assert detect_scheme(src_names).scheme == name


def test_3dsmax_leftshoulder_is_upper_arm():
    names = [v for v in SCHEMES["cmu-3dsmax"].values() if v]
    bm = detect_scheme(names)
    assert bm.joints["left_shoulder"] == "LeftShoulder" and bm.joints["left_collar"] == "LeftCollar"
    mb = detect_scheme([v for v in SCHEMES["cmu-motionbuilder"].values() if v])
    assert mb.joints["left_collar"] == "LeftShoulder"


def test_unknown_skeleton_names_missing_bones():
    with pytest.raises(SkeletonError, match="lacks") as e:
        detect_scheme(["Hips", "Spine", "Foo", "Bar"])
    assert "bone map" in str(e.value)


def test_a_prefix_every_name_shares_is_not_the_bones():
    """Maya HumanIK's default ``Character1_Hips``: the mixamo-style names behind the shared prefix."""
    names = [v for v in SCHEMES["mixamo"].values() if v]
    bm = detect_scheme(["Character1_" + n for n in names])
    assert bm.scheme == "mixamo" and bm.joints["left_hip"] == "Character1_LeftUpLeg"
    assert shared_prefix(["Character1_Hips", "Character1_Spine"]) == "Character1_"
    assert shared_prefix(["LeftArm", "LeftLeg"]) == "" and shared_prefix(["L_Hip", "R_Hip", "Pelvis"]) == ""
    assert shared_prefix(["m_avg_L_Hip", "m_avg_R_Hip"]) == "m_avg_"


def test_a_skeleton_with_no_known_name_shows_its_names():
    with pytest.raises(SkeletonError, match=r"none of its 3 joint names \('Foo', 'Bar', 'Baz'\) matches"):
        detect_scheme(["Foo", "Bar", "Baz"])


def test_user_bone_map(tmp_path):
    m = _walk(T=20)
    names = [f"B{i}" for i in range(24)]
    src = _source_from(m, names)
    p = tmp_path / "map.json"
    p.write_text(json.dumps({n: f"B{i}" for i, n in enumerate(SMPL.names)}))
    r = retarget(src, load_bone_map(p, src.names))
    assert np.abs(r.motion.joint_positions() - m.joint_positions()).max() < 1e-6
    p.write_text(json.dumps({"pelvis": "B0"}))
    with pytest.raises(SkeletonError, match="incomplete"):
        load_bone_map(p, src.names)
    p.write_text(json.dumps({"hips_of_doom": "B0"}))
    with pytest.raises(A4merError, match="not an SMPL joint"):
        load_bone_map(p, src.names)
    # a typo on an optional joint (a foot) was ignored: the foot then silently followed the ankle
    p.write_text(json.dumps({**{n: f"B{i}" for i, n in enumerate(SMPL.names)}, "left_foot": "typo_foot"}))
    with pytest.raises(SkeletonError, match="left_foot -> 'typo_foot'"):
        load_bone_map(p, src.names)


def test_rig_matching_reports_missing():
    r = match_smpl_rig(["root"] + list(SMPL_OFFICIAL_NAMES))
    assert r.ok and r.root_bone == "root" and r.bones["left_hip"] == "L_Hip"
    # a rig with thumbs only is SMPL-H (its thumbs are read and exported), one with a jaw SMPL-X
    from a4mer.skeleton import SMPLX
    body = list(SMPLX.names[:22])
    assert match_smpl_rig(body + ["left_thumb1", "left_thumb2"]).family == "smplh"
    assert match_smpl_rig(body + ["jaw"]).family == "smplx" and match_smpl_rig(body).family == "smpl"
    bad = match_smpl_rig(["Hips", "Spine", "L_Hip"])
    assert not bad.ok and "pelvis" in bad.describe_missing() and "left_hip" not in bad.missing_body
    assert normalize_bone_name("mixamorig:LeftUpLeg") == "leftupleg"
    for name in ("mixamorig1:LeftUpLeg", "mixamorig2_LeftUpLeg", "Character1:LeftUpLeg", "MIXAMORIG_LeftUpLeg"):
        assert normalize_bone_name(name) == "leftupleg", name  # several characters in one scene
    assert normalize_bone_name("Hand_L") == normalize_bone_name("left_hand")


def test_source_twist_flips_are_removed():
    """A solver's 180-degree twist flip of one bone (positions unchanged) must not reach SMPL."""
    from a4mer.geometry import quat_angle
    from a4mer.retarget.solve import remove_flips
    m = _walk(T=120)
    src = _source_from(m, SMPL.names)
    flipped = src.orientations.copy()
    lk = SMPL.names.index("left_knee")
    bone = SMPL.offsets[SMPL.names.index("left_ankle")]
    # twist by pi about the bone (in the knee's own frame, as an Euler flip of the solver does)
    flip = np.r_[0.0, bone / np.linalg.norm(bone)]
    frames = axis_angle_to_quat(np.random.default_rng(1).normal(size=(24, 3)))
    flip_src = quat_mul(quat_conj(frames[lk]), quat_mul(flip, frames[lk]))  # the same flip in the source frame
    flipped[40:80, lk] = quat_mul(flipped[40:80, lk], flip_src)
    assert quat_angle(flipped[40, lk], flipped[39, lk]) > 3.0
    fixed = remove_flips(flipped)
    assert quat_angle(fixed[1:, lk], fixed[:-1, lk]).max() < 0.2
    bad = SourceClip(src.path, src.format, src.fps, src.names, src.parents, src.end_site, src.positions,
                     flipped, src.rest_positions, 1.0, "z")
    r = retarget(bad, detect_scheme(bad.names))
    assert quat_angle(r.motion.rotations[1:], r.motion.rotations[:-1]).max() < 0.5
    assert np.abs(r.motion.joint_positions() - m.joint_positions()).max() < 1e-6


def _file_like_source(m: Motion) -> SourceClip:
    """``m`` as a BVH-like file holds it: SMPL's names and bones, joint frames aligned with the world in
    the file's rest pose (SMPL's rest stood up in Z-up), which ``rest_*`` describe."""
    stand = axis_angle_to_quat(np.array([np.pi / 2, 0, 0]))
    rest = Motion(m.fps, np.array([[0, 0, 0.9]]), np.r_[[stand], np.tile([1.0, 0, 0, 0], (23, 1))][None])
    return SourceClip("held.bvh", "bvh", m.fps, SMPL.names, SMPL.parents, np.zeros(24, bool), m.joint_positions(),
                      quat_mul(m.global_rotations(), quat_conj(stand)), rest.joint_positions()[0], 1.0, "z",
                      rest_orientations=np.tile([1.0, 0, 0, 0], (24, 1)))


def test_a_file_rest_pose_keeps_twists_and_a_pose_held_through_the_clip():
    """A head turned and a forearm pronated through the whole clip (BVH of SMPL-like skeleton): the
    clip used to be calibrated on its own mean (head straight, forearm unturned); the file's rest pose
    calibrates it now, so every local rotation comes back."""
    from a4mer.geometry import quat_angle
    m = _walk(T=90)
    aa = np.zeros((90, 24, 3))
    aa[:, SMPL.names.index("head"), 1] = np.radians(60)        # held turn of a leaf
    aa[:, SMPL.names.index("left_elbow"), 0] = np.radians(80)  # held twist about the forearm
    aa[:, SMPL.names.index("left_wrist"), 0] = np.radians(45)
    m = m.with_(rotations=quat_mul(m.rotations, axis_angle_to_quat(aa)))
    r = retarget(_file_like_source(m), detect_scheme(SMPL.names))
    assert r.motion.meta["retarget_twist"] == "rest pose"
    assert np.degrees(quat_angle(r.motion.rotations, m.rotations)).max() < 1e-3
    assert np.abs(r.motion.joint_positions() - m.joint_positions()).max() < 1e-6
    # a skeleton whose neck stands upright at rest (CMU, Mixamo; SMPL's leans 38 degrees forward): the
    # head still looks where the source's looks (it was calibrated on the aimed neck: 38 degrees up)
    src = _file_like_source(m)
    rest = src.rest_positions.copy()
    head, neck = SMPL.names.index("head"), SMPL.names.index("neck")
    rest[head] = rest[neck] + [0, 0, np.linalg.norm(rest[head] - rest[neck])]
    r = retarget(SourceClip(**{**src.__dict__, "rest_positions": rest}), detect_scheme(SMPL.names))
    assert np.degrees(quat_angle(r.motion.global_rotations()[:, head], m.global_rotations()[:, head])).max() < 1e-3


def test_a_rest_pose_that_is_no_pose_or_a_solver_turn_falls_back_to_the_clip():
    """Bone-aligned joint frames (Bandai-Namco: the zero-rotation pose lies along X) give no rest
    calibration; a joint the mocap solver keeps turned 180 degrees about its bone through a take (HDM05
    ankles and wrists) is calibrated on the clip: the sole stays down."""
    from a4mer.geometry import quat_angle
    m = _walk(T=90)
    src = _file_like_source(m)
    lying = src.rest_positions[:, [2, 1, 0]]  # the spine along X
    r = retarget(SourceClip(**{**src.__dict__, "rest_positions": lying}), detect_scheme(SMPL.names))
    assert r.motion.meta["retarget_twist"] == "clip"
    la = SMPL.names.index("left_ankle")
    bone = m.global_rotations()[:, la]
    foot = SMPL.offsets[SMPL.names.index("left_foot")]
    flip = np.r_[0.0, foot / np.linalg.norm(foot)]  # pi about the ankle -> foot bone, in the ankle's frame
    q = src.orientations.copy()
    q[:, la] = quat_mul(quat_mul(bone, flip), quat_mul(quat_conj(bone), q[:, la]))
    r = retarget(SourceClip(**{**src.__dict__, "orientations": q}), detect_scheme(SMPL.names))
    assert r.motion.meta["retarget_twist"] == "rest pose"
    assert r.motion.meta["retarget_twist_from_clip"] == ["left_ankle"]
    assert np.degrees(quat_angle(r.motion.global_rotations()[:, la], bone)).max() < 20


@pytest.mark.parametrize("T", [3, 10, 14])
def test_a_short_take_after_a_rest_frame_loses_the_rest_frame_only(T):
    """A file's rest pose on frame 0, then a short take (fewer frames than the lead-in window): all its
    frames but the first were taken for an ease into the take, leaving one frame."""
    from a4mer.io.source import reference_lead_in
    m = _walk(T=T)
    stand = axis_angle_to_quat(np.array([np.pi / 2, 0, 0]))
    rot = m.rotations.copy()
    rot[0] = np.r_[[stand], np.tile([1.0, 0, 0, 0], (23, 1))]
    rot[1:, SMPL.names.index("left_shoulder")] = axis_angle_to_quat(np.array([0, 0, -1.2]))  # arms down
    rot[1:, SMPL.names.index("right_shoulder")] = axis_angle_to_quat(np.array([0, 0, 1.2]))
    src = _file_like_source(m.with_(rotations=rot))
    assert reference_lead_in(src) == 1


def test_twist_option_keeps_the_source_or_calibrates_on_the_clip(tmp_path):
    """``twist="clip"`` calibrates every joint on the clip, ``"rest"`` (the default) on the file's rest
    pose; the CLI's verbs that write motion offer it (default rest), those that only feed the model do
    not (its input calibrates twist on the clip itself, so it would change nothing); anything else is
    one error naming the flag."""
    import argparse

    from a4mer.api import LoadOptions
    from a4mer.cli import convert, embed, inbetween, label, label_train, segment
    from a4mer.geometry import quat_angle
    m = _walk(T=90)
    aa = np.zeros((90, 24, 3))
    aa[:, SMPL.names.index("head"), 1] = np.radians(60)
    m = m.with_(rotations=quat_mul(m.rotations, axis_angle_to_quat(aa)))
    src = _file_like_source(m)
    clip = retarget(src, detect_scheme(SMPL.names), twist="clip").motion
    assert clip.meta["retarget_twist"] == "clip"
    assert np.degrees(quat_angle(clip.rotations, m.rotations)).max() > 30  # the held head turn is gone
    with pytest.raises(A4merError, match="twist \\(--twist\\) must be one of 'rest', 'clip'"):
        LoadOptions(twist="mean")
    defaults = {}
    for name, mod, argv in (("segment", segment, ["x.bvh"]), ("embed", embed, ["x.bvh", "-o", "y"]), ("label", label, ["x.bvh", "--head", "h"]),
                            ("label-train", label_train, ["x", "-o", "h.safetensors"]), ("convert", convert, ["x", "-o", "y"]),
                            ("inbetween", inbetween, ["x", "--start", "1", "--end", "5", "-o", "y.npz"])):
        p = argparse.ArgumentParser()
        mod.add_arguments(p)
        defaults[name] = getattr(p.parse_args(argv), "twist", None)
    assert defaults == {"segment": None, "embed": None, "label": None, "label-train": None,
                        "convert": "rest", "inbetween": "rest"}


