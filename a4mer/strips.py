"""Segments (the canonical atoms/motifs dict) -> a plain plan of NLA tracks and strips (no Blender).

The segment dict (model issue): ``schema_version``, ``model_hash``, ``vocab_hash``, ``fps``,
``duration`` (s), ``atoms`` [{start_frame, end_frame, start_t, end_t, code}], ``motifs``
[{start_frame, end_frame, start_t, end_t, motif_id, atoms, confidence}]; frames index the input clip,
``end_frame`` exclusive. A host applies the plan: clip frame ``i`` is scene frame ``frame_offset + i``
and a segment ``[s, e)`` becomes a strip over scene frames ``[offset + s, offset + e]`` that shows the
same sub-range of the action (strips on one track touch but never overlap).

Hosts rename strips to keep names unique, so the strip <-> segment mapping is a separate record
(:func:`mapping_record`) keyed by track and strip start frame, never by strip name.
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from .conventions import is_number, positive_number
from .errors import A4merError

ATOMS_TRACK = "A4Mer Atoms"
MOTIFS_TRACK = "A4Mer Motifs"
MAPPING_VERSION = 1


@dataclass(frozen=True)
class StripSpec:
    """One strip: ``kind`` "atom"|"motif", ``index`` into the segment list, ``key`` (atom code or
    motif id), display ``name``, scene frames ``[frame_start, frame_end]`` (= action frames shown)."""

    kind: str
    index: int
    key: int
    name: str
    frame_start: float
    frame_end: float


@dataclass(frozen=True)
class TrackSpec:
    """One track: its wanted ``name``, ``kind`` and strips in time order (non-overlapping)."""

    name: str
    kind: str
    strips: tuple[StripSpec, ...]


def motif_display_name(motif_id: int, motif_names: dict | None = None) -> str:
    """The user's name of a motif (``motif_names`` maps its id, as str as JSON keeps it or as int, to the
    name), else ``m<id>``."""
    names, mid = motif_names or {}, int(motif_id)
    return str(names.get(str(mid)) or names.get(mid) or f"m{mid}")


def _frames(item: dict, seg_fps: float, clip_fps: float, num_frames: int) -> tuple[int, int]:
    if abs(seg_fps - clip_fps) <= 1e-6 * clip_fps:
        s, e = int(item["start_frame"]), int(item["end_frame"])
    else:  # segments computed at another rate: place them by time
        s, e = int(round(float(item["start_t"]) * clip_fps)), int(round(float(item["end_t"]) * clip_fps))
    return max(0, min(s, num_frames)), max(0, min(e, num_frames))


def validate_segments(segments: dict, where: str = "segments") -> None:
    """Check the schema keys and that atoms and motifs are ordered and non-overlapping.

    Raises :class:`A4merError` naming ``where`` and the first problem.
    """
    if not isinstance(segments, dict):
        raise A4merError(f"{where}: expected a JSON object, got {type(segments).__name__}")
    for key in ("fps", "atoms", "motifs"):
        if key not in segments:
            raise A4merError(f"{where}: missing key {key!r}")
    try:
        fps = positive_number(segments["fps"], "fps")
        if "duration" in segments:
            positive_number(segments["duration"], "duration", most=None)
    except A4merError as e:
        raise A4merError(f"{where}: {e}") from None
    for kind, need in (("atoms", ("code",)), ("motifs", ("motif_id",))):
        if not isinstance(segments[kind], list):
            raise A4merError(f"{where}: {kind!r} must be a list, got {type(segments[kind]).__name__}")
        prev_end = None
        for i, it in enumerate(segments[kind]):
            if not isinstance(it, dict):
                raise A4merError(f"{where}: {kind}[{i}] must be an object, got {type(it).__name__}")
            _check_kinds(it, ("start_frame", "end_frame") + need, ("start_t", "end_t", "confidence"), f"{where}: {kind}[{i}]",
                         required=("start_t", "end_t"))
            s, e = int(it["start_frame"]), int(it["end_frame"])
            if e <= s:
                raise A4merError(f"{where}: {kind}[{i}] is empty (frames {s}..{e})")
            if prev_end is not None and s < prev_end:
                raise A4merError(f"{where}: {kind}[{i}] starts at frame {s} before the previous one ends ({prev_end})")
            for k in ("start", "end"):  # times are frames / fps: a file whose fps was changed disagrees
                if abs(float(it[f"{k}_t"]) - int(it[f"{k}_frame"]) / fps) > 1.0 / fps + 1e-3:
                    raise A4merError(f"{where}: {kind}[{i}].{k}_t {it[f'{k}_t']} s is not {k}_frame "
                                     f"{it[f'{k}_frame']} / fps {fps:g}")
            prev_end = e
    made = segments.get("generated_motifs", [])
    if not isinstance(made, list):
        raise A4merError(f"{where}: 'generated_motifs' must be a list, got {type(made).__name__}")
    for i, it in enumerate(made):
        if not isinstance(it, dict):
            raise A4merError(f"{where}: generated_motifs[{i}] must be an object, got {type(it).__name__}")
        _check_kinds(it, ("start_frame", "end_frame", "motif_id"), (), f"{where}: generated_motifs[{i}]")
        if int(it["end_frame"]) <= int(it["start_frame"]):
            raise A4merError(f"{where}: generated_motifs[{i}] is empty (frames {it['start_frame']}..{it['end_frame']})")


#: the largest frame index a segments file may hold (frames / fps must stay exact in float64)
MAX_FRAME = 2 ** 40


def _check_kinds(item: dict, whole: tuple[str, ...], real: tuple[str, ...], where: str,
                 required: tuple[str, ...] = ()) -> None:
    """:class:`A4merError` unless ``item`` holds its ``whole`` and ``required`` keys, the ``whole`` ones
    whole numbers in 0..MAX_FRAME and its ``real`` ones (those present) finite numbers; numpy's
    numbers count."""
    for k in whole + required:
        if k not in item:
            raise A4merError(f"{where} lacks {k!r}")
    for k in whole:
        v = item[k]
        if not (isinstance(v, numbers.Integral) and is_number(v) and 0 <= v <= MAX_FRAME):
            raise A4merError(f"{where}.{k} must be a whole number >= 0, got {v!r:.40}")
    for k in (k for k in real if k in item):
        v = item[k]
        try:
            ok = is_number(v) and math.isfinite(float(v))
        except (OverflowError, ValueError):
            ok = False
        if not ok:
            raise A4merError(f"{where}.{k} must be a number, got {v!r:.40}")


def segments_duration(segments: dict) -> float:
    """Seconds of the clip ``segments`` were made for: its recorded duration, or the last end when
    that is later."""
    seg_fps = float(segments["fps"])
    ends = [float(it["end_frame"]) / seg_fps for k in ("atoms", "motifs") for it in segments[k]]
    return max([float(segments.get("duration") or 0.0)] + ends)


def duration_mismatch(segments: dict, num_frames: int, clip_fps: float, exact: bool = False) -> str | None:
    """A warning when ``segments`` were made for a clip of another length than this one of
    ``num_frames`` at ``clip_fps`` (more than half a second or 5 % apart; ``exact``: more than one frame at
    the coarser of the two rates, for a file that must be of this very clip), else None."""
    seg_fps = float(segments["fps"])
    theirs = segments_duration(segments)
    ours = num_frames / float(clip_fps)
    limit = 1.01 / min(seg_fps, float(clip_fps)) if exact else max(0.5, 0.05 * ours)
    if abs(theirs - ours) > limit:
        return (f"the segments cover {theirs:.2f} s (at {seg_fps:g} fps) but the action lasts {ours:.2f} s: "
                "made for another clip? Strips were cut to the action")
    return None


def plan_strips(segments: dict, frame_offset: float, num_frames: int, clip_fps: float,
                motif_names: dict | None = None) -> tuple[TrackSpec, TrackSpec]:
    """Tracks (atoms, motifs) for ``segments`` on a clip of ``num_frames`` frames at ``clip_fps``
    whose frame 0 is scene frame ``frame_offset``. Segments clamped to the clip; empty ones dropped."""
    validate_segments(segments)
    seg_fps = float(segments["fps"])
    tracks = []
    for kind, track, items in (("atom", ATOMS_TRACK, segments["atoms"]), ("motif", MOTIFS_TRACK, segments["motifs"])):
        out = []
        for i, it in enumerate(items):
            s, e = _frames(it, seg_fps, clip_fps, num_frames)
            if e <= s:
                continue
            key = int(it["code"] if kind == "atom" else it["motif_id"])
            name = f"a{key}" if kind == "atom" else motif_display_name(key, motif_names)
            out.append(StripSpec(kind, i, key, name, float(frame_offset + s), float(frame_offset + e)))
        tracks.append(TrackSpec(track, kind, tuple(out)))
    return tracks[0], tracks[1]


def mapping_record(tracks: tuple[TrackSpec, ...], track_names: list[str], strip_names: list[list[str]],
                   action_name: str, segments: dict, frame_offset: float, clip_fps: float,
                   motif_names: dict | None = None) -> dict[str, Any]:
    """The record a host stores on the object: actual track/strip names (after the host renamed them),
    strip -> segment mapping, the segments themselves and the user's motif names."""
    return {
        "version": MAPPING_VERSION,
        "action": action_name,
        "frame_offset": float(frame_offset),
        "clip_fps": float(clip_fps),
        "tracks": [{"name": tn, "kind": t.kind,
                    "strips": [{**asdict(s), "name": sn} for s, sn in zip(t.strips, names)]}
                   for t, tn, names in zip(tracks, track_names, strip_names)],
        "motif_names": dict(motif_names or {}),
        "segments": segments,
    }


