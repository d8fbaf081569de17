"""a4mer.heads.ground: an extension is lowered where it floats off the input's floor, never below it,
only after the ramp, and a short flight keeps its height."""
import numpy as np

from a4mer.geometry import axis_angle_to_quat
from a4mer.heads import ground


def _standing(T: int, height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A rest-pose body standing upright (Z-up) with its pelvis raised by ``height`` m."""
    rot = np.repeat(axis_angle_to_quat(np.zeros((1, 24, 3))), T, 0)
    rot[:, 0] = axis_angle_to_quat(np.array([np.pi / 2, 0, 0]))  # SMPL's Y-up body stood up in Z-up
    trans = np.zeros((T, 3))
    trans[:, 2] = 0.93 + height
    return trans, rot


def test_floating_is_lowered_after_the_ramp_and_never_below_the_floor():
    fps = 30.0
    ct, cq = _standing(60)
    floor = ground.lowest_foot(ct, cq).min()
    nt, nq = _standing(150, height=0.2)  # the continuation floats 20 cm up
    shift = ground.floor_shift(ct, cq, nt, nq, fps)
    ramp = int(ground.FLOOR_RAMP_S * fps)
    assert abs(shift[0]) < 1e-3  # continuous at the seam
    after = ground.lowest_foot(nt + np.c_[np.zeros((150, 2)), shift], nq)[ramp + 5:]
    assert np.all(after >= floor - 1e-6) and np.all(after <= floor + ground.FLOOR_TOLERANCE + 1e-3)
    # a jump shorter than the window keeps its flight
    jt, jq = _standing(150)
    jt[100:105, 2] += 0.3
    jump = ground.floor_shift(ct, cq, jt, jq, fps)
    assert np.abs(jump).max() < 1e-6
    # an input that never touches a floor (a long flight) gets no shift
    ft, fq = _standing(60)
    ft[:, 2] += np.linspace(0, 1.5, 60)
    assert np.all(ground.floor_shift(ft, fq, nt, nq, fps) == 0)
