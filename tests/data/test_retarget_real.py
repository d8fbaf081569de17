"""Retargeting real mocap onto SMPL: limb directions, uprightness, root travel, resampling.

A deterministic sample runs by default; ``-m slow`` runs every clip of every data set.
"""
import csv
from pathlib import Path

import numpy as np
import pytest

from a4mer.api import load_motion
from a4mer.io.amass import read_amass_npz, write_amass_npz
from a4mer.geometry import quat_angle
from a4mer.retarget import detect_scheme, retarget
from a4mer.retarget.check import check_retarget

def _source(path: Path, fps=None, asf=None):
    if path.suffix == ".bvh":
        from a4mer.io.bvh import read_bvh
        return read_bvh(path, fps=fps)
    from a4mer.io.asfamc import read_amc
    return read_amc(path, asf=asf, fps=fps)


def check_clip(path: Path, fps=None, asf=None) -> dict:
    src = _source(path, fps, asf)
    bmap = detect_scheme(src.names)
    return check_retarget(src, bmap, retarget(src, bmap))


def _assert_ok(r: dict, name: str):
    assert r["median_limb_deg"] < 5.0, (name, r)
    assert r["upright"], (name, r)
    assert abs(r["travel_ratio"] - 1) < 0.10, (name, r)


def _hdm05_rows(root: Path):
    with open(root / "hdm05" / "labels.csv") as f:
        return list(csv.DictReader(f))


def _bandai1(root: Path):
    return sorted((root / "bandai-namco" / "dataset-1" / "bvh").glob("*.bvh"))


def test_hdm05_sample(data_root):
    rows = _hdm05_rows(data_root)[::24]
    for r in rows:
        res = check_clip(data_root / "hdm05" / r["file"], asf=data_root / "hdm05" / r["asf"])
        _assert_ok(res, r["file"])
        assert res["frames"] == int(r["frames"])


def test_bandai_sample(data_root):
    for p in _bandai1(data_root)[::15]:
        _assert_ok(check_clip(p), p.name)


def test_cmu_dance_sample(cmu_dance):
    for p in sorted(cmu_dance.rglob("*.bvh"))[::10]:
        _assert_ok(check_clip(p), p.name)


def test_cmu_daz_hands_point_along_the_middle_finger(cmu_dance):
    """CMU-Daz wrists have no hand end joint; their first child is the thumb (50 deg off the hand). The
    SMPL hand points at the middle of the finger bases: within 10 deg of the source's middle finger."""
    from a4mer.api import load_motion
    path = sorted(cmu_dance.rglob("*.bvh"))[0]
    src, pos = _source(path), load_motion(path, keep_reference_frames=True).joint_positions()  # frame by frame
    for side, wrist, hand in (("l", 20, 22), ("r", 21, 23)):
        a = pos[:, hand] - pos[:, wrist]
        b = src.positions[:, src.names.index(f"{side}Mid1")] - src.positions[:, src.names.index(f"{side}Hand")]
        cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert np.degrees(np.median(np.arccos(np.clip(cos, -1, 1)))) < 10.0, (path.name, side)


@pytest.mark.slow
def test_every_clip(data_root, cmu_dance):
    for r in _hdm05_rows(data_root):
        _assert_ok(check_clip(data_root / "hdm05" / r["file"], asf=data_root / "hdm05" / r["asf"]), r["file"])
    for p in _bandai1(data_root) + sorted(cmu_dance.rglob("*.bvh")):
        _assert_ok(check_clip(p), p.name)


def test_npz_roundtrip_and_resampling_on_real_clips(data_root, tmp_path):
    rows = [r for r in _hdm05_rows(data_root) if int(r["frames"]) > 300][::40]
    errs = []
    for r in rows:
        m = load_motion(data_root / "hdm05" / r["file"], asf=str(data_root / "hdm05" / r["asf"]))
        assert m.fps == 120.0
        back = read_amass_npz(write_amass_npz(m, tmp_path / "c.npz"))
        assert quat_angle(back.rotations, m.rotations).max() < 1e-5
        rt = m.resample(30).resample(120)
        assert rt.num_frames == m.num_frames
        errs.append(np.linalg.norm(rt.joint_positions() - m.joint_positions(), axis=-1).ravel())
        m100 = m.resample(100)
        assert m100.fps == 100.0
        assert abs(m100.resample(30).duration - m100.duration) <= 1 / 30
    e = np.concatenate(errs) * 1000
    assert e.mean() <= 2.0 and np.percentile(e, 99) <= 15.0, (e.mean(), np.percentile(e, 99))


