"""Extension protocol: from ``context`` frames (1 s at 30 fps), predict the next H frames.

MPJPE (mm) over the H predicted frames (mean over the horizon) of global joint positions from FK on
the neutral SMPL skeleton, plus the error at the last frame of the horizon. A clip serves horizon H
only when it holds at least ``context + H`` frames (reported per horizon).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..motion import Motion
from . import metrics as M


@dataclass(frozen=True)
class ExtensionConfig:
    """horizons: predicted frames at 30 fps (0.5/1/2/3 s); context: frames given."""

    horizons: tuple[int, ...] = (15, 30, 60, 90)
    context: int = 30
    windows_per_clip: int = 2


def ext_windows(T: int, horizon: int, context: int, max_windows: int) -> list[int]:
    """Start frames of non-overlapping windows of ``context + horizon`` frames in a T-frame clip."""
    L = context + horizon
    if T < L:
        return []
    n = min(max_windows, T // L)
    return [int(a) for a in (np.linspace(0, T - L, n).round() if n > 1 else [(T - L) // 2])]


def run_extension(clips: list[tuple[str, str, Motion]], methods: list, cfg: ExtensionConfig) -> dict:
    """clips: (name, dataset, Motion at 30 fps); methods with ``name``, ``tasks`` and ``extend(motion, n)``.
    Returns {horizon: {"clips", "seconds", "min_clip_frames", "too_short" (names),
    method: {mpjpe_mm, final_mpjpe_mm, by_dataset, ...}}}."""
    out = {}
    for H in cfg.horizons:
        res = {m.name: {"mpjpe": [], "final": [], "ds": [], "sec": [], "exact": []}
               for m in methods if "extend" in m.tasks}
        used, short = set(), []
        for name, ds, clip in clips:
            starts = ext_windows(clip.num_frames, H, cfg.context, cfg.windows_per_clip)
            if not starts:
                short.append(name)
            for a in starts:
                used.add(name)
                ctx = clip.slice(a, a + cfg.context)
                true = clip.slice(a, a + cfg.context + H)
                tp, _ = M.body_fk(true.rotations, true.root_translation)
                for m in methods:
                    if m.name not in res:
                        continue
                    t0 = time.perf_counter()
                    pred = m.extend(ctx, H)
                    r = res[m.name]
                    r["sec"].append(time.perf_counter() - t0)
                    r["exact"].append(pred.num_frames == true.num_frames and np.array_equal(
                        pred.rotations[:cfg.context], ctx.rotations) and np.array_equal(
                        pred.root_translation[:cfg.context], ctx.root_translation))
                    pp, _ = M.body_fk(pred.rotations, pred.root_translation)
                    r["mpjpe"].append(M.mpjpe_mm(pp[cfg.context:], tp[cfg.context:]))
                    r["final"].append(M.mpjpe_mm(pp[-1], tp[-1]))
                    r["ds"].append(ds)
        entry = {"clips": len(used), "seconds": H / 30.0, "min_clip_frames": cfg.context + H, "too_short": short}
        for k, r in res.items():
            by = {d: {"windows": sum(1 for x in r["ds"] if x == d),
                      "mpjpe_mm": float(np.mean([m for m, x in zip(r["mpjpe"], r["ds"]) if x == d]))}
                  for d in sorted(set(r["ds"]))}
            entry[k] = {"windows": len(r["mpjpe"]),
                        "mpjpe_mm": float(np.mean(r["mpjpe"])) if r["mpjpe"] else None,
                        "final_mpjpe_mm": float(np.mean(r["final"])) if r["final"] else None,
                        "seconds_per_call": float(np.mean(r["sec"])) if r["sec"] else None,
                        "input_frames_exact": bool(all(r["exact"])), "by_dataset": by}
        out[str(H)] = entry
    return out
