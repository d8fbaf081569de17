"""a4mer.heads.posture: a generated posture is left alone within reach of the input's and pulled
back softly beyond it; the root's orientation is never touched; the pelvis height likewise."""
import numpy as np

from a4mer.geometry import axis_angle_to_quat, quat_angle
from a4mer.heads import posture as P


def _swing(T: int, amp: float) -> np.ndarray:
    """``(T, 22, 4)``: every joint swings about x by up to ``amp`` rad; the root turns about z."""
    t = np.linspace(0, 2 * np.pi, T)
    aa = np.zeros((T, 22, 3))
    aa[:, :, 0] = amp * np.sin(t)[:, None]
    aa[:, 0] = np.c_[np.zeros(T), np.zeros(T), 3 * t]
    return axis_angle_to_quat(aa)


def test_rotations_within_reach_are_kept_and_beyond_are_pulled_back():
    ctx = _swing(60, 0.5)  # each joint within 0.5 rad of its mean
    inside = _swing(40, 0.5 + P.ROTATION_MARGIN * 0.9)
    assert np.allclose(P.keep_rotations_in_range(ctx, inside), inside, atol=1e-9)
    far = _swing(40, 2.5)
    kept = P.keep_rotations_in_range(ctx, far)
    ident = np.array([1.0, 0, 0, 0])
    limit = 0.5 + P.ROTATION_MARGIN + P.ROTATION_SOFT
    assert quat_angle(kept[:, 1:], ident).max() <= limit + 1e-6
    assert quat_angle(far[:, 1:], ident).max() > limit + 0.5  # it was beyond
    assert np.array_equal(kept[:, 0], far[:, 0])  # the root's orientation as it was
    # continuous: no jump bigger than the input's own between frames
    step = lambda q: quat_angle(q[1:], q[:-1]).max()  # noqa: E731
    assert step(kept) <= step(far) + 1e-9


def test_a_joint_turning_past_the_half_turn_is_pulled_back_without_a_jump():
    """A generated joint turning on about one axis from 0 to 1.6 turns away from the input's mean: pulled
    back the short way, it lands on the other side once past half a turn (an elbow turned 127 deg in one
    frame). Now it turns at most as fast as the generated joint plus the catch-up speed, and ends where
    the pull-back puts it."""
    ctx = _swing(60, 0.5)
    aa = np.zeros((90, 22, 3))
    aa[:, :, 0] = np.linspace(0.0, 1.6 * np.pi, 90)[:, None]
    gen = axis_angle_to_quat(aa)
    kept = P.keep_rotations_in_range(ctx, gen, fps=30.0)
    steps = lambda q: quat_angle(q[1:, 1:], q[:-1, 1:])  # noqa: E731
    assert steps(kept).max() <= steps(gen).max() + P.CATCH_UP_RAD_S / 30.0 + 1e-9
    limit = 0.5 + P.ROTATION_MARGIN + P.ROTATION_SOFT
    assert quat_angle(kept[:, 1:], np.array([1.0, 0, 0, 0])).max() <= limit + 1e-6
    assert quat_angle(kept[-1], P.keep_rotations_in_range(ctx, gen[-1:])[0])[1:].max() < 1e-6  # caught up
    within = P.keep_rotations_in_range(ctx, _swing(40, 0.5 + P.ROTATION_MARGIN * 0.9), fps=30.0)
    assert np.allclose(within, _swing(40, 0.5 + P.ROTATION_MARGIN * 0.9), atol=1e-9)  # nothing to follow


def test_pelvis_height_is_kept_near_the_inputs_range():
    ctx_z = 0.9 + 0.03 * np.sin(np.linspace(0, 6, 60))
    z = np.linspace(1.2, 0.2, 100)
    out = P.keep_height_in_range(ctx_z, z)
    lo, hi = ctx_z.min() - P.HEIGHT_MARGIN, ctx_z.max() + P.HEIGHT_MARGIN
    assert out.min() >= lo - P.HEIGHT_SOFT and out.max() <= hi + P.HEIGHT_SOFT
    inside = (z >= lo) & (z <= hi)
    assert np.array_equal(out[inside], z[inside])
    assert np.all(np.diff(out) <= 0)  # still monotone: only squeezed


