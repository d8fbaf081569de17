"""The non-destructive result layer of generated frames (fill gaps, extend).

Blender 5.0 gives an action one layer, and the active action is evaluated over every NLA track, so
generated frames cannot sit under it. Instead the user's action is pushed down, unchanged, into an
NLA track ("A4Mer Source", one strip, the active action's blend type / influence / extrapolation,
identity time mapping over the scene range), and the generated frames go on the "A4Mer Generated"
track above it: one strip per generated span covering exactly its frames, Replace blending,
extrapolation Nothing, each showing an action that holds only the channels the model generates (the
rotations of the SMPL body bones 0-21 and the pelvis location), keyed only on the generated frames.
Channels the model does not generate (fingers, jaw, the root bone) keep coming from the user's action;
muting or deleting the generated track gives the user's animation back exactly. :func:`.bake.bake` is
the only way generated keys enter the user's action; :func:`.bake.remove_result` drops the layer.

The state lives on the object as a JSON ID property (strips cannot hold custom properties), with the
pushed-down action as an ID pointer property (it follows renames and saves); on a library override, whose
added custom properties Blender does not save, on its records text instead (:mod:`.records`). A generated
strip is known by the span id stored on its action, never by its name or place: the user may move or trim
it in the NLA editor (its span is then what it shows there), and a strip the user puts on the track is theirs.
The tracks (which cannot hold custom properties either) are known by what they hold, whatever the user
renamed them to: the generated track by its spans' strips, the source track by its one strip showing the
pushed-down action over the recorded frames; the recorded names serve records of earlier versions.
"""
from __future__ import annotations

import json
import uuid

import numpy as np

from .._core import errors, gaps, rig as core_rig, strips as core_strips
from . import anim_compat, armature, body_channels, motif_marks, nla, records

STATE_KEY = "a4mer_generated"
#: object ID property pointing at the pushed-down user action (a pointer follows renames, unlike a name)
SOURCE_KEY = "a4mer_generated_source"
SOURCE_TRACK = "A4Mer Source"
GENERATED_TRACK = "A4Mer Generated"
STATE_VERSION = 1


# --- state ---------------------------------------------------------------------------------------
def read_state(obj) -> dict | None:
    """The stored result-layer state of ``obj`` (None when absent or unreadable)."""
    text = records.get(obj, STATE_KEY) if obj is not None else None
    try:
        st = json.loads(text) if text else None
    except (TypeError, ValueError, RecursionError):
        return None
    return st if _well_formed(st) else None


def _well_formed(st) -> bool:
    """Whether ``st`` has the shape :func:`push_down` and :func:`apply_result` give a state (a record edited
    by hand in Custom Properties, e.g. ``"spans": 3``, is unreadable, not a traceback in the panel)."""
    if not isinstance(st, dict) or st.get("version") != STATE_VERSION:
        return False
    if any(k in st and not isinstance(st[k], str) for k in ("source_action", "source_track", "generated_track",
                                                             "slot", "scene")):
        return False
    spans, frames = st.get("spans", []), st.get("source_frames", [])
    others, settings = st.get("other_scenes", []), st.get("action_settings", {})
    return (isinstance(spans, list) and all(
                isinstance(sp, dict) and isinstance(sp.get("id", ""), str) and isinstance(sp.get("first"), int)
                and isinstance(sp.get("last"), int) and isinstance(sp.get("motif") or {}, dict) for sp in spans)
            and isinstance(frames, list) and all(isinstance(f, (int, float)) for f in frames)
            and isinstance(others, list) and all(isinstance(o, dict) for o in others)
            and isinstance(settings, dict))


def write_state(obj, state: dict | None) -> None:
    if state is None:
        records.drop(obj, STATE_KEY, SOURCE_KEY)
    else:
        records.put(obj, STATE_KEY, json.dumps(state, separators=(",", ":")))


def extended_scene(state: dict, default=None):
    """The scene of ``state``, a record of :func:`scene_ends`, whose end Extend moved (``state["scene"]``, its
    name: an ID pointer on the object would drag the scene along when the rig is appended to another file).
    Where no scene has that name any more (renamed since), or the record has none (earlier versions):
    ``default`` (the current scene) when its end is the one Extend set, else None."""
    import bpy
    found = bpy.data.scenes.get(state["scene"]) if "scene" in state else None
    if found is None and default is not None and default.frame_end == state.get("scene_end_set", default.frame_end):
        return default
    return found


