"""Classical answers for in-betweening and extension (numpy, light core).

Arrays: root translation ``trans (T, 3)`` metres, local rotations ``rot (T, J, 4)`` wxyz.
A gap is given by its two key frames ``s < e``: frames ``s+1 .. e-1`` are generated, the keys are
kept. Rotations are interpolated per joint in the tangent space (rotation vectors) of the rotation
at the segment's first key: ``q(t) = q_s * exp(r(t))`` with ``r(s) = 0`` — a cubic Hermite there is
the quaternion analogue of the Bezier curves an animator gets between keys.

- ``lerp_slerp``: LaFAN1's "interpolation" baseline (lerp root, slerp rotations).
- ``hermite``: cubic Hermite through the keys with velocities from the neighbouring frames
  (one-sided differences ``x[s] - x[s-1]`` and ``x[e+1] - x[e]``; zero where the clip ends).
- ``hermite2``: the same curve with second-order one-sided key velocities (two frames on each side);
  ``hermite2_global``, its body rotations half-way to the global curve (below), is the heads'
  classical curve for gaps of up to 12 missing frames at 30 fps.
- ``global_weight`` (of :func:`hermite_batch` / :func:`hermite_from_sides` / :func:`natural_spline_keys`):
  the body joints' rotations move part of the way (a slerp) to the curve that the same interpolation
  gives on their *global* orientations (then made local again). A bone whose global orientation
  changes smoothly while its parents turn keeps its world direction in between. Half-way (0.5) was
  closer to held-out motion than the local curve alone on average on every source (HDM05 2-4 %, CMU
  dance 1-3 %, Bandai under 1 % at 15-30 missing frames; one small set, CMU dance test at 15 frames,
  5 % worse). A joint whose two curves part by more than 90 degrees anywhere in a gap (they went
  round opposite ways, e.g. in a spin) keeps its local curve there: the blend of such curves would
  flip by half a turn from one frame to the next.
- ``min_jerk``: the curve through the keys that, with the three frames on each side of the gap kept,
  has the least squared jerk plus ``MIN_JERK_ACC_WEIGHT`` times the least squared acceleration
  (discrete third and second differences, per channel, rotations in the same tangent space; body
  rotations half-way to the global curve). It continues the context's position, velocity *and*
  acceleration smoothly into the gap where a cubic Hermite matches only the velocities: the heads'
  classical curve for gaps of 4-30 missing frames at up to 45 fps (see ``prediction.gap_fallback``).
- ``catmull_rom_keys``: the blocking case, where only sparse keys exist: tangents from the
  neighbouring keys (centred differences over non-uniform spacing), what Blender's auto handles give.
- ``natural_spline_keys``: the blocking case through close keys: a natural cubic spline (C2)
  through every key, on the root translation and on sign-continuous quaternion components (then
  normalised). For keys up to 0.2 s apart it beats Catmull-Rom on every source (0.80-0.94 x).
- ``zero_velocity``: the last key held (LaFAN1's zero-velocity baseline).
- ``extend_zero_velocity`` / ``extend_constant_velocity``: extension by holding the last frame or by
  continuing the last frame-to-frame velocity (root linearly, every joint at its last angular velocity).
"""
from __future__ import annotations

import numpy as np

from ..errors import A4merError
from ..geometry import axis_angle_to_quat, quat_angle, quat_conj, quat_mul, quat_slerp, quat_to_axis_angle, quat_unflip
from ..geometry import reproducible as rp
from ..skeleton import NUM_BODY_JOINTS, SMPL

GAP_METHODS = ("hermite", "hermite2", "hermite2_global", "min_jerk", "lerp_slerp", "zero_velocity")
EXTEND_METHODS = ("constant_velocity", "zero_velocity", "damped_velocity")
#: how far the heads' classical curves move the body rotations towards the same curve drawn through
#: the joints' global orientations (:func:`hermite_from_sides`; ``hermite2_global``): half-way was
#: closer to held-out motion than the local curve alone on average on every source, at 30-120 fps
GLOBAL_WEIGHT = 0.5
#: a joint whose local and global curves part by more than this (radians) anywhere in a gap keeps its
#: local curve there (:func:`blend_global`)
MAX_BLEND_ANGLE = np.pi / 2
#: weight of the squared acceleration against the squared jerk in :func:`min_jerk` (both per frame at
#: 30 fps; at other rates it is scaled by ``(30 / fps)^2`` so the curve is the same in seconds). The
#: weight sets how far into the gap the context's acceleration carries (about ``1 / sqrt(w)`` frames):
#: 0.1-0.3 were best at 10-30 missing frames on every source (0.05 and 0.5: worse on some)
MIN_JERK_ACC_WEIGHT = 0.2
#: frames on each side of a gap that :func:`min_jerk` reads (key included)
MIN_JERK_SIDE = 3
#: time constant (frames at 30 fps) of the velocity decay of ``damped_velocity``
DAMPING_FRAMES = 10.0
#: longest gap (s) whose root rotation takes the way round its keys' velocities point to
#: (:func:`_way_round`); over longer gaps velocities carried across mislead as often as they help
WAY_ROUND_MAX_SECONDS = 1.25


