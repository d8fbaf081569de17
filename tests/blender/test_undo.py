"""Ctrl+Z / Ctrl+Shift+Z after each of the add-on's operators, headless.

Each operator is called as a click in the UI calls it (``bpy.ops``' second argument ``undo=True``: the
operator pushes its own undo step, named after it, as it does for the UI; a script's plain call pushes
none). The undo operators need a window in the context (with ``window=None`` they refuse): the bpy
module has one; they run inside ``temp_override(window=context.window or window_manager.windows[0])``
for a host whose context has none. In Object and Pose mode an undo step is a memory
snapshot of the whole file (global undo): undo and redo reload the file's data, so every Python reference
to an object, action or track is looked up again by name afterwards. The scene fixture's factory reset
starts each test with an empty undo stack (nothing of another test can come back).

The file's state (:func:`file_state`) before the operator, after it, after one undo and after one redo is
compared: undo must give back exactly the state before (NLA tracks and strips with their frames, actions
and their keys, the active action and slot, the add-on's records on the object, the motif library, the
scene's frames) and redo the state after."""
from __future__ import annotations

import contextlib
import hashlib
import json

import numpy as np
import pytest

import bpy
from a4mer.io import write_amass_npz
from a4mer.strips import motif_summary
from a4mer_blender.bridge import anim_compat, armature, generated, nla
from bl_helpers import even_segments, make_row_rig, smooth_motion
from test_fill_extend import delete_keys_inside, gap_rig, key_snapshot, rig_with_fingers  # noqa: F401 (fixture)
from test_library_override import _character, _key, _shot

GENERATED_TRACKS = [generated.SOURCE_TRACK, generated.GENERATED_TRACK]
SEGMENT_TRACKS = ["A4Mer Atoms", "A4Mer Motifs"]


# --- the file's state ----------------------------------------------------------------------------
def _value(v):
    """A custom property as plain data (an ID pointer as its type and name)."""
    if isinstance(v, bpy.types.ID):
        return f"<{type(v).__name__} {v.name}>"
    if hasattr(v, "to_dict"):
        return v.to_dict()
    return v.to_list() if hasattr(v, "to_list") else v


def _keys(obj, action) -> tuple:
    """(F-Curves, keys, digest of every key attribute: co, handles, interpolation, easing) of ``action``
    as it animates ``obj``."""
    snap = key_snapshot(obj, action)
    digest = hashlib.sha1()
    for k in sorted(snap, key=repr):
        digest.update(repr(k).encode())
        digest.update(np.ascontiguousarray(snap[k]).tobytes())
    n = sum(len(v) // 2 for (_, _, attr), v in snap.items() if attr == "co")
    return len({k[:2] for k in snap}), n, digest.hexdigest()


def _strip(s) -> tuple:
    return s.name, s.frame_start, s.frame_end, s.action.name if s.action else None, s.mute, s.select


def _rig_state(obj) -> dict:
    """What the add-on changes on an armature: active action and slot, NLA tracks and strips, its records
    (custom properties), the motif library as the panel lists it, the keys of every action it plays."""
    anim = obj.animation_data
    tracks = list(anim.nla_tracks) if anim is not None else []
    played = [anim.action] if anim is not None else []
    played += [s.action for t in tracks for s in t.strips]
    record = nla.read_record(obj)
    return {
        "action": anim.action.name if anim is not None and anim.action else None,
        "slot": anim_compat.active_slot_identifier(obj),
        "tracks": [(t.name, t.mute, [_strip(s) for s in t.strips]) for t in tracks],
        "properties": {k: _value(obj[k]) for k in obj.keys()},
        "active motif": obj.a4mer_active_motif,
        "motifs": [(m["motif_id"], m["name"], m["count"]) for m in motif_summary(record)] if record else [],
        "keys": {a.name: _keys(obj, a) for a in dict.fromkeys(a for a in played if a is not None)},
    }


def file_state() -> dict:
    """The file's objects, actions (with their fake user and A4Mer's tag), texts, scene frames, active
    object and, per armature, :func:`_rig_state`."""
    sc, active = bpy.context.scene, bpy.context.view_layer.objects.active
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "active": active.name if active is not None else None,
        "actions": sorted((a.name, a.use_fake_user, bool(a.get("a4mer_generated"))) for a in bpy.data.actions),
        "texts": sorted(t.name for t in bpy.data.texts),
        "frames": (sc.frame_start, sc.frame_current, sc.frame_end),
        "rigs": {o.name: _rig_state(o) for o in bpy.data.objects if o.type == "ARMATURE"},
    }