def scene_ends(state: dict) -> list[dict]:
    """The records of the scene ends Extend moved for ``state``, one per scene, each with ``scene``,
    ``scene_end_before`` and ``scene_end_set``: the first scene's is ``state`` itself (all that records of
    earlier versions hold), any other's are in ``state["other_scenes"]``."""
    return ([state] if "scene_end_before" in state else []) + state.get("other_scenes", [])


def extended_scenes(state: dict, default=None) -> list[tuple]:
    """(scene, its record of :func:`scene_ends`) for each scene whose end Extend moved for ``state`` and
    that is still found (:func:`extended_scene`, ``default``: the current scene)."""
    return [(found, end) for end in scene_ends(state) if (found := extended_scene(end, default)) is not None]


def scene_end(state: dict, scene) -> dict:
    """The record of ``scene``'s end in ``state`` (:func:`scene_ends`); a new one, empty, where Extend has
    not moved it yet (in ``state`` itself for the first scene)."""
    end = next((end for found, end in extended_scenes(state, scene) if found == scene), None)
    if end is None:
        end = {} if "scene_end_before" in state else state
        if end is not state:
            state.setdefault("other_scenes", []).append(end)
    return end


def _track(obj, name: str | None):
    anim = obj.animation_data
    if anim is None or not name:
        return None
    return anim.nla_tracks.get(name)


def _tracks(obj) -> list:
    anim = obj.animation_data
    return list(anim.nla_tracks) if anim is not None else []


def source_action(obj, state: dict):
    """The user's action pushed down by ``state``, whatever it is called now (None when deleted). Records
    of earlier versions, without the pointer, name it."""
    if records.has(obj, SOURCE_KEY):
        return records.get(obj, SOURCE_KEY)
    import bpy
    return bpy.data.actions.get(state.get("source_action", ""))


def source_track(obj, state: dict | None = None):
    """The NLA track holding the pushed-down user action (None when not pushed or deleted): the track of
    the recorded name when its one strip shows that action, else (the user renamed it) a track whose one
    strip shows it over the frames recorded at push-down (records of earlier versions lack them)."""
    state = read_state(obj) if state is None else state
    action = source_action(obj, state) if state is not None else None
    if action is None:
        return None

    def shows(t) -> bool:
        return len(t.strips) == 1 and t.strips[0].action == action
    named = _track(obj, state.get("source_track"))
    if named is not None and shows(named):
        return named
    reach = state.get("source_frames")
    return next((t for t in _tracks(obj) if reach and shows(t) and all(abs(a - b) < 1e-3 for a, b in zip(
        nla.placement(t.strips[0])[:4], reach))), None)


def generated_track(obj, state: dict | None = None):
    """The "A4Mer Generated" track of the stored state (None when absent or deleted by the user): the
    track holding strips of its spans (known by the span id on their actions; the one of the recorded
    name first), whatever it is called now; without such strips (all deleted, or records of earlier
    versions) the track of the recorded name."""
    state = read_state(obj) if state is None else state
    if state is None:
        return None
    ids = {sp["id"] for sp in state.get("spans", []) if "id" in sp}

    def holds_spans(t) -> bool:
        return any(s.action is not None and s.action.get(nla.SPAN_KEY) in ids for s in t.strips)
    named = _track(obj, state.get("generated_track"))
    if named is not None and holds_spans(named):
        return named
    return next((t for t in _tracks(obj) if holds_spans(t)), named)


def check_storable(obj) -> None:
    """:class:`A4merError` for an object that cannot keep the add-on's tracks and records across a save: a
    linked object (not overridden: nothing A4Mer adds to it is saved). A library override is fine: Blender
    saves the NLA tracks and the active action set on it, and its records live on a text
    (:mod:`.records`). First deletes the records texts that describe nothing any more (:func:`.records.prune`):
    every operator on a rig starts here."""
    records.prune()
    if getattr(obj, "library", None) is not None:
        raise errors.A4merError(f"{obj.name!r} is linked from {obj.library.filepath!r}: Blender saves nothing A4Mer "
                                "adds to it; make a library override of it (Object > Library Override > Make) or "
                                "make it local (Object > Relations > Make Local), then rerun on that")


def _nla_played(anim) -> bool:
    """Whether the active action plays over NLA tracks (else Blender plays it alone, Replace at full
    influence, whatever its settings say)."""
    return anim.use_nla and any(not t.mute and len(t.strips) for t in anim.nla_tracks)


