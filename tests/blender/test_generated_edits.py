"""The result layer after the animator edits it: a generated strip moved or trimmed in the NLA editor,
a strip of the user's put on the "A4Mer Generated" track, the user's action renamed (also across a
save and reload), and keys that hold NaN. Fill / Extend / Bake / Remove keep working on what is
shown, never lose anything of the user's, and refuse with one clear line leaving the scene unchanged."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest

import bpy
from a4mer_blender.bridge import anim_compat, bake, generated
from a4mer_blender.panels import A4MER_PT_generate
from bl_helpers import first_slot_to_strip, pose_snapshot
from test_fill_extend import assert_same_keys, gap_rig, key_snapshot, rig_with_fingers  # noqa: F401 (fixture)
from test_panel import Recorder

FRAMES = np.arange(1, 151)


def _generated_actions() -> list[str]:
    return sorted(a.name for a in bpy.data.actions if a.get("a4mer_generated"))


def _tracks(obj) -> list[tuple]:
    """(track, [(strip, start, end, action)]) of every NLA track of ``obj``."""
    return [(t.name, [(s.name, s.frame_start, s.frame_end, s.action.name if s.action else None) for s in t.strips])
            for t in obj.animation_data.nla_tracks]


def _moved(obj, by: float = 3.0, longer: float = 0.0):
    """The one generated strip, made ``longer`` frames longer, then moved ``by`` frames (NLA editor)."""
    (strip,) = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    strip.frame_end_ui += longer
    strip.frame_start_ui += by
    return strip


def _user_track(obj, name: str, action, start: int = 1):
    """A track of the user's named ``name`` playing a copy of ``action`` from ``start``."""
    track = obj.animation_data.nla_tracks.new()
    track.name = name
    first_slot_to_strip(anim_compat.new_strip(track, name.lower(), start, action.copy()))
    return track


def _user_strip(obj, start: int):
    """A strip of the user's own action (a head key) on the "A4Mer Generated" track."""
    mine = bpy.data.actions.new("my_pose_fix")
    fc = anim_compat.FCurveSink(obj, mine).fresh('pose.bones["head"].rotation_quaternion', 0, "head")
    fc.keyframe_points.insert(1, 0.9)
    strip = anim_compat.new_strip(obj.animation_data.nla_tracks["A4Mer Generated"], "my fix", start, mine)
    first_slot_to_strip(strip)
    return mine


# --- a generated strip moved in the NLA editor ---------------------------------------------------
def test_fill_again_replaces_a_moved_strip(scene, gap_rig):
    obj, action = gap_rig
    before = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    strip = _moved(obj)
    assert (strip.frame_start, strip.frame_end) == (74.0, 102.0)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    strips = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    assert [(s.frame_start, s.frame_end) for s in strips] == [(71.0, 99.0)]
    assert len(_generated_actions()) == 1 and len(generated.read_state(obj)["spans"]) == 1
    inside = (FRAMES > 70) & (FRAMES < 100)  # the moved strip's frames 100..102 show the user's keys again
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max(axis=(1, 2, 3))[~inside].max() < 1e-5
    assert bake.remove_result(obj) == 1
    assert obj.animation_data.action == action and not _generated_actions()


def test_extend_again_continues_after_a_moved_extension(scene):
    obj, action = rig_with_fingers(scene, T=90, seed=5)
    assert bpy.ops.a4mer.extend(frames=30) == {"FINISHED"}
    _moved(obj, by=5)
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    strips = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    assert sorted((s.frame_start, s.frame_end) for s in strips) == [(96.0, 125.0), (126.0, 135.0)]
    assert bake.remove_result(obj) == 2
    assert obj.animation_data.action == action and not _generated_actions()


def test_bake_a_moved_and_trimmed_strip_bakes_what_is_shown(scene, gap_rig):
    """A strip trimmed and moved within its gap (frames 71..99): the frames it left uncovered are keyed
    with the user's curve there, so the baked action plays as the preview did."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    strip = _moved(obj, by=2, longer=-4)  # shows generated frames 71..95 on 73..97
    assert (strip.frame_start, strip.frame_end) == (73.0, 97.0)
    shown = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert not _generated_actions() and generated.read_state(obj) is None
    assert np.abs(pose_snapshot(obj, FRAMES) - shown).max() < 1e-5


def _tweak(obj, on: bool) -> None:
    """Enter (Tab on the "A4Mer Source" strip in the NLA editor) or leave NLA tweak mode."""
    anim = obj.animation_data
    if on:
        src = generated.source_track(obj)
        for t in anim.nla_tracks:
            t.select = t == src
            for s in t.strips:
                s.select = t == src
        anim.nla_tracks.active = src
    anim.use_tweak_mode = on
    assert anim.use_tweak_mode == on


def _elbow(obj, action):
    return next(fc for fc in anim_compat.fcurves_of(obj, action)
                if fc.data_path == 'pose.bones["left_elbow"].rotation_quaternion' and fc.array_index == 1)


def _user_keys(obj, action) -> dict:
    """(data path, index) -> {frame: (value, interpolation)} of the user's keys."""
    return {(fc.data_path, fc.array_index): {round(k.co[0], 3): (k.co[1], k.interpolation) for k in fc.keyframe_points}
            for fc in anim_compat.fcurves_of(obj, action)}


