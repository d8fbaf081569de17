"""Armatures <-> :class:`a4mer.Motion`: detect SMPL-family rigs, read and write their animation.

Only Blender data moves here; the pose math is :mod:`a4mer.rig` on plain arrays. Keys are read with
``foreach_get`` and written with ``keyframe_points.add`` + ``foreach_set`` (never ``keyframe_insert``).
"""
from __future__ import annotations

import contextlib

import numpy as np

from .._core import (channels as core_channels, errors, motion as core_motion, rig as core_rig,
                     skeleton as core_skeleton)
from . import anim_compat

_OBJECT_PATHS = {"location", "rotation_euler", "rotation_quaternion", "rotation_axis_angle", "scale",
                 "delta_location", "delta_rotation_euler", "delta_rotation_quaternion", "delta_scale"}
_ROT_PATH = {"QUATERNION": ("rotation_quaternion", 4), "AXIS_ANGLE": ("rotation_axis_angle", 4)}


def _rot_path(mode: str) -> tuple[str, int]:
    return _ROT_PATH.get(mode, ("rotation_euler", 3))


def _matrix(m) -> np.ndarray:
    return np.array([list(row) for row in m], dtype=np.float64)


def bone_arrays(obj) -> tuple[list[str], list[int], np.ndarray]:
    """Bones of armature object ``obj`` parent-first: names, parent indices, rest matrices (B, 4, 4)."""
    if obj is None or obj.type != "ARMATURE":
        raise errors.SkeletonError(f"{getattr(obj, 'name', 'nothing')!r} is not an armature")
    order = []
    todo = [b for b in obj.data.bones if b.parent is None]
    while todo:
        b = todo.pop(0)
        order.append(b)
        todo[0:0] = list(b.children)
    index = {b.name: i for i, b in enumerate(order)}
    names = [b.name for b in order]
    parents = [index[b.parent.name] if b.parent is not None else -1 for b in order]
    rest = np.stack([_matrix(b.matrix_local) for b in order]) if order else np.zeros((0, 4, 4))
    return names, parents, rest


def detect_rig(obj) -> "core_rig.RigRest":
    """The SMPL rig description of ``obj``; :class:`SkeletonError` naming missing bones otherwise."""
    names, parents, rest = bone_arrays(obj)
    try:
        return core_rig.RigRest.from_bones(names, parents, rest)
    except errors.SkeletonError as e:
        raise errors.SkeletonError(f"armature {obj.name!r}: {e}") from None


def is_smpl_rig(obj) -> bool:
    """True for an armature whose bones name the SMPL body joints. Whether its rest pose is usable is
    :func:`detect_rig`'s to say (a named rig with a wrong rest is reported, not passed over)."""
    if obj is None or obj.type != "ARMATURE":
        return False
    return core_rig.match_smpl_rig([b.name for b in obj.data.bones]).ok


#: the scene property holding the exact rate :func:`set_scene_fps` gave the scene
EXACT_FPS_KEY = "a4mer_fps"


def set_scene_fps(scene, fps: float) -> None:
    """Scene rate ``fps``: render.fps = round(fps), fps_base = round(fps) / fps, and ``fps`` itself kept
    for :func:`scene_fps` (Blender keeps fps_base in float32: 100/3 reads back as 33.333333012)."""
    whole = max(1, int(round(fps)))
    scene.render.fps, scene.render.fps_base = whole, whole / float(fps)
    scene[EXACT_FPS_KEY] = float(fps)


def scene_fps(scene) -> float:
    """Frames per second of ``scene``: ``render.fps / render.fps_base``, or the exact rate
    :func:`set_scene_fps` gave it while that still agrees (to float32 precision: ``motion.same_rate``)."""
    rate = scene.render.fps / scene.render.fps_base
    exact = scene.get(EXACT_FPS_KEY)
    return float(exact) if isinstance(exact, float) and core_motion.same_rate(exact, rate) else rate


def check_time_map(scene) -> None:
    """:class:`A4merError` when the scene remaps time (Output > Time Stretching, old != new): the
    scene's frames (its range, the preview range, the current frame) and its frame rate then differ
    from the action frames Blender plays, which A4Mer reads, generates and places strips in."""
    old, new = scene.render.frame_map_old, scene.render.frame_map_new
    if old != new:
        raise errors.A4merError(f"the scene remaps time (Output > Time Stretching: Old {old}, New {new}): A4Mer "
                                "reads and generates frames 1:1 with the scene's; set Old and New to the same value "
                                "(e.g. both 100), then run it again")


