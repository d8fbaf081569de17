"""Running the task MLPs on a clip: interior gaps (at the clip's own rate) and extension (30 fps).

``fill_runs`` generates every interior run of unknown frames of a clip at its own frame rate: a run
whose neighbouring frames are known (dense context) is a ``gap``; a run between sparse keys is
``blocking``. The classical curve (gaps: cubic Hermite, key velocities of the band's order,
``DecoderConfig.gap_velocity_orders``, first order above ``SECOND_ORDER_MAX_FPS``, body rotations
``DecoderConfig.gap_global_weight`` of the way to the curve of their global orientations; blocking:
Catmull-Rom through the keys, or for keys under 0.23 s apart the natural cubic spline through them,
uncorrected) is computed at the clip's rate;
the MLP reads the context sampled at 30 fps from the keys outwards, and its smooth correction (a sine
series over the gap) is evaluated at the clip's frames. ``extend_frames``
appends frames in steps of at most ``horizon`` frames, each step reading the last second (generated
frames included). With ``net=None`` (or a task gated off) the classical curve is returned (extension: constant
velocity).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..geometry import axis_angle_to_quat, lerp_at, quat_apply, quat_conj, quat_mul, quat_unflip, slerp_at
from ..geometry import reproducible as rp
from .baselines import (GLOBAL_WEIGHT, extend_basis, gap_basis, hermite_batch, hermite_from_sides, min_jerk,
                        natural_spline_keys, rel_log, smoothstep)
from .decoder import CorrectionDecoder, DecoderConfig
from .layouts import Example, blocking_example, extend_example, gap_inputs, gap_span, to_canon
from .windows import MODEL_FPS

#: gaps of fewer missing frames (30 fps) get the cubic Hermite alone (measured on held-out clips of
#: every source, the gap MLP loses up to 14 % to Hermite below 4 missing frames and is even at 4)
MIN_GAP_MISSING = 4
#: keys closer than this (frames at 30 fps) get the natural cubic spline through the keys alone
#: (:func:`close_keys`). The blocking MLP is trained from 6 frames on, but at 6 frames it lost to
#: Catmull-Rom on the sources it was not trained on (HDM05 test / bd-bk-dg 1.20 / 1.30 x, CMU dance test
#: 1.06 x), where the spline gives 0.91 / 0.90 / 0.94 x (Bandai: MLP 0.78 x, spline 0.86 x)
MIN_BLOCKING_SPACING = 7
#: above this clip rate, gaps of a band whose base takes second-order key velocities (over 1/30 s
#: steps) get the clip-rate cubic Hermite alone (one-frame differences, what Blender's curves give):
#: on real 60-120 fps mocap, where one-frame differences hardly lag, the 1/30 s differences (and the
#: MLP trained on them) lost to it: 0.25 s gaps at 120 fps 1.13 x (HDM05) and 1.09 x (CMU dance)
SECOND_ORDER_MAX_FPS = 45.0
#: where a gap MLP's familiarity gate fades its correction out, the answer moves towards a better
#: classical curve than the MLP's base (:func:`gap_fallback`; body rotations half-way to the global
#: curve, ``baselines.GLOBAL_WEIGHT``): up to this many missing frames (30 fps) the Hermite with
#: second-order key velocities, beyond it the base Hermite with its key velocities scaled by
#: ``FALLBACK_TANGENT_SCALE`` (velocities decorrelate over long gaps; on the validation
#: clips 0.89-0.99 x Hermite at 45-120 frames on every source)
FALLBACK_MAX_SECOND_ORDER = 40
FALLBACK_TANGENT_SCALE = 0.8
#: dense gaps of up to this many missing frames (30 fps) in clips at up to ``SECOND_ORDER_MAX_FPS``
#: take the minimum-jerk curve as their classical curve (``baselines.min_jerk``: it carries the
#: context's acceleration into the gap). Against the Hermite with second-order key velocities, on
#: every clip of each source (1 s of context, x Hermite): 10 frames HDM05 0.87 -> 0.84, Bandai 0.85
#: -> 0.79-0.81, CMU dance 0.98 -> 1.02; 15-20 frames HDM05 0.89-0.92 -> 0.81-0.83, Bandai 0.89-0.95
#: -> 0.83-0.96, CMU dance 0.96-0.97 -> 0.95; 30 frames HDM05 0.93-0.94 -> 0.88-0.92, Bandai and CMU
#: dance 0.96-0.97 -> 0.99-1.00; beyond 30 frames it loses on every source
MIN_JERK_MAX_MISSING = 30


def decoder_config(net: CorrectionDecoder | None) -> DecoderConfig:
    """The decoder's config, or the default one (bands, context and base curves of the classical
    curves) without a decoder."""
    return net.cfg if net is not None else DecoderConfig()


def unknown_runs(known: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` frame ranges of the unknown runs of ``known (T,)``."""
    k = np.concatenate([[True], np.asarray(known, bool), [True]])
    d = np.diff(k.astype(int))
    return list(zip(np.flatnonzero(d == -1).tolist(), (np.flatnonzero(d == 1) - 1).tolist()))


