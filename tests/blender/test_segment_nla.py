"""a4mer.segment with a segments JSON: NLA tracks tile the action, playback never changes, re-running
replaces only A4Mer tracks, the strip <-> motif mapping and motif names live on the object."""
from __future__ import annotations

import json

import numpy as np
import pytest

import bpy
from a4mer_blender.bridge import anim_compat, armature, nla
from bl_helpers import action_keys, even_segments, first_slot_to_strip, make_row_rig, pose_snapshot, smooth_motion

CLIP = "bandai-namco/dataset-1/bvh/dataset-1_walk-left_tired_001.bvh"


@pytest.fixture
def clip(data_root):
    """A real retargeted clip (Bandai walk, BVH -> SMPL) at 30 fps."""
    from a4mer.api import load_motion
    path = data_root / CLIP
    if not path.exists():
        pytest.skip(f"{path} not found")
    return load_motion(path).resample(30.0)


@pytest.fixture
def mpi_rig(scene, clip):
    """MPI SMPL-X add-on names and conventions: root + 22 body bones, no fingers, carrying the clip."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, clip, scene, name="walk")
    return obj


def _seg_file(tmp_path, seg) -> str:
    p = tmp_path / "clip.segments.json"
    p.write_text(json.dumps(seg))
    return str(p)


def _tracks(obj):
    rec = nla.read_record(obj)
    names = [t["name"] for t in rec["tracks"]]
    return [obj.animation_data.nla_tracks[n] for n in names]


def _check_tiling(track, start, end):
    strips = sorted(track.strips, key=lambda s: s.frame_start)
    assert strips[0].frame_start == start and strips[-1].frame_end == end
    for a, b in zip(strips, strips[1:]):
        assert a.frame_end == b.frame_start  # touching, never overlapping
    for s in strips:
        assert (s.action_frame_start, s.action_frame_end) == (s.frame_start, s.frame_end)  # shows its sub-range
        assert s.blend_type == "REPLACE" and not s.mute
    assert track.mute  # markers: never evaluated


def test_segment_tracks_tile_and_keep_playback(scene, mpi_rig, tmp_path):
    obj = mpi_rig
    f0, T = armature.action_frames(obj.animation_data.action)
    frames = range(f0 - 3, f0 + T + 3)
    before = pose_snapshot(obj, frames)
    keys_before = action_keys(obj)
    anim = obj.animation_data
    state = lambda: (anim.action, getattr(anim, "action_slot", None), anim.action_blend_type,  # noqa: E731
                     anim.action_influence, anim.use_nla)
    state_before = state()
    seg = even_segments(T, 30.0)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    atoms, motifs = _tracks(obj)
    assert (atoms.name, motifs.name) == ("A4Mer Atoms", "A4Mer Motifs")
    assert len(atoms.strips) == len(seg["atoms"]) and len(motifs.strips) == len(seg["motifs"])
    _check_tiling(atoms, f0, f0 + T)
    _check_tiling(motifs, f0, f0 + T)
    assert np.array_equal(pose_snapshot(obj, frames), before)
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert len(obj.animation_data.nla_tracks) == 0 and nla.RECORD_KEY not in obj
    assert np.array_equal(pose_snapshot(obj, frames), before)
    after = action_keys(obj)
    assert after.keys() == keys_before.keys() and all(np.array_equal(after[k], keys_before[k]) for k in after)
    assert state() == state_before


def test_segment_keeps_playback_over_the_users_layers(scene, mpi_rig, tmp_path):
    """The action blended at half influence (Combine) over an NLA layer of the user's: the A4Mer
    tracks (muted markers) change no frame; a fill there is refused (generated whole poses would be
    blended with the layer), and changes nothing."""
    obj = mpi_rig
    anim = obj.animation_data
    action = anim.action
    f0, T = armature.action_frames(action)
    base = anim_compat.new_strip(anim.nla_tracks.new(), "idle", f0, action.copy())
    first_slot_to_strip(base)
    base.frame_start_ui = f0 + 13  # a different pose under the action on every frame
    anim.action_influence, anim.action_blend_type = 0.5, "COMBINE"
    frames = range(f0, f0 + T)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(T, 30.0))) == {"FINISHED"}
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-5
    for fc in anim_compat.fcurves_of(obj, action):  # a gap f0+21..f0+39, filled on a pushed-down action
        for i in reversed(range(len(fc.keyframe_points))):
            if f0 + 20 < fc.keyframe_points[i].co[0] < f0 + 40:
                fc.keyframe_points.remove(fc.keyframe_points[i])
    outside = [f for f in frames if not f0 + 20 < f < f0 + 40]
    before = pose_snapshot(obj, outside)
    tracks = [t.name for t in anim.nla_tracks]
    with pytest.raises(RuntimeError, match=r"played as a layer over its NLA tracks \(Combine, influence 0.50\)"):
        bpy.ops.a4mer.fill_gaps()
    assert [t.name for t in anim.nla_tracks] == tracks and anim.action == action
    assert np.abs(pose_snapshot(obj, outside) - before).max() == 0.0


def test_rerun_replaces_only_a4mer_tracks(scene, mpi_rig, tmp_path):
    obj = mpi_rig
    action = obj.animation_data.action
    f0, T = armature.action_frames(action)
    user = obj.animation_data.nla_tracks.new()
    user.name = "A4Mer Atoms"  # the user's own track, with our name
    anim_compat.new_strip(user, "mine", f0, action.copy())
    before = pose_snapshot(obj, range(f0, f0 + T, 5))
    path = _seg_file(tmp_path, even_segments(T, 30.0, atom_len=9))
    bpy.ops.a4mer.segment(segments_file=path)
    bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(T, 30.0, atom_len=6, seed=2)))
    names = sorted(t.name for t in obj.animation_data.nla_tracks)
    assert names == ["A4Mer Atoms", "A4Mer Atoms.001", "A4Mer Motifs"]
    assert obj.animation_data.nla_tracks["A4Mer Atoms"].strips[0].name == "mine"
    atoms = obj.animation_data.nla_tracks[nla.read_record(obj)["tracks"][0]["name"]]
    assert len(atoms.strips) == len(even_segments(T, 30.0, atom_len=6, seed=2)["atoms"])
    assert np.abs(pose_snapshot(obj, range(f0, f0 + T, 5)) - before).max() < 1e-5
    nla.remove_tracks(obj)
    assert [t.name for t in obj.animation_data.nla_tracks] == ["A4Mer Atoms"]


def test_segment_and_clear_keep_the_users_active_track(scene, tmp_path):
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=60, seed=4), scene)
    anim = obj.animation_data
    mine = anim.nla_tracks.new()
    mine.name = "MyBase"
    first_slot_to_strip(anim_compat.new_strip(mine, "base", 1, action.copy()))
    mine.mute = True
    anim.nla_tracks.active = mine
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(60, 30.0))) == {"FINISHED"}
    assert anim.nla_tracks.active == mine and len(anim.nla_tracks) == 3
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert [(t.name, t.active) for t in anim.nla_tracks] == [("MyBase", True)]


def test_mapping_rename_select_jump(scene, tmp_path, capfd):
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    seg = even_segments(90, 30.0)
    bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg))
    rec = nla.read_record(obj)
    motifs_track = obj.animation_data.nla_tracks[rec["tracks"][1]["name"]]
    # every strip is found through the record and shows its segment
    for entry, item in zip(rec["tracks"][1]["strips"], seg["motifs"]):
        strip = next(s for s in motifs_track.strips if s.frame_start == entry["frame_start"])
        assert entry["key"] == item["motif_id"] and strip.name == entry["name"]
        assert strip.frame_end - strip.frame_start == item["end_frame"] - item["start_frame"]
    ids = [m["motif_id"] for m in seg["motifs"]]
    target = max(set(ids), key=ids.count)
    assert bpy.ops.a4mer.motif_rename(motif_id=target, name="wave") == {"FINISHED"}
    shown = sorted(s.name for s in motifs_track.strips if s.name.startswith("wave"))
    assert len(shown) == ids.count(target) and shown[0] == "wave"  # Blender uniquifies: wave, wave.001 ...
    assert nla.read_record(obj)["motif_names"][str(target)] == "wave"
    other = next(i for i in ids if i != target)
    with pytest.raises(RuntimeError, match="another motif is already called 'wave'"):
        bpy.ops.a4mer.motif_rename(motif_id=other, name="wave")
    assert str(other) not in nla.read_record(obj)["motif_names"]
    bpy.ops.a4mer.motif_select(motif_id=target)
    assert sorted(s.name for s in motifs_track.strips if s.select) == shown
    starts = sorted(m["start_frame"] + 1 for m in seg["motifs"] if m["motif_id"] == target)
    scene.frame_set(starts[0])
    bpy.ops.a4mer.motif_jump(motif_id=target, direction=1)
    assert scene.frame_current == starts[1]
    bpy.ops.a4mer.motif_jump(motif_id=target, direction=-1)
    assert scene.frame_current == starts[0]
    with pytest.raises(RuntimeError, match=rf"no motif 99 on this object \(its motifs: .*{target} \(wave\)"):
        bpy.ops.a4mer.motif_jump(motif_id=99)  # a script's wrong id: the message lists the ones there are
    # re-running with the same vocabulary keeps the user's names
    bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg))
    rec = nla.read_record(obj)
    assert rec["motif_names"][str(target)] == "wave"
    assert sum(s.name.startswith("wave") for s in obj.animation_data.nla_tracks[rec["tracks"][1]["name"]].strips) == ids.count(target)
    # a long non-ASCII name is kept as a strip holds it (63 bytes, whole characters): re-running used to
    # crash half-way (strips.new cut it inside a character), with the old tracks already deleted
    assert bpy.ops.a4mer.motif_rename(motif_id=target, name="é" * 40) == {"FINISHED"}
    assert nla.read_record(obj)["motif_names"][str(target)] == "é" * 31
    bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg))
    rec = nla.read_record(obj)
    assert [t.name for t in obj.animation_data.nla_tracks] == [t["name"] for t in rec["tracks"]]
    assert sum(s.name.startswith("é" * 28) for s in obj.animation_data.nla_tracks[rec["tracks"][1]["name"]].strips) \
        == ids.count(target)
    # clearing a name gives the motif its default name m<id>: refused when another motif is called that
    assert bpy.ops.a4mer.motif_rename(motif_id=other, name=f"m{target}") == {"FINISHED"}
    with pytest.raises(RuntimeError, match=f"another motif is already called 'm{target}'"):
        bpy.ops.a4mer.motif_rename(motif_id=target, name="")
    capfd.readouterr()  # an empty name is the default name again, and the report says so (it said "renamed")
    assert bpy.ops.a4mer.motif_rename(motif_id=other, name="") == {"FINISHED"}
    assert f"motif {other} is called 'm{other}' again (its default name)" in capfd.readouterr().out


def test_bad_segments_file_is_reported(scene, tmp_path):
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=20), scene)
    seg = even_segments(20, 30.0)
    seg["atoms"][1]["start_frame"] = 2  # overlaps atom 0
    with pytest.raises(RuntimeError, match=r"clip.segments.json: atoms\[1\] starts at frame 2"):
        bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg))
    assert len(obj.animation_data.nla_tracks) == 0 and nla.RECORD_KEY not in obj


def test_action_without_keys_or_from_another_clip(scene, tmp_path, capsys):
    obj, _ = make_row_rig("mpi_body_only")
    obj.animation_data_create().action = bpy.data.actions.new("empty")
    with pytest.raises(RuntimeError, match="'empty' of .* has no keys on the body bones: nothing to segment"):
        bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(20, 30.0)))
    assert len(obj.animation_data.nla_tracks) == 0
    armature.write_motion(obj, smooth_motion(T=60), scene)  # 2 s at 30 fps; segments of 4 s at 120 fps
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(480, 120.0))) == {"FINISHED"}
    assert "segments cover 4.00 s (at 120 fps) but the action lasts 2.00 s" in capsys.readouterr().out


def test_renamed_a4mer_tracks_are_still_found(scene, tmp_path):
    """The user renames the A4Mer Atoms / Motifs tracks: a re-run replaces them (no second pair), the
    motif library still works on them, and Remove A4Mer Tracks removes them."""
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    keys_before = action_keys(obj)
    seg = even_segments(90, 30.0)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    tracks = obj.animation_data.nla_tracks
    tracks["A4Mer Atoms"].name, tracks["A4Mer Motifs"].name = "cuts", "phrases"
    assert sorted(t.name for t in nla.a4mer_tracks(obj)) == ["cuts", "phrases"]
    assert bpy.ops.a4mer.motif_rename(motif_id=1, name="wave") == {"FINISHED"}
    assert any(s.name == "wave" for s in tracks["phrases"].strips)
    assert bpy.ops.a4mer.motif_select(motif_id=1) == {"FINISHED"}
    assert all(s.select == s.name.startswith("wave") for s in tracks["phrases"].strips)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(90, 30.0, atom_len=9))) == {"FINISHED"}
    assert sorted(t.name for t in tracks) == ["A4Mer Atoms", "A4Mer Motifs"]
    tracks["A4Mer Motifs"].name = "phrases"
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert len(tracks) == 0 and nla.RECORD_KEY not in obj and obj.animation_data.action == action
    after = action_keys(obj)
    assert after.keys() == keys_before.keys() and all(np.array_equal(after[k], keys_before[k]) for k in after)


def test_a_motif_strip_deleted_by_the_user_leaves_the_rest_working(scene, tmp_path):
    """Deleting one occurrence from the A4Mer Motifs track orphaned the whole track: the library still
    counted it, Select found nothing, Remove A4Mer Tracks left the track, and a re-run added a second."""
    from a4mer.strips import motif_summary
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    seg = even_segments(90, 30.0)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    before = {m["motif_id"]: m["count"] for m in motif_summary(nla.read_record(obj))}
    track = obj.animation_data.nla_tracks["A4Mer Motifs"]
    gone = seg["motifs"][0]["motif_id"]
    track.strips.remove(track.strips[0])
    after = {m["motif_id"]: m["count"] for m in motif_summary(nla.read_record(obj))}
    assert after == {k: v - (k == gone) for k, v in before.items() if v - (k == gone)}
    other = next(k for k in after if k != gone)
    assert bpy.ops.a4mer.motif_select(motif_id=other) == {"FINISHED"}
    assert sum(s.select for s in track.strips) == after[other]
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    assert sorted(t.name for t in obj.animation_data.nla_tracks) == ["A4Mer Atoms", "A4Mer Motifs"]
    motifs = obj.animation_data.nla_tracks["A4Mer Motifs"]
    while len(motifs.strips):  # every occurrence deleted: the track is still ours
        motifs.strips.remove(motifs.strips[0])
    assert motif_summary(nla.read_record(obj)) == []
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    assert sorted(t.name for t in obj.animation_data.nla_tracks) == ["A4Mer Atoms", "A4Mer Motifs"]
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"} and len(obj.animation_data.nla_tracks) == 0


def test_a_deleted_motif_track_empties_the_library(scene, tmp_path):
    """Deleting the whole A4Mer Motifs track brought every recorded motif back into the library (one whose
    strip had been deleted before too): Jump went to frames without a strip, Select selected 0 strips."""
    from a4mer.strips import motif_summary
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(90, 30.0))) == {"FINISHED"}
    anim = obj.animation_data
    gone = motif_summary(nla.read_record(obj))[0]["motif_id"]
    anim.nla_tracks.remove(anim.nla_tracks["A4Mer Motifs"])
    assert motif_summary(nla.read_record(obj)) == []
    assert [t.name for t in anim.nla_tracks] == ["A4Mer Atoms"]
    frame = scene.frame_current
    for op in (bpy.ops.a4mer.motif_select, bpy.ops.a4mer.motif_jump):
        with pytest.raises(RuntimeError, match=f"no motif {gone} on this object"):
            op(motif_id=gone)
    assert scene.frame_current == frame
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"} and len(anim.nla_tracks) == 0


def test_a_motif_strip_moved_or_renamed_by_the_user_keeps_the_track_ours(scene, tmp_path):
    """Moving one occurrence on the A4Mer Motifs track (G in the NLA editor) made the whole track the
    user's: Remove A4Mer Tracks left it and a re-run added a second. The library follows the strip."""
    from a4mer.strips import motif_summary
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    seg = even_segments(90, 30.0)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    before = motif_summary(nla.read_record(obj))
    track = obj.animation_data.nla_tracks["A4Mer Motifs"]
    last = max(track.strips, key=lambda s: s.frame_start)
    start, end = last.frame_start, last.frame_end
    last.frame_start_ui = start + 3
    first = min(track.strips, key=lambda s: s.frame_start)
    first.name = "my walk"
    after = motif_summary(nla.read_record(obj))
    assert [m["count"] for m in after] == [m["count"] for m in before]
    moved = next(m for m in after if (start + 3, end + 3) in m["occurrences"])
    assert (start, end) not in moved["occurrences"]
    scene.frame_set(int(start))
    assert bpy.ops.a4mer.motif_jump(motif_id=moved["motif_id"], direction=1) == {"FINISHED"}
    assert scene.frame_current == start + 3
    assert bpy.ops.a4mer.motif_select(motif_id=moved["motif_id"]) == {"FINISHED"} and last.select
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    assert sorted(t.name for t in obj.animation_data.nla_tracks) == ["A4Mer Atoms", "A4Mer Motifs"]
    track = obj.animation_data.nla_tracks["A4Mer Motifs"]
    max(track.strips, key=lambda s: s.frame_start).frame_start_ui += 3  # the record is written once moved
    assert bpy.ops.a4mer.motif_rename(motif_id=0, name="walk") == {"FINISHED"}
    # names are labels: two strips that swap names keep their motifs
    a, b = sorted(track.strips, key=lambda s: s.frame_start)[1:3]
    ids = {e["frame_start"]: e["key"] for e in nla.read_record(obj)["tracks"][1]["strips"]}
    a.name, b.name, a.name = "tmp", a.name, b.name
    assert {e["frame_start"]: e["key"] for e in nla.read_record(obj)["tracks"][1]["strips"]} == ids
    # one strip renamed and moved: still found by the part of the action it shows; the track stays ours
    last = max(track.strips, key=lambda s: s.frame_start)
    key = {e["frame_start"]: e["key"] for e in nla.read_record(obj)["tracks"][1]["strips"]}[last.frame_start]
    last.name = "my kick"
    last.frame_start_ui += 3
    entries = nla.read_record(obj)["tracks"][1]["strips"]
    assert len(entries) == len(track.strips) and {e["frame_start"]: e["key"] for e in entries}[last.frame_start] == key
    # a neighbour moved into a deleted strip's place keeps its own motif (it took the deleted one's)
    first, second = sorted(track.strips, key=lambda s: s.frame_start)[:2]
    start, second_key = first.frame_start, {e["frame_start"]: e["key"] for e in entries}[second.frame_start]
    track.strips.remove(first)
    second.frame_start_ui = start
    assert {e["frame_start"]: e["key"] for e in nla.read_record(obj)["tracks"][1]["strips"]}[start] == second_key
    # a track of the user's named like ours, or holding the action at its first frame, is not taken
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    anim = obj.animation_data
    for t in list(anim.nla_tracks):
        anim.nla_tracks.remove(t)
    mine = anim.nla_tracks.new()
    mine.name = "A4Mer Motifs"
    anim_compat.new_strip(mine, "intro", 1, anim.action)
    layer = anim.nla_tracks.new()
    layer.name = "My layer"
    anim_compat.new_strip(layer, "whole", 1, anim.action)
    assert nla.a4mer_tracks(obj) == []
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    assert sorted(t.name for t in anim.nla_tracks) == ["A4Mer Motifs", "My layer"]


