"""The non-destructive result layer of generated frames (fill gaps, extend).

Blender 5.0 gives an action one layer, and the active action is evaluated over every NLA track, so
generated frames cannot sit under it. Instead the user's action is pushed down, unchanged, into an
NLA track ("A4Mer Source", one strip, the active action's blend type / influence / extrapolation,
identity time mapping over the scene range), and the generated frames go on the "A4Mer Generated"
track above it: one strip per generated span covering exactly its frames, Replace blending,
extrapolation Nothing, each showing an action that holds only the channels the model generates (the
rotations of the SMPL body bones 0-21 and the pelvis location), keyed only on the generated frames.
Channels the model does not generate (fingers, jaw, the root bone) keep coming from the user's action;
muting or deleting the generated track gives the user's animation back exactly. :func:`bake` is the
only way generated keys enter the user's action.

The state lives on the object as a JSON ID property (strips cannot hold custom properties), with the
pushed-down action as an ID pointer property (it follows renames and saves). A generated strip is known
by the span id stored on its action, never by its name or place: the user may move or trim it in the
NLA editor (its span is then what it shows there), and a strip the user puts on the track is theirs.
"""
from __future__ import annotations

import json
import uuid

import numpy as np

from .._core import errors, rig as core_rig
from . import anim_compat, armature, nla

STATE_KEY = "a4mer_generated"
#: object ID property pointing at the pushed-down user action (a pointer follows renames, unlike a name)
SOURCE_KEY = "a4mer_generated_source"
#: ID property of a generated action: the id of its span in the state
SPAN_KEY = "a4mer_span"
SOURCE_TRACK = "A4Mer Source"
GENERATED_TRACK = "A4Mer Generated"
STATE_VERSION = 1
BODY_JOINTS = 22


# --- state ---------------------------------------------------------------------------------------
def read_state(obj) -> dict | None:
    """The stored result-layer state of ``obj`` (None when absent or unreadable)."""
    text = obj.get(STATE_KEY) if obj is not None else None
    try:
        st = json.loads(text) if text else None
    except (TypeError, ValueError):
        return None
    return st if isinstance(st, dict) and st.get("version") == STATE_VERSION else None


def write_state(obj, state: dict | None) -> None:
    if state is None:
        for key in (STATE_KEY, SOURCE_KEY):
            if key in obj:
                del obj[key]
    else:
        obj[STATE_KEY] = json.dumps(state, separators=(",", ":"))


def _track(obj, name: str | None):
    anim = obj.animation_data
    if anim is None or not name:
        return None
    return anim.nla_tracks.get(name)


def source_action(obj, state: dict):
    """The user's action pushed down by ``state``, whatever it is called now (None when deleted). Records
    of earlier versions, without the pointer, name it."""
    if SOURCE_KEY in obj:
        return obj[SOURCE_KEY]
    import bpy
    return bpy.data.actions.get(state.get("source_action", ""))


def source_track(obj, state: dict | None = None):
    """The NLA track holding the pushed-down user action (None when not pushed or deleted)."""
    state = read_state(obj) if state is None else state
    if state is None:
        return None
    t = _track(obj, state.get("source_track"))
    action = source_action(obj, state)
    if t is None or len(t.strips) != 1 or action is None or t.strips[0].action != action:
        return None
    return t


def generated_track(obj, state: dict | None = None):
    """The "A4Mer Generated" track of the stored state (None when absent or deleted by the user)."""
    state = read_state(obj) if state is None else state
    return _track(obj, state.get("generated_track")) if state is not None else None


def check_storable(obj) -> None:
    """:class:`A4merError` for an object that cannot keep the add-on's records across a save: a
    library override (Blender does not save new custom properties on overrides, so the tracks would
    be orphaned on reload) or a linked object."""
    if getattr(obj, "override_library", None) is not None or getattr(obj, "library", None) is not None:
        raise errors.A4merError(f"{obj.name!r} is a library override or linked: Blender would not save what A4Mer "
                                "records on it; make it local (Object > Library Override > Make Local) first")


