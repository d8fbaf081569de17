"""Fill gaps / extend / bake on real Blender data (bpy module), with the heads as ``a4mer inbetween`` /
``a4mer extend`` run them (the shipped heads when present, else their classical curve).

The rig is an MPI-style SMPL-X armature (add-on I) whose jaw and finger bones also swing on sines:
the user's keys must stay bit-identical, frames outside the generated spans unchanged, the jaw and
fingers still animated from the user's action, and muting/deleting the generated track restores every
frame exactly."""
from __future__ import annotations

import types

import numpy as np
import pytest

import bpy
from a4mer_blender import runner
from a4mer_blender.bridge import anim_compat, armature, bake, body_channels, generated
from bl_helpers import SLOTTED, first_slot_to_strip, make_row_rig, pose_snapshot, smooth_motion

EXTRA = ("jaw", "left_index1", "left_index2", "right_thumb2", "right_middle1")
ATTRS = (("co", 2), ("handle_left", 2), ("handle_right", 2), ("interpolation", 1), ("handle_left_type", 1),
         ("handle_right_type", 1), ("easing", 1))


def rig_with_fingers(scene, T: int = 150, seed: int = 3, row: str = "mpi_smplx"):
    """An SMPL-X rig keyed on every frame 1..T (body from a smooth motion through the add-on's writer,
    jaw/fingers with keyframe_insert on sines); returns (object, action)."""
    obj, _ = make_row_rig(row)
    action = armature.write_motion(obj, smooth_motion(T=T, seed=seed), scene)
    bones = [b for b in EXTRA if b in obj.pose.bones]
    for f in range(1, T + 1):
        for j, name in enumerate(bones):
            pb = obj.pose.bones[name]
            a = 0.5 * np.sin(f / 6.0 + j)
            pb.rotation_quaternion = (np.cos(a / 2), np.sin(a / 2) * 0.6, np.sin(a / 2) * 0.8, 0.0)
            pb.keyframe_insert("rotation_quaternion", frame=f)
    return obj, action


def delete_keys_inside(obj, action, a: int, b: int) -> None:
    """Delete every key of every F-Curve strictly between frames ``a`` and ``b``."""
    for fc in anim_compat.fcurves_of(obj, action):
        for i in reversed(range(len(fc.keyframe_points))):
            if a < fc.keyframe_points[i].co[0] < b:
                fc.keyframe_points.remove(fc.keyframe_points[i])


def key_snapshot(obj, action) -> dict:
    """Every key attribute of every F-Curve of ``action`` (exact copies for bit comparisons)."""
    out = {}
    for fc in anim_compat.fcurves_of(obj, action):
        n = len(fc.keyframe_points)
        for attr, width in ATTRS:
            if width == 2:
                buf = np.empty(2 * n, dtype=np.float32)
                fc.keyframe_points.foreach_get(attr, buf)
            else:
                buf = np.array([getattr(k, attr) for k in fc.keyframe_points])
            out[(fc.data_path, fc.array_index, attr)] = buf
    return out


def assert_same_keys(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def basis_snapshot(obj, frames, names) -> np.ndarray:
    """(F, len(names), 4, 4) evaluated local ``matrix_basis`` of bones ``names`` at each frame."""
    out = []
    for f in frames:
        bpy.context.scene.frame_set(int(f))
        out.append([[list(r) for r in obj.pose.bones[n].matrix_basis] for n in names])
    return np.array(out)


def bone_rows(obj, names) -> list[int]:
    return [i for i, pb in enumerate(obj.pose.bones) if pb.name in names]


@pytest.fixture
def gap_rig(scene):
    obj, action = rig_with_fingers(scene, T=150, seed=3)
    delete_keys_inside(obj, action, 70, 100)
    scene.frame_end = 150
    return obj, action


def test_fill_preview_window(scene, gap_rig):
    obj, action = gap_rig
    frames = np.arange(1, 151)
    keys = key_snapshot(obj, action)
    before = pose_snapshot(obj, frames)
    local = basis_snapshot(obj, frames, EXTRA)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 70, 100
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert_same_keys(keys, key_snapshot(obj, action))
    after = pose_snapshot(obj, frames)
    d = np.abs(after - before).max(axis=(2, 3))  # (frames, bones)
    inside = (frames > 70) & (frames < 100)
    assert d[~inside].max() < 1e-5
    body = bone_rows(obj, armature.core_rig.SMPL.names[:22])
    assert d[inside][:, body].max() > 0.05
    local_after = basis_snapshot(obj, frames, EXTRA)
    assert np.abs(local_after - local).max() < 1e-6  # jaw/fingers: the user's own animation, in the window too
    assert np.ptp(local_after[~inside], axis=0).max() > 0.3 and np.ptp(local_after[inside], axis=0).max() > 0.01
    # the result layer: one strip over exactly 71..99 with only the generated channels
    tracks = obj.animation_data.nla_tracks
    assert obj.animation_data.action is None
    assert [t.name for t in tracks] == ["A4Mer Source", "A4Mer Generated"]
    assert tracks["A4Mer Source"].strips[0].action == action
    (strip,) = tracks["A4Mer Generated"].strips
    assert (strip.frame_start, strip.frame_end, strip.blend_type, strip.extrapolation) == (71.0, 99.0, "REPLACE", "NOTHING")
    fcs = anim_compat.fcurves_of(obj, strip.action)
    paths = {fc.data_path.split('"')[1] + "." + fc.data_path.rsplit(".", 1)[1] for fc in fcs}
    assert paths == {f"{n}.rotation_quaternion" for n in armature.core_rig.SMPL.names[:22]} | {"pelvis.location"}
    assert len(fcs) == 22 * 4 + 3
    for fc in fcs:
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        assert co[0::2].tolist() == list(range(71, 100))
    (span,) = generated.read_state(obj)["spans"]
    assert span["quality"]["span"] == [71, 99] and span["quality"]["span_frames"] == 29
    assert span["method"]


def test_mute_or_delete_the_generated_track_restores_every_frame(scene, gap_rig):
    obj, action = gap_rig
    frames = np.arange(1, 151)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}  # no preview range: the whole action
    track = obj.animation_data.nla_tracks["A4Mer Generated"]
    track.mute = True
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-7
    track.mute = False
    assert np.abs(pose_snapshot(obj, frames) - before).max() > 0.05
    obj.animation_data.nla_tracks.remove(track)
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-7


def test_extend(scene):
    obj, action = rig_with_fingers(scene, T=90, seed=5)
    scene.frame_end = 90
    frames = np.arange(1, 91)
    keys = key_snapshot(obj, action)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.extend() == {"FINISHED"}
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-5
    p = pose_snapshot(obj, [90, 105])
    body = bone_rows(obj, armature.core_rig.SMPL.names[:22])
    assert np.abs(p[1][body] - p[0][body]).max() > 0.01
    (strip,) = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    assert (strip.frame_start, strip.frame_end) == (91.0, 120.0) and scene.frame_end >= 120
    # a second extension continues after the first
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    starts = sorted(s.frame_start for s in obj.animation_data.nla_tracks["A4Mer Generated"].strips)
    assert starts == [91.0, 121.0]
    assert scene.frame_end == 130
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert scene.frame_end == 90  # the range Extend widened is put back