def gap_mlp_on(gates: dict, band: str) -> bool:
    """Whether the gap MLP ``band`` (``gap0``, ...) corrects: in-betweening is on and that band is not
    gated off (a band the gates do not name is on)."""
    return bool(gates.get("inbetween", False) and gates.get(band, True))


def gap_velocity_order(cfg: DecoderConfig, missing: int, fps: float) -> int:
    """Order of the key velocities of the base curve of a gap of ``missing`` frames (30 fps) in a clip
    at ``fps``: its band's (``DecoderConfig.gap_velocity_orders``), but 1 above ``SECOND_ORDER_MAX_FPS``."""
    return 1 if fps > SECOND_ORDER_MAX_FPS else cfg.velocity_order(cfg.gap_task(missing))


def gap_corrected(net: CorrectionDecoder | None, gates: dict, missing: int, fps: float = MODEL_FPS) -> bool:
    """Whether a gap of ``missing`` frames (30 fps) in a clip at ``fps`` gets the learned correction: a
    decoder, at least ``MIN_GAP_MISSING`` frames, its band's MLP on (:func:`gap_mlp_on`), and the
    base curve the MLP was trained on (:func:`gap_velocity_order`)."""
    if net is None or missing < MIN_GAP_MISSING:
        return False
    task = net.cfg.gap_task(missing)
    return gap_mlp_on(gates, task) and gap_velocity_order(net.cfg, missing, fps) == net.cfg.velocity_order(task)


#: seconds over which a learned correction fades in from each key (:func:`key_taper`)
KEY_RAMP_SECONDS = 0.05


def close_keys(s: int, e: int, fps: float) -> bool:
    """Whether keys ``s < e`` of a clip at ``fps`` are closer than ``MIN_BLOCKING_SPACING`` frames at
    30 fps (0.23 s): such spans get the natural cubic spline through the keys, uncorrected
    (``baselines.natural_spline_keys``; 0.80-0.94 x Catmull-Rom there on every source)."""
    return (e - s) * MODEL_FPS / fps < MIN_BLOCKING_SPACING - 1e-9


def blocking_corrected(net: CorrectionDecoder | None, gates: dict, s: int, e: int, fps: float) -> bool:
    """Whether the span between keys ``s < e`` of a clip at ``fps`` gets the blocking correction: a
    decoder, blocking on, and keys at least ``MIN_BLOCKING_SPACING`` frames apart at 30 fps."""
    return net is not None and bool(gates.get("blocking", False)) and not close_keys(s, e, fps)


class GapCurve(NamedTuple):
    """A classical gap curve: ``kind`` "min_jerk" (``baselines.min_jerk``) or "hermite" (key velocities
    of ``order`` times ``tangent_scale``, :func:`hermite_at_rate`); body rotations ``global_weight`` of
    the way to the curve of their global orientations."""

    kind: str
    order: int = 1
    tangent_scale: float = 1.0
    global_weight: float = GLOBAL_WEIGHT


