"""Apply a strip plan (:mod:`a4mer.strips`) to an object's NLA, and keep the strip <-> motif record.

The A4Mer tracks show sub-ranges of the active action as markers: they are muted, so they never change
playback, also where the action blends over NLA layers of the user's (influence under 1, Combine/Add)
or is pushed down under generated frames. The record lives on the object (a library override: on its
records text, :mod:`.records`) as a JSON string ID property (strips cannot hold custom properties and
Blender renames them). Tracks cannot hold custom properties either: a recorded track is the NLA track
with its name and its strips at the recorded frames, or, once the user renamed it, the one with its
strips (frames and names).
"""
from __future__ import annotations

import math

from .._core import errors, gaps, strips as core_strips
from . import anim_compat, records
from .armature import action_frames, scene_fps

RECORD_KEY = "a4mer_segments"
#: object ID property pointing at the action the record's segments describe (follows renames)
ACTION_KEY = "a4mer_segments_action"


def read_record(obj) -> dict | None:
    """The stored A4Mer record of ``obj`` (None when absent) as its tracks show it now: an entry whose
    strip the user moved or trimmed has the strip's frames (``action_start``/``action_end`` keep the
    part of the action it shows, by which it is found), one whose strip was deleted is left out (the
    motif library then counts and jumps to what the tracks show), as are all of a deleted track's."""
    record = core_strips.loads_record(records.get(obj, RECORD_KEY)) if obj is not None else None
    if record is not None:
        found = {id(rt): track for rt, track in recorded_tracks(obj, record)}
        for rt in record.get("tracks", []):
            track, kept = found.get(id(rt)), []
            for e, strip in zip(rt["strips"], _entry_strips(track, rt["strips"]) if track is not None else ()):
                if strip is not None:
                    start, end = _shows(e)
                    kept.append({**e, "action_start": start, "action_end": end,
                                 "frame_start": float(strip.frame_start), "frame_end": float(strip.frame_end)})
            rt["strips"] = sorted(kept, key=lambda e: e["frame_start"])
    return record


def _shows(entry: dict) -> tuple[float, float]:
    """The part of its action a recorded strip shows (frames; where it was made, as records of earlier
    versions say by its frames)."""
    return float(entry.get("action_start", entry["frame_start"])), float(entry.get("action_end", entry["frame_end"]))


def _entry_strips(track, entries: list[dict]) -> list:
    """The strip of each recorded entry on ``track`` (None: deleted): the strip showing the part of the
    action it recorded (wherever the user moved it, whatever they named it; of those, the one of its
    name first: a copy the user made of it, Shift+D, shows that part too under another name), else the
    strip of its name at its frame, else the one at its frame, else the one of its name (the user changed
    the part shown; strip names are unique on an object). Each rule takes, entry by entry, the first
    free strip in track order. Strips are read from Blender once and found by name or by frame (within
    1e-3) through indexes: a scan per entry made the N-panel of an hour-long take redraw in 7 s."""
    strips = list(track.strips)
    names = [s.name for s in strips]
    start = [float(s.frame_start) for s in strips]
    part = [(float(s.action_frame_start), float(s.action_frame_end)) for s in strips]
    by_name = {n: i for i, n in enumerate(names)}
    by_part: dict[tuple[int, int], list[int]] = {}
    by_start: dict[int, list[int]] = {}
    for i in range(len(strips)):
        by_part.setdefault((_bucket(part[i][0]), _bucket(part[i][1])), []).append(i)
        by_start.setdefault(_bucket(start[i]), []).append(i)

    def near(index: dict, *keys: int) -> list[int]:  # the neighbouring buckets too: 1e-3 crosses their edges
        if len(keys) == 1:
            found = (i for d in (-1, 0, 1) for i in index.get(keys[0] + d, ()))
        else:
            found = (i for d in (-1, 0, 1) for e in (-1, 0, 1) for i in index.get((keys[0] + d, keys[1] + e), ()))
        return sorted(set(found))

    def named(e: dict) -> list[int]:
        i = by_name.get(str(e.get("name")))
        return [] if i is None else [i]

    def same_part(i: int, e: dict) -> bool:
        a, b = _shows(e)
        return abs(part[i][0] - a) < 1e-3 and abs(part[i][1] - b) < 1e-3

    def at(i: int, e: dict) -> bool:
        return abs(start[i] - float(e["frame_start"])) < 1e-3

    showing = lambda e: near(by_part, *map(_bucket, _shows(e)))  # noqa: E731
    placed = lambda e: near(by_start, _bucket(e["frame_start"]))  # noqa: E731
    rules = ((named, same_part), (showing, same_part), (named, at), (placed, at), (named, lambda i, e: True))
    out: list = [None] * len(entries)
    taken: set[int] = set()
    for candidates, fits in rules:
        for k, e in enumerate(entries):
            if out[k] is None:
                i = next((i for i in candidates(e) if i not in taken and fits(i, e)), None)
                if i is not None:
                    out[k] = strips[i]
                    taken.add(i)
    return out