#: while :func:`keys_read_once` is active: F-Curve pointer -> its keys' (frame, value) (see :func:`key_coords`)
_key_cache: dict | None = None


@contextlib.contextmanager
def keys_read_once():
    """Within it, each F-Curve's key frames and values are read from Blender once, the first time they
    are asked for (:func:`key_coords`), and shared by every reader (:func:`action_frames`,
    :func:`sample_fcurve`, :func:`.body_channels.keyed_frames`, :func:`.body_channels.keys_fingerprint`):
    on a long take, reading every key of every curve is what costs. Only for a stretch of code that
    changes no keys (one operator's reading of the user's action). Nested: the outer one counts."""
    global _key_cache
    if _key_cache is not None:
        yield
        return
    _key_cache = {}
    try:
        yield
    finally:
        _key_cache = None


def _read_co(fc) -> np.ndarray:
    co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)  # the stored type: the fast foreach_get path
    fc.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


def key_coords(fc) -> np.ndarray:
    """``(N, 2)`` float32 (frame, value) of ``fc``'s keys, in key order, as stored (read-only: inside
    :func:`keys_read_once` the array is shared)."""
    if _key_cache is None:
        return _read_co(fc)
    key = fc.as_pointer()
    co = _key_cache.get(key)
    if co is None or len(co) != len(fc.keyframe_points):
        co = _key_cache[key] = _read_co(fc)
        co.flags.writeable = False
    return co


#: frames: a key (or a strip's end) this close to a whole frame is on it. Blender keeps frames in float32, and
#: a retime and back (keys scaled by 1.3, then by 1/1.3) leaves a key at 89.99999237 for 90
ON_FRAME = 1e-3


def whole_frame(x: float) -> int:
    """The whole frame a key at frame ``x`` lies on (within :data:`ON_FRAME`) or after."""
    return int(np.floor(float(x) + ON_FRAME))


def action_frames(action, obj=None) -> tuple[int, int]:
    """(first scene frame, number of frames) covered by ``action``'s keys (integer frames; a manual
    frame range set on the action is ignored); with ``obj``, the keys of the channels it plays (its slot
    of an action shared with other objects), falling back to the whole action's without one."""
    keyed = [co for co in map(key_coords, anim_compat.fcurves_of(obj, action)) if len(co)] if obj is not None else []
    if keyed:
        start, end = min(float(c[:, 0].min()) for c in keyed), max(float(c[:, 0].max()) for c in keyed)
    else:
        start, end = (float(v) for v in getattr(action, "curve_frame_range", action.frame_range))
    f0 = whole_frame(start)
    return f0, max(1, whole_frame(end) - f0 + 1)


def sample_fcurve(fc, frames: np.ndarray) -> np.ndarray:
    """Values ``(T,)`` of F-Curve ``fc`` at ``frames`` as Blender plays them (its modifiers applied): where
    no modifier acts, the key values (bulk read) on the frames a key sits on exactly, the other frames
    evaluated one by one; else every frame evaluated."""
    frames = np.asarray(frames, dtype=np.float64)
    co = key_coords(fc)
    if any(not m.mute for m in fc.modifiers) or not len(co) or not np.all(np.diff(co[:, 0]) > 0):
        return np.array([fc.evaluate(float(f)) for f in frames], dtype=np.float64)
    # Blender evaluates a curve on a key's frame as that key's value: only the other frames are evaluated
    f32 = frames.astype(np.float32)  # what evaluate() is given
    at = np.minimum(np.searchsorted(co[:, 0], f32), len(co) - 1)
    on = (co[at, 0] == f32) & (f32 == frames)
    out = np.empty(len(frames), dtype=np.float64)
    out[on] = co[at[on], 1]
    out[~on] = [fc.evaluate(float(f)) for f in frames[~on]]
    return out


_MODE_NAMES = {"QUATERNION": "Quaternion", "AXIS_ANGLE": "Axis Angle"}


