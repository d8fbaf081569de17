"""Hand-computable checks of the benchmark metrics (a4mer.bench.metrics)."""
import numpy as np
import pytest

from a4mer.bench import metrics as M
from a4mer.geometry import axis_quat, quat_identity, quat_mul


def _still(T=10, J=24):
    rot = quat_identity((T, J))
    rot[:, 0] = axis_quat("x", np.pi / 2)  # upright in the Z-up world
    return rot, np.tile([0.0, 0.0, 0.9], (T, 1))


def test_mpjpe_of_a_translation_is_its_length():
    rot, tr = _still()
    p, _ = M.body_fk(rot, tr)
    q, _ = M.body_fk(rot, tr + [0.03, 0.04, 0.0])  # 5 cm shift
    assert M.mpjpe_mm(q, p) == pytest.approx(50.0)
    assert M.mpjpe_mm(p, p) == 0.0


def test_body_fk_uses_22_joints_and_neutral_offsets():
    rot, tr = _still(T=1)
    p, g = M.body_fk(rot, tr)
    assert p.shape == (1, 22, 3) and g.shape == (1, 22, 4)
    # upright: the head is above the pelvis, the ankles below
    assert p[0, 15, 2] > p[0, 0, 2] + 0.4 and p[0, 7, 2] < p[0, 0, 2] - 0.7


def test_heading_and_canonical_frame():
    rot, tr = _still(T=3)
    # +90 deg about X maps SMPL's forward (+Z) to -Y: an upright AMASS body faces -Y (yaw pi)
    assert abs(M.heading_yaw(rot[0, 0])) == pytest.approx(np.pi)
    facing_y = rot.copy()
    facing_y[:, 0] = quat_mul(axis_quat("z", np.pi), rot[0, 0])
    assert M.heading_yaw(facing_y[0, 0]) == pytest.approx(0.0, abs=1e-9)
    turned = rot.copy()
    turned[:, 0] = quat_mul(axis_quat("z", np.pi + 0.7), rot[0, 0])
    assert M.heading_yaw(turned[0, 0]) == pytest.approx(0.7)
    p, g = M.body_fk(turned, tr + [1.0, 2.0, 0.0])
    cp, cg = M.canonicalize(p, g, 1)
    p0, _ = M.body_fk(facing_y, tr)
    np.testing.assert_allclose(cp, p0, atol=1e-9)  # moved to the origin, facing +Y, height kept
    assert M.heading_yaw(cg[1, 0]) == pytest.approx(0.0, abs=1e-9)


def test_l2q_of_sign_flip_is_zero_and_of_known_difference():
    q = quat_identity((2, 3, 5))
    assert M.l2q(-q, q) == 0.0
    p = q.copy()
    p[..., 0, :] = axis_quat("x", np.pi)  # (0,1,0,0): difference (-1,1,0,0) -> sqrt(2) per frame
    assert M.l2q(p, q) == pytest.approx(np.sqrt(2.0))


def test_l2p_normalises_by_std():
    t = np.zeros((1, 4, 2, 3))
    p = t.copy()
    p[..., 0, 0] = 2.0  # one coordinate off by 2 with std 2 -> norm 1
    std = np.ones(6)
    std[0] = 2.0
    assert M.l2p(p, t, np.zeros(6), std) == pytest.approx(1.0)


def test_npss_zero_for_identical_and_positive_for_different():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 16, 5))
    assert M.npss(x, x) == pytest.approx(0.0)
    slow = np.sin(np.linspace(0, 2 * np.pi, 16))[None, :, None] * np.ones((1, 16, 2))
    fast = np.sin(np.linspace(0, 12 * np.pi, 16))[None, :, None] * np.ones((1, 16, 2))
    assert M.npss(fast, slow) > 0.5
    # scale invariant: spectra are normalised
    assert M.npss(3.0 * x, x) == pytest.approx(0.0, abs=1e-12)


def _feet_track(z_left, x_left):
    """Positions (T, 22, 3): all joints at z=1 except the left ankle/foot track given."""
    T = len(z_left)
    pos = np.ones((T, 22, 3))
    for j in (8, 11):
        pos[:, j] = [0.0, 0.0, 0.0]  # right foot planted, still
    for j in (7, 10):
        pos[:, j, 0] = x_left
        pos[:, j, 1] = 0.0
        pos[:, j, 2] = z_left
    return pos


def test_foot_skate_counts_sliding_on_the_ground_only():
    T = 11
    x = np.linspace(0.0, 0.1, T)  # 1 cm per frame
    on_ground = _feet_track(np.zeros(T), x)
    # fps 30: 0.3 m/s sliding on 2 of 4 foot joints -> mean 0.15 m/s = 15 cm/s
    assert M.foot_skate(on_ground, 30.0, ground=np.zeros(4)) == pytest.approx(15.0)
    in_air = _feet_track(np.full(T, 0.5), x)
    assert M.foot_skate(in_air, 30.0, ground=np.zeros(4)) == pytest.approx(0.0)


def test_contact_changes_counts_lift_and_landing():
    z = np.array([0, 0, 0.2, 0.2, 0.2, 0, 0, 0.0])
    pos = _feet_track(z, np.zeros(len(z)))
    assert M.contact_changes(pos, ground=np.zeros(4)) == 2  # lift off + land
    # hysteresis: hovering between 1x and 1.5x the threshold does not toggle
    z2 = np.array([0, 0.06, 0.07, 0.0])
    assert M.contact_changes(_feet_track(z2, np.zeros(4)), ground=np.zeros(4)) == 0


def test_jerk_of_cubic_trajectory():
    fps = 10.0
    t = np.arange(8) / fps
    pos = np.zeros((8, 2, 3))
    pos[:, :, 0] = (t ** 3)[:, None]  # third derivative 6 m/s^3
    assert M.jerk(pos, fps) == pytest.approx(6.0)
    lin = np.zeros((8, 2, 3))
    lin[:, :, 0] = t[:, None]
    assert M.jerk(lin, fps) == pytest.approx(0.0, abs=1e-9)