def test_extend_starts_after_the_bodys_last_key(scene, capfd):
    """A finger or a custom property keyed after the body's last key (a late hand pose, a switch) does
    not move where Extend starts: it continues the body from its last key (before, the body was held
    still up to the other channel's key and the extension started there, from a held pose)."""
    obj, action = rig_with_fingers(scene, T=90, seed=5)
    finger = next(fc for fc in anim_compat.fcurves_of(obj, action) if "left_index1" in fc.data_path)
    finger.keyframe_points.insert(140.0, finger.evaluate(90.0))
    obj["switch"] = 0.0
    obj.keyframe_insert('["switch"]', frame=200)
    scene.frame_end = 200
    capfd.readouterr()
    assert bpy.ops.a4mer.extend(frames=20) == {"FINISHED"}
    # the scene ran on past the extension: the preview there is the action's end, a bake would hold
    assert "the scene runs to frame 200, past the extension (up to frame 110)" in capfd.readouterr().out
    (strip,) = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    assert (strip.frame_start, strip.frame_end) == (91.0, 110.0)
    body = bone_rows(obj, armature.core_rig.SMPL.names[:22])
    p = pose_snapshot(obj, [90, 100])
    assert np.abs(p[1][body] - p[0][body]).max() > 0.01  # the body moves on from frame 90


def test_extend_past_the_preview_range_warns(scene, capfd):
    """With the preview range on, Extend moved the scene's end but playback stopped at the preview's end,
    before the new frames, with no word of it."""
    obj, _ = rig_with_fingers(scene, T=90, seed=5)
    scene.frame_end = 90
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 40, 100
    capfd.readouterr()
    assert bpy.ops.a4mer.extend(frames=20) == {"FINISHED"}
    assert "the preview range ends at frame 100: playback does not reach the extension's end (frame 110)" in \
        capfd.readouterr().out
    assert (scene.frame_preview_start, scene.frame_preview_end, scene.frame_end) == (40, 100, 110)
    scene.frame_preview_end = 130
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    assert "preview range" not in capfd.readouterr().out


@pytest.mark.parametrize("first", ["long", "short"])
def test_extending_two_rigs_then_removing_in_either_order_gives_the_end_back(scene, first):
    """Each Remove Generated puts the scene end at the last frame another rig's extension still shows,
    and the last one where the scene started (with two rigs the end never came back before)."""
    long_rig, _ = rig_with_fingers(scene, T=90, seed=5)
    short_rig, _ = rig_with_fingers(scene, T=60, seed=6)
    scene.frame_end = 90
    for obj, n in ((short_rig, 40), (long_rig, 30)):  # the short rig's extension ends at 100, the long one's at 120
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.a4mer.extend(frames=n) == {"FINISHED"}
    assert scene.frame_end == 120
    order = (long_rig, short_rig) if first == "long" else (short_rig, long_rig)
    bpy.context.view_layer.objects.active = order[0]
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert scene.frame_end == (100 if first == "long" else 120)  # the other rig's generated frames stay in range
    bpy.context.view_layer.objects.active = order[1]
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert scene.frame_end == 90
    # a baked extension is the user's: removing the other rig's leaves the end after it
    for obj, n in ((short_rig, 40), (long_rig, 30)):
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.a4mer.extend(frames=n) == {"FINISHED"}
    bpy.context.view_layer.objects.active = short_rig
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    bpy.context.view_layer.objects.active = long_rig
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"} and scene.frame_end == 100  # was 90
    # an end the user set after extending is theirs: Remove leaves it
    bpy.context.view_layer.objects.active = long_rig
    assert bpy.ops.a4mer.extend(frames=30) == {"FINISHED"} and scene.frame_end == 120
    scene.frame_end = 200
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"} and scene.frame_end == 200


@pytest.mark.parametrize("b_end", [100, 70])
def test_remove_in_another_scene_puts_back_the_end_of_the_extended_scene(scene, b_end):
    """The rig is in scenes A and B; Extend ran in A, Remove runs while B is current: A's end comes back,
    B's is left alone (it was restored in B, or A kept the extended end, when B's end equalled it)."""
    obj, _ = rig_with_fingers(scene, T=60, seed=5)
    scene.frame_end = 60
    other = bpy.data.scenes.new("B")
    other.collection.objects.link(obj)
    other.frame_start, other.frame_end = 1, b_end
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    assert (scene.frame_end, other.frame_end) == (70, b_end)
    with bpy.context.temp_override(scene=other):
        assert bpy.context.scene == other
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert (scene.frame_end, other.frame_end) == (60, b_end)


@pytest.mark.parametrize("remove_in", ["A", "B"])
def test_extending_in_two_scenes_then_removing_gives_both_ends_back(scene, remove_in):
    """The rig is in scenes A and B; Extend runs in A, then again in B while A's extension exists: Remove
    (from either scene) puts both scenes' ends back where the user had them, and the user's action and
    tracks are as they were."""
    obj, action = rig_with_fingers(scene, T=60, seed=5)
    scene.frame_end = 60
    other = bpy.data.scenes.new("B")
    other.collection.objects.link(obj)
    other.frame_start, other.frame_end = 1, 50
    keys = key_snapshot(obj, action)
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    assert "other_scenes" not in generated.read_state(obj)  # one scene: the record earlier versions wrote
    with bpy.context.temp_override(scene=other):
        assert bpy.context.scene == other
        assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    assert (scene.frame_end, other.frame_end) == (70, 80)
    with bpy.context.temp_override(scene=scene if remove_in == "A" else other):
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert (scene.frame_end, other.frame_end) == (60, 50)
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None
    assert_same_keys(keys, key_snapshot(obj, action))


def test_a_refused_extension_names_no_temporary_file(scene, gap_rig):
    obj, action = gap_rig
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError) as e:
        bpy.ops.a4mer.extend(frames=5000)
    assert "5000 frames are 166.67 s" in str(e.value) and "a4mer_job_" not in str(e.value), str(e.value)
    # a script's 0 or -5 frames, or motif -5, was clamped by the property to 1 frame / no motif
    for call, msg in ((lambda: bpy.ops.a4mer.extend(frames=0), "must be at least 1, got 0"),
                      (lambda: bpy.ops.a4mer.extend(frames=-5), "must be at least 1, got -5"),
                      (lambda: bpy.ops.a4mer.fill_gaps(motif=-5), "or -1 for none; got -5")):
        with pytest.raises(RuntimeError, match=msg):
            call()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert len(obj.animation_data.nla_tracks) == 0 and scene.frame_end == 150


def test_dense_mocap_is_a_no_op(scene):
    obj, action = rig_with_fingers(scene, T=60)
    keys = key_snapshot(obj, action)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None
    assert_same_keys(keys, key_snapshot(obj, action))
    # the same mocap retimed by 1.25 (keys between whole frames) is dense too: no 1-frame "gaps"
    for fc in anim_compat.fcurves_of(obj, action):
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        co[0::2] = 1 + (co[0::2] - 1) * 1.25
        fc.keyframe_points.foreach_set("co", co)
        fc.update()
    assert body_channels.keyed_frames(obj, action).tolist() == list(range(1, 76))
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"} and generated.read_state(obj) is None


def test_blocking_keys_filled_in_one_pass(scene, monkeypatch):
    obj, action = rig_with_fingers(scene, T=100, seed=7)
    for fc in anim_compat.fcurves_of(obj, action):  # blocking: keep a key every 4 frames
        for i in reversed(range(len(fc.keyframe_points))):
            if (int(round(fc.keyframe_points[i].co[0])) - 1) % 4:
                fc.keyframe_points.remove(fc.keyframe_points[i])
    frames = np.arange(1, 98)
    before = pose_snapshot(obj, frames)
    calls = []
    real = runner.run_heads_sync
    monkeypatch.setattr(runner, "run_heads_sync", lambda *a, **k: calls.append(a[2:4]) or real(*a, **k))
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert len(calls) == 1 and calls[0][0] == "inbetween" and calls[0][1][0] == "--key-frames"
    strips = sorted(obj.animation_data.nla_tracks["A4Mer Generated"].strips, key=lambda s: s.frame_start)
    assert [(s.frame_start, s.frame_end) for s in strips] == [(k + 1.0, k + 3.0) for k in range(1, 97, 4)]
    d = np.abs(pose_snapshot(obj, frames) - before).max(axis=(1, 2, 3))
    keyed = (frames - 1) % 4 == 0
    assert d[keyed].max() < 1e-5 and d[~keyed].max() > 1e-3


