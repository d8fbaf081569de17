"""Span quality report: the JSON sidecar written next to every generated span (numpy only).

A span is the block of generated frames ``[first, last]`` (inclusive) of a result clip. The report
compares it with the frames that were kept (the context) so an animator sees at a glance whether
the generated part skates, jitters or jumps at the keys.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..bench.metrics import body_fk, contact_changes, foot_heights, foot_skate, jerk
from ..gaps import FRAME_RUN, is_jump
from .ground import FLOOR_CONTEXT_S
from ..io.outputs import write_text_atomic
from ..motion import Motion

SCHEMA_VERSION = 1


def _frame_step_mm(runs: list[np.ndarray]) -> float | None:
    """Median per-frame joint displacement (mm) within the runs ``(t, J, 3)``: the clip's typical motion
    per frame (None without a run of two frames)."""
    steps = [np.linalg.norm(np.diff(x, axis=0), axis=-1).mean(-1) for x in runs if len(x) > 1]
    return float(np.median(np.concatenate(steps)) * 1000.0) if steps else None


def _about(warning: str, first: int, last: int) -> bool:
    """True when ``warning`` names no frames ("frames A..B") or frames of ``first..last``: a run's warning
    about another span (a motif too fast for frames 11..19) is not that span's."""
    spans = [(int(a), int(b)) for a, b in FRAME_RUN.findall(warning)]
    return not spans or any(a <= last and b >= first for a, b in spans)


def _largest_step(x: np.ndarray) -> tuple[float, int] | None:
    """Largest per-frame displacement (mm) of any joint in ``x (t, J, 3)`` and the index of the frame it
    ends on (None under two frames)."""
    if len(x) < 2:
        return None
    steps = np.linalg.norm(np.diff(x, axis=0), axis=-1).max(-1)
    return float(steps.max() * 1000.0), int(steps.argmax()) + 1


