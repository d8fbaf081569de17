"""Keeping an extension's posture within reach of its input (numpy only).

The learned extension coasts on damped joint velocities, and its correction does not always undo
them: from 1 s of input, over 5 s, a joint of the body turned more than 60 deg past the largest angle
it had in the input in 49 % of the test windows (the truth: 6-7 %), a knee of a walk bent to
150-175 deg, and in 18 % of them the pelvis sank more than 20 cm below its lowest input height (the
truth: 2 %). Each generated joint rotation (joints 1-21) is therefore kept within ``ROTATION_MARGIN``
(softly, ``ROTATION_SOFT`` more at most) of the farthest the joint went from its mean rotation over
the input's last ``POSTURE_CONTEXT_S``, and the pelvis height within ``HEIGHT_MARGIN`` (softly,
``HEIGHT_SOFT`` more) of its range there. Inside those limits nothing changes, so the seam stays as it
was. On the benchmark's extension windows (1 s of input, test split) MPJPE moved by 1.002 / 0.973 /
0.991 / 0.997 x at 0.5 / 1 / 2 / 3 s; the share of windows with a joint 60 deg past its input range
fell to 4.8 % and of pelvis drops over 20 cm to 0. That reach is symmetric, so a knee could bend
backwards as far as it bent forwards: the bend of the knees and elbows is also kept between straight
(or the straightest the input shows) and ``HINGE_MAX_BEND`` of fold (or the input's), on every
extension and fill, learned or not (:func:`keep_hinges_bending_forward`).
"""
from __future__ import annotations

import numpy as np

from ..geometry import axis_angle_to_quat, quat_angle, quat_mul, quat_normalize, quat_slerp
from ..geometry import reproducible as rp

POSTURE_CONTEXT_S = 2.0
ROTATION_MARGIN = np.radians(30.0)
ROTATION_SOFT = np.radians(15.0)
# where the input repeats a cycle (:mod:`cycle`), its last 2 s hold the whole range the motion
# takes: the learned part of the handover is kept to that range (softly 8 deg more)
CYCLE_ROTATION_MARGIN = 0.0
CYCLE_ROTATION_SOFT = np.radians(8.0)
# how much faster than the generated joint a pulled-back joint may turn while it catches up with a
# pull-back that changed sides (rad/s)
CATCH_UP_RAD_S = np.radians(180.0)
HEIGHT_MARGIN = 0.10  # metres
HEIGHT_SOFT = 0.05    # metres
#: SMPL's hinges: joint -> (local axis 0/1/2 = x/y/z, sign of a rotation about it that flexes the joint);
#: knees flex about +x, the left elbow about -y, the right about +y (real mocap of every source: knees
#: -6..151 deg, elbows 0..126 deg flexed at the 1st/99th percentiles)
HINGES = {4: (0, 1.0), 5: (0, 1.0), 18: (1, -1.0), 19: (1, 1.0)}
HINGE_MARGIN = np.radians(5.0)
HINGE_SOFT = np.radians(5.0)
#: how far a hinge may fold (before ``HINGE_MARGIN``) unless the kept frames fold it further
HINGE_MAX_BEND = np.radians(150.0)


def soft_limit(x: np.ndarray, limit: np.ndarray, soft: float) -> np.ndarray:
    """``x`` where it is at most ``limit``; beyond, ``limit + soft * tanh((x - limit) / soft)`` (C1,
    never more than ``limit + soft``)."""
    return np.where(x > limit, limit + soft * rp.tanh((x - limit) / soft), x)


def keep_rotations_in_range(ctx: np.ndarray, gen: np.ndarray, margin: float = ROTATION_MARGIN,
                            soft: float = ROTATION_SOFT, fps: float = 30.0) -> np.ndarray:
    """``gen (n, J, 4)`` consecutive frames at ``fps`` of local rotations with joints 1.. pulled towards the
    mean rotation of ``ctx (C, J, 4)`` where they are further from it than the context went, plus
    ``margin`` rad (softly, ``soft`` rad more at most); joint 0 (the root's orientation) is kept as it is.

    Pulled back the short way, a joint turning on past half a turn from the mean lands on the other side:
    the result then turns no faster from frame to frame than ``gen`` does, plus :data:`CATCH_UP_RAD_S`
    (:func:`follow_at_speed`; elsewhere it is unchanged: the pull-back never turns faster than ``gen``).
    (Pulled back the short way only, a Bandai walk-turn's elbow turned 127 deg in one frame.)"""
    ref = ctx[-1]
    aligned = np.where(np.sum(ctx * ref, axis=-1, keepdims=True) < 0, -ctx, ctx)
    centre = quat_normalize(aligned.mean(0))
    reach = quat_angle(ctx, centre[None]).max(0)
    d = quat_angle(gen, centre[None])
    kept = soft_limit(d, reach + margin, soft)
    out = quat_slerp(np.broadcast_to(centre, gen.shape), gen, np.where(d > 1e-9, kept / np.maximum(d, 1e-9), 1.0))
    out = follow_at_speed(out, quat_angle(gen[1:], gen[:-1]) + CATCH_UP_RAD_S / fps)
    out[:, 0] = gen[:, 0]
    return out