@pytest.mark.parametrize("how", ["key inserted in tweak mode", "strip moved onto keys"])
def test_a_users_key_under_a_generated_strip_is_refused_at_bake(scene, gap_rig, how):
    """A key of the user's on a frame a generated strip covers (keyed in tweak mode on the "A4Mer Source"
    strip after the fill, or under a strip moved onto keyed frames): Bake gave it the generated value.
    Now Bake refuses, naming the channel and frames, and nothing changes; done as the message says
    (delete the key, trim the strip), it bakes with every key of the user's as it was."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    if how == "key inserted in tweak mode":
        _tweak(obj, True)
        assert obj.animation_data.action == action
        _elbow(obj, action).keyframe_points.insert(85, 0.4321)
        _tweak(obj, False)
        match = r"at frame 85 of the strip 'fill 71-99' \(on frames 71-99\): " \
                r'pose.bones\["left_elbow"\].rotation_quaternion\[1\];'
    else:
        _moved(obj, by=3, longer=3)  # 74..105, over the user's keys on 100..105
        match = r"at frames 100-105 of the strip 'fill 71-99' \(on frames 74-105\): " \
                r'pose.bones\["pelvis"\].rotation_quaternion, .* and \d+ more;'
    keys, tracks, state = key_snapshot(obj, action), _tracks(obj), generated.read_state(obj)
    with pytest.raises(RuntimeError, match=match) as e:
        bpy.ops.a4mer.bake_generated()
    assert "keys of yours lie under a generated strip" in str(e.value) and "move or trim the strip" in str(e.value)
    assert "Traceback" not in str(e.value)
    assert_same_keys(keys, key_snapshot(obj, action))
    assert _tracks(obj) == tracks and generated.read_state(obj) == state
    if how == "key inserted in tweak mode":
        fc = _elbow(obj, action)
        fc.keyframe_points.remove(next(k for k in fc.keyframe_points if k.co[0] == 85))
    else:
        obj.animation_data.nla_tracks["A4Mer Generated"].strips[0].frame_end_ui = 99.0  # trimmed off the keys
    mine = _user_keys(obj, action)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    after = _user_keys(obj, action)
    for ch, ks in mine.items():
        assert {f: after[ch][f] for f in ks} == ks, ch


def test_a_repeated_strip_is_refused_and_nothing_changes(scene, gap_rig):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    obj.animation_data.nla_tracks["A4Mer Generated"].strips[0].repeat = 2.0
    keys, tracks, state = key_snapshot(obj, action), _tracks(obj), generated.read_state(obj)
    with pytest.raises(RuntimeError, match="was repeated in the NLA editor") as e:
        bpy.ops.a4mer.bake_generated()
    assert "Traceback" not in str(e.value)
    with pytest.raises(RuntimeError, match="was repeated in the NLA editor"):
        bpy.ops.a4mer.extend()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert _tracks(obj) == tracks and generated.read_state(obj) == state


# --- the user's own action moved or scaled in the NLA editor ------------------------------------
@pytest.mark.parametrize("how", ["move", "scale"])
def test_a_moved_or_scaled_source_strip_is_refused_and_kept(scene, gap_rig, how):
    """After a fill the user's action plays from the "A4Mer Source" strip, which the NLA editor lets them
    slide or retime. A later Fill read the action's frames as scene frames and landed 10 frames early
    (pops of 50-100 cm), Extend covered the user's own last frames, and Bake and Remove deleted the
    strip, the slide with it. Now every operator that would place frames refuses, naming the edit, and
    Remove leaves the strip where the user put it."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    src = obj.animation_data.nla_tracks["A4Mer Source"].strips[0]
    if how == "move":
        src.frame_end_ui += 10
        src.frame_start_ui += 10
    else:
        src.scale = 1.25
    placed = (src.frame_start, src.frame_end, src.action_frame_start, src.scale)
    keys, tracks = key_snapshot(obj, action), _tracks(obj)
    for op in (bpy.ops.a4mer.fill_gaps, lambda: bpy.ops.a4mer.extend(frames=10), bpy.ops.a4mer.bake_generated):
        with pytest.raises(RuntimeError, match="moved by \\+10 frames" if how == "move" else "scaled by 1.25"):
            op()
        assert _tracks(obj) == tracks
    shown = pose_snapshot(obj, FRAMES[FRAMES < 70])
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert obj.animation_data.action is None and generated.read_state(obj) is None and not _generated_actions()
    src = obj.animation_data.nla_tracks[action.name].strips[0]  # the user's track now, named for their action
    assert (src.frame_start, src.frame_end, src.action_frame_start, src.scale) == placed and src.action == action
    assert np.abs(pose_snapshot(obj, FRAMES[FRAMES < 70]) - shown).max() < 1e-6  # as the user placed it
    assert_same_keys(keys, key_snapshot(obj, action))
    with pytest.raises(RuntimeError, match=rf"its motion is in the NLA strip .* of track {action.name!r}"):
        bpy.ops.a4mer.fill_gaps()  # not "holds A4Mer tracks that A4Mer has no records of"


