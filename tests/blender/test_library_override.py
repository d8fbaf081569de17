"""A character linked from another file and overridden in the shot (library override), the studio way of
animating a character: Fill, Extend, Bake, Remove Generated Frames and Find Atoms and Motifs work on it,
and what they record survives a save and reload (Blender saves NLA tracks and the active action set on an
override, never custom properties added to it: the records live on a local text, records.py). A plain
linked object stays refused; a linked action takes no baked keys."""
from __future__ import annotations

import json

import numpy as np
import pytest

import bpy
from a4mer_blender.bridge import anim_compat, armature, generated, nla, records
from bl_helpers import even_segments, make_row_rig, pose_snapshot, smooth_motion
from test_fill_extend import EXTRA, assert_same_keys, delete_keys_inside, key_snapshot

FRAMES = np.arange(1, 151)
RIG = "SMPLX-neutral"


def _key(obj, scene, name: str = "take1"):
    """Key ``obj`` as test_fill_extend.rig_with_fingers does (body 1..150, jaw/fingers on sines), with
    no keys strictly between frames 70 and 100; returns the action."""
    action = armature.write_motion(obj, smooth_motion(T=150, seed=3), scene, name=name)
    for f in range(1, 151):
        for j, bone in enumerate(b for b in EXTRA if b in obj.pose.bones):
            a = 0.5 * np.sin(f / 6.0 + j)
            obj.pose.bones[bone].rotation_quaternion = (np.cos(a / 2), np.sin(a / 2) * 0.6, np.sin(a / 2) * 0.8, 0.0)
            obj.pose.bones[bone].keyframe_insert("rotation_quaternion", frame=f)
    delete_keys_inside(obj, action, 70, 100)
    return action


def _character(tmp_path, keyed: bool, filled: bool = False) -> str:
    """A character file: the SMPL-X rig in a "Character" collection, keyed (its action then comes linked
    with it) or not; ``filled``: saved with a generated layer (Fill run in the character file)."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = 30, 1.0, 1, 150
    coll = bpy.data.collections.new("Character")
    scene.collection.children.link(coll)
    obj, _ = make_row_rig("mpi_smplx")
    for c in list(obj.users_collection):
        c.objects.unlink(obj)
    coll.objects.link(obj)
    if keyed:
        _key(obj, scene, name="library_take")
    if filled:
        bpy.context.view_layer.objects.active = obj
        assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    path = str(tmp_path / "character.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    return path


def _shot(lib: str, how: str):
    """A fresh shot (30 fps, 1..150) linking the character and overriding its rig: ``hierarchy`` (Make
    Library Override on the collection instance, the rig editable) or ``object`` (override_create);
    the override is active and renamed "Hero" (records must not follow names)."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base, scene.frame_start, scene.frame_end = 30, 1.0, 1, 150
    scene.frame_current = 1
    if how == "hierarchy":
        with bpy.data.libraries.load(lib, link=True) as (_, dst):
            dst.collections = ["Character"]
        inst = bpy.data.objects.new("Character", None)
        inst.instance_type, inst.instance_collection = "COLLECTION", dst.collections[0]
        scene.collection.objects.link(inst)
        dst.collections[0].override_hierarchy_create(scene, bpy.context.view_layer, reference=inst,
                                                     do_fully_editable=True)
        obj = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o.override_library is not None)
    else:
        with bpy.data.libraries.load(lib, link=True) as (_, dst):
            dst.objects = [RIG]
        scene.collection.objects.link(dst.objects[0])
        obj = dst.objects[0].override_create(remap_local_usages=True)
    assert obj.library is None and obj.override_library is not None
    obj.name = "Hero"
    bpy.context.view_layer.objects.active = obj
    return obj


def _reload(tmp_path, name: str = "shot.blend"):
    """Save the shot, open it again; the override (found by its name now)."""
    path = str(tmp_path / name)
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    obj = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o.override_library is not None)
    bpy.context.view_layer.objects.active = obj
    return obj


def _assignment(obj) -> tuple:
    anim = obj.animation_data
    return (anim.action.name, anim.action.library is not None, anim_compat.active_slot_identifier(obj),
            anim.action_blend_type, anim.action_extrapolation, round(anim.action_influence, 6), anim.use_nla)


def _tracks(obj) -> list:
    return [(t.name, t.mute, [(s.name, s.frame_start, s.frame_end, s.action.name if s.action else None)
                              for s in t.strips]) for t in obj.animation_data.nla_tracks]


def _generated_actions() -> list[str]:
    return sorted(a.name for a in bpy.data.actions if a.get("a4mer_generated"))