def check_replacing(obj) -> None:
    """:class:`A4merError` when the user's action is played as a layer over their NLA tracks (Combine,
    Add, ... or an influence under 1): generated frames show whole poses, which such a layer would
    blend with the tracks below (the preview and the baked keys would show other poses)."""
    anim = obj.animation_data
    state = read_state(obj)
    src = source_track(obj, state) if state is not None else None
    if src is not None:
        strip = src.strips[0]
        blend, influence = strip.blend_type, strip.influence if strip.use_animated_influence else 1.0
        below = any(not t.mute and len(t.strips) for t in anim.nla_tracks[:list(anim.nla_tracks).index(src)])
    else:
        blend, influence, below = anim.action_blend_type, anim.action_influence, _nla_played(anim)
    if below and (blend != "REPLACE" or influence < 1.0 - 1e-6):
        raise errors.A4merError(f"the action of {obj.name!r} is played as a layer over its NLA tracks "
                                f"({blend.title()}, influence {influence:.2f}): A4Mer generates whole poses, for an action played "
                                "with Replace at influence 1; set those (Action editor, Animated Influence off), "
                                "or mute the tracks below, then run it again")


def check_no_muted_channels(obj, action) -> None:
    """:class:`A4merError` when ``action`` has muted F-Curves or channel groups: the result layer plays it
    from an NLA strip, where Blender puts muted channels at their default (rest) values on every frame,
    while the active action leaves them as posed; the user's animation would change outside the spans."""
    muted = sorted({body_channels.channel_group(fc.data_path) for fc in anim_compat.fcurves_of(obj, action)
                    if fc.mute or (fc.group is not None and fc.group.mute)})
    if muted:
        names = ", ".join(muted[:4]) + (f" and {len(muted) - 4} more" if len(muted) > 4 else "")
        raise errors.A4merError(f"the action {action.name!r} has muted channels ({names}): A4Mer's layer plays your "
                                "action from an NLA strip, where Blender sets muted channels to their rest values "
                                "on every frame; unmute them (or delete those F-Curves) and rerun")


def source_retimed(strip) -> str | None:
    """How the user moved, scaled, repeated or reversed the strip of the pushed-down action (A4Mer put it
    so that every scene frame shows the same frame of the action); None when it still does."""
    how = []
    if abs(strip.frame_start - strip.action_frame_start) > 1e-3:
        how.append(f"moved by {strip.frame_start - strip.action_frame_start:+g} frames")
    if abs(strip.scale - 1.0) > 1e-6:
        how.append(f"scaled by {strip.scale:g}")
    if abs(strip.repeat - 1.0) > 1e-6:
        how.append(f"repeated {strip.repeat:g} times")
    if strip.use_reverse:
        how.append("reversed")
    return " and ".join(how) or None


def user_action(obj):
    """The user's action: the pushed-down one when the result layer exists, else the active action.
    :class:`A4merError` when there is none, or a new active action was put over the result layer."""
    anim = obj.animation_data
    state = read_state(obj)
    src = source_track(obj, state)
    nla.check_not_tweaking(obj)
    if src is not None:
        if anim.action is not None:
            raise errors.A4merError(f"{obj.name!r} has another active action ({anim.action.name!r}) over its A4Mer "
                                    "result: unlink it in the Action editor to work on the result again, or delete "
                                    "the A4Mer tracks")
        retimed = source_retimed(src.strips[0])
        if retimed is not None:
            raise errors.A4merError(
                f"the {src.name!r} strip of {obj.name!r} was {retimed} in the NLA editor: A4Mer reads your action and "
                "places generated frames frame for frame, so they would land where the strip no longer plays "
                f"your frames; put the strip back (start at frame {src.strips[0].action_frame_start:g}, scale 1, "
                "repeat 1, not reversed) and rerun (Remove Generated Frames keeps the strip where you put it)")
        return src.strips[0].action
    if anim is None or anim.action is None:
        if state is not None:
            action = source_action(obj, state)
            name = action.name if action is not None else state.get("source_action")
            raise errors.A4merError(f"the {SOURCE_TRACK!r} track of {obj.name!r} was deleted: make your action "
                                    f"{name!r} active again (Action editor) and rerun")
        unknown = unrecorded_tracks(obj)
        if unknown:
            raise errors.A4merError(
                f"{obj.name!r} has no active action but holds A4Mer tracks ({', '.join(unknown)}) that A4Mer has no "
                "records of: a copy (duplicated or appended) of a library override, or a rig whose character file was "
                "saved with A4Mer tracks, does not carry them. Run A4Mer on the rig they were made on, or make your "
                f"action (the strip of {SOURCE_TRACK!r}) active again in the Action editor and delete those tracks")
        raise errors.A4merError(f"armature {obj.name!r} has no action{armature.nla_only_hint(obj)}")
    anim_compat.check_plays_a_slot(obj, anim.action)
    return anim.action