def gap_fallback(order: int, missing: int, fps: float) -> GapCurve:
    """The classical curve of a dense gap of ``missing`` frames (30 fps) in a clip at ``fps`` whose base
    takes key velocities of ``order``: what the gap gets without a learned correction, and what the
    answer moves to where its MLP's familiarity gate fades the correction out. Body rotations half-way
    to the curve of their global orientations (``GLOBAL_WEIGHT``):

    - the minimum-jerk curve up to ``MIN_JERK_MAX_MISSING`` frames at up to ``SECOND_ORDER_MAX_FPS``;
    - otherwise the Hermite: second-order key velocities up to ``FALLBACK_MAX_SECOND_ORDER`` frames
      (first order above ``SECOND_ORDER_MAX_FPS``), beyond it the base's key velocities scaled by
      ``FALLBACK_TANGENT_SCALE``.

    The gate fades mostly on motion unlike the training sources: on HDM05 (never trained on) 15 / 30 /
    40-frame gaps went from 1.00 / 0.99 / 0.99 x Hermite (no fallback) to 0.97 / 0.97 / 0.97
    (second-order velocities) and 30-frame gaps from 0.970 / 0.986 to 0.951 / 0.971 (test actors /
    bd-bk-dg) with the global blend; Bandai and CMU dance validation clips unchanged (the gate rarely
    fades there). The minimum-jerk curve then took HDM05 (every clip, 1 s of context) 15-frame gaps
    from 1.012 / 0.967 to 0.98 / 0.95 x Hermite and 30-frame gaps from 0.933 / 0.948 to 0.90 / 0.94."""
    if missing <= MIN_JERK_MAX_MISSING and fps <= SECOND_ORDER_MAX_FPS:
        return GapCurve("min_jerk")
    if missing > FALLBACK_MAX_SECOND_ORDER:
        return GapCurve("hermite", order, FALLBACK_TANGENT_SCALE)
    return GapCurve("hermite", 2 if fps <= SECOND_ORDER_MAX_FPS else order)


def classical_at_rate(trans: np.ndarray, rot: np.ndarray, s: int, e: int, lo: int, hi: int, fps: float,
                      curve: GapCurve) -> tuple[np.ndarray, np.ndarray]:
    """The classical ``curve`` ``(1, e-s-1, 3)``, ``(1, e-s-1, 22, 4)`` over frames s+1..e-1 of a clip at
    ``fps`` whose known context spans frames ``lo..hi``."""
    if curve.kind == "min_jerk":
        t, q = min_jerk(trans[lo:hi + 1], rot[lo:hi + 1], s - lo, e - lo, global_weight=curve.global_weight, fps=fps)
        return t[None], q[None]
    return hermite_at_rate(trans, rot, s, e, lo, hi, fps, curve.order, curve.tangent_scale, curve.global_weight)


def gap_reach(cfg: DecoderConfig, fps: float) -> int:
    """Frames of a clip at ``fps`` that a gap example reads on each side of its keys (the dense
    context; the second-order key velocities read less)."""
    return int(np.ceil((gap_span(cfg.context, cfg.gap_stride) - 1) * fps / MODEL_FPS))


def dense_run(known: np.ndarray, s: int, e: int) -> bool:
    """Whether the run between keys ``s < e`` of ``known (T,)`` is a gap in dense frames (each key's
    other neighbour known, or the clip's end there) rather than a span between sparse keys."""
    T = len(known)
    return bool((s == 0 or known[s - 1]) and (e == T - 1 or known[e + 1]))


def missing_at_model_rate(s: int, e: int, fps: float) -> int:
    """Frames strictly between keys ``s < e`` of a clip at ``fps``, counted at 30 fps (rounded)."""
    return max(0, int(round((e - s) * MODEL_FPS / fps)) - 1)