def test_custom_range_and_refill_replace(scene):
    obj, action = rig_with_fingers(scene, T=160, seed=2)
    delete_keys_inside(obj, action, 20, 40)
    delete_keys_inside(obj, action, 110, 125)
    assert bpy.ops.a4mer.fill_gaps(frame_start=100) == {"FINISHED"}  # 100..end of the action
    strips = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    assert [(s.frame_start, s.frame_end) for s in strips] == [(111.0, 124.0)]
    assert bpy.ops.a4mer.fill_gaps(frame_end=50) == {"FINISHED"}  # start of the action..50
    assert sorted(s.frame_start for s in obj.animation_data.nla_tracks["A4Mer Generated"].strips) == [21.0, 111.0]
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}  # both gaps again: replaced, not duplicated
    strips = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    assert sorted((s.frame_start, s.frame_end) for s in strips) == [(21.0, 39.0), (111.0, 124.0)]
    assert len([a for a in bpy.data.actions if a.get("a4mer_generated")]) == 2
    assert len(generated.read_state(obj)["spans"]) == 2
    # a preview range elsewhere does not block an explicit Start/End ...
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 300, 400
    assert bpy.ops.a4mer.fill_gaps(frame_start=100, frame_end=130) == {"FINISHED"}
    with pytest.raises(RuntimeError, match="preview range 300..400 lies outside the action's keys"):
        bpy.ops.a4mer.fill_gaps()  # ... but alone it is named


def test_bake_into_action(scene, gap_rig):
    obj, action = gap_rig
    keys = key_snapshot(obj, action)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert bpy.ops.a4mer.extend(frames=12) == {"FINISHED"}
    frames = np.arange(1, 163)
    shown = pose_snapshot(obj, frames)
    # half frames strictly inside the spans (between two generated keys) play the same after baking
    halves = [f for sp in generated.read_state(obj)["spans"] for f in range(sp["first"], sp["last"])]

    def at_halves():
        out = []
        for f in halves:
            scene.frame_set(f, subframe=0.5)
            out.append([[list(r) for r in pb.matrix] for pb in obj.pose.bones])
        return np.array(out)
    shown_halves = at_halves()
    assert "UNDO" in bpy.types.A4MER_OT_bake_generated.bl_options
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None and not [a for a in bpy.data.actions if a.get("a4mer_generated")]
    assert np.abs(pose_snapshot(obj, frames) - shown).max() < 1e-5
    assert len(halves) > 20 and np.abs(at_halves() - shown_halves).max() < 1e-5
    baked = key_snapshot(obj, action)
    pelvis_x = baked[('pose.bones["pelvis"].location', 0, "co")].reshape(-1, 2)
    assert pelvis_x[:, 0].tolist() == list(range(1, 163))
    old = keys[('pose.bones["pelvis"].location', 0, "co")].reshape(-1, 2)
    assert np.array_equal(pelvis_x[np.isin(pelvis_x[:, 0], old[:, 0])], old)  # the user's keys kept
    for name in armature.core_rig.SMPL.names[:22]:  # baked quaternions continue the user's keys' sign
        q = np.stack([baked[(f'pose.bones["{name}"].rotation_quaternion', i, "co")][1::2] for i in range(4)], 1)
        assert (np.sum(q[1:] * q[:-1], axis=1) > 0).all(), name
    jaw = baked[('pose.bones["jaw"].rotation_quaternion', 0, "co")]
    assert np.array_equal(jaw, keys[('pose.bones["jaw"].rotation_quaternion', 0, "co")])  # not generated


@pytest.mark.parametrize("verb", ["extend", "fill"])
def test_a_last_key_a_float32_step_below_its_frame_is_on_it(scene, verb):
    """A retime and back leaves keys at 89.99999237 for 90 (Blender keeps frames in float32): Extend
    started on that key's frame, changing the user's last pose (and Bake then refused its own extension,
    naming the key), and Fill found no gap before it. A key within 1e-3 of a whole frame is on it."""
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=90, seed=3), scene)
    below = float(np.nextafter(np.float32(90), np.float32(0)))
    for fc in anim_compat.fcurves_of(obj, action):
        k = fc.keyframe_points[-1]
        k.co[0], k.handle_left[0], k.handle_right[0] = below, below - 0.3, below + 0.3
        fc.update()
    assert anim_compat.fcurves_of(obj, action)[0].keyframe_points[-1].co[0] < 90
    if verb == "fill":
        delete_keys_inside(obj, action, 60, 89.5)
    scene.frame_start, scene.frame_end = 1, 90
    pose = pose_snapshot(obj, [90])
    if verb == "extend":
        assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
        want = [(91, 100)]
    else:
        assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
        want = [(61, 89)]
    assert [tuple(sp["shown"]) for sp in generated.spans(obj)] == want
    assert np.abs(pose_snapshot(obj, [90]) - pose).max() < 1e-6
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    baked = key_snapshot(obj, action)
    x = baked[('pose.bones["pelvis"].location', 0, "co")][0::2]
    assert np.float32(below) in x and (np.abs(x - 90) < 0.5).sum() == 1  # the user's key, and no second one


@pytest.mark.parametrize("then", ["bake", "remove"])
def test_an_extension_past_an_action_with_extrapolation_nothing_bakes_as_shown(scene, then):
    """An action with Extrapolation Nothing over an NLA layer of the user's: past its last key the layer
    below plays. Extended, the bones the model does not generate (jaw, fingers) showed that layer in the
    preview but the action's held last values once baked (the action's range then reaches the new
    frames): up to 0.6 apart in quaternion terms. The preview now shows what Bake makes; Remove gives
    the user's animation back exactly."""
    obj, action = rig_with_fingers(scene, T=150, seed=3)
    other, _ = rig_with_fingers(scene, T=150, seed=9)
    base_action = other.animation_data.action
    bpy.data.objects.remove(other)
    bpy.context.view_layer.objects.active = obj
    anim = obj.animation_data
    base = anim_compat.new_strip(anim.nla_tracks.new(), "base", -40, base_action)
    first_slot_to_strip(base)
    base.scale = 2.0  # its fingers move otherwise than the action's, up to frame 260
    anim.action_extrapolation = "NOTHING"
    scene.frame_end = 150
    frames = np.arange(1, 181)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.extend(frames=30) == {"FINISHED"}
    shown = pose_snapshot(obj, frames)
    if then == "bake":
        assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
        np.testing.assert_allclose(pose_snapshot(obj, frames), shown, atol=1e-5)
    else:
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
        np.testing.assert_array_equal(pose_snapshot(obj, frames), before)


def test_baked_axis_angle_keys_keep_the_users_axis_hemisphere(scene):
    """On an axis-angle rig (the official SMPL add-on) whose keys turn their axes the other way (angle and
    axis negated: the same rotations), baked keys continue the user's axis and keep theirs across
    frames: each frame's axis was taken on its own, so the keys either side of the span's ends pointed
    opposite ways and Blender played a pose turned about no axis between them."""
    obj, _ = make_row_rig("official_smpl_axis_angle")
    action = armature.write_motion(obj, smooth_motion(T=90, seed=3), scene)
    for fc in anim_compat.fcurves_of(obj, action):
        if fc.data_path.endswith("rotation_axis_angle"):
            for k in fc.keyframe_points:
                k.co[1] = -k.co[1]
            fc.update()
    delete_keys_inside(obj, action, 40, 60)
    scene.frame_end = 90
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    baked = key_snapshot(obj, action)
    rig = armature.detect_rig(obj)
    for name in [rig.names[b] for b in rig.smpl_bone[:22]]:
        ch = np.stack([baked[(f'pose.bones["{name}"].rotation_axis_angle', i, "co")][1::2] for i in range(4)], 1)
        assert len(ch) == 90
        assert (np.sum(ch[1:, 1:] * ch[:-1, 1:], axis=1) > 0).all(), name


