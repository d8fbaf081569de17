"""Continuing a cycle: an extension of a clip that ends in a repeating motion (numpy only, 30 fps).

The learned extension coasts on damped velocities, so after two or three seconds it settles into a
held pose: a walk stops. Where the input's last seconds repeat one cycle (a walk, a wave, a jog), the
extension goes over to that cycle, repeated: :func:`find_cycle` finds the period whose last repeat
matches the one before it (and that one the one before it), :func:`continue_cycle` repeats the last
period from the last input frame on (the root keeps the cycle's travel and turn per period, relative to
the body's heading; what differs between the last frame and the frame a period earlier fades out over
:data:`SEAM_S`), and :func:`cycle_weight` hands over from the learned continuation to the cycle between
:data:`HANDOVER_S`.

Measured (3-5 s of input, the windows of every clip of the prepared data long enough for 5 s more;
the input's last 5 s read; MPJPE of the result / the learned extension alone, at 1 / 2 / 3 / 5 s;
an experiment script kept out of the repo, numbers in ``docs/bench/heads_notes.md``): Bandai test walks
1.00 / 0.86 / 0.43 / 0.16, Bandai training walks 1.00 / 0.90-0.98 / 0.47-0.87 / 0.16-0.70; the CMU dance
windows never pass the test (phrases vary), so they are unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bench.metrics import body_fk, heading_yaw
from ..geometry import axis_quat, quat_angle, quat_apply, quat_conj, quat_identity, quat_mul, quat_slerp, quat_unflip
from .baselines import smoothstep
from .posture import CATCH_UP_RAD_S, follow_at_speed
from .windows import MODEL_FPS

#: seconds of input searched for a cycle (ending at the last input frame)
CYCLE_CONTEXT_S = 5.0
#: periods looked for, seconds
MIN_PERIOD_S, MAX_PERIOD_S = 0.4, 2.0
#: the last period must match the one before it this well (mean squared difference of heading-relative
#: joint positions and root velocity over twice their variance: 0 = identical, about 1 = unrelated) ...
MAX_MISMATCH = 0.2
#: ... and the one before it the one before that (three periods of input are needed)
MAX_EARLIER_MISMATCH = 0.5
#: the learned continuation hands over to the cycle between these times after the last input frame
#: (seconds); at 1 s the learned one is better, by 3 s it has slowed down (on the windows above,
#: handing over between 0.5 and 1.5 s was worse at 1-2 s, 0.95 / 0.93 vs 1.00 / 0.86)
HANDOVER_S = (1.0, 3.0)
#: the difference between the last input frame and the frame a period before it fades out over this
SEAM_S = 0.5
#: root velocity weight in the matching features (m/s against metres of joint position)
VELOCITY_WEIGHT = 0.5


@dataclass(frozen=True)
class Cycle:
    """period: frames at 30 fps; mismatch / earlier_mismatch: of the last two / the two before."""

    period: int
    mismatch: float
    earlier_mismatch: float

    @property
    def seconds(self) -> float:
        return self.period / MODEL_FPS


def _features(trans: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Per frame ``(T, 69)``: body joint positions relative to the root in the body's heading frame
    and the root's ground velocity in that frame (m/s x ``VELOCITY_WEIGHT``)."""
    pos = body_fk(rot, trans)[0]
    inv = axis_quat("z", -heading_yaw(rot[:, 0]))  # the root's local rotation is its world orientation
    flat = np.array([1.0, 1.0, 0.0])
    local = quat_apply(inv[:, None], pos - (trans * flat)[:, None])
    vel = quat_apply(inv, np.diff(trans, axis=0, prepend=trans[:1]) * flat) * MODEL_FPS * VELOCITY_WEIGHT
    return np.concatenate([local.reshape(len(pos), -1), vel], axis=1)


def _mismatch(f: np.ndarray, end: int, L: int) -> float:
    """How unlike the period ``f[end - L:end]`` is the one before it (0 = identical, ~1 = unrelated)."""
    a, b = f[end - L:end], f[end - 2 * L:end - L]
    var = f[end - 2 * L:end].var(0).sum()
    return float(((a - b) ** 2).sum(1).mean() / (2 * var + 1e-9))