# --- undo and redo -------------------------------------------------------------------------------
@contextlib.contextmanager
def in_window():
    """The context the undo operators need: a window (the bpy module's own, or the file's first)."""
    windows = bpy.context.window_manager.windows
    assert len(windows), "no window: Blender's undo operators cannot run"
    with bpy.context.temp_override(window=bpy.context.window or windows[0]):
        yield


def clicked(op, **props):
    """A call of ``op`` as a click in the UI makes it: it pushes its undo step (if it has the UNDO option)."""
    return lambda: op("EXEC_DEFAULT", True, **props)


def undo_redo(call) -> tuple[dict, dict, dict, dict]:
    """The file's state before ``call``, after it, after one Ctrl+Z and after one Ctrl+Shift+Z."""
    with in_window():
        bpy.ops.ed.undo_push(message="A4Mer test: before")
        before = file_state()
        assert call() == {"FINISHED"}
        after = file_state()
        assert bpy.ops.ed.undo.poll(), "the operator pushed no undo step: Ctrl+Z would skip it"
        assert bpy.ops.ed.undo() == {"FINISHED"}
        undone = file_state()
        assert bpy.ops.ed.redo() == {"FINISHED"}
        redone = file_state()
    return before, after, undone, redone


def assert_undone_and_redone(states) -> tuple[dict, dict]:
    """The operator changed the file, one undo gave back the state before, one redo the state after."""
    before, after, undone, redone = states
    assert after != before
    assert undone == before
    assert redone == after
    return before, after


def rig_state(state: dict, name: str) -> dict:
    return state["rigs"][name]


def track_names(state: dict, name: str) -> list[str]:
    return [t[0] for t in rig_state(state, name)["tracks"]]


# --- scenes --------------------------------------------------------------------------------------
@pytest.fixture
def clip_file(tmp_path):
    """An AMASS npz a user imports."""
    return str(write_amass_npz(smooth_motion(T=40, fps=60.0, seed=3), tmp_path / "wave.npz"))


@pytest.fixture
def segmented(scene, tmp_path):
    """An MPI-style rig with a 90-frame action cut into atoms and motifs from a segments file; returns
    (object name, segments file, segments)."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene, name="walk")
    seg = even_segments(90, 30.0)
    path = tmp_path / "walk.segments.json"
    path.write_text(json.dumps(seg))
    assert bpy.ops.a4mer.segment(segments_file=str(path)) == {"FINISHED"}
    return obj.name, str(path), seg


def _most_frequent_motif(seg: dict) -> int:
    ids = [m["motif_id"] for m in seg["motifs"]]
    return max(set(ids), key=ids.count)


def _blocking(obj, action, every: int = 4) -> None:
    """Keep a key every ``every`` frames only (an animator's blocking pass)."""
    for fc in anim_compat.fcurves_of(obj, action):
        for i in reversed(range(len(fc.keyframe_points))):
            if (int(round(fc.keyframe_points[i].co[0])) - 1) % every:
                fc.keyframe_points.remove(fc.keyframe_points[i])


# --- import --------------------------------------------------------------------------------------
def test_undo_an_import_as_a_new_armature(scene, clip_file):
    """Ctrl+Z after File > Import removes the armature and its action; Ctrl+Shift+Z brings them back.
    Failing, a user's mistaken import stays in the file (or the redo loses it)."""
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.import_motion, filepath=clip_file)))
    (new,) = set(after["objects"]) - set(before["objects"])
    assert rig_state(after, new)["action"] == "wave" and after["frames"][2] != before["frames"][2]