def unrecorded_tracks(obj) -> list[str]:
    """Names of ``obj``'s NLA tracks named as A4Mer names its tracks when A4Mer has no records on ``obj``
    (empty when it has: those tracks are then its own or the user's)."""
    anim = obj.animation_data if obj is not None else None
    names = (SOURCE_TRACK, GENERATED_TRACK, core_strips.ATOMS_TRACK, core_strips.MOTIFS_TRACK)
    found = [t.name for t in anim.nla_tracks if t.name.split(".")[0] in names] if anim is not None else []
    # the names first: a panel's poll asks on every redraw, and most rigs hold no such track
    if not found or read_state(obj) is not None or nla.read_record(obj) is not None:
        return []
    return found


def _shown(strip) -> tuple[int, int]:
    """(first, last) whole scene frames ``strip`` covers (both ends inclusive in NLA evaluation)."""
    return int(np.ceil(strip.frame_start - armature.ON_FRAME)), armature.whole_frame(strip.frame_end)


def spans(obj, state: dict | None = None) -> list[dict]:
    """Recorded generated spans whose strip still exists, with ``strip`` = the NLA strip and ``shown`` =
    the (first, last) scene frames it covers now (the user may have moved or trimmed it in the NLA
    editor; ``first``/``last`` stay the frames it was generated for)."""
    state = read_state(obj) if state is None else state
    track = generated_track(obj, state)
    if track is None:
        return []
    out = []
    for sp in state.get("spans", []):
        strip = nla.span_strip(track, sp.get("id"), sp["frame_start"])
        if strip is not None:
            out.append({**sp, "strip": strip, "shown": _shown(strip)})
    return out


def rename_motif(obj, motif_id: int, name: str) -> int:
    """Show the new ``name`` of motif ``motif_id`` on the generated spans that play it (their strips and
    records); returns how many."""
    state = read_state(obj)
    if state is None:
        return 0
    n = 0
    for sp in spans(obj, state):
        if sp.get("motif") and int(sp["motif"]["id"]) == int(motif_id):
            rec = next(r for r in state["spans"] if r.get("id") == sp.get("id") and r["first"] == sp["first"])
            rec["motif"] = {**rec["motif"], "name": name}
            sp["strip"].name = gaps.motif_label(rec["motif"])
            rec["name"] = sp["strip"].name
            n += 1
    if n:
        write_state(obj, state)
    return n


def stored(span: dict) -> dict:
    """The stored record of a :func:`spans` entry."""
    return {k: v for k, v in span.items() if k not in ("strip", "shown")}


def pieces(obj, state: dict | None = None) -> list[dict]:
    """Further strips on the "A4Mer Generated" track showing a span's generated action (the user split the
    span's strip in the NLA editor, or duplicated it), as :func:`spans` entries of that span: what they
    show is generated frames as much as the span's own strip."""
    state = read_state(obj) if state is None else state
    track = generated_track(obj, state)
    own = spans(obj, state)
    by_action = {sp["strip"].action.as_pointer(): sp for sp in own if sp["strip"].action is not None}
    taken = {sp["strip"].as_pointer() for sp in own}
    return [{**by_action[s.action.as_pointer()], "strip": s, "shown": _shown(s)} for s in track.strips
            if s.as_pointer() not in taken and s.action is not None
            and s.action.as_pointer() in by_action] if track is not None else []


def foreign_strips(obj) -> list:
    """Strips on the "A4Mer Generated" track that are not A4Mer's generated spans or their
    :func:`pieces` (the user's own)."""
    state = read_state(obj)
    track = generated_track(obj, state)
    ours = {sp["strip"].as_pointer() for sp in spans(obj, state) + pieces(obj, state)}
    return [s for s in track.strips if s.as_pointer() not in ours] if track is not None else []