def user_action(obj):
    """The user's action: the pushed-down one when the result layer exists, else the active action.
    :class:`A4merError` when there is none, or a new active action was put over the result layer."""
    anim = obj.animation_data
    state = read_state(obj)
    src = source_track(obj, state)
    if anim is not None and anim.use_tweak_mode:
        raise errors.A4merError(f"{obj.name!r} is in NLA tweak mode: leave it (Tab in the NLA editor) first")
    if src is not None:
        if anim.action is not None:
            raise errors.A4merError(f"{obj.name!r} has another active action ({anim.action.name!r}) over its A4Mer "
                                    "result: unlink it in the Action editor to work on the result again, or delete "
                                    "the A4Mer tracks")
        return src.strips[0].action
    if anim is None or anim.action is None:
        if state is not None:
            action = source_action(obj, state)
            name = action.name if action is not None else state.get("source_action")
            raise errors.A4merError(f"the {SOURCE_TRACK!r} track of {obj.name!r} was deleted: make your action "
                                    f"{name!r} active again (Action editor) and rerun")
        raise errors.A4merError(f"armature {obj.name!r} has no action")
    return anim.action


def _span_strip(track, sp: dict):
    """The strip of recorded span ``sp`` on ``track``, wherever the user moved it: the one showing the
    action that carries the span's id (records of earlier versions, without an id: the strip at the
    recorded first frame); None when the user deleted it."""
    if "id" not in sp:
        return next((s for s in track.strips if abs(s.frame_start - sp["frame_start"]) < 1e-3), None)
    return next((s for s in track.strips if s.action is not None and s.action.get(SPAN_KEY) == sp["id"]), None)


def _shown(strip) -> tuple[int, int]:
    """(first, last) whole scene frames ``strip`` covers (both ends inclusive in NLA evaluation)."""
    return int(np.ceil(strip.frame_start - 1e-4)), int(np.floor(strip.frame_end + 1e-4))


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
        strip = _span_strip(track, sp)
        if strip is not None:
            out.append({**sp, "strip": strip, "shown": _shown(strip)})
    return out


def _record(span: dict) -> dict:
    """The stored record of a :func:`spans` entry."""
    return {k: v for k, v in span.items() if k not in ("strip", "shown")}


def foreign_strips(obj) -> list:
    """Strips on the "A4Mer Generated" track that are not A4Mer's generated spans (the user's own)."""
    state = read_state(obj)
    track = generated_track(obj, state)
    ours = {sp["strip"].as_pointer() for sp in spans(obj, state)}
    return [s for s in track.strips if s.as_pointer() not in ours] if track is not None else []


def _overlaps(strip, span: tuple[int, int]) -> bool:
    """True when ``strip`` shares a frame with the inclusive scene-frame ``span`` or leaves no room on its
    track for the span's strip."""
    from .._core import optional
    start, end = optional("gaps").strip_range(span)
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


def _check_plain(strip) -> None:
    """:class:`A4merError` when the user changed how a generated strip plays beyond moving, trimming or
    scaling it: A4Mer could neither read nor bake what it shows."""
    changed = [what for what, yes in (
        ("repeated", abs(strip.repeat - 1.0) > 1e-6), ("reversed", strip.use_reverse),
        (f"set to {strip.blend_type.title()} blending", strip.blend_type != "REPLACE"),
        ("given an animated influence", strip.use_animated_influence),
        ("given an animated time", strip.use_animated_time),
        (f"set to {strip.extrapolation.title().replace('_', ' ')} extrapolation", strip.extrapolation != "NOTHING"))
        if yes]
    if changed:
        raise errors.A4merError(f"the A4Mer strip {strip.name!r} was {', '.join(changed)} in the NLA editor: "
                                "A4Mer reads and bakes its strips only moved, trimmed or scaled; undo that, or "
                                "delete the strip")