def _record_texts() -> list[str]:
    return [t.name for t in bpy.data.texts if records.HOLDER_KEY in t]


def _no_custom_records(obj) -> None:
    """A4Mer wrote nothing on the override itself (Blender would drop it on save)."""
    keys = (generated.STATE_KEY, generated.SOURCE_KEY, nla.RECORD_KEY, nla.ACTION_KEY)
    assert not [k for k in keys if k in obj.keys()]


@pytest.fixture
def local_take(scene, tmp_path):
    """An override of an un-keyed linked rig, animated in the shot with a local action (gap 71..99)."""
    obj = _shot(_character(tmp_path, keyed=False), "hierarchy")
    _key(obj, bpy.context.scene)
    return obj


@pytest.mark.parametrize("how", ["hierarchy", "object"])
@pytest.mark.parametrize("take", ["local", "linked"])
def test_fill_save_reload_remove_gives_back_the_users_animation(scene, tmp_path, how, take):
    """Fill on the override, save, reload: the generated frames still show and Remove Generated Frames
    finds them (before, the override was refused; records written on it would be lost on save and Remove
    would not know the tracks). After Remove, and after another save and reload, the user's keys are
    bit-identical and the action is assigned as before (a linked take too, which Fill never modifies)."""
    if take == "local":
        obj = _shot(_character(tmp_path, keyed=False), how)
        action = _key(obj, bpy.context.scene)
    else:
        obj = _shot(_character(tmp_path, keyed=True), how)
        action = obj.animation_data.action
        assert action is not None and action.library is not None
    keys, assigned, tracks = key_snapshot(obj, action), _assignment(obj), _tracks(obj)
    before = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    shown = pose_snapshot(obj, FRAMES)
    gap = (FRAMES > 70) & (FRAMES < 100)
    assert np.abs(shown - before).max(axis=(1, 2, 3))[gap].max() > 0.05
    assert np.abs(shown - before).max(axis=(1, 2, 3))[~gap].max() < 1e-5
    _no_custom_records(obj)
    assert _record_texts() == ["A4Mer records: Hero"]

    obj = _reload(tmp_path)
    state = generated.read_state(obj)
    assert state is not None and [(s["first"], s["last"]) for s in state["spans"]] == [(71, 99)]
    assert generated.source_action(obj, state).name == assigned[0]
    assert np.abs(pose_snapshot(obj, FRAMES) - shown).max() < 1e-5  # the preview, as saved
    obj.name = "Hero v2"  # records follow the object, not its name
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert _assignment(obj) == assigned and _tracks(obj) == tracks
    action = obj.animation_data.action
    assert_same_keys(keys, key_snapshot(obj, action))
    assert not _generated_actions() and not _record_texts()
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max() < 1e-6

    obj = _reload(tmp_path, "shot2.blend")
    assert _assignment(obj) == assigned and _tracks(obj) == tracks and generated.read_state(obj) is None
    assert_same_keys(keys, key_snapshot(obj, obj.animation_data.action))


def test_bake_on_override_keeps_its_keys_across_reload(scene, tmp_path, local_take):
    """Fill, save, reload, Bake: the generated frames become keys of the user's local action, as the
    preview showed them, the result layer and its records text go, and the baked keys are saved."""
    obj = local_take
    action = obj.animation_data.action
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    shown = pose_snapshot(obj, FRAMES)
    obj = _reload(tmp_path)
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    action = obj.animation_data.action
    assert action.name == "take1" and action.library is None
    assert [t.name for t in obj.animation_data.nla_tracks] == [] and not _record_texts()
    assert not _generated_actions()
    baked = pose_snapshot(obj, FRAMES)
    assert np.abs(baked - shown).max() < 1e-3
    pelvis = next(fc for fc in anim_compat.fcurves_of(obj, action)
                  if fc.data_path == 'pose.bones["pelvis"].rotation_quaternion' and fc.array_index == 0)
    assert {int(k.co[0]) for k in pelvis.keyframe_points} >= set(range(71, 100))
    obj = _reload(tmp_path, "baked.blend")
    assert obj.animation_data.action.name == "take1"
    assert np.abs(pose_snapshot(obj, FRAMES) - baked).max() < 1e-6