def _overlaps(strip, span: tuple[int, int]) -> bool:
    """True when ``strip`` shares a frame with the inclusive scene-frame ``span`` or leaves no room on its
    track for the span's strip."""
    start, end = gaps.strip_range(span)
    first, last = _shown(strip)
    return (strip.frame_start < end and strip.frame_end > start) or (first <= span[1] and last >= span[0])


def check_free(obj, spans_frames) -> None:
    """:class:`A4merError` when a strip of the user's on the "A4Mer Generated" track lies on the frames
    to generate (inclusive scene-frame spans): A4Mer replaces only its own strips."""
    hit = [s for s in foreign_strips(obj) if any(_overlaps(s, sp) for sp in spans_frames)]
    if hit:
        names = ", ".join(f"{s.name!r} ({s.frame_start:g}-{s.frame_end:g})" for s in hit[:3])
        raise errors.A4merError(f"your strip {names} on the {GENERATED_TRACK!r} track lies on the frames to "
                                "generate: move it to another track (A4Mer replaces only its own strips), then rerun")


def check_plain(strip) -> None:
    """:class:`A4merError` when the user changed how a generated strip plays beyond moving, trimming or
    scaling it: A4Mer could neither read nor bake what it shows."""
    changed = [what for what, yes in (
        ("repeated", abs(strip.repeat - 1.0) > 1e-6), ("reversed", strip.use_reverse),
        ("given a Blend In or Blend Out", strip.blend_in > 1e-6 or strip.blend_out > 1e-6),
        (f"set to {strip.blend_type.title()} blending", strip.blend_type != "REPLACE"),
        ("given an animated influence", strip.use_animated_influence),
        ("given an animated time", strip.use_animated_time),
        (f"set to {strip.extrapolation.title().replace('_', ' ')} extrapolation", strip.extrapolation != "NOTHING"))
        if yes]
    if changed:
        raise errors.A4merError(f"the A4Mer strip {strip.name!r} was {', '.join(changed)} in the NLA editor: "
                                "A4Mer reads and bakes its strips only moved, trimmed or scaled; undo that, or "
                                "delete the strip")


def strip_time(strip, frames: np.ndarray) -> np.ndarray:
    """Action frames ``(N,)`` a plain (see :func:`check_plain`) strip shows on scene ``frames (N,)``."""
    return strip.action_frame_start + (np.asarray(frames, dtype=np.float64) - strip.frame_start) / strip.scale


# --- reading -------------------------------------------------------------------------------------
def content_range(obj, action, rig=None) -> tuple[int, int]:
    """(first, last) scene frames of the user's action and the generated spans after it. With ``rig``,
    the action ends at the body's last key (SMPL joints 0-21, :func:`.body_channels.body_pose_fcurves`):
    a later key on another channel (a finger, a custom property) does not hold the body still until it."""
    f0, T = armature.action_frames(action, obj)
    last = f0 + T - 1
    ends = [float(armature.key_coords(fc)[:, 0].max()) for fc in body_channels.body_pose_fcurves(obj, action, rig)
            if len(fc.keyframe_points)] if rig is not None else []
    if ends:
        last = armature.whole_frame(max(ends))
    for sp in spans(obj):
        last = max(last, sp["shown"][1])
    return f0, last


def check_not_cycling(obj, action, rig) -> None:
    """:class:`A4merError` for Extend when a body curve of ``action`` has an acting Cycles modifier: the
    loop already plays past the last key, so an extension would replace frames of it (with a pop where
    the loop resumes), and baking it would lengthen the loop, changing every frame after it."""
    cycled = [fc for fc in body_channels.body_pose_fcurves(obj, action, rig) if body_channels.loops(fc, after=True)]
    if cycled:
        names = sorted({body_channels.channel_group(fc.data_path) for fc in cycled})
        f0, last = content_range(obj, action, rig)
        raise errors.A4merError(
            f"the action {action.name!r} loops (a Cycles modifier on {len(cycled)} F-Curves of "
            f"{', '.join(names[:3])}{' and more' if len(names) > 3 else ''}): it already plays past its last key "
            f"(frame {last}), so an extension would replace frames of the loop, and baking it would lengthen the "
            "loop; to continue the take, remove the Cycles modifiers (Graph Editor) first")