@pytest.mark.parametrize("keyed_side, extrapolation", [("before", "CONSTANT"), ("after", "CONSTANT"),
                                                       ("before", "LINEAR"), ("after", "LINEAR")])
def test_bake_keeps_a_curve_keyed_on_one_side_of_the_gap(scene, gap_rig, keyed_side, extrapolation):
    """A channel keyed only before the gap (or only after it) held its end key's value beyond the gap, or
    went on along its line (linear extrapolation); baked keys in the span made it hold the span's end
    value there instead (1.9e-3 off on every frame beyond the gap), or go on along another line."""
    obj, action = gap_rig
    for fc in anim_compat.fcurves_of(obj, action):
        if fc.data_path in ('pose.bones["left_knee"].rotation_quaternion', 'pose.bones["pelvis"].location'):
            fc.extrapolation = extrapolation
            for i in reversed(range(len(fc.keyframe_points))):
                f = fc.keyframe_points[i].co[0]
                if (f >= 100) if keyed_side == "before" else (f <= 70):
                    fc.keyframe_points.remove(fc.keyframe_points[i])
    frames = np.arange(1, 151)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    shown = pose_snapshot(obj, frames)
    outside = (frames <= 70) | (frames >= 100)
    assert np.abs(shown - before)[outside].max() < 1e-5
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, frames) - shown).max() < 1e-5


@pytest.mark.parametrize("handles", ["auto", "one_side_vector", "one_side_free"])
@pytest.mark.parametrize("smoothing", ["NONE", "CONT_ACCEL"])
def test_bake_keeps_the_users_bezier_curves_beside_the_span(scene, handles, smoothing):
    """Blocking keys every 15 frames with Blender's default Bezier auto-clamped handles, one gap filled:
    Blender recomputed the automatic handles of the keys next to the baked ones from their new
    neighbours, which bent the user's curves on frames far from the span (0.03). A key beside the span
    with one automatic handle and one of another type (Vector, or Free moved by hand): both were made
    aligned, which turned the user's handle (0.03); with Continuous Acceleration smoothing, fixing that
    key changed how Blender solves the automatic handles of the keys after it (0.02)."""
    obj, action = rig_with_fingers(scene, T=150, seed=3)
    for fc in anim_compat.fcurves_of(obj, action):
        fc.auto_smoothing = smoothing
        for i in reversed(range(len(fc.keyframe_points))):
            if (fc.keyframe_points[i].co[0] - 1) % 15:
                fc.keyframe_points.remove(fc.keyframe_points[i])
        for k in fc.keyframe_points:
            k.interpolation, k.handle_left_type, k.handle_right_type = "BEZIER", "AUTO_CLAMPED", "AUTO_CLAMPED"
        fc.update()
        if handles != "auto":  # the key after the span: automatic towards it, the user's own type beyond
            k = next(k for k in fc.keyframe_points if round(k.co[0]) == 61)
            k.handle_right_type = "VECTOR" if handles == "one_side_vector" else "FREE"
            if handles == "one_side_free":
                k.handle_right = (k.co[0] + 4.0, k.co[1] + 0.15)
            fc.update()
    frames = np.arange(1, 151)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.fill_gaps(frame_start=47, frame_end=60) == {"FINISHED"}
    span = (frames > 46) & (frames < 61)
    assert [(s["first"], s["last"]) for s in generated.read_state(obj)["spans"]] == [(47, 60)]
    shown = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    after = pose_snapshot(obj, frames)
    assert np.abs(after - shown).max() < 1e-5 and np.abs(after - before)[~span].max() < 1e-5


def test_bake_keys_between_whole_frames(scene, gap_rig):
    """Keys 0.25 frame after whole frames (a retimed action): the user's key at 100.25 counted as one on
    frame 100, which was then not keyed with its present value, so it moved (0.027)."""
    obj, action = gap_rig
    for fc in anim_compat.fcurves_of(obj, action):
        for attr in ("co", "handle_left", "handle_right"):
            buf = np.empty(2 * len(fc.keyframe_points), np.float32)
            fc.keyframe_points.foreach_get(attr, buf)
            buf[0::2] += 0.25
            fc.keyframe_points.foreach_set(attr, buf)
        fc.update()
    keys = key_snapshot(obj, action)
    frames = np.arange(2, 151)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert [(s["first"], s["last"]) for s in generated.read_state(obj)["spans"]] == [(72, 99)]
    shown = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, frames) - shown).max() < 1e-5
    after = key_snapshot(obj, action)
    for (path, i, attr), v in keys.items():
        if attr == "co":  # every user key is still there with its value
            old, new = v.reshape(-1, 2), after[(path, i, attr)].reshape(-1, 2)
            assert (new[np.isin(new[:, 0], old[:, 0])] == old).all()


def test_curve_modifiers_are_read_and_baked_as_shown(scene, gap_rig):
    """An additive Generator (+30 cm) on the pelvis height and a Noise on a knee: the context is read with
    them (a dense action was read from its keys alone), and baked keys play as the preview did (the
    modifiers were applied twice). A Limits modifier on a baked channel is refused before any change."""
    obj, action = gap_rig
    curves = {(fc.data_path, fc.array_index): fc for fc in anim_compat.fcurves_of(obj, action)}
    gen = curves[('pose.bones["pelvis"].location', 2)].modifiers.new("GENERATOR")
    gen.use_additive, gen.coefficients = True, (0.3, 0.0)
    noise = curves[('pose.bones["left_knee"].rotation_quaternion', 1)].modifiers.new("NOISE")
    noise.strength, noise.scale = 0.2, 5.0
    frames = np.arange(1, 151)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    shown = pose_snapshot(obj, frames)
    keys = key_snapshot(obj, action)
    limits = curves[('pose.bones["spine1"].rotation_quaternion', 0)].modifiers.new("LIMITS")
    with pytest.raises(RuntimeError, match=r'spine1"\].rotation_quaternion\[0\] has a Limits modifier'):
        bpy.ops.a4mer.bake_generated()
    assert_same_keys(keys, key_snapshot(obj, action)) and generated.read_state(obj) is not None
    curves[('pose.bones["spine1"].rotation_quaternion', 0)].modifiers.remove(limits)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, frames) - shown).max() < 1e-4
    assert not gen.mute and not noise.mute
    # Extend reads a clip shorter than its context with the modifiers too: no 30 cm step at the seam
    assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}
    pelvis = pose_snapshot(obj, np.arange(148, 153))[:, bone_rows(obj, ["pelvis"])[0], :3, 3]
    assert np.abs(np.diff(pelvis, axis=0)).max() < 0.05
    # a Cycles modifier: the loop already plays past the last key. Extend replaced frames of it (a 32 cm pop
    # where the loop resumed) and Bake lengthened the loop, changing every frame after it: both refused
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    loop = curves[('pose.bones["pelvis"].location', 0)].modifiers.new("CYCLES")
    tracks = [t.name for t in obj.animation_data.nla_tracks]
    with pytest.raises(RuntimeError, match=r"loops \(a Cycles modifier on 1 F-Curves of pelvis\)"):
        bpy.ops.a4mer.extend(frames=10)
    assert [t.name for t in obj.animation_data.nla_tracks] == tracks
    loop.mode_after = "NONE"  # a loop before the first key only: the take ends as keyed, Extend continues it
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    curves[('pose.bones["pelvis"].location', 0)].modifiers.remove(loop)
    loop = curves[('pose.bones["pelvis"].location', 0)].modifiers.new("CYCLES")  # added after the extension
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=r'pelvis"\].location\[0\] loops over frames 1..155 .* generated frames 156..165'):
        bpy.ops.a4mer.bake_generated()
    assert_same_keys(keys, key_snapshot(obj, action))