def _strip_time(strip, frames: np.ndarray) -> np.ndarray:
    """Action frames ``(N,)`` a plain (see :func:`_check_plain`) strip shows on scene ``frames (N,)``."""
    return strip.action_frame_start + (np.asarray(frames, dtype=np.float64) - strip.frame_start) / strip.scale


# --- reading -------------------------------------------------------------------------------------
def body_bones(rig) -> list[int]:
    """Rig bone indices of SMPL joints 0-21 (what the model generates)."""
    return [b for b in rig.smpl_bone[:BODY_JOINTS] if b >= 0]


#: pose-bone channels that define the body's pose (a key on a constraint's influence or a custom
#: property of a bone is not a pose key and must not split a gap)
POSE_CHANNELS = ("rotation_quaternion", "rotation_euler", "rotation_axis_angle", "location")


def keyed_frames(obj, action, rig=None) -> np.ndarray:
    """Sorted integer frames where a body bone (SMPL joints 0-21) of ``obj`` has a rotation or
    location key."""
    rig = rig or armature.detect_rig(obj)
    names = {rig.names[b] for b in body_bones(rig)}
    frames = [np.zeros(0)]
    for fc in anim_compat.fcurves_of(obj, action):
        p = fc.data_path
        if not p.startswith('pose.bones["') or p.split('"')[1] not in names or \
                p.rsplit("].", 1)[-1] not in POSE_CHANNELS:
            continue
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        frames.append(co[0::2])
    return np.unique(np.round(np.concatenate(frames)).astype(np.int64))


def content_range(obj, action) -> tuple[int, int]:
    """(first, last) scene frames of the user's action and the generated spans after it."""
    f0, T = armature.action_frames(action)
    last = f0 + T - 1
    for sp in spans(obj):
        last = max(last, sp["shown"][1])
    return f0, last


def _channels(obj, rig, action, frames: np.ndarray, replaced=()) -> tuple[np.ndarray, np.ndarray]:
    """Basis locations (T, B, 3) / rotations (T, B, 4) of the user's action, with the generated spans'
    body channels over them on the frames they show (what Blender shows); spans that the inclusive
    scene-frame spans ``replaced`` will replace are left out."""
    loc, quat = armature.read_channels(obj, rig, anim_compat.fcurves_of(obj, action), frames)
    body, pelvis = body_bones(rig), rig.smpl_bone[0]
    for sp in spans(obj):
        strip = sp["strip"]
        if strip.mute or strip.action is None or any(_overlaps(strip, r) for r in replaced):
            continue
        sel = np.flatnonzero((frames >= sp["shown"][0]) & (frames <= sp["shown"][1]))
        if len(sel) == 0:
            continue
        _check_plain(strip)
        gl, gq = armature.read_channels(obj, rig, anim_compat.fcurves_of(obj, strip.action),
                                        _strip_time(strip, frames[sel]))
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


# --- generated channels --------------------------------------------------------------------------
def _align(values: np.ndarray, prev: np.ndarray, path: str) -> np.ndarray:
    """Rotation channels ``(N, C)`` made continuous with the user's value ``prev (C,)`` on the frame
    before the span (quaternion sign, Euler turns), so keys baked next to each other interpolate."""
    if path.endswith("rotation_quaternion"):
        return -values if float(values[0] @ prev) < 0 else values
    if path.endswith("rotation_euler"):
        return values + 2 * np.pi * np.round((prev - values[0]) / (2 * np.pi))
    return values