def check_rotation_modes(obj, rig, fcurves: list) -> None:
    """:class:`A4merError` naming the bones of ``rig`` whose rotation keys in ``fcurves`` are all on a
    channel their rotation mode does not play (keys on ``rotation_quaternion``, the bone set to Euler
    XYZ): Blender shows those bones unkeyed, so nothing could be read from or written to their keys."""
    keyed = {}  # bone -> rotation paths with keys
    for fc in fcurves:
        path = fc.data_path
        if path.startswith('pose.bones["') and len(fc.keyframe_points):
            name, _, channel = path[len('pose.bones["'):].partition('"].')
            if channel in ("rotation_quaternion", "rotation_euler", "rotation_axis_angle"):
                keyed.setdefault(name, set()).add(channel)
    off = [(name, obj.pose.bones[name].rotation_mode, sorted(keyed[name])) for name in rig.names
           if name in keyed and _rot_path(obj.pose.bones[name].rotation_mode)[0] not in keyed[name]]
    if off:
        named = ", ".join(f"{n!r} ({_MODE_NAMES.get(m, 'Euler ' + m)} mode, keys on {' and '.join(c)})"
                          for n, m, c in off[:3])
        more = f" and {len(off) - 3} more" if len(off) > 3 else ""
        raise errors.A4merError(f"the rotation keys of {named}{more} on {obj.name!r} do not play: each bone's "
                                "rotation mode uses another channel (Bone properties > Transform > Mode); set "
                                "the mode back to the one the keys are on, then rerun")


def read_channels(obj, rig, fcurves: list, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Basis locations ``(T, B, 3)`` and wxyz rotations ``(T, B, 4)`` of every bone of ``rig`` at scene
    ``frames`` from ``fcurves``; channels without an F-Curve hold the pose bone's current value.
    :class:`A4merError` naming the bones and frames where a value is NaN/inf."""
    curves = {(fc.data_path, fc.array_index): fc for fc in fcurves}
    check_rotation_modes(obj, rig, fcurves)
    T, B = len(frames), rig.num_bones
    loc = np.zeros((T, B, 3))
    quat = np.zeros((T, B, 4))
    bad_rot = np.zeros((T, B), dtype=bool)
    for b, name in enumerate(rig.names):
        pb = obj.pose.bones[name]
        base = f'pose.bones["{name}"].'
        path, n = _rot_path(pb.rotation_mode)
        cur_rot = {"rotation_quaternion": pb.rotation_quaternion, "rotation_axis_angle": pb.rotation_axis_angle,
                   "rotation_euler": pb.rotation_euler}[path]
        rot = np.empty((T, n))
        for i in range(n):
            fc = curves.get((base + path, i))
            rot[:, i] = sample_fcurve(fc, frames) if fc is not None else cur_rot[i]
            if i < 3:
                fc = curves.get((base + "location", i))
                loc[:, b, i] = sample_fcurve(fc, frames) if fc is not None else pb.location[i]
        bad_rot[:, b] = ~np.isfinite(rot).all(axis=1)
        quat[:, b] = core_channels.channels_to_quat(rot, pb.rotation_mode)
    core_channels.check_finite_channels(rig.names, frames, ~np.isfinite(loc).all(axis=2), bad_rot)
    return loc, quat


def world_matrix(obj) -> np.ndarray:
    """(4, 4) current world matrix of ``obj`` (the view layer is updated first: a matrix_world read
    right after editing location/rotation would be stale)."""
    import bpy
    if obj.parent is None:
        return _matrix(obj.matrix_basis)
    bpy.context.view_layer.update()
    return _matrix(obj.matrix_world)


def check_finite_object_keys(obj, frames: np.ndarray, fcurves: list) -> None:
    """:class:`A4merError` naming the object's transform channels (``location[2]``, ...) and the scene
    ``frames (T,)`` where their F-Curves in ``fcurves`` are NaN/inf, else nothing."""
    bad = []
    for fc in fcurves:
        if fc.data_path in _OBJECT_PATHS:
            values = sample_fcurve(fc, np.asarray(frames, dtype=np.float64))
            if not np.isfinite(values).all():
                bad.append((f"{fc.data_path}[{fc.array_index}]", np.asarray(frames)[~np.isfinite(values)]))
    core_channels.refuse_nonfinite_keys(bad, owner=f"the object {obj.name!r}: ")


def _moved_from_outside(obj) -> bool:
    """True when something besides ``obj``'s own action can move it over time: a constraint of it or of
    a parent, an animated parent (action, NLA or drivers), or drivers on its own transform."""
    o = obj
    while o is not None:
        if any(not c.mute for c in o.constraints):
            return True
        anim = o.animation_data
        if anim is not None and (o is not obj and (anim.action is not None or len(anim.nla_tracks) or len(anim.drivers))
                                 or any(d.data_path in _OBJECT_PATHS for d in anim.drivers)):
            return True  # a parent's driver may move the bone the rig hangs from
        o = o.parent
    return False


_BONE_PATHS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")


def _local_transforms(obj) -> list[tuple[object, str, tuple]]:
    """(struct, property, value) of ``obj``'s transform and its pose bones' loc/rot (every mode)/scale:
    what a frame change overwrites with the animation, losing the user's unkeyed edits."""
    out = [(obj, p, tuple(getattr(obj, p))) for p in sorted(_OBJECT_PATHS)]
    for pb in (obj.pose.bones if obj.pose is not None else ()):
        out += [(pb, p, tuple(getattr(pb, p))) for p in _BONE_PATHS]
    return out


def check_evaluated(obj) -> None:
    """:class:`A4merError` when Blender does not evaluate ``obj`` (disabled in viewports, itself or its
    collection, or in an excluded collection): its world matrix then stays where it was at any frame."""
    import bpy
    if not obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).is_evaluated:
        raise errors.A4merError(f"{obj.name!r} is disabled in viewports (the screen icon in the Outliner, on it or "
                                "its collection) or its collection is excluded: Blender then does not move it from "
                                "frame to frame, so its motion cannot be read; enable it, then run again")


