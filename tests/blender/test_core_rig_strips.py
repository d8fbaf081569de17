"""a4mer.rig and a4mer.strips (pure numpy) checked against Blender's own math (mathutils) where one exists."""
from __future__ import annotations

import numpy as np
import pytest

import mathutils
from a4mer.errors import A4merError, SkeletonError
from a4mer.geometry import quat_angle, quat_normalize
from a4mer import channels, rig, strips
from a4mer.skeleton import SMPL
from bl_helpers import even_segments


@pytest.mark.parametrize("mode", channels.EULER_MODES)
def test_euler_modes_match_mathutils(mode):
    rng = np.random.default_rng(0)
    for e in rng.uniform(-3, 3, (20, 3)):
        q_blender = np.array(mathutils.Euler(e, mode).to_quaternion())
        assert quat_angle(channels.euler_to_quat_blender(e, mode), q_blender) < 1e-6
        back = channels.quat_to_euler_blender(q_blender, mode)
        assert quat_angle(channels.euler_to_quat_blender(back, mode), q_blender) < 1e-6


@pytest.mark.parametrize("mode", channels.EULER_MODES)
@pytest.mark.parametrize("middle", [np.pi / 2, -np.pi / 2])
def test_euler_channels_at_gimbal_lock(mode, middle):
    """At an exact lock (middle angle +-90 deg) the channels still give the keyed pose: before, the
    outer angles came from atan2 of zeros and (30, 90, 0) in XYZ came back as (90, 90, 0)."""
    rng = np.random.default_rng(3)
    mid = "XYZ".index(mode[1])
    for e in rng.uniform(-3, 3, (20, 3)):
        e[mid] = middle
        q_blender = np.array(mathutils.Euler(e, mode).to_quaternion())
        back = channels.quat_to_channels(q_blender[None], mode)[0]
        assert abs(back[mid] - middle) < 1e-6
        assert quat_angle(np.array(mathutils.Euler(back, mode).to_quaternion()), q_blender) < 1e-6


def test_axis_angle_channels_match_mathutils():
    rng = np.random.default_rng(1)
    q = quat_normalize(rng.normal(size=(50, 4)))
    ch = channels.quat_to_channels(q, "AXIS_ANGLE")
    for c, qq in zip(ch, q):
        assert quat_angle(np.array(mathutils.Quaternion(c[1:], c[0])), qq) < 1e-6
    assert quat_angle(channels.channels_to_quat(ch, "AXIS_ANGLE"), q).max() < 1e-9


def test_pose_matrices_compose_like_blender():
    """pose = parent pose @ inv(parent rest) @ rest @ basis, checked with mathutils matrices."""
    rng = np.random.default_rng(2)
    rest = [mathutils.Matrix.Translation(rng.normal(size=3)) @ mathutils.Quaternion(quat_normalize(rng.normal(size=4))).to_matrix().to_4x4()
            for _ in range(3)]
    basis = [mathutils.Matrix.Translation(rng.normal(size=3)) @ mathutils.Quaternion(quat_normalize(rng.normal(size=4))).to_matrix().to_4x4()
             for _ in range(3)]
    parents = (-1, 0, 1)
    want = [rest[0] @ basis[0]]
    for b in (1, 2):
        want.append(want[parents[b]] @ rest[parents[b]].inverted() @ rest[b] @ basis[b])
    got = rig.pose_matrices(np.array([np.array(m) for m in rest]), parents, np.array([[np.array(m) for m in basis]]))
    np.testing.assert_allclose(got[0], np.array([np.array(m) for m in want]), atol=2e-6)  # mathutils is float32


def test_template_and_units():
    heads = SMPL.rest_positions()
    rx90 = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    np.testing.assert_array_equal(rig.template_to_armature(heads @ rx90.T), rx90)
    np.testing.assert_array_equal(rig.template_to_armature(heads), np.eye(3))
    assert rig.metres_per_unit(heads) == 1.0 and rig.metres_per_unit(heads * 100) == 0.01
    with pytest.raises(SkeletonError, match="missing SMPL body bones: left_knee"):
        names = [n for n in SMPL.names if n != "left_knee"]
        rig.RigRest.from_bones(names, [-1] + [0] * (len(names) - 1), np.tile(np.eye(4), (len(names), 1, 1)))


def test_plan_strips_frames_time_and_clamp():
    seg = even_segments(50, 30.0, atom_len=10)
    atoms, motifs = strips.plan_strips(seg, frame_offset=101, num_frames=50, clip_fps=30.0)
    assert [(s.frame_start, s.frame_end) for s in atoms.strips][:2] == [(101, 111), (111, 121)]
    assert motifs.strips[-1].frame_end == 151 and all(s.name.startswith("m") for s in motifs.strips)
    # segments computed at 60 fps are placed by time on a 30 fps clip; anything past the clip is clamped
    seg60 = even_segments(100, 60.0, atom_len=20)
    atoms60, _ = strips.plan_strips(seg60, 1, 40, 30.0, motif_names={"0": "walk"})
    assert [(s.frame_start, s.frame_end) for s in atoms60.strips] == [(1, 11), (11, 21), (21, 31), (31, 41)]
    _, m60 = strips.plan_strips(seg60, 1, 40, 30.0, motif_names={"0": "walk"})
    assert m60.strips[0].name == "walk"


def test_validate_segments_names_problem():
    seg = even_segments(30, 30.0)
    del seg["atoms"][2]["code"]
    with pytest.raises(A4merError, match=r"x.json: atoms\[2\] lacks 'code'"):
        strips.validate_segments(seg, where="x.json")
    with pytest.raises(A4merError, match="missing key 'motifs'"):
        strips.validate_segments({"fps": 30, "atoms": []})


def test_summary_and_next_occurrence():
    seg = even_segments(60, 30.0, atom_len=10)
    plan = strips.plan_strips(seg, 1, 60, 30.0)
    rec = strips.mapping_record(plan, ["A", "M"], [[s.name for s in t.strips] for t in plan], "act", seg, 1, 30.0)
    rec = strips.loads_record(strips.dumps_record(rec))
    summary = strips.motif_summary(rec)
    assert sum(m["count"] for m in summary) == len(seg["motifs"])
    assert sum(m["duration"] for m in summary) == pytest.approx(2.0)
    occ = [(1.0, 21.0), (41.0, 61.0)]
    assert strips.next_occurrence(occ, 1, 1) == 41 and strips.next_occurrence(occ, 41, 1) == 1
    assert strips.next_occurrence(occ, 41, -1) == 1 and strips.next_occurrence(occ, 1, -1) == 41
    assert strips.loads_record("{not json") is None