def _channels(obj, rig, action, frames: np.ndarray, replaced=()) -> tuple[np.ndarray, np.ndarray]:
    """Basis locations (T, B, 3) / rotations (T, B, 4) of the user's action, with the generated spans'
    body channels over them on the frames they show (what Blender shows); spans that the inclusive
    scene-frame spans ``replaced`` will replace are left out."""
    loc, quat = armature.read_channels(obj, rig, anim_compat.fcurves_of(obj, action), frames)
    body, pelvis = body_channels.body_bones(rig), rig.smpl_bone[0]
    for sp in spans(obj):
        strip = sp["strip"]
        if strip.mute or strip.action is None or any(_overlaps(strip, r) for r in replaced):
            continue
        sel = np.flatnonzero((frames >= sp["shown"][0]) & (frames <= sp["shown"][1]))
        if len(sel) == 0:
            continue
        check_plain(strip)
        gl, gq = armature.read_channels(obj, rig, anim_compat.fcurves_of(obj, strip.action),
                                        strip_time(strip, frames[sel]))
        quat[sel[:, None], body] = gq[:, body]
        loc[sel, pelvis] = gl[:, pelvis]
    return loc, quat


def read_layered_motion(obj, scene, first: int, last: int, replaced=()):
    """The animation Blender shows on scene frames ``first..last`` (user's action + generated spans, but
    those the inclusive scene-frame spans ``replaced`` will replace) as an SMPL-24 Motion at the scene
    fps; ``meta['blender_frame_start'] = first``."""
    rig = armature.detect_rig(obj)
    action = user_action(obj)
    frames = np.arange(first, last + 1, dtype=np.float64)
    loc, quat = _channels(obj, rig, action, frames, replaced)
    fcurves = anim_compat.fcurves_of(obj, action)
    return core_rig.rig_to_motion(rig, loc, quat, armature.object_matrices(obj, scene, frames, fcurves),
                                  armature.scene_fps(scene),
                                  meta={"source": f"blender:{obj.name}/{action.name}", "blender_action": action.name,
                                        "blender_frame_start": int(first)})


def _new_action(obj, name: str, channels: dict, frames: np.ndarray, span_id: str):
    import bpy
    action = bpy.data.actions.new(name)
    action[records.GENERATED_ACTION_KEY] = True
    action[nla.SPAN_KEY] = span_id
    sink = anim_compat.FCurveSink(obj, action)
    for (path, i), values in channels.items():
        armature.set_keys(sink.fresh(path, i, body_channels.channel_group(path)), frames, values)
    return action


# --- applying a result ---------------------------------------------------------------------------
#: frames a pushed-down strip reaches beyond the scene and the action when the action's curves are
#: not constant outside their keys (Cycles modifiers, linear extrapolation): far enough for any shot,
#: near enough that NLA's float32 strip times keep subframes to 0.004 frames
STRIP_REACH = 30000


def _varies_outside_keys(fcurves) -> bool:
    """True when a curve's value changes beyond its first/last key (modifiers, linear extrapolation)."""
    return any(len(fc.modifiers) or fc.extrapolation != "CONSTANT" for fc in fcurves)


def _cycles(fcurves) -> bool:
    """True when a curve has a Cycles modifier: Blender then plays the active action on every frame,
    whatever its extrapolation mode (the action's range becomes endless)."""
    return any(m.type == "CYCLES" for fc in fcurves for m in fc.modifiers)


def _strip_frames(track) -> list[list]:
    """(frame_start, frame_end, action name) of each strip on ``track``: how a muted track of the user's
    is found once renamed."""
    return [[round(s.frame_start, 3), round(s.frame_end, 3), s.action.name if s.action else ""] for s in track.strips]


def muted_tracks(obj, settings: dict) -> list:
    """The user's tracks that :func:`push_down` muted (their NLA was off) and that are still muted: by
    the recorded name, else (renamed by the user) the one muted track whose strips (frames and actions)
    are the recorded ones; none where several are (a track the user muted must not be unmuted)."""
    names = settings.get("muted_tracks", [])
    strips = settings.get("muted_frames", [None] * len(names))
    left = [t for t in _tracks(obj) if t.mute]
    by_name = {t.name: t for t in left}
    found = [by_name[n] for n in names if n in by_name]
    left = [t for t in left if t not in found]
    for name, where in zip(names, strips):
        if name not in by_name and where:
            same = [t for t in left if _strip_frames(t) == where]
            if len(same) == 1:
                found.append(same[0])
                left.remove(same[0])
    return found