@pytest.mark.parametrize("then", ["clear", "segment_again"])
def test_the_earlier_action_shown_only_by_the_tracks_is_kept_in_the_file(scene, tmp_path, then):
    """Segment 'walk', import another clip onto the rig, then Remove A4Mer Tracks or segment again:
    the marker strips were the walk's last users, so it was gone after a save."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=60, seed=2), scene, name="walk")
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(60, 30.0))) == {"FINISHED"}
    armature.write_motion(obj, smooth_motion(T=40, seed=9), scene, name="dance")
    if then == "clear":
        assert bpy.ops.a4mer.clear_segments() == {"FINISHED"}
    else:
        assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(40, 30.0))) == {"FINISHED"}
    path = tmp_path / "kept.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert {"walk", "dance"} <= {a.name for a in bpy.data.actions}


def test_motif_operators_without_an_id_take_the_active_motif(scene, tmp_path):
    """A script calling Rename / Select / Jump without ``motif_id``: a clear error while no motif is
    active (never motif 0 by default), else the active motif (the one marked in the panel)."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(90, 30.0))) == {"FINISHED"}
    record = json.dumps(nla.read_record(obj), sort_keys=True)
    names = sorted(s.name for t in obj.animation_data.nla_tracks for s in t.strips)
    for op in ("motif_rename", "motif_select", "motif_jump"):
        kwargs = {"name": "wave"} if op == "motif_rename" else {}
        with pytest.raises(RuntimeError, match=r"no motif given \(motif_id\) and none is active.*its motifs: 0 \(m0\)"):
            getattr(bpy.ops.a4mer, op)(**kwargs)
    assert json.dumps(nla.read_record(obj), sort_keys=True) == record
    assert sorted(s.name for t in obj.animation_data.nla_tracks for s in t.strips) == names
    assert bpy.ops.a4mer.motif_select(motif_id=2) == {"FINISHED"} and obj.a4mer_active_motif == 2
    assert bpy.ops.a4mer.motif_rename(name="wave") == {"FINISHED"}
    assert nla.read_record(obj)["motif_names"] == {"2": "wave"}
    scene.frame_set(1)
    assert bpy.ops.a4mer.motif_jump() == {"FINISHED"}
    from a4mer.strips import motif_summary
    wave = {m["motif_id"]: m for m in motif_summary(nla.read_record(obj))}[2]
    assert scene.frame_current == min(s for s, _ in wave["occurrences"])
    assert bpy.ops.a4mer.motif_rename(motif_id=1, name="one") == {"FINISHED"}
    obj.a4mer_active_motif = -1  # an id given before is not taken again
    with pytest.raises(RuntimeError, match=r"no motif given \(motif_id\)"):
        bpy.ops.a4mer.motif_rename(name="two")
    obj.a4mer_active_motif = 7
    with pytest.raises(RuntimeError, match=r"no motif 7 \(the active motif\) on this object"):
        bpy.ops.a4mer.motif_jump()
    assert nla.read_record(obj)["motif_names"] == {"1": "one", "2": "wave"}


