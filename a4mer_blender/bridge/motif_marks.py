"""Marks of motif spans on the "A4Mer Motifs" track: a span generated with a motif (:mod:`.generated`)
is an occurrence of it.

Where the motif track of the segments record (:mod:`.nla`) is free, a strip named after the motif shows
the span's generated action over the span's frames, with an entry in the record (``generated``: true,
``span``: the span id), so the motif library counts the occurrence and jumping reaches it. A mark
follows its span: it goes when the span is removed or replaced, and a bake puts it where the baked span
was shown (the user may have moved, trimmed or scaled the strip in the NLA editor), showing the user's
action there, which now holds those frames (:func:`show_baked`; the generated action goes with its span).
Until the bake a mark is known by the span id on the action it shows (a copy the user made of it shows
that action too: the mark is the one where the record has it, :func:`.nla.span_strip`); records of earlier
versions, without the id, by its first frame. A bake drops the id (the span is gone) and records the mark
as ``baked``: no span's mark any more.
"""
from __future__ import annotations

from .._core import gaps, strips as core_strips
from . import anim_compat, nla, records


def _motif_track(obj, record: dict):
    """(recorded track, NLA track) of the record's motif track, or None when it was deleted."""
    return next(((rt, t) for rt, t in nla.recorded_tracks(obj, record) if rt.get("kind") == "motif"), None)


def _is_mark_of(entry: dict, span: dict) -> bool:
    """True when record ``entry`` is the mark of the stored span record ``span`` (a baked mark is no
    span's): by the span's id; records of earlier versions, without ids, by the first frame."""
    if not entry.get("generated") or entry.get("baked"):
        return False
    if "span" in entry and "id" in span:
        return entry["span"] == span["id"]
    return abs(float(entry["frame_start"]) - float(span["frame_start"])) < 1e-3


def _mark_strip(track, entry: dict):
    """The strip of mark ``entry`` on the motif track (None when the user deleted it)."""
    return nla.span_strip(track, entry.get("span"), entry["frame_start"])


def _free(track, start: float, end: float) -> bool:
    return not any(s.frame_start < end and s.frame_end > start for s in track.strips)


def mark_motif(obj, motif: dict, span: dict) -> bool:
    """Mark ``span`` (a new span record of :func:`generated.apply_result`) generated with ``motif``
    (``{"id", "name", "recognised"}``, named as :func:`a4mer.gaps.motif_label` says) on the motif track
    where the track is free (e.g. after the segmented clip); inside segmented frames the track already
    tiles the clip and the generated strip alone carries the name. Returns True when a strip was added."""
    record = nla.read_record(obj)
    pair = _motif_track(obj, record) if record is not None else None
    if pair is None:
        return False
    rt, track = pair
    start, end = gaps.strip_range((span["first"], span["last"]))
    if not _free(track, start, end):
        return False
    import bpy
    action = bpy.data.actions.get(span["action"])  # made in the same call (apply_result): the name is current
    strip = nla.place_strip(track, gaps.motif_label(motif), action, (start, end, start, end, 1.0))
    rt["strips"].append({"kind": "motif", "index": -1, "key": int(motif["id"]), "name": strip.name,
                         "frame_start": float(strip.frame_start), "frame_end": float(strip.frame_end),
                         "generated": True, "span": span["id"], "recognised": bool(motif.get("recognised", True))})
    rt["strips"].sort(key=lambda s: s["frame_start"])
    nla.write_record(obj, record)
    return True


def unmark_motif(obj, span: dict) -> bool:
    """Remove the motif-track mark of the stored span record ``span`` (if any)."""
    record = nla.read_record(obj)
    pair = _motif_track(obj, record) if record is not None else None
    if pair is None:
        return False
    rt, track = pair
    hit = [e for e in rt["strips"] if _is_mark_of(e, span)]
    for entry in hit:
        strip = _mark_strip(track, entry)
        if strip is not None:
            track.strips.remove(strip)
        rt["strips"].remove(entry)
    if hit:
        nla.write_record(obj, record)
    return bool(hit)