@pytest.mark.parametrize("scale", [0.5, 2.0, 0.01])
def test_a_scaled_character_fills_as_at_its_own_size(scene, scale):
    """An armature object scaled to half or twice size (or to 0.01 in a scene of metres) was read at its
    world size: the model saw a body whose steps were half or twice its legs, and the fill came out 2-100 x
    worse (0.01: 4 m off). The object's scale is the character's size now: the same keys give the same
    frames, scaled."""
    from bl_helpers import build_rig, world_heads
    from a4mer.skeleton import SMPL
    motion = smooth_motion(T=120, seed=4)
    heads = []
    for s in (1.0, scale):
        obj = build_rig(f"walker_{s:g}", list(SMPL.names[:22]), list(SMPL.parents[:22]), SMPL.rest_positions()[:22],
                        root="root", object_scale=s)
        action = armature.write_motion(obj, motion, scene)
        delete_keys_inside(obj, action, 50, 80)
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
        heads.append(world_heads(obj, range(45, 86)) / s)
    assert np.abs(heads[1] - heads[0]).max() < 1e-4


def test_a_rig_whose_scale_is_animated_fills_without_a_step(scene, gap_rig):
    """The unit came from the object's scale on the first frame read: Fill read from the context's start
    and wrote at the span's frames, so with the scale keyed 1 -> 1.2 the span's ends stepped 17-18 cm (the
    user's own steps: 2 cm). The unit follows the scale frame by frame."""
    obj, action = gap_rig
    obj.scale = (1.0, 1.0, 1.0)
    obj.keyframe_insert("scale", frame=1)
    obj.scale = (1.2,) * 3
    obj.keyframe_insert("scale", frame=150)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    row = bone_rows(obj, ["pelvis"])[0]
    p = pose_snapshot(obj, np.arange(66, 105))[:, row, :3, 3]  # armature space; the span is 71..99
    step = np.linalg.norm(np.diff(p, axis=0), axis=1)
    usual = np.median(np.r_[step[:3], step[-3:]])
    assert max(step[70 - 66], step[99 - 66]) < 2 * usual + 0.01, (step[70 - 66], step[99 - 66], usual)


def test_a_rig_on_an_animated_parent_fills_the_same_from_any_frame(scene, repo_root):
    """A real walk on a rig parented to a rolling empty (a ship's deck): its world matrix was read once, at
    the playhead, so the generated keys depended on where the playhead stood."""
    path = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    delete_keys_inside(obj, obj.animation_data.action, 40, 60)
    deck = bpy.data.objects.new("deck", None)
    scene.collection.objects.link(deck)
    obj.parent = deck
    for f in range(1, 151, 10):  # the deck rolls +-20 deg
        deck.rotation_euler = (np.radians(20) * np.sin(f / 10), 0.0, 0.0)
        deck.keyframe_insert("rotation_euler", index=0, frame=f)
    results = []
    for playhead in (1, 16):
        scene.frame_set(playhead)
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
        (sp,) = generated.spans(obj)
        results.append(np.concatenate([armature.sample_fcurve(fc, np.arange(41.0, 60.0))
                                       for fc in anim_compat.fcurves_of(obj, sp["strip"].action)]))
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert np.abs(results[0] - results[1]).max() < 1e-5


@pytest.mark.parametrize("verb", ["fill_gaps", "segment"])
def test_a_failed_run_keeps_the_subframe_and_the_unkeyed_pose(scene, gap_rig, monkeypatch, verb):
    """A rig with object keys is read frame by frame: a run whose model fails (as after Esc) left the scene
    on the whole frame and threw away the user's unkeyed pose and object edits."""
    from a4mer_blender._core import errors
    obj, action = gap_rig
    for f, x in ((1, 0.0), (60, 1.0)):
        obj.location = (x, 0.0, 0.0)
        obj.keyframe_insert("location", frame=f)
    scene.frame_set(12, subframe=0.5)
    obj.pose.bones["left_elbow"].rotation_quaternion = (0.7071, 0.7071, 0.0, 0.0)  # not keyed
    anim_compat.FCurveSink(obj, action).remove_paths(['pose.bones["root"].rotation_quaternion'])  # unkeyed Euler
    obj.pose.bones["root"].rotation_mode = "XYZ"
    obj.pose.bones["root"].rotation_euler = (0.1, 0.2, 0.3)
    obj.location.z = 0.3
    posed = armature._local_transforms(obj)

    def fail(*a, **k):
        raise errors.A4merError("the model failed")
    monkeypatch.setattr(runner, "run_heads_sync", fail)
    monkeypatch.setattr(runner, "run_sync", fail)
    with pytest.raises(RuntimeError, match="the model failed"):
        getattr(bpy.ops.a4mer, verb)()
    assert (scene.frame_current, scene.frame_subframe) == (12, pytest.approx(0.5))
    assert [(p, v) for _, p, v in armature._local_transforms(obj)] == [(p, v) for _, p, v in posed]


@pytest.mark.parametrize("verb", ["fill_gaps", "segment"])
@pytest.mark.parametrize("how", ["object", "collection"])
def test_a_rig_disabled_in_viewports_that_moves_is_refused(scene, gap_rig, verb, how):
    """A rig disabled in viewports (the Outliner's screen icon) is not evaluated: its object keys were read
    as standing still at the current frame, and Segment cut another clip than the one it plays."""
    obj, action = gap_rig
    for f, x in ((1, 0.0), (150, 3.0)):
        obj.location = (x, 0.0, 0.0)
        obj.keyframe_insert("location", frame=f)
    if how == "object":
        obj.hide_viewport = True
    else:
        home = bpy.data.collections.new("Cast")
        scene.collection.children.link(home)
        for c in list(obj.users_collection):
            c.objects.unlink(obj)
        home.objects.link(obj)
        home.hide_viewport = True
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=r"'SMPLX-neutral' is disabled in viewports .* enable it, then run again"):
        getattr(bpy.ops.a4mer, verb)()
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert_same_keys(keys, key_snapshot(obj, action))
    obj.hide_viewport = False  # enabled again: it runs
    if how == "collection":
        home.hide_viewport = False
    assert getattr(bpy.ops.a4mer, verb)() == {"FINISHED"}


def test_remove_generated_restores_the_action(scene, gap_rig):
    obj, action = gap_rig
    keys = key_snapshot(obj, action)
    before = pose_snapshot(obj, np.arange(1, 151))
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, np.arange(1, 151)) - before).max() < 1e-7


def test_euler_centimetre_rig(scene):
    """A BVH-style rig (bones along the limbs, random rolls, ZYX Euler, centimetres)."""
    obj, _ = make_row_rig("bvh_smpl_cm_euler")
    action = armature.write_motion(obj, smooth_motion(T=120, seed=11), scene)
    delete_keys_inside(obj, action, 50, 75)
    frames = np.arange(1, 121)
    keys = key_snapshot(obj, action)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    d = np.abs(pose_snapshot(obj, frames) - before).max(axis=(1, 2, 3))
    inside = (frames > 50) & (frames < 75)
    assert d[~inside].max() < 1e-3 and d[inside].max() > 1.0  # centimetres
    assert_same_keys(keys, key_snapshot(obj, action))
    shown = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, frames) - shown).max() < 1e-3


def euler_jumps(snapshot) -> set:
    """(data path, index, frame) where consecutive keys of an Euler channel differ by more than pi."""
    out = set()
    for (path, i, attr), co in snapshot.items():
        if attr == "co" and path.endswith("rotation_euler"):
            f, v = co.reshape(-1, 2).T
            out |= {(path, i, int(f[k])) for k in np.flatnonzero(np.abs(np.diff(v)) > np.pi)}
    return out