def test_export_of_the_blend_labels_the_motifs_as_the_tracks_show_them(scene, mpi_rig, tmp_path, capsys):
    """``a4mer export shot.blend --format babel`` (and timeline, gallery) read the segments stored on the rig:
    a motif strip the animator deleted was still exported, a trimmed one at its old length, as the motif
    library does not count them. ``--floor`` acts on a .blend's animation (it was ignored without a word),
    the flags of BVH/AMC files are a note, and tracks made for a shorter action a note too."""
    from a4mer.cli.main import main
    from a4mer.io import read_amass_npz
    from a4mer.strips import motif_summary
    T = len(armature.read_motion(mpi_rig, scene).root_translation)
    nla.apply_segments(mpi_rig, scene, even_segments(T, 30.0, atom_len=10, seed=3))
    track = _tracks(mpi_rig)[1]
    strips = sorted(track.strips, key=lambda s: s.frame_start)
    gone, trimmed = strips[0], strips[1]
    kept = [(round(s.frame_start) - 1, round(s.frame_end) - 1) for s in strips[2:]]
    track.strips.remove(gone)
    trimmed.frame_end_ui = trimmed.frame_start + 5
    shown = sorted((o for m in motif_summary(nla.read_record(mpi_rig)) for o in m["occurrences"]))
    assert len(shown) == len(strips) - 1  # the add-on's motif library counts what the track shows
    src = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    assert main(["export", str(src), "--format", "babel", "-o", str(tmp_path / "shot.babel.json")]) == 0
    labels = json.loads((tmp_path / "shot.babel.json").read_text())["shot"]["frame_ann"]["labels"]
    got = [(round(x["start_t"] * 30), round(x["end_t"] * 30)) for x in labels]
    start = round(trimmed.frame_start) - 1
    assert got == [(start, start + 5), *kept]
    assert got == [(round(a) - 1, round(b) - 1) for a, b in shown]
    capsys.readouterr()
    # --floor puts the .blend's animation on the floor, as it does a clip's; BVH flags are a note
    assert main(["export", str(src), "--format", "npz", "-o", str(tmp_path / "plain.npz")]) == 0
    assert main(["export", str(src), "--format", "npz", "--floor", "--twist", "clip", "--source-fps", "60",
                 "-o", str(tmp_path / "floor.npz")]) == 0
    err = capsys.readouterr().err
    assert "--twist has no effect here" in err and "--source-fps has no effect here: a .blend plays at its scene rate (30 fps)" in err
    plain, floor = read_amass_npz(tmp_path / "plain.npz"), read_amass_npz(tmp_path / "floor.npz")
    shift = floor.root_translation - plain.root_translation
    assert floor.fps == plain.fps == 30.0 and np.allclose(shift[:, :2], 0) and np.ptp(shift[:, 2]) < 1e-9
    assert abs(shift[0, 2]) > 1e-3  # this walk stands 7 mm off the floor
    # tracks made for a shorter action: a note naming both lengths
    action = mpi_rig.animation_data.action
    for fc in anim_compat.fcurves_of(mpi_rig, action):
        k = fc.keyframe_points[-1]
        fc.keyframe_points.insert(k.co[0] + 30, k.co[1])
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    assert main(["export", str(src), "--format", "babel", "-o", str(tmp_path / "longer.babel.json")]) == 0
    assert f"were made for {T / 30:.2f} s of its action, which lasts {(T + 30) / 30:.2f} s now" in capsys.readouterr().err


