"""Keyframe gaps and the plan of generated spans (host-free: no Blender, no torch).

A DCC host (the Blender add-on) knows which integer scene frames carry keys on the body channels of
a rig. This module turns that into what to generate and where the result goes:

- :func:`gap_runs`: pairs of consecutive keyed frames ``(s, e)`` with unkeyed frames strictly between.
- :func:`plan_fill`: the gaps overlapping a frame range, the clip window sent to the heads (scene
  frames ``first..last``), the ``a4mer inbetween`` arguments (one gap: ``--start/--end``; several:
  ``--key-frames`` = every frame of the window that is not generated, so everything the user sees
  outside the gaps is context) and the generated spans (one per gap: ``s+1 .. e-1``).
- :func:`plan_extend`: ``n`` frames after the last frame, the ``a4mer extend`` arguments.
- :func:`strip_range`: the NLA strip range covering exactly a span's frames.
- :func:`span_reports`: the heads' quality sidecar split per span, in scene frames.
- :func:`motif_played`: whether a span's report says the heads played the motif asked for;
  :func:`played_motif` / :func:`motif_label`: the motif a span plays and the name its strips show.

Frames are integers (scene frames) unless stated; spans are inclusive ``(first, last)``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .errors import A4merError

#: longest gap the heads fill (seconds); longer gaps are reported and left alone
MAX_GAP_SECONDS = 4.0
#: longest extension of one call (seconds); unless it repeats a cycle, the continuation settles long before
MAX_EXTEND_SECONDS = 60.0
#: the frame rate the extension limit counts at most (mocap rarely runs faster: a file may claim 100,000 fps)
MAX_EXTEND_FPS = 240.0
#: context sent to the heads on each side of the generated frames (seconds)
CONTEXT_SECONDS = 3.0
#: context kept before the end when extending (seconds)
EXTEND_CONTEXT_SECONDS = 6.0
#: shortest strip Blender keeps (frames): a one-frame span gets a strip this long
MIN_STRIP_FRAMES = 0.1


def gap_runs(keyed: Sequence[int] | np.ndarray, first: int | None = None, last: int | None = None
             ) -> list[tuple[int, int]]:
    """Gaps of a channel set keyed at integer frames ``keyed`` (any order, duplicates allowed):
    ``[(s, e)]`` consecutive keyed frames with at least one unkeyed frame strictly between
    (``e - s >= 2``). ``first``/``last`` restrict the keys considered to ``first..last``."""
    k = np.unique(np.round(np.asarray(keyed, dtype=np.float64)).astype(np.int64))
    if first is not None:
        k = k[k >= first]
    if last is not None:
        k = k[k <= last]
    return [(int(a), int(b)) for a, b in zip(k[:-1], k[1:]) if b - a > 1]


def resolve_range(action_range: tuple[int, int], preview: tuple[int, int] | None = None,
                  custom: tuple[int, int] | None = None) -> tuple[int, int]:
    """The frame range to work on: ``custom`` when given, else the ``preview`` range (pass it only
    when the preview range is enabled), else ``action_range``. Returns ``(lo, hi)`` with lo <= hi;
    :class:`A4merError` when it is empty or lies wholly outside ``action_range``."""
    what = "frame range" if custom is not None else "preview range" if preview is not None else "action"
    lo, hi = custom if custom is not None else preview if preview is not None else action_range
    lo, hi = int(round(lo)), int(round(hi))
    if hi < lo:
        raise A4merError(f"{what} {lo}..{hi} is empty (end before start)")
    if hi < action_range[0] or lo > action_range[1]:
        raise A4merError(f"{what} {lo}..{hi} lies outside the action's keys ({action_range[0]}..{action_range[1]}): "
                         "nothing to fill there")
    return lo, hi


@dataclass(frozen=True)
class GenerationPlan:
    """What to send to the heads and where the result goes.

    verb: "inbetween" | "extend". first, last: scene frames of the clip window sent to the heads (clip
    frame 0 = scene frame ``first``). args: the verb's arguments (clip frame indices).
    spans: generated ``(first, last)`` scene frames, one per strip. gaps: the filled ``(s, e)`` key pairs
    (fill only). skipped: ``(s, e, reason)`` gaps left alone. frames: total generated frames.
    """

    verb: str
    first: int
    last: int
    args: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    gaps: tuple[tuple[int, int], ...] = ()
    skipped: tuple[tuple[int, int, str], ...] = ()

    @property
    def num_frames(self) -> int:
        """Frames of the clip window (its last frame included)."""
        return self.last - self.first + 1

    @property
    def frames(self) -> int:
        return sum(b - a + 1 for a, b in self.spans)

    def generated_frames(self) -> np.ndarray:
        """Scene frames ``(N,)`` of all spans, ascending."""
        return np.concatenate([np.arange(a, b + 1) for a, b in self.spans]) if self.spans else np.zeros(0, int)

    def to_clip(self, frames: np.ndarray) -> np.ndarray:
        """Clip frame indices of scene ``frames``."""
        return np.asarray(frames, dtype=np.int64) - self.first


def plan_fill(keyed: Sequence[int] | np.ndarray, clip_range: tuple[int, int], frame_range: tuple[int, int],
              fps: float, max_gap_seconds: float = MAX_GAP_SECONDS, context_seconds: float = CONTEXT_SECONDS
              ) -> GenerationPlan | None:
    """Plan filling every gap of ``keyed`` that overlaps ``frame_range`` (inclusive scene frames).

    keyed: integer scene frames carrying body keys. clip_range: ``(first, last)`` scene frames that can
    be read (the action's frames). A gap overlapping the range is filled whole (its keys bound it);
    gaps longer than ``max_gap_seconds`` are listed in ``skipped``. Returns None when there is no gap
    to fill (dense keys: nothing to do)."""
    lo, hi = int(frame_range[0]), int(frame_range[1])
    runs = [(s, e) for s, e in gap_runs(keyed, clip_range[0], clip_range[1]) if s + 1 <= hi and e - 1 >= lo]
    limit = max_gap_seconds * fps + 1e-9
    gaps = [(s, e) for s, e in runs if e - s - 1 <= limit]
    skipped = tuple((s, e, f"{e - s - 1} frames, {(e - s - 1) / fps:.3f} s: at most {max_gap_seconds:g} s "
                           f"({int(np.floor(limit))} frames at {fps:.6g} fps) can be filled")
                    for s, e in runs if e - s - 1 > limit)
    if not gaps:
        return None if not skipped else GenerationPlan("inbetween", lo, hi, (), (), (), skipped)
    margin = int(np.ceil(context_seconds * fps))
    first = max(int(clip_range[0]), gaps[0][0] - margin)
    last = min(int(clip_range[1]), gaps[-1][1] + margin)
    spans = tuple((s + 1, e - 1) for s, e in gaps)
    if len(gaps) == 1:
        s, e = gaps[0]
        args = ("--start", str(s - first), "--end", str(e - first))
    else:
        known = np.ones(last - first + 1, bool)
        for a, b in spans:
            known[a - first:b - first + 1] = False
        args = ("--key-frames", ",".join(str(i) for i in np.flatnonzero(known)))
    return GenerationPlan("inbetween", first, last, args, spans, tuple(gaps), skipped)


def check_extend_length(frames: int, fps: float) -> None:
    """:class:`A4merError` unless ``frames`` new frames at ``fps`` are 1 frame to :data:`MAX_EXTEND_SECONDS` (counted
    at :data:`MAX_EXTEND_FPS` at most)."""
    if frames < 1:
        raise A4merError(f"number of frames to add must be at least 1, got {frames}")
    most = int(MAX_EXTEND_SECONDS * min(fps, MAX_EXTEND_FPS))  # a file claiming 100 kfps: not 6 M frames
    if frames > most:
        raise A4merError(f"{frames} frames are {frames / fps:.2f} s at {fps:g} fps; at most {most / fps:.4g} s "
                         f"({most} frames) can be added at once (unless the clip ends in a repeating cycle, the continuation settles into a held "
                         "pose within a few seconds)")


def plan_extend(clip_range: tuple[int, int], frames: int, fps: float,
                context_seconds: float = EXTEND_CONTEXT_SECONDS) -> GenerationPlan:
    """Plan ``frames`` new frames after scene frame ``clip_range[1]`` from the last
    ``context_seconds`` of the clip."""
    frames = int(frames)
    check_extend_length(frames, fps)
    first, last = int(clip_range[0]), int(clip_range[1])
    if last - first < 1:
        raise A4merError("extension needs at least 2 frames of animation")
    first = max(first, last - int(np.ceil(context_seconds * fps)) + 1)
    return GenerationPlan("extend", first, last, ("--frames", str(frames)), ((last + 1, last + frames),))


def strip_range(span: tuple[int, int]) -> tuple[float, float]:
    """NLA strip ``(frame_start, frame_end)`` covering exactly the span's frames (both ends inclusive in
    NLA evaluation); a one-frame span gets the shortest strip Blender keeps."""
    a, b = int(span[0]), int(span[1])
    return float(a), float(b) if b > a else a + MIN_STRIP_FRAMES


def span_reports(report: dict[str, Any] | None, first: int, spans: Sequence[tuple[int, int]]
                 ) -> list[dict[str, Any] | None]:
    """The quality sidecar of a heads run (one span dict, or ``{"spans": [...]}``) per planned span:
    the entry whose ``span`` (clip frames) matches, with ``span``/``keys``, ``max_frame_step_frame`` and the frames its
    warnings name ("frames A..B", "at frame F") moved to scene frames
    (clip frame 0 = scene frame ``first``) and a motif fill's per-span ``motif.speed`` and
    ``motif.recognised`` lists (one entry per span, in the sidecar's order) cut to the entry's own;
    None where the sidecar has no entry."""
    if not report:
        return [None] * len(spans)
    items = report.get("spans") if isinstance(report.get("spans"), list) else [report]
    by_span = {}
    for i, it in enumerate(items):
        sp = it.get("span") if isinstance(it, dict) else None
        if isinstance(sp, (list, tuple)) and len(sp) == 2:
            motif = it.get("motif")
            if isinstance(motif, dict):  # a fill's per-gap lists (speed, recognised): the entry's own
                own = {k: motif[k][i] for k in ("speed", "recognised")
                       if isinstance(motif.get(k), list) and len(motif[k]) == len(items)}
                it = dict(it, motif=dict(motif, **own)) if own else it
            by_span[(int(sp[0]) + first, int(sp[1]) + first)] = it
    out = []
    for sp in spans:
        it = by_span.get((int(sp[0]), int(sp[1])))
        if it is None:
            out.append(None)
            continue
        it = dict(it)
        it["span"] = [int(sp[0]), int(sp[1])]
        if isinstance(it.get("key_distance_mm"), dict):
            it["key_distance_mm"] = {str(int(k) + first): v for k, v in it["key_distance_mm"].items()}
        if isinstance(it.get("max_frame_step_frame"), int):
            it["max_frame_step_frame"] += first
        if isinstance(it.get("warnings"), list):
            it["warnings"] = [_scene_frames(w, first) if isinstance(w, str) else w for w in it["warnings"]]
        out.append(it)
    return out


#: how the heads' warnings name a run of frames ("frames 91..130")
FRAME_RUN = re.compile(r"frames (\d+)\.\.(\d+)")


def _scene_frames(warning: str, first: int) -> str:
    """``warning`` of the heads ("... frames 91..130", "... at frame 97", clip frames) in scene frames."""
    warning = FRAME_RUN.sub(lambda m: f"frames {int(m[1]) + first}..{int(m[2]) + first}", warning)
    return re.sub(r"at frame (\d+)", lambda m: f"at frame {int(m[1]) + first}", warning)


def motif_played(q: dict[str, Any] | None) -> bool:
    """False when a span's report (of :func:`span_reports`) says the motif asked for was not played
    there: its frames were too few, so the heads kept the plain continuation / fill (``motif.speed``
    is None). True otherwise, also without a report or a motif entry."""
    motif = (q or {}).get("motif")
    return not (isinstance(motif, dict) and "speed" in motif and motif["speed"] is None)


def played_motif(motif: dict[str, Any] | None, q: dict[str, Any] | None) -> dict[str, Any] | None:
    """The motif ``{"id", "name"}`` asked for, as a span with report ``q`` plays it: None where it was
    not played (:func:`motif_played`), else the motif with ``recognised`` (False where the model,
    segmenting the result again, did not recognise the motif; True otherwise)."""
    if not motif or not motif_played(q):
        return None
    m = (q or {}).get("motif")
    return dict(motif, recognised=not (isinstance(m, dict) and m.get("recognised") is False))


def motif_label(motif: dict[str, Any]) -> str:
    """A strip's name for a span playing ``motif`` (of :func:`played_motif`): its name, marked
    "(approx.)" where the model did not recognise the generated span as that motif."""
    return motif["name"] + ("" if motif.get("recognised", True) else " (approx.)")


#: a generated span whose fastest joint moves more in one frame than JUMP_FACTOR times the fastest of the
#: kept frames around it, plus JUMP_MARGIN_MM, is flagged (a joint snapping round)
JUMP_FACTOR = 2.0
JUMP_MARGIN_MM = 20.0


def is_jump(fastest_mm: float, context_fastest_mm: float) -> bool:
    """True when a span's largest one-frame joint move (mm) is a jump against the kept frames' largest."""
    return fastest_mm > JUMP_FACTOR * context_fastest_mm + JUMP_MARGIN_MM


def quality_line(q: dict[str, Any] | None) -> str:
    """One line for a panel: foot skate and jerk of the span next to the context's, worst key distance,
    how far the span goes below the kept frames' lowest joint when that is over 2 cm, a joint's one-frame
    jump (:func:`is_jump`, as the sidecar warns), and how much of the
    learned correction the span got when it faded part of the way out (``learned_share`` under 0.95)."""
    if not q:
        return "no quality report"

    def num(key: str, fmt: str) -> str:
        v = q.get(key)
        return format(v, fmt) if isinstance(v, (int, float)) else "-"

    keys = [v for v in (q.get("key_distance_mm") or {}).values() if isinstance(v, (int, float))]
    parts = [f"skate {num('foot_skate_cm_s', '.1f')} cm/s (ctx {num('context_foot_skate_cm_s', '.1f')})",
             f"jerk {num('jerk_m_s3', '.0f')} (ctx {num('context_jerk_m_s3', '.0f')})"]
    if keys:
        parts.append(f"key step {max(keys):.0f} mm (ctx {num('context_frame_step_mm', '.0f')})")
    below = q.get("below_kept_floor_cm")
    if isinstance(below, (int, float)) and below > 2.0:
        parts.append(f"{below:.0f} cm below the floor")
    fastest, ctx = q.get("max_frame_step_mm"), q.get("context_max_frame_step_mm")
    if isinstance(fastest, (int, float)) and isinstance(ctx, (int, float)) and is_jump(fastest, ctx):
        parts.append(f"a joint moves {fastest:.0f} mm in one frame at frame {q.get('max_frame_step_frame')}")
    share = q.get("learned_share")
    if isinstance(share, (int, float)) and share < 0.95:
        parts.append(f"learned correction {int(share * 100)}%")  # 0.9496: 94%, not 95%
    return ", ".join(parts)