def test_baked_euler_keys_continue_the_users_curves(scene, repo_root, tmp_path):
    """A real walk saved as BVH and imported with Blender's own BVH importer (ZXY Euler bones, each
    frame's angles nearest the frame before): filled, extended and baked, the generated keys continue the
    user's curves. They came back on the principal angles, 2 pi or a whole Euler branch away: spikes
    in the Graph Editor and a detour on sub-frames."""
    from a4mer.api import load_motion
    from a4mer.export import export
    bvh = export(load_motion(repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"),
                 tmp_path / "walk.bvh", "bvh")
    bpy.ops.import_anim.bvh(filepath=str(bvh), update_scene_fps=False)
    obj = bpy.context.active_object
    action = obj.animation_data.action
    delete_keys_inside(obj, action, 50, 80)
    keys = key_snapshot(obj, action)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert bpy.ops.a4mer.extend(frames=30) == {"FINISHED"}
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert euler_jumps(key_snapshot(obj, action)) <= euler_jumps(keys)


def _sign_flips(obj, action, bones) -> set:
    """(bone, frame, next frame) of consecutive quaternion keys of ``bones`` whose dot product is < 0."""
    out = set()
    for name in bones:
        fcs = sorted((fc for fc in anim_compat.fcurves_of(obj, action)
                      if fc.data_path == f'pose.bones["{name}"].rotation_quaternion'), key=lambda fc: fc.array_index)
        frames = np.array([k.co[0] for k in fcs[0].keyframe_points])
        q = np.stack([[k.co[1] for k in fc.keyframe_points] for fc in fcs], axis=1)
        out |= {(name, int(frames[i]), int(frames[i + 1])) for i in np.flatnonzero(np.sum(q[1:] * q[:-1], 1) < 0)}
    return out


def test_baked_quaternion_keys_continue_the_users_sign_at_every_span(scene):
    """Quaternion keys of opposite signs interpolate through zero on sub-frames (motion blur, retiming: a
    half-turn in half a frame). Each span was aligned to the user's value before the first span, made
    continuous across the spans: where the user's keys change sign between two spans (an importer that
    keeps w >= 0 does so wherever a rotation passes half a turn), every later span started on the other
    sign. Now each span starts on the user's own sign; the user's flip stays where it was."""
    obj, action = rig_with_fingers(scene, T=150, seed=3)
    body = armature.core_rig.SMPL.names[:22]
    for fc in anim_compat.fcurves_of(obj, action):
        if fc.data_path.endswith("rotation_quaternion") and fc.data_path.split('"')[1] in body:
            for k in fc.keyframe_points:
                if k.co[0] >= 60:  # the same poses, the other sign, from frame 60 on
                    k.co[1] = -k.co[1]
                    k.handle_left[1], k.handle_right[1] = -k.handle_left[1], -k.handle_right[1]
    delete_keys_inside(obj, action, 20, 40)
    delete_keys_inside(obj, action, 90, 110)
    users = _sign_flips(obj, action, body)
    assert {f for _, f, _ in users} == {59}
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert _sign_flips(obj, action, body) == users


def test_body_bone_posed_but_not_animated_keeps_its_pose(scene):
    """A body bone the user posed without keys: the generated layer does not carry it (Blender's NLA
    would reset it to its default outside the strips), so every frame outside the gap is unchanged and
    muting restores exactly."""
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=90, seed=8), scene)
    anim_compat.FCurveSink(obj, action).remove_paths(['pose.bones["left_elbow"].rotation_quaternion'])
    obj.pose.bones["left_elbow"].rotation_quaternion = (0.8, 0.6, 0.0, 0.0)
    delete_keys_inside(obj, action, 30, 60)
    frames = np.arange(1, 91)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    d = np.abs(pose_snapshot(obj, frames) - before).max(axis=(1, 2, 3))
    inside = (frames > 30) & (frames < 60)
    assert d[~inside].max() < 1e-5 and d[inside].max() > 0.05
    scene.frame_set(45)
    assert np.allclose(obj.pose.bones["left_elbow"].rotation_quaternion, (0.8, 0.6, 0.0, 0.0), atol=1e-6)
    strip = obj.animation_data.nla_tracks["A4Mer Generated"].strips[0]
    assert not any("left_elbow" in fc.data_path for fc in anim_compat.fcurves_of(obj, strip.action))
    obj.animation_data.nla_tracks["A4Mer Generated"].mute = True
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-7


def _time_shifted_copy(obj, action, shift: float):
    """A copy of ``action`` with every key ``shift`` frames later (a different layer to blend over)."""
    copy = action.copy()
    for fc in anim_compat.fcurves_of(obj, copy):
        for attr in ("co", "handle_left", "handle_right"):
            buf = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
            fc.keyframe_points.foreach_get(attr, buf)
            buf[0::2] += shift
            fc.keyframe_points.foreach_set(attr, buf)
        fc.update()
    return copy


def _layer_under(obj, action):
    anim = obj.animation_data
    strip = anim_compat.new_strip(anim.nla_tracks.new(), "base", 1, action)
    first_slot_to_strip(strip)
    return strip


@pytest.mark.parametrize("setup", ["influence_without_nla", "nla_switched_off", "cycles",
                                   "hold_forward_over_layer", "influence_over_muted_markers"])
def test_push_down_keeps_playback_on_every_frame(scene, gap_rig, setup):
    """Whatever the user's evaluation (an influence Blender ignores without NLA tracks, an NLA switched
    off, cycled curves beyond the scene range, Hold Forward over a layer), frames
    outside the gap play as before, and removing the result restores every setting."""
    obj, action = gap_rig
    anim = obj.animation_data
    if setup in ("nla_switched_off", "hold_forward_over_layer"):
        _layer_under(obj, _time_shifted_copy(obj, action, 17.0))
    if setup == "hold_forward_over_layer":  # before its first key the action shows nothing: the layer plays
        anim.action_extrapolation, scene.frame_start = "HOLD_FORWARD", -30
    if setup == "influence_over_muted_markers":  # muted tracks (segment markers) play nothing: Blender
        _layer_under(obj, action)                 # plays the action alone, at full influence
        anim.nla_tracks[-1].mute = True
        anim.action_influence = 0.5
    elif setup == "influence_without_nla":
        anim.action_influence = 0.5
    elif setup == "nla_switched_off":
        anim.use_nla, anim.action_influence = False, 0.7
    else:
        for fc in anim_compat.fcurves_of(obj, action):
            fc.modifiers.new("CYCLES")
    settings = (anim.action_influence, anim.action_blend_type, anim.action_extrapolation, anim.use_nla)
    frames = np.r_[np.arange(-40, 71), np.arange(100, 260)]
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-5
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert (anim.action_influence, anim.action_blend_type, anim.action_extrapolation, anim.use_nla) == settings
    muted = setup == "influence_over_muted_markers"
    assert anim.action == action and all(t.mute == muted for t in anim.nla_tracks)
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-7


@pytest.mark.parametrize("blend, influence", [("COMBINE", 0.5), ("ADD", 1.0), ("REPLACE", 0.7)])
def test_an_action_played_as_a_layer_over_the_users_tracks_is_refused(scene, gap_rig, blend, influence):
    """Generated frames are whole poses: over a layer of the user's, an action blended by Combine/Add or
    at partial influence showed them blended with it (jumps of 0.6-1.2 at the gap's ends, and baked keys
    that played yet other poses). Refused before the model runs; nothing changes."""
    obj, action = gap_rig
    anim = obj.animation_data
    _layer_under(obj, _time_shifted_copy(obj, action, 17.0))
    anim.action_blend_type, anim.action_influence = blend, influence
    keys, frames = key_snapshot(obj, action), np.arange(1, 151)
    before = pose_snapshot(obj, frames)
    for verb in (bpy.ops.a4mer.fill_gaps, lambda: bpy.ops.a4mer.extend(frames=10)):
        with pytest.raises(RuntimeError, match=rf"played as a layer over its NLA tracks \({blend.title()}"):
            verb()
    assert anim.action == action and [t.name for t in anim.nla_tracks] == ["NlaTrack"]
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, frames) - before).max() == 0.0


