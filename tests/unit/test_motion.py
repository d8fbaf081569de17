import numpy as np
import pytest

from a4mer import SMPL, SMPLH, Motion, concatenate
from a4mer.conventions import snap_fps
from a4mer.errors import A4merError
from a4mer.geometry import axis_angle_to_quat, quat_angle
from a4mer.motion import resampled_frame_count


def _motion(T=60, fps=30.0, seed=0, J=24, skel=SMPL):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    aa = 0.5 * np.sin(t[:, None, None] * rng.uniform(0.5, 2, (1, J, 3)) + rng.uniform(0, 6, (1, J, 3)))
    aa[:, 0] += [np.pi / 2, 0, 0]
    return Motion(fps, np.c_[t, np.sin(t), 0.9 + 0 * t], axis_angle_to_quat(aa), skeleton=skel)


def test_snap_fps():
    assert snap_fps(1 / 0.033333) == 30.0
    assert snap_fps(1 / 0.0333333) == 30.0
    assert snap_fps(119.95) == 120.0
    assert snap_fps(117.0) == 117.0
    with pytest.raises(ValueError):
        snap_fps(0)


def test_validation_errors():
    with pytest.raises(A4merError, match="zero frames"):
        Motion(30, np.zeros((0, 3)), np.zeros((0, 24, 4)))
    with pytest.raises(A4merError, match="rotations must be"):
        Motion(30, np.zeros((5, 3)), np.zeros((5, 22, 4)))
    rot = np.tile([1.0, 0, 0, 0], (5, 24, 1))
    with pytest.raises(A4merError, match="root_translation has 4 frames and rotations 5"):  # blamed the rotations
        Motion(30, np.zeros((4, 3)), rot)
    trans = np.zeros((5, 3))
    trans[3, 1] = np.nan
    with pytest.raises(A4merError, match="NaN"):
        Motion(30, trans, rot)
    with pytest.raises(A4merError, match="frame rate"):
        Motion(-1, np.zeros((5, 3)), rot)
    from fractions import Fraction
    assert Motion(Fraction(30000, 1001), np.zeros((5, 3)), rot).fps == pytest.approx(29.97003)  # a rate is a number
    zero = rot.copy()
    zero[2, 7] = 0.0  # not a rotation: an error, not the identity
    with pytest.raises(A4merError, match=r"zero quaternion \(frame 2, joint 7 'left_ankle'\)"):
        Motion(30, np.zeros((5, 3)), zero)


def test_immutable_and_inputs_not_modified():
    trans = np.zeros((4, 3))
    rot = np.tile([2.0, 0, 0, 0], (4, 24, 1))
    m = Motion(30, trans, rot)
    assert rot[0, 0, 0] == 2.0  # input untouched, motion normalised its own copy
    assert m.rotations[0, 0, 0] == 1.0
    with pytest.raises(ValueError):
        m.root_translation[0, 0] = 1.0


def test_upright_rest_pose_in_z_up_world():
    m = _motion(T=1).with_(rotations=axis_angle_to_quat(np.r_[[[np.pi / 2, 0, 0]], np.zeros((23, 3))][None]))
    p = m.joint_positions()[0]
    assert p[15, 2] > p[0, 2] > p[7, 2]  # head above pelvis above ankle
    assert p[16, 0] > p[17, 0]           # body's left is +X


def test_slice_concat_resample_roundtrip():
    m = _motion(T=240, fps=120.0)
    assert m.slice(10, 20).num_frames == 10
    with pytest.raises(A4merError):
        m.slice(5, 5)
    c = concatenate([m.slice(0, 100), m.slice(100)])
    assert np.allclose(c.rotations, m.rotations, atol=1e-15)
    back = m.resample(30).resample(120)
    assert abs(back.num_frames - m.num_frames) <= 4
    err = np.linalg.norm(back.joint_positions() - m.joint_positions()[:back.num_frames], axis=-1)
    assert err.mean() < 0.002
    with pytest.raises(A4merError, match="resample first"):
        concatenate([m, m.resample(30)])


def test_a_slice_knows_where_its_first_frame_lies_in_the_source_file():
    """``source_start_s`` (what BABEL times are counted from): a dropped lead-in, then each slice's start,
    also across a resample; a slice from frame 0 moves nothing."""
    m = _motion(T=240, fps=120.0).with_(meta={"reference_frames_dropped": 6, "source_fps": 120.0})
    assert m.source_start_s == pytest.approx(0.05)
    assert m.slice(0, 50).source_start_s == pytest.approx(0.05)
    assert m.slice(-40).source_start_s == pytest.approx(0.05 + 200 / 120)
    assert m.resample(30).slice(3).slice(2, 10).source_start_s == pytest.approx(0.05 + 5 / 30)
    assert _motion(T=10).slice(4).source_start_s == pytest.approx(4 / 30)


def test_resample_is_by_time_and_snaps():
    m = _motion(T=100, fps=100.0)
    r = m.resample(30)
    assert abs(r.duration - m.duration) <= 1 / 30
    assert r.meta["source_fps"] == 100.0
    # frame k of the 30 fps clip equals the 100 fps clip at time k/30 (here: frame 10 <-> 100*10/30)
    assert quat_angle(r.rotations[3], m.rotations[10]).max() < 1e-9
    same = _motion(T=20, fps=1 / 0.033333)
    assert same.resample(30).num_frames == 20 and same.resample(30).fps == 30.0
    # a non-standard rate as kept in float32 (Blender's fps_base): the same rate, every frame kept
    odd = _motion(T=135, fps=100 / 3)
    near = 33 / float(np.float32(0.99))
    assert resampled_frame_count(135, odd.fps, near) == odd.resample(near).num_frames == 135
    assert odd.resample(near).fps == near and np.array_equal(odd.resample(near).rotations, odd.rotations)
    assert _motion(T=135, fps=7.5).resample(8 / float(np.float32(8 / 7.5))).num_frames == 135
    assert odd.resample(33.3).num_frames == 134  # a rate 0.1 % off is resampled


def test_body_drops_hands():
    m = _motion(J=52, skel=SMPLH)
    b = m.body()
    assert b.skeleton == SMPL and np.allclose(b.rotations[:, :22], m.rotations[:, :22])
    assert np.allclose(b.rotations[:, 22:], [1, 0, 0, 0])


def test_rebuilding_keeps_unit_rotations_bit_for_bit():
    """Unit quaternions are stored as given (normalising them again would move them by an ulp), so a
    Motion built from another's arrays — a slice, an edit, frames appended — keeps those frames
    exactly; rows off unit length are still normalised."""
    m = _motion(T=40)
    again = Motion(m.fps, m.root_translation, m.rotations)
    assert np.array_equal(again.rotations, m.rotations)
    ext = m.with_(root_translation=np.r_[m.root_translation, m.root_translation[-1:]],
                  rotations=np.r_[m.rotations, m.rotations[-1:] * 3.0])
    assert np.array_equal(ext.rotations[:40], m.rotations)
    assert np.allclose(np.linalg.norm(ext.rotations[40], axis=-1), 1.0)
    assert np.array_equal(m.slice(5, 20).rotations, m.rotations[5:20])