def test_the_models_input_is_the_same_whichever_twist_a_clip_was_read_with(data_root, cmu_dance):
    """HDM05 AMC and CMU BVH read with the source's twist ("rest") differ from the clip-calibrated
    reading by up to 50-100 degrees at some joints; the model's input (frame_arrays, through
    canonical_twist) is the same for both, to a degree: before, the add-on's Segment of an imported clip
    (rest) fed the model other joint frames than it was trained on (HDM05 recognition 74.7 %, now 93.9 %)."""
    import glob

    from a4mer.api import load_motion
    from a4mer.features import frame_arrays
    from a4mer.geometry import quat_angle
    from a4mer.retarget.solve import canonical_twist
    files = [sorted(glob.glob(str(data_root / "hdm05" / "amc" / "*mm*.amc")))[5], sorted(cmu_dance.rglob("*.bvh"))[0]]
    for f in files:
        rest, clip = load_motion(f, fps=30.0, twist="rest"), load_motion(f, fps=30.0, twist="clip")
        assert np.degrees(quat_angle(rest.rotations, clip.rotations)).max() > 30, f
        canon = canonical_twist(rest)
        d = np.degrees(quat_angle(canon.rotations[:, :22], clip.rotations[:, :22]))
        assert d.mean() < 0.3 and np.percentile(d, 99) < 3.0, (f, d.mean(), d.max())  # spine fits: 1-3 deg
        again = np.degrees(quat_angle(canonical_twist(canon).rotations, canon.rotations))
        assert again.mean() < 0.3, f  # (nearly) idempotent: clip-read training data stay as they were
        np.testing.assert_allclose(canon.root_translation, rest.root_translation)
        np.testing.assert_allclose(canon.joint_positions()[:, :22], rest.joint_positions()[:, :22], atol=0.01)
        a, b = frame_arrays(rest, 30.0), frame_arrays(clip, 30.0)
        assert np.abs(a["rotmats"] - b["rotmats"]).max() < 0.1 and np.abs(a["rel_pos"] - b["rel_pos"]).max() < 0.01


def _with_leaf(text: str, parent: str, name: str, offset: str) -> str:
    """BVH ``text`` with a zero-rotation leaf joint ``name`` (and its End Site) added as the first child of
    ``parent``, its three rotation columns of zeros put in every frame."""
    head, motion = text.split("MOTION\n", 1)
    out, cols, at, cur = [], 0, None, None
    for line in head.split("\n"):
        out.append(line)
        t = line.split()
        if t[:1] in (["ROOT"], ["JOINT"]):
            cur = t[1]
        if t[:1] == ["CHANNELS"]:
            cols += int(t[1])
            if cur == parent:
                at = cols
                out += [f"JOINT {name}", "{", f"OFFSET {offset}", "CHANNELS 3 Zrotation Xrotation Yrotation",
                        "End Site", "{", "OFFSET 0 -1 0", "}", "}"]
    lines = motion.split("\n")
    rows = [" ".join((v := r.split())[:at] + ["0", "0", "0"] + v[at:]) if r.strip() else r for r in lines[2:]]
    return "\n".join(out) + "MOTION\n" + "\n".join(lines[:2] + rows)


@pytest.mark.parametrize("parent, leaf, offset", [("lFoot", "lHeel", "0 -3 -5"), ("lHand", "lWeapon", "0 -10 10"),
                                                  ("rHand", "rSword", "0 60 0")])
def test_a_heel_helper_or_a_prop_in_the_hand_does_not_turn_the_foot_or_hand(cmu_dance, tmp_path, parent, leaf, offset):
    """With no foot or hand joint of its own, the SMPL foot pointed at the ankle's first child (a heel helper
    listed first turned it backwards, 132 deg, while the retarget check measured against the heel said 0)
    and the hand at the middle of every child of the wrist (a weapon turned it 20-57 deg). The toe is the
    child pointing most forward; the fingers those along the forearm, nearer than the elbow."""
    text = (cmu_dance / "bvh" / "salsa" / "01.bvh").read_text().replace("\r\n", "\n")
    head, motion = text.split("MOTION\n", 1)
    lines = motion.split("\n")
    short = head + "MOTION\n" + "\n".join(["Frames: 200", lines[1]] + lines[2:202]) + "\n"
    (tmp_path / "a.bvh").write_text(short)
    (tmp_path / "b.bvh").write_text(_with_leaf(short, parent, leaf, offset))
    a, b = load_motion(tmp_path / "a.bvh"), load_motion(tmp_path / "b.bvh")
    np.testing.assert_allclose(b.joint_positions(), a.joint_positions(), atol=1e-6)


def test_a_prop_as_the_only_child_of_a_hand_does_not_turn_it(repo_root, tmp_path):
    """Bandai's hands have no finger joints: a shield mount added under the right hand (10 cm to the side)
    was taken for the fingers when none passed the test, turning the SMPL wrist and hand 81 deg."""
    text = (repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh").read_text().replace("\r\n", "\n")
    (tmp_path / "a.bvh").write_text(text)
    (tmp_path / "b.bvh").write_text(_with_leaf(text, "Hand_R", "Shield_R", "0 0 10"))
    a, b = load_motion(tmp_path / "a.bvh"), load_motion(tmp_path / "b.bvh")
    np.testing.assert_allclose(b.joint_positions(), a.joint_positions(), atol=1e-6)