def _bucket(frame: float) -> int:
    """A frame's bucket of 1e-3 frames, for the indexes of :func:`_entry_strips`."""
    return math.floor(float(frame) * 1000.0)


#: (frame_start, frame_end, action_frame_start, action_frame_end, scale) of an NLA strip
Placement = tuple[float, float, float, float, float]
#: ID property of a generated action: the id of its span (:mod:`.generated`), by which its strip and
#: its motif mark are found wherever the user moved them
SPAN_KEY = "a4mer_span"


def placement(strip) -> Placement:
    """Where ``strip`` sits and which part of its action it shows, at which speed."""
    return (strip.frame_start, strip.frame_end, strip.action_frame_start, strip.action_frame_end, strip.scale)


def span_strip(track, span_id: str | None, frame_start: float):
    """The strip on ``track`` showing the action that carries ``span_id`` (:data:`SPAN_KEY`), wherever
    the user moved it; where several do (the user duplicated it, Shift+D), the one at ``frame_start``
    first. Records of earlier versions, without an id (None): the strip at ``frame_start``. None when
    the user deleted it."""
    at = [s for s in track.strips if abs(s.frame_start - float(frame_start)) < 1e-3]
    if span_id is None:
        return next(iter(at), None)
    shows = [s for s in track.strips if s.action is not None and s.action.get(SPAN_KEY) == span_id]
    return next((s for s in shows if s in at), next(iter(shows), None))


def place_strip(track, name: str, action, where: Placement):
    """A strip named ``name`` on ``track`` showing ``action`` as ``where`` says (frames free on ``track``),
    replacing what is under it (no extrapolation)."""
    start, end, a0, a1, scale = where
    strip = anim_compat.new_strip(track, name, int(start), action)
    strip.action_frame_start, strip.action_frame_end = a0, a1
    if abs(strip.scale - scale) > 1e-6:
        strip.scale = scale
    strip.frame_start_ui = start
    if abs(strip.frame_end - end) > 1e-4:
        strip.frame_end_ui = end
    strip.blend_type, strip.extrapolation, strip.select = "REPLACE", "NOTHING", False
    strip.use_sync_length = False  # see _add_track
    return strip


def write_record(obj, record: dict) -> None:
    records.put(obj, RECORD_KEY, core_strips.dumps_record(record))


def _matches(track, rec_track: dict, renamed: bool, action=None) -> bool:
    """True when ``track`` is the recorded one: a strip on it shows a recorded part of the action or has a
    recorded name at a recorded frame, and every other one does too or shows ``action`` (the one the
    record describes) or a generated one (a strip the user split, or moved and trimmed; deleted, renamed
    and duplicated strips keep it too), with the same track name (an emptied track is known by its name
    alone); ``renamed`` (the user renamed the track): the strips alone."""
    entries = rec_track.get("strips", [])
    named = {(str(e.get("name")), round(float(e["frame_start"]), 3)) for e in entries}
    parts = {tuple(round(x, 3) for x in _shows(e)) for e in entries}
    known = [(round(s.action_frame_start, 3), round(s.action_frame_end, 3)) in parts
             or (s.name, round(s.frame_start, 3)) in named for s in track.strips]
    derived = [s.action is not None and ((action is not None and s.action == action)
                                         or bool(s.action.get(records.GENERATED_ACTION_KEY))) for s in track.strips]
    ours = any(known) and all(k or d for k, d in zip(known, derived))
    if renamed:
        return ours
    return track.name == rec_track.get("name") and (ours or not known)