def test_only_pose_keys_split_a_gap(scene, gap_rig):
    """A key on a body bone's constraint influence or custom property inside a gap is not a pose key:
    the gap stays one span."""
    obj, action = gap_rig
    pb = obj.pose.bones["left_wrist"]
    pb["ikfk"] = 0.0
    pb.keyframe_insert('["ikfk"]', frame=80)
    con = pb.constraints.new("COPY_ROTATION")
    con.keyframe_insert("influence", frame=90)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert [(sp["first"], sp["last"]) for sp in generated.read_state(obj)["spans"]] == [(71, 99)]


def _shared_with_a_prop(scene, obj, action):
    """A slotted action "Shared" animating a prop (its slot made first) and ``obj`` (a copy of the keys
    of ``action``), played by both: (action, the prop's slot, the rig's slot, the rig's channelbag)."""
    prop = bpy.data.objects.new("Prop", None)
    scene.collection.objects.link(prop)
    shared = bpy.data.actions.new("Shared")
    prop_slot = shared.slots.new(id_type="OBJECT", name="Prop")
    rig_slot = shared.slots.new(id_type="OBJECT", name=obj.name)
    fc = anim_compat.channelbag(shared, prop_slot, ensure=True).fcurves.new("location", index=0)
    fc.keyframe_points.insert(1, 0.0)
    fc.keyframe_points.insert(228, 5.0)  # the prop moves on after the rig's last key (150)
    bag = anim_compat.channelbag(shared, rig_slot, ensure=True)
    for src in anim_compat.fcurves_of(obj, action):
        co = np.empty(2 * len(src.keyframe_points), dtype=np.float32)
        src.keyframe_points.foreach_get("co", co)
        dst = bag.fcurves.new(src.data_path, index=src.array_index)
        dst.keyframe_points.add(len(co) // 2)
        dst.keyframe_points.foreach_set("co", co)
        dst.update()
    prop.animation_data_create().action = shared
    prop.animation_data.action_slot = prop_slot
    obj.animation_data.action = shared
    obj.animation_data.action_slot = rig_slot
    return shared, prop_slot, rig_slot, bag


@pytest.mark.skipif(not SLOTTED, reason="action slots exist on Blender 4.4+ only")
def test_action_shared_with_another_object_keeps_each_slot(scene, gap_rig):
    """A slotted action animating a prop (its slot made first) and the rig: fill, extend and bake read
    and write the rig's slot only, also while the action is pushed down."""
    shared, prop_slot, rig_slot, bag = _shared_with_a_prop(scene, *gap_rig)
    obj = gap_rig[0]
    n_rig = len(bag.fcurves)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert len(anim_compat.fcurves_of(obj, shared)) == n_rig  # the rig's slot while pushed down
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    ext = [s for s in generated.read_state(obj)["spans"] if s["kind"] == "extend"]
    assert [(s["first"], s["last"]) for s in ext] == [(151, 160)]  # after the rig's keys, not the prop's
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    prop_bag = anim_compat.channelbag(shared, prop_slot)
    assert [(f.data_path, len(f.keyframe_points)) for f in prop_bag.fcurves] == [("location", 2)]
    pelvis = bag.fcurves.find('pose.bones["pelvis"].rotation_quaternion', index=0)
    assert len(pelvis.keyframe_points) == 150 - 29 + 29 + 10  # the gap filled, then 10 frames more
    assert obj.animation_data.action_slot == rig_slot


@pytest.mark.skipif(not SLOTTED, reason="action slots exist on Blender 4.4+ only")
@pytest.mark.parametrize("verb", ["remove_generated", "bake_generated"])
def test_the_rigs_slot_renamed_after_a_fill_comes_back(scene, gap_rig, verb):
    """The rig's slot renamed (Action editor) after a fill: Remove and Bake gave the rig back its action
    with the first slot, the prop's, so it played the prop's keys."""
    shared, prop_slot, rig_slot, _ = _shared_with_a_prop(scene, *gap_rig)
    obj = gap_rig[0]
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    rig_slot.name_display = "Hero renamed"
    assert getattr(bpy.ops.a4mer, verb)() == {"FINISHED"}
    assert obj.animation_data.action == shared and obj.animation_data.action_slot == rig_slot


@pytest.mark.skipif(not SLOTTED, reason="action slots exist on Blender 4.4+ only")
@pytest.mark.parametrize("verb", ["fill_gaps", "extend", "segment"])
def test_a_rig_given_another_rigs_action_without_a_slot_is_refused(scene, gap_rig, verb):
    """A second rig given the first rig's action: Blender assigns it no slot and shows it in its rest pose.
    Segment cut the first rig's motion, Fill pushed that slot onto the second rig (which then played the
    first rig's keys) and Remove left it assigned; now each refuses and both rigs stay as they were."""
    obj, action = gap_rig
    other, _ = make_row_rig("mpi_smplx")
    other.animation_data_create().action = action
    assert other.animation_data.action_slot is None  # Blender plays nothing of it on this rig
    keys = key_snapshot(obj, action)
    bpy.context.view_layer.objects.active = other
    with pytest.raises(RuntimeError, match=r"plays no slot of its action .*choose the rig's slot in the Action "):
        getattr(bpy.ops.a4mer, verb)()
    assert other.animation_data.action == action and other.animation_data.action_slot is None
    assert len(other.animation_data.nla_tracks) == 0 and generated.read_state(other) is None
    assert_same_keys(keys, key_snapshot(obj, action))
    other.animation_data.action_slot = other.animation_data.action_suitable_slots[0]  # the user picks one
    assert getattr(bpy.ops.a4mer, verb)() == {"FINISHED"}


@pytest.mark.parametrize("muted", ["fcurve", "group"])
def test_muted_channels_are_refused_before_anything_changes(scene, gap_rig, muted):
    """Under the result layer Blender played a muted channel at its rest value on every frame (the active
    action leaves it as posed): the knee changed outside the span, also with the generated track muted."""
    obj, action = gap_rig
    curves = [fc for fc in anim_compat.fcurves_of(obj, action) if '"right_knee"' in fc.data_path]
    if muted == "fcurve":
        curves[0].mute = True
    else:
        curves[0].group.mute = True
    keys = key_snapshot(obj, action)
    for op in (bpy.ops.a4mer.fill_gaps, bpy.ops.a4mer.extend):
        with pytest.raises(RuntimeError, match=r"has muted channels \(right_knee\)"):
            op()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0


def test_a_solo_track_of_the_users_is_named_in_a_warning(scene, gap_rig, capfd):
    """With a track of the user's solo, Blender plays it alone: Fill reported success, and nothing showed."""
    obj, _ = gap_rig
    mine = obj.animation_data.nla_tracks.new()
    mine.name = "Layout"
    mine.is_solo = True
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert "your NLA track 'Layout' is solo" in capfd.readouterr().out


def test_new_active_action_over_the_result_is_refused(scene, gap_rig):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    other = bpy.data.actions.new("other")
    anim_compat.assign_action(obj, other)
    with pytest.raises(RuntimeError, match="active action .* over its A4Mer result"):
        bpy.ops.a4mer.extend()


def test_panel_shows_spans_and_quality(scene, gap_rig):
    from a4mer_blender.panels import A4MER_PT_generate
    ICONS = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())
    log = []

    class Rec:
        def row(self, **kw):
            return self

        column = row

        def label(self, text="", icon="NONE"):
            assert icon in ICONS, icon
            log.append(("label", text))

        def operator(self, idname, text="", icon="NONE"):
            assert icon in ICONS, icon
            mod, op = idname.split(".")
            assert hasattr(getattr(bpy.ops, mod), op), idname
            log.append(("op", idname))
            return types.SimpleNamespace()

    A4MER_PT_generate.draw(types.SimpleNamespace(layout=Rec()), bpy.context)
    assert ("label", "No generated frames (your keys are never changed).") in log
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    log.clear()
    A4MER_PT_generate.draw(types.SimpleNamespace(layout=Rec()), bpy.context)
    texts = [t for k, t in log if k == "label"]
    assert any(t.startswith("fill 71-99") for t in texts)
    assert any("skate" in t and "cm/s" in t and "key step" in t for t in texts)
    assert ("op", "a4mer.bake_generated") in log and ("op", "a4mer.remove_generated") in log


