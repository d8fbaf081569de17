"""In-betweening protocols: fixed gaps with 1 s of context, and the blocking case (keys every N).

Clips are used at 30 fps. A gap window of gap G is ``context`` frames (key s included), G missing
frames, then ``context`` frames starting with key e; a clip holds up to ``windows_per_clip``
non-overlapping windows and is used for G only when it is at least ``2*context + G`` frames long.
Metrics over the missing frames: MPJPE (mm, global joint positions from FK on the neutral SMPL
skeleton), LaFAN1 L2P / L2Q / NPSS (positions and quaternions canonical at key s), foot skate (cm/s).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..motion import Motion
from . import metrics as M


@dataclass(frozen=True)
class InbetweenConfig:
    """gaps: missing frames at 30 fps; blocking: key spacings; context: frames kept on each side."""

    gaps: tuple[int, ...] = (5, 15, 30, 45, 60, 120)
    blocking: tuple[int, ...] = (5, 10, 20, 30)
    context: int = 30
    windows_per_clip: int = 2
    blocking_max_frames: int = 300


def gap_windows(T: int, gap: int, context: int, max_windows: int) -> list[tuple[int, int, int]]:
    """Windows ``(a, s, e)`` in a T-frame clip: slice start a, keys s = a + context - 1, e = s + gap + 1.

    Windows do not overlap and are spread evenly over the clip; none if T < 2*context + gap."""
    L = 2 * context + gap
    if T < L:
        return []
    n = min(max_windows, T // L)
    starts = np.linspace(0, T - L, n).round().astype(int) if n > 1 else np.array([(T - L) // 2])
    return [(int(a), int(a + context - 1), int(a + context + gap)) for a in starts]


@dataclass
class _Acc:
    """Accumulates per-window numbers of one (task, setting, method)."""

    mpjpe: list = field(default_factory=list)
    skate: list = field(default_factory=list)
    pred_pos: list = field(default_factory=list)
    true_pos: list = field(default_factory=list)
    pred_q: list = field(default_factory=list)
    true_q: list = field(default_factory=list)
    datasets: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    exact: list = field(default_factory=list)
    true_skate: list = field(default_factory=list)


def _score(acc: _Acc, pred: Motion, true: Motion, frames: np.ndarray, ref: int, dataset: str,
           ground: np.ndarray, keep_seq: bool) -> None:
    pp, pq = M.body_fk(pred.rotations, pred.root_translation)
    tp, tq = M.body_fk(true.rotations, true.root_translation)
    acc.mpjpe.append(M.mpjpe_mm(pp[frames], tp[frames]))
    lo, hi = max(frames[0] - 1, 0), min(frames[-1] + 2, len(pp))
    acc.skate.append(M.foot_skate(pp[lo:hi], pred.fps, ground=ground))
    acc.true_skate.append(M.foot_skate(tp[lo:hi], true.fps, ground=ground))
    acc.datasets.append(dataset)
    if keep_seq:
        cpp, cpq = M.canonicalize(pp, pq, ref)
        ctp, ctq = M.canonicalize(tp, tq, ref)
        acc.pred_pos.append(cpp[frames])
        acc.true_pos.append(ctp[frames])
        acc.pred_q.append(cpq[frames])
        acc.true_q.append(ctq[frames])


def _kept_exact(pred: Motion, true: Motion, idx: np.ndarray, tol: float = 1e-12) -> bool:
    """Whether frames ``idx`` of ``pred`` equal ``true`` (and the length is kept). ``tol`` allows for
    the last-bit change of Motion's re-normalisation of quaternions (sign-insensitive)."""
    if pred.num_frames != true.num_frames:
        return False
    dq = np.minimum(np.abs(pred.rotations[idx] - true.rotations[idx]), np.abs(pred.rotations[idx] + true.rotations[idx]))
    return bool(dq.max(initial=0) <= tol and np.abs(pred.root_translation[idx] - true.root_translation[idx]).max(initial=0) <= tol)