def rel_log(q_ref: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rotation vector ``(..., 3)`` of ``q_ref^-1 * q`` (``(..., 4)`` wxyz, broadcasting)."""
    return quat_to_axis_angle(quat_mul(quat_conj(q_ref), q))


def nearest_rotvec(r: np.ndarray, ref: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Rotation vectors ``(..., 3)`` of the same rotations as ``r``, each whole turns about its axis
    away from ``r`` (``r``, ``r - 2 pi r/|r|``: the same rotation the other way round, ...), the one
    closest to ``ref (..., 3)``; with ``margin`` (radians) another turn than ``r``'s own is taken only
    where ``ref`` lies more than ``margin`` past the half-way point between the two (that turn closer
    by over twice ``margin``). Near half a turn the principal rotation vector flips to the opposite
    side: a curve through vectors on both sides turns by a full turn in between (a spin of about 2 pi
    per frame)."""
    theta = np.linalg.norm(r, axis=-1, keepdims=True)
    d = np.sum(ref * r, axis=-1, keepdims=True) / np.maximum(theta, 1e-12) - theta  # ref beyond r, along r
    turns = np.sign(d) * np.floor((np.abs(d) + np.pi - margin) / (2.0 * np.pi))
    return r + 2.0 * np.pi * turns * r / np.maximum(theta, 1e-12) * (theta > 1e-9)


def rel_exp(q_ref: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``q_ref * exp(r)``: rotations ``(..., 4)`` from rotation vectors ``r (..., 3)`` at ``q_ref``."""
    return quat_mul(np.broadcast_to(q_ref, r.shape[:-1] + (4,)), axis_angle_to_quat(r))


def hermite_basis(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cubic Hermite basis h00, h10, h01, h11 at ``u (N,)`` in [0, 1]."""
    u2, u3 = u * u, u * u * u
    return 2 * u3 - 3 * u2 + 1, u3 - 2 * u2 + u, -2 * u3 + 3 * u2, u3 - u2


def _depth(j: int) -> int:
    return 0 if j == 0 else 1 + _depth(SMPL.parents[j])


#: the body joints 1-21 grouped by depth in the SMPL tree (each group's parents lie in earlier groups)
_BODY_LEVELS = [np.array([j for j in range(1, NUM_BODY_JOINTS) if _depth(j) == d])
                for d in range(1, 1 + max(_depth(j) for j in range(NUM_BODY_JOINTS)))]
_BODY_PARENTS = np.array(SMPL.parents[:NUM_BODY_JOINTS])


def body_global(rot: np.ndarray) -> np.ndarray:
    """Global orientations ``(..., J, 4)`` of the SMPL body joints from local rotations ``rot (..., J, 4)``
    wxyz of an SMPL-family skeleton (joints 0-21 are the SMPL body, in SMPL order); joints beyond the
    body are copied as they are."""
    g = np.array(rot, dtype=float)
    for level in _BODY_LEVELS:
        j = level[level < g.shape[-2]]
        g[..., j, :] = quat_mul(g[..., _BODY_PARENTS[j], :], g[..., j, :])
    return g


def body_local(glo: np.ndarray) -> np.ndarray:
    """Inverse of :func:`body_global`: local rotations ``(..., J, 4)`` from body-joint global
    orientations ``glo (..., J, 4)``."""
    q = np.array(glo, dtype=float)
    j = np.arange(1, min(q.shape[-2], NUM_BODY_JOINTS))
    q[..., j, :] = quat_mul(quat_conj(q[..., _BODY_PARENTS[j], :]), q[..., j, :])
    return q


def blend_global(q_local: np.ndarray, q_global: np.ndarray, weight: float, group: np.ndarray | None = None,
                 groups: int = 1) -> np.ndarray:
    """``q_local (..., N, J, 4)`` slerped ``weight`` of the way to ``q_global`` (the same curve drawn
    through the global orientations, made local: :func:`body_local`), per joint; a joint keeps its
    local curve over a whole gap where the two part by more than ``MAX_BLEND_ANGLE`` anywhere in it.
    The gaps are the frames axis (-3) as a whole, or with ``group (N,)`` the frames of each group id
    ``0 .. groups - 1`` (the spans between keys)."""
    apart = quat_angle(q_local, q_global)  # (..., N, J)
    if group is None:
        worst = np.max(apart, axis=-2, keepdims=True)  # (..., 1, J)
    else:
        per = np.zeros((groups,) + apart.shape[:-2] + apart.shape[-1:])
        np.maximum.at(per, group, np.moveaxis(apart, -2, 0))
        worst = np.moveaxis(per[group], 0, -2)
    w = np.where(worst > MAX_BLEND_ANGLE, 0.0, float(weight))
    return quat_slerp(q_local, q_global, w)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]: 0 to 1 with zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _check_gap(T: int, s: int, e: int) -> None:
    if not (0 <= s < e < T):
        raise A4merError(f"gap keys {s}..{e} are not two increasing frames inside a {T}-frame clip")


def _segment(p0, p1, m0, m1, n):
    """Hermite values at the n-1 frames strictly between keys n frames apart (tangents per frame)."""
    u = np.arange(1, n) / n
    h00, h10, h01, h11 = hermite_basis(u)
    shp = (-1,) + (1,) * np.ndim(p0)
    return (h00.reshape(shp) * p0 + h10.reshape(shp) * (n * m0) + h01.reshape(shp) * p1
            + h11.reshape(shp) * (n * m1))


def key_velocity(x: np.ndarray, i: int, side: int, order: int = 2, axis: int = 0) -> np.ndarray:
    """Velocity per frame of ``x`` (frames along ``axis``) at frame ``i``, from the frames on one side
    of it (``side`` -1: before, +1: after). ``order`` 2: the second-order one-sided difference
    ``(3 x[i] - 4 x[i-1] + x[i-2]) / 2`` where two such frames exist; otherwise (or ``order`` 1) the
    first-order ``x[i] - x[i-1]``; zero without a neighbour. The first-order difference is the
    velocity half a frame away from the key: at 30 fps that lag alone costs 3-15 % of a Hermite's
    error on 10-30 frame gaps (the benchmark's ``hermite2`` row)."""
    T = x.shape[axis]
    at = lambda k: np.take(x, k, axis=axis)  # noqa: E731
    if order >= 2 and 0 <= i + 2 * side < T:
        return -side * (3 * at(i) - 4 * at(i + side) + at(i + 2 * side)) / 2
    if 0 <= i + side < T:
        return -side * (at(i) - at(i + side))
    return np.zeros_like(at(i))


def hermite(trans: np.ndarray, rot: np.ndarray, s: int, e: int, order: int = 1, global_weight: float = 0.0,
            fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite fill of frames ``s+1 .. e-1``: returns ``(e-s-1, 3)`` and ``(e-s-1, J, 4)``.

    Velocities at the keys from the frames beside the gap (:func:`key_velocity` of ``order``; order 1,
    ``x[s] - x[s-1]`` and ``x[e+1] - x[e]``, is the issue's baseline; zero at the clip's ends).
    Rotations: Hermite of rotation vectors in the tangent space at key ``s`` (``global_weight``: see
    :func:`hermite_from_sides`; with ``fps``, the root of a gap up to ``WAY_ROUND_MAX_SECONDS`` goes the way
    round its keys' velocities point to, :func:`_way_round`)."""
    _check_gap(len(trans), s, e)
    tr, q = hermite_batch(trans[None], rot[None], s, e, order, global_weight=global_weight, fps=fps)
    return tr[0], q[0]


def hermite_batch(trans: np.ndarray, rot: np.ndarray, s: int, e: int, order: int = 1, tangent_scale: float = 1.0,
                  global_weight: float = 0.0, fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hermite` of a batch of windows ``trans (B, W, 3)``, ``rot (B, W, J, 4)`` with the same
    keys ``s < e``: returns ``(B, e-s-1, 3)``, ``(B, e-s-1, J, 4)`` (zero velocity at window ends).
    ``tangent_scale`` multiplies the key velocities; ``global_weight``: see :func:`hermite_from_sides`;
    ``fps``, the windows' rate (None: the root takes the principal rotation, as every other joint)."""
    lo, hi = max(0, s - order), min(trans.shape[1], e + order + 1)  # the frames the key velocities read
    return hermite_from_sides(trans[:, lo:s + 1], rot[:, lo:s + 1], trans[:, e:hi], rot[:, e:hi], e - s, order,
                              1.0 / tangent_scale, global_weight, None if fps is None else (e - s) / fps)


def _continue(ra: np.ndarray) -> np.ndarray:
    """Rotation vectors ``(B, na, J, 3)`` with each sample the turn of its rotation closest to its
    predecessor."""
    for k in range(1, ra.shape[1]):
        ra[:, k] = nearest_rotvec(ra[:, k], ra[:, k - 1])
    return ra


def _way_round(rb: np.ndarray, ra: np.ndarray, steps: float) -> np.ndarray:
    """``ra`` (the samples from key e on, in key s's tangent space, continued) with the root's key e
    (joint 0) taken the way round the keys' velocities point to over the ``steps`` sample steps between
    the keys: a body spinning 300 degrees through a gap ends where a 60 degree turn back would, and the
    principal rotation vector takes that short way, against the spin (a whip, the body half a turn off
    mid-gap). Key e becomes the turn of its rotation closest to the keys' mean velocity times the gap
    (one-step differences), another turn than the principal one only where that guess lies over five
    eighths of a turn beyond it; unchanged without a sample beside each key. Only the root: other joints
    turn more than half a turn through a gap in under 0.1 % of real gaps, where this guess (a swinging
    limb's velocity carried across the gap) was wrong 10-50 times as often as right. On the root of
    0.5 / 1 / 1.5 s gaps (CMU dance, Bandai; every 10th window of 120-150 clips each) it caught 113 /
    234 / 212 of the 115 / 336 / 465 gaps that turn the other way round, and gave a wrong turn to 0 /
    39 / 137 others (hence ``WAY_ROUND_MAX_SECONDS``)."""
    guess = _key_turn(rb, ra, steps)
    if guess is None:
        return ra
    ra[:, 0, 0] = nearest_rotvec(ra[:, 0, 0], guess, margin=WAY_ROUND_MARGIN)
    return _continue(ra)


#: how far past half a turn (radians) the keys' velocities must point before the root takes another
#: way round than the principal one (:func:`_way_round`), or a whole turn more (:func:`_spin`)
WAY_ROUND_MARGIN = 0.25 * np.pi


def _key_turn(rb: np.ndarray, ra: np.ndarray, steps: float) -> np.ndarray | None:
    """The root's turn ``(B, 3)`` over the ``steps`` sample steps between the keys that the keys' mean
    velocity (one-step differences of the rotation vectors ``rb``, ``ra`` of :func:`_way_round`) points
    to; None without a sample beside each key."""
    if rb.shape[1] < 2 or ra.shape[1] < 2:
        return None
    return 0.5 * (rb[:, -1, 0] - rb[:, -2, 0] + ra[:, 1, 0] - ra[:, 0, 0]) * steps


def _spin(rb: np.ndarray, ra: np.ndarray, steps: float) -> np.ndarray | None:
    """The root's whole turns through a gap of ``steps`` sample steps, as a rotation per sample step
    ``(B, 3)`` about the axis of :func:`_key_turn`: ``2 pi k`` over the gap, ``k`` the turns it holds past
    five eighths of a turn; None when no window turns that far (or a key has no sample beside it)."""
    guess = _key_turn(rb, ra, steps)
    if guess is None:
        return None
    size = np.linalg.norm(guess, axis=-1, keepdims=True)
    turns = np.floor((size + np.pi - WAY_ROUND_MARGIN) / (2.0 * np.pi))
    if not np.any(turns):
        return None
    return 2.0 * np.pi * turns * guess / np.maximum(size, 1e-12) / steps


def _turned(spin: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Rotations ``(B, N, 4)`` of ``spin (B, 3)`` per sample step, ``tau (N,)`` steps on."""
    return axis_angle_to_quat(spin[:, None, :] * tau[None, :, None])


def _tangent_sides(bq: np.ndarray, aq: np.ndarray, way_round_steps: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Key s = ``bq[:, -1]`` ``(B, J, 4)`` and the samples ``bq (B, nb, J, 4)``, ``aq (B, na, J, 4)`` as
    rotation vectors in its tangent space ``(B, nb / na, J, 3)`` (zero at key s), the samples after
    key e kept on key e's side of half a turn; with ``way_round_steps`` (sample steps from key s to key
    e) the root takes the way round the keys' velocities point to (:func:`_way_round`), and where they
    turn it a whole turn or more through the gap (:func:`_spin`), its samples are seen from a frame that
    makes those turns about the spin's axis from key s to key e (identity at both keys): the rotation
    left to draw is then under a turn, along the spin's own axis, where whole turns about the axis of
    that remainder (under a degree from a full turn: any axis) whipped the body round. Returns
    ``(q0, rb, ra, spin)``; :func:`_drawn` turns the drawn curve back by ``spin``."""
    q0 = bq[:, -1]
    rb, ra = rel_log(q0[:, None], bq), _continue(rel_log(q0[:, None], aq))
    spin = None
    if way_round_steps is not None:
        spin = _spin(rb, ra, way_round_steps)
        if spin is not None:  # the samples' steps from key s: before it, and from key e on
            for r, tau in ((rb, np.arange(1 - rb.shape[1], 1.0)), (ra, way_round_steps + np.arange(ra.shape[1]))):
                r[:, :, 0] = quat_to_axis_angle(quat_mul(_turned(-spin, tau), axis_angle_to_quat(r[:, :, 0])))
            ra = _continue(ra)
        ra = _way_round(rb, ra, way_round_steps)
    return q0, rb, ra, spin


def _drawn(q0: np.ndarray, r: np.ndarray, spin: np.ndarray | None, tau: np.ndarray) -> np.ndarray:
    """Rotations ``(B, U, J, 4)`` of the curve ``r (B, U, J, 3)`` drawn in the tangent space at key s
    ``q0 (B, J, 4)``, ``tau (U,)`` sample steps after key s, the root turned by ``spin`` (see
    :func:`_tangent_sides`)."""
    q = rel_exp(q0[:, None], r)
    if spin is not None:
        turned = quat_mul(_turned(spin, tau), axis_angle_to_quat(r[:, :, 0]))
        q[:, :, 0] = quat_mul(np.broadcast_to(q0[:, None, 0], turned.shape), turned)
    return q


def _way_round_steps(steps: float, seconds: float | None) -> float | None:
    """``steps`` where a gap of ``seconds`` gets :func:`_way_round` (known, up to
    ``WAY_ROUND_MAX_SECONDS``), else None."""
    return steps if seconds is not None and seconds <= WAY_ROUND_MAX_SECONDS else None


def _rotation_hermite(bq: np.ndarray, aq: np.ndarray, n: int, order: int, step: float, seconds: float | None
                      ) -> np.ndarray:
    """Hermite of rotation vectors in the tangent space at key s = ``bq[:, -1]`` (see
    :func:`hermite_from_sides`): ``(B, n-1, J, 4)``."""
    i = bq.shape[1] - 1
    q0, rb, ra, spin = _tangent_sides(bq, aq, _way_round_steps(n / step, seconds))
    w0, w1 = key_velocity(rb, i, -1, order, 1) / step, key_velocity(ra, 0, 1, order, 1) / step
    rr = _segment(rb[:, i], ra[:, 0], w0, w1, n)  # (n-1, B, J, 3)
    return _drawn(q0, np.moveaxis(rr, 0, 1), spin, np.arange(1, n) / step)


def hermite_from_sides(bt: np.ndarray, bq: np.ndarray, at: np.ndarray, aq: np.ndarray, n: int, order: int = 1,
                       step: float = 1.0, global_weight: float = 0.0, seconds: float | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite over the ``n - 1`` frames between key s = ``bt[:, -1]`` and key e = ``at[:, 0]``
    (``n`` frames apart): ``bt (B, nb, 3)``, ``bq (B, nb, J, 4)`` are samples ending with key s and
    ``at``, ``aq`` samples starting with key e, ``step`` frames apart; key velocities of ``order``
    (:func:`key_velocity`) divided by ``step``. Rotations: Hermite of rotation vectors in the tangent
    space at key s; with ``global_weight`` > 0 the body joints' rotations are slerped that far towards
    the same curve drawn through their global orientations (:func:`blend_global`); ``seconds``, the
    gap's length, says whether joint 0 (the root) takes the way round its keys' velocities point to
    (:func:`_way_round`; None: never, as for arrays of other joints). Returns ``(B, n-1, 3)``,
    ``(B, n-1, J, 4)``."""
    i = bt.shape[1] - 1
    v0, v1 = key_velocity(bt, i, -1, order, 1) / step, key_velocity(at, 0, 1, order, 1) / step
    tr = np.moveaxis(_segment(bt[:, i], at[:, 0], v0, v1, n), 0, 1)  # (B, n-1, 3)
    q = _rotation_hermite(bq, aq, n, order, step, seconds)
    if global_weight > 0.0:
        q = blend_global(q, body_local(_rotation_hermite(body_global(bq), body_global(aq), n, order, step, seconds)),
                         global_weight)
    return tr, q


def min_jerk_map(n: int, nb: int, na: int, acc_weight: float = MIN_JERK_ACC_WEIGHT) -> np.ndarray:
    """``(n-1, nb+na)`` linear map from known samples to the ``n - 1`` frames between key s and key e
    (``n`` frames apart) that minimises the summed squared third differences plus ``acc_weight`` times
    the squared second differences over the whole run: ``nb`` samples ending with key s, the gap,
    ``na`` samples starting with key e. With a single known sample on both sides it is the straight
    line; the curve is invariant to adding a constant (the map's rows sum to 1)."""
    W = nb + n - 1 + na
    eye = np.eye(W)
    A = np.concatenate([np.diff(eye, 3, axis=0), np.sqrt(acc_weight) * np.diff(eye, 2, axis=0)])  # (2W-5, W)
    gap = np.zeros(W, bool)
    gap[nb:nb + n - 1] = True
    Au, Ak = A[:, gap], A[:, ~gap]
    return -np.linalg.solve(Au.T @ Au, Au.T @ Ak)


def min_jerk_from_sides(bt: np.ndarray, bq: np.ndarray, at: np.ndarray, aq: np.ndarray, n: int,
                        acc_weight: float = MIN_JERK_ACC_WEIGHT, global_weight: float = 0.0,
                        seconds: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`min_jerk` over the ``n - 1`` frames between key s = ``bt[:, -1]`` and key e = ``at[:, 0]``
    from the samples ``bt (B, nb, 3)``, ``bq (B, nb, J, 4)`` ending with key s and ``at``, ``aq``
    starting with key e (consecutive frames, ``acc_weight`` already at the clip's rate). Rotations in
    the tangent space at key s (like :func:`hermite_from_sides`), body rotations ``global_weight`` of
    the way to the same curve through their global orientations; ``seconds``: as in
    :func:`hermite_from_sides`. Returns ``(B, n-1, 3)``, ``(B, n-1, J, 4)``."""
    P = min_jerk_map(n, bt.shape[1], at.shape[1], acc_weight)

    def rotations(bq: np.ndarray, aq: np.ndarray) -> np.ndarray:
        q0, rb, ra, spin = _tangent_sides(bq, aq, _way_round_steps(n, seconds))
        return _drawn(q0, np.einsum("uk,bk...->bu...", P, np.concatenate([rb, ra], 1)), spin, np.arange(1.0, n))

    tr = np.einsum("uk,bkc->buc", P, np.concatenate([bt, at], 1))
    q = rotations(bq, aq)
    if global_weight > 0.0:
        q = blend_global(q, body_local(rotations(body_global(bq), body_global(aq))), global_weight)
    return tr, q


def min_jerk(trans: np.ndarray, rot: np.ndarray, s: int, e: int, acc_weight: float = MIN_JERK_ACC_WEIGHT,
             global_weight: float = GLOBAL_WEIGHT, fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-jerk fill of frames ``s+1 .. e-1`` of a clip at ``fps`` from the ``MIN_JERK_SIDE``
    frames on each side of the gap (fewer at the clip's ends): returns ``(e-s-1, 3)``,
    ``(e-s-1, J, 4)``. ``acc_weight`` is per frame at 30 fps (scaled to ``fps``; None: taken as 30 fps,
    and the root takes the principal rotation, :func:`_way_round`); body rotations ``global_weight`` of
    the way to the global curve (the module's ``min_jerk`` method)."""
    _check_gap(len(trans), s, e)
    lo, hi = max(0, s - MIN_JERK_SIDE + 1), min(len(trans), e + MIN_JERK_SIDE)
    tr, q = min_jerk_from_sides(trans[None, lo:s + 1], rot[None, lo:s + 1], trans[None, e:hi], rot[None, e:hi],
                                e - s, acc_weight * (30.0 / (fps or 30.0)) ** 2, global_weight,
                                None if fps is None else (e - s) / fps)
    return tr[0], q[0]


def lerp_slerp(trans: np.ndarray, rot: np.ndarray, s: int, e: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear root and slerped rotations between keys ``s`` and ``e`` (frames ``s+1 .. e-1``)."""
    _check_gap(len(trans), s, e)
    n = e - s
    u = np.arange(1, n) / n
    tr = trans[s] * (1 - u[:, None]) + trans[e] * u[:, None]
    q = quat_slerp(np.broadcast_to(rot[s], (n - 1,) + rot.shape[1:]),
                   np.broadcast_to(rot[e], (n - 1,) + rot.shape[1:]),
                   np.broadcast_to(u[:, None], (n - 1, rot.shape[1])))
    return tr, q


def zero_velocity(trans: np.ndarray, rot: np.ndarray, s: int, e: int) -> tuple[np.ndarray, np.ndarray]:
    """Key ``s`` held over frames ``s+1 .. e-1``."""
    _check_gap(len(trans), s, e)
    n = e - s - 1
    return np.repeat(trans[s:s + 1], n, 0), np.repeat(rot[s:s + 1], n, 0)


def fill_gap(trans: np.ndarray, rot: np.ndarray, s: int, e: int, method: str = "hermite",
             fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole clip (SMPL joints, the root first) at ``fps`` with frames strictly between keys ``s`` and
    ``e`` replaced by ``method``'s answer (one of :data:`GAP_METHODS`; ``fps`` None: the root takes the
    principal rotation, and ``min_jerk`` its 30 fps weight). Inputs are not modified."""
    fn = {"hermite": lambda *a: hermite(*a, fps=fps), "hermite2": lambda *a: hermite(*a, order=2, fps=fps),
          "hermite2_global": lambda *a: hermite(*a, order=2, global_weight=GLOBAL_WEIGHT, fps=fps),
          "min_jerk": lambda *a: min_jerk(*a, fps=fps), "lerp_slerp": lerp_slerp,
          "zero_velocity": zero_velocity}.get(method)
    if fn is None:
        raise A4merError(f"unknown gap method {method!r}; expected one of {', '.join(GAP_METHODS)}")
    tr, q = fn(trans, rot, s, e)
    out_t, out_q = np.array(trans, dtype=float), np.array(rot, dtype=float)
    out_t[s + 1:e], out_q[s + 1:e] = tr, q
    return out_t, out_q


def catmull_rom_keys(trans: np.ndarray, rot: np.ndarray, keys: np.ndarray, method: str = "hermite"
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Fill every gap between sorted key frames ``keys (K,)`` from the keys alone (the blocking case).

    ``method="hermite"``: Catmull-Rom (tangent at key k = (x[k+1] - x[k-1]) / (t[k+1] - t[k-1]) in the
    tangent space of the segment's first key; one-sided at the first/last key). ``"lerp_slerp"`` and
    ``"zero_velocity"`` fill each gap as :func:`fill_gap` would from its two keys. Frames outside
    [keys[0], keys[-1]] and the keys themselves are copied. Returns full ``(T, 3)``, ``(T, J, 4)``."""
    keys = np.asarray(sorted(set(int(k) for k in keys)))
    T = len(trans)
    if len(keys) < 2 or keys[0] < 0 or keys[-1] >= T:
        raise A4merError(f"need at least two key frames inside the {T}-frame clip, got {keys.tolist()}")
    out_t, out_q = np.array(trans, dtype=float), np.array(rot, dtype=float)
    for i in range(len(keys) - 1):
        s, e = int(keys[i]), int(keys[i + 1])
        if e - s < 2:
            continue
        if method != "hermite":
            tr, q = {"lerp_slerp": lerp_slerp, "zero_velocity": zero_velocity}[method](trans, rot, s, e)
        else:
            a = int(keys[i - 1]) if i > 0 else None
            b = int(keys[i + 2]) if i + 2 < len(keys) else None
            tr, q = (x[0] for x in catmull_batch(trans[None], rot[None], a, s, e, b))
        out_t[s + 1:e], out_q[s + 1:e] = tr, q
    return out_t, out_q


def catmull_batch(trans: np.ndarray, rot: np.ndarray, a: int | None, s: int, e: int, b: int | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Catmull-Rom over frames s+1..e-1 of windows ``trans (B, W, 3)``, ``rot (B, W, J, 4)`` through
    keys (a), s, e, (b) (one-sided where a / b is None): centred tangents per frame, rotations in the
    tangent space at key s (key b on key e's side of half a turn: :func:`nearest_rotvec`). Returns
    ``(B, e-s-1, 3)``, ``(B, e-s-1, J, 4)``."""
    n = e - s
    m0 = (trans[:, e] - trans[:, a]) / (e - a) if a is not None else (trans[:, e] - trans[:, s]) / n
    m1 = (trans[:, b] - trans[:, s]) / (b - s) if b is not None else (trans[:, e] - trans[:, s]) / n
    tr = _segment(trans[:, s], trans[:, e], m0, m1, n)
    q0 = rot[:, s]
    r_e = rel_log(q0, rot[:, e])
    w0 = (r_e - rel_log(q0, rot[:, a])) / (e - a) if a is not None else r_e / n
    w1 = nearest_rotvec(rel_log(q0, rot[:, b]), r_e) / (b - s) if b is not None else r_e / n
    r = _segment(np.zeros_like(r_e), r_e, w0, w1, n)
    return np.moveaxis(tr, 0, 1), rel_exp(q0[:, None], np.moveaxis(r, 0, 1))


def natural_spline_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """First derivatives ``(K, ...)`` at the knots ``x (K,)`` (increasing) of the natural cubic spline
    (C2, zero second derivative at both ends) through values ``y (K, ...)`` (tridiagonal solve)."""
    K = len(x)
    h = np.diff(x).astype(float)
    if K < 3:
        d = (y[-1] - y[0]) / (x[-1] - x[0])
        return np.broadcast_to(d, y.shape).copy()
    shp = (-1,) + (1,) * (y.ndim - 1)
    slope = np.diff(y, axis=0) / h.reshape(shp)  # (K-1, ...)
    # interior second derivatives M[1..K-2]: h[i-1] M[i-1] + 2 (h[i-1] + h[i]) M[i] + h[i] M[i+1] = rhs
    diag = 2.0 * (h[:-1] + h[1:])
    rhs = 6.0 * (slope[1:] - slope[:-1])
    c = np.empty(K - 2)
    d = np.empty_like(rhs)
    c[0], d[0] = h[1] / diag[0], rhs[0] / diag[0]
    for i in range(1, K - 2):  # Thomas algorithm
        den = diag[i] - h[i] * c[i - 1]
        c[i] = h[i + 1] / den
        d[i] = (rhs[i] - h[i] * d[i - 1]) / den
    M = np.zeros_like(y, dtype=float)
    M[K - 2] = d[K - 3]
    for i in range(K - 4, -1, -1):
        M[i + 1] = d[i] - c[i] * M[i + 2]
    out = np.empty_like(M)
    out[:-1] = slope - h.reshape(shp) * (2.0 * M[:-1] + M[1:]) / 6.0
    out[-1] = slope[-1] + h[-1] * (M[-2] + 2.0 * M[-1]) / 6.0
    return out


def natural_spline_keys(trans: np.ndarray, rot: np.ndarray, keys: np.ndarray, global_weight: float = 0.0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Fill every gap between sorted key frames ``keys (K,)`` with the natural cubic spline through
    all keys: root translation per coordinate, rotations per sign-continuous quaternion component
    (normalised); ``global_weight`` > 0 slerps the body rotations that far towards the spline through
    their global orientations (as in :func:`hermite_from_sides`). Frames outside [keys[0], keys[-1]]
    and the keys are copied. Returns full ``(T, 3)``, ``(T, J, 4)``. For close keys (up to 0.2 s
    apart) it beats Catmull-Rom on every source; for keys 0.3 s and more apart Catmull-Rom is as good
    or better (Bandai)."""
    keys = np.asarray(sorted(set(int(k) for k in keys)))
    T = len(trans)
    if len(keys) < 2 or keys[0] < 0 or keys[-1] >= T:
        raise A4merError(f"need at least two key frames inside the {T}-frame clip, got {keys.tolist()}")
    out_t, out_q = np.array(trans, dtype=float), np.array(rot, dtype=float)
    span = np.arange(keys[0], keys[-1] + 1)
    fill = span[~np.isin(span, keys)]  # every frame between keys, all spans at once
    seg = np.searchsorted(keys, fill) - 1  # the span between keys each frame lies in
    n = (keys[seg + 1] - keys[seg]).astype(float)
    h00, h10, h01, h11 = hermite_basis((fill - keys[seg]) / n)

    def curve(k):  # the spline through values ``k`` at the keys, at the fill frames
        v = natural_spline_slopes(keys, k)  # per frame, so each span's tangents are n * v
        c = (slice(None),) + (None,) * (k.ndim - 1)
        nc = n[c]
        return (h00[c] * k[seg] + h10[c] * (nc * v[seg]) + h01[c] * k[seg + 1] + h11[c] * (nc * v[seg + 1]))

    def rotation_curve(key_q):  # per sign-continuous quaternion component, normalised, in the keys' signs
        kq = quat_unflip(key_q)
        sign = np.where(np.sum(kq * key_q, axis=-1, keepdims=True) < 0, -1.0, 1.0)
        q = curve(kq)
        return sign[seg] * q / np.linalg.norm(q, axis=-1, keepdims=True)

    out_t[fill] = curve(out_t[keys])
    out_q[fill] = rotation_curve(out_q[keys])
    if global_weight > 0.0 and len(fill):
        gq = rotation_curve(body_global(out_q[keys]))
        out_q[fill] = blend_global(out_q[fill], body_local(gq), global_weight, seg, len(keys) - 1)
    return out_t, out_q


def natural_spline_at(trans: np.ndarray, rot: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3)``, ``(N, J, 4)`` at fractional frame coordinates ``coords (N,)`` in [0, T-1] of the
    natural cubic spline through every frame of ``trans (T, 3)``, ``rot (T, J, 4)`` (rotations per
    sign-continuous quaternion component, normalised): C2 where lerp/slerp between frames kinks at
    every sample (resampling a 30 fps result to 120 fps)."""
    T = len(trans)
    if T < 2:
        return np.repeat(trans[:1], len(coords), 0), np.repeat(rot[:1], len(coords), 0)
    x = np.arange(T, dtype=float)
    q = quat_unflip(np.asarray(rot, dtype=float))
    vt, vq = natural_spline_slopes(x, np.asarray(trans, dtype=float)), natural_spline_slopes(x, q)
    i = np.clip(np.floor(coords).astype(int), 0, T - 2)
    h00, h10, h01, h11 = hermite_basis(np.asarray(coords, dtype=float) - i)
    t = (h00[:, None] * trans[i] + h10[:, None] * vt[i] + h01[:, None] * trans[i + 1] + h11[:, None] * vt[i + 1])
    c = (slice(None), None, None)
    qq = h00[c] * q[i] + h10[c] * vq[i] + h01[c] * q[i + 1] + h11[c] * vq[i + 1]
    return t, qq / np.linalg.norm(qq, axis=-1, keepdims=True)


def extend_zero_velocity(trans: np.ndarray, rot: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new frames ``(n, 3)``, ``(n, J, 4)`` holding the last frame."""
    return np.repeat(trans[-1:], n, 0), np.repeat(rot[-1:], n, 0)


def extend_constant_velocity(trans: np.ndarray, rot: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new frames continuing the last frame-to-frame velocity: root ``x[-1] + k (x[-1] - x[-2])``,
    rotations ``q[-1] * exp(k log(q[-2]^-1 q[-1]))`` (constant local angular velocity), k = 1..n."""
    if len(trans) < 2:
        return extend_zero_velocity(trans, rot, n)
    k = np.arange(1, n + 1, dtype=float)
    tr = trans[-1] + k[:, None] * (trans[-1] - trans[-2])
    w = rel_log(rot[-2], rot[-1])  # (J, 3) per frame
    q = rel_exp(rot[-1], k[:, None, None] * w[None])
    return tr, q


def extend_damped_velocity(trans: np.ndarray, rot: np.ndarray, n: int, tau: float = DAMPING_FRAMES
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Like constant velocity, but the velocity decays as ``exp(-k / tau)`` (k frames after the last):
    the motion coasts to a stop after about ``tau`` frames (the base curve of the learned extension)."""
    if len(trans) < 2:
        return extend_zero_velocity(trans, rot, n)
    k = np.arange(1, n + 1, dtype=float)
    dist = tau * (1.0 - rp.exp(-k / tau)) / (1.0 - rp.exp(-1.0 / tau)) * rp.exp(-1.0 / tau)
    dist = dist / dist[0] if n else dist  # one full step at k=1, then decaying steps
    tr = trans[-1] + dist[:, None] * (trans[-1] - trans[-2])
    w = rel_log(rot[-2], rot[-1])
    q = rel_exp(rot[-1], dist[:, None, None] * w[None])
    return tr, q


def extend(trans: np.ndarray, rot: np.ndarray, n: int, method: str = "constant_velocity"
           ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new frames by ``method`` (one of :data:`EXTEND_METHODS`)."""
    fn = {"constant_velocity": extend_constant_velocity, "zero_velocity": extend_zero_velocity,
          "damped_velocity": extend_damped_velocity}.get(method)
    if fn is None:
        raise A4merError(f"unknown extension method {method!r}; expected one of {', '.join(EXTEND_METHODS)}")
    return fn(trans, rot, n)


# --- the bases of the learned corrections (sine series, zero at the keys) --------------------------
def gap_basis(n: int, K: int) -> np.ndarray:
    """``(n - 1, K)`` values of ``sin(k pi u)`` at the frames strictly inside a gap of keys n frames apart."""
    u = np.arange(1, n) / n
    return rp.sin(np.pi * u[:, None] * np.arange(1, K + 1)[None])


def extend_basis(H: int, K: int, horizon: int) -> np.ndarray:
    """``(H, K)`` values of ``sin((k - 1/2) pi t / horizon)`` at t = 1..H frames after the last key."""
    t = np.arange(1, H + 1) / horizon
    return rp.sin(np.pi * t[:, None] * (np.arange(1, K + 1)[None] - 0.5))
