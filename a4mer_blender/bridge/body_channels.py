"""The body's pose channels in an armature's action: the F-Curves of the rotations and locations of the
SMPL body bones (joints 0-21, what the model generates), the frames they are keyed on, a fingerprint of
every key and modifier, Cycles loops, and the channel values that pose the body as an SMPL motion.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .._core import channels as core_channels, rig as core_rig
from . import anim_compat, armature

#: SMPL joints the model generates (0-21: the body without the hands)
BODY_JOINTS = 22



def body_bones(rig) -> list[int]:
    """Rig bone indices of SMPL joints 0-21 (what the model generates)."""
    return [b for b in rig.smpl_bone[:BODY_JOINTS] if b >= 0]


#: pose-bone channels that define the body's pose (a key on a constraint's influence or a custom
#: property of a bone is not a pose key and must not split a gap)
POSE_CHANNELS = ("rotation_quaternion", "rotation_euler", "rotation_axis_angle", "location")


def body_pose_fcurves(obj, action, rig=None) -> list:
    """``obj``'s F-Curves in ``action`` of the rotations and locations of the body bones (SMPL joints
    0-21) of ``rig`` (default: detected)."""
    rig = rig or armature.detect_rig(obj)
    names = {rig.names[b] for b in body_bones(rig)}
    return [fc for fc in anim_compat.fcurves_of(obj, action)
            if fc.data_path.startswith('pose.bones["') and fc.data_path.split('"')[1] in names
            and fc.data_path.rsplit("].", 1)[-1] in POSE_CHANNELS]


def keyed_frames(obj, action, rig=None) -> np.ndarray:
    """Sorted integer frames where a body bone (SMPL joints 0-21) of ``obj`` has a rotation or
    location key; a key between two whole frames (an action retimed by 1.25) counts for both, so keys
    under 2 frames apart leave no gap."""
    frames, seen = [np.zeros(0, dtype=np.int64)], set()
    for fc in body_pose_fcurves(obj, action, rig):
        x = np.ascontiguousarray(armature.key_coords(fc)[:, 0])
        digest = hashlib.sha1(x.tobytes()).digest()  # the channels of a take mostly share their key frames
        if digest in seen:
            continue
        seen.add(digest)
        x = x.astype(np.float64)
        x = np.where(np.abs(x - np.round(x)) < armature.ON_FRAME, np.round(x), x)  # float32 keys on whole frames
        frames += [np.floor(x).astype(np.int64), np.ceil(x).astype(np.int64)]
    return _unique_frames(np.concatenate(frames))


def _unique_frames(frames: np.ndarray) -> np.ndarray:
    """Sorted distinct values of the integer ``frames``: a mask over their range when it is short (a
    sort of every key of a long take costs), else ``np.unique``."""
    if not len(frames):
        return frames
    lo, hi = int(frames.min()), int(frames.max())
    if hi - lo > 4 * len(frames) + 1_000_000:
        return np.unique(frames)
    mask = np.zeros(hi - lo + 1, dtype=bool)
    mask[frames - lo] = True
    return np.flatnonzero(mask).astype(np.int64) + lo


#: key properties a fingerprint reads: (name, values per key, dtype; uint8: an enum's DNA char)
_KEY_ATTRS = (("co", 2, np.float32), ("handle_left", 2, np.float32), ("handle_right", 2, np.float32),
              ("back", 1, np.float32), ("amplitude", 1, np.float32), ("period", 1, np.float32),
              ("interpolation", 1, np.uint8), ("easing", 1, np.uint8))


#: modifier properties that change only how the modifier is drawn
_UI_ONLY = frozenset(("rna_type", "name", "show_expanded", "active", "is_valid"))


def _settings(struct) -> str:
    """Every setting of an RNA struct (an F-Curve modifier, an Envelope's control point), its
    collections item by item, as text: what it evaluates with."""
    out = []
    for prop in struct.bl_rna.properties:
        if prop.identifier in _UI_ONLY or prop.type == "POINTER":
            continue
        value = getattr(struct, prop.identifier)
        if prop.type == "COLLECTION":
            value = [_settings(item) for item in value]
        elif getattr(prop, "is_array", False):
            value = tuple(value)
        out.append(f"{prop.identifier}={value!r}")
    return ";".join(out)


def keys_fingerprint(obj, action) -> str:
    """A digest of every key (frame, value, handles, interpolation, easing) and of every modifier's
    settings, in stack order, of ``obj``'s F-Curves in ``action``: what the generated frames were
    planned from (a key added, moved or deleted, or a modifier changed, while the model ran changes it)."""
    h = hashlib.sha1()
    for fc in anim_compat.fcurves_of(obj, action):
        n = len(fc.keyframe_points)
        h.update(f"{fc.data_path}[{fc.array_index}]{n}{fc.mute}{fc.extrapolation}".encode())
        for attr, width, dtype in _KEY_ATTRS:
            if attr == "co":  # shared with the other readers inside armature.keys_read_once
                buf = armature.key_coords(fc)
            else:
                buf = np.empty(width * n, dtype=dtype)
                fc.keyframe_points.foreach_get(attr, buf)
            h.update(buf.tobytes())
        for mod in fc.modifiers:
            h.update(_settings(mod).encode())
    return h.hexdigest()


def loops(fc, after: bool) -> bool:
    """Whether an acting Cycles modifier of ``fc`` repeats its keys after the last (``after``) or before the
    first key (its mode on that side is not No Cycles)."""
    return any(m.type == "CYCLES" and not m.mute and (m.mode_after if after else m.mode_before) != "NONE"
               for m in fc.modifiers)



# --- generated channels --------------------------------------------------------------------------
def _align(values: np.ndarray, prev: np.ndarray, path: str, mode: str, after: np.ndarray | None = None) -> np.ndarray:
    """Rotation channels ``(N, C)`` made continuous with the user's value ``prev (C,)`` on the frame
    before the span (quaternion sign; axis-angle: the axis's hemisphere; Euler angles: the path of least
    motion from ``prev`` to the user's angles ``after (3,)`` on the frame after, when a key follows,
    :func:`a4mer.channels.euler_between`), so keys baked next to each other interpolate the short way."""
    if path.endswith("rotation_quaternion"):
        return -values if float(values[0] @ prev) < 0 else values
    if path.endswith("rotation_axis_angle"):  # the same rotations about the axis of the user's hemisphere
        return -values if float(values[0, 1:] @ prev[1:]) < 0 else values
    if path.endswith("rotation_euler"):
        return core_channels.euler_between(values, prev, after, mode)
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
    curves = {(fc.data_path, fc.array_index): fc for fc in ufc}
    animated = set(curves)
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
        chans = core_channels.quat_to_channels(quat[:, bone], mode)
        # the user's own values on the frame before each span (their sign; not made continuous across spans)
        prev = np.stack([core_channels.quat_to_channels(q[None], mode)[0] for q in prev_q[:, bone]])
        after = [None] * len(spans_frames)
        if mode != "QUATERNION":  # the user's own values there (axis hemisphere; Euler turn and branch)
            fcs = [curves.get((path, i)) for i in range(prev.shape[1])]
            posed = getattr(obj.pose.bones[name], armature._rot_path(mode)[0])
            for i, fc in enumerate(fcs):
                prev[:, i] = [fc.evaluate(a - 1.0) if fc is not None else posed[i] for a, _ in spans_frames]
        if mode in core_channels.EULER_MODES:
            if all(fc is not None and len(fc.keyframe_points) for fc in fcs):  # a key after the span (a fill)
                last = min(fc.keyframe_points[-1].co[0] for fc in fcs)
                after = [np.array([fc.evaluate(b + 1.0) for fc in fcs]) if last >= b + 1 else None
                         for _, b in spans_frames]
        for k, (s0, s1) in enumerate(zip(bounds[:-1], bounds[1:])):
            c = _align(chans[s0:s1], prev[k], path, mode, after[k])
            out[k].update({(path, i): c[:, i] for i in range(c.shape[1]) if (path, i) in animated})
            if bone == rig.smpl_bone[0]:
                lp = f'pose.bones["{name}"].location'
                out[k].update({(lp, i): loc[s0:s1, bone, i] for i in range(3) if (lp, i) in animated})
    return out


def channel_group(path: str) -> str:
    """The channel group (bone name, or "Object Transforms") an F-Curve of ``path`` is shown under."""
    return path.split('"')[1] if path.startswith('pose.bones["') else "Object Transforms"