def a4mer_tracks(obj) -> list:
    """The NLA tracks of the stored record (matched by strips and name, see :func:`recorded_tracks`: the
    user's tracks, even one with the same name, are never touched)."""
    rec = read_record(obj)
    anim = obj.animation_data
    if rec is None or anim is None:
        return []
    return [t for _, t in recorded_tracks(obj, rec)]


def recorded_tracks(obj, rec: dict) -> list:
    """(recorded track, NLA track) pairs of ``rec`` that still exist on ``obj``: by name and strip frames
    first, then the remaining ones by strip frames and names (tracks the user renamed)."""
    anim = obj.animation_data
    if anim is None:
        return []
    tracks, found = list(anim.nla_tracks), {}
    action = records.get(obj, ACTION_KEY)
    for renamed in (False, True):
        for i, rt in enumerate(rec.get("tracks", [])):
            if i not in found:
                t = next((t for t in tracks if _matches(t, rt, renamed, action) and all(t != o for o in found.values())),
                         None)
                if t is not None:
                    found[i] = t
    return [(rt, found[i]) for i, rt in enumerate(rec.get("tracks", [])) if i in found]


def unique_track_name(anim, wanted: str) -> str:
    """``wanted``, or ``wanted.001`` ... when an NLA track of that name exists (Blender's own scheme)."""
    taken = {t.name for t in anim.nla_tracks}
    name, k = wanted, 0
    while name in taken:
        k += 1
        name = f"{wanted}.{k:03d}"
    return name


def new_track(anim, wanted: str):
    """A new top NLA track named ``wanted`` (made unique); the active track stays the user's
    (``nla_tracks.new()`` makes the new track the active one)."""
    active = anim.nla_tracks.active
    track = anim.nla_tracks.new()
    track.name = unique_track_name(anim, wanted)
    anim.nla_tracks.active = active
    return track


def remove_tracks(obj) -> int:
    """Delete the A4Mer tracks of ``obj``; returns how many were removed. The record is kept."""
    import bpy
    tracks = a4mer_tracks(obj)
    shown = {s.action for t in tracks for s in t.strips if s.action is not None}
    for t in tracks:
        obj.animation_data.nla_tracks.remove(t)
    for action in shown:  # generated frames marked on the motif track after a bake: nothing else uses them
        if action.users == 0 and action.get(records.GENERATED_ACTION_KEY):
            bpy.data.actions.remove(action)
        else:  # the user's earlier action, shown only by these tracks (and the record's pointer)
            anim_compat.keep_in_file(action, int(records.get(obj, ACTION_KEY) == action))
    return len(tracks)


def _find_strip(track, frame_start: float):
    for s in track.strips:
        if abs(s.frame_start - frame_start) < 1e-3:
            return s
    return None


def _add_track(obj, action, spec) -> tuple[object, list[str]]:
    track = new_track(obj.animation_data, spec.name)
    names = []
    for s in spec.strips:  # time order: each new strip is trimmed before the next one is added
        strip = anim_compat.new_strip(track, s.name, int(round(s.frame_start)), action)
        anim_compat.set_strip_slot(strip, obj)
        strip.action_frame_start = s.frame_start
        strip.action_frame_end = s.frame_end
        strip.frame_start_ui = s.frame_start
        if abs(strip.frame_end - s.frame_end) > 1e-4:
            strip.frame_end_ui = s.frame_end
        strip.blend_type = "REPLACE"
        strip.extrapolation = "NOTHING"
        # Blender's default: leaving tweak mode on one strip (Tab in the NLA editor) would stretch every
        # strip of the action to all its keys, and the track would no longer show the segments
        strip.use_sync_length = False
        strip.select = False
        names.append(strip.name)
    track.select = False
    track.mute = True  # markers: playback stays the user's whatever their NLA layers
    return track, names


def check_not_tweaking(obj) -> None:
    """:class:`A4merError` while ``obj`` is in NLA tweak mode (Blender then shows the tweaked strip's
    action as the active one): A4Mer's operators read and rebuild the NLA stack, which tweak mode holds."""
    anim = obj.animation_data if obj is not None else None
    if anim is not None and anim.use_tweak_mode:
        raise errors.A4merError(f"{obj.name!r} is in NLA tweak mode: leave it (Tab in the NLA editor) first")


