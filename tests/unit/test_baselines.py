"""Classical in-betweening / extension baselines (a4mer.heads.baselines)."""
import numpy as np
import pytest

from a4mer.errors import A4merError
from a4mer.geometry import axis_angle_to_quat, quat_angle, quat_identity
from a4mer.heads import baselines as B


def _uniform(T=40, J=5, seed=0):
    """Root at constant velocity, every joint rotating at a constant angular velocity (fixed axis)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T, dtype=float)
    trans = np.array([0.1, -0.2, 0.9]) + t[:, None] * np.array([0.02, 0.01, -0.003])
    axes = rng.normal(size=(J, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    speed = rng.uniform(0.01, 0.05, size=J)
    base = axis_angle_to_quat(rng.normal(size=(J, 3)) * 0.5)
    from a4mer.geometry import quat_mul
    rot = quat_mul(base[None], axis_angle_to_quat(t[:, None, None] * (speed[:, None] * axes)[None]))
    return trans, rot


@pytest.mark.parametrize("method", ["hermite", "hermite2", "lerp_slerp"])
def test_uniform_motion_is_reproduced_exactly(method):
    trans, rot = _uniform()
    tr, q = B.fill_gap(trans, rot, 10, 25, method)
    np.testing.assert_allclose(tr, trans, atol=1e-9)
    assert quat_angle(q, rot).max() < 1e-7


@pytest.mark.parametrize("method", ["hermite", "hermite2", "hermite2_global", "min_jerk"])
def test_keys_about_half_a_turn_apart_do_not_spin(method):
    """A joint turning steadily whose gap keys are 3.12 rad apart: the frames after the end key are
    past half a turn, where the principal rotation vector flips side. The curve must keep turning the
    same way (it span by a full turn per frame before: a CMU salsa pelvis, 3.12 rad per frame)."""
    trans, rot = _uniform(T=120)
    t = np.arange(120, dtype=float)
    rot[:, 0] = axis_angle_to_quat(t[:, None] * np.array([0.0, 0.0, 0.04]))  # the root turns 0.04 rad per frame
    s, e = 10, 88  # 78 frames apart: 3.12 rad
    tr, q = B.fill_gap(trans, rot, s, e, method)
    steps = quat_angle(q[s + 1:e + 1, 0], q[s:e, 0])
    assert steps.max() < 0.05, steps.max()
    assert quat_angle(q[:, 0], rot[:, 0]).max() < 1e-6
    # blocking through keys whose neighbours are past half a turn from the span's first key
    keys = np.arange(0, 120, 40)  # 1.6 rad apart
    _, q = B.catmull_rom_keys(trans, rot, keys)
    assert quat_angle(q[:keys[-1] + 1, 0], rot[:keys[-1] + 1, 0]).max() < 1e-6


def _accelerating(fps: float, seconds: float = 2.0):
    """Root on a parabola and every joint turning with constant angular acceleration about a fixed axis,
    sampled at ``fps``."""
    t = np.arange(int(seconds * fps) + 1) / fps
    trans = np.stack([0.3 * t + 0.8 * t ** 2, -0.2 * t ** 2, 0.9 + 0.1 * t], 1)
    axes = np.random.default_rng(0).normal(size=(5, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    return trans, axis_angle_to_quat((0.4 * t + 1.5 * t ** 2)[:, None, None] * axes[None])


def test_min_jerk_keeps_constant_acceleration_where_hermite_lags():
    """The minimum-jerk curve (with its acceleration term) reproduces a constant acceleration exactly:
    the summed second differences over the gap are fixed by the frames beside it, so equal ones are
    the least; the issue's Hermite (one-frame key velocities) lags by half a frame."""
    trans, rot = _accelerating(30.0)
    for s, e in ((10, 25), (20, 38)):  # keys under half a turn apart
        tr, q = B.min_jerk(trans, rot, s, e, global_weight=0.0)
        np.testing.assert_allclose(tr, trans[s + 1:e], atol=1e-9)
        assert quat_angle(q, rot[s + 1:e]).max() < 1e-7
        ht, _ = B.hermite(trans, rot, s, e)
        assert np.abs(ht - trans[s + 1:e]).max() > 1e-3


