"""Span quality report: the JSON sidecar written next to every generated span (numpy only).

A span is the block of generated frames ``[first, last]`` (inclusive) of a result clip. The report
compares it with the frames that were kept (the context) so an animator sees at a glance whether
the generated part skates, jitters or jumps at the keys.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..bench.metrics import body_fk, contact_changes, foot_heights, foot_skate, jerk
from ..motion import Motion

SCHEMA_VERSION = 1


def _frame_step_mm(pos: np.ndarray) -> float:
    """Median per-frame joint displacement (mm) of ``pos (T, J, 3)``: the clip's typical motion per frame."""
    if len(pos) < 2:
        return 0.0
    return float(np.median(np.linalg.norm(np.diff(pos, axis=0), axis=-1).mean(-1)) * 1000.0)


def _weighted(segs: list[np.ndarray], fn) -> float | None:
    """Frame-weighted mean of ``fn`` over contiguous segments (None when there is none)."""
    if not segs:
        return None
    return float(np.average([fn(x) for x in segs], weights=[len(x) for x in segs]))


def span_quality(original: Motion, result: Motion, first: int, last: int, *, task: str, method: str,
                 keys: Sequence[int] = (), warnings: Sequence[str] = (), extra: dict | None = None
                 ) -> dict[str, Any]:
    """Quality numbers of the generated frames ``first..last`` (inclusive) of ``result``.

    original: the input clip (frames that were kept are compared bit-for-bit against it).
    keys: frames of ``result`` the span must meet (gap ends); their distance to the adjacent generated
    frame is reported in mm (``key_distance_mm``) next to the clip's typical per-frame motion.
    Returns a JSON-serialisable dict: foot skate (cm/s), jerk (m/s^3), contact changes, key distances,
    ``kept_frames_exact`` (kept frames equal the input up to 1e-12: the Motion re-normalises
    quaternions; the CLI's npz output copies the file's rows bit for bit), for the span and for the
    kept context (contiguous kept parts scored separately).
    """
    pos, _ = body_fk(result.rotations, result.root_translation)  # (T, 22, 3)
    T = len(pos)
    first, last = int(first), int(last)
    _, ground = foot_heights(pos)
    a, b = max(first - 1, 0), min(last + 2, T)  # include the steps into and out of the span
    span = pos[a:b]
    keep = np.ones(T, bool)
    keep[first:last + 1] = False
    n_orig = original.num_frames
    kept_idx = np.where(keep)[0]
    orig_idx = np.where(kept_idx < first, kept_idx, kept_idx - (T - n_orig))  # extension appends
    dq = np.abs(result.rotations[kept_idx] - original.rotations[orig_idx])
    dq = np.minimum(dq, np.abs(result.rotations[kept_idx] + original.rotations[orig_idx]))
    dev = float(max(dq.max(initial=0.0), np.abs(result.root_translation[kept_idx]
                                                 - original.root_translation[orig_idx]).max(initial=0.0)))
    segs = [pos[:first], pos[last + 1:]]  # kept context before / after the span (scored separately)
    segs = [x for x in segs if len(x) > 3]
    ctx = pos[keep]
    key_dist = {}
    for k in keys:
        k = int(k)
        nb = first if k < first else last
        key_dist[str(k)] = float(np.linalg.norm(pos[k] - pos[nb], axis=-1).mean() * 1000.0)
    seconds = (last - first + 1) / result.fps
    out = {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "method": method,
        "fps": float(result.fps),
        "span": [first, last],
        "span_frames": last - first + 1,
        "span_seconds": seconds,
        "kept_frames_exact": dev <= 1e-12,
        "kept_frames_max_abs_diff": dev,
        "foot_skate_cm_s": foot_skate(span, result.fps, ground=ground),
        "context_foot_skate_cm_s": _weighted(segs, lambda x: foot_skate(x, result.fps, ground=ground)),
        "jerk_m_s3": jerk(span, result.fps),
        "context_jerk_m_s3": _weighted(segs, lambda x: jerk(x, result.fps)),
        "contact_changes": contact_changes(span, ground=ground),
        "contact_changes_per_s": contact_changes(span, ground=ground) / max(seconds, 1e-9),
        "key_distance_mm": key_dist,
        "context_frame_step_mm": _frame_step_mm(ctx),
        "warnings": list(warnings),
    }
    if extra:
        out.update(extra)
    return out


def sidecar_path(out_path: str | os.PathLike) -> Path:
    """``<out>.quality.json`` next to the output clip (``walk.npz`` -> ``walk.quality.json``)."""
    p = Path(out_path)
    return p.with_name(p.stem + ".quality.json")


def write_sidecar(out_path: str | os.PathLike, report: dict[str, Any]) -> Path:
    """Write ``report`` as ``<out>.quality.json``; returns its path."""
    path = sidecar_path(out_path)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