def _marks_of(obj, spans: list[dict]):
    """(record, the motif track's record entry, the motif track, one (mark entry, mark strip) pair per span
    of ``spans``, None where it has no mark); None when the record has no motif track."""
    record = nla.read_record(obj)
    pair = _motif_track(obj, record) if record is not None else None
    if pair is None:
        return None
    rt, track = pair
    marks = []
    for span in spans:
        entry = next((e for e in rt["strips"] if _is_mark_of(e, span)), None)
        marks.append((entry, _mark_strip(track, entry) if entry is not None else None))
    return record, rt, track, marks


def follow_strips(obj, shown: list[tuple[dict, object]]) -> None:
    """Put the marks of spans on where their strips show them: ``shown`` holds (stored span record, its
    generated strip) pairs. A mark whose new frames are taken on the motif track (the segmented clip's
    motifs tile it) is removed, as :func:`mark_motif` adds none there."""
    found = _marks_of(obj, [span for span, _ in shown])
    if found is None:
        return
    record, rt, track, marks = found
    moves = []
    for (entry, mark), (_, strip) in zip(marks, shown):
        where = nla.placement(strip)
        if mark is not None and any(abs(a - b) > 1e-4 for a, b in zip(nla.placement(mark), where)):
            moves.append((entry, mark, where, strip.action))
    if not moves:
        return
    for _entry, mark, _where, _action in moves:  # all out first: two marks may trade places
        track.strips.remove(mark)
    names = record.get("motif_names", {})
    for entry, _mark, where, action in moves:
        strip = None
        if _free(track, where[0], where[1]):
            try:
                strip = nla.place_strip(track, core_strips.motif_display_name(entry["key"], names), action, where)
            except RuntimeError:  # the action's own length at the new place reaches the next strip
                strip = None
        if strip is None:
            rt["strips"].remove(entry)
            continue
        entry.update(name=strip.name, frame_start=float(strip.frame_start), frame_end=float(strip.frame_end))
    rt["strips"].sort(key=lambda s: s["frame_start"])
    nla.write_record(obj, record)


def show_baked(obj, baked: list[dict], action) -> None:
    """After a bake: the marks of the stored span records ``baked`` (put where their strips showed them,
    :func:`follow_strips`) show ``action``, the user's action the spans were baked into, over the same
    frames (the action plays at scene frames), and the generated actions they showed, which nothing
    else uses once the result layer is gone, are deleted (they stayed in the file, held by the muted
    motif track). The record keeps the marks (``generated``: the occurrences are in the action now) as
    ``baked``, without their spans' ids (the spans are gone). A copy the user made of a mark is left as it is."""
    import bpy
    found = _marks_of(obj, baked)
    if found is None:
        return
    record, rt, track, marks = found
    shown = []
    for entry, mark in marks:
        if mark is None or mark.action == action:
            continue
        old, start, end = mark.action, float(mark.frame_start), float(mark.frame_end)
        try:
            mark.action = action
            anim_compat.set_strip_slot(mark, obj)
            if abs(mark.scale - 1.0) > 1e-6:
                mark.scale = 1.0
            if start > mark.action_frame_end:  # each step keeps start <= end
                mark.action_frame_end, mark.action_frame_start = end, start
            else:
                mark.action_frame_start, mark.action_frame_end = start, end
            if abs(mark.frame_start - start) > 1e-4:
                mark.frame_start_ui = start
            if abs(mark.frame_end - end) > 1e-4:
                mark.frame_end_ui = end
            ok = all(abs(a - b) < 1e-3 for a, b in zip(nla.placement(mark), (start, end, start, end, 1.0)))
        except (RuntimeError, TypeError, ValueError):
            ok = False
        if not ok:  # Blender would not show it there: the mark goes, as where follow_strips finds no room
            track.strips.remove(mark)
            rt["strips"].remove(entry)
        else:
            entry.update(action_start=start, action_end=end, frame_start=float(mark.frame_start),
                         frame_end=float(mark.frame_end))
            entry.pop("span", None)
            entry["baked"] = True
        shown.append(old)
    for old in shown:
        if old is not None and old.users == 0 and old.get(records.GENERATED_ACTION_KEY):
            bpy.data.actions.remove(old)
    if shown:
        nla.write_record(obj, record)