def test_min_jerk_is_the_same_curve_in_seconds_at_any_rate():
    """Its acceleration weight is per frame at 30 fps and scaled with the rate: the same smooth motion
    with the same 0.8 s gap gives the same curve at 25, 30 and 60 fps (to the differences' step)."""
    def curve(fps):
        t = np.arange(int(3 * fps) + 1) / fps
        trans = np.stack([np.sin(2.1 * t), np.cos(1.3 * t), 0.2 * np.sin(3.0 * t)], 1)
        rot = np.repeat(quat_identity((1,))[None], len(t), 0)
        s, e = int(round(1.0 * fps)), int(round(1.8 * fps))
        tr, _ = B.min_jerk(trans, rot, s, e, fps=fps)
        mid = int(round(1.4 * fps))
        return tr[mid - s - 1], trans[mid]
    got = {fps: curve(fps) for fps in (25.0, 30.0, 60.0, 120.0)}
    for fps in (25.0, 60.0, 120.0):
        np.testing.assert_allclose(got[fps][0], got[30.0][0], atol=2.5e-3)
    # an unscaled weight at 120 fps draws a curve farther from the 30 fps one
    t = np.arange(361) / 120.0
    trans = np.stack([np.sin(2.1 * t), np.cos(1.3 * t), 0.2 * np.sin(3.0 * t)], 1)
    rot = np.repeat(quat_identity((1,))[None], len(t), 0)
    raw, _ = B.min_jerk(trans, rot, 120, 216, fps=30.0)
    unscaled = np.abs(raw[168 - 121] - got[30.0][0]).max()
    assert unscaled > 1.5 * np.abs(got[120.0][0] - got[30.0][0]).max(), unscaled


def test_fill_gap_keeps_keys_and_outside_and_inputs():
    trans, rot = _uniform()
    trans2 = trans.copy()
    trans2[11:25] += 5.0  # garbage in the gap is ignored
    before = trans2.copy()
    tr, q = B.fill_gap(trans2, rot, 10, 25, "hermite")
    np.testing.assert_array_equal(trans2, before)  # input untouched
    np.testing.assert_array_equal(tr[:11], trans2[:11])
    np.testing.assert_array_equal(tr[25:], trans2[25:])
    np.testing.assert_array_equal(q[:11], rot[:11])
    np.testing.assert_allclose(tr[11:25], trans[11:25], atol=1e-9)


def test_hermite_uses_neighbour_velocities_and_lerp_does_not():
    # root still at both keys but moving at +x 0.1 m/frame just before s: hermite overshoots forward
    T = 30
    trans = np.zeros((T, 3))
    trans[:10, 0] = np.arange(-10, 0) * 0.1 + 0.1  # arrives at x=0 at frame 9 moving +0.1/frame
    trans[9:, 0] = 0.0
    trans[8, 0] = -0.1
    rot = quat_identity((T, 2))
    h, _ = B.hermite(trans, rot, 9, 20)
    l, _ = B.lerp_slerp(trans, rot, 9, 20)
    assert h[0, 0] > 0.02 and np.allclose(l[:, 0], 0.0)
    # basis sanity: h00 + h01 = 1, and h(0)=p0, h(1)=p1
    u = np.linspace(0, 1, 7)
    h00, h10, h01, h11 = B.hermite_basis(u)
    np.testing.assert_allclose(h00 + h01, 1.0)
    assert h10[0] == 0 and h11[-1] == 0


def test_second_order_key_velocities_are_exact_on_accelerating_motion():
    """x(t) = a t^2: the second-order one-sided difference gives the key's own velocity 2 a t, the
    first-order one the velocity half a frame earlier (2 a (t - 1/2)); so ``hermite2`` reproduces a
    constant-acceleration root path (a cubic through the keys) and ``hermite`` does not."""
    T, a = 40, np.array([0.002, -0.001, 0.0005])
    t = np.arange(T, dtype=float)
    x = t[:, None] ** 2 * a
    for i in (10, 25):
        np.testing.assert_allclose(B.key_velocity(x, i, -1), 2 * a * i, atol=1e-12)  # from before
        np.testing.assert_allclose(B.key_velocity(x, i, +1), 2 * a * i, atol=1e-12)  # from after
        np.testing.assert_allclose(B.key_velocity(x, i, -1, order=1), 2 * a * (i - 0.5), atol=1e-12)
    # at the clip's ends: first order with one neighbour, zero with none; along another axis
    np.testing.assert_allclose(B.key_velocity(x, 1, -1), x[1] - x[0])
    np.testing.assert_array_equal(B.key_velocity(x, 0, -1), 0.0)
    np.testing.assert_allclose(B.key_velocity(x[None], 10, -1, axis=1)[0], 2 * a * 10, atol=1e-12)
    rot = quat_identity((T, 2))
    h2, _ = B.hermite(x, rot, 10, 25, order=2)
    h1, _ = B.hermite(x, rot, 10, 25)
    np.testing.assert_allclose(h2, x[11:25], atol=1e-12)
    assert np.abs(h1 - x[11:25]).max() > 1e-3