def _summary(acc: _Acc, stats: tuple[np.ndarray, np.ndarray] | None) -> dict:
    out = {"windows": len(acc.mpjpe), "mpjpe_mm": float(np.mean(acc.mpjpe)) if acc.mpjpe else None,
           "foot_skate_cm_s": float(np.mean(acc.skate)) if acc.skate else None,
           "true_foot_skate_cm_s": float(np.mean(acc.true_skate)) if acc.true_skate else None,
           "seconds_per_call": float(np.mean(acc.seconds)) if acc.seconds else None,
           "kept_frames_exact": bool(all(acc.exact)) if acc.exact else None}
    by = {}
    for d in sorted(set(acc.datasets)):
        v = [m for m, dd in zip(acc.mpjpe, acc.datasets) if dd == d]
        by[d] = {"windows": len(v), "mpjpe_mm": float(np.mean(v))}
    out["by_dataset"] = by
    if acc.pred_pos and stats is not None:
        pp, tp = np.stack(acc.pred_pos), np.stack(acc.true_pos)
        out["l2p"] = M.l2p(pp, tp, *stats)
        out["l2q"] = M.l2q(np.stack(acc.pred_q), np.stack(acc.true_q))
        out["npss"] = M.npss_quats(np.stack(acc.pred_q), np.stack(acc.true_q))
    return out


def run_gaps(clips: list[tuple[str, str, Motion]], methods: list, cfg: InbetweenConfig,
             stats: tuple[np.ndarray, np.ndarray]) -> dict:
    """Fixed-gap in-betweening. clips: (name, dataset, Motion at 30 fps). methods: objects with
    ``name``, ``tasks`` and ``fill_gap(motion, s, e)``. Returns {gap: {"clips": n, "min_clip_frames": n,
    "too_short": [names of the clips under min_clip_frames], method: summary}}."""
    out = {}
    for gap in cfg.gaps:
        accs = {m.name: _Acc() for m in methods if "inbetween" in m.tasks}
        used, short = set(), []
        for name, ds, clip in clips:
            wins = gap_windows(clip.num_frames, gap, cfg.context, cfg.windows_per_clip)
            if wins:
                used.add(name)
            else:
                short.append(name)
            _, ground = M.foot_heights(M.body_fk(clip.rotations, clip.root_translation)[0])
            for a, s, e in wins:
                true = clip.slice(a, e + cfg.context)
                s0, e0 = s - a, e - a
                frames = np.arange(s0 + 1, e0)
                for m in methods:
                    if m.name not in accs:
                        continue
                    t0 = time.perf_counter()
                    pred = m.fill_gap(true, s0, e0)
                    accs[m.name].seconds.append(time.perf_counter() - t0)
                    kept = np.setdiff1d(np.arange(true.num_frames), frames)
                    accs[m.name].exact.append(_kept_exact(pred, true, kept))
                    _score(accs[m.name], pred, true, frames, s0, ds, ground, True)
        out[str(gap)] = {"clips": len(used), "min_clip_frames": 2 * cfg.context + gap, "too_short": short,
                         **{k: _summary(v, stats) for k, v in accs.items()}}
    return out


def run_blocking(clips: list[tuple[str, str, Motion]], methods: list, cfg: InbetweenConfig) -> dict:
    """Blocking: keys every N frames from frame 0 over the first ``blocking_max_frames`` frames; every
    frame strictly between the first and last key is generated from the keys alone and scored."""
    out = {}
    for N in cfg.blocking:
        accs = {m.name: _Acc() for m in methods if "blocking" in m.tasks}
        used, short = 0, []
        for name, ds, clip in clips:
            T = min(clip.num_frames, cfg.blocking_max_frames)
            keys = np.arange(0, T, N)
            if len(keys) < 3:
                short.append(name)
                continue
            used += 1
            true = clip.slice(0, int(keys[-1]) + 1)
            frames = np.setdiff1d(np.arange(keys[0], keys[-1] + 1), keys)
            _, ground = M.foot_heights(M.body_fk(clip.rotations, clip.root_translation)[0])
            for m in methods:
                if m.name not in accs:
                    continue
                t0 = time.perf_counter()
                pred = m.fill_keys(true, keys)
                accs[m.name].seconds.append(time.perf_counter() - t0)
                accs[m.name].exact.append(_kept_exact(pred, true, keys))
                _score(accs[m.name], pred, true, frames, 0, ds, ground, False)
        out[str(N)] = {"clips": used, "min_clip_frames": 2 * N + 1, "too_short": short,
                       **{k: _summary(v, None) for k, v in accs.items()}}
    return out
