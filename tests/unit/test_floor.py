"""a4mer.floor: one constant vertical shift puts a clip's feet on z = 0; a jump keeps its flight, a
clip with no standing foot is a clear error, bad input keeps its errors (synthetic clips; the real
ones are in tests/data/test_floor_real.py)."""
import numpy as np
import pytest

from a4mer import floor
from a4mer.api import load_motion
from a4mer.errors import A4merError, MotionFileError
from a4mer.geometry import axis_angle_to_quat
from a4mer.motion import Motion
from a4mer.skeleton import SMPLX, Skeleton


def _standing(T: int = 60, height: float = 0.0, fps: float = 30.0, skeleton=None) -> Motion:
    """The rest pose standing upright (Z-up), swaying its arms, pelvis raised by ``height`` m."""
    J = (skeleton.num_joints if skeleton is not None else 24)
    aa = np.zeros((T, J, 3))
    aa[:, 0, 0] = np.pi / 2  # SMPL's Y-up body stood up in Z-up
    aa[:, 16, 2] = 0.5 * np.sin(np.arange(T) / fps * 3)
    trans = np.zeros((T, 3))
    trans[:, 2] = 0.93 + height
    kw = {"skeleton": skeleton} if skeleton is not None else {}
    return Motion(fps, trans, axis_angle_to_quat(aa), **kw)


def _lowest_foot(m: Motion) -> np.ndarray:
    return m.joint_positions()[:, list(floor.FOOT_JOINTS), 2].min(-1)


@pytest.mark.parametrize("height", [-0.145, 0.0, 0.3])
def test_a_standing_clip_is_put_with_its_balls_of_the_feet_sole_height_over_z0(height):
    m = _standing(height=height)
    out = floor.put_on_floor(m)
    np.testing.assert_allclose(_lowest_foot(out), floor.SOLE_HEIGHT, atol=1e-9)
    shift = out.meta["floor_shift_m"]
    np.testing.assert_allclose(out.root_translation[:, 2] - m.root_translation[:, 2], shift, atol=1e-6)
    assert out.rotations is not m.rotations and np.array_equal(out.rotations, m.rotations)
    assert np.array_equal(out.root_translation[:, :2], m.root_translation[:, :2])
    assert m.meta == {} and abs(floor.floor_height(out)) < 1e-6  # the input is untouched; a second pass is a no-op
    assert floor.describe_shift(shift).startswith("raised" if shift > 0 else "lowered")


def test_the_shift_is_counted_from_the_source_when_put_on_the_floor_again():
    m = _standing(height=0.2)
    once = floor.put_on_floor(m)
    lifted = once.with_(root_translation=once.root_translation + [0, 0, 0.05])
    twice = floor.put_on_floor(lifted)
    np.testing.assert_allclose(twice.root_translation, once.root_translation, atol=1e-9)
    assert twice.meta["floor_shift_m"] == pytest.approx(once.meta["floor_shift_m"] - 0.05)


def test_a_jump_keeps_its_flight_and_does_not_lift_the_floor():
    m = _standing(T=90)
    trans = m.root_translation.copy()
    t = np.arange(20) / 30.0
    trans[40:60, 2] += 3.0 * t * (t[-1] - t) * 4.9 / 3.0  # a 0.67 s ballistic flight, ~55 cm high
    jump = m.with_(root_translation=trans)
    out = floor.put_on_floor(jump)
    assert abs(out.meta["floor_shift_m"] - floor.put_on_floor(m).meta["floor_shift_m"]) < 1e-9
    np.testing.assert_allclose(_lowest_foot(out) - _lowest_foot(jump), out.meta["floor_shift_m"], atol=1e-9)


def test_a_clip_with_no_standing_foot_is_a_clear_error():
    m = _standing(T=30)
    trans = m.root_translation.copy()
    trans[:, 0] += np.arange(30) * 0.1  # 3 m/s: the feet never stand still
    with pytest.raises(A4merError, match="no floor to put the clip on: a foot stands still .* in 0 of 30 frames"):
        floor.put_on_floor(m.with_(root_translation=trans))
    lying = _standing(T=30)
    rot = lying.rotations.copy()
    rot[:, 0] = axis_angle_to_quat(np.zeros(3))  # the rest pose lies along Y (pelvis level with the feet)
    with pytest.raises(A4merError, match="no floor"):
        floor.floor_height(lying.with_(rotations=rot))
    with pytest.raises(A4merError, match="in 0 of 1 frames"):
        floor.floor_height(_standing(T=1))  # one frame: nothing can be seen standing still
    with pytest.raises(A4merError, match="in 2 of 2 frames .*needs 0.1 s"):
        floor.floor_height(_standing(T=2, fps=120.0))


def test_other_smpl_family_skeletons_work_and_others_are_refused():
    out = floor.put_on_floor(_standing(skeleton=SMPLX))
    np.testing.assert_allclose(_lowest_foot(out), floor.SOLE_HEIGHT, atol=1e-9)
    other = Skeleton("chain", tuple(f"j{i}" for i in range(24)), tuple(range(-1, 23)), np.full((24, 3), 0.05))
    with pytest.raises(A4merError, match="SMPL-family skeleton, not 'chain'"):
        floor.floor_height(_standing(skeleton=other))


def test_load_motion_floor_option_and_bad_files_keep_their_errors(tmp_path):
    from a4mer.io import write_amass_npz
    path = write_amass_npz(_standing(height=-0.2), tmp_path / "sunk.npz")
    m = load_motion(path, floor=True)
    want = 0.2 + floor.SOLE_HEIGHT - float(_lowest_foot(_standing())[0])
    assert m.meta["floor_shift_m"] == pytest.approx(want, abs=1e-6)
    assert "floor_shift_m" not in load_motion(path).meta
    fast = _standing(T=30)
    trans = fast.root_translation.copy()
    trans[:, 0] += np.arange(30) * 0.1  # 3 m/s
    path = write_amass_npz(fast.with_(root_translation=trans), tmp_path / "running.npz")
    with pytest.raises(MotionFileError, match="running.npz: no floor to put the clip on"):
        load_motion(path, floor=True)
    a = dict(np.load(write_amass_npz(_standing(), tmp_path / "ok.npz")))
    for name, change in (("nan", {"trans": np.where(np.arange(60)[:, None] == 7, np.nan, a["trans"])}),
                         ("empty", {"trans": a["trans"][:0], "poses": a["poses"][:0]})):
        bad = tmp_path / f"{name}.npz"
        np.savez(bad, **{**a, **change})
        with pytest.raises(MotionFileError) as plain:
            load_motion(bad)
        with pytest.raises(MotionFileError) as floored:
            load_motion(bad, floor=True)
        assert str(floored.value) == str(plain.value)


def test_a_clip_on_the_floor_says_so():
    """``convert --floor`` printed "lowered 0.0 cm onto the floor" for a clip standing on it."""
    assert floor.describe_shift(-0.0002) == floor.describe_shift(0.0) == "on the floor already"
    assert floor.describe_shift(0.087) == "raised 8.7 cm onto the floor"
    assert floor.describe_shift(-0.006) == "lowered 0.6 cm onto the floor"