@pytest.mark.parametrize("edit", ["split", "move and trim"])
def test_a_strip_split_or_moved_and_trimmed_keeps_the_track_ours(scene, tmp_path, edit):
    """Strip > Split on a motif strip (a second strip showing the rest of the action), or a strip moved and
    then trimmed (it then shows another part of the action, elsewhere): the whole track was no longer
    A4Mer's: the library went empty, Remove A4Mer Tracks left it and a re-run added "A4Mer Motifs.001"."""
    from a4mer.strips import motif_summary
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    seg = even_segments(90, 30.0)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    before = motif_summary(nla.read_record(obj))
    track = obj.animation_data.nla_tracks["A4Mer Motifs"]
    last = max(track.strips, key=lambda s: s.frame_start)
    start, end, a1 = last.frame_start, last.frame_end, last.action_frame_end
    if edit == "split":  # as Blender's split: the strip cut at mid, a new one showing the rest
        mid = float(int((start + end) / 2))
        last.frame_end_ui = mid
        rest = track.strips.new(last.name, int(mid), last.action)
        rest.action_frame_start, rest.action_frame_end = last.action_frame_end, a1
        rest.frame_start_ui = mid
        want = (start, mid)
    else:
        last.frame_start_ui = start + 30
        last.frame_end_ui = end + 30 - 2
        want = (start + 30, end + 28)
    after = motif_summary(nla.read_record(obj))
    assert [m["motif_id"] for m in after] == [m["motif_id"] for m in before]
    assert any(want in m["occurrences"] for m in after)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    assert sorted(t.name for t in obj.animation_data.nla_tracks) == ["A4Mer Atoms", "A4Mer Motifs"]
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"} and len(obj.animation_data.nla_tracks) == 0


