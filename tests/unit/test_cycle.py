"""a4mer.heads.cycle: a clip that ends in a repeating motion is found to, and continued with its
cycle (period, travel, turn); motion that does not repeat is left to the learned continuation."""
import numpy as np
import pytest

from a4mer.bench.metrics import body_fk, heading_yaw
from a4mer.geometry import axis_angle_to_quat, quat_angle, quat_mul
from a4mer.heads import cycle as C

FPS = 30.0


def _walker(T: int, period_s: float = 1.0, speed: float = 1.2, turn_per_s: float = 0.0, seed: int = 0):
    """A synthetic cyclic body ``(T + 120)`` frames: every joint swings with one period, the pelvis
    bobs with it and travels at ``speed`` m/s along its heading, which turns ``turn_per_s`` rad/s.
    Returns the first ``T`` frames (input) and the whole (truth)."""
    rng = np.random.default_rng(seed)
    n = T + 120
    t = np.arange(n) / FPS
    w = 2 * np.pi / period_s
    aa = 0.4 * np.sin(w * t[:, None, None] + rng.uniform(0, 2 * np.pi, (1, 22, 3))) * rng.uniform(0.2, 1, (1, 22, 3))
    aa[:, 0] = 0.0
    rot = axis_angle_to_quat(aa)
    yaw = turn_per_s * t
    stand = axis_angle_to_quat(np.array([np.pi / 2, 0, 0]))  # SMPL's Y-up body stood up in Z-up
    rot[:, 0] = quat_mul(axis_angle_to_quat(np.stack([0 * yaw, 0 * yaw, yaw], 1)), np.broadcast_to(stand, (n, 4)))
    face = heading_yaw(body_fk(rot, np.zeros((n, 3)))[1][:, 0])  # the direction the body faces
    vel = speed / FPS * np.stack([-np.sin(face), np.cos(face)], 1)
    trans = np.zeros((n, 3))
    trans[:, :2] = np.cumsum(vel, 0)
    trans[:, 2] = 0.9 + 0.02 * np.sin(2 * w * t)
    return (trans[:T], rot[:T]), (trans, rot)


def test_the_period_of_a_cyclic_clip_is_found_and_not_twice_it():
    (t, q), _ = _walker(150, period_s=1.0)
    cyc = C.find_cycle(t, q)
    assert cyc is not None and abs(cyc.period - 30) <= 1, cyc
    assert cyc.mismatch < 0.01
    (t, q), _ = _walker(150, period_s=0.7)
    assert abs(C.find_cycle(t, q).period - 21) <= 1


def test_motion_that_does_not_repeat_or_is_too_short_has_no_cycle():
    rng = np.random.default_rng(1)
    T = 150
    tt = np.arange(T) / FPS
    # every joint at its own frequency: no common period within 2 s
    aa = 0.4 * np.sin(tt[:, None, None] * rng.uniform(1.3, 4.1, (1, 22, 3)) + rng.uniform(0, 6, (1, 22, 3)))
    aa[:, 0] = [np.pi / 2, 0, 0]
    trans = np.c_[0.3 * tt, np.zeros(T), np.full(T, 0.9)]
    assert C.find_cycle(trans, axis_angle_to_quat(aa)) is None
    (t, q), _ = _walker(80, period_s=1.0)  # fewer than three periods
    assert C.find_cycle(t, q) is None


@pytest.mark.parametrize("turn", [0.0, 0.4])
def test_the_continuation_repeats_the_cycle_with_its_travel_and_turn(turn):
    (t, q), (tt, tq) = _walker(150, period_s=1.0, turn_per_s=turn)
    cyc = C.find_cycle(t, q)
    n = 120
    nt, nq = C.continue_cycle(t, q, n, cyc)
    assert nt.shape == (n, 3) and nq.shape == (n, 22, 4)
    # the seam: the first new frame is one step on from the last input frame
    assert np.degrees(quat_angle(nq[0], q[-1])).max() < 8.0
    assert np.linalg.norm(nt[0] - t[-1]) < 2 * 1.2 / FPS
    # after the seam fade, the truth within a few cm (joint positions, the root path included)
    fade = int(C.SEAM_S * FPS)
    p, _ = body_fk(nq, nt)
    p_true, _ = body_fk(tq[150:150 + n], tt[150:150 + n])
    err = np.linalg.norm(p - p_true, axis=-1).mean(-1)
    assert err[fade:].max() < 0.06, err[fade:].max()
    # the heading keeps turning at the input's rate
    yaw = np.unwrap(heading_yaw(body_fk(nq, nt)[1][:, 0]))
    assert abs((yaw[-1] - yaw[fade]) / ((n - 1 - fade) / FPS) - turn) < 0.03


def test_a_period_that_does_not_close_wraps_round_without_a_jump():
    """The input's last period does not end where it began (a shoulder drifting 0.25 rad over it, the
    pelvis rising 5 cm):
    repeated as it was, every wrap jumped back by that drift in one frame; spread over the period, no
    step of the continuation is larger than the input's own plus the drift's share per frame."""
    (t, q), _ = _walker(150, period_s=1.0)
    aa = np.zeros((150, 22, 3))
    aa[:, 16, 2] = np.linspace(0.0, 1.25, 150)  # 0.25 rad per 30-frame period
    q = quat_mul(q, axis_angle_to_quat(aa))
    t = t.copy()
    t[:, 2] += np.linspace(0.0, 0.25, 150)  # and the pelvis rising 5 cm per period
    cyc = C.find_cycle(t, q)
    assert cyc is not None
    nt, nq = C.continue_cycle(t, q, 120, cyc)
    steps = lambda x: quat_angle(x[1:], x[:-1]).max()  # noqa: E731
    both = np.concatenate([q, nq])
    assert steps(both[150 - 1:]) < steps(q) + 0.25 / (cyc.period - 1) + 1e-6
    assert np.abs(np.diff(np.r_[t[-1:, 2], nt[:, 2]])).max() < 0.02  # each wrap dropped by the 5 cm


def test_handover_weight_is_zero_then_one_and_smooth():
    w = C.cycle_weight(150, FPS)
    a, b = (int(x * FPS) for x in C.HANDOVER_S)
    assert np.all(w[:a - 1] == 0) and np.all(w[b:] == 1)
    assert np.all(np.diff(w) >= 0) and np.abs(np.diff(w)).max() < 2.0 / (b - a)