@pytest.mark.parametrize("order", [1, 2])
def test_batched_hermite_treats_each_window_on_its_own(order):
    rng = np.random.default_rng(3)
    trans = rng.normal(size=(2, 50, 3))
    rot = axis_angle_to_quat(rng.normal(0, 0.6, size=(2, 50, 22, 3)))
    for s, e in ((10, 31), (1, 20), (0, 12), (30, 48), (30, 49)):  # ends of the window included
        bt, bq = B.hermite_batch(trans, rot, s, e, order)  # each window on its own, as the heads read them
        for b in range(2):
            tr, q = B.hermite(trans[b], rot[b], s, e, order=order)
            np.testing.assert_allclose(bt[b], tr, atol=1e-12)
            assert quat_angle(bq[b], q).max() < 1e-7  # arccos resolution


def test_body_global_and_local_are_inverse():
    rng = np.random.default_rng(5)
    rot = axis_angle_to_quat(rng.normal(0, 0.8, size=(6, 24, 3)))  # SMPL-H-like: joints beyond the body
    glo = B.body_global(rot)
    np.testing.assert_array_equal(glo[:, 0], rot[:, 0])  # the root is global already
    np.testing.assert_array_equal(glo[:, 22:], rot[:, 22:])  # joints beyond the body are copied
    from a4mer.geometry import quat_mul
    # left wrist (20) = root * spine1 * spine2 * spine3 * left collar * shoulder * elbow * wrist
    chain = rot[:, 0]
    for j in (3, 6, 9, 13, 16, 18, 20):
        chain = quat_mul(chain, rot[:, j])
    assert quat_angle(glo[:, 20], chain).max() < 1e-7
    assert quat_angle(B.body_local(glo), rot).max() < 1e-7


def test_global_weight_blends_the_local_and_global_curves():
    """``global_weight`` 0 is the local curve; 1 is the Hermite of the global orientations (made local
    again); between, each body rotation is the slerp of the two. Root path and keys are unchanged."""
    from a4mer.geometry import quat_slerp
    rng = np.random.default_rng(6)
    T = 40
    t = np.arange(T)[:, None, None] / 30.0
    rot = axis_angle_to_quat(0.6 * np.sin(t * rng.uniform(1, 5, (1, 22, 3)) + rng.uniform(0, 6, (1, 22, 3))))
    trans = rng.normal(size=(T, 3)).cumsum(0) * 0.01
    for order in (1, 2):
        t0, q0 = B.hermite_batch(trans[None], rot[None], 10, 31, order)
        t1, q1 = B.hermite_batch(trans[None], rot[None], 10, 31, order, global_weight=1.0)
        th, qh = B.hermite_batch(trans[None], rot[None], 10, 31, order, global_weight=0.5)
        _, g = B.hermite_batch(trans[None], B.body_global(rot)[None], 10, 31, order)
        np.testing.assert_array_equal(t1, t0)
        np.testing.assert_array_equal(th, t0)
        assert quat_angle(B.body_global(q1), g).max() < 1e-6
        assert quat_angle(qh, quat_slerp(q0, q1, np.full(q0.shape[:-1], 0.5))).max() < 1e-6
        assert quat_angle(q1, q0).max() > 0.01  # the two curves differ on a moving chain
        assert quat_angle(q1[..., 0, :], q0[..., 0, :]).max() < 1e-7  # the root's rotation is the same
        # the curve still runs into the keys: its ends are one frame from them
        for q in (q1, qh):
            assert quat_angle(q[0, 0], rot[11]).max() < 0.2 and quat_angle(q[0, -1], rot[30]).max() < 0.2


def test_zero_velocity_holds_the_key():
    trans, rot = _uniform()
    tr, q = B.zero_velocity(trans, rot, 5, 9)
    assert tr.shape == (3, 3) and np.all(tr == trans[5]) and np.all(q == rot[5])


def test_catmull_rom_blocking_exact_on_uniform_motion_and_keys_exact():
    trans, rot = _uniform(T=41)
    keys = np.arange(0, 41, 10)
    tr, q = B.catmull_rom_keys(trans, rot, keys)
    np.testing.assert_allclose(tr, trans, atol=1e-9)
    assert quat_angle(q, rot).max() < 1e-7
    noisy = trans + np.random.default_rng(1).normal(size=trans.shape)
    tr2, _ = B.catmull_rom_keys(noisy, rot, keys)
    np.testing.assert_array_equal(tr2[keys], noisy[keys])


