"""Keys read once per operator run (:func:`armature.keys_read_once`), shared by every reader: the readers
give exactly what they gave when each read every key itself (the code before, kept below as the
reference), on a rig with sub-frame keys, a gap, mixed channels (scale, a custom property, object
transforms), Euler and quaternion bones, several interpolations and modifiers; the fingerprint still
sees every edit; and Fill, Extend and Find Atoms and Motifs read each F-Curve's keys once before the
model runs and once after (a 10-minute 120 fps take read them 3-5 times: seconds)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

import bpy
from a4mer_blender import runner
from a4mer_blender.bridge import anim_compat, armature, body_channels
from bl_helpers import even_segments
from test_fill_extend import delete_keys_inside, rig_with_fingers


# --- the readers as they were (each reading every key itself): the reference -----------------------
def old_keyed_frames(obj, action, rig=None) -> np.ndarray:
    rig = rig or armature.detect_rig(obj)
    names = {rig.names[b] for b in body_channels.body_bones(rig)}
    frames = [np.zeros(0)]
    for fc in anim_compat.fcurves_of(obj, action):
        p = fc.data_path
        if not p.startswith('pose.bones["') or p.split('"')[1] not in names or \
                p.rsplit("].", 1)[-1] not in body_channels.POSE_CHANNELS:
            continue
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float64)
        fc.keyframe_points.foreach_get("co", co)
        x = co[0::2]
        x = np.where(np.abs(x - np.round(x)) < 1e-3, np.round(x), x)
        frames += [np.floor(x), np.ceil(x)]
    return np.unique(np.concatenate(frames).astype(np.int64))


def old_keys_fingerprint(obj, action) -> str:
    h = hashlib.sha1()
    for fc in anim_compat.fcurves_of(obj, action):
        n = len(fc.keyframe_points)
        h.update(f"{fc.data_path}[{fc.array_index}]{n}{fc.mute}{fc.extrapolation}".encode())
        for attr, width, dtype in body_channels._KEY_ATTRS:
            buf = np.empty(width * n, dtype=dtype)
            fc.keyframe_points.foreach_get(attr, buf)
            h.update(buf.tobytes())
        for mod in fc.modifiers:
            h.update(body_channels._settings(mod).encode())
    return h.hexdigest()


def old_action_frames(action, obj=None) -> tuple[int, int]:
    keyed = [fc.keyframe_points for fc in anim_compat.fcurves_of(obj, action) if len(fc.keyframe_points)] \
        if obj is not None else []
    if keyed:
        co = [np.empty(2 * len(k), dtype=np.float32) for k in keyed]
        for k, c in zip(keyed, co):
            k.foreach_get("co", c)
        start, end = min(float(c[0::2].min()) for c in co), max(float(c[0::2].max()) for c in co)
    else:
        start, end = (float(v) for v in getattr(action, "curve_frame_range", action.frame_range))
    f0 = int(np.floor(start + 1e-6))
    return f0, max(1, int(np.floor(end + 1e-6)) - f0 + 1)


def old_sample_fcurve(fc, frames: np.ndarray) -> np.ndarray:
    n = len(fc.keyframe_points)
    co = np.empty(2 * n, dtype=np.float32)
    fc.keyframe_points.foreach_get("co", co)
    co = co.reshape(n, 2)
    plain = not any(not m.mute for m in fc.modifiers)
    if plain and n == len(frames) and np.array_equal(co[:, 0], frames.astype(np.float32)):
        return co[:, 1].astype(np.float64)
    return np.array([fc.evaluate(float(f)) for f in frames], dtype=np.float64)


# --- the rig ---------------------------------------------------------------------------------------
def _curve(obj, action, path: str, index: int):
    return next(fc for fc in anim_compat.fcurves_of(obj, action) if (fc.data_path, fc.array_index) == (path, index))


@pytest.fixture
def mixed_rig(scene):
    """An SMPL-X rig keyed on every frame 1..90, then: two body bones in Euler modes (XYZ, ZXY) keyed
    every other frame and on sub-frames, sub-frame quaternion keys, a scale channel, a custom property
    and object location keys, Constant / Bezier / Elastic (with easing) / Back keys with free handles,
    a muted and an acting Noise modifier, linear extrapolation, and a gap 41..54 on every curve
    but for a key at 47.5."""
    obj, action = rig_with_fingers(scene, T=90)
    for name, mode in (("left_knee", "XYZ"), ("spine1", "ZXY")):
        pb = obj.pose.bones[name]
        pb.rotation_mode = mode
        for f in list(range(1, 91, 2)) + [6.5, 12.25, 30.75]:
            pb.rotation_euler = (0.3 * np.sin(f / 7.0), 0.2 * np.cos(f / 5.0), 0.1 * f / 90.0 + (3.0 if f > 60 else 0.0))
            pb.keyframe_insert("rotation_euler", frame=f)
    hip = obj.pose.bones["left_hip"]
    for f in (20.5, 21.25, 88.5):
        hip.rotation_quaternion = (0.9, 0.3, 0.1, 0.2)
        hip.keyframe_insert("rotation_quaternion", frame=f)
    obj.pose.bones["right_hip"].scale = (1.1, 1.0, 1.0)
    obj.pose.bones["right_hip"].keyframe_insert("scale", frame=10)
    obj.pose.bones["spine2"]["stretch"] = 0.5
    obj.pose.bones["spine2"].keyframe_insert('["stretch"]', frame=33)
    for f in (1, 45, 90):
        obj.location = (0.01 * f, 0.0, 0.0)
        obj.keyframe_insert("location", frame=f)
    delete_keys_inside(obj, action, 40, 55)
    hip.rotation_quaternion = (0.95, 0.2, 0.1, 0.2)
    hip.keyframe_insert("rotation_quaternion", frame=47.5)  # in the gap, between two whole frames
    for fc in anim_compat.fcurves_of(obj, action):
        fc.update()
    knee = _curve(obj, action, 'pose.bones["left_knee"].rotation_euler', 0)
    knee.keyframe_points[3].interpolation = "CONSTANT"
    knee.keyframe_points[5].interpolation = "ELASTIC"
    knee.keyframe_points[5].easing = "EASE_IN_OUT"
    knee.keyframe_points[5].amplitude, knee.keyframe_points[5].period = 0.3, 2.0
    knee.keyframe_points[7].interpolation = "BACK"
    knee.keyframe_points[7].back = 2.5
    k = knee.keyframe_points[9]
    k.handle_left_type = k.handle_right_type = "FREE"
    k.handle_right = (k.handle_right[0] + 0.3, k.handle_right[1] + 0.4)
    knee.extrapolation = "LINEAR"
    wrist = _curve(obj, action, 'pose.bones["left_wrist"].rotation_quaternion', 1)
    wrist.modifiers.new("NOISE").mute = True
    elbow = _curve(obj, action, 'pose.bones["left_elbow"].rotation_quaternion', 2)
    elbow.modifiers.new("NOISE").strength = 0.05
    scene.frame_end = 90
    return obj, action


FRAME_SETS = [np.arange(-3.0, 95.0), np.arange(0.0, 92.0, 0.25), np.array([6.5, 12.25, 20.5, 21.25, 30.75, 88.5]),
              np.arange(1.0, 41.0), np.array([1.0 + 1e-7, 45.000001, 60.0])]


def _results(obj, action, sample=True) -> dict:
    out = {"keyed": body_channels.keyed_frames(obj, action).tolist(), "fingerprint": body_channels.keys_fingerprint(obj, action),
           "frames": armature.action_frames(action, obj)}
    if sample:
        for fc in anim_compat.fcurves_of(obj, action):
            for i, frames in enumerate(FRAME_SETS):
                out[(fc.data_path, fc.array_index, i)] = armature.sample_fcurve(fc, frames)
            keys = np.array([k.co[0] for k in fc.keyframe_points], dtype=np.float64)
            out[(fc.data_path, fc.array_index, "keys")] = armature.sample_fcurve(fc, keys)
    return out


def _reference(obj, action) -> dict:
    out = {"keyed": old_keyed_frames(obj, action).tolist(), "fingerprint": old_keys_fingerprint(obj, action),
           "frames": old_action_frames(action, obj)}
    for fc in anim_compat.fcurves_of(obj, action):
        for i, frames in enumerate(FRAME_SETS):
            out[(fc.data_path, fc.array_index, i)] = old_sample_fcurve(fc, frames)
        keys = np.array([k.co[0] for k in fc.keyframe_points], dtype=np.float64)
        out[(fc.data_path, fc.array_index, "keys")] = old_sample_fcurve(fc, keys)
    return out


def _assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for k in want:
        if isinstance(want[k], np.ndarray):
            assert np.array_equal(got[k], want[k], equal_nan=True), k  # bit for bit
        else:
            assert got[k] == want[k], k


def test_shared_reading_gives_what_each_reader_read_itself(scene, mixed_rig):
    obj, action = mixed_rig
    want = _reference(obj, action)
    assert {40, 47, 48, 55} <= set(want["keyed"]) and not set(range(41, 55)) - {47, 48} & set(want["keyed"])
    _assert_same(_results(obj, action), want)
    with armature.keys_read_once():
        _assert_same(_results(obj, action), want)
        _assert_same(_results(obj, action), want)  # from the shared read
        with armature.keys_read_once():  # nested: the outer one counts
            _assert_same(_results(obj, action), want)
    # the SMPL-X rig's own channels only (no Euler, no odd keys) and an action of another slot / no keys
    assert body_channels.keyed_frames(obj, bpy.data.actions.new("empty")).tolist() == []


def test_sample_fcurve_evaluates_off_key_frames_only_as_blender_plays_them(scene, mixed_rig):
    """Key values on the frames a key sits on, evaluate() elsewhere: bit for bit what evaluate() gives on
    every frame, also with two keys on one frame and NaN-free curves of any interpolation."""
    obj, action = mixed_rig
    for fc in anim_compat.fcurves_of(obj, action):
        for frames in FRAME_SETS:
            want = np.array([fc.evaluate(float(f)) for f in frames])
            assert np.array_equal(armature.sample_fcurve(fc, frames), want), (fc.data_path, fc.array_index)
    fc = _curve(obj, action, 'pose.bones["left_hip"].rotation_quaternion', 0)
    kp = fc.keyframe_points
    n = len(kp)
    kp.add(1)  # a second key on frame 10 (foreach_set; no update: it stays where it was put)
    co = np.empty(2 * (n + 1), np.float32)
    kp.foreach_get("co", co)
    co[-2:] = (10.0, 5.0)
    kp.foreach_set("co", co)
    frames = np.arange(1.0, 20.0)
    assert np.array_equal(armature.sample_fcurve(fc, frames), [fc.evaluate(float(f)) for f in frames])


@pytest.mark.parametrize("edit", ["value", "frame", "handle", "handle type", "interpolation", "easing", "back",
                                  "amplitude", "period", "delete", "add", "modifier", "extrapolation", "mute"])
def test_the_fingerprint_sees_every_edit_it_saw(scene, mixed_rig, edit):
    obj, action = mixed_rig
    with armature.keys_read_once():
        before = body_channels.keys_fingerprint(obj, action)
    assert before == old_keys_fingerprint(obj, action)
    knee = _curve(obj, action, 'pose.bones["left_knee"].rotation_euler', 0)
    k = knee.keyframe_points[5]
    if edit == "value":
        k.co = (k.co[0], k.co[1] + 1e-4)
    elif edit == "frame":
        k.co = (k.co[0] + 0.01, k.co[1])
    elif edit == "handle":
        knee.keyframe_points[9].handle_right = (knee.keyframe_points[9].handle_right[0], 2.0)
    elif edit == "handle type":
        k.handle_left_type = "VECTOR"
        knee.update()
    elif edit == "interpolation":
        k.interpolation = "LINEAR"
    elif edit == "easing":
        k.easing = "EASE_OUT"
    elif edit in ("back", "amplitude", "period"):
        setattr(k, edit, getattr(k, edit) + 0.5)
    elif edit == "delete":
        knee.keyframe_points.remove(knee.keyframe_points[2])
    elif edit == "add":
        knee.keyframe_points.insert(44.0, 0.2)
    elif edit == "modifier":
        _curve(obj, action, 'pose.bones["left_elbow"].rotation_quaternion', 2).modifiers[0].strength = 0.5
    elif edit == "extrapolation":
        knee.extrapolation = "CONSTANT"
    else:
        knee.mute = True
    with armature.keys_read_once():
        after = body_channels.keys_fingerprint(obj, action)
    assert after != before and after == old_keys_fingerprint(obj, action)
    assert body_channels.keys_fingerprint(obj, action) == after


@pytest.fixture
def count_reads(monkeypatch):
    """Count the key reads (foreach_get of "co") per F-Curve, split at the model run."""
    phases = [{}]
    real = armature._read_co

    def read(fc):
        phases[-1][fc.as_pointer()] = phases[-1].get(fc.as_pointer(), 0) + 1
        return real(fc)
    monkeypatch.setattr(armature, "_read_co", read)
    for name in ("run_heads_sync", "run_sync"):
        def run(*args, _real=getattr(runner, name), **kwargs):
            phases.append({})  # what follows reads after the model ran
            return _real(*args, **kwargs)
        monkeypatch.setattr(runner, name, run)
    return phases


def _user_curves(obj, action) -> set[int]:
    return {fc.as_pointer() for fc in anim_compat.fcurves_of(obj, action)}


@pytest.mark.parametrize("op", ["fill", "extend", "fill over a layer"])
def test_fill_and_extend_read_each_curve_once_before_and_at_most_twice_after_the_model(scene, mixed_rig, count_reads, op):
    obj, action = mixed_rig
    ours = _user_curves(obj, action)
    if op == "fill over a layer":  # the second run reads the generated strips too
        assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}
        count_reads[:] = [{}]
    assert (bpy.ops.a4mer.extend(frames=8) if op == "extend" else bpy.ops.a4mer.fill_gaps()) == {"FINISHED"}
    before, after = count_reads
    assert ours <= set(before) and ours <= set(after)  # every curve read: the fingerprint
    # after the model: once for the check and the channels, once more for the push-down's frame range (the
    # cache ends before the result layer is built, which deletes and makes actions)
    assert max(before.values()) == 1 and max(after.values()) <= 2, (before, after)


def test_find_atoms_reads_each_curve_once(scene, mixed_rig, count_reads, tmp_path):
    import json
    obj, action = mixed_rig
    for fc in anim_compat.fcurves_of(obj, action):  # Find Atoms wants an action without modifiers
        for m in list(fc.modifiers):
            fc.modifiers.remove(m)
    path = tmp_path / "seg.segments.json"
    path.write_text(json.dumps(even_segments(90, 30.0, atom_len=10, seed=1)))
    assert bpy.ops.a4mer.segment(segments_file=str(path)) == {"FINISHED"}
    (reads,) = count_reads
    assert _user_curves(obj, action) <= set(reads) and max(reads.values()) == 1, reads