def test_bake_refuses_a_linked_take_and_remove_gives_it_back(scene, tmp_path):
    """The override plays the library's action: Fill shows generated frames (the linked action is only
    shown by a strip of the override), Bake refuses before any change, naming the action and what to do,
    and Remove gives the linked action back."""
    obj = _shot(_character(tmp_path, keyed=True), "hierarchy")
    action = obj.animation_data.action
    keys, assigned = key_snapshot(obj, action), _assignment(obj)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    layer = _tracks(obj)
    with pytest.raises(RuntimeError, match=r"the action 'library_take' of 'Hero' is linked from .*character"
                                           r"\.blend.* cannot take keys: make it local"):
        bpy.ops.a4mer.bake_generated()
    assert _tracks(obj) == layer and generated.read_state(obj) is not None
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert _assignment(obj) == assigned
    assert_same_keys(keys, key_snapshot(obj, obj.animation_data.action))


def test_extend_on_override_then_remove_after_reload(scene, tmp_path, local_take):
    """Extend moves the scene end; after a save and reload Remove puts it back and the action returns."""
    obj = local_take
    assigned, keys = _assignment(obj), key_snapshot(obj, obj.animation_data.action)
    assert bpy.ops.a4mer.extend(frames=12) == {"FINISHED"}
    assert bpy.context.scene.frame_end == 162
    obj = _reload(tmp_path)
    assert bpy.context.scene.frame_end == 162 and generated.read_state(obj)["spans"][0]["last"] == 162
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert bpy.context.scene.frame_end == 150 and _assignment(obj) == assigned
    assert_same_keys(keys, key_snapshot(obj, obj.animation_data.action))


def test_segment_marks_survive_reload(scene, tmp_path, local_take):
    """Find Atoms and Motifs on the override: its tracks, the motif library and a motif's new name are
    there after a save and reload (renamed override too); Remove A4Mer Tracks then removes them."""
    obj = local_take
    f0, T = armature.action_frames(obj.animation_data.action, obj)
    seg_path = tmp_path / "clip.segments.json"
    seg_path.write_text(json.dumps(even_segments(T, 30.0)))
    before = pose_snapshot(obj, FRAMES)
    assert bpy.ops.a4mer.segment(segments_file=str(seg_path)) == {"FINISHED"}
    rec = nla.read_record(obj)
    motif = rec["tracks"][1]["strips"][0]["key"]
    assert nla.rename_motif(obj, motif, "stride") >= 1
    made = _tracks(obj)
    _no_custom_records(obj)
    obj = _reload(tmp_path)
    obj.name = "Hero v2"
    rec = nla.read_record(obj)
    assert rec is not None and rec["motif_names"][str(motif)] == "stride"
    assert _tracks(obj) == made and len(nla.a4mer_tracks(obj)) == 2
    assert nla.describes(obj, rec, obj.animation_data.action)
    assert np.abs(pose_snapshot(obj, FRAMES) - before).max() < 1e-6  # markers: playback unchanged
    assert bpy.ops.a4mer.motif_select(motif_id=motif) == {"FINISHED"}
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert len(obj.animation_data.nla_tracks) == 0 and nla.read_record(obj) is None and not _record_texts()


def test_two_overrides_of_one_character_keep_their_own_records(scene, tmp_path):
    """One character overridden twice in the shot (a crowd): each override has its own records text."""
    lib = _character(tmp_path, keyed=False)
    a = _shot(lib, "object")
    _key(a, bpy.context.scene)
    b = a.override_library.reference.override_create(remap_local_usages=False)
    bpy.context.scene.collection.objects.link(b)
    b.name = "Extra"
    _key(b, bpy.context.scene, name="take_b")
    for o in (a, b):
        bpy.context.view_layer.objects.active = o
        assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert sorted(_record_texts()) == ["A4Mer records: Extra", "A4Mer records: Hero"]
    _reload(tmp_path)
    a, b = bpy.data.objects["Hero"], bpy.data.objects["Extra"]
    assert generated.source_action(a, generated.read_state(a)).name == "take1"
    assert generated.source_action(b, generated.read_state(b)).name == "take_b"
    bpy.context.view_layer.objects.active = b
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert b.animation_data.action.name == "take_b" and generated.read_state(a) is not None
    assert _record_texts() == ["A4Mer records: Hero"]


def test_an_override_cleared_and_made_again_does_not_take_the_old_records(scene, tmp_path):
    """Clearing an override (Outliner > Library Override > Clear) points the records text at the linked
    object, and overriding it again at the new override (Blender remaps ID pointers): the new override,
    with none of the old tracks, took over the old records (Fill refused, naming a deleted source track;
    Remove failed). Such a text is stale: not read, and deleted when an operator runs."""
    obj = _shot(_character(tmp_path, keyed=False), "object")
    _key(obj, bpy.context.scene)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    linked = obj.override_library.reference
    obj.override_library.destroy(do_hierarchy=False)
    new = linked.override_create(remap_local_usages=True)
    bpy.context.view_layer.objects.active = new
    assert [t[records.HOLDER_KEY] for t in bpy.data.texts if records.HOLDER_KEY in t] == [new]  # remapped
    assert generated.read_state(new) is None and nla.read_record(new) is None
    _key(new, bpy.context.scene, name="take2")
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    state = generated.read_state(new)
    assert generated.source_action(new, state).name == "take2" and len(_record_texts()) == 1
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert new.animation_data.action.name == "take2" and not _record_texts()