def push_down(obj, scene) -> dict:
    """Move the active action into a new top NLA track with the same evaluation on every frame; the
    new state (which holds what :func:`.bake.remove_result` restores).

    Blender plays an active action alone, at full influence and whatever its blend type, when the NLA
    is off or holds no tracks; the strip then gets Replace at full influence (and the user's tracks of
    an NLA that was switched off are muted while the result layer exists). Otherwise it takes the
    action's blend type, influence and extrapolation."""
    anim = obj.animation_data
    action = anim.action
    nla_played = _nla_played(anim)
    muted = [] if anim.use_nla else [t for t in anim.nla_tracks if not t.mute]
    before = set(anim.nla_tracks)
    try:
        return _push_down(obj, scene, action, nla_played, muted)
    except Exception:  # nothing half-done is left: the user's tracks as they were, no source track
        for t in [t for t in anim.nla_tracks if t not in before]:
            anim.nla_tracks.remove(t)
        for t in muted:
            t.mute = False
        records.drop(obj, SOURCE_KEY)
        raise


def _push_down(obj, scene, action, nla_played: bool, muted: list) -> dict:
    anim = obj.animation_data
    for t in muted:
        t.mute = True
    f0, T = armature.action_frames(action, obj)
    lo, hi = min(f0, scene.frame_start), max(f0 + T - 1, scene.frame_end) + 1
    extrap = anim.action_extrapolation if nla_played else "HOLD"
    if extrap != "HOLD":  # the action shows only from its first key on (Nothing: only up to its last)
        lo = f0
        hi = f0 + T - 1 if extrap == "NOTHING" else hi
    fcurves = anim_compat.fcurves_of(obj, action)
    if _cycles(fcurves):
        lo, hi = lo - STRIP_REACH, hi + STRIP_REACH
    elif _varies_outside_keys(fcurves):  # widened where the action's extrapolation shows it
        lo = lo - STRIP_REACH if extrap == "HOLD" else lo
        hi = hi + STRIP_REACH if extrap != "NOTHING" else hi
    track = nla.new_track(anim, SOURCE_TRACK)
    strip = anim_compat.new_strip(track, action.name, int(lo), action)
    anim_compat.set_strip_slot(strip, obj)
    strip.action_frame_start, strip.action_frame_end = float(lo), float(hi)
    strip.frame_start_ui = float(lo)
    if abs(strip.frame_end - hi) > 1e-4:
        strip.frame_end_ui = float(hi)
    strip.blend_type = anim.action_blend_type if nla_played else "REPLACE"
    strip.extrapolation = extrap
    # Blender's default (for an action without a manual frame range): leaving tweak mode on the strip would
    # cut it to the action's keys, losing the frames widened above where the curves go on past their keys
    strip.use_sync_length = False
    if nla_played and anim.action_influence < 1.0:  # a strip's influence counts only when animated: a
        strip.influence = anim.action_influence  # constant key, which takes the value set before
        strip.use_animated_influence = True
    strip.select = track.select = False
    state = {"version": STATE_VERSION, "source_action": action.name, "source_track": track.name,
             "source_frames": list(nla.placement(strip)[:4]),
             "slot": anim_compat.active_slot_identifier(obj), "generated_track": "", "spans": [],
             "action_settings": {"blend": anim.action_blend_type, "extrapolation": anim.action_extrapolation,
                                 "influence": float(anim.action_influence), "use_nla": bool(anim.use_nla),
                                 "muted_tracks": [t.name for t in muted],
                                 "muted_frames": [_strip_frames(t) for t in muted]}}
    records.put(obj, SOURCE_KEY, action)
    anim.action = None
    anim.use_nla = True
    return state


def _ensure_generated_track(obj, state: dict):
    track = generated_track(obj, state)
    if track is None:
        anim = obj.animation_data
        track = nla.new_track(anim, GENERATED_TRACK)  # on top, above the source track
        track.select = False
        state["spans"] = []
    state["generated_track"] = track.name  # the name it has now (the user may have renamed it)
    return track


def drop_strip(track, strip) -> None:
    """Remove ``strip`` from ``track``, and its action when it is A4Mer's and nothing else uses it."""
    import bpy
    action = strip.action
    track.strips.remove(strip)
    if action is not None and action.users == 0 and action.get(records.GENERATED_ACTION_KEY):
        bpy.data.actions.remove(action)


def _remove_span(obj, track, span: dict) -> None:
    if span.get("motif"):
        motif_marks.unmark_motif(obj, span)
    drop_strip(track, span["strip"])