def test_two_generated_strips_that_touch_bake(scene, gap_rig):
    """The NLA editor lets strips touch: both then show the frame they share, and Bake (merging each curve
    once) met it twice and failed half-way with a ValueError."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    assert bpy.ops.a4mer.extend(frames=10) == {"FINISHED"}
    a, b = sorted(obj.animation_data.nla_tracks["A4Mer Generated"].strips, key=lambda s: s.frame_start)
    b.frame_start_ui = a.frame_end
    shown = pose_snapshot(obj, np.arange(150, 170))
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert generated.read_state(obj) is None and obj.animation_data.action == action
    assert np.abs(pose_snapshot(obj, np.arange(150, 170)) - shown).max() < 1e-4


def test_motion_kept_only_in_nla_strips_is_named(scene, gap_rig):
    """A take kept in an NLA strip with no active action (a common NLA workflow) got "has no action", which
    did not say where the motion is or what to do."""
    from a4mer_blender.bridge import armature
    obj, action = gap_rig
    anim = obj.animation_data
    track = anim.nla_tracks.new()
    track.name = "Base"
    first_slot_to_strip(anim_compat.new_strip(track, "take 3", 1, action))
    anim.action = None
    want = r"has no action.*NLA strip 'take 3' of track 'Base'.*choose 'walk' in the Action editor"
    with pytest.raises(RuntimeError, match=want.replace("'walk'", repr(action.name))):
        bpy.ops.a4mer.fill_gaps()
    with pytest.raises(Exception, match=want.replace("'walk'", repr(action.name))):
        armature.read_motion(obj, scene)


# --- a strip of the user's on the generated track ------------------------------------------------
@pytest.mark.parametrize("op", ["remove_generated", "bake_generated"])
def test_a_users_strip_on_the_generated_track_is_kept(scene, gap_rig, op):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    mine = _user_strip(obj, 120)
    assert getattr(bpy.ops.a4mer, op)() == {"FINISHED"}
    assert obj.animation_data.action == action and generated.read_state(obj) is None
    assert _tracks(obj) == [("A4Mer Generated", [("my fix", 120.0, 121.0, "my_pose_fix")])]
    assert mine.users == 1 and not _generated_actions()


def test_remove_in_tweak_mode_is_refused(scene, gap_rig):
    """Remove in NLA tweak mode (on the "A4Mer Source" strip) dropped the A4Mer records and left the
    user's action on that track with no active action. Refused like Fill/Extend/Bake; nothing changes."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    _tweak(obj, True)
    keys, tracks, state = key_snapshot(obj, action), _tracks(obj), generated.read_state(obj)
    with pytest.raises(RuntimeError, match="'SMPLX-neutral' is in NLA tweak mode: leave it") as e:
        bpy.ops.a4mer.remove_generated()
    assert "Traceback" not in str(e.value)
    assert _tracks(obj) == tracks and generated.read_state(obj) == state
    _tweak(obj, False)
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert_same_keys(keys, key_snapshot(obj, action))


def test_leaving_tweak_mode_on_the_source_strip_changes_nothing(scene, gap_rig):
    """The source strip kept Blender's Sync Length: Tab in and out of tweak mode on it, nothing edited,
    cut it to the action's keys, so frames past them lost the user's Linear extrapolation, away from any
    generated span."""
    obj, action = gap_rig
    for fc in anim_compat.fcurves_of(obj, action):
        fc.extrapolation = "LINEAR"
    scene.frame_end = 170  # the character goes on past its last key (150)
    frames = np.arange(1, 171)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    before = pose_snapshot(obj, frames)
    _tweak(obj, True)
    _tweak(obj, False)
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-6


def test_remove_counts_the_spans_it_removed(scene, gap_rig):
    obj, _ = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    _moved(obj, by=-2)
    _user_strip(obj, 120)
    assert bake.remove_result(obj) == 1
    assert [len(t.strips) for t in obj.animation_data.nla_tracks] == [1] and not _generated_actions()


@pytest.mark.parametrize("field, value", [("spans", 3), ("spans", [{"id": "x"}]), ("source_track", 7),
                                          ("source_frames", "1,2")])
def test_a_record_edited_by_hand_is_named_damaged_not_a_traceback(scene, gap_rig, field, value):
    """``"spans": 3`` typed into the record (Custom Properties) made the Generate panel's draw raise and
    Bake / Remove end in a traceback: the record is unreadable now, and the polls say it is damaged."""
    obj, _ = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    state = json.loads(obj[generated.STATE_KEY])
    state[field] = value
    obj[generated.STATE_KEY] = json.dumps(state)
    assert generated.read_state(obj) is None
    log = []
    A4MER_PT_generate.draw(types.SimpleNamespace(layout=Recorder(log)), bpy.context)
    assert ("op", "a4mer.fill_gaps") in log
    for op in (bpy.ops.a4mer.bake_generated, bpy.ops.a4mer.remove_generated):
        with pytest.raises(RuntimeError, match="A4Mer's record of the tracks .* is damaged: undo its edit"):
            op()


