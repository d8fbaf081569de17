"""BVH export re-imported with Blender's own importer (bpy.ops.import_anim.bvh, default axes) puts every
SMPL joint where the exported motion has it (within 1 mm), for a real clip and for an SMPL-X rig's
animation read out of a .blend by ``a4mer export``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import bpy
from a4mer.api import load_motion
from a4mer.cli.main import main
from a4mer.export import export
from a4mer_blender.bridge import armature
from bl_helpers import make_row_rig

REPO = Path(__file__).resolve().parents[2]
WALK = REPO / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"


def import_bvh_positions(path: Path, names: tuple[str, ...], frames: int) -> np.ndarray:
    """(T, J, 3) world head positions of bones ``names`` after Blender's BVH import of ``path``."""
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=1.0, frame_start=1, use_fps_scale=False,
                            update_scene_fps=True, update_scene_duration=True, rotate_mode="NATIVE",
                            axis_forward="-Z", axis_up="Y")
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE"
    mw = np.array([list(r) for r in obj.matrix_world])
    out = np.zeros((frames, len(names), 3))
    for t in range(frames):
        bpy.context.scene.frame_set(1 + t)
        for j, n in enumerate(names):
            out[t, j] = (mw @ np.array([*obj.pose.bones[n].head, 1.0]))[:3]
    return out


def test_bvh_export_reimported_real_clip(scene, tmp_path):
    motion = load_motion(WALK).slice(0, 30)
    path = export(motion, tmp_path / "walk.bvh", "bvh")
    body = motion.body()
    got = import_bvh_positions(path, body.skeleton.names, motion.num_frames)
    err = np.linalg.norm(got - body.joint_positions(), axis=-1)
    assert err.max() < 1e-3, f"max joint error {err.max() * 1000:.3f} mm"
    assert bpy.context.scene.render.fps == 30


def test_bvh_export_from_smplx_armature(scene, tmp_path, capsys):
    obj, _ = make_row_rig("mpi_smplx")
    motion = load_motion(WALK).slice(10, 34)
    armature.write_motion(obj, motion, scene, name="walk")
    want = armature.read_motion(obj, scene).body().joint_positions()  # what the rig shows, SMPL-24 joints
    src = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    out = tmp_path / "rig.bvh"
    assert main(["export", str(src), "--format", "bvh", "-o", str(out)]) == 0, capsys.readouterr().err
    bpy.ops.wm.read_factory_settings(use_empty=True)
    got = import_bvh_positions(out, motion.body().skeleton.names, motion.num_frames)
    err = np.linalg.norm(got - want, axis=-1)
    assert err.max() < 1e-3, f"max joint error {err.max() * 1000:.3f} mm"
    np.testing.assert_allclose(want, motion.body().joint_positions(), atol=1e-3)


def test_babel_export_of_an_armature_uses_its_tracks_and_motif_names(scene, tmp_path, capsys):
    import json
    from a4mer_blender.bridge import nla
    from bl_helpers import even_segments
    obj, _ = make_row_rig("mpi_body_only")
    motion = load_motion(WALK).slice(0, 45)
    armature.write_motion(obj, motion, scene, name="walk")
    seg = even_segments(45, 30.0)
    nla.apply_segments(obj, scene, seg)
    nla.rename_motif(obj, 1, "wave")
    src = tmp_path / "named.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    out = tmp_path / "named.babel.json"
    assert main(["export", str(src), "--format", "babel", "-o", str(out)]) == 0, capsys.readouterr().err
    seq = json.loads(out.read_text())["named"]
    assert seq["dur"] == 1.5
    labels = seq["frame_ann"]["labels"]
    assert [lab["raw_label"] for lab in labels] == ["wave" if m["motif_id"] == 1 else f"m{m['motif_id']}"
                                                    for m in seg["motifs"]]
    assert [round(lab["start_t"] * 30) for lab in labels] == [m["start_frame"] for m in seg["motifs"]]
    # the action renamed: its tracks still describe it
    obj.animation_data.action.name = "walk_take2"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    assert main(["export", str(src), "--format", "babel", "-o", str(out)]) == 0, capsys.readouterr().err
    # another clip imported onto the rig: its tracks describe the earlier action, so they label nothing
    name = obj.name
    bpy.ops.wm.open_mainfile(filepath=str(src))
    obj = bpy.data.objects[name]
    armature.write_motion(obj, load_motion(WALK).slice(0, 90), bpy.context.scene, name="dance")
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    assert main(["export", str(src), "--format", "babel", "-o", str(tmp_path / "stale.babel.json")]) == 1
    assert "describe its earlier action 'walk_take2', not the one it plays now" in capsys.readouterr().err
    assert not (tmp_path / "stale.babel.json").exists()


@pytest.mark.parametrize("rotate_mode", ["NATIVE", "QUATERNION", "XYZ"])
def test_armature_of_blenders_bvh_import_reads_as_the_clip(scene, tmp_path, rotate_mode):
    """An SMPL-named BVH imported with Blender's own importer (Euler in the file's channel order,
    quaternions or XYZ Euler) is a rig the add-on reads back as the clip: every joint within 0.1 mm."""
    motion = load_motion(WALK).slice(0, 40)
    path = export(motion, tmp_path / "walk.bvh", "bvh")
    bpy.ops.import_anim.bvh(filepath=str(path), global_scale=1.0, frame_start=1, use_fps_scale=False,
                            update_scene_fps=True, update_scene_duration=True, rotate_mode=rotate_mode)
    got = armature.read_motion(bpy.context.active_object, bpy.context.scene)
    assert (got.num_frames, got.fps) == (motion.num_frames, motion.fps)
    err = np.linalg.norm(got.body().joint_positions() - motion.body().joint_positions(), axis=-1)
    assert err.max() < 1e-4, f"max joint error {err.max() * 1000:.3f} mm"


def test_export_of_a_blend_whose_scene_remaps_time_is_refused(scene, tmp_path, capsys):
    """Output > Time Stretching 100 -> 200 plays the action at half speed: export wrote the keys at the
    scene rate (4.5 s where the scene renders 9 s) with no word; Import, Segment and Fill refuse it."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, load_motion(WALK).slice(0, 20), scene, name="walk")
    scene.render.frame_map_old, scene.render.frame_map_new = 100, 200
    src = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    out = tmp_path / "rig.npz"
    assert main(["export", str(src), "--format", "npz", "-o", str(out)]) == 1
    assert "remaps time" in capsys.readouterr().err and not out.exists()