def apply_result(obj, scene, kind: str, spans_frames: list[tuple[int, int]], channels_per_span: list[dict],
                 reports: list[dict | None], method: str = "", motif: dict | None = None) -> list[dict]:
    """Put generated spans on the "A4Mer Generated" track (pushing the user's action down first).

    spans_frames: inclusive scene frames per span; channels_per_span: per span the channels of
    :func:`.body_channels.generated_channels`; reports: per span the quality dict (or None); motif:
    ``{"id", "name"}`` when generated with a motif (a span whose report says the motif was not played
    gets none).
    A4Mer's strips on the track that overlap a new span (wherever the user moved them) are replaced; a
    strip of the user's there is an :class:`A4merError`, raised before anything changes. Returns the
    new span records."""
    check_free(obj, spans_frames)
    state = read_state(obj)
    pushed = source_track(obj, state) is None
    new, keep, replaced = [], [], 0
    try:
        if pushed:
            state = push_down(obj, scene)
        track = _ensure_generated_track(obj, state)
        split = pieces(obj, state)
        for sp in spans(obj, state):
            parts = [p for p in split if p["strip"].action == sp["strip"].action]
            if any(_overlaps(p["strip"], r) for p in [sp] + parts for r in spans_frames):
                for p in parts:
                    drop_strip(track, p["strip"])
                _remove_span(obj, track, sp)
                replaced += 1
            else:
                keep.append(stored(sp))
        state["spans"] = keep
        write_state(obj, state)  # from here on the record says all there is to undo
        for (a, b), chans, rep in zip(spans_frames, channels_per_span, reports):
            frames = np.arange(a, b + 1, dtype=np.float64)
            played = gaps.played_motif(motif, rep)
            label = gaps.motif_label(played) if played else f"{kind} {a}-{b}"
            sid = uuid.uuid4().hex
            action = _new_action(obj, f"A4Mer {kind} {a}-{b}", chans, frames, sid)
            new.append({"kind": kind, "id": sid, "first": int(a), "last": int(b), "action": action.name})
            start, end = gaps.strip_range((a, b))
            strip = nla.place_strip(track, label, action, (start, end, start, end, 1.0))
            new[-1].update({"frame_start": float(strip.frame_start), "name": strip.name, "method": method,
                            "quality": rep, "motif": played})
    except Exception as e:
        _undo_apply(obj, state, pushed, new)
        gone = f"; the {replaced} generated span(s) it was replacing are gone" if replaced and not pushed else ""
        raise errors.A4merError(f"could not put the generated frames on the NLA of {obj.name!r} "
                                f"({type(e).__name__}: {e}): your action and tracks are as before{gone}") from e
    _cover_spans_with_source(obj, state, spans_frames)
    state["spans"] = sorted(keep + new, key=lambda s: s["first"])
    write_state(obj, state)
    return new


def _cover_spans_with_source(obj, state: dict, spans_frames: list[tuple[int, int]]) -> None:
    """Where the pushed-down action's strip ends at its last key (Extrapolation Nothing over the user's NLA
    layers, which play after it) and generated frames lie past that end, the strip is widened over them:
    the bones the model does not generate (fingers, jaw) hold the action's last values there, as they do
    once the frames are baked into the action (its range then reaches them), instead of the layers below."""
    src = source_track(obj, state)
    last = max(b for _, b in spans_frames)
    if src is None or src.strips[0].extrapolation != "NOTHING" or last <= src.strips[0].frame_end:
        return
    strip = src.strips[0]
    strip.action_frame_end = float(last)
    if abs(strip.frame_end - last) > 1e-4:
        strip.frame_end_ui = float(last)
    state["source_frames"] = list(nla.placement(strip)[:4])


def _undo_apply(obj, state: dict | None, pushed: bool, new: list[dict]) -> None:
    """After :func:`apply_result` failed part-way: drop the strips and actions it made; when it pushed the
    user's action down, give everything back as Remove Generated Frames does."""
    import bpy
    track = generated_track(obj, {**state, "spans": new}) if state is not None else None
    for rec in new:
        strip = nla.span_strip(track, rec["id"], 0.0) if track is not None else None
        if strip is not None:
            drop_strip(track, strip)
        action = bpy.data.actions.get(rec["action"])
        if action is not None and action.users == 0 and action.get(nla.SPAN_KEY) == rec["id"]:
            bpy.data.actions.remove(action)
    if pushed and state is not None and source_track(obj, state) is not None:
        from . import bake
        write_state(obj, {**state, "spans": []})
        bake.remove_result(obj)