def test_generating_over_a_users_strip_is_refused_before_anything_changes(scene, gap_rig):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    track = obj.animation_data.nla_tracks["A4Mer Generated"]
    track.strips.remove(track.strips[0])  # the user deleted the generated strip ...
    _user_strip(obj, 80)  # ... and put one of theirs in the gap
    keys, tracks, actions = key_snapshot(obj, action), _tracks(obj), sorted(a.name for a in bpy.data.actions)
    with pytest.raises(RuntimeError, match="your strip 'my fix' .* lies on the frames to generate") as e:
        bpy.ops.a4mer.fill_gaps()
    assert "Traceback" not in str(e.value)
    assert_same_keys(keys, key_snapshot(obj, action))
    assert _tracks(obj) == tracks and sorted(a.name for a in bpy.data.actions) == actions


# --- the user's action renamed -------------------------------------------------------------------
def test_renamed_action_keeps_working_across_save_and_reload(scene, gap_rig, tmp_path):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    action.name = "kick_take2"
    assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}
    path, name = tmp_path / "renamed.blend", obj.name
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects[name]
    bpy.context.view_layer.objects.active = obj
    obj.animation_data.nla_tracks["A4Mer Source"].strips[0].action.name = "kick_take3"
    shown = pose_snapshot(obj, np.arange(1, 156))
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert obj.animation_data.action.name == "kick_take3" and len(obj.animation_data.nla_tracks) == 0
    assert np.abs(pose_snapshot(obj, np.arange(1, 156)) - shown).max() < 1e-5
    assert not _generated_actions() and generated.read_state(obj) is None


def test_remove_after_renaming_the_action_restores_it(scene, gap_rig):
    obj, action = gap_rig
    keys = key_snapshot(obj, action)
    before = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    action.name = "kick_take2"
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max() < 1e-7


def test_remove_after_the_source_track_was_deleted_gives_the_action_back(scene, gap_rig):
    """The animator deleted the "A4Mer Source" track: Remove made no action active and dropped A4Mer's
    pointer, the action's last user, so the action was gone after a save."""
    obj, action = gap_rig
    keys = key_snapshot(obj, action)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    tracks = obj.animation_data.nla_tracks
    tracks.remove(tracks["A4Mer Source"])
    other = bpy.data.actions.new("other")
    obj.animation_data.action = other  # another action active: A4Mer's pointer is the last user of theirs
    with pytest.raises(RuntimeError, match=f"your action '{action.name}' is on no track any more"):
        bpy.ops.a4mer.remove_generated()
    assert generated.read_state(obj) is not None and action.users >= 1
    obj.animation_data.action = None
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert_same_keys(keys, key_snapshot(obj, action))


# --- NaN keys ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bone, channel, index, named", [("pelvis", "location", 1, "pelvis location"),
                                                         ("left_knee", "rotation_quaternion", 2, "left_knee rotation")])
def test_a_nan_key_is_refused_naming_the_bone_and_scene_frame(scene, gap_rig, bone, channel, index, named):
    obj, action = gap_rig
    fc = next(f for f in anim_compat.fcurves_of(obj, action)
              if f.data_path == f'pose.bones["{bone}"].{channel}' and f.array_index == index)
    next(k for k in fc.keyframe_points if k.co[0] == 60).co[1] = float("nan")
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=rf"NaN/inf values in the keys of {named} \(frame 60\)") as e:
        bpy.ops.a4mer.fill_gaps()
    assert "Traceback" not in str(e.value)
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None and not _generated_actions()
    after = key_snapshot(obj, action)
    assert keys.keys() == after.keys()
    for k in keys:
        np.testing.assert_array_equal(keys[k], after[k])  # NaN equals NaN here


@pytest.mark.parametrize("channel, index", [("location", 2), ("rotation_euler", 0)])
def test_a_nan_object_key_is_refused_naming_the_channel_and_scene_frame(scene, gap_rig, channel, index):
    """NaN in the object's own transform keys (not a pose bone): the message names the channel and the
    scene frame (not an index into the clip read), and nothing changes."""
    obj, action = gap_rig
    for f in range(1, 151):
        obj.location = (0.01 * f, 0.0, 0.0)
        obj.rotation_euler = (0.0, 0.0, 0.002 * f)
        obj.keyframe_insert(channel, frame=f)
    fc = next(f for f in anim_compat.fcurves_of(obj, action) if f.data_path == channel and f.array_index == index)
    next(k for k in fc.keyframe_points if k.co[0] == 60).co[1] = float("nan")
    scene.frame_set(5)
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=rf"NaN/inf values in the keys of the object {obj.name!r}: "
                                           rf"{channel}\[{index}\] \(frame 60\)") as e:
        bpy.ops.a4mer.fill_gaps()
    assert "Traceback" not in str(e.value)
    assert scene.frame_current == 5
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None and not _generated_actions()
    after = key_snapshot(obj, action)
    assert keys.keys() == after.keys()
    for k in keys:
        np.testing.assert_array_equal(keys[k], after[k])


# --- the user's action renamed or replaced while the model runs ----------------------------------
def _while_running(monkeypatch, change) -> None:
    """Make ``change()`` happen while the heads run (between reading the scene and applying the result,
    as in the modal operator's wait)."""
    from a4mer_blender import runner
    real = runner.run_heads_sync

    def run(*args, **kwargs):
        out = real(*args, **kwargs)
        change()
        return out
    monkeypatch.setattr(runner, "run_heads_sync", run)