def test_natural_spline_slopes_match_scipy_and_keys_are_kept():
    from scipy.interpolate import CubicSpline
    rng = np.random.default_rng(0)
    for K in (2, 3, 4, 9, 40):
        x = np.cumsum(rng.integers(2, 9, K)).astype(float)
        y = rng.normal(size=(K, 3, 4))
        np.testing.assert_allclose(B.natural_spline_slopes(x, y), CubicSpline(x, y, bc_type="natural")(x, 1),
                                   atol=1e-12)
    trans, rot = _uniform(T=41)
    keys = np.array([0, 3, 7, 12, 20, 24, 33, 40])
    tr, q = B.natural_spline_keys(trans, rot, keys)
    np.testing.assert_allclose(tr, trans, atol=1e-9)  # linear motion is reproduced
    np.testing.assert_array_equal(q[keys], rot[keys])
    assert quat_angle(q, rot).max() < 0.01  # a uniform rotation: close (quaternion components are not cubic)
    assert np.allclose(np.linalg.norm(q, axis=-1), 1.0)
    flipped = rot.copy()
    flipped[keys[1::2]] *= -1  # the same rotations with the other sign at every other key
    _, qf = B.natural_spline_keys(trans, flipped, keys)
    assert quat_angle(qf, rot).max() < 0.01
    for s, e in zip(keys, keys[1:]):  # each span keeps the sign of its first key
        assert np.all(np.sum(qf[s + 1:e] * flipped[s], axis=-1) > 0)


def test_natural_spline_at_fractional_frames():
    from scipy.interpolate import CubicSpline
    trans, rot = _uniform(T=21)
    trans = trans + np.random.default_rng(2).normal(size=trans.shape)
    c = np.array([0.0, 0.25, 3.5, 7.0, 19.75, 20.0])
    t, q = B.natural_spline_at(trans, rot, c)
    np.testing.assert_allclose(t, CubicSpline(np.arange(21), trans, bc_type="natural")(c), atol=1e-9)
    np.testing.assert_allclose(t[[0, 3, 5]], trans[[0, 7, 20]], atol=1e-12)
    assert quat_angle(q[[0, 3, 5]], rot[[0, 7, 20]]).max() < 1e-6
    assert np.allclose(np.linalg.norm(q, axis=-1), 1.0)


def test_constant_velocity_extension_exact_on_uniform_motion():
    trans, rot = _uniform(T=50)
    tr, q = B.extend(trans[:30], rot[:30], 20, "constant_velocity")
    np.testing.assert_allclose(tr, trans[30:], atol=1e-9)
    assert quat_angle(q, rot[30:]).max() < 1e-7
    tz, qz = B.extend(trans[:30], rot[:30], 4, "zero_velocity")
    assert np.all(tz == trans[29]) and np.all(qz == rot[29])


@pytest.mark.parametrize("s,e", [(5, 5), (7, 3), (-1, 4), (3, 40)])
def test_bad_gaps_are_clear_errors(s, e):
    trans, rot = _uniform()
    with pytest.raises(A4merError, match="gap keys"):
        B.fill_gap(trans, rot, s, e)


def test_unknown_method_is_an_error():
    trans, rot = _uniform()
    with pytest.raises(A4merError, match="unknown gap method"):
        B.fill_gap(trans, rot, 2, 8, "bezier")


@pytest.mark.parametrize("method", ["hermite", "hermite2", "hermite2_global", "min_jerk"])
@pytest.mark.parametrize("turns", [0.9, 0.97, 1.0, 1.03, 1.6, 2.2])
def test_a_spin_of_about_whole_turns_through_a_gap_keeps_spinning(method, turns):
    """A dancer spinning steadily (with a wobble) through a 24-frame gap that holds about a whole turn:
    the rotation between the keys is then tiny, its axis mostly the wobble, and whole turns were added
    about that axis: the body whipped round 1427 degrees (0.97 turns), swung 170 degrees a frame, or
    stopped spinning (exactly one turn; CMU salsa 16, frames 666-691, swung 180 degrees a frame)."""
    T, s, e, fps = 120, 50, 74, 30.0
    rng = np.random.default_rng(3)
    t = np.arange(T, dtype=float)
    wobble = axis_angle_to_quat(np.stack([0.03 * np.sin(t / 5), 0.03 * np.cos(t / 7), 0 * t], 1)
                                + rng.normal(0, 0.004, (T, 3)))
    from a4mer.geometry import quat_mul
    rate = 2 * np.pi * turns / (e - s)  # rad per frame
    trans, rot = _uniform(T=T)
    rot[:, 0] = quat_mul(axis_angle_to_quat(t[:, None] * np.array([0.0, 0.0, rate])), wobble)
    _, q = B.fill_gap(trans, rot, s, e, method, fps)
    steps = quat_angle(q[s + 1:e + 1, 0], q[s:e, 0])
    assert steps.max() < 1.3 * rate, (steps.max(), rate)
    assert abs(steps.sum() - rate * (e - s)) < 0.1 * rate * (e - s)
    assert quat_angle(q[[s, e], 0], rot[[s, e], 0]).max() < 1e-9
