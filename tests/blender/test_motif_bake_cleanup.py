"""Generated actions never outlive their spans: after Bake the motif-track mark of a span generated with a
motif shows the user's action (which now holds those frames), and the generated action is deleted; in
any order of Extend / Fill with a motif, Find Atoms and Motifs, Bake, Remove Generated Frames and Remove
A4Mer Tracks, no action tagged ``a4mer_generated`` is left in the file (also after save + reload).

Before: the mark kept showing the generated action, so Bake left "A4Mer extend ..." in the file (held by
the muted "A4Mer Motifs" track, listed in the Action browser, saved) until the tracks were removed."""
from __future__ import annotations

import json

import numpy as np
import pytest

import bpy
from a4mer.strips import generated_motifs, motif_summary
from a4mer_blender.bridge import armature, generated, nla
from bl_helpers import even_segments, first_slot_to_strip, pose_snapshot
from test_fill_extend import delete_keys_inside, rig_with_fingers
from test_fill_extend_worker import fake_heads  # noqa: F401 (fixture)


def _generated_actions() -> list[str]:
    return sorted(a.name for a in bpy.data.actions if a.get("a4mer_generated"))


def _motif_track(obj):
    return obj.animation_data.nla_tracks.get("A4Mer Motifs")


def _marks(obj) -> list[dict]:
    """The generated (motif) entries of the record."""
    record = nla.read_record(obj)
    return [e for t in (record or {}).get("tracks", []) if t.get("kind") == "motif" for e in t["strips"]
            if e.get("generated")]