def generated_channels(obj, scene, rig, action, motion, spans_frames: list[tuple[int, int]]) -> list[dict]:
    """Per span, the channel values ``{(data_path, index): (n,)}`` that pose the body bones and the pelvis
    location as in ``motion`` (SMPL; its frames are those of the inclusive scene-frame ``spans_frames``,
    concatenated in order); the other bones keep the user's pose there. One rig solve for all spans;
    rotations continue the user's value on the frame before each span (quaternion sign, Euler turns).

    Only channels the user's action animates are returned: Blender's NLA resets every channel that any
    strip animates to its default value on frames no strip covers, so a generated channel the user
    never keyed (a body bone posed but not animated) would change frames outside the span."""
    frames = np.concatenate([np.arange(a, b + 1) for a, b in spans_frames]).astype(np.float64)
    ufc = anim_compat.fcurves_of(obj, action)
    animated = {(fc.data_path, fc.array_index) for fc in ufc}
    loc_u, quat_u = armature.read_channels(obj, rig, ufc, frames)
    basis = core_rig.basis_matrices(loc_u, quat_u)
    loc, quat = core_rig.motion_to_rig(rig, motion, basis, armature.object_matrices(obj, scene, frames, ufc))
    _, prev_q = armature.read_channels(obj, rig, ufc, np.array([a - 1.0 for a, _ in spans_frames]))
    bounds = np.cumsum([0] + [b - a + 1 for a, b in spans_frames])
    out: list[dict] = [{} for _ in spans_frames]
    for bone in body_bones(rig):
        name = rig.names[bone]
        mode = obj.pose.bones[name].rotation_mode
        path = f'pose.bones["{name}"].{armature._rot_path(mode)[0]}'
        chans = core_rig.quat_to_channels(quat[:, bone], mode)
        prev = core_rig.quat_to_channels(prev_q[:, bone], mode)
        for k, (s0, s1) in enumerate(zip(bounds[:-1], bounds[1:])):
            c = _align(chans[s0:s1], prev[k], path)
            out[k].update({(path, i): c[:, i] for i in range(c.shape[1]) if (path, i) in animated})
            if bone == rig.smpl_bone[0]:
                lp = f'pose.bones["{name}"].location'
                out[k].update({(lp, i): loc[s0:s1, bone, i] for i in range(3) if (lp, i) in animated})
    return out


def _group(path: str) -> str:
    return path.split('"')[1] if path.startswith('pose.bones["') else "Object Transforms"


def _new_action(obj, name: str, channels: dict, frames: np.ndarray, span_id: str):
    import bpy
    action = bpy.data.actions.new(name)
    action["a4mer_generated"] = True
    action[SPAN_KEY] = span_id
    sink = anim_compat.FCurveSink(obj, action)
    for (path, i), values in channels.items():
        armature.set_keys(sink.fresh(path, i, _group(path)), frames, values)
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


def push_down(obj, scene) -> dict:
    """Move the active action into a new top NLA track with the same evaluation on every frame; the
    new state (which holds what :func:`remove_result` restores).

    Blender plays an active action alone, at full influence and whatever its blend type, when the NLA
    is off or holds no tracks; the strip then gets Replace at full influence (and the user's tracks of
    an NLA that was switched off are muted while the result layer exists). Otherwise it takes the
    action's blend type, influence and extrapolation."""
    anim = obj.animation_data
    action = anim.action
    nla_played = anim.use_nla and any(not t.mute and len(t.strips) for t in anim.nla_tracks)
    muted = [] if anim.use_nla else [t.name for t in anim.nla_tracks if not t.mute]
    for name in muted:
        anim.nla_tracks[name].mute = True
    f0, T = armature.action_frames(action)
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
    track = anim.nla_tracks.new()
    track.name = nla.unique_track_name(anim, SOURCE_TRACK)
    strip = anim_compat.new_strip(track, action.name, int(lo), action)
    anim_compat.set_strip_slot(strip, obj)
    strip.action_frame_start, strip.action_frame_end = float(lo), float(hi)
    strip.frame_start_ui = float(lo)
    if abs(strip.frame_end - hi) > 1e-4:
        strip.frame_end_ui = float(hi)
    strip.blend_type = anim.action_blend_type if nla_played else "REPLACE"
    strip.extrapolation = extrap
    if nla_played and anim.action_influence < 1.0:  # a strip's influence counts only when animated: a
        strip.influence = anim.action_influence  # constant key, which takes the value set before
        strip.use_animated_influence = True
    strip.select = track.select = False
    state = {"version": STATE_VERSION, "source_action": action.name, "source_track": track.name,
             "slot": anim_compat.active_slot_identifier(obj), "generated_track": "", "spans": [],
             "action_settings": {"blend": anim.action_blend_type, "extrapolation": anim.action_extrapolation,
                                 "influence": float(anim.action_influence), "use_nla": bool(anim.use_nla),
                                 "muted_tracks": muted}}
    obj[SOURCE_KEY] = action
    anim.action = None
    anim.use_nla = True
    return state