def object_matrices(obj, scene, frames: np.ndarray, fcurves: list) -> np.ndarray:
    """World matrix of ``obj``: (4, 4) when nothing animates its transform, else (T, 4, 4) per frame (its
    own keys, or a parent, constraint or driver: :func:`_moved_from_outside`).
    :class:`A4merError` naming the channels and scene frames where its transform keys are NaN/inf (or
    the frames where its world matrix is, through a parent or a constraint); the scene's current frame
    (with its sub-frame) and the rig's unkeyed transform and pose edits are kept; :func:`check_evaluated`
    where it moves."""
    if not any(fc.data_path in _OBJECT_PATHS for fc in fcurves) and not _moved_from_outside(obj):
        out = world_matrix(obj)
        at = np.asarray(frames)[:0] if np.isfinite(out).all() else np.asarray(frames)
    else:
        check_finite_object_keys(obj, frames, fcurves)
        check_evaluated(obj)
        keep, sub, posed = scene.frame_current, scene.frame_subframe, _local_transforms(obj)
        out = []
        try:
            for f in frames:
                scene.frame_set(int(f))
                out.append(_matrix(obj.matrix_world))
        finally:
            scene.frame_set(keep, subframe=sub)
            for struct, prop, value in posed:
                setattr(struct, prop, value)
        out = np.stack(out)
        at = np.asarray(frames)[~np.isfinite(out).reshape(len(out), -1).all(axis=1)]
    if len(at):
        raise errors.A4merError(f"the world transform of {obj.name!r} is NaN/inf ({core_channels.frames_text(at)}): check "
                                "its parents and constraints, then rerun")
    return out


def nla_only_hint(obj) -> str:
    """For an armature with no active action: where its motion is when NLA strips play it (": its motion
    is in the NLA strip 'walk' of track 'Base' ..." with what to do), else ""."""
    anim = obj.animation_data
    strips = [(t.name, s) for t in (anim.nla_tracks if anim is not None else []) if not t.mute for s in t.strips
              if s.action is not None and not s.mute]  # muted ones (A4Mer's marker tracks) play nothing
    if not strips:
        return ""
    track, strip = strips[0]
    more = f" and {len(strips) - 1} more" if len(strips) > 1 else ""
    return (f": its motion is in the NLA strip {strip.name!r} of track {track!r}{more}, and A4Mer works on an active "
            f"action; choose {strip.action.name!r} in the Action editor (it then plays over the tracks), or bake what "
            "the NLA plays into a new action (Object > Animation > Bake Action)")