def find_cycle(trans: np.ndarray, rot: np.ndarray) -> Cycle | None:
    """The cycle the clip ``trans (T, 3)``, ``rot (T, 22, 4)`` at 30 fps ends in, or None.

    The period is the first local minimum of the mismatch between the last period and the one before
    it that comes within 25 % of the smallest (so two periods are not taken for one); the clip must
    hold three periods, the last two matching within ``MAX_MISMATCH`` and the two before within
    ``MAX_EARLIER_MISMATCH``."""
    T = len(trans)
    lo, hi = int(round(MIN_PERIOD_S * MODEL_FPS)), min(int(round(MAX_PERIOD_S * MODEL_FPS)), T // 3)
    if hi < lo:
        return None
    f = _features(trans, rot)
    scores = np.array([_mismatch(f, T, L) for L in range(lo, hi + 1)])
    best = scores.min()
    if best > MAX_MISMATCH:
        return None
    for i, s in enumerate(scores):
        local_min = (i == 0 or s <= scores[i - 1]) and (i == len(scores) - 1 or s <= scores[i + 1])
        if local_min and s <= 1.25 * best + 0.01:
            L = lo + i
            break
    cycle = Cycle(L, float(scores[L - lo]), _mismatch(f, T - L, L))
    if cycle.mismatch > MAX_MISMATCH or cycle.earlier_mismatch > MAX_EARLIER_MISMATCH:
        return None
    return cycle


def continue_cycle(trans: np.ndarray, rot: np.ndarray, n: int, cycle: Cycle) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames ``(n, 3)``, ``(n, J, 4)`` at 30 fps after ``trans (T, 3)``, ``rot (T, J, 4)`` that
    repeat its last ``cycle.period`` frames: local joint rotations copied; the root's orientation and
    ground velocity turned by the mean heading change per period (a walk on a curve keeps curving) and
    aligned with the last frame's heading; its height copied. Starts from the last frame: the
    difference between it and the frame a period earlier (rotations, height, ground velocity) fades
    out over ``SEAM_S``; the period's own mismatch at its wrap is spread over each period."""
    T, L = len(trans), cycle.period
    yaw = np.unwrap(heading_yaw(rot[:, 0]))  # the root's local rotation is its world orientation
    turn = float(np.mean(yaw[T - L:] - yaw[T - 2 * L:T - L]))
    D = axis_quat("z", np.array(turn))
    q = np.concatenate([rot, np.empty((n,) + rot.shape[1:])])
    vel = np.zeros((T + n, 3))
    vel[1:T, :2] = np.diff(trans[:, :2], axis=0)
    z = np.concatenate([trans[:, 2], np.empty(n)])
    for i in range(T, T + n):  # frame i repeats frame i - L, turned by one period's turn
        q[i] = q[i - L]
        q[i, 0] = quat_mul(D, q[i - L, 0])
        vel[i], z[i] = quat_apply(D, vel[i - L]), z[i - L]
    # align: frame T - 1 stands where the repeat of frame T - 1 - L would face
    virtual = quat_mul(D, rot[T - 1 - L, 0])
    psi = yaw[T - 1] - np.unwrap([yaw[T - 1], heading_yaw(virtual)])[1]
    P = axis_quat("z", np.array(psi))
    out_q = q[T:].copy()
    out_q[:, 0] = quat_mul(P, out_q[:, 0])
    out_v = quat_apply(P, vel[T:])
    # what differs at the seam fades out
    fade = 1.0 - smoothstep(np.arange(1, n + 1) / min(SEAM_S * MODEL_FPS, L))
    diff = quat_mul(rot[T - 1], quat_conj(rot[T - 1 - L]))
    diff[0] = quat_mul(rot[T - 1, 0], quat_conj(quat_mul(P, virtual)))
    J = diff.shape[0]
    off = quat_slerp(quat_identity((n, J)), np.broadcast_to(diff, (n, J, 4)), np.broadcast_to(fade[:, None], (n, J)))
    # the period's own mismatch (its last frame against the one before its first) spread over every
    # period, so each wraps round into the next as the input ran (the joints and the height; copied as
    # they are, each wrap jumped by it: a walk's shoulder 37 deg and its wrist 44 cm in one frame)
    ramp = (np.arange(n) % L) / max(L - 1, 1)
    spread = quat_slerp(quat_identity((n, J)), np.broadcast_to(quat_conj(diff), (n, J, 4)),
                        np.broadcast_to(ramp[:, None], (n, J)))
    spread[:, 0] = quat_identity((n,))  # the root's orientation: its turn per period is D's
    out_q = quat_mul(off, quat_mul(spread, out_q))
    last_v = np.array([*(trans[T - 1, :2] - trans[T - 2, :2]), 0.0])
    out_v = fade[:, None] * last_v + (1.0 - fade[:, None]) * out_v
    out_t = trans[T - 1] + np.cumsum(out_v, axis=0)
    out_t[:, 2] = z[T:] + (fade - ramp) * (trans[T - 1, 2] - trans[T - 1 - L, 2])
    return out_t, quat_unflip(np.concatenate([rot[T - 1:T], out_q]))[1:]


def hand_over(own: np.ndarray, cycle: np.ndarray, w: np.ndarray, fps: float) -> np.ndarray:
    """Rotations ``(n, J, 4)`` at ``fps`` going from ``own`` to ``cycle`` (both ``(n, J, 4)``) by the weight
    ``w (n,)`` of :func:`cycle_weight`. Interpolated the short way, a joint whose two answers are about
    half a turn apart switches sides where that way changes: it then turns no faster than either answer
    plus the handover itself (and :data:`~a4mer.heads.posture.CATCH_UP_RAD_S`); elsewhere the
    interpolation is kept as it is. (Runs extended by 3 s snapped a knee 90-150 deg in one frame.)"""
    mixed = quat_slerp(own, cycle, w[:, None])
    cap = (np.maximum(quat_angle(own[1:], own[:-1]), quat_angle(cycle[1:], cycle[:-1]))
           + np.abs(np.diff(w))[:, None] * quat_angle(own, cycle)[1:] + CATCH_UP_RAD_S / fps)
    return follow_at_speed(mixed, cap)


def cycle_weight(n: int, fps: float) -> np.ndarray:
    """Weight ``(n,)`` of the cycle against the learned continuation on the ``n`` frames at ``fps``
    after the last input frame (0 until ``HANDOVER_S[0]``, 1 from ``HANDOVER_S[1]``, smooth between)."""
    t = np.arange(1, n + 1) / fps
    a, b = HANDOVER_S
    return smoothstep((t - a) / (b - a))