def _ensure_generated_track(obj, state: dict):
    track = generated_track(obj, state)
    if track is None:
        anim = obj.animation_data
        track = anim.nla_tracks.new()  # on top, above the source track
        track.name = nla.unique_track_name(anim, GENERATED_TRACK)
        track.select = False
        state["generated_track"] = track.name
        state["spans"] = []
    return track


def _drop_strip(track, strip) -> None:
    """Remove ``strip`` from ``track``, and its action when it is A4Mer's and nothing else uses it."""
    import bpy
    action = strip.action
    track.strips.remove(strip)
    if action is not None and action.users == 0 and action.get("a4mer_generated"):
        bpy.data.actions.remove(action)


def _remove_span(obj, track, span: dict) -> None:
    if span.get("motif"):
        unmark_motif(obj, span["frame_start"])
    _drop_strip(track, span["strip"])


def apply_result(obj, scene, kind: str, spans_frames: list[tuple[int, int]], channels_per_span: list[dict],
                 reports: list[dict | None], method: str = "", motif: dict | None = None) -> list[dict]:
    """Put generated spans on the "A4Mer Generated" track (pushing the user's action down first).

    spans_frames: inclusive scene frames per span; channels_per_span: per span the channels of
    :func:`generated_channels`; reports: per span the quality dict (or None); motif: ``{"id", "name"}``
    when generated with a motif (a span whose report says the motif was not played gets none).
    A4Mer's strips on the track that overlap a new span (wherever the user moved them) are replaced; a
    strip of the user's there is an :class:`A4merError`, raised before anything changes. Returns the
    new span records."""
    from .._core import optional
    gaps = optional("gaps")
    check_free(obj, spans_frames)
    state = read_state(obj)
    if source_track(obj, state) is None:
        state = push_down(obj, scene)
    track = _ensure_generated_track(obj, state)
    keep = []
    for sp in spans(obj, state):
        if any(_overlaps(sp["strip"], r) for r in spans_frames):
            _remove_span(obj, track, sp)
        else:
            keep.append(_record(sp))
    new = []
    for (a, b), chans, rep in zip(spans_frames, channels_per_span, reports):
        frames = np.arange(a, b + 1, dtype=np.float64)
        played = motif if motif and gaps.motif_played(rep) else None
        label = played["name"] if played else f"{kind} {a}-{b}"
        sid = uuid.uuid4().hex
        action = _new_action(obj, f"A4Mer {kind} {a}-{b}", chans, frames, sid)
        start, end = gaps.strip_range((a, b))
        strip = anim_compat.new_strip(track, label, int(a), action)
        strip.action_frame_start, strip.action_frame_end = start, end
        strip.frame_start_ui = start
        if abs(strip.frame_end - end) > 1e-4:
            strip.frame_end_ui = end
        strip.blend_type, strip.extrapolation, strip.select = "REPLACE", "NOTHING", False
        rec = {"kind": kind, "id": sid, "first": int(a), "last": int(b), "frame_start": float(strip.frame_start),
               "action": action.name, "name": strip.name, "method": method, "quality": rep,
               "motif": played}
        new.append(rec)
    state["spans"] = sorted(keep + new, key=lambda s: s["first"])
    write_state(obj, state)
    return new