def read_motion(obj, scene, action=None, unit: float | None = None, skeleton=None, whole: bool = False):
    """The animation of SMPL-like armature ``obj`` (its active action unless ``action``) as a Motion on
    ``skeleton`` (default SMPL-24; SMPL-H/X to read the rig's fingers, jaw and eyes too; ``whole``: the
    rig's own family, for exports) at the scene's fps (Z-up, metres). meta carries ``blender_action``,
    ``blender_frame_start`` and the ``betas`` / ``gender`` the action was imported with."""
    rig = detect_rig(obj)
    if whole:
        skeleton = core_skeleton.SMPL_FAMILY[rig.family]
    if action is None:
        action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        raise errors.A4merError(f"armature {obj.name!r} has no action to read{nla_only_hint(obj)}")
    anim_compat.check_plays_a_slot(obj, action)
    f0, T = action_frames(action, obj)
    frames = np.arange(f0, f0 + T, dtype=np.float64)
    fcurves = anim_compat.fcurves_of(obj, action)
    loc, quat = read_channels(obj, rig, fcurves, frames)
    meta = {"source": f"blender:{obj.name}/{action.name}", "blender_action": action.name, "blender_frame_start": f0}
    if "a4mer_betas" in action:
        meta["betas"] = [float(b) for b in action["a4mer_betas"]]
    if "a4mer_gender" in action:
        meta["gender"] = str(action["a4mer_gender"])
    if "a4mer_surface_model_type" in action:
        meta["surface_model_type"] = str(action["a4mer_surface_model_type"])
    return core_rig.rig_to_motion(rig, loc, quat, object_matrices(obj, scene, frames, fcurves), scene_fps(scene),
                                  unit=unit, meta=meta, skeleton=skeleton)


def _current_basis(obj, rig) -> np.ndarray:
    return np.stack([_matrix(obj.pose.bones[n].matrix_basis) for n in rig.names])[None]  # (1, B, 4, 4)


def set_keys(fc, frames: np.ndarray, values: np.ndarray, interpolation: str = "LINEAR") -> None:
    """Replace ``fc``'s keys by ``values (T,)`` at ``frames (T,)`` in bulk (foreach_set)."""
    kp = fc.keyframe_points
    n = len(frames)
    kp.add(n)
    co = np.empty((n, 2), dtype=np.float32)
    co[:, 0] = frames
    co[:, 1] = values
    kp.foreach_set("co", co.ravel())
    # uint8 matches the DNA char: foreach_set copies it directly (int32 takes a slow per-item path)
    kp.foreach_set("interpolation", np.full(n, anim_compat.INTERPOLATION[interpolation], dtype=np.uint8))
    # keys are written in frame order, so only the handles need computing (update() would also sort)
    if hasattr(kp, "handles_recalc"):
        kp.handles_recalc()
    else:
        fc.update()