def dumps_record(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


def loads_record(text: str | None) -> dict | None:
    """Parse a stored record; None when absent or unreadable (never raises)."""
    if not text:
        return None
    try:
        rec = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    if not (isinstance(rec, dict) and rec.get("version") == MAPPING_VERSION and _well_formed(rec)):
        return None
    return rec


def _well_formed(rec: dict) -> bool:
    """Whether a record's tracks are what the panels and operators read (a list of tables, each with a list
    of strip tables whose key and frames are numbers; motif names a table): a .blend may hold anything,
    and a crafted record broke the panels on every redraw."""
    def number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    tracks, names = rec.get("tracks", []), rec.get("motif_names", {})
    return isinstance(tracks, list) and isinstance(names, dict) and all(
        isinstance(t, dict) and isinstance(t.get("strips"), list) and all(
            isinstance(s, dict) and all(number(s.get(k)) for k in ("key", "frame_start", "frame_end"))
            for s in t["strips"]) for t in tracks)


def generated_motifs(record: dict, frame_start: int) -> list[dict[str, Any]]:
    """The motif occurrences generated into the action (marks of spans "with a motif" on the motif track)
    as ``{"motif_id", "start_frame", "end_frame"}`` (end exclusive) in frames of a clip whose frame 0 is
    scene frame ``frame_start``, sorted by start."""
    out = [{"motif_id": int(s["key"]), "start_frame": int(round(float(s["frame_start"]))) - frame_start,
            "end_frame": int(round(float(s["frame_end"]))) + 1 - frame_start}
           for t in record.get("tracks", []) if t.get("kind") == "motif" for s in t["strips"] if s.get("generated")]
    return sorted(out, key=lambda m: m["start_frame"])


def segments_as_shown(record: dict, frame_start: int, num_frames: int, clip_fps: float) -> dict[str, Any]:
    """The record's segments as its tracks show them now (a record whose strips were matched to the tracks,
    as the host's reader gives it): an atom or motif whose strip was deleted is left out, one whose strip was
    moved or trimmed takes the strip's frames; frames of a clip of ``num_frames`` frames at ``clip_fps``
    whose frame 0 is scene frame ``frame_start`` (strips are cut to it), ``duration`` the clip's. A motif's
    ``atoms`` are the indices of its atoms still shown. The marks of generated spans are not segments
    (:func:`generated_motifs`)."""
    seg = record.get("segments")
    if not isinstance(seg, dict):  # a record that is no segments (crafted): what the caller validates says so
        return seg
    fps = float(clip_fps)
    shown: dict[str, list[tuple[int, dict]]] = {"atom": [], "motif": []}
    for t in record.get("tracks", []):
        kind = t.get("kind")
        items = seg.get(f"{kind}s") if kind in shown else None
        if not isinstance(items, list):
            continue
        for e in t["strips"]:
            i = e.get("index")
            if e.get("generated") or not (isinstance(i, int) and 0 <= i < len(items) and isinstance(items[i], dict)):
                continue
            s = min(max(int(round(float(e["frame_start"]))) - frame_start, 0), num_frames)
            end = min(max(int(round(float(e["frame_end"]))) - frame_start, 0), num_frames)
            if end > s:
                shown[kind].append((i, {**items[i], "start_frame": s, "end_frame": end, "start_t": s / fps,
                                        "end_t": end / fps}))
    atoms = sorted(shown["atom"], key=lambda a: a[1]["start_frame"])
    new_index = {i: k for k, (i, _) in enumerate(atoms)}
    motifs = [m for _, m in sorted(shown["motif"], key=lambda m: m[1]["start_frame"])]
    motifs = [{**m, "atoms": [new_index[a] for a in m["atoms"] if isinstance(a, int) and a in new_index]}
              if isinstance(m.get("atoms"), list) else m for m in motifs]
    return {**seg, "fps": fps, "duration": num_frames / fps, "atoms": [a for _, a in atoms], "motifs": motifs}


def motif_summary(record: dict) -> list[dict[str, Any]]:
    """Per motif of a stored record: ``motif_id``, ``name``, ``count``, ``duration`` (s, total) and
    ``occurrences`` [(frame_start, frame_end)] in scene frames, sorted by motif id."""
    fps = float(record.get("clip_fps") or 1.0)
    names = record.get("motif_names", {})
    out: dict[int, dict[str, Any]] = {}
    for t in record.get("tracks", []):
        if t.get("kind") != "motif":
            continue
        for s in t["strips"]:
            m = out.setdefault(int(s["key"]), {"motif_id": int(s["key"]), "name": motif_display_name(s["key"], names),
                                               "count": 0, "duration": 0.0, "occurrences": []})
            m["count"] += 1  # a generated span's mark ends on its last frame, a segment's strip after it
            m["duration"] += (float(s["frame_end"]) - float(s["frame_start"]) + bool(s.get("generated"))) / fps
            m["occurrences"].append((float(s["frame_start"]), float(s["frame_end"])))
    return [out[k] for k in sorted(out)]


def next_occurrence(occurrences: list[tuple[float, float]], frame: float, direction: int) -> float | None:
    """Start frame of the next (direction +1) or previous (-1) occurrence relative to ``frame``, wrapping."""
    starts = sorted(s for s, _ in occurrences)
    if not starts:
        return None
    if direction > 0:
        later = [s for s in starts if s > frame + 1e-6]
        return later[0] if later else starts[0]
    earlier = [s for s in starts if s < frame - 1e-6]
    return earlier[-1] if earlier else starts[-1]