@pytest.mark.parametrize("then", ["override again", "make local"])
def test_a_cleared_override_whose_new_rig_has_nla_tracks_of_its_own_does_not_take_the_old_records(
        scene, tmp_path, then):
    """As above, with the animator's own NLA track on the new rig (their take pushed down), or the linked
    rig made local instead: the old text counted as the new rig's records (any added track, or any local
    rig, was taken as A4Mer's), so Remove Generated Frames was offered and put the cleared override's take
    over the animator's track. A text is the rig's only while a track added on it shows an action the text
    points at (or one A4Mer generated)."""
    obj = _shot(_character(tmp_path, keyed=False), "object")
    _key(obj, bpy.context.scene)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    linked = obj.override_library.reference
    obj.override_library.destroy(do_hierarchy=False)
    new = linked.override_create(remap_local_usages=True) if then == "override again" else linked.make_local()
    bpy.context.view_layer.objects.active = new
    take2 = _key(new, bpy.context.scene, name="take2")
    anim = new.animation_data
    strip = anim.nla_tracks.new().strips.new("take2", 1, take2)
    anim_compat.set_strip_slot(strip, new)
    anim.action = None
    tracks, pose = _tracks(new), pose_snapshot(new, FRAMES)
    assert generated.read_state(new) is None and not bpy.ops.a4mer.remove_generated.poll()
    with pytest.raises(RuntimeError, match="has no action: its motion is in the NLA strip 'take2'"):
        bpy.ops.a4mer.fill_gaps()
    assert _tracks(new) == tracks and anim.action is None and not _record_texts()
    np.testing.assert_array_equal(pose_snapshot(new, FRAMES), pose)


def test_a_renamed_override_gets_its_text_renamed_also_to_a_prefix_of_its_old_name(scene, tmp_path, local_take):
    """"Hero" renamed "He": the text kept the name "A4Mer records: Hero" (a prefix test), so a second rig
    named "Hero" got "A4Mer records: Hero.001" and the text named after it held He's records."""
    obj = local_take
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert _record_texts() == ["A4Mer records: Hero"]
    obj.name = "He"
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert _record_texts() == ["A4Mer records: He"]


def test_a_deleted_override_rig_is_not_kept_by_its_records(scene, tmp_path):
    """The records text's pointer is a user of the rig: a deleted override (and its actions) stayed in the
    file for ever. The text goes when the file is opened again, so the next save drops the rig."""
    obj = _shot(_character(tmp_path, keyed=False), "object")
    _key(obj, bpy.context.scene)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    for coll in list(obj.users_collection):  # what Delete does to an object another ID still uses
        coll.objects.unlink(obj)
    assert "Hero" in bpy.data.objects and _record_texts()
    path = str(tmp_path / "deleted.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    assert not _record_texts()
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    assert "Hero" not in bpy.data.objects
    assert all(bpy.data.actions[a].users == 0 for a in _generated_actions())  # as after deleting a local rig


def test_the_active_motif_is_saved_on_an_override(scene, tmp_path, local_take):
    """The panel's active motif (an RNA property of the object) is saved on an override as on a local rig
    (it was reset to none on reload)."""
    local_take.a4mer_active_motif = 7
    obj = _reload(tmp_path)
    assert obj.a4mer_active_motif == 7


def test_a_duplicated_override_names_the_tracks_it_has_no_records_of(scene, tmp_path, local_take):
    """Shift+D of an override after Fill: the copy holds the A4Mer tracks but not the records text, and Fill
    on it said "has no action". It now names the tracks and what to do; the original still works."""
    obj = local_take
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    with bpy.context.temp_override(selected_objects=[obj], active_object=obj, selected_editable_objects=[obj]):
        bpy.ops.object.duplicate()
    copy = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o != obj)
    assert generated.read_state(copy) is None and copy.animation_data.nla_tracks
    bpy.context.view_layer.objects.active = copy
    with pytest.raises(RuntimeError, match=r"holds A4Mer tracks \(A4Mer Source, A4Mer Generated\) that A4Mer has no records of"):
        bpy.ops.a4mer.fill_gaps()
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}