@pytest.mark.parametrize("mode", ["OBJECT", "POSE", "EDIT"])
def test_undo_an_import_onto_the_selected_rig(scene, clip_file, mode):
    """Importing onto the selected SMPL rig (in Object, Pose or Edit mode: Edit mode has its own undo
    system), Ctrl+Z gives the rig its previous action back (without the fake user the import gave it) and
    removes the new one. Failing, the user's animation on the rig is replaced for good."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=60, seed=1), scene, name="old")
    name = obj.name
    bpy.ops.object.mode_set(mode=mode)
    call = clicked(bpy.ops.a4mer.import_motion, filepath=clip_file, apply_to_selected=True)
    before, after = assert_undone_and_redone(undo_redo(call))
    assert after["objects"] == before["objects"] == [name]
    assert (rig_state(before, name)["action"], rig_state(after, name)["action"]) == ("old", "wave")
    assert ("old", True, False) in after["actions"] and ("old", False, False) in before["actions"]
    assert bpy.data.objects[name].mode == mode


# --- find atoms and motifs, the motif library --------------------------------------------------------
def test_undo_find_atoms_and_motifs(scene, tmp_path):
    """Ctrl+Z after Find Atoms and Motifs removes both A4Mer tracks, the record and the motif library;
    Ctrl+Shift+Z brings them back; the action's keys are never touched. Failing, the user cannot take a
    run back (or loses it on redo)."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene, name="walk")
    name = obj.name
    path = tmp_path / "walk.segments.json"
    path.write_text(json.dumps(even_segments(90, 30.0)))
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.segment, segments_file=str(path))))
    assert track_names(before, name) == [] and track_names(after, name) == SEGMENT_TRACKS
    assert rig_state(before, name)["motifs"] == [] and rig_state(after, name)["motifs"]
    assert rig_state(after, name)["keys"]["walk"] == rig_state(before, name)["keys"]["walk"]


def test_undo_remove_a4mer_tracks(scene, segmented):
    """Ctrl+Z after Remove A4Mer Tracks brings back the tracks, their strips and the motif library.
    Failing, one click on the X button loses a segmentation (and the user's motif names) for good."""
    name, _, _ = segmented
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.clear_segments)))
    assert track_names(before, name) == SEGMENT_TRACKS and track_names(after, name) == []
    assert nla.RECORD_KEY in rig_state(before, name)["properties"]


@pytest.mark.parametrize("op, props", [
    ("motif_rename", {"name": "wave"}),
    ("motif_select", {}),
    ("motif_jump", {"direction": 1}),
], ids=["rename", "select", "jump"])
def test_undo_a_motif_library_action(scene, segmented, op, props):
    """Ctrl+Z after renaming a motif gives its strips and the library their old names; after selecting
    its strips or jumping to an occurrence, the selection, the active motif and the current frame as they
    were. Failing, the user cannot take back a rename (or a redo loses it)."""
    name, _, seg = segmented
    motif = _most_frequent_motif(seg)
    call = clicked(getattr(bpy.ops.a4mer, op), motif_id=motif, **props)
    before, after = assert_undone_and_redone(undo_redo(call))
    if op == "motif_rename":
        shown = {m[0]: m[1] for m in rig_state(after, name)["motifs"]}
        assert shown[motif] == "wave" != {m[0]: m[1] for m in rig_state(before, name)["motifs"]}[motif]
    else:
        assert rig_state(after, name)["active motif"] == motif != rig_state(before, name)["active motif"]


# --- fill, extend, bake, remove ---------------------------------------------------------------------
@pytest.mark.parametrize("keys", ["deleted window", "blocking"])
def test_undo_fill_gaps(scene, keys):
    """Ctrl+Z after Fill Gaps (a deleted second of mocap, or an animator's blocking keys every 4 frames)
    removes the A4Mer Source and Generated tracks and the generated actions and makes the user's action
    active again with its keys as they were; Ctrl+Shift+Z fills again. Failing, a fill cannot be taken
    back, or leaves the user's action pushed down and inactive."""
    obj, action = rig_with_fingers(scene, T=100, seed=7)
    if keys == "blocking":
        _blocking(obj, action)
    else:
        delete_keys_inside(obj, action, 40, 70)
    name, mine = obj.name, action.name
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.fill_gaps)))
    assert rig_state(before, name)["action"] == mine and rig_state(after, name)["action"] is None
    assert track_names(after, name) == GENERATED_TRACKS
    assert rig_state(after, name)["keys"][mine] == rig_state(before, name)["keys"][mine]  # keys never touched
    assert generated.STATE_KEY in rig_state(after, name)["properties"]
    assert any(tagged for _, _, tagged in after["actions"]) and not any(t for _, _, t in before["actions"])


