"""Learned in-betweening and extension on Motion clips at any frame rate.

``LearnedHeads`` wraps a :class:`CorrectionDecoder` (or none: the classical curve). Gaps and blocking
are filled at the clip's own frame rate: the classical curve is computed there (gaps: the cubic
Hermite, ``baselines.hermite``, with second-order key velocities up to 12 missing frames at 30 fps
and first-order beyond, ``DecoderConfig.gap_velocity_orders``, its body rotations half-way to the
curve of their global orientations, ``DecoderConfig.gap_global_weight``; above 45 fps those short
gaps get the clip's own Hermite, uncorrected, ``prediction.SECOND_ORDER_MAX_FPS``; blocking:
Catmull-Rom through the keys, what Blender's auto handles give, and between keys under 0.23 s apart
the natural cubic spline through the keys, uncorrected, ``prediction.close_keys``), the MLPs read the
context sampled at 30 fps (the model rate) and their smooth correction is evaluated at the clip's
frames. Extension runs on a 30 fps grid anchored at the last input frame and is mapped back to the
caller's frames by the natural cubic spline through its samples; an input that ends in a repeating
cycle hands over to that cycle between 1 and 3 s (:mod:`cycle`), and a learned continuation stays
within reach of the input's posture (:mod:`posture`). A gap of up to 1 s whose learned
answer sinks the body through the floor takes the classical answer instead where that does not
(``ground.body_sink``; listed in the result's ``meta['classical_spans']``). Every frame that is
not generated is copied unchanged from the input. In gaps and between keys the joints that move no
other body joint (feet, head, wrists) ease to slerp between the keys away from them (``LEAF_JOINTS``:
positions cannot constrain them; their mean error on the benchmark's 30 / 120-frame gaps went
5.5 -> 4.4 / 15.3 -> 5.4 degrees); an extension eases them to their last input rotation (1 s:
11.0 -> 6.6 degrees). Body joints 0-21 are generated; other joints (hands, face) get
the cubic Hermite in a gap, Catmull-Rom between sparse keys, and coast to a stop when extending. Where the
learned correction is used, each answer is the average of the clip's and its mirror image's
(mirrored back): the MLPs were trained on mirrored copies too, and averaging both predictions
lowered the error on held-out clips of every source (30-frame gaps 0.523 -> 0.509 x Hermite,
blocking every 10 frames 0.712 -> 0.688, 1 s extension 0.492 -> 0.484 x constant velocity).

``LearnedHeads.save`` writes the heads file (``heads.safetensors``); reading it, the packaged heads and the
heads in a model bundle are in :mod:`.files`.
"""
from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..conventions import whole_frames
from ..errors import A4merError, A4merWarning  # noqa: F401  (A4merWarning: kept importable from here)
from ..gaps import MAX_GAP_SECONDS, check_extend_length
from ..io.outputs import write_safetensors_atomic
from ..geometry import quat_slerp
from ..motion import Motion
from ..retarget.solve import turn_twist, twist_offsets
from . import baselines as BL
from .prediction import (blocking_corrected, decoder_config, dense_run, extend_frames, extend_reach, fill_runs, frames_at,
                         gap_corrected, gap_reach, missing_at_model_rate, unknown_runs)
from .cycle import CYCLE_CONTEXT_S, continue_cycle, cycle_weight, find_cycle, hand_over
from .posture import (CYCLE_ROTATION_MARGIN, CYCLE_ROTATION_SOFT, POSTURE_CONTEXT_S, keep_height_in_range,
                      keep_hinges_bending_forward, keep_hinges_in_runs, keep_rotations_in_range)
from .ground import FLOOR_CONTEXT_S, SINK_CHECK_MAX_S, SINK_LIMIT, SINK_MARGIN, body_sink, floor_shift, joint_heights
from .windows import MODEL_FPS, mirror

FORMAT = "a4mer-heads"
MIN_CONTEXT_SECONDS = 1.0
TASKS = ("inbetween", "blocking", "extend")