def apply_segments(obj, scene, segments: dict, motif_names: dict | None = None) -> dict:
    """Replace ``obj``'s A4Mer tracks by tracks for ``segments`` (computed on its active action as
    read by :func:`armature.read_motion`); returns the stored record. The action is not modified."""
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        raise errors.A4merError(f"{obj.name!r} has no active action")
    check_not_tweaking(obj)
    prev = read_record(obj)
    if motif_names is None:
        same_vocab = prev is not None and prev.get("segments", {}).get("vocab_hash") == segments.get("vocab_hash")
        motif_names = dict(prev.get("motif_names", {})) if same_vocab else {}
        # a name the user gave ("m1385" for motif 100) that is now another motif's default name goes: two
        # motifs of one name would read as one (renaming refuses it too)
        defaults = {f"m{m['motif_id']}" for m in segments.get("motifs", [])
                    if str(m["motif_id"]) not in motif_names and m["motif_id"] not in motif_names}
        motif_names = {k: v for k, v in motif_names.items() if v not in defaults}
    f0, T = action_frames(action, obj)
    fps = scene_fps(scene)
    plan = core_strips.plan_strips(segments, f0, T, fps, motif_names)
    remove_tracks(obj)
    track_names, strip_names = [], []
    for spec in plan:
        track, names = _add_track(obj, action, spec)
        track_names.append(track.name)
        strip_names.append(names)
    record = core_strips.mapping_record(plan, track_names, strip_names, action.name, segments, f0, fps, motif_names)
    write_record(obj, record)
    records.put(obj, ACTION_KEY, action)
    return record


def segmented_action_name(obj, record: dict) -> str:
    """The name the action ``record``'s segments describe has now (renamed or not; records of earlier
    versions, without the pointer: the name it had)."""
    action = records.get(obj, ACTION_KEY)
    return action.name if action is not None else str(record.get("action"))


def describes(obj, record: dict, action) -> bool:
    """True when ``record``'s segments were made for ``action`` (renamed or not; records of earlier
    versions, without the pointer, by its name)."""
    if records.has(obj, ACTION_KEY):
        return records.get(obj, ACTION_KEY) == action
    return record.get("action") == getattr(action, "name", None)


def forget(obj) -> None:
    """Drop the record (and its action pointer) from ``obj``; the tracks are left to the caller."""
    anim_compat.keep_in_file(records.get(obj, ACTION_KEY), 1)  # when the pointer is its last user
    records.drop(obj, RECORD_KEY, ACTION_KEY)


def _motif_strips(obj, record: dict, motif_id: int):
    for t, track in recorded_tracks(obj, record):
        if t["kind"] != "motif":
            continue
        for s in t["strips"]:
            if int(s["key"]) == int(motif_id):
                strip = _find_strip(track, float(s["frame_start"]))
                if strip is not None:
                    yield t, s, strip


def rename_motif(obj, motif_id: int, name: str) -> int:
    """Name motif ``motif_id`` (stored on the object, shown on its strips); returns strips renamed."""
    record = read_record(obj)
    if record is None:
        raise errors.A4merError(f"{obj.name!r} has no A4Mer segments")
    name = anim_compat.fit_name(name.strip())  # what a strip can hold
    taken = {m["name"] for m in core_strips.motif_summary(record) if int(m["motif_id"]) != int(motif_id)}
    shown = name or core_strips.motif_display_name(motif_id, {})  # no name: the motif's default one
    if shown in taken:
        raise errors.A4merError(f"another motif is already called {shown!r}: choose another name")
    record.setdefault("motif_names", {})[str(int(motif_id))] = name
    n = 0
    label = gaps.motif_label
    for _t, s, strip in list(_motif_strips(obj, record, motif_id)):
        strip.name = label({"name": shown, "recognised": s.get("recognised", True)})  # a generated mark keeps "(approx.)"
        s["name"] = strip.name
        n += 1
    write_record(obj, record)
    return n


def select_motif(obj, motif_id: int) -> int:
    """Select exactly the strips of motif ``motif_id`` in the A4Mer tracks; returns how many."""
    record = read_record(obj)
    if record is None:
        return 0
    for track in a4mer_tracks(obj):
        for strip in track.strips:
            strip.select = False
    n = 0
    for _t, _s, strip in _motif_strips(obj, record, motif_id):
        strip.select = True
        n += 1
    return n