@pytest.mark.parametrize("pushed", [False, True])
def test_renaming_the_action_while_the_model_runs_is_no_change(scene, gap_rig, monkeypatch, pushed):
    """Renaming the action or the armature object while the model runs is no change (the object
    was "removed" before)."""
    obj, action = gap_rig
    if pushed:  # the result layer exists: the action is on the A4Mer Source track
        assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}

    def rename():
        action.name, obj.name = "kick_take2", "hero_rig"
    _while_running(monkeypatch, rename)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert generated.user_action(obj) == action and action.name == "kick_take2" and obj.name == "hero_rig"
    assert any(sp["kind"] == "fill" for sp in generated.read_state(obj)["spans"])


def test_another_action_put_in_while_the_model_runs_is_refused(scene, gap_rig, monkeypatch):
    """A real swap, also under the old action's name, is refused and nothing of A4Mer's is added."""
    obj, action = gap_rig
    keys = key_snapshot(obj, action)
    other = action.copy()

    def swap():
        name = action.name
        action.name, other.name = "old take", name
        anim_compat.assign_action(obj, other)
    _while_running(monkeypatch, swap)
    with pytest.raises(RuntimeError, match="action changed while the model ran; nothing was changed"):
        bpy.ops.a4mer.fill_gaps()
    assert obj.animation_data.action == other and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None and not _generated_actions()
    assert_same_keys(keys, key_snapshot(obj, action))


def test_the_armature_removed_while_the_model_runs_is_refused(scene, gap_rig, monkeypatch):
    obj, action = gap_rig
    name = obj.name
    _while_running(monkeypatch, lambda: bpy.data.objects.remove(obj))
    with pytest.raises(RuntimeError, match=f"the armature '{name}' was removed while the model ran"):
        bpy.ops.a4mer.fill_gaps()
    assert not _generated_actions()


@pytest.mark.parametrize("swap", [False, True])
def test_segment_job_result_after_a_rename_or_a_swap(scene, gap_rig, monkeypatch, swap):
    """The modal Find Atoms and Motifs: a rename while the model ran is no change, a swap is refused."""
    import types
    from a4mer_blender import runner
    from a4mer_blender.bridge import nla
    from a4mer_blender.operators.segment import A4MER_OT_segment
    from bl_helpers import even_segments
    obj, action = gap_rig
    started = types.SimpleNamespace(start=lambda: "job")
    monkeypatch.setattr(runner, "Job", lambda *a, **k: started)
    reports = []
    op = types.SimpleNamespace(segments_file="", report=lambda kind, msg: reports.append(msg),
                               begin_modal=lambda context, job, message: {"RUNNING_MODAL"})
    assert A4MER_OT_segment.invoke(op, bpy.context, None) == {"RUNNING_MODAL"}
    action.name, obj.name = "kick_take2", "hero_rig"
    if swap:
        other = action.copy()
        action.name, other.name = "old take", "kick_take2"
        anim_compat.assign_action(obj, other)
    st = types.SimpleNamespace(error=None, result=even_segments(150, 30.0))
    assert A4MER_OT_segment.finish(op, bpy.context, st) == ({"CANCELLED"} if swap else {"FINISHED"})
    if swap:
        assert "action changed while the model ran" in reports[-1] and nla.read_record(obj) is None
        assert len(obj.animation_data.nla_tracks) == 0
    else:
        assert nla.read_record(obj) is not None and len(obj.animation_data.nla_tracks) == 2


# --- the A4Mer tracks renamed by the user -------------------------------------------------------
def test_renamed_result_tracks_are_still_found(scene, gap_rig):
    obj, action = gap_rig
    before = pose_snapshot(obj, FRAMES)
    keys = key_snapshot(obj, action)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    tracks = obj.animation_data.nla_tracks
    tracks["A4Mer Generated"].name = "my fills"
    tracks["A4Mer Source"].name = "my take"
    assert generated.source_track(obj).name == "my take" and generated.generated_track(obj).name == "my fills"
    assert len(generated.spans(obj)) == 1
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}  # again: the same track, its span replaced
    assert [t.name for t in tracks] == ["my take", "my fills"] and len(tracks["my fills"].strips) == 1
    assert len(_generated_actions()) == 1 and len(generated.read_state(obj)["spans"]) == 1
    assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}
    assert [t.name for t in tracks] == ["my take", "my fills"] and len(tracks["my fills"].strips) == 2
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(tracks) == 0 and not _generated_actions()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max() < 1e-7


def test_a_track_of_the_users_named_like_ours_is_not_taken_for_it(scene, gap_rig):
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    tracks = obj.animation_data.nla_tracks
    tracks["A4Mer Generated"].name = "my fills"
    mine = tracks.new()
    mine.name = "A4Mer Generated"  # the user's own (empty) track, under our old name
    assert generated.generated_track(obj).name == "my fills"
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert [t.name for t in tracks] == ["A4Mer Generated"] and len(tracks[0].strips) == 0
    assert obj.animation_data.action == action and not _generated_actions()