def frames_at(trans: np.ndarray, rot: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New arrays of the frames of ``trans (T, 3)``, ``rot (T, J, 4)`` at (possibly fractional) frame
    coordinates ``coords (N,)`` (lerp / slerp between neighbouring frames)."""
    if np.allclose(coords, np.round(coords)):
        i = np.round(coords).astype(int)
        return trans[i], rot[i]
    return lerp_at(trans, coords), slerp_at(quat_unflip(rot), coords)


def gap_example_at_rate(trans: np.ndarray, rot: np.ndarray, s: int, e: int, lo: int, hi: int, fps: float,
                        C: int, stride: int, relative: bool, base: GapCurve) -> tuple[Example, int]:
    """The gap MLP's example for keys ``s < e`` of ``trans (T, 3)``, ``rot (T, 22, 4)`` at ``fps``, whose
    known context spans frames ``lo..hi``: the context is sampled at 30 fps from each key outwards,
    the base is the curve ``base`` (:func:`classical_at_rate`) at the clip's rate (frames s+1..e-1,
    canonical frame of key s). Returns (example with B = 1, missing frames at 30 fps). At 30 fps with
    a Hermite base this is ``gap_example`` on the window lo..hi."""
    step = fps / MODEL_FPS
    span = gap_span(C, stride)
    nb = min(span, int(np.floor((s - lo) / step + 1e-9)) + 1)  # samples before the gap, key s included
    na = min(span, int(np.floor((hi - e) / step + 1e-9)) + 1)
    G = max(1, missing_at_model_rate(s, e, fps))
    bt, bq = frames_at(trans, rot, s - step * np.arange(nb)[::-1])
    at, aq = frames_at(trans, rot, e + step * np.arange(na))
    wt = np.concatenate([bt, np.repeat(bt[-1:], G, 0), at])[None]  # the gap's own frames are never read
    wq = np.concatenate([bq, np.repeat(bq[-1:], G, 0), aq])[None]
    x, inv, shift = gap_inputs(wt, wq, nb - 1, nb + G, C, stride, relative)
    ct, cq = to_canon(*classical_at_rate(trans, rot, s, e, lo, hi, fps, base), inv, shift)
    return Example(x, ct, cq, inv, shift), G


def hermite_at_rate(trans: np.ndarray, rot: np.ndarray, s: int, e: int, lo: int, hi: int, fps: float,
                    order: int, tangent_scale: float = 1.0, global_weight: float = 0.0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite ``(1, e-s-1, 3)``, ``(1, e-s-1, 22, 4)`` over frames s+1..e-1 of a clip at ``fps``
    whose known context spans frames ``lo..hi``. Order 1: key velocities from the neighbouring frames
    at the clip's rate (what Blender's curves give there). Order 2: second-order differences over
    steps of 1/30 s (samples interpolated at other rates), the base the MLPs were trained on (used
    up to ``SECOND_ORDER_MAX_FPS``; over single frames of 120 fps mocap they amplified its jitter,
    0.1 s gaps 1.19 x Hermite). ``tangent_scale`` multiplies the key velocities; ``global_weight``: how
    far the body rotations move towards the curve of their global orientations
    (``baselines.hermite_from_sides``)."""
    if order == 1:
        return hermite_batch(trans[None, lo:hi + 1], rot[None, lo:hi + 1], s - lo, e - lo, 1, tangent_scale,
                             global_weight, fps)
    step = fps / MODEL_FPS
    nb = min(2, int(np.floor((s - lo) / step + 1e-9)))  # samples before key s (at most 2)
    na = min(2, int(np.floor((hi - e) / step + 1e-9)))
    bt, bq = frames_at(trans, rot, s - step * np.arange(nb + 1)[::-1])
    at, aq = frames_at(trans, rot, e + step * np.arange(na + 1))
    return hermite_from_sides(bt[None], bq[None], at[None], aq[None], e - s, 2, step / tangent_scale, global_weight,
                              (e - s) / fps)