def test_dialog_draws_and_scripted_interactive_call_stays_synchronous(scene, gap_rig):
    """``interactive`` (set by invoke) only starts the modal job when there is a window; the options
    dialog draws the range, the motif field and the library."""
    from test_panel import Recorder
    obj, _ = gap_rig
    log = []
    op = types.SimpleNamespace(layout=Recorder(log), motif=-1,
                               bl_rna=bpy.ops.a4mer.fill_gaps.get_rna_type())
    bpy.types.A4MER_OT_fill_gaps.draw(op, bpy.context)
    assert ("prop", "motif") in log and ("prop", "frame_start") in log
    assert ("label", "No motif library (Find Atoms and Motifs first)") in log
    assert bpy.ops.a4mer.fill_gaps(interactive=True) == {"FINISHED"}
    assert len(obj.animation_data.nla_tracks["A4Mer Generated"].strips) == 1


def test_segment_while_generated_frames_are_shown_says_what_to_do(scene, gap_rig):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    tracks = [t.name for t in obj.animation_data.nla_tracks]
    with pytest.raises(RuntimeError, match="bake them into your action or remove them"):
        bpy.ops.a4mer.segment()
    assert [t.name for t in obj.animation_data.nla_tracks] == tracks  # nothing changed


@pytest.mark.parametrize("verb", ["fill_gaps", "extend", "segment"])
def test_a_time_remap_is_refused(scene, gap_rig, verb):
    """With Time Stretching (frame_map_old 100, new 50) the scene's frames are not the action's: Extend set
    the scene end in action frames (72 where the extension ended on scene frame 36) and Fill read the
    preview range as action frames. Refused, saying what to do; nothing changes. Old = New (any value)
    is 1:1 and runs."""
    obj, action = gap_rig
    scene.render.frame_map_old, scene.render.frame_map_new = 100, 50
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=r"the scene remaps time \(Output > Time Stretching: Old 100, New 50\)"
                                           r".*set Old and New to the same value") as e:
        getattr(bpy.ops.a4mer, verb)()
    assert "Traceback" not in str(e.value)
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert scene.frame_end == 150 and generated.read_state(obj) is None
    assert_same_keys(keys, key_snapshot(obj, action))
    if verb == "extend":
        scene.render.frame_map_old = 50
        assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
        assert scene.frame_end == 160


def test_merge_keys_updates_keys_on_the_frames_and_adds_the_rest(scene):
    """merge_keys: a key on one of the frames takes the new value, the other frames become new linear
    keys in time order (also beside a sub-frame key, which keeps its value: it was overwritten as if on
    the frame), every other key keeps its value and interpolation, and the automatic handles of keys
    next to new ones stay where they were (aligned): Blender recomputed them from the new neighbours and
    bent the curve beyond them."""
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=10, seed=2), scene)
    fc = anim_compat.fcurves_of(obj, action)[0]
    kp = fc.keyframe_points
    kp[4].co.x = 5.4  # a sub-frame key
    kp[6].interpolation = "CONSTANT"
    for k in kp:
        k.interpolation = "BEZIER" if k.interpolation == "LINEAR" else k.interpolation  # a hand-keyed curve
        k.handle_left_type = k.handle_right_type = "AUTO_CLAMPED"
    fc.update()
    before = [(tuple(k.co), k.interpolation, tuple(k.handle_left), tuple(k.handle_right)) for k in kp]
    shown = fc.evaluate(1.5)
    added = bake.merge_keys(fc, np.array([3.0, 5.0, 11.0, 12.0]), np.array([30.0, 50.0, 110.0, 120.0]))
    assert added == 3
    after = [(tuple(k.co), k.interpolation, tuple(k.handle_left), tuple(k.handle_right)) for k in kp]
    assert [a[0][0] for a in after] == pytest.approx([1, 2, 3, 4, 5, 5.4, 6, 7, 8, 9, 10, 11, 12])
    assert after[2][0][1] == 30.0 and after[4][0][1] == 50.0
    assert after[5] == before[4]  # the sub-frame key: value, handles, interpolation
    assert [a[0][1] for a in after[11:]] == [110.0, 120.0]
    assert [a[1] for a in after[11:]] == ["LINEAR", "LINEAR"]  # as the generated strips' keys
    for i in (0, 1, 6, 7, 8):
        assert after[i if i < 4 else i + 1] == before[i], i
    assert after[7][1] == "CONSTANT"
    assert [kp[i].handle_left_type for i in (3, 5, 10)] == ["ALIGNED"] * 3  # beside new keys 5 and 11
    assert kp[0].handle_left_type == "AUTO_CLAMPED"
    assert fc.evaluate(1.5) == pytest.approx(shown, abs=1e-6)  # the curve between untouched keys


@pytest.mark.parametrize("again", [False, True])
def test_remove_puts_back_the_end_of_a_renamed_scene(scene, again):
    """The scene renamed after Extend (a shot named later), then Remove, or first Extend again: the end
    goes back to where the first Extend found it (the record names the scene; a renamed one is the
    current scene while its end is the one Extend set)."""
    obj, _ = rig_with_fingers(scene, T=90, seed=5)
    scene.frame_end = 90
    assert bpy.ops.a4mer.extend(frames=10 if again else 30) == {"FINISHED"}
    scene.name = "Shot 010"
    if again:
        assert bpy.ops.a4mer.extend(frames=20) == {"FINISHED"} and scene.frame_end == 120  # after the first
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert scene.frame_end == 90


@pytest.mark.parametrize("verb", ["fill_gaps", "extend", "segment"])
def test_keys_on_a_rotation_channel_the_mode_does_not_play_are_refused(scene, gap_rig, verb):
    """Body bones switched to Euler XYZ while their keys stay on the quaternion channel: Blender shows them
    unkeyed (rest pose). Fill generated only the pelvis location and Segment cut the rest pose; now each
    refuses before any change, naming the bones, their mode and the channel their keys are on."""
    obj, action = gap_rig
    for name in ("left_knee", "right_knee", "spine1", "spine2"):
        obj.pose.bones[name].rotation_mode = "XYZ"
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=r"rotation keys of 'left_knee' \(Euler XYZ mode, keys on "
                                           r"rotation_quaternion\), .* and 1 more on .* do not play"):
        getattr(bpy.ops.a4mer, verb)()
    assert generated.read_state(obj) is None and obj.animation_data.action == action
    assert len(obj.animation_data.nla_tracks) == 0
    assert_same_keys(keys, key_snapshot(obj, action))
    obj.pose.bones["left_knee"].keyframe_insert("rotation_euler", frame=1)  # a key the mode plays: read as played
    for name in ("right_knee", "spine1", "spine2"):
        obj.pose.bones[name].rotation_mode = "QUATERNION"
    assert getattr(bpy.ops.a4mer, verb)() == {"FINISHED"}