def test_hinges_are_kept_between_straight_and_folded_following_the_bend():
    """A knee bending on past straight is held at straight, one folding on past half a turn (read frame
    by frame as bent backwards) is held at the fold, not sent through the leg to straight: that unfolded
    a CMU dancer's leg. Deciding per frame flipped a knee 170 deg between two frames; the bend is now
    followed from the first frame, so the result is continuous. Bends within range and every other joint
    are unchanged."""
    ctx = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (10, 22, 1))
    ctx[:, 4] = axis_angle_to_quat(np.radians(np.linspace(5, 60, 10))[:, None] * np.array([1.0, 0.0, 0.0]))
    lo = -np.degrees(P.HINGE_MARGIN)
    hi = np.degrees(P.HINGE_MAX_BEND + P.HINGE_MARGIN)
    soft = np.degrees(P.HINGE_SOFT)
    for path, side in ((np.linspace(20, -130, 31), "straight"), (np.linspace(120, 230, 23), "fold")):
        gen = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (len(path), 22, 1))
        gen[:, 4] = axis_angle_to_quat(np.radians(path)[:, None] * np.array([1.0, 0.0, 0.0]))
        gen[:, 7] = axis_angle_to_quat(np.full((len(path), 3), 0.3))
        out = P.keep_hinges_bending_forward(ctx, gen)
        got = np.unwrap(P.hinge_bend(out[:, 4], 4))
        got = np.degrees(got - 2 * np.pi * np.round((got[0] - np.radians(path[0])) / (2 * np.pi)))
        inside = (path >= lo) & (path <= hi)
        np.testing.assert_allclose(got[inside], path[inside], atol=1e-9)
        if side == "straight":
            assert got.min() >= lo - soft - 1e-9 and got[-1] < lo
        else:
            assert got.max() <= hi + soft + 1e-9 and got[-1] > hi
        assert np.abs(np.diff(got)).max() <= np.abs(np.diff(path)).max() + 1e-9  # never a jump
        assert quat_angle(out[:, 7], gen[:, 7]).max() < 1e-12


def test_every_run_at_once_is_each_run_on_its_own():
    """``keep_hinges_in_runs`` (one pass over thousands of runs of a blocked take: 1.7 s per pass as a
    loop over 4,500 runs) gives each run what ``keep_hinges_bending_forward`` gives it with the known
    frames within reach as context, its bend followed from the known frame before it."""
    from a4mer.heads.prediction import unknown_runs
    T = 300
    t = np.arange(T)
    aa = np.zeros((T, 22, 3))
    for j, (axis, sign) in P.HINGES.items():
        aa[:, j, axis] = sign * np.radians(70 * np.sin(t / 9.0 + j) + 10)  # -60..80 deg: past straight too
    rot = axis_angle_to_quat(aa)
    known = np.zeros(T, bool)
    known[::13] = True
    known[:30] = known[280:] = True
    runs = [(a, b) for a, b in unknown_runs(known) if a > 0 and b < T - 1]
    ref = rot.copy()
    for a, b in runs:
        near = max(0, a - 30) + np.flatnonzero(known[max(0, a - 30):b + 31])
        ref[a - 1:b + 1] = P.keep_hinges_bending_forward(rot[near], rot[a - 1:b + 1])  # from the known frame
    out = rot.copy()
    P.keep_hinges_in_runs(out, runs, known, 30)
    assert quat_angle(out[known], rot[known]).max() == 0.0
    assert quat_angle(out[~known], ref[~known]).max() < 1e-6  # (acos near 1: float noise of 1e-8)
    assert quat_angle(out, rot).max() > 0.05  # bends past what the known frames show were limited


def test_a_handover_between_answers_half_a_turn_apart_does_not_snap():
    """The extension hands over to the input's cycle by a short-way interpolation; where the two answers
    of a joint are about half a turn apart, the short way changes sides from one frame to the next and a
    run's knee snapped 90-150 deg in one frame. The handover now turns no faster than either answer plus
    the handover itself and the catch-up speed, and is the plain interpolation where that way is stable."""
    from a4mer.heads.cycle import cycle_weight, hand_over
    n = 90
    aa_own, aa_cycle = np.zeros((n, 22, 3)), np.zeros((n, 22, 3))
    aa_own[:, 5, 0] = np.linspace(0.2, 0.4, n)
    aa_cycle[:, 5, 0] = np.linspace(0.2 + np.pi - 0.3, 0.2 + np.pi + 0.3, n)  # crosses half a turn away
    aa_cycle[:, 4, 0] = 0.5  # a joint whose answers stay close
    own, cyc = axis_angle_to_quat(aa_own), axis_angle_to_quat(aa_cycle)
    w = cycle_weight(n, 30.0)
    from a4mer.geometry import quat_slerp
    plain = quat_slerp(own, cyc, w[:, None])
    out = hand_over(own, cyc, w, 30.0)
    steps = lambda q: quat_angle(q[1:, 5], q[:-1, 5])  # noqa: E731
    assert steps(plain).max() > np.radians(60)  # the short way flips over
    bound = (np.maximum(steps(own), steps(cyc)) + np.abs(np.diff(w)) * quat_angle(own, cyc)[1:, 5]
             + P.CATCH_UP_RAD_S / 30.0)
    assert np.all(steps(out) <= bound + 1e-9)
    assert np.allclose(out[:, 4], plain[:, 4]) and quat_angle(out[-1], cyc[-1]).max() < 1e-6  # ends on the cycle
