"""Motif-conditioned extension and in-betweening: the generated span performs a requested motif.

A motif of the A4Mer vocabulary (``a4mer.motifs``) is a code pattern, not a pose sequence, so the
conditioning uses a **prototype** per motif id: one representative occurrence of the motif in the
training data (chosen by ``scripts/build_motif_prototypes.py``: among the code-pattern occurrences
in the training clips, one of those whose atom tokens are nearest the mean of all of them, preferring
rows already stored for another motif so the file stays small). The prototype is retargeted onto
the caller's clip:

- **extension** (``n`` frames after the last input frame): a transition of ``R - 1`` frames
  (``R`` = ``ramp_s`` = 0.4 s, at most a third of the span) blends the body joints from the
  unconditioned continuation (the heads' answer, continuous with the input) into the prototype's
  first pose (slerp with a smoothstep weight; the root follows the continuation); the remaining
  frames play the **whole** prototype, its root path and heading rotated and translated to start
  where the transition ends, facing the last input frame's heading. The prototype is
  **time-stretched** (resampled by time) to those frames or, when they are at least 1.5x its own
  length, **looped**: ``r = round(frames / length)`` repetitions, each stretched to ``frames / r``
  and starting where the previous one ended (a short slerp across each loop seam).
- **fill** (frames strictly between two keys): the same transition after the first key and before
  the second; in between the whole prototype, time-stretched, placed at the end of the first
  transition (position and heading), its remaining position and heading error at the start of the
  second transition spread linearly over it. The weight is 0 at the keys: the keys and every kept
  frame are exactly the input's.

Joints beyond the 22 body joints (hands, face) keep the unconditioned answer. The prototypes were
read with each joint's twist calibrated on the clip; they are turned into the caller's joint frames
(:func:`a4mer.retarget.solve.twist_offsets`), so a clip read with the source's twist (a held head turn, a
pronated forearm) keeps it through the motif.

With a ``verifier`` (the A4Mer model; what ``--motif`` uses) up to five transition lengths are
tried and the result is segmented: the first variant whose span the model labels with the requested
motif id is returned, else the first that plays it (the default transition where it fits);
``meta['motif']['recognised']`` says which happened. How often that succeeds on held-out clips:
``docs/benchmarks.md`` (motif-generation).

Prototype file ``a4mer/assets/motif_prototypes.safetensors``: tensors ``rotations`` (F, 22, 3)
float16 local rotations as axis-angle (radians; joint 0 = global orientation, world frame),
``root`` (F, 3) float32 pelvis position (world, metres), ``index`` (M, 2) int32 ``[start, stop)`` rows of each motif id's prototype
(``start == stop``: no prototype); occurrences share rows where they overlap in the same source
clip. Metadata: ``format``, ``schema_version``, ``fps`` (the rows' frame rate), ``model_hash``,
``vocab_hash`` (the A4Mer bundle and vocabulary it belongs to; another vocabulary is refused),
``num_motifs``, ``sources`` (JSON per motif id: ``{"clip", "start_t", "end_t"}`` or null).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import A4merError
from ..io.outputs import write_safetensors_atomic
from ..geometry import (axis_angle_to_quat, axis_quat, quat_apply, quat_mul, quat_to_axis_angle,
                        quat_unflip)
from ..geometry import reproducible as rp
from ..motion import Motion
from ..retarget.solve import turn_twist
from .baselines import natural_spline_at, nearest_rotvec, rel_exp, rel_log, smoothstep
from .ground import joint_heights
from .inbetween import clip_twist, hold_root_without_trans
from .posture import POSTURE_CONTEXT_S, keep_hinges_bending_forward, keep_hinges_in_runs

FORMAT = "a4mer-motif-prototypes"
SCHEMA = 1
RAMP_SECONDS = 0.4
LOOP_AT = 1.5  # extension loops the prototype when n >= LOOP_AT x its length
#: a span that would play the motif faster than this keeps the plain result (with a warning): squeezed
#: 5 x, a motif moved the joints 6 x as far per frame as the keys' neighbours (a jolt at both keys)
MAX_MOTIF_SPEED = 2.5
NUM_BODY = 22
VARIANT_RAMPS = (0.4, 0.25, 0.6, 0.15, 0.8)  # transition lengths (s) tried when verifying
#: time constant (s) of the damped coast a transition blends towards, out of the prototype's first
#: (or last) pose along its velocity there (:func:`_coast`)
COAST_SECONDS = 0.1


def span_scores(seg: dict, a: int, b: int, motif_id: int, pattern: tuple) -> dict:
    """How a segment record (``A4Mer.segment``) sees the generated frames ``a..b`` (inclusive):
    ``exact`` = a motif occurrence with ``motif_id`` overlaps >= 50 % of them; ``ngram`` = the code
    ``pattern`` occurs contiguously among the codes of the atoms lying mostly (>= 50 %) inside them;
    ``codes`` = fraction of the pattern's distinct codes among those atoms' codes."""
    n = b - a + 1
    exact = any(m["motif_id"] == motif_id and min(m["end_frame"], b + 1) - max(m["start_frame"], a) >= 0.5 * n
                for m in seg["motifs"])
    inside = [x["code"] for x in seg["atoms"]
              if min(x["end_frame"], b + 1) - max(x["start_frame"], a) >= 0.5 * (x["end_frame"] - x["start_frame"])]
    L = len(pattern)
    ngram = any(tuple(inside[i:i + L]) == tuple(pattern) for i in range(len(inside) - L + 1))
    return {"exact": bool(exact), "ngram": bool(ngram), "codes": len(set(pattern) & set(inside)) / len(set(pattern))}


#: how to get prototypes for another model or vocabulary (said by every mismatch error)
BUILD_HINT = ("build prototypes for it with `python scripts/build_motif_prototypes.py --bundle BUNDLE [--vocab VOCAB] "
              "--data CLIPS --out FILE` (CLIPS: the prepared data or folder of clips the vocabulary was mined on) "
              "and pass them with --prototypes FILE")


def default_prototypes_path() -> Path:
    """``a4mer/assets/motif_prototypes.safetensors`` (may not exist)."""
    from ..shipped import MOTIF_PROTOTYPES
    return MOTIF_PROTOTYPES


# ---- small geometry helpers --------------------------------------------------------------------
def heading(q0: np.ndarray) -> np.ndarray:
    """Yaw (rad) about world +Z of the body's forward axis (template +Z) for root rotations ``(..., 4)``."""
    fwd = quat_apply(q0, np.broadcast_to([0.0, 0.0, 1.0], q0.shape[:-1] + (3,)))
    return rp.arctan2(fwd[..., 1], fwd[..., 0])