def test_a_local_rig_keeps_its_records_on_the_object(scene, tmp_path):
    """Ordinary local objects store as before (custom properties, no text), so existing files read."""
    obj, _ = make_row_rig("mpi_smplx")
    bpy.context.view_layer.objects.active = obj
    _key(obj, scene)
    scene.frame_end = 150
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    assert generated.STATE_KEY in obj and generated.SOURCE_KEY in obj and not _record_texts()


def test_a_linked_rig_is_refused_naming_what_to_do(scene, tmp_path):
    """A linked object that is not overridden: nothing added to it is saved. Fill, Extend and Find Atoms
    and Motifs refuse before any change, pointing at Library Override or Make Local."""
    lib = _character(tmp_path, keyed=True)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    with bpy.data.libraries.load(lib, link=True) as (_, dst):
        dst.objects = [RIG]
    linked = dst.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    bpy.context.view_layer.objects.active = linked
    tracks = len(linked.animation_data.nla_tracks)
    for op in (bpy.ops.a4mer.fill_gaps, bpy.ops.a4mer.extend, bpy.ops.a4mer.segment):
        with pytest.raises(RuntimeError, match=r"is linked from .*character\.blend.*Library Override.*Make Local"):
            op()
    assert len(linked.animation_data.nla_tracks) == tracks and generated.read_state(linked) is None
    assert not _record_texts()


def test_a_linked_rig_keeps_its_library_tracks_and_action(scene, tmp_path):
    """A character file segmented there, linked (not overridden): Remove A4Mer Tracks, Rename Motif and an
    import onto it changed the linked rig in memory and reported success, all lost on the next save; they
    refuse as Fill does."""
    from a4mer.io import write_amass_npz
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_end = 30, 1, 150
    obj, _ = make_row_rig("mpi_smplx")
    _key(obj, scene, name="library_take")
    (tmp_path / "seg.json").write_text(json.dumps(even_segments(150, 30.0)))
    assert bpy.ops.a4mer.segment(segments_file=str(tmp_path / "seg.json")) == {"FINISHED"}
    lib = str(tmp_path / "character.blend")
    bpy.ops.wm.save_as_mainfile(filepath=lib)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    with bpy.data.libraries.load(lib, link=True) as (_, dst):
        dst.objects = [RIG]
    linked = dst.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    bpy.context.view_layer.objects.active = linked
    tracks, record = _tracks(linked), nla.read_record(linked)
    clip = write_amass_npz(smooth_motion(T=20, seed=12), tmp_path / "wave.npz")
    for op, kw in ((bpy.ops.a4mer.clear_segments, {}), (bpy.ops.a4mer.motif_rename, {"motif_id": 0, "name": "x"}),
                   (bpy.ops.a4mer.import_motion, {"filepath": str(clip)})):
        with pytest.raises(RuntimeError, match=r"is linked from .*character\.blend.*Library Override"):
            op(**kw)
    assert _tracks(linked) == tracks and nla.read_record(linked) == record
    assert linked.animation_data.action.name == "library_take" and "wave" not in bpy.data.actions


def test_bake_and_remove_refuse_a_linked_rig(scene, tmp_path):
    """A character file saved with generated frames on its rig, linked (not overridden): Bake and Remove
    would change linked data that is never saved; they refuse, naming what to do, and change nothing."""
    lib = _character(tmp_path, keyed=True, filled=True)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    with bpy.data.libraries.load(lib, link=True) as (_, dst):
        dst.objects = [RIG]
    linked = dst.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    bpy.context.view_layer.objects.active = linked
    assert generated.read_state(linked) is not None  # the library's own layer
    tracks = _tracks(linked)
    for op in (bpy.ops.a4mer.bake_generated, bpy.ops.a4mer.remove_generated):
        with pytest.raises(RuntimeError, match=r"is linked from .*character\.blend.*Library Override"):
            op()
    assert _tracks(linked) == tracks and linked.animation_data.action is None


def test_an_override_made_local_later_keeps_its_records(scene, tmp_path, local_take):
    """Fill on the override, save, reload, then the animator makes the rig local: its records text is
    still read (Remove finds the layer), and the records text goes with the last record."""
    obj = local_take
    assigned, keys = _assignment(obj), key_snapshot(obj, obj.animation_data.action)
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    obj = _reload(tmp_path)
    obj.make_local(clear_liboverride=True)
    assert obj.override_library is None and obj.library is None
    assert generated.read_state(obj) is not None and generated.STATE_KEY not in obj.keys()
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert _assignment(obj) == assigned and not _record_texts() and generated.read_state(obj) is None
    assert_same_keys(keys, key_snapshot(obj, obj.animation_data.action))