def _weighted(segs: list[np.ndarray], fn) -> float | None:
    """Frame-weighted mean of ``fn`` over contiguous segments (None when there is none)."""
    if not segs:
        return None
    return float(np.average([fn(x) for x in segs], weights=[len(x) for x in segs]))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` of the runs of True in ``mask (T,)``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


#: SMPL body joints 0-11: the legs and what they hang from, all forward kinematics the ground level needs
_LEG_JOINTS = 12


def _dilated(mask: np.ndarray, reach: int) -> np.ndarray:
    """``mask (T,)`` bool grown by ``reach`` frames on each side: True within ``reach`` of a True."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])  # c[i] = number of True before i
    t = np.arange(len(mask))
    return c[np.minimum(t + reach + 1, len(mask))] - c[np.maximum(t - reach, 0)] > 0


def _max_deviation(a: np.ndarray, b: np.ndarray, frames: np.ndarray, sign_free: bool = False,
                   chunk: int = 4096) -> float:
    """Largest absolute difference of ``a`` and ``b`` ``(T, ...)`` on the sorted ``frames (N,)`` (0 without
    any), in cache-sized runs of frames (no copies of a long take's arrays). ``sign_free``: of ``|a|`` and
    ``|b|``, which is ``min(|a - b|, |a + b|)`` to the bit: a quaternion and its negation are one rotation."""
    worst = 0.0
    for at in np.split(frames, np.searchsorted(frames, np.arange(chunk, len(a), chunk))):
        x, y = a[at], b[at]
        if sign_free:
            x, y = np.abs(x), np.abs(y)
        worst = max(worst, float(np.abs(x - y).max(initial=0.0)))
    return worst


class ClipQuality:
    """What the span reports of one result share, computed once (a blocking pass over a long take
    has thousands of spans): forward kinematics of ``result`` around the generated frames (within
    ``FLOOR_CONTEXT_S`` of them; other frames when a report needs them); the frames copied from
    ``original`` (every frame not in ``generated``) and how far they are from it; the ground level from
    those kept frames only (forward kinematics of the legs over all of them), and each span's context
    numbers from the kept frames within ``FLOOR_CONTEXT_S`` of it, so they do not move with what was
    generated.

    original: the input clip; result: it with the frames ``generated`` (indices of ``result``)
    generated (extension appends frames after ``original``'s)."""

    def __init__(self, original: Motion, result: Motion, generated: Sequence[int]):
        self.fps = float(result.fps)
        self._rot, self._trans = result.rotations, result.root_translation  # (T, J, 4), (T, 3)
        T = result.num_frames
        kept = np.ones(T, bool)
        kept[np.asarray(generated, int)] = False
        idx = np.flatnonzero(kept)  # kept frames of result are the same frames of original
        self.deviation = max(_max_deviation(result.rotations, original.rotations, idx, sign_free=True),
                             _max_deviation(result.root_translation, original.root_translation, idx))
        legs = idx if len(idx) else np.arange(T)
        legs_pos, _ = body_fk(self._rot[legs, :_LEG_JOINTS], self._trans[legs])  # (N, 12, 3): body_fk's joints 0-11
        self.ground = foot_heights(legs_pos)[1]
        self.kept, self.kept_mask = idx, kept
        self._pos = np.full((T, 22, 3), np.nan)  # body_fk of result, on the frames self._have marks
        self._have = np.zeros(T, bool)
        self._positions(np.flatnonzero(_dilated(~kept, max(self._reach, 1))))

    @property
    def _reach(self) -> int:
        """Frames of context on each side of a span: ``FLOOR_CONTEXT_S`` at the clip's rate."""
        return int(round(FLOOR_CONTEXT_S * self.fps))

    def _positions(self, frames: np.ndarray) -> np.ndarray:
        """``(N, 22, 3)`` metres: joint positions (:func:`body_fk`) of result's ``frames (N,)``, computed
        once each."""
        frames = np.asarray(frames, dtype=np.int64)
        todo = np.unique(frames[~self._have[frames]])
        if len(todo):
            self._pos[todo] = body_fk(self._rot[todo], self._trans[todo])[0]
            self._have[todo] = True
        return self._pos[frames]

    def _window(self, lo: int, hi: int) -> np.ndarray:
        """``(hi - lo, 22, 3)`` metres: joint positions of result's frames ``lo..hi - 1``."""
        return self._positions(np.arange(lo, hi))

    def _distance(self, a: int, b: int) -> float:
        """Mean distance (metres) of the joints of result's frame ``a`` from those of frame ``b``."""
        pa, pb = self._positions(np.array([a, b]))
        return float(np.linalg.norm(pa - pb, axis=-1).mean())

    def _context(self, first: int, last: int, keys: Sequence[int]) -> dict[str, float | None]:
        """Foot skate, jerk and typical per-frame joint step (mm) of the kept frames within
        ``FLOOR_CONTEXT_S`` of frames ``first..last`` (contiguous runs scored separately). Between
        sparse keys, where no two kept frames there are neighbours, the step is the one the span's
        ``keys`` imply (their distance over the frames between them), and skate and jerk are None.

        Numbers over every kept frame of the clip misled: a blocking pass whose first key is not frame 0
        compared every span with the held pose before the first key and after the last (0.5 mm per frame
        against 18 mm for the same spans keyed from frame 0)."""
        lo, hi = max(0, first - self._reach), min(len(self.kept_mask), last + self._reach + 1)
        pos = self._window(lo, hi)
        runs = [pos[a:b] for a, b in _runs(self.kept_mask[lo:hi])]
        segs = [x for x in runs if len(x) > 3]  # contiguous kept parts, scored separately
        step = _frame_step_mm(runs)
        if step is None and len(keys) >= 2:
            k0, k1 = min(keys), max(keys)
            step = self._distance(k1, k0) / (k1 - k0) * 1000.0
        largest = [m[0] for m in map(_largest_step, runs) if m is not None]
        return {"context_foot_skate_cm_s": _weighted(segs, lambda x: foot_skate(x, self.fps, ground=self.ground)),
                "context_jerk_m_s3": _weighted(segs, lambda x: jerk(x, self.fps)),
                "context_frame_step_mm": step,
                "context_max_frame_step_mm": max(largest) if largest else None}

    def _below_floor_cm(self, first: int, last: int) -> float | None:
        """How far (cm) the lowest joint of frames ``first..last`` goes below the lowest joint of the
        kept frames within 1 s of them (all kept frames when none is that close; None without any)."""
        if not len(self.kept):
            return None
        near = self.kept[(self.kept >= first - self._reach) & (self.kept <= last + self._reach)]
        floor = self._positions(near if len(near) else self.kept)[..., 2].min()
        return max(0.0, float(floor - self._window(first, last + 1)[..., 2].min()) * 100.0)

    def span(self, first: int, last: int, *, task: str, method: str, keys: Sequence[int] = (),
             warnings: Sequence[str] = (), extra: dict | None = None) -> dict[str, Any]:
        """Quality numbers of the generated frames ``first..last`` (inclusive).

        warnings: those of the run; one naming other frames ("frames A..B" outside the span) is left out.
        keys: frames the span must meet (gap ends); their distance to the adjacent generated frame is
        reported in mm (``key_distance_mm``) next to the typical per-frame motion around the span
        (``context_frame_step_mm``, :meth:`_context`).
        Returns a JSON-serialisable dict: foot skate (cm/s), jerk (m/s^3), contact changes, key
        distances, how far (cm) the span's lowest joint goes below the lowest joint of the kept frames
        within 1 s of it (``below_kept_floor_cm``; 0 when it does not, None without kept frames: where to
        look for a body or a limb through the floor), the largest one-frame move of any joint (mm,
        ``max_frame_step_mm``, at ``max_frame_step_frame``, the frame it ends on; steps into and out of the
        span included) next to the kept frames' (a warning where :func:`a4mer.gaps.is_jump`: a joint snapping
        round; between sparse keys the kept frames have no step of their own: None, no warning),
        ``kept_frames_exact`` (every frame not generated equals the input up to 1e-12: the
        Motion re-normalises quaternions; the CLI's npz output copies the file's rows bit for bit), and
        the same numbers over the kept frames within 1 s of the span (:meth:`_context`)."""
        first, last = int(first), int(last)
        context = self._context(first, last, keys)
        # the span with the steps into and out of it
        span = self._window(max(first - 1, 0), min(last + 2, len(self.kept_mask)))
        key_dist = {str(int(k)): self._distance(int(k), first if k < first else last) * 1000.0 for k in keys}
        seconds = (last - first + 1) / self.fps
        changes = contact_changes(span, ground=self.ground)
        fastest, at = _largest_step(span) or (0.0, 0)
        at += max(first - 1, 0)
        warnings = [w for w in warnings if _about(w, first, last)]
        ctx_fastest = context["context_max_frame_step_mm"]
        if ctx_fastest is not None and is_jump(fastest, ctx_fastest):
            warnings.append(f"a joint moves {fastest:.0f} mm in one frame at frame {at} (at most {ctx_fastest:.0f} mm "
                            "in the kept frames around the span): look there")
        out = {
            "schema_version": SCHEMA_VERSION,
            "task": task,
            "method": method,
            "fps": self.fps,
            "span": [first, last],
            "span_frames": last - first + 1,
            "span_seconds": seconds,
            "kept_frames_exact": self.deviation <= 1e-12,
            "kept_frames_max_abs_diff": self.deviation,
            "foot_skate_cm_s": foot_skate(span, self.fps, ground=self.ground),
            "context_foot_skate_cm_s": context["context_foot_skate_cm_s"],
            "jerk_m_s3": jerk(span, self.fps),
            "context_jerk_m_s3": context["context_jerk_m_s3"],
            "contact_changes": changes,
            "contact_changes_per_s": changes / max(seconds, 1e-9),
            "key_distance_mm": key_dist,
            "below_kept_floor_cm": self._below_floor_cm(first, last),
            "context_frame_step_mm": context["context_frame_step_mm"],
            "max_frame_step_mm": fastest,
            "max_frame_step_frame": at,
            "context_max_frame_step_mm": ctx_fastest,
            "warnings": warnings,
        }
        if extra:
            out.update(extra)
        return out


def sidecar_path(out_path: str | os.PathLike) -> Path:
    """``<out>.quality.json`` next to the output clip (``walk.npz`` -> ``walk.quality.json``)."""
    p = Path(out_path)
    return p.with_name(p.stem + ".quality.json")


def write_with_sidecar(write: Callable[[], tuple[Path, Any]], report: Callable[[Any], dict[str, Any]]
                       ) -> tuple[Path, Path]:
    """``write()`` the result file (its path and what it stored), then its sidecar of ``report(stored)``;
    returns both paths. An earlier run's sidecar is replaced only once the new file is in place (an error
    or Ctrl-C before leaves the earlier pair as it was; replaced, it keeps its permissions), and an error
    or Ctrl-C after removes the new file and any sidecar: never a result beside a report of another run,
    or without its own."""
    out, stored = write()
    try:
        return out, write_sidecar(out, report(stored))
    except BaseException:
        sidecar_path(out).unlink(missing_ok=True)
        Path(out).unlink(missing_ok=True)
        raise


def write_sidecar(out_path: str | os.PathLike, report: dict[str, Any]) -> Path:
    """Write ``report`` as ``<out>.quality.json``; returns its path."""
    return write_text_atomic(sidecar_path(out_path), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