def _yaw_quat(angle) -> np.ndarray:
    return axis_quat("z", np.asarray(angle, float))


def stretch(trans: np.ndarray, rot: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample a clip ``(L, 3)``, ``(L, J, 4)`` by time to ``n >= 2`` frames spanning the same motion
    (first and last frames kept), along the natural cubic spline through its frames (lerp/slerp would
    kink at every source frame when stretching a 30 fps prototype to 120 fps)."""
    c = np.linspace(0.0, len(trans) - 1, int(n))
    return natural_spline_at(trans, rot, c)


def canonical(trans: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The clip moved so frame 0's pelvis is at x = y = 0 (height kept) facing yaw 0."""
    r = _yaw_quat(-heading(rot[0, 0]))
    t = trans - np.array([trans[0, 0], trans[0, 1], 0.0])
    t = quat_apply(np.broadcast_to(r, t.shape[:-1] + (4,)), t)
    q = rot.copy()
    q[:, 0] = quat_mul(np.broadcast_to(r, q[:, 0].shape), q[:, 0])
    return t, q


def floor_offset(ctx_t: np.ndarray, ctx_q: np.ndarray, t: np.ndarray, q: np.ndarray) -> float:
    """Height (m) to add to a placed prototype's root heights ``t (m, 3)`` (rotations ``q (m, 22+, 4)``) so
    its lowest body joint comes to the lowest one of the clip's context frames ``ctx_t (c, 3)``, ``ctx_q
    (c, J, 4)``: the motif plays on the clip's own floor (a clip captured on a 2 m stage dived to the
    prototype's floor at 0)."""
    if not len(ctx_t):
        return 0.0
    return float(joint_heights(ctx_t, ctx_q[:, :NUM_BODY]).min() - joint_heights(t, q[:, :NUM_BODY]).min())


def place(trans: np.ndarray, rot: np.ndarray, pos: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """A canonical clip (see :func:`canonical`) turned to ``yaw`` with frame 0's pelvis over ``pos`` (x, y)."""
    r = _yaw_quat(yaw)
    t = quat_apply(np.broadcast_to(r, trans.shape[:-1] + (4,)), trans) + np.array([pos[0], pos[1], 0.0])
    q = rot.copy()
    q[:, 0] = quat_mul(np.broadcast_to(r, q[:, 0].shape), q[:, 0])
    return t, q


def _coast(t: np.ndarray, q: np.ndarray, k: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis heights ``(K,)`` and body rotations ``(K, J, 4)`` reached ``k (K,)`` frames on from a
    prototype's end pose ``t[0]``, ``q[0]`` along its velocity there (``t[0] - t[1]``, ``q[1]`` to
    ``q[0]`` per frame) at ``fps``, damped with time constant ``COAST_SECONDS``: what a transition blends towards.
    A transition towards the held end pose reached it at rest, and the prototype then set off at full
    speed: a wrist stepped 1.7 then 10.7 cm in consecutive frames at the handover."""
    tau = COAST_SECONDS * fps  # frames
    reach = tau * (1.0 - rp.exp(-np.asarray(k, dtype=np.float64) / tau))  # (K,) frames travelled
    z = t[0, 2] + reach * (t[0, 2] - t[1, 2])
    return z, rel_exp(q[0], reach[:, None, None] * rel_log(q[1], q[0])[None])


def _blend(base_t, base_q, proto_t, proto_q, w) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame blend (weight ``w (N,)``: 0 = base, 1 = prototype) of root position and body rotations:
    each joint turns from the base towards the prototype by the fraction ``w`` of the rotation between
    them, that rotation followed from frame to frame (the short way on the first frame, then whichever
    way round stays continuous). Taking the short way on each frame alone flipped a joint whose base and
    prototype were about half a turn apart round the other way in one frame (an elbow 123 deg, a wrist
    49 cm)."""
    t = base_t + w[:, None] * (proto_t - base_t)
    r = rel_log(base_q, proto_q)  # (N, J, 3), each frame the short way
    for i in range(1, len(r)):
        r[i] = nearest_rotvec(r[i], r[i - 1])
    return t, rel_exp(base_q, w.reshape((-1,) + (1,) * (r.ndim - 1)) * r)


# ---- prototypes ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MotifPrototypes:
    """Pooled prototype frames and, per motif id, its rows (see the module docstring)."""

    rotations: np.ndarray  # (F, 22, 4) float32
    root: np.ndarray  # (F, 3) float32
    index: np.ndarray  # (M, 2) int
    fps: float
    model_hash: str
    vocab_hash: str
    sources: tuple
    path: str = ""
    license: str = ""  # of the data the excerpts come from
    attributions: tuple = ()

    @property
    def num_motifs(self) -> int:
        return len(self.index)

    def has(self, motif_id: int) -> bool:
        return 0 <= motif_id < self.num_motifs and self.index[motif_id, 1] - self.index[motif_id, 0] >= 2

    def check_id(self, motif_id) -> int:
        """``motif_id`` as int; :class:`A4merError` for an unknown id or one without a prototype."""
        n = self.num_motifs
        try:
            mid = int(motif_id)
        except (TypeError, ValueError):
            mid = -1
        if not 0 <= mid < n or str(motif_id).strip() != str(mid):
            raise A4merError(f"unknown motif id {motif_id!r}: the model's motif vocabulary has {n} motifs (ids 0..{n - 1})")
        if not self.has(mid):
            have = int(sum(self.has(i) for i in range(n)))
            raise A4merError(f"motif {mid} has no prototype in {self.path or 'the prototype file'} "
                             f"({have} of {n} motifs have one); choose another motif")
        return mid

    def check(self, model_hash: str | None, vocab_hash: str | None, where: str = "") -> None:
        """Refuse prototypes built for another model or vocabulary."""
        where = where or self.path or "motif prototypes"
        if vocab_hash is not None and vocab_hash != self.vocab_hash:
            raise A4merError(f"{where}: motif prototypes were built for vocabulary {self.vocab_hash} (model "
                             f"{self.model_hash}), but the model's vocabulary is {vocab_hash}; {BUILD_HINT}")
        if model_hash is not None and model_hash != self.model_hash:
            raise A4merError(f"{where}: motif prototypes were built for model {self.model_hash}, but the loaded "
                             f"model is {model_hash}; {BUILD_HINT}")

    def clip(self, motif_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Canonical prototype of ``motif_id``: pelvis ``(L, 3)`` and rotations ``(L, 22, 4)`` at ``fps``,
        starting at x = y = 0 facing yaw 0."""
        mid = self.check_id(motif_id)
        a, b = self.index[mid]
        return canonical(self.root[a:b].astype(float), quat_unflip(self.rotations[a:b].astype(float)))

    def save(self, path: str | os.PathLike) -> Path:
        from safetensors.numpy import save_file
        meta = {"format": FORMAT, "schema_version": str(SCHEMA), "fps": repr(float(self.fps)),
                "model_hash": self.model_hash, "vocab_hash": self.vocab_hash,
                "num_motifs": str(self.num_motifs), "sources": json.dumps(list(self.sources)),
                "license": self.license, "attributions": json.dumps(list(self.attributions))}
        aa = quat_to_axis_angle(quat_unflip(np.asarray(self.rotations, float)))
        arrays = {"rotations": np.ascontiguousarray(aa, np.float16), "root": np.ascontiguousarray(self.root, np.float32),
                  "index": np.ascontiguousarray(self.index, np.int32)}
        return write_safetensors_atomic(path, lambda tmp: save_file(arrays, tmp, metadata=meta))

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, model_hash: str | None = None,
             vocab_hash: str | None = None) -> "MotifPrototypes":
        """Read a prototype file (default: the packaged one); with hashes, refuse another model/vocabulary."""
        from ..artefact import built_from, check_finite, read_artefact
        path = Path(path) if path is not None else default_prototypes_path()
        if not path.is_file():
            raise A4merError(f"{path}: motif prototype file not found; {BUILD_HINT}")
        meta, arr = read_artefact(path, FORMAT, "motif prototype file")
        check_finite(path, arr, "motif prototype file")  # a NaN pose would be played into the user's clip
        with built_from(path, "motif prototype file"):
            if arr["rotations"].ndim != 3 or arr["rotations"].shape[1:] != (NUM_BODY, 3):
                raise ValueError(f"rotations of shape {arr['rotations'].shape}")
            p = cls(axis_angle_to_quat(arr["rotations"].astype(np.float64)).astype(np.float32), arr["root"].astype(np.float32), arr["index"].astype(np.int64),
                    float(meta["fps"]), meta["model_hash"], meta["vocab_hash"], tuple(json.loads(meta["sources"])), str(path),
                    meta.get("license", ""), tuple(json.loads(meta.get("attributions", "[]"))))
        if p.index.ndim != 2 or p.index.shape[1] != 2 or p.index.max(initial=0) > len(p.root) or \
                p.index.min(initial=0) < 0 or (p.index[:, 0] > p.index[:, 1]).any() or \
                p.rotations.shape != (len(p.root), NUM_BODY, 4):
            raise A4merError(f"{path}: motif prototype file is corrupt (index/rows do not match)")
        p.check(model_hash, vocab_hash, str(path))
        return p


# ---- conditioned generation ------------------------------------------------------------------
class MotifConditioner:
    """Extension / in-betweening whose generated span performs a motif; ``heads`` (a
    :class:`~a4mer.heads.inbetween.LearnedHeads`) gives the unconditioned answer that the prototype
    is blended from (see the module docstring)."""

    def __init__(self, prototypes: MotifPrototypes, heads, ramp_s: float = RAMP_SECONDS, verifier=None,
                 ramps: tuple[float, ...] = VARIANT_RAMPS):
        self.prototypes, self.heads, self.ramp_s = prototypes, heads, float(ramp_s)
        self.verifier, self.ramps = verifier, tuple(ramps)

    def _proto_at(self, motif_id: int, fps: float, twist: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Motif ``motif_id``'s prototype at ``fps``, in the joint frames of a clip whose
        :func:`~a4mer.retarget.solve.twist_offsets` are ``twist`` (None: as stored)."""
        t, q = self.prototypes.clip(motif_id)
        if twist is not None:
            q = turn_twist(q, twist, inverse=True)
        n = max(2, int(round((len(t) - 1) * fps / self.prototypes.fps)) + 1)
        return stretch(t, q, n) if n != len(t) else (t, q)

    def _ramp(self, n: int, fps: float, ramp_s: float | None = None) -> int:
        ramp_s = self.ramp_s if ramp_s is None else ramp_s
        return int(max(1, min(round(ramp_s * fps), n // 3)))

    def _motif_id(self, motif_id) -> int:
        """``motif_id`` checked against the prototypes, and these against the verifier's vocabulary now
        (a model whose vocabulary was swapped with ``set_vocab`` after this conditioner was made)."""
        if self.verifier is not None and self.verifier.vocab is not None:
            self.prototypes.check(self.verifier.model_hash, self.verifier.vocab.hash)
        return self.prototypes.check_id(motif_id)

    def _verified(self, source: Motion, make, mid: int) -> Motion:
        """``make(ramp_s) -> Motion`` for the transition lengths to try; without a verifier the default
        one. With one (an :class:`~a4mer.model.A4Mer`), each variant is segmented and the first whose
        every span is recognised as ``mid`` is returned (else the first that plays it: the default
        transition where it fits); ``meta['motif']`` gains ``recognised`` (a fill: one entry per gap, as ``speed``),
        ``ramp_s`` and ``variants_tried``. Only the spans
        that play the motif (``meta['motif']['played_spans']``; too short ones keep the plain result) are
        checked; a variant that plays it nowhere is returned only when no variant plays it."""
        if self.verifier is None:
            return hold_root_without_trans(source, make(self.ramp_s))
        pattern = self.verifier.vocab.motif_pattern(mid)
        best, best_key, tried, plain = None, None, 0, None
        for i, r in enumerate(self.ramps):
            out = hold_root_without_trans(source, make(r))
            tried = i + 1
            spans = [tuple(x) for x in out.meta["motif"]["played_spans"]]
            if not spans:  # nothing of the motif to recognise
                plain = out if plain is None else plain
                continue
            # the whole result, as `a4mer segment` of the output reads it: atoms depend on where the clip
            # starts, and a window cut 10 s before the span found the motif where the whole clip did not
            seg = self.verifier.segment(out)
            sc = [span_scores(seg, a, b, mid, pattern) for a, b in spans]
            # a variant recognised wins, then the most spans recognised, then the first that plays (the default
            # transition where it fits: picked by closer scores, a 0.15 s one snapped at the key, 5 x the frame step)
            key = (all(x["exact"] for x in sc), sum(x["exact"] for x in sc), -i)
            if best_key is None or key > best_key:
                best, best_key = (out, r, [x["exact"] for x in sc]), key
            if key[0]:
                break
        if best is None:  # played nowhere: nothing was checked (a fill: one entry per gap, as ``speed``)
            meta = dict(plain.meta)
            speed = meta["motif"].get("speed")
            meta["motif"] = dict(meta["motif"], recognised=[None] * len(speed) if isinstance(speed, list) else None,
                                 ramp_s=None, variants_tried=tried)
            return plain.with_(meta=meta)
        out, r, per_span = best
        meta = dict(out.meta)
        recognised = bool(best_key[0])
        if isinstance(meta["motif"].get("speed"), list):  # a fill: per gap, as ``speed`` (None: not played)
            found = iter(per_span)
            recognised = [None if sp is None else bool(next(found)) for sp in meta["motif"]["speed"]]
        meta["motif"] = dict(meta["motif"], recognised=recognised, ramp_s=r, variants_tried=tried)
        if not best_key[0]:  # named by its frames, so that each span's report has only its own
            meta["warnings"] = list(meta.get("warnings", [])) + [
                f"frames {a}..{b}: segmented again, the generated span is not recognised as motif {mid} ({tried} "
                "transition variants tried): it performs the motif's prototype only approximately here"
                for (a, b), ok in zip(out.meta["motif"]["played_spans"], per_span) if not ok]
        return out.with_(meta=meta)

    def extend_clip(self, motion: Motion, n: int, motif_id) -> Motion:
        """``motion`` followed by ``n`` frames performing motif ``motif_id`` (input frames unchanged).
        ``result.meta``: ``generated``, ``warnings``, ``motif`` (id, repetitions, speed)."""
        mid = self._motif_id(motif_id)
        base = self.heads.extend_clip(motion, n)
        n, twist = int(n), clip_twist(motion.fps, motion.root_translation, motion.rotations)
        return self._verified(motion, lambda r: self._extend(motion, base, n, mid, r, twist), mid)

    def _extend(self, motion: Motion, base: Motion, n: int, mid: int, ramp_s: float,
                twist: np.ndarray | None = None) -> Motion:
        T, fps = motion.num_frames, motion.fps
        pt, pq = self._proto_at(mid, fps, twist)
        L = len(pt) - 1  # prototype length in frame steps at the clip's rate
        R = self._ramp(n, fps, ramp_s)
        m = n - R + 1  # generated frames T+R-1 .. T+n-1 play the prototype (its frame 0 first)
        if m < 2:
            R, m = 1, n
        if m < 2 or L / (m - 1) > MAX_MOTIF_SPEED:  # one frame, or a motif squeezed: the plain continuation
            fits = (f"after a {(R - 1) / fps:.2f} s transition, {(m - 1) / fps:.2f} s are left: {L / (m - 1):.1f} x "
                    "its speed" if m >= 2 else "one frame")
            warns = list(base.meta.get("warnings", [])) + [
                f"{n} frame(s) are too few to play motif {mid} ({L / fps:.2f} s at its own speed; {fits}, at most "
                f"{MAX_MOTIF_SPEED:g} x): the plain continuation is kept"]
            meta = {"warnings": warns, "generated": [T, T + n - 1],
                    "motif": {"id": mid, "repetitions": 0, "speed": None, "transition_frames": 0, "played_spans": []}}
            return base.with_(meta=meta)
        bt, bq = base.root_translation[T:], base.rotations[T:, :NUM_BODY]
        reps = max(1, int(round((m - 1) / L))) if m - 1 >= LOOP_AT * L else 1
        sizes = np.diff(np.round(np.linspace(0, m - 1, reps + 1)).astype(int))
        pos, yaw = bt[R - 1, :2], float(heading(motion.rotations[-1, 0]))
        gt, gq = [], []
        for k in sizes:
            t, q = stretch(pt, pq, k + 1)
            t, q = place(t, q, pos, yaw)
            if gq:  # loop seam: blend the previous repetition's last pose into this one
                w = smoothstep(np.arange(1, k + 1) / self._ramp(k, fps))
                prev_q = np.broadcast_to(gq[-1][-1], q[1:].shape)
                _, q[1:] = _blend(t[1:], prev_q, t[1:], q[1:], w)
                t, q = t[1:], q[1:]
            gt.append(t)
            gq.append(q)
            pos, yaw = t[-1, :2], float(heading(q[-1, 0]))
        proto_t, proto_q = np.concatenate(gt), np.concatenate(gq)  # (m, ...)
        c = min(T, int(round(POSTURE_CONTEXT_S * fps)))
        proto_t[:, 2] += floor_offset(motion.root_translation[-c:], motion.rotations[-c:], proto_t, proto_q)
        # the transition (first R-1 frames) blends into the prototype's first pose coasting backwards in time
        # (:func:`_coast`); the root's planar velocity blends from the continuation's into the prototype's
        # and is integrated (no jump in speed)
        lead_z, lead_q = _coast(proto_t, proto_q, np.arange(R - 1, 0, -1), fps)
        tgt_q = np.concatenate([lead_q, proto_q])
        w = smoothstep(np.arange(1, n + 1) / R)
        _, nq = _blend(bt, bq, bt, tgt_q, w)
        v0 = proto_t[1, :2] - proto_t[0, :2] if m > 1 else np.zeros(2)
        tv = np.concatenate([np.repeat(v0[None], R, 0), np.diff(proto_t[:, :2], axis=0)])
        vb = np.diff(np.concatenate([motion.root_translation[-1:, :2], bt[:, :2]]), axis=0)
        nt = bt.copy()
        nt[:, :2] = motion.root_translation[-1, :2] + np.cumsum((1 - w)[:, None] * vb + w[:, None] * tv, axis=0)
        tz = np.concatenate([lead_z, proto_t[:, 2]])
        nt[:, 2] = bt[:, 2] + w * (tz - bt[:, 2])
        rot = base.rotations.copy()
        # knees and elbows between straight and folded, as the plain continuation keeps them: blending the
        # prototype in after it bent a knee 21 deg backwards
        rot[T:, :NUM_BODY] = keep_hinges_bending_forward(motion.rotations[-c:, :NUM_BODY], nq)
        trans = base.root_translation.copy()
        trans[T:] = nt
        speed = L / ((m - 1) / reps)
        warns = list(base.meta.get("warnings", []))
        if not 0.5 <= speed <= 2.0:
            warns.append(f"motif {mid} ({L / fps:.2f} s) played at {speed:.2f}x its speed to fit {n} frames")
        meta = {"warnings": warns, "generated": [T, T + n - 1],
                "motif": {"id": mid, "repetitions": reps, "speed": round(speed, 4),
                          "transition_frames": R - 1, "played_spans": [[T, T + n - 1]]}}
        return base.with_(root_translation=trans, rotations=rot, meta=meta)

    def _fill_run(self, base: Motion, trans: np.ndarray, rot: np.ndarray, a: int, b: int, mid: int,
                  ramp_s: float, twist: np.ndarray | None = None) -> float | None:
        """Write motif ``mid`` into frames ``a..b`` (inclusive) of ``trans``/``rot`` (blended with the
        unconditioned ``base``); the keys are ``a - 1`` and ``b + 1``; ``twist``: the clip's
        :func:`~a4mer.retarget.solve.twist_offsets`. Returns the playback speed."""
        fps = base.fps
        n = b - a + 1
        pt, pq = self._proto_at(mid, fps, twist)
        L = len(pt) - 1
        R = self._ramp(n + 1, fps, ramp_s)
        m = n - 2 * (R - 1)  # frames f0..f1 play the whole prototype; transitions before and after
        if m < 2:
            R, m = 1, n
        if m < 2 or L / (m - 1) > MAX_MOTIF_SPEED:  # one frame, or the motif squeezed: the plain fill stays
            return None
        f0, f1 = a + R - 1, b - R + 1
        t, q = stretch(pt, pq, m)
        bt, bq = base.root_translation, base.rotations
        t, q = place(t, q, bt[f0, :2], float(heading(bq[f0, 0])))
        # spread the remaining heading and position error at f1 linearly over the prototype
        s = np.linspace(0.0, 1.0, m)
        dyaw = float(heading(bq[f1, 0]) - heading(q[-1, 0]))
        dyaw = (dyaw + np.pi) % (2 * np.pi) - np.pi
        q[:, 0] = quat_mul(_yaw_quat(s * dyaw), q[:, 0])
        c = int(round(POSTURE_CONTEXT_S * fps))
        ctx = np.r_[max(0, a - c):a, b + 1:min(len(bt), b + 1 + c)]  # the keys' side: kept frames
        t[:, 2] += floor_offset(bt[ctx], bq[ctx], t, q)
        d = np.diff(t, axis=0)  # prototype steps, turned with the spread heading correction
        d = quat_apply(_yaw_quat(s[1:] * dyaw), d)
        lead_z, lead_q = _coast(t, q, np.arange(R - 1, 0, -1), fps)
        trail_z, trail_q = _coast(t[::-1], q[::-1], np.arange(1, R), fps)
        tgt_q = np.concatenate([lead_q, q, trail_q])
        i = np.arange(1, n + 1)
        w = smoothstep(np.minimum(i, n + 1 - i) / R)
        _, nq = _blend(bt[a:b + 1], bq[a:b + 1, :NUM_BODY], bt[a:b + 1], tgt_q, w)
        # root: planar velocity blended from the unconditioned fill's into the prototype's and
        # integrated from the first key; what is left at the second key is spread evenly over the gap
        # with the speed eased in and out over the transitions, zero at both keys (keys exact; spread
        # linearly, a prototype travelling farther than the keys stepped 10 cm from the first key on; with
        # a smoothstep over the whole gap, the prototype's speed profile bent and it was recognised less)
        v0 = d[0, :2] if m > 1 else np.zeros(2)
        v1 = d[-1, :2] if m > 1 else np.zeros(2)
        tv = np.concatenate([np.repeat(v0[None], R, 0), d[:, :2], np.repeat(v1[None], R, 0)])  # (n + 1, 2)
        vb = np.diff(bt[a - 1:b + 2, :2], axis=0)
        ww = np.concatenate([w, [0.0]])
        xy = bt[a - 1, :2] + np.cumsum((1 - ww)[:, None] * vb + ww[:, None] * tv, axis=0)
        k = np.arange(1, n + 2)  # the n + 1 steps from key a - 1 to key b + 1
        ease = smoothstep(np.minimum(k, n + 2 - k) / (max(R, 2) + 1.0))
        xy += (np.cumsum(ease) / ease.sum())[:, None] * (bt[b + 1, :2] - xy[-1])[None]
        nt = bt[a:b + 1].copy()
        nt[:, :2] = xy[:-1]
        tz = np.concatenate([lead_z, t[:, 2], trail_z])
        nt[:, 2] = bt[a:b + 1, 2] + w * (tz - bt[a:b + 1, 2])
        trans[a:b + 1], rot[a:b + 1, :NUM_BODY] = nt, nq
        return L / (m - 1) if m > 1 else None

    def _fill(self, motion: Motion, base: Motion, known: np.ndarray, mid: int) -> Motion:
        from .prediction import unknown_runs
        runs = [(a, b) for a, b in unknown_runs(known) if a > 0 and b < len(known) - 1]
        twist = clip_twist(motion.fps, motion.root_translation, motion.rotations, known)  # what a gap holds is ignored
        return self._verified(motion, lambda r: self._fill_with(motion, base, known, runs, mid, r, twist), mid)

    def _fill_with(self, motion, base, known, runs, mid, ramp_s, twist=None) -> Motion:
        trans, rot = base.root_translation.copy(), base.rotations.copy()
        warns = list(base.meta.get("warnings", []))
        speeds = []
        for a, b in runs:
            sp = self._fill_run(base, trans, rot, a, b, mid, ramp_s, twist)
            speeds.append(sp)
            if sp is None:
                warns.append(f"frames {a}..{b} are too few to play motif {mid} (at most {MAX_MOTIF_SPEED:g} x its "
                             "speed): the plain fill is kept there")
            elif not 0.5 <= sp <= 2.0:
                warns.append(f"motif {mid} played at {sp:.2f}x its speed to fit frames {a}..{b}")
        trans[known], rot[known] = motion.root_translation[known], motion.rotations[known]
        played = [(a, b) for (a, b), sp in zip(runs, speeds) if sp is not None]
        # knees and elbows as the plain fill keeps them (the blend bent one 21 deg backwards); in place
        keep_hinges_in_runs(rot[:, :NUM_BODY], played, known, int(round(motion.fps)))
        meta = dict(base.meta)
        meta.update(warnings=warns, motif={"id": mid, "speed": [None if s is None else round(s, 4) for s in speeds],
                                           "played_spans": [list(p) for p in played]})
        return base.with_(root_translation=trans, rotations=rot, meta=meta)

    def inbetween(self, motion: Motion, start: int, end: int, motif_id) -> Motion:
        """Frames strictly between ``start`` and ``end`` perform motif ``motif_id``; keys and the rest unchanged."""
        mid = self._motif_id(motif_id)
        base = self.heads.inbetween(motion, start, end)
        known = np.ones(motion.num_frames, bool)
        known[int(start) + 1:int(end)] = False
        return self._fill(motion, base, known, mid)

    def inbetween_keys(self, motion: Motion, keys, motif_id) -> Motion:
        """Every gap between the ``keys`` performs motif ``motif_id`` (each gap one occurrence)."""
        mid = self._motif_id(motif_id)
        base = self.heads.inbetween_keys(motion, keys)
        known = np.zeros(motion.num_frames, bool)
        known[np.asarray(base.meta["keys"], int)] = True
        known[:min(base.meta["keys"])] = True
        known[max(base.meta["keys"]) + 1:] = True
        return self._fill(motion, base, known, mid)


def bundle_hashes(bundle: str | os.PathLike | None = None) -> tuple[str | None, str | None, int | None]:
    """``(model_hash, vocab_hash, number of motif ids)`` of an A4Mer bundle read from its safetensors
    header (no torch); Nones when there is no bundle or it has no vocabulary."""
    from ..artefact import BUNDLE_FORMAT, read_artefact
    from ..shipped import DEFAULT_BUNDLE

    path = Path(bundle) if bundle else DEFAULT_BUNDLE
    if not path.is_file():
        return None, None, None
    meta = read_artefact(path, BUNDLE_FORMAT, "model bundle", keys=())[0]
    if "vocab" not in meta:
        return meta.get("model_hash"), None, None
    centroids = read_artefact(path, BUNDLE_FORMAT, "model bundle", keys=("vocab.centroids",))[1]["vocab.centroids"]
    v = json.loads(meta["vocab"])
    return meta.get("model_hash"), v.get("vocab_hash"), len(v.get("patterns", [])) + len(centroids)


def conditioner_for(heads, bundle: str | os.PathLike | None = None, prototypes: str | os.PathLike | None = None,
                    verifier=None) -> MotifConditioner:
    """A :class:`MotifConditioner` on ``heads`` with the prototypes of the bundle's vocabulary
    (default: the packaged bundle and prototype file); a mismatch is a clear error. ``verifier``: an
    :class:`~a4mer.model.A4Mer` that checks the variants (see :meth:`MotifConditioner._verified`); its
    model and vocabulary (e.g. one built with ``a4mer motifs build``) are then the ones the prototypes
    must belong to, instead of ``bundle``'s."""
    if verifier is not None:
        vocab = verifier.vocab
        model_hash = verifier.model_hash
        vocab_hash, n = (None, None) if vocab is None else (vocab.hash, vocab.num_motifs)
    else:
        model_hash, vocab_hash, n = bundle_hashes(bundle)
    if n is None:
        raise A4merError("the model has no motif vocabulary: motif-conditioned generation needs one")
    protos = MotifPrototypes.load(prototypes, model_hash=model_hash, vocab_hash=vocab_hash)
    if protos.num_motifs != n:
        raise A4merError(f"{protos.path}: {protos.num_motifs} motif prototypes for a vocabulary of {n} motifs")
    return MotifConditioner(protos, heads, verifier=verifier)