@pytest.mark.parametrize("nla_on", [True, False])
def test_the_users_nla_tracks_come_back_as_they_were(scene, gap_rig, nla_on):
    """Fill -> Remove leaves the user's active track active (``nla_tracks.new`` made ours active), and with
    the NLA switched off unmutes the tracks it muted, also one the user renamed meanwhile."""
    obj, action = gap_rig
    anim = obj.animation_data
    mine, other = _user_track(obj, "MyBase", action), _user_track(obj, "MyLayer", action, 20)
    anim.nla_tracks.active = mine
    anim.use_nla = nla_on
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert anim.nla_tracks.active == mine
    assert mine.mute == other.mute == (not nla_on)  # an NLA that was off stays off under the layer
    mine.name = "MyBase renamed"
    assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}  # the generated track exists: no new track
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert [(t.name, t.mute, t.active) for t in anim.nla_tracks] == [("MyBase renamed", False, True),
                                                                     ("MyLayer", False, False)]
    assert anim.use_nla == nla_on and anim.action == action


@pytest.mark.parametrize("layer", [False, True])
def test_a_failure_while_building_the_result_is_rolled_back(scene, gap_rig, monkeypatch, layer):
    """An unexpected error after the push-down (strips.new refusing a strip) left the user's action on the
    "A4Mer Source" track, none active and no record: now it says so in one line and leaves the NLA as it
    was (with a result layer there already: that layer, recorded, and Remove still gives everything back)."""
    from a4mer_blender.bridge import nla
    obj, action = gap_rig
    anim = obj.animation_data
    mine = _user_track(obj, "MyBase", action)
    anim.use_nla = False
    keys = key_snapshot(obj, action)
    before = pose_snapshot(obj, FRAMES)
    if layer:
        assert bpy.ops.a4mer.extend(frames=5) == {"FINISHED"}
    shown, tracks = pose_snapshot(obj, FRAMES), _tracks(obj)
    state, actions = generated.read_state(obj), _generated_actions()

    def boom(*a, **k):
        raise RuntimeError("Unable to add strip")
    monkeypatch.setattr(nla, "place_strip", boom)
    with pytest.raises(RuntimeError, match=r"could not put the generated frames .*Unable to add strip.*as before"):
        bpy.ops.a4mer.fill_gaps()
    monkeypatch.undo()
    assert _tracks(obj) == tracks and _generated_actions() == actions
    assert generated.read_state(obj) == state and np.abs(pose_snapshot(obj, FRAMES) - shown).max() < 1e-7
    assert anim.action == (None if layer else action) and anim.use_nla == layer and mine.mute == layer
    if layer:
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert anim.action == action and not anim.use_nla and not mine.mute and _tracks(obj)[0][0] == "MyBase"
    assert generated.read_state(obj) is None and not _generated_actions()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max() < 1e-7
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}


def test_remove_after_the_user_cleared_the_animation_data(scene, gap_rig):
    """The user cleared the rig's animation data (Clear Animation Data) over a result layer: Remove raised
    AttributeError on the missing animation data; it now forgets the layer, keeping the user's action
    (held only by A4Mer's pointer) in the file."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    obj.animation_data_clear()
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert generated.read_state(obj) is None and generated.SOURCE_KEY not in obj
    assert action.use_fake_user and action.name in bpy.data.actions


def test_a_failure_inside_the_push_down_is_rolled_back(scene, gap_rig, monkeypatch):
    """An error while the user's action was being pushed down (the source strip refused) left the user's
    tracks muted and an empty "A4Mer Source" track, with no record: the user's NLA is now as it was."""
    from a4mer_blender.bridge import anim_compat
    obj, action = gap_rig
    anim = obj.animation_data
    mine = _user_track(obj, "MyBase", action)
    anim.use_nla = False  # the push-down mutes the user's tracks of an NLA that was off
    tracks, keys, before = _tracks(obj), key_snapshot(obj, action), pose_snapshot(obj, FRAMES)

    def boom(*a, **k):
        raise RuntimeError("Unable to add strip")
    monkeypatch.setattr(anim_compat, "new_strip", boom)
    with pytest.raises(RuntimeError, match=r"could not put the generated frames .*Unable to add strip.*as before"):
        bpy.ops.a4mer.fill_gaps()
    monkeypatch.undo()
    assert _tracks(obj) == tracks and not mine.mute and anim.action == action and not anim.use_nla
    assert generated.read_state(obj) is None and generated.SOURCE_KEY not in obj and not _generated_actions()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max() < 1e-7
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}