def write_motion(obj, motion, scene, action=None, frame_start: int | None = None, name: str | None = None,
                 unit: float | None = None):
    """Key ``motion`` (SMPL family, Z-up metres; resample it to the scene fps first) onto armature ``obj``.

    Writes into ``action`` (replacing the written channels) or a new action that becomes active; the
    user's previous action is kept in the file. Keys every SMPL bone's rotation (in its rotation mode),
    an SMPL-H/X clip's finger (jaw, eye) rotations on the rig's bones of those names, the pelvis
    location and the ``root`` bone's current pose, one key per frame from ``frame_start``
    (default: the scene start). Returns the action.
    """
    import bpy
    rig = detect_rig(obj)
    f0 = scene.frame_start if frame_start is None else int(frame_start)
    frames = np.arange(f0, f0 + motion.num_frames, dtype=np.float64)
    previous = obj.animation_data.action if obj.animation_data is not None else None
    previous_slot = anim_compat.active_slot_identifier(obj) if previous is not None else ""
    made = action is None
    if made:
        action = bpy.data.actions.new(name or motion.meta.get("name") or f"{obj.name}_a4mer")
    try:
        anim_compat.assign_action(obj, action)
        # the rig's world transform on every frame written, as the new action plays it (a parent, a
        # constraint): read back by read_motion, whatever frame the scene is on now
        world = object_matrices(obj, scene, frames, anim_compat.fcurves_of(obj, action))
        loc, quat = core_rig.motion_to_rig(rig, motion, _current_basis(obj, rig), world, unit=unit)
    except BaseException:  # nothing of the user's changed: their action plays again, ours goes
        if previous is not None:
            anim_compat.restore_action(obj, previous, previous_slot)
        elif obj.animation_data is not None:
            obj.animation_data.action = None
        if made:
            bpy.data.actions.remove(action)
        raise
    if made and previous is not None:
        anim_compat.keep_in_file(previous, 0)  # no longer played by obj: saving the file keeps it
    action["a4mer_source_fps"] = float(motion.meta.get("source_fps", motion.fps))
    if motion.meta.get("betas") is not None and len(motion.meta["betas"]):  # body shape and gender, for exports
        action["a4mer_betas"] = [float(b) for b in motion.meta["betas"]]
    if motion.meta.get("gender") not in (None, "", "neutral"):
        action["a4mer_gender"] = str(motion.meta["gender"])
    if motion.meta.get("surface_model_type"):  # an SMPL-X AMASS file's body model, for npz exports
        action["a4mer_surface_model_type"] = str(motion.meta["surface_model_type"])
    sink = anim_compat.FCurveSink(obj, action)
    write = {b for b in rig.smpl_bone if b >= 0} | ({rig.root_bone} if rig.root_bone >= 0 else set())
    write |= {b for n, b in rig.extra_bone if n in motion.skeleton.names[22:]}  # an SMPL-H/X clip's hands, face
    for b in sorted(write):
        name_b = rig.names[b]
        pb = obj.pose.bones[name_b]
        base = f'pose.bones["{name_b}"].'
        path, _ = _rot_path(pb.rotation_mode)
        sink.remove_paths([base + p for p in ("rotation_quaternion", "rotation_axis_angle", "rotation_euler")])
        chans = core_channels.quat_to_channels(quat[:, b], pb.rotation_mode)
        for i in range(chans.shape[1]):
            set_keys(sink.fresh(base + path, i, name_b), frames, chans[:, i])
        if b in (rig.smpl_bone[0], rig.root_bone):
            for i in range(3):
                set_keys(sink.fresh(base + "location", i, name_b), frames, loc[:, b, i])
    return action


def create_smpl_armature(context, name: str = "SMPL", bone_length: float = 0.08, skeleton=None):
    """A new SMPL-family armature object in MPI conventions, linked to the active collection and made
    active.

    Bones ``root`` + the smplx-style names of ``skeleton`` (default SMPL's 24; SMPL-H adds 30 finger
    bones, SMPL-X also ``jaw`` and the eyes, as the MPI SMPL-X add-on names them), heads at the neutral
    rest joints (template Y-up -> Z-up), every bone pointing up (+Z) with zero roll (hand and face bones
    a quarter as long), quaternion rotation mode; the ``root`` bone is posed at -90 deg about X like the
    MPI add-on's AMASS import, so the pelvis carries SMPL's global orientation and AMASS ``trans`` as its
    location.
    """
    import bpy
    from .._core import motion as core_motion
    skel = core_motion.SMPL if skeleton is None else skeleton
    heads = skel.rest_positions() @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T  # (J, 3) Z-up
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    context.collection.objects.link(obj)
    context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    root = arm.edit_bones.new("root")
    root.head, root.tail, root.roll = (0.0, 0.0, 0.0), (0.0, 0.0, bone_length), 0.0
    made = []
    for j, bname in enumerate(skel.names):
        eb = arm.edit_bones.new(bname)
        h = heads[j]
        length = bone_length if j < 22 or skel.num_joints == 24 else bone_length / 4
        eb.head, eb.tail, eb.roll = tuple(h), (h[0], h[1], h[2] + length), 0.0
        eb.parent = root if j == 0 else made[skel.parents[j]]
        eb.use_connect = False
        made.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    obj.pose.bones["root"].rotation_quaternion = (np.cos(-np.pi / 4), np.sin(-np.pi / 4), 0.0, 0.0)
    return obj