def warn(message: str) -> None:
    """Issue an :class:`A4merWarning` attributed to the first caller outside the a4mer package (the
    user's line, however deep inside a4mer it was raised)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 2  # stacklevel 2: the caller of warn()
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, A4merWarning, stacklevel=level)


#: a pelvis this high (median, m) or this fast (median speed, m/s) is not a person in metres (a clip in
#: centimetres is 100 x off: a stand 90 m, a walk 140 m/s; a person on a 6 m platform or in a car is not)
UNIT_HEIGHT_M = 30.0
UNIT_SPEED_M_S = 50.0


def checked_input(motion: Motion) -> list[str]:
    """``motion`` checked as input of the heads: an :class:`A4merError` unless it is a Motion on an
    SMPL-family skeleton (SMPL, SMPL-H, SMPL-X: the heads read joints 0-21 as SMPL's body); the warnings
    to issue (:func:`unit_warnings`)."""
    from ..skeleton import SMPL
    if not isinstance(motion, Motion):
        raise A4merError(f"expected a Motion, got {type(motion).__name__}")
    if tuple(motion.skeleton.names[:22]) != tuple(SMPL.names[:22]):
        raise A4merError(f"the heads fill SMPL-family clips (SMPL, SMPL-H, SMPL-X joints); this one is on skeleton "
                         f"{motion.skeleton.name!r}: read it with a4mer.api.load_motion (or a4mer convert), which "
                         "retargets it onto SMPL")
    return unit_warnings(motion)


def unit_warnings(motion: Motion) -> list[str]:
    """The warning to issue when ``motion``'s root translation does not look like metres (a clip in
    centimetres: a stand 90 m high, a walk at 140 m/s), else none."""
    trans = motion.root_translation
    height = float(np.median(trans[:, 2]))
    speed = float(np.median(np.linalg.norm(np.diff(trans, axis=0), axis=1))) * motion.fps if len(trans) > 1 else 0.0
    odd = [f"is {height:.1f} m high" if abs(height) > UNIT_HEIGHT_M else "",
           f"moves at {speed:.1f} m/s" if speed > UNIT_SPEED_M_S else ""]
    if not any(odd):
        return []
    return [f"the root {' and '.join(o for o in odd if o)} (median): root_translation should be metres (Z up); "
            "is the clip in centimetres?"]


def _hinges_forward(rot: np.ndarray, known: np.ndarray, fps: float) -> None:
    """Keep the knees and elbows of each interior run of generated frames of ``rot (T, 22, 4)`` (where
    ``known (T,)`` is False) between straight and folded, as far as the known frames within 1 s of it
    go (:func:`~.posture.keep_hinges_in_runs`), in place."""
    runs = [(a, b) for a, b in unknown_runs(known) if a > 0 and b < len(known) - 1]
    keep_hinges_in_runs(rot, runs, known, int(round(fps)))


def _beyond_body(trans: np.ndarray, rot: np.ndarray, known: np.ndarray, fps: float) -> np.ndarray:
    """Rotations ``(T, J, 4)`` of the joints beyond the body (hands, face) with the frames where
    ``known (T,)`` is False filled by classical curves that are C1 at the keys (slerp kinked the
    fingers at every key): a gap in dense frames the cubic Hermite with the neighbouring frames'
    velocities, spans between sparse keys Catmull-Rom; eased to slerp between the keys away from them
    as the body's leaf joints are (:func:`_ease_leaves`: like them, these joints move no body joint, and
    a key velocity carried over a long gap swung a finger past 100 deg off both keys)."""
    keys = np.flatnonzero(known)
    out = BL.catmull_rom_keys(trans, rot, keys, "hermite")[1]
    for a, b in unknown_runs(known):
        if a > 0 and b < len(known) - 1 and dense_run(known, a - 1, b + 1):
            out[a:b + 1] = BL.hermite(trans, rot, a - 1, b + 1)[1]
    _ease_leaves(out, known, fps, joints=range(out.shape[1]))
    return out


#: SMPL joints whose rotation moves no other body joint (feet, head, wrists): joint positions do not
#: constrain them, and both the learned correction and the classical curve drift there (a toe-off's
#: key velocity overshot the toe by 50 deg in a 1 s gap). Inside a generated span they ease to slerp
#: between its keys, fully from LEAF_EASE_S after a key (C1 at the keys, where the span's own curve
#: stays); an extension eases them to their last input rotation over LEAF_EASE_S from the seam
LEAF_JOINTS = (10, 11, 15, 20, 21)
LEAF_EASE_S = 8 / 30


def _leaf_ease(frames_from_key: np.ndarray, fps: float) -> np.ndarray:
    """Weight (0 at a key, 1 from ``LEAF_EASE_S`` on; smoothstep, so C1 at the key) of the eased target
    for frames ``frames_from_key`` away from their nearest key."""
    return BL.smoothstep(frames_from_key / max(1.0, LEAF_EASE_S * fps))


def _ease_leaves(rot: np.ndarray, known: np.ndarray, fps: float, joints=LEAF_JOINTS) -> None:
    """In place: in every interior run of unknown frames of ``rot (T, J, 4)`` (``known (T,)`` False),
    the rotations of ``joints`` (default: the body's leaf joints) eased (smoothstep over
    ``LEAF_EASE_S`` from each key) to slerp between the run's keys (all runs at once: a 5-minute take
    keyed every 8 frames has 1,100)."""
    runs = np.array([(a, b) for a, b in unknown_runs(known) if a > 0 and b < len(known) - 1], int).reshape(-1, 2)
    if not len(runs):
        return
    lens = runs[:, 1] - runs[:, 0] + 1
    s = np.repeat(runs[:, 0] - 1, lens)  # each generated frame's key before and after
    n = np.repeat(lens + 1, lens)
    k = np.arange(len(s)) - np.repeat(np.cumsum(lens) - lens, lens) + 1
    leaf = list(joints)
    slerp = quat_slerp(rot[s][:, leaf], rot[s + n][:, leaf], (k / n)[:, None])
    at = np.ix_(s + k, leaf)
    rot[at] = quat_slerp(rot[at], slerp, _leaf_ease(np.minimum(k, n - k), fps)[:, None])


#: at most this many known frames (evenly spread) give a clip's twist calibration (:func:`clip_twist`)
TWIST_FRAMES = 900


def clip_twist(fps: float, trans: np.ndarray, rot: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """(24, 4) :func:`~a4mer.retarget.solve.twist_offsets` of the frames of ``trans (T, 3)``,
    ``rot (T, >= 22, 4)`` where ``known (T,)`` (default all; at most :data:`TWIST_FRAMES` of them, evenly
    spread): the constant per-joint turn into the joint frames the heads were trained in (twist
    calibrated on the clip). One value per clip and known frames, so a gap's fill does not depend on
    how much of the clip around it is computed."""
    idx = np.arange(len(trans)) if known is None else np.flatnonzero(known)
    if len(idx) > TWIST_FRAMES:
        idx = idx[np.round(np.linspace(0, len(idx) - 1, TWIST_FRAMES)).astype(int)]
    q = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (len(idx), 24, 1))
    q[:, :22] = rot[idx, :22]  # the body (the hands 22-23 at rest)
    return twist_offsets(Motion(fps, trans[idx], q))


def hold_root_without_trans(source: Motion, result: Motion) -> Motion:
    """``result`` with its root where ``source`` holds it on every frame when ``source`` was read from an
    npz without ``trans`` (``meta['no_trans']``: a pose-only clip, standing at the origin): such a file
    cannot hold root motion, and the generated frames must be what it will hold. A clip whose root moves
    is left as it is, whatever its meta says (a pose-only clip given a path with ``with_``, or joined to
    a walk with ``concatenate``, keeps the flag)."""
    trans = source.root_translation
    if not source.meta.get("no_trans") or not np.all(trans == trans[:1]):
        return result
    return result.with_(root_translation=np.repeat(source.root_translation[:1], result.num_frames, 0))


class LearnedHeads:
    """In-betweening / blocking / extension with an optional learned correction of the classical curve."""

    def __init__(self, net=None, gates: dict | None = None, meta: dict | None = None, name: str = "learned",
                 mirror_average: bool = True):
        self.net = net
        self.mirror_average = mirror_average
        self.gates = {t: net is not None for t in TASKS} if gates is None else dict(gates)
        self.meta = dict(meta or {})
        self.name = name
        if net is not None:
            net.eval()

    tasks = TASKS

    def describe(self) -> str:
        on = [t for t in TASKS if self.learned_for(t)]
        off_bands = [] if self.net is None else [t for t in self.net.cfg.gap_tasks() if not self.gates.get(t, True)]
        bands = f"; gap MLPs gated off: {', '.join(off_bands)}" if off_bands and "inbetween" in on else ""
        sym = "; averaged with the mirror image" if self.net is not None and self.mirror_average else ""
        return (f"{self.name}: correction decoder {self.meta.get('config', '')}; learned correction used for "
                f"{', '.join(on) or 'nothing'}{bands} (otherwise: the classical curve){sym}.")

    def learned_for(self, task: str) -> bool:
        """Whether the learned correction is used for ``task`` (one of TASKS) at all."""
        return self.net is not None and bool(self.gates.get(task))

    def gap_learned(self, motion: Motion, start: int, end: int) -> bool:
        """Whether the gap ``start``..``end`` of ``motion`` gets the learned correction (the rule
        ``fill_gap`` applies: :func:`~a4mer.heads.prediction.gap_corrected`)."""
        return gap_corrected(self.net, self.gates, missing_at_model_rate(start, end, motion.fps), motion.fps)

    def keys_learned(self, motion: Motion, keys) -> bool:
        """Whether any gap between the sorted ``keys`` gets the blocking correction (the rule
        ``fill_keys`` applies: :func:`~a4mer.heads.prediction.blocking_corrected`)."""
        keys = [int(k) for k in keys]
        return any(blocking_corrected(self.net, self.gates, s, e, motion.fps) for s, e in zip(keys, keys[1:]))

    # ---- core (no validation) ----------------------------------------------------------------
    def _symmetric(self, run, trans: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        """``run(trans (T, 3), rot (T, 22, 4)) -> (trans, rot, learned)``, averaged with the run on
        the mirror image (mirrored back) when ``mirror_average`` is on and the run used the learned
        correction (``learned`` True, a share or a non-empty dict of them; the classical curves are
        mirror-symmetric already, up to the SMPL rest offsets' own asymmetry). Returns the
        arrays and ``learned``; shares (a float, or a dict of them: :func:`~a4mer.heads.prediction.fill_runs`)
        are the mean of both runs'."""
        t, q, learned = run(trans, rot)
        used = not (learned is None or learned is False or learned == {})  # a share of 0.0: used, faded out
        if not (used and self.mirror_average):
            return t, q, learned
        mt, mq, mirrored = run(*mirror(trans, rot))
        mt, mq = mirror(mt, mq)
        if isinstance(learned, dict):
            learned = {k: 0.5 * (v + mirrored.get(k, v)) for k, v in learned.items()}
        elif isinstance(learned, float):
            learned = 0.5 * (learned + mirrored)
        return 0.5 * (t + mt), quat_slerp(q, mq, 0.5), learned

    def _fill(self, trans: np.ndarray, rot: np.ndarray, known: np.ndarray, fps: float,
              twist: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """``trans (T, 3)``, ``rot (T, J, 4)`` of a clip at ``fps`` with the frames where ``known (T,)``
        is False generated (interior runs only; every other frame copied), and the result's meta:
        ``classical_spans``, the ``[first, last]`` generated frames of the runs that took the classical
        answer because the learned one sank through the floor (:meth:`_not_sinking`), and
        ``learned_shares``, ``[first, last, share]`` of each run that kept a learned correction (the
        share of it applied, :func:`~a4mer.heads.prediction.fill_runs`). The body is filled in the joint frames the heads were
        trained in (turned by ``twist``, default :func:`clip_twist` of the known frames) and turned back."""
        keys = np.flatnonzero(known)
        out_t, out_q = np.array(trans), np.array(rot)
        if rot.shape[1] > 22:  # joints beyond the body (hands, face): the classical C1 curves
            out_q[:, 22:] = _beyond_body(trans, rot[:, 22:], known, fps)
        k = clip_twist(fps, trans, rot, known) if twist is None else twist
        body = turn_twist(rot[:, :22], k)
        ft, fq, shares = self._symmetric(lambda t, q: fill_runs(self.net, self.gates, t, q, known, fps), trans, body)
        swapped = self._not_sinking(trans, body, known, fps, ft, fq)
        _ease_leaves(fq, known, fps)
        fq = turn_twist(fq, k, inverse=True)
        _hinges_forward(fq, known, fps)  # in the clip's own joint frames, where its hinge axes are
        gen = np.flatnonzero(~known)
        gen = gen[(gen > keys[0]) & (gen < keys[-1])]
        out_t[gen], out_q[gen, :22] = ft[gen], fq[gen]
        classical = {tuple(x) for x in swapped}
        return out_t, out_q, {"classical_spans": swapped, "learned_shares": [
            [a, b, round(float(w), 4)] for (a, b), w in sorted(shares.items()) if (a, b) not in classical]}

    def _not_sinking(self, trans: np.ndarray, rot: np.ndarray, known: np.ndarray, fps: float,
                     ft: np.ndarray, fq: np.ndarray) -> list[list[int]]:
        """Give the classical answer (the one the gates fall back to) to every gap in dense frames of
        at most ``SINK_CHECK_MAX_S`` of the filled ``ft (T, 3)``, ``fq (T, 22, 4)`` whose body sinks
        more than ``SINK_LIMIT`` through the floor that the known frames within 1 s rest on while the
        classical answer sinks ``SINK_MARGIN`` less (in place). Returns those gaps' ``[first, last]``.
        At the bottom of an HDM05 squat the learned correction straightened the knees and put the feet
        20 cm under the floor: 15-frame gaps there 74 mm against the classical curve's 42 mm; the
        check takes 45 mm."""
        if self.net is None:
            return []
        heights, reach, alt, swapped = None, int(round(FLOOR_CONTEXT_S * fps)), None, []
        for a, b in unknown_runs(known):
            if (a == 0 or b == len(known) - 1 or (b - a + 1) / fps > SINK_CHECK_MAX_S
                    or not dense_run(known, a - 1, b + 1)):
                continue
            if heights is None:
                heights = joint_heights(ft, fq)
            lo = max(0, a - reach)
            ctx = lo + np.flatnonzero(known[lo:b + reach + 1])
            sink = body_sink(heights[ctx], heights[a:b + 1])
            if sink <= SINK_LIMIT:
                continue
            if alt is None:  # the classical answers (mirror-symmetric already), computed once
                alt = fill_runs(self.net, self.gates, trans, rot, known, fps, correction_scale=0.0)[:2]
                alt_h = joint_heights(*alt)
            if body_sink(heights[ctx], alt_h[a:b + 1]) < sink - SINK_MARGIN:
                ft[a:b + 1], fq[a:b + 1] = alt[0][a:b + 1], alt[1][a:b + 1]
                swapped.append([a, b])
        return swapped

    def fill_gap(self, motion: Motion, s: int, e: int) -> Motion:
        # only the gap and the context read beside it (the heads; 1 s for the floor) are computed (long
        # clips stay fast)
        m = max(gap_reach(decoder_config(self.net), motion.fps), int(round(FLOOR_CONTEXT_S * motion.fps))) + 1
        a, b = max(0, s - m), min(motion.num_frames, e + m + 1)
        known = np.ones(b - a, bool)
        known[s + 1 - a:e - a] = False
        out_t, out_q = np.array(motion.root_translation), np.array(motion.rotations)
        kept = np.ones(motion.num_frames, bool)
        kept[s + 1:e] = False
        twist = clip_twist(motion.fps, out_t, out_q, kept)  # of the whole clip
        out_t[a:b], out_q[a:b], meta = self._fill(out_t[a:b], out_q[a:b], known, motion.fps, twist)
        return motion.with_(root_translation=out_t, rotations=out_q,
                            meta={"classical_spans": [[f + a, g + a] for f, g in meta["classical_spans"]],
                                  "learned_shares": [[f + a, g + a, w] for f, g, w in meta["learned_shares"]]})

    def fill_keys(self, motion: Motion, keys) -> Motion:
        known = np.zeros(motion.num_frames, bool)
        known[np.asarray(keys, int)] = True
        out_t, out_q, meta = self._fill(motion.root_translation, motion.rotations, known, motion.fps)
        return motion.with_(root_translation=out_t, rotations=out_q, meta=meta)

    def extend(self, motion: Motion, n: int) -> Motion:
        T, fps = motion.num_frames, motion.fps
        step = fps / MODEL_FPS
        # 30 fps grid ending on the last input frame, so the new frames start from it exactly (only the
        # samples the cycle search reads; the extension reads the last of them)
        N = min(int(np.floor((T - 1) / step + 1e-9)) + 1, int(round(CYCLE_CONTEXT_S * MODEL_FPS)))
        coords = (T - 1) - step * np.arange(N)[::-1]
        tail_t, tail_q = frames_at(motion.root_translation, motion.rotations[:, :22], coords)
        # in the joint frames of the heads' training data (twist calibrated on the clip), and back below
        k = clip_twist(MODEL_FPS, tail_t, tail_q)
        tail_q = turn_twist(tail_q, k)
        N = min(N, extend_reach(decoder_config(self.net)))
        gt, gq = tail_t[-N:], tail_q[-N:]
        need = int(np.ceil(n / step - 1e-9)) + 1
        learned = self.learned_for("extend")
        nt, nq, share = self._symmetric(lambda t, q: extend_frames(self.net, learned, t, q, need), gt, gq)
        cycle = find_cycle(tail_t, tail_q)
        if cycle is not None:  # a repeating input hands over to its cycle (instead of settling)
            w = cycle_weight(need, MODEL_FPS)
            ct, cq = continue_cycle(tail_t, tail_q, need, cycle)
            nt = (1.0 - w)[:, None] * nt + w[:, None] * ct
            nq = hand_over(nq, cq, w, MODEL_FPS)
        allt, allq = np.concatenate([gt, nt]), np.concatenate([gq, nq])
        at = (N - 1) + np.arange(1, n + 1) / step
        # back to the clip's rate along a C2 curve (lerp/slerp between the 30 fps samples kinks at each)
        st, sq = frames_at(allt, allq, at) if step == 1 else BL.natural_spline_at(allt, allq, at)
        sq = turn_twist(sq, k, inverse=True)
        rot_new = np.repeat(motion.rotations[-1:], n, 0).copy()
        if rot_new.shape[1] > 22:  # hands, face: their own motion coasts to a stop (not frozen at once)
            rot_new[:, 22:] = BL.extend_damped_velocity(motion.root_translation, motion.rotations[:, 22:], n,
                                                        BL.DAMPING_FRAMES * fps / MODEL_FPS)[1]
        rot_new[:, :22] = sq
        # the leaf joints ease from the continuation to their last input rotation (no key to ease to)
        leaf = list(LEAF_JOINTS)
        held = np.broadcast_to(motion.rotations[-1, leaf], (n, len(leaf), 4))
        ease = _leaf_ease(np.arange(1, n + 1), fps)
        if cycle is not None:  # the cycle's own feet, head and wrists
            ease = ease * (1.0 - cycle_weight(n, fps))
        rot_new[:, leaf] = quat_slerp(rot_new[:, leaf], held, ease[:, None])
        c = min(T, int(round(POSTURE_CONTEXT_S * fps)))
        ctx = motion.root_translation[-c:], motion.rotations[-c:, :22]
        if learned:  # not floating off the floor of the input, and within reach of its posture (:mod:`posture`)
            shift = floor_shift(*ctx, st, sq, fps)
            if self.mirror_average:  # the SMPL rest offsets are not exactly left-right symmetric
                shift = 0.5 * (shift + floor_shift(*mirror(*ctx), *mirror(st, sq), fps))
            st = st.copy()
            st[:, 2] = keep_height_in_range(ctx[0][:, 2], st[:, 2] + shift)
            limits = () if cycle is None else (CYCLE_ROTATION_MARGIN, CYCLE_ROTATION_SOFT)
            rot_new[:, :22] = keep_rotations_in_range(ctx[1], rot_new[:, :22], *limits, fps=fps)
        rot_new[:, :22] = keep_hinges_bending_forward(ctx[1], rot_new[:, :22])
        meta = {"cycle": None if cycle is None else {"period_s": cycle.seconds, "mismatch": cycle.mismatch},
                "learned_share": None if share is None else round(share, 4)}
        return motion.with_(root_translation=np.concatenate([motion.root_translation, st]),
                            rotations=np.concatenate([motion.rotations, rot_new]), meta=meta)

    # ---- validated API -----------------------------------------------------------------------
    def inbetween(self, motion: Motion, start: int, end: int) -> Motion:
        """Frames strictly between ``start`` and ``end`` generated from the rest of the clip.

        Errors (A4merError): gap outside the clip, no frame between the keys, gap > 4 s. Warning
        (A4merWarning, also listed in ``result.meta['warnings']``): less than 1 s of context on a side."""
        warns = checked_input(motion)
        T, fps = motion.num_frames, motion.fps
        start, end = whole_frames(start, "start"), whole_frames(end, "end")
        if not (0 <= start < T and 0 <= end < T):
            raise A4merError(f"gap {start}..{end} is outside the clip (frames 0..{T - 1})")
        if end < start:
            raise A4merError(f"gap {start}..{end} ends before it starts: give the earlier key as the start")
        if end - start < 2:
            raise A4merError(f"gap {start}..{end} has no frame strictly between the keys (need end >= start + 2)")
        gap_s = (end - start - 1) / fps
        if gap_s > MAX_GAP_SECONDS + 1e-9:
            raise A4merError(f"gap {start}..{end} is {gap_s:.2f} s long; at most {MAX_GAP_SECONDS:.0f} s "
                             f"({int(MAX_GAP_SECONDS * fps)} frames at {fps:g} fps) can be filled")
        for side, frames in (("before", start + 1), ("after", T - end)):
            if frames / fps < MIN_CONTEXT_SECONDS:
                warns.append(f"only {frames} frame(s) ({frames / fps:.2f} s) of context {side} the gap; "
                             f"at least {MIN_CONTEXT_SECONDS:g} s is recommended")
        for w in warns:
            warn(w)
        out = hold_root_without_trans(motion, self.fill_gap(motion, start, end))
        return out.with_(meta={"warnings": warns, "generated": [start + 1, end - 1]})

    def inbetween_keys(self, motion: Motion, keys) -> Motion:
        """Every gap between the sorted ``keys`` generated in one pass from the keys alone; keys kept.
        ``result.meta``: ``keys`` (sorted), ``generated`` (``[first, last]`` frames of each gap), ``warnings``."""
        warns = checked_input(motion)
        for w in warns:
            warn(w)
        T, fps = motion.num_frames, motion.fps
        if isinstance(keys, (str, bytes)) or not hasattr(keys, "__iter__"):
            raise A4merError(f"keys must be a list of key frames, got {keys!r}")
        keys = sorted(set(whole_frames(k, "a key frame") for k in keys))
        if len(keys) < 2:
            raise A4merError(f"need at least two key frames, got {keys}")
        bad = [k for k in keys if not 0 <= k < T]
        if bad:
            raise A4merError(f"key frames {bad} are outside the clip (frames 0..{T - 1})")
        gaps = np.diff(keys) - 1
        if gaps.max() < 1:
            raise A4merError("the keys leave no frame to generate")
        if gaps.max() / fps > MAX_GAP_SECONDS + 1e-9:
            i = int(np.argmax(gaps))
            raise A4merError(f"keys {keys[i]} and {keys[i + 1]} leave a gap of {gaps[i]} frames ({gaps[i] / fps:.2f} s); "
                             f"at most {MAX_GAP_SECONDS:.0f} s ({int(MAX_GAP_SECONDS * fps)} frames at {fps:g} fps) "
                             "can be filled")
        out = hold_root_without_trans(motion, self.fill_keys(motion, keys))
        return out.with_(meta={"warnings": warns, "keys": keys,
                               "generated": [[a + 1, b - 1] for a, b in zip(keys[:-1], keys[1:]) if b - a > 1]})

    def extend_clip(self, motion: Motion, n: int) -> Motion:
        """``motion`` followed by ``n`` generated frames (input frames unchanged)."""
        warns = checked_input(motion)
        n = whole_frames(n, "the number of frames to add")
        check_extend_length(n, motion.fps)
        if motion.num_frames / motion.fps < MIN_CONTEXT_SECONDS:
            warns.append(f"only {motion.num_frames} frame(s) of context; at least {MIN_CONTEXT_SECONDS:g} s "
                         "is recommended")
        for w in warns:
            warn(w)
        if motion.num_frames < 2:
            raise A4merError("extension needs at least 2 frames of context")
        out = hold_root_without_trans(motion, self.extend(motion, n))
        return out.with_(meta={"warnings": warns, "generated": [motion.num_frames, motion.num_frames + n - 1]})

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, encoder_hash: str = "", training: dict | None = None,
             license: str = "", attributions: list[str] | None = None) -> Path:
        """Write the heads file (float16 weights; metadata: config, gates, encoder hash, training
        summary, and the license and attributions of the data the weights were trained on)."""
        from safetensors.torch import save_file
        if self.net is None:
            raise A4merError("nothing to save: no decoder")
        meta = {"format": FORMAT, "config": self.net.cfg.to_json(), "gates": json.dumps(self.gates),
                "encoder_hash": encoder_hash, "training": json.dumps(training or {}), "license": license,
                "attributions": json.dumps(attributions or [])}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # float16 on disk (the bundle must stay small); loaded back as float32
        state = {k: v.detach().half().contiguous() for k, v in self.net.state_dict().items()}
        return write_safetensors_atomic(path, lambda tmp: save_file(state, tmp, metadata=meta))