@pytest.mark.parametrize("change", ["key in the gap", "noise strength", "generator coefficient"])
def test_keys_or_modifiers_changed_while_the_model_runs_is_no_change(scene, gap_rig, monkeypatch, change):
    """The animator keys a pose inside the gap while the model runs: the generated strip was laid over
    the new key (the preview hid it, and a bake overwrote it). A modifier's settings are planned from too:
    the fingerprint counted modifiers but read none of their settings, so a Noise made stronger while the
    model ran was baked under a preview planned without it. Now nothing changes."""
    obj, action = gap_rig
    pb = obj.pose.bones["left_knee"]
    fc = next(fc for fc in anim_compat.fcurves_of(obj, action) if '"left_knee"' in fc.data_path)
    if change == "noise strength":
        mod = fc.modifiers.new("NOISE")
        mod.strength = 0.01
    elif change == "generator coefficient":
        mod = fc.modifiers.new("GENERATOR")
        mod.use_additive = True
        mod.coefficients = (0.0, 0.0)

    def make_change():
        if change == "key in the gap":
            pb.rotation_quaternion = (0.8, 0.6, 0.0, 0.0)
            pb.keyframe_insert("rotation_quaternion", frame=85)
        elif change == "noise strength":
            mod.strength = 0.5
        else:
            mod.coefficients[1] = 0.01
    _while_running(monkeypatch, make_change)
    with pytest.raises(RuntimeError, match="the keys or modifiers of 'smooth' changed while the model ran; "
                                           "nothing was changed"):
        bpy.ops.a4mer.fill_gaps()
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert generated.read_state(obj) is None and not _generated_actions()


@pytest.mark.parametrize("locked", ["curve", "group"])
def test_a_locked_curve_is_refused_at_bake(scene, gap_rig, locked):
    """Blender's own keying leaves locked F-Curves, and the curves of a locked channel group, alone; the
    bake wrote into them."""
    obj, action = gap_rig
    for fc in anim_compat.fcurves_of(obj, action):
        if locked == "curve":
            fc.lock = '"left_knee"' in fc.data_path
        elif fc.group is not None and fc.group.name == "left_knee":
            fc.group.lock = True
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    keys = key_snapshot(obj, action)
    match = (r'F-Curve pose.bones\["left_knee"\].rotation_quaternion\[0\] is locked' if locked == "curve"
             else "channel group 'left_knee' is locked")
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.a4mer.bake_generated()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert generated.read_state(obj) is not None


@pytest.mark.parametrize("when", ["while the model runs", "before bake"])
def test_an_action_made_a_layer_after_the_check_is_refused(scene, gap_rig, monkeypatch, when):
    """Over a layer of the user's, the action set to Combine at 0.5 while the model ran (or its A4Mer
    Source strip, before Bake) was taken: Bake then wrote keys 1.8 off what the preview showed. Refused
    like the same setting before the run; nothing changes."""
    obj, action = gap_rig
    anim = obj.animation_data
    strip = anim_compat.new_strip(anim.nla_tracks.new(), "base", 1, action.copy())
    first_slot_to_strip(strip)
    match = r"played as a layer over its NLA tracks \(Combine, influence 0.50\)"
    if when == "while the model runs":
        def layer():
            anim.action_blend_type, anim.action_influence = "COMBINE", 0.5
        _while_running(monkeypatch, layer)
        with pytest.raises(RuntimeError, match=match):
            bpy.ops.a4mer.fill_gaps()
        assert anim.action == action and generated.read_state(obj) is None and not _generated_actions()
        return
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    src = generated.source_track(obj, generated.read_state(obj)).strips[0]
    src.blend_type, src.influence, src.use_animated_influence = "COMBINE", 0.5, True
    keys = key_snapshot(obj, action)
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.a4mer.bake_generated()
    assert_same_keys(keys, key_snapshot(obj, action))
    assert generated.read_state(obj) is not None


def test_no_body_keys_is_refused(scene):
    """An action keying a finger only: Extend reported 10 generated frames and pushed the action down
    under an empty strip."""
    from bl_helpers import make_row_rig
    obj, _ = make_row_rig("mpi_smplx")
    pb = obj.pose.bones["left_index1"]
    for f in (1, 30, 60):
        pb.rotation_quaternion = (1.0, f / 100, 0.0, 0.0)
        pb.keyframe_insert("rotation_quaternion", frame=f)
    for verb in (bpy.ops.a4mer.fill_gaps, lambda: bpy.ops.a4mer.extend(frames=10)):
        with pytest.raises(RuntimeError, match="has no rotation or location keys on 'SMPLX-neutral''s body bones"):
            verb()
    assert obj.animation_data.action is not None and len(obj.animation_data.nla_tracks) == 0


def test_bake_names_the_other_rigs_that_play_the_action(scene, gap_rig):
    """Two rigs on one action (and, on slotted actions, one slot): Bake writes into it, so the twin shows
    the baked in-between too; Bake says which rigs do. A rig on another slot of the action, or on
    another action, is not named."""
    from bl_helpers import make_row_rig
    obj, action = gap_rig
    twin, _ = make_row_rig("mpi_smplx")
    twin.name = "Twin"
    twin.animation_data_create()
    twin.animation_data.action = action
    if anim_compat.is_slotted(action):
        twin.animation_data.action_slot = obj.animation_data.action_slot
    other, _ = make_row_rig("mpi_smplx")
    other.animation_data_create()
    other.animation_data.action = bpy.data.actions.new("other")
    assert anim_compat.also_played_by(obj, action, bpy.data.objects) == ["Twin"]
    before = pose_snapshot(twin, FRAMES)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert np.abs(pose_snapshot(twin, FRAMES) - before).max() < 1e-6  # the preview is obj's alone
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert np.abs(pose_snapshot(twin, FRAMES) - before).max() > 0.05  # baked into the shared action
    if anim_compat.is_slotted(action):  # on its own slot, the twin plays other channels: not named
        twin.animation_data.action_slot = action.slots.new("OBJECT", "Twin")
        assert anim_compat.also_played_by(obj, action, bpy.data.objects) == []