def follow_at_speed(target: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Rotations ``target (n, J, 4)`` followed from its first frame, turning at most ``cap (n - 1, J)`` rad
    from one frame to the next (towards the target, the short way); where the target turns no faster,
    the result is the target (up to the first frame it turns faster, nothing needs following: most
    extensions never do, and then no frame is looped over)."""
    out = target.copy()
    over = np.flatnonzero((quat_angle(target[1:], target[:-1]) > cap + 1e-12).any(-1)) if len(out) > 1 else []
    if not len(over):
        return out
    for t in range(int(over[0]) + 1, len(out)):
        step = quat_angle(out[t - 1], target[t])
        fast = step > cap[t - 1] + 1e-12
        if fast.any():
            frac = np.where(fast, cap[t - 1] / np.maximum(step, 1e-12), 1.0)
            out[t] = np.where(fast[:, None], quat_slerp(out[t - 1], target[t], frac), target[t])
    return out


def keep_height_in_range(ctx_z: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Pelvis heights ``z (n,)`` m kept within ``HEIGHT_MARGIN`` (softly) of the range of ``ctx_z (C,)``."""
    lo, hi = ctx_z.min() - HEIGHT_MARGIN, ctx_z.max() + HEIGHT_MARGIN
    return -soft_limit(-soft_limit(z, hi, HEIGHT_SOFT), -lo, HEIGHT_SOFT)


def hinge_bend(q: np.ndarray, joint: int) -> np.ndarray:
    """Bend (radians, ``(...)``; positive flexes the joint) of SMPL rotations ``q (..., 4)`` of the hinge
    ``joint`` (:data:`HINGES`): the twist about its hinge axis, signed, in (-pi, pi]."""
    axis, sign = HINGES[joint]
    return sign * ((2.0 * rp.arctan2(q[..., 1 + axis], q[..., 0]) + np.pi) % (2.0 * np.pi) - np.pi)


def _hinge_bounds(seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(straight, fold) bounds (radians) of a hinge whose bends seen in kept frames reach from
    ``seen.min(-1)`` to ``seen.max(-1)`` (``seen (..., C)``; +inf / -inf where nothing was seen)."""
    lo = np.minimum(0.0, seen.min(-1)) - HINGE_MARGIN
    hi = np.maximum(HINGE_MAX_BEND, seen.max(-1)) + HINGE_MARGIN
    return lo, hi


def _bend_hinge(q: np.ndarray, joint: int, bend: np.ndarray, lo, hi) -> np.ndarray:
    """Rotations ``q (N, 4)`` of hinge ``joint`` whose (unwrapped) bends are ``bend (N,)``, turned about
    the hinge axis so the bend stays within ``lo .. hi`` (softly, ``HINGE_SOFT`` more at most)."""
    axis, sign = HINGES[joint]
    kept = -soft_limit(-soft_limit(bend, hi, HINGE_SOFT), -lo, HINGE_SOFT)
    turn = np.zeros(bend.shape + (3,))
    turn[:, axis] = sign * (kept - bend)
    return quat_mul(q, axis_angle_to_quat(turn))


def keep_hinges_bending_forward(ctx: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """``gen (n, J, 4)`` consecutive frames of local rotations with each hinge (:data:`HINGES`: knees,
    elbows) bent at least as far as the straightest it was in ``ctx (C, J, 4)`` or straight, whichever
    is less, and folded at most ``HINGE_MAX_BEND`` or as far as in ``ctx`` (each bound ``HINGE_MARGIN``
    wider; softly, ``HINGE_SOFT`` more at most), by turning it about its hinge axis; frames within are
    unchanged. The bend is followed frame to frame from ``gen``'s first frame (unwrapped), so a joint
    folding on past half a turn is held at the fold and one bending on past straight at straight, and
    the result stays continuous (read frame by frame, a fold past half a turn looks like a bend
    backwards: deciding per frame flipped a knee 170 deg in one frame).

    A symmetric reach (:func:`keep_rotations_in_range`) let a knee bend backwards as far as it bent
    forwards: a jog extended by 5 s bent a knee 47 deg backwards (the input: 14-86 deg forwards), a salsa
    33 deg. In gaps, Hermite tangents of a fast kick carried over 2-4 s turned CMU dancers' knees and
    elbows up to 180 deg past straight or past full fold, and the learned correction kept most of it."""
    out = np.array(gen, dtype=np.float64)
    for j in HINGES:
        lo, hi = _hinge_bounds(hinge_bend(ctx[:, j], j))
        out[:, j] = _bend_hinge(out[:, j], j, np.unwrap(hinge_bend(out[:, j], j)), lo, hi)
    return out


def keep_hinges_in_runs(rot: np.ndarray, runs: list[tuple[int, int]], known: np.ndarray, reach: int) -> None:
    """:func:`keep_hinges_bending_forward` of every run ``a..b`` (inclusive) of ``rot (T, J, 4)``, with
    the frames where ``known (T,)`` is True within ``reach`` frames of it as its context, in place: the
    bend followed from the known frame before each run. All runs at once (a 5-minute take keyed every 8
    frames has thousands)."""
    if not runs:
        return
    a = np.array([r[0] for r in runs])
    b = np.array([r[1] for r in runs])
    run_of = np.full(len(rot), -1)
    for k, (x, y) in enumerate(runs):
        run_of[x:y + 1] = k
    gen = np.flatnonzero(run_of >= 0)
    # each run's window a - reach .. b + reach as [start, end) index pairs of one reduceat (every other
    # result is a window); one padding element makes the clip's end a valid index
    pairs = np.stack([np.maximum(0, a - reach), np.minimum(len(rot), b + reach + 1)], 1).ravel()
    for j in HINGES:
        bend = hinge_bend(rot[:, j], j)
        seen = [np.minimum.reduceat(np.append(np.where(known, bend, np.inf), np.inf), pairs)[::2],
                np.maximum.reduceat(np.append(np.where(known, bend, -np.inf), -np.inf), pairs)[::2]]
        lo, hi = _hinge_bounds(np.stack(seen, -1))
        uw = np.unwrap(bend)
        uw = uw - (uw[a - 1] - bend[a - 1])[np.maximum(run_of, 0)]  # each run from its known frame's bend
        k = run_of[gen]
        rot[gen, j] = _bend_hinge(rot[gen, j], j, uw[gen], lo[k], hi[k])