def mark_motif(obj, motif: dict, span: dict) -> bool:
    """Mark a span generated with ``motif`` on the "A4Mer Motifs" track of the segments record: a strip
    named after the motif (counted by the motif library, so jumping reaches it) where the track is free
    (e.g. after the segmented clip); inside segmented frames the track already tiles the clip and the
    generated strip alone carries the name. Returns True when a strip was added."""
    record = nla.read_record(obj)
    if record is None:
        return False
    pair = next(((rt, t) for rt, t in nla._pairs(obj, record) if rt.get("kind") == "motif"), None)
    if pair is None:
        return False
    rt, track = pair
    from .._core import optional
    start, end = optional("gaps").strip_range((span["first"], span["last"]))
    if any(s.frame_start < end and s.frame_end > start for s in track.strips):
        return False
    import bpy
    action = bpy.data.actions.get(span["action"])
    strip = anim_compat.new_strip(track, motif["name"], int(start), action)
    strip.action_frame_start, strip.action_frame_end = start, end
    strip.frame_start_ui = start
    if abs(strip.frame_end - end) > 1e-4:
        strip.frame_end_ui = end
    strip.blend_type, strip.extrapolation, strip.select = "REPLACE", "NOTHING", False
    rt["strips"].append({"kind": "motif", "index": -1, "key": int(motif["id"]), "name": strip.name,
                         "frame_start": float(strip.frame_start), "frame_end": float(strip.frame_end),
                         "generated": True})
    rt["strips"].sort(key=lambda s: s["frame_start"])
    nla.write_record(obj, record)
    return True


def unmark_motif(obj, frame_start: float) -> bool:
    """Remove the motif-track mark of the generated span starting at ``frame_start`` (if any)."""
    record = nla.read_record(obj)
    if record is None:
        return False
    for rt, track in nla._pairs(obj, record):
        if rt.get("kind") != "motif":
            continue
        hit = [s for s in rt["strips"] if s.get("generated") and abs(s["frame_start"] - frame_start) < 1e-3]
        for s in hit:
            strip = next((x for x in track.strips if abs(x.frame_start - frame_start) < 1e-3), None)
            if strip is not None:
                track.strips.remove(strip)
            rt["strips"].remove(s)
        if hit:
            nla.write_record(obj, record)
            return True
    return False


# --- bake / remove -------------------------------------------------------------------------------
def merge_keys(fc, frames: np.ndarray, values: np.ndarray) -> int:
    """Insert keys ``values (N,)`` at ``frames (N,)`` into F-Curve ``fc`` in bulk. Existing keys keep
    their values and interpolation (a key already on one of ``frames`` gets the new value); the new
    keys are linear, like the generated strips' keys, so the baked curve plays as the preview did.
    Blender recomputes the automatic handles of keys next to new ones, as on any key insertion.
    Returns the number of keys added."""
    kp = fc.keyframe_points
    n = len(kp)
    co = np.empty(2 * n, dtype=np.float32)
    kp.foreach_get("co", co)
    co = co.reshape(n, 2)
    keyed, wanted = np.round(co[:, 0]).astype(np.int64), np.round(frames).astype(np.int64)
    order = np.argsort(keyed, kind="stable")  # of keys on the same whole frame the last one is hit
    at = np.searchsorted(keyed[order], wanted, side="right") - 1
    hit = (at >= 0) & (keyed[order][np.maximum(at, 0)] == wanted) if n else np.zeros(len(frames), bool)
    co[order[at[hit]], 1] = values[hit]
    add = int((~hit).sum())
    new = np.stack([frames[~hit], values[~hit]], axis=1).astype(np.float32)
    if add:
        kp.add(add)  # appended at the end; sorted below
    kp.foreach_set("co", np.concatenate([co, new]).ravel())
    if add:
        interp = np.empty(n + add, dtype=np.uint8)  # uint8: the DNA char (see armature.set_keys)
        kp.foreach_get("interpolation", interp)
        interp[n:] = anim_compat.INTERPOLATION["LINEAR"]
        kp.foreach_set("interpolation", interp)
    fc.update()  # sorts the keys by frame (each key keeps its own handles and interpolation)
    return add