def test_undo_extend(scene):
    """Ctrl+Z after Extend removes the extension's tracks and puts the scene's end frame back;
    Ctrl+Shift+Z extends again. Failing, an extension cannot be taken back, or leaves the scene longer."""
    obj, action = rig_with_fingers(scene, T=90, seed=5)
    scene.frame_end = 90
    name = obj.name
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.extend, frames=12)))
    assert before["frames"][2] == 90 and after["frames"][2] == 90 + 12
    assert track_names(before, name) == [] and track_names(after, name) == GENERATED_TRACKS


@pytest.fixture
def filled(scene, gap_rig):
    """The gap rig after Fill Gaps (not an undo step of its own); returns (object name, action name)."""
    obj, action = gap_rig
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    return obj.name, action.name


def test_undo_bake_into_my_action(scene, filled):
    """Ctrl+Z after Bake into My Action brings back the A4Mer tracks and the generated actions, and the
    user's action without the baked keys; Ctrl+Shift+Z bakes again. Failing, the bake (which writes into
    the user's own keys) cannot be taken back."""
    name, mine = filled
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.bake_generated)))
    assert track_names(before, name) == GENERATED_TRACKS and track_names(after, name) == []
    assert rig_state(before, name)["action"] is None and rig_state(after, name)["action"] == mine
    curves, keys, _ = rig_state(before, name)["keys"][mine]
    assert rig_state(after, name)["keys"][mine][0] == curves and rig_state(after, name)["keys"][mine][1] > keys


def test_undo_remove_generated_frames(scene, filled):
    """Ctrl+Z after Remove Generated Frames brings the generated frames back as they were (tracks,
    generated actions, records); Ctrl+Shift+Z removes them again. Failing, a mistaken click loses a fill."""
    name, mine = filled
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.remove_generated)))
    assert track_names(before, name) == GENERATED_TRACKS and track_names(after, name) == []
    assert rig_state(after, name)["action"] == mine
    assert rig_state(after, name)["keys"][mine] == rig_state(before, name)["keys"][mine]


@pytest.mark.parametrize("how", ["hierarchy", "object"])
def test_undo_fill_on_a_library_override(scene, tmp_path, how):
    """On a linked character's library override (the studio way), Ctrl+Z after Fill Gaps removes the
    tracks and the "A4Mer records" text that holds their records, and makes the user's action active
    again; Ctrl+Shift+Z brings them back. Failing, an undone fill leaves a records text (or tracks) behind,
    or a redo loses the records and with them Bake and Remove."""
    obj = _shot(_character(tmp_path, keyed=False), how)
    mine = _key(obj, bpy.context.scene).name
    name = obj.name
    before, after = assert_undone_and_redone(undo_redo(clicked(bpy.ops.a4mer.fill_gaps)))
    assert before["texts"] == [] and len(after["texts"]) == 1
    assert rig_state(before, name)["action"] == mine and track_names(after, name) == GENERATED_TRACKS


def test_undo_walks_back_through_fill_and_bake(scene, gap_rig):
    """Fill, then Bake: Ctrl+Z twice gives back the untouched action, Ctrl+Shift+Z twice bakes again,
    each step on the way the state it was. Failing, undoing past a bake skips or mixes up the fill."""
    with in_window():
        bpy.ops.ed.undo_push(message="A4Mer test: before")
        states = [file_state()]
        for op in (bpy.ops.a4mer.fill_gaps, bpy.ops.a4mer.bake_generated):
            assert clicked(op)() == {"FINISHED"}
            states.append(file_state())
        assert states[0] != states[1] != states[2]
        for expected in (states[1], states[0]):
            assert bpy.ops.ed.undo() == {"FINISHED"}
            assert file_state() == expected
        for expected in (states[1], states[2]):
            assert bpy.ops.ed.redo() == {"FINISHED"}
            assert file_state() == expected