@pytest.mark.parametrize("what", ["renamed", "deleted"])
def test_remove_unmutes_only_the_track_fill_muted(scene, gap_rig, what):
    """NLA off, a take of the user's muted on purpose beside the one Fill mutes, both with strips on the
    same frames; the user renames or deletes the muted one: Remove unmuted the user's own muted take
    (found by frames alone). It is found by its strips' frames and actions, and only when one fits."""
    obj, action = gap_rig
    anim = obj.animation_data
    _user_track(obj, "WalkAlt", action).mute = True
    mine = _user_track(obj, "Walk", action)
    anim.use_nla = False
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    if what == "renamed":
        mine.name = "Walk v2"
    else:
        anim.nla_tracks.remove(mine)
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    want = [("WalkAlt", True)] + ([("Walk v2", False)] if what == "renamed" else [])
    assert [(t.name, t.mute) for t in anim.nla_tracks] == want and not anim.use_nla


def test_a_split_generated_strip_bakes_both_pieces(scene, gap_rig):
    """NLA Split on a generated strip (both pieces show the span's action): Bake bakes what both show,
    and no generated action or strip is left (the second piece was kept as 'your strip' and hidden by
    the user's old in-between keyed under it)."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    track = obj.animation_data.nla_tracks["A4Mer Generated"]
    a = track.strips[0]
    first, last = a.frame_start, a.frame_end
    a.frame_end_ui = 85.0  # what Split (Y) at frame 85 does: a copy showing the rest of the action
    b = anim_compat.new_strip(track, a.name + ".001", 86, a.action)
    anim_compat.set_strip_slot(b, obj)
    b.action_frame_start, b.action_frame_end = 85.0, last
    b.frame_start_ui, b.frame_end_ui = 85.0, last
    b.blend_type, b.extrapolation = "REPLACE", "NOTHING"
    assert generated.foreign_strips(obj) == []
    shown = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert obj.animation_data.action == action and len(obj.animation_data.nla_tracks) == 0
    assert not _generated_actions() and generated.read_state(obj) is None and first < 85
    assert np.abs(pose_snapshot(obj, FRAMES) - shown).max() < 1e-5


def test_a_channel_keyed_only_on_the_generated_strip_bakes_as_shown(scene, gap_rig):
    """A key added in tweak mode on the generated strip, on a channel the user's action does not animate
    (knee location): the NLA shows its default value outside the strip, and the baked action does too
    (it held the strip's value over the whole take)."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    strip = obj.animation_data.nla_tracks["A4Mer Generated"].strips[0]
    fc = anim_compat.FCurveSink(obj, strip.action).ensure('pose.bones["left_knee"].location', 1, "left_knee")
    fc.keyframe_points.add(1)
    fc.keyframe_points[0].co = (85.0, 0.05)
    shown = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, FRAMES) - shown).max() < 1e-5


def test_a_blend_in_on_a_generated_strip_is_refused(scene, gap_rig):
    """Blend In / Out mixes the strip with the user's action, which Bake would not write: refused."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    obj.animation_data.nla_tracks["A4Mer Generated"].strips[0].blend_in = 5.0
    keys = _user_keys(obj, action)
    with pytest.raises(RuntimeError, match="given a Blend In or Blend Out"):
        bpy.ops.a4mer.bake_generated()
    after = _user_keys(obj, action)
    assert after.keys() == keys.keys() and all(np.array_equal(after[k], keys[k]) for k in keys)


def test_an_extension_bake_holds_its_last_pose_though_fingers_are_keyed_on(scene, gap_rig):
    """The body ends at 120 and the fingers are keyed to 150: Bake keyed frame 141 with the body's pose
    of frame 120 (the slot's keys reach past the span), so the body snapped back after the extension."""
    from a4mer_blender.bridge import body_channels
    obj, action = gap_rig
    body = body_channels.body_pose_fcurves(obj, action)
    for fc in body:
        for i in reversed(range(len(fc.keyframe_points))):
            if fc.keyframe_points[i].co[0] > 120:
                fc.keyframe_points.remove(fc.keyframe_points[i])
    assert bpy.ops.a4mer.extend(frames=20) == {"FINISHED"}
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert max(fc.keyframe_points[-1].co[0] for fc in body_channels.body_pose_fcurves(obj, action)) == 140


def test_a_manual_frame_range_reaches_a_baked_extension(scene, gap_rig):
    """An action with a manual frame range (1-150) kept it after an extension to 170 was baked, so exporters
    that read the range cut the baked frames off."""
    obj, action = gap_rig
    action.use_frame_range = True
    action.frame_start, action.frame_end = 1.0, 150.0
    assert bpy.ops.a4mer.extend(frames=20) == {"FINISHED"}
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert (action.frame_start, action.frame_end) == (1.0, 170.0)