def _mlp(net: CorrectionDecoder, task: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sine coefficients ``(B, K, 69)`` and familiarity weights ``(B,)`` of the ``task`` MLP for the
    examples' inputs ``x (B, D)`` (one forward pass)."""
    xt = torch.from_numpy(x)
    with torch.no_grad():
        return net(task, xt).double().numpy(), net.tasks[task].weight(xt).double().numpy()


def key_taper(n: int, fps: float, end_key: bool = True, ramp_s: float | None = None) -> np.ndarray:
    """``(n - 1,)`` weights of the frames after a key (strictly before the next key ``n`` frames on
    when ``end_key``) at ``fps``: 0 at the keys, rising as a smoothstep (zero slope at both ends) to 1
    over :data:`KEY_RAMP_SECONDS` (at most a quarter of the span). A correction times this weight
    leaves each key with the base curve's velocity: the sine basis alone is zero at the keys but not
    flat, a kink at every key (at 120 fps a velocity jump of 10-20 x the clip's frame-to-frame change)."""
    ramp_s = KEY_RAMP_SECONDS if ramp_s is None else ramp_s
    i = np.arange(1, n, dtype=float)
    r = max(1.0, min(ramp_s * fps, n / 4.0))
    w = smoothstep(i / r)
    return w * smoothstep((n - i) / r) if end_key else w


def _compose(ex: Example, basis: np.ndarray, mlp: tuple[np.ndarray, float] | None = None,
             fallback: tuple[np.ndarray, np.ndarray] | None = None, taper: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """World-frame result ``(N, 3)``, ``(N, 22, 4)`` of one example: its base plus the correction of
    ``mlp`` = (coefficients ``(K, 69)``, familiarity weight w) when given. ``fallback``: canonical-frame
    classical curve ``(1, N, 3)``, ``(1, N, 22, 4)`` that the result moves to where the MLP's
    familiarity gate fades its correction out (weight ``1 - w``), instead of staying on the base. ``taper (N,)``: weights of both (:func:`key_taper`), so the result leaves the
    keys on the base curve."""
    t, q = ex.base_t[0].astype(float), ex.base_q[0].astype(float)
    if mlp is not None:
        coef, w = mlp
        h = np.ones(len(t)) if taper is None else taper
        corr = (basis @ coef) * h[:, None]  # (N, 69)
        base_t, base_q = t, q
        t = t + corr[:, :3]
        q = quat_mul(q, axis_angle_to_quat(corr[:, 3:].reshape(len(corr), 22, 3)))
        if fallback is not None and w < 1.0:
            s = (1.0 - w) * h
            t = t + s[:, None] * (fallback[0][0] - base_t)
            q = quat_mul(q, axis_angle_to_quat(s[:, None, None] * rel_log(base_q, fallback[1][0])))
    back = quat_conj(ex.inv[0])
    q = q.copy()
    q[:, 0] = quat_mul(np.broadcast_to(back, q[:, 0].shape), q[:, 0])
    return quat_apply(back, t) + ex.shift[0], q


#: the learned corrections fade out on a still input: a span whose known frames around it (and its keys)
#: move less than STILL_DEG_S (mean body-joint turn, degrees/s) and STILL_M_S (pelvis) gets the share
#: of the correction its motion is of that (0 for a held pose: a hold between two equal keys stays a
#: hold; the correction turned joints 12-22 degrees there and walked an extended hold 20-30 cm)
STILL_DEG_S, STILL_M_S = 5.0, 0.05


def motion_share(trans: np.ndarray, rot: np.ndarray, frames: np.ndarray, fps: float) -> float:
    """How much the pose moves over ``frames`` (sorted indices into ``trans (T, 3)``, ``rot (T, J, 4)``
    at ``fps``; steps between non-adjacent frames are spread over their time), as a share of
    :data:`STILL_DEG_S` / :data:`STILL_M_S` in [0, 1] (the fastest step counts)."""
    f = np.asarray(frames, dtype=np.int64)
    if len(f) < 2:
        return 1.0
    dt = np.diff(f) / fps
    q = quat_unflip(rot[f, :22])
    dots = np.abs(np.sum(q[1:] * q[:-1], -1)).clip(0.0, 1.0)
    turn = np.degrees(2.0 * rp.arccos(dots)).mean(-1) / dt  # (N-1,) mean joint turn, degrees/s
    move = np.linalg.norm(np.diff(trans[f], axis=0), axis=-1) / dt
    return float(min(1.0, max((turn / STILL_DEG_S).max(), (move / STILL_M_S).max())))


def fill_runs(net: CorrectionDecoder | None, gates: dict, trans: np.ndarray, rot: np.ndarray,
              known: np.ndarray, fps: float = MODEL_FPS, correction_scale: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray, dict[tuple[int, int], float]]:
    """Fill the interior unknown runs of ``trans (T, 3)``, ``rot (T, 22, 4)`` of a clip at ``fps``
    (known frames copied). Returns the filled arrays and, for each run ``(first, last)`` generated frame
    that went through a learned correction, the share of it that was applied (0-1: the MLP's
    familiarity weight times the run's motion share and ``correction_scale``; empty: none did).
    Every run's example reads known frames only, so the runs are independent: each task's MLP runs
    once over all its runs. ``correction_scale`` multiplies the MLPs' corrections and familiarity
    weights: 0 gives every run the classical answer its gate falls back to; each run's is further
    multiplied by its :func:`motion_share` (its context and keys; a held pose: 0)."""
    known = np.asarray(known, bool)
    T = len(known)
    out_t, out_q = np.array(trans, float), np.array(rot, float)
    keys = np.flatnonzero(known)
    spline = None  # natural spline through every key, for spans between close keys (computed once)
    # bands, context and base curves (without a decoder only the base curves are used)
    cfg = decoder_config(net)
    K, context, stride, rel = cfg.basis, cfg.context, cfg.gap_stride, cfg.relative_rotations
    reach = gap_reach(cfg, fps)
    jobs = []  # (first, last generated frame, task or None without a correction, example, fallback)
    blocks = {}  # key layout -> spans between sparse keys: (first, last generated frame, window start, corrected)
    for a, b in unknown_runs(known):
        if a == 0 or b == T - 1:
            continue
        s, e = a - 1, b + 1
        if dense_run(known, s, e):
            # context: the contiguous known frames on each side (at most what the gap example reads)
            lo = s
            while lo > 0 and known[lo - 1] and s - lo < reach:
                lo -= 1
            hi = e
            while hi < T - 1 and known[hi + 1] and hi - e < reach:
                hi += 1
            missing = missing_at_model_rate(s, e, fps)
            order = gap_velocity_order(cfg, missing, fps)
            use = gap_corrected(net, gates, missing, fps)
            curve = gap_fallback(order, missing, fps)
            # a corrected gap's base is the curve its MLP was trained on; an uncorrected one's is its classical curve
            base = GapCurve("hermite", order, 1.0, cfg.gap_global_weight) if use else curve
            ex, _ = gap_example_at_rate(out_t, out_q, s, e, lo, hi, fps, context, stride, rel, base)
            classical = None if curve == base else to_canon(
                *classical_at_rate(out_t, out_q, s, e, lo, hi, fps, curve), ex.inv, ex.shift)
            ctx = np.r_[lo:s + 1, e:hi + 1]
            jobs.append((a, b, cfg.gap_task(missing) if use else None, ex, classical,
                         motion_share(trans, rot, ctx, fps)))
        elif close_keys(s, e, fps):
            if spline is None:
                spline = natural_spline_keys(trans, rot, keys, GLOBAL_WEIGHT)
            out_t[a:b + 1], out_q[a:b + 1] = spline[0][a:b + 1], spline[1][a:b + 1]
        else:
            i = int(np.searchsorted(keys, s))
            ka = int(keys[i - 1]) if i > 0 else None
            kb = int(keys[i + 2]) if i + 2 < len(keys) else None
            lo = ka if ka is not None else s
            hi = kb if kb is not None else e
            # spans with the same key layout share one batched example (keys every N: nearly all)
            layout = (hi - lo, None if ka is None else ka - lo, s - lo, e - lo, None if kb is None else kb - lo)
            near = [k for k in (ka, s, e, kb) if k is not None]
            blocks.setdefault(layout, []).append((a, b, lo, blocking_corrected(net, gates, s, e, fps),
                                                  motion_share(trans, rot, np.array(near), fps)))
    for (W, *offsets), spans in blocks.items():
        lo = np.array([span[2] for span in spans])[:, None] + np.arange(W + 1)
        ex = blocking_example(out_t[lo], out_q[lo], *offsets, rel, fps)
        for k, (a, b, _, use, share) in enumerate(spans):
            one = Example(ex.x[k:k + 1], ex.base_t[k:k + 1], ex.base_q[k:k + 1], ex.inv[k:k + 1], ex.shift[k:k + 1])
            jobs.append((a, b, "blocking" if use else None, one, None, share))
    mlp = {}  # job index -> (coefficients, familiarity weight)
    for task in {job[2] for job in jobs} - {None}:
        idx = [i for i, job in enumerate(jobs) if job[2] == task]
        coef, w = _mlp(net, task, np.concatenate([jobs[i][3].x for i in idx]))
        scale = [correction_scale * jobs[i][5] for i in idx]
        mlp.update({i: (scale[k] * coef[k], scale[k] * float(w[k])) for k, i in enumerate(idx)})
    for i, (a, b, _, ex, fallback, _share) in enumerate(jobs):
        out_t[a:b + 1], out_q[a:b + 1] = _compose(ex, gap_basis(b - a + 2, K), mlp.get(i), fallback,
                                                  key_taper(b - a + 2, fps))
    return out_t, out_q, {(jobs[i][0], jobs[i][1]): w for i, (_, w) in mlp.items()}


def extend_reach(cfg: DecoderConfig) -> int:
    """Frames at 30 fps before the end of a clip that an extension reads."""
    return 3 * cfg.context


def extend_frames(net: CorrectionDecoder | None, gate: bool, trans: np.ndarray, rot: np.ndarray, n: int
                  ) -> tuple[np.ndarray, np.ndarray, float | None]:
    """``n`` new frames ``(n, 3)``, ``(n, 22, 4)`` after ``trans (T, 3)``, ``rot (T, 22, 4)`` at 30 fps
    (only the last :func:`extend_reach` frames are read; the correction scaled by their
    :func:`motion_share`), and the share of the learned correction applied (0-1, the mean over the
    horizons generated; None without a correction)."""
    ht, hq = np.array(trans, float), np.array(rot, float)
    T0 = len(ht)
    use = net if gate else None
    cfg = decoder_config(net)
    K = cfg.basis if net is not None else 1
    # without a correction the base is plain constant velocity (never worse than the baseline)
    tau = cfg.extend_tau if use is not None else float("inf")
    reach = extend_reach(cfg)
    shares = []
    while len(ht) - T0 < n:
        H = min(cfg.horizon, n - (len(ht) - T0))
        ex = extend_example(ht[None, -reach:], hq[None, -reach:], H, cfg.context, tau, cfg.relative_rotations)
        mlp = None
        if use is not None:
            coef, w = _mlp(use, "extend", ex.x)
            share = motion_share(ht[-reach:], hq[-reach:], np.arange(len(ht[-reach:])), MODEL_FPS)
            mlp = (share * coef[0], share * float(w[0]))
            shares.append(mlp[1])
        t, q = _compose(ex, extend_basis(H, K, cfg.horizon), mlp, taper=key_taper(H + 1, MODEL_FPS, end_key=False))
        ht, hq = np.concatenate([ht, t]), np.concatenate([hq, q])
    return ht[T0:], hq[T0:], float(np.mean(shares)) if shares else None
