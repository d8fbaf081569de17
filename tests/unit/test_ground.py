"""a4mer.heads.ground: an extension is lowered where it floats off the input's floor, never below it,
only after the ramp, and a short flight keeps its height; the sidecar says how far a span goes
below the floor nearby."""
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


def test_sidecar_reports_how_far_a_span_goes_below_the_floor_nearby():
    """``below_kept_floor_cm``: the span's lowest joint against the lowest joint of the kept frames
    within 1 s of it (a clip that stands higher elsewhere, e.g. on a step, does not hide a sink)."""
    from a4mer.heads.quality import ClipQuality
    from a4mer.motion import Motion
    t, q = _standing(150)
    t[100:, 2] -= 0.3  # 3 s later the clip stands 30 cm lower (down a step)
    original = Motion(30.0, t, q)
    sunk = t.copy()
    sunk[40:50, 2] -= 0.12
    report = ClipQuality(original, original.with_(root_translation=sunk), range(30, 60)).span(
        30, 59, task="inbetween", method="m", keys=(29, 60))
    assert abs(report["below_kept_floor_cm"] - 12.0) < 1e-6
    assert ClipQuality(original, original, range(30, 60)).span(30, 59, task="inbetween", method="m")[
        "below_kept_floor_cm"] == 0.0


def test_body_sink_is_the_second_deepest_body_part_below_a_floor():
    ctx = ground.joint_heights(*_standing(60))
    floor = ctx.min()
    gen = np.repeat(ctx[:1], 40, 0)
    assert ground.body_sink(ctx, gen) == 0.0
    gen[10:20, list(ground.BODY_PARTS[1])] -= 0.3  # one leg alone through the floor: that limb's pose
    assert ground.body_sink(ctx, gen) == 0.0
    gen[15:25, list(ground.BODY_PARTS[0])] -= 0.2  # the other leg too: the body sank
    assert abs(ground.body_sink(ctx, gen) - (0.2 - (ctx[0, list(ground.BODY_PARTS[0])].min() - floor))) < 1e-9
    flight_t, flight_q = _standing(60)
    flight_t[:, 2] += np.linspace(0, 1.5, 60)  # a context that never rests on a floor
    assert ground.body_sink(ground.joint_heights(flight_t, flight_q), gen) == 0.0


def test_sidecar_names_the_frame_where_a_joint_snaps_round():
    """An extension's elbow turned 127 deg in one frame and the sidecar said nothing (its mean jerk was
    below the context's). The largest one-frame joint move is reported next to the kept frames' and a
    warning names the frame where it is a jump; a span moving like its context gets none."""
    from a4mer.gaps import quality_line
    from a4mer.heads.quality import ClipQuality
    from a4mer.motion import Motion
    t, q = _standing(120)
    aa = np.zeros((120, 24, 3))
    aa[:, 0] = [np.pi / 2, 0, 0]
    aa[:, 18, 2] = 0.6 * np.sin(np.arange(120) / 5.0)  # the left elbow swings as in the input
    q = axis_angle_to_quat(aa)
    original = Motion(30.0, t, q)
    smooth = ClipQuality(original, original, range(60, 120)).span(60, 119, task="extend", method="m", keys=(59,))
    assert smooth["warnings"] == [] and "jump" not in quality_line(smooth) and "one frame" not in quality_line(smooth)
    assert smooth["max_frame_step_mm"] <= smooth["context_max_frame_step_mm"] * 1.2
    snapped = aa.copy()
    snapped[90:, 18, 2] += 2.2  # from frame 90 on, the elbow turned 126 deg further round
    report = ClipQuality(original, original.with_(rotations=axis_angle_to_quat(snapped)), range(60, 120)).span(
        60, 119, task="extend", method="m", keys=(59,))
    assert report["max_frame_step_frame"] == 90 and report["max_frame_step_mm"] > 200
    (w,) = report["warnings"]
    assert "in one frame at frame 90" in w and "in one frame at frame 90" in quality_line(report)