def _reload(tmp_path, obj):
    """Save, open the file again: the object of ``obj``'s name."""
    name, path = obj.name, str(tmp_path / "cleanup.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    return bpy.data.objects[name]


@pytest.fixture
def rig(scene, fake_heads, monkeypatch):  # noqa: F811 (fixture)
    monkeypatch.setenv("A4MER_FAKE_HEADS", "ok")
    obj, action = rig_with_fingers(scene, T=120)
    nla.apply_segments(obj, scene, even_segments(120, 30.0, atom_len=10, seed=1))
    scene.frame_end = 120
    return obj, action


def test_bake_of_an_extension_with_a_motif_leaves_no_generated_action(scene, rig, tmp_path):
    obj, action = rig
    count = {m["motif_id"]: m["count"] for m in motif_summary(nla.read_record(obj))}[1]
    assert bpy.ops.a4mer.extend(frames=10, motif=1) == {"FINISHED"}
    assert _generated_actions() == ["A4Mer extend 121-130"]
    shown = pose_snapshot(obj, np.arange(115, 131))
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert _generated_actions() == []
    assert obj.animation_data.action == action
    assert np.abs(pose_snapshot(obj, np.arange(115, 131)) - shown).max() < 1e-5
    # the mark stays, showing the user's action over the baked frames (scene frames = action frames)
    (mark,) = [s for s in _motif_track(obj).strips if s.frame_start == 121.0]
    assert mark.action == action
    assert (mark.frame_start, mark.frame_end, mark.action_frame_start, mark.action_frame_end, mark.scale) == \
        (121.0, 130.0, 121.0, 130.0, 1.0)
    assert _motif_track(obj).mute
    lib = {m["motif_id"]: m for m in motif_summary(nla.read_record(obj))}
    assert lib[1]["count"] == count + 1 and (121.0, 130.0) in lib[1]["occurrences"]
    assert [(m["motif_id"], m["start_frame"], m["end_frame"]) for m in generated_motifs(nla.read_record(obj), 1)] \
        == [(1, 120, 130)]
    # jumping reaches it; renaming the motif renames it
    scene.frame_set(110)
    assert bpy.ops.a4mer.motif_jump(motif_id=1, direction=1) == {"FINISHED"}
    assert scene.frame_current == 121
    assert bpy.ops.a4mer.motif_rename(motif_id=1, name="wave") == {"FINISHED"}
    assert mark.name.startswith("wave")
    # saved and reloaded: the file holds no generated action; the record still finds the mark
    name = action.name
    obj = _reload(tmp_path, obj)
    assert _generated_actions() == []
    lib = {m["motif_id"]: m for m in motif_summary(nla.read_record(obj))}
    assert lib[1]["count"] == count + 1 and (121.0, 130.0) in lib[1]["occurrences"]
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert _generated_actions() == [] and obj.animation_data.action.name == name
    assert len(obj.animation_data.nla_tracks) == 0


def test_a_moved_and_scaled_span_bakes_to_a_mark_of_the_users_action(scene, rig):
    """The user moved and scaled the generated strip: the mark follows it and shows the user's action
    over the frames the strip covered (where the bake put the keys)."""
    obj, action = rig
    assert bpy.ops.a4mer.extend(frames=10, motif=1) == {"FINISHED"}
    (strip,) = obj.animation_data.nla_tracks["A4Mer Generated"].strips
    strip.frame_start_ui += 6
    strip.scale = 1.5
    start, end = strip.frame_start, strip.frame_end
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    assert _generated_actions() == []
    (mark,) = [s for s in _motif_track(obj).strips if s.frame_start > 120]
    assert (mark.frame_start, mark.frame_end, mark.action_frame_start, mark.action_frame_end, mark.scale) == \
        pytest.approx((start, end, start, end, 1.0), abs=1e-4)
    (entry,) = _marks(obj)
    assert (entry["frame_start"], entry["frame_end"]) == pytest.approx((start, end), abs=1e-4)


def _extend(obj):
    motif = motif_summary(nla.read_record(obj))[0]["motif_id"]
    assert bpy.ops.a4mer.extend(frames=10, motif=motif) == {"FINISHED"}
    new = max((sp for sp in generated.read_state(obj)["spans"] if sp["kind"] == "extend"), key=lambda sp: sp["first"])
    assert new["motif"] and any(e.get("span") == new["id"] for e in _marks(obj))  # marked on the motif track


def _fill(obj):
    """Fill a gap with a motif where the motif track is free (the user deleted the clip's motif strips
    there), so the span is marked."""
    action = generated.user_action(obj)
    track = _motif_track(obj)
    if track is not None:
        for s in [s for s in track.strips if s.frame_start < 40 and s.frame_end > 30]:
            track.strips.remove(s)
    delete_keys_inside(obj, action, 30, 40)
    motif = motif_summary(nla.read_record(obj))[0]["motif_id"]  # one the library still has
    assert bpy.ops.a4mer.fill_gaps(motif=motif) == {"FINISHED"}
    (new,) = [sp for sp in generated.read_state(obj)["spans"] if sp["kind"] == "fill"]
    assert new["motif"] and any(e.get("span") == new["id"] for e in _marks(obj))  # marked on the motif track


def _segment(obj):
    """Find Atoms and Motifs (refused while generated frames are shown: they are removed first)."""
    if generated.read_state(obj) is not None:
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    f0, T = armature.action_frames(obj.animation_data.action, obj)
    nla.apply_segments(obj, bpy.context.scene, even_segments(T, 30.0, atom_len=10, seed=1))


STEPS = {
    "extend": _extend,
    "fill": _fill,
    "bake": lambda obj: bpy.ops.a4mer.bake_generated(),
    "remove": lambda obj: bpy.ops.a4mer.remove_generated(),
    "remove tracks": lambda obj: bpy.ops.a4mer.clear_segments(),
    "find atoms": _segment,
}


@pytest.mark.parametrize("steps", [
    "extend bake", "extend remove", "extend extend bake", "fill bake", "fill remove", "fill extend bake",
    "extend bake remove tracks", "extend bake find atoms", "extend remove tracks bake",
    "extend remove tracks remove", "extend bake extend bake", "extend bake extend remove",
    "fill bake find atoms extend bake", "extend find atoms", "extend bake find atoms extend remove tracks bake",
])
def test_no_generated_action_survives(scene, rig, tmp_path, steps):
    obj, action = rig
    words, names = steps.split(), []
    while words:  # "remove tracks" / "find atoms" are two words
        two = " ".join(words[:2])
        name = two if two in STEPS else words[0]
        names.append(name)
        words = words[len(name.split()):]
    for name in names:
        STEPS[name](obj)
        if name in ("bake", "remove"):
            assert generated.read_state(obj) is None
            assert _generated_actions() == [], (name, _generated_actions())
            # every mark left shows the user's action
            track = _motif_track(obj)
            assert track is None or all(s.action == obj.animation_data.action for s in track.strips)
    if generated.read_state(obj) is not None:
        assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    assert _generated_actions() == []
    name = action.name
    obj = _reload(tmp_path, obj)
    assert _generated_actions() == []
    assert obj.animation_data.action.name == name
    json.dumps(nla.read_record(obj))  # still a plain record


def test_bake_drops_the_dead_span_id_of_its_mark(scene, rig):
    """After Bake the mark's span is gone: its record entry no longer names it (the entry describes a
    strip showing the user's action), and a later span on the same frames does not take the baked mark
    for its own (its Remove leaves it)."""
    obj, action = rig
    assert bpy.ops.a4mer.extend(frames=10, motif=1) == {"FINISHED"}
    (span,) = generated.read_state(obj)["spans"]
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    (entry,) = _marks(obj)
    assert entry["baked"] and "span" not in entry and (entry["frame_start"], entry["frame_end"]) == (121.0, 130.0)
    assert span["id"] not in json.dumps(nla.read_record(obj))
    # the user deletes the baked keys and extends again with the motif: the track is taken, no new mark
    delete_keys_inside(obj, action, 120, 131)
    assert bpy.ops.a4mer.extend(frames=10, motif=1) == {"FINISHED"}
    (again,) = generated.read_state(obj)["spans"]
    assert again["first"] == 121 and not any(e.get("span") == again["id"] for e in _marks(obj))
    assert bpy.ops.a4mer.remove_generated() == {"FINISHED"}
    (kept,) = _marks(obj)
    assert (kept["frame_start"], kept["frame_end"]) == (121.0, 130.0)
    (mark,) = [s for s in _motif_track(obj).strips if s.frame_start == 121.0]
    assert mark.action == action


def test_bake_leaves_a_users_copy_of_a_mark_alone(scene, rig):
    """The user duplicated a mark (Shift+D in the NLA editor: a strip "<name>.001" showing the same
    generated action over the same part) and put the copy before it: the record still knows the mark
    it made, Bake converts that one and leaves the copy as it was."""
    obj, action = rig
    assert bpy.ops.a4mer.extend(frames=10, motif=1) == {"FINISHED"}
    track = _motif_track(obj)
    for s in [s for s in track.strips if s.frame_end > 95 and s.frame_start < 121]:  # room before the mark
        track.strips.remove(s)
    (mark,) = [s for s in track.strips if s.frame_start == 121.0]
    name, generated_action = mark.name, mark.action
    copy = track.strips.new(name, 100, generated_action)
    first_slot_to_strip(copy)
    copy.action_frame_start, copy.action_frame_end = mark.action_frame_start, mark.action_frame_end
    copy.blend_type, copy.extrapolation = mark.blend_type, mark.extrapolation
    copy_name = copy.name
    assert copy_name != name and (copy.frame_start, copy.frame_end) == (100.0, 109.0)
    occurrences = {m["motif_id"]: m for m in motif_summary(nla.read_record(obj))}[1]["occurrences"]
    assert (121.0, 130.0) in occurrences and (100.0, 109.0) not in occurrences  # the record's mark, not the copy
    assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
    by_name = {s.name: s for s in track.strips}
    assert by_name[name].action == action and (by_name[name].frame_start, by_name[name].frame_end) == (121.0, 130.0)
    copy = by_name[copy_name]  # the user's copy: untouched
    assert copy.action == generated_action and (copy.frame_start, copy.frame_end) == (100.0, 109.0)
    assert (copy.action_frame_start, copy.action_frame_end) == (121.0, 130.0)
    (entry,) = _marks(obj)
    assert (entry["name"], entry["frame_start"], entry["frame_end"]) == (name, 121.0, 130.0)