def test_a_kept_motif_name_never_doubles_a_new_motifs_name(scene, tmp_path):
    """A motif renamed "m<id of another motif>" kept its name in a re-run (same vocabulary) where that
    other motif is found too: two motifs of one name, which renaming refuses to make."""
    from a4mer.strips import motif_summary
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=90, seed=9), scene)
    seg = even_segments(90, 30.0)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    a, b = sorted({m["motif_id"] for m in seg["motifs"]})[:2]
    nla.write_record(obj, {**nla.read_record(obj), "motif_names": {str(a): f"m{b + 1000}"}})  # named before b+1000 existed
    for m in seg["motifs"]:
        m["motif_id"] = b + 1000 if m["motif_id"] == b else m["motif_id"]
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, seg)) == {"FINISHED"}
    names = [m["name"] for m in motif_summary(nla.read_record(obj))]
    assert len(names) == len(set(names)) and f"m{b + 1000}" in names


def test_with_no_action_the_message_does_not_point_at_the_muted_marker_tracks(scene, tmp_path):
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=60), scene)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(60, 30.0))) == {"FINISHED"}
    obj.animation_data.action = None
    assert armature.nla_only_hint(obj) == ""


def test_tweaking_a_motif_strip_keeps_the_tracks(scene, mpi_rig, tmp_path):
    """Tab into a motif strip in the NLA editor and out again: Blender's default (sync length) would
    stretch every strip of the action to all its keys on the way out; the tracks stay as Segment made
    them. Remove A4Mer Tracks while tweaking would free the strip Blender is tweaking: it refuses, as
    Blender's Delete Tracks does."""
    obj = mpi_rig
    f0, T = armature.action_frames(obj.animation_data.action)
    assert bpy.ops.a4mer.segment(segments_file=_seg_file(tmp_path, even_segments(T, 30.0))) == {"FINISHED"}
    anim = obj.animation_data
    atoms, motifs = _tracks(obj)
    placed = lambda: [nla.placement(s) for t in (atoms, motifs) for s in t.strips]  # noqa: E731
    before = placed()
    for t in anim.nla_tracks:
        t.select = False
        for s in t.strips:
            s.select = False
    anim.nla_tracks.active = motifs
    motifs.select = motifs.strips[0].select = True
    anim.use_tweak_mode = True
    with pytest.raises(RuntimeError, match="in NLA tweak mode: leave it"):
        bpy.ops.a4mer.clear_segments()
    assert [t.name for t in anim.nla_tracks] == ["A4Mer Atoms", "A4Mer Motifs"] and nla.RECORD_KEY in obj
    anim.use_tweak_mode = False
    assert placed() == before
    _check_tiling(motifs, f0, f0 + T)
    assert bpy.ops.a4mer.clear_segments() == {"FINISHED"} and len(anim.nla_tracks) == 0