def _uncovered(fc, first: int, last: int) -> np.ndarray:
    """Whole frames ``(N,)`` between ``fc``'s last key before ``first`` and its first key after ``last``
    that the span ``first..last`` leaves out (a span the user moved within a gap): keys put on the span
    change how the curve interpolates there, so these frames are keyed with their present values."""
    co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    keyed = np.round(co[0::2]).astype(np.int64)
    before, after = keyed[keyed < first], keyed[keyed > last]
    lo = np.arange(before.max() + 1, first) if len(before) else np.zeros(0, np.int64)
    hi = np.arange(last + 1, after.min()) if len(after) else np.zeros(0, np.int64)
    return np.concatenate([lo, hi]).astype(np.float64)


def remove_result(obj, restore: bool = True, keep_marks: bool = False) -> int:
    """Delete the generated spans' strips and actions (the generated track too, unless it holds strips of
    the user's: see :func:`foreign_strips`), and (``restore``) put the user's action back as the active
    action (its keys untouched); the spans' motif-track marks go too unless ``keep_marks`` (after a
    bake the motif occurrences are in the action). Returns the number of spans removed."""
    state = read_state(obj)
    if state is None:
        return 0
    anim = obj.animation_data
    track = generated_track(obj, state)
    ours = spans(obj, state)
    if not keep_marks:  # the generated frames go away: so do their marks on the motif track
        for sp in state.get("spans", []):
            if sp.get("motif"):
                unmark_motif(obj, sp["frame_start"])
    for sp in ours:
        _drop_strip(track, sp["strip"])
    if track is not None and not len(track.strips):
        anim.nla_tracks.remove(track)
    src = source_track(obj, state)
    if src is not None and restore:
        settings = state.get("action_settings") or {"blend": src.strips[0].blend_type, "influence": 1.0,
                                                    "extrapolation": src.strips[0].extrapolation}
        if anim.action is None:  # else another action is active: the user's stays on its track
            action = src.strips[0].action
            anim.nla_tracks.remove(src)
            anim_compat.restore_action(obj, action, state.get("slot", ""))
            anim.action_blend_type, anim.action_extrapolation = settings["blend"], settings["extrapolation"]
            anim.action_influence = settings["influence"]
        for name in settings.get("muted_tracks", []):
            if name in anim.nla_tracks:
                anim.nla_tracks[name].mute = False
        anim.use_nla = settings.get("use_nla", True)
    write_state(obj, None)
    return len(ours)


def bake(obj) -> tuple[int, int]:
    """Write what the unmuted spans show into the user's action (a key on every whole scene frame their
    strips cover, where the user may have moved, trimmed or scaled them, and on the frames of the gap a
    moved strip left uncovered, with the values shown there), then remove the result layer (the user's
    action is active again). Returns (spans baked, keys added)."""
    state = read_state(obj)
    track = generated_track(obj, state)
    if track is None:
        raise errors.A4merError(f"{obj.name!r} has no A4Mer generated frames to bake")
    if track.mute:
        raise errors.A4merError("the A4Mer Generated track is muted: unmute it to bake it, or delete it")
    action = user_action(obj)
    if action.library is not None:
        raise errors.A4merError(f"the action {action.name!r} is linked from {action.library.filepath!r} and cannot "
                                "take keys: make it local (Object > Relations > Make Local), then bake")
    shown = [sp for sp in spans(obj, state) if not sp["strip"].mute and sp["strip"].action is not None]
    for sp in shown:  # every refusal before the first change
        _check_plain(sp["strip"])
    sink = anim_compat.FCurveSink(obj, action)
    added = 0
    for sp in shown:
        strip = sp["strip"]
        frames = np.arange(sp["shown"][0], sp["shown"][1] + 1, dtype=np.float64)
        times = _strip_time(strip, frames)
        for fc in anim_compat.fcurves_of(obj, strip.action):
            target = sink.ensure(fc.data_path, fc.array_index, _group(fc.data_path))
            extra = _uncovered(target, *sp["shown"])
            values = [armature.sample_fcurve(fc, times), armature.sample_fcurve(target, extra)]
            added += merge_keys(target, np.concatenate([frames, extra]), np.concatenate(values))
    remove_result(obj, restore=True, keep_marks=True)
    return len(shown), added

