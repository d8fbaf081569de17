"""File > Import > A4Mer motion: new SMPL armature in MPI conventions, resampled by time to the scene
fps, or applied to the selected SMPL rig."""
from __future__ import annotations

import numpy as np
import pytest

import bpy
from a4mer.geometry import quat_angle
from a4mer.io import write_amass_npz
from a4mer_blender.bridge import anim_compat, armature
from bl_helpers import RX90, build_rig, make_row_rig, smooth_motion


def test_import_npz_creates_mpi_armature_resampled(scene, tmp_path):
    motion = smooth_motion(T=61, fps=60.0, seed=11)
    path = write_amass_npz(motion, tmp_path / "jump_60.npz")
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and obj.name.startswith("jump_60")
    assert {b.name for b in obj.data.bones} == {"root", *[n for n in armature.detect_rig(obj).names if n != "root"]}
    for b in obj.data.bones:  # MPI: every bone points up with zero roll -> its axes are the SMPL frame
        rot = np.array([list(r) for r in b.matrix_local])[:3, :3]
        np.testing.assert_allclose(rot, RX90, atol=1e-6)
    action = obj.animation_data.action
    f0, T = armature.action_frames(action)
    expected = motion.resample(30.0)
    assert (f0, T) == (1, expected.num_frames) == (1, 31)
    assert scene.frame_end == T
    assert action["a4mer_source_fps"] == 60.0
    back = armature.read_motion(obj, scene)
    assert quat_angle(back.rotations, expected.rotations).max() < 1e-5
    np.testing.assert_allclose(back.root_translation, expected.root_translation, atol=1e-5)


@pytest.mark.parametrize("fps", [100 / 3, 7.5, 200 / 3, 1000 / 7, 12.5, 30000 / 1001])
def test_a_scene_at_the_clips_own_odd_rate_takes_every_frame(scene, tmp_path, fps):
    """A scene set to a clip's rate that is not a whole number (as the batch sets it: fps_base, which
    Blender keeps in float32) read back a little off (33.333333012 for 100/3): the clip was resampled to
    it, which dropped its last frame at 7.5 / 33.33 / 66.67 / 142.86 fps, and exports stated that rate."""
    motion = smooth_motion(T=135, fps=fps, seed=4)
    path = write_amass_npz(motion, tmp_path / "odd.npz")
    armature.set_scene_fps(scene, fps)
    assert armature.scene_fps(scene) == fps
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert armature.action_frames(obj.animation_data.action) == (1, 135)
    back = armature.read_motion(obj, scene)
    assert back.fps == fps and quat_angle(back.rotations, motion.rotations).max() < 1e-5


def test_a_custom_scene_rate_near_the_clips_takes_every_frame(scene, tmp_path):
    """Set by hand (Custom: 33 fps, base 0.99, no exact rate kept), the scene reads 33.333333012 fps: a
    clip at 100/3 fps is taken as at the scene's rate, every frame, not resampled (which dropped the last),
    and the rate the user changes later is read as Blender keeps it."""
    motion = smooth_motion(T=135, fps=100 / 3, seed=4)
    path = write_amass_npz(motion, tmp_path / "odd.npz")
    armature.set_scene_fps(scene, 30.0)
    scene.render.fps, scene.render.fps_base = 33, 0.99
    assert armature.scene_fps(scene) == 33 / scene.render.fps_base != 100 / 3
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert armature.action_frames(obj.animation_data.action) == (1, 135)
    back = armature.read_motion(obj, scene)
    assert quat_angle(back.rotations, motion.rotations).max() < 1e-5


@pytest.mark.parametrize("family", ["smplh", "smplx"])
def test_an_smplh_or_smplx_clip_imports_its_hands_and_body_shape(scene, tmp_path, capfd, family):
    """An SMPL-H/X clip makes an armature with its finger (SMPL-X: jaw, eye) bones, keyed from the clip:
    read back on that skeleton it is the clip, hands included (they were left out before). The subject's
    betas, gender and body model (``surface_model_type``) go with the action into every export of it. Onto a body-only rig the report names
    the joints it has no bones for."""
    from a4mer import Motion
    from a4mer.skeleton import SMPLH, SMPLX
    skel = SMPLH if family == "smplh" else SMPLX
    body = smooth_motion(T=30, seed=4)
    rng = np.random.default_rng(2)
    aa = 0.4 * np.sin(np.arange(30)[:, None, None] / 4.0 + rng.uniform(0, 6, (1, skel.num_joints, 3)))
    from a4mer.geometry import axis_angle_to_quat
    rot = axis_angle_to_quat(aa)
    rot[:, :22] = body.rotations[:, :22]
    clip = Motion(30.0, body.root_translation, rot, skel,
                  meta={"betas": [0.5] * 16, "gender": "female", "surface_model_type": family})
    path = write_amass_npz(clip, tmp_path / "hands.npz")
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    assert "not imported" not in capfd.readouterr().out
    obj = bpy.context.active_object
    assert {b.name for b in obj.data.bones} == {"root", *skel.names}
    back = armature.read_motion(obj, scene, skeleton=skel)
    assert back.meta["betas"] == [0.5] * 16 and back.meta["gender"] == "female"
    assert back.meta["surface_model_type"] == family  # AMASS SMPL-X files name their body model
    assert quat_angle(back.rotations, rot).max() < 1e-5  # fingers (and jaw, eyes) as in the clip
    assert quat_angle(armature.read_motion(obj, scene).rotations[:, :22], body.rotations[:, :22]).max() < 1e-5
    if family == "smplx":  # exported from the .blend, the npz keeps the hands and face
        from a4mer.cli.main import main
        from a4mer.io import read_amass_npz
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
        assert main(["export", str(tmp_path / "shot.blend"), "--format", "npz", "-o", str(tmp_path / "out.npz")]) == 0
        out = read_amass_npz(tmp_path / "out.npz")
        assert out.skeleton == SMPLX and quat_angle(out.rotations, rot).max() < 1e-4
        assert str(np.load(tmp_path / "out.npz")["surface_model_type"]) == "smplx"
    rig, _ = make_row_rig("mpi_body_only")
    rig.select_set(True)
    bpy.context.view_layer.objects.active = rig
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    assert f"{skel.num_joints - 22} hand/face joints of the clip ({', '.join(skel.names[22:25])}, ...) have no bone " \
           f"on {rig.name!r}: not imported" in capfd.readouterr().out


def test_import_applies_to_selected_rig(scene, tmp_path):
    obj, _ = make_row_rig("official_smpl_axis_angle")
    old = armature.write_motion(obj, smooth_motion(T=5), scene, name="old")
    motion = smooth_motion(T=20, seed=12)
    path = write_amass_npz(motion, tmp_path / "wave.npz")
    n_objects = len(bpy.data.objects)
    bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True)
    assert len(bpy.data.objects) == n_objects and bpy.context.active_object == obj
    assert obj.animation_data.action.name == "wave" and bpy.data.actions.get(old.name) is not None
    assert old.use_fake_user  # not dropped from the file on save now that nothing uses it
    back = armature.read_motion(obj, scene)
    assert quat_angle(back.rotations, motion.rotations).max() < 1e-5
    assert obj.pose.bones["L_Knee"].rotation_mode == "AXIS_ANGLE"
    save = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(save))
    bpy.ops.wm.open_mainfile(filepath=str(save))
    assert "old" in bpy.data.actions


@pytest.mark.parametrize("how", ["deselected", "hidden"])
def test_import_never_applies_to_a_rig_the_user_deselected_or_hid(scene, tmp_path, how):
    """After Alt+A (or hiding the rig) the rig stayed the active object, and "Apply to selected SMPL rig"
    keyed the clip onto it, replacing its action out of sight; now the clip gets a new armature."""
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=5), scene, name="hero_take")
    obj.select_set(False)
    if how == "hidden":
        obj.hide_set(True)
    assert bpy.context.active_object == obj
    path = write_amass_npz(smooth_motion(T=20, seed=12), tmp_path / "wave.npz")
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
    assert obj.animation_data.action.name == "hero_take"
    new = bpy.context.active_object
    assert new is not obj and new.type == "ARMATURE" and new.animation_data.action.name == "wave"


def test_import_onto_a_segmented_or_a_non_smpl_rig_says_so(scene, tmp_path, capfd):
    """The atom/motif tracks of the rig's previous action stay (they are the user's record) but no longer
    describe the new action: a warning says so. A selected armature that is not SMPL-like gets a new
    SMPL armature beside it, and the report says why."""
    from a4mer_blender.bridge import nla
    obj, _ = make_row_rig("official_smpl_axis_angle")
    armature.write_motion(obj, smooth_motion(T=40), scene, name="old")
    atoms = [{"start_frame": s, "end_frame": s + 10, "start_t": s / 30, "end_t": (s + 10) / 30, "code": 1}
             for s in range(0, 40, 10)]
    motifs = [{"start_frame": 0, "end_frame": 40, "start_t": 0.0, "end_t": 40 / 30, "motif_id": 3,
               "atoms": [0, 1, 2, 3], "confidence": 1.0}]
    nla.apply_segments(obj, scene, {"schema_version": 1, "fps": 30.0, "duration": 40 / 30, "atoms": atoms,
                                    "motifs": motifs, "model_hash": "m", "vocab_hash": "v"})
    path = write_amass_npz(smooth_motion(T=20, seed=12), tmp_path / "wave.npz")
    capfd.readouterr()
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
    assert "still describe its previous action 'old': run Find Atoms and Motifs again" in capfd.readouterr().out
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
    assert "still describe" in capfd.readouterr().out  # until segmented again
    other = bpy.data.objects.new("Prop", bpy.data.armatures.new("Prop"))
    scene.collection.objects.link(other)
    bpy.context.view_layer.objects.active = other
    other.select_set(True)
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
    assert "a new SMPL armature: the selected 'Prop' is not an SMPL-like rig" in capfd.readouterr().out


def _evaluated_heads(obj, scene, frames) -> np.ndarray:
    """(F, 22, 3) armature-space heads of the SMPL body bones as Blender evaluates them."""
    names = armature.detect_rig(obj).names
    rig = armature.detect_rig(obj)
    out = []
    for f in frames:
        scene.frame_set(int(f))
        out.append([list(obj.pose.bones[names[rig.smpl_bone[j]]].head) for j in range(22)])
    return np.array(out)


def test_import_onto_an_a_pose_rig_shows_the_t_pose_rigs_poses(scene, tmp_path, data_root):
    """A real clip applied to an SMPL-named rig whose rest is an A-pose (bones along the limbs, as FBX
    imports have them) puts every joint where it goes on a T-pose rig of the same proportions, as
    Blender evaluates it; the report says the rest was mapped. (It was refused before.)"""
    from a4mer.geometry import axis_angle_to_quat, quat_to_rotmat
    from a4mer.skeleton import SMPL
    path = data_root / "bandai-namco/dataset-1/bvh/dataset-1_walk-left_tired_001.bvh"
    if not path.exists():
        pytest.skip(f"{path} not found")
    heads = SMPL.rest_positions()[:22].copy()
    a_heads = heads.copy()
    for pivot, chain, sign in ((16, [18, 20], -1.0), (17, [19, 21], 1.0)):  # arms 40 deg down
        r = quat_to_rotmat(axis_angle_to_quat(np.array([0.0, 0.0, sign * np.radians(40)])))
        a_heads[chain] = (heads[chain] - heads[pivot]) @ r.T + heads[pivot]
    names, parents = list(SMPL.names[:22]), list(SMPL.parents[:22])
    t_rig = build_rig("Tpose", names, parents, heads, root="root", bone_dir="child")
    a_rig = build_rig("Apose", names, parents, a_heads, root="root", bone_dir="child", seed=5)
    assert "left_shoulder -> left_elbow 40 deg" in armature.detect_rig(a_rig).rest_pose_note()
    frames = np.arange(1, 60, 7)
    for obj in (t_rig, a_rig):
        bpy.ops.object.select_all(action="DESELECT")
        bpy.context.view_layer.objects.active = obj
        obj.select_set(True)
        assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
        assert obj.animation_data.action.name.startswith("dataset-1_walk-left_tired_001")
    got, want = _evaluated_heads(a_rig, scene, frames), _evaluated_heads(t_rig, scene, frames)
    assert np.abs(want[:, :20] - want[0, :20]).max() > 0.5  # the walk moves
    np.testing.assert_allclose(got[:, :20], want[:, :20], atol=1e-4)
    assert np.abs(got - want).max() < 0.004  # wrists: SMPL's arm is not quite straight (tests/unit/test_rig_rest.py)
    back = armature.read_motion(a_rig, scene)
    assert quat_angle(back.rotations[:, :22], armature.read_motion(t_rig, scene).rotations[:, :22]).max() < 1e-4


def test_import_onto_a_rig_showing_generated_frames_is_refused(scene, tmp_path):
    obj, _ = make_row_rig("mpi_body_only")
    action = armature.write_motion(obj, smooth_motion(T=60, seed=4), scene, name="mine")
    for fc in anim_compat.fcurves_of(obj, action):
        for i in reversed(range(len(fc.keyframe_points))):
            if 20 < fc.keyframe_points[i].co[0] < 40:
                fc.keyframe_points.remove(fc.keyframe_points[i])
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    path = write_amass_npz(smooth_motion(T=20, seed=12), tmp_path / "wave.npz")
    with pytest.raises(RuntimeError, match="shows A4Mer generated frames"):
        bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True)
    assert obj.animation_data.action is None and obj.animation_data.nla_tracks["A4Mer Source"].strips[0].action == action
    assert "wave" not in bpy.data.actions


def test_import_real_bvh(scene, data_root):
    from a4mer.api import load_motion
    path = data_root / "bandai-namco/dataset-1/bvh/dataset-1_walk-left_tired_001.bvh"
    if not path.exists():
        pytest.skip(f"{path} not found")
    scene.render.fps = 24  # the clip is 30 fps: resampled by time
    bpy.ops.a4mer.import_motion(filepath=str(path))
    obj = bpy.context.active_object
    expected = load_motion(path).resample(24.0)
    back = armature.read_motion(obj, scene)
    assert back.num_frames == expected.num_frames
    assert quat_angle(back.rotations[:, :22], expected.rotations[:, :22]).max() < 1e-5


def test_import_bad_file_names_it(scene, tmp_path):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="broken.npz: not a readable npz"):
        bpy.ops.a4mer.import_motion(filepath=str(bad))
    assert len(bpy.data.objects) == 0


def test_import_put_on_floor(scene, cmu_dance, tmp_path, capfd):
    """"Put on floor" (off by default) moves the root up or down by one constant so the feet stand on
    z = 0 before the clip is keyed; rotations and the root's x/y are keyed as without it, the INFO
    report says how far, and a clip with no foot standing is refused before anything is made."""
    from a4mer import floor
    path = cmu_dance / "bvh" / "indian" / "14.bvh"  # a capture standing 13 cm under its own floor
    assert bpy.ops.a4mer.import_motion.get_rna_type().properties["put_on_floor"].default is False
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    plain = armature.read_motion(bpy.context.active_object, scene)
    assert floor.floor_height(plain) < -0.10
    capfd.readouterr()
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=False, put_on_floor=True) == {"FINISHED"}
    obj = bpy.context.active_object
    shift = obj.animation_data.action["a4mer_floor_shift_m"]
    assert 0.10 < shift < 0.16
    assert f"raised {shift * 100:.1f} cm onto the floor" in capfd.readouterr().out
    back = armature.read_motion(obj, scene)
    assert abs(floor.floor_height(back)) < 1e-4
    np.testing.assert_allclose(back.root_translation[:, 2] - plain.root_translation[:, 2], shift, atol=1e-5)
    np.testing.assert_allclose(back.root_translation[:, :2], plain.root_translation[:, :2], atol=1e-6)
    assert quat_angle(back.rotations, plain.rotations).max() < 1e-6
    # onto a rig the user moved up and turned: the feet stand on the world's floor, not the rig's own
    obj.location, obj.rotation_euler = (0.5, 0.2, 1.0), (0.0, 0.0, 0.7)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True, put_on_floor=True) == {"FINISHED"}
    assert bpy.context.active_object == obj and tuple(obj.location) == pytest.approx((0.5, 0.2, 1.0))
    assert abs(floor.floor_height(armature.read_motion(obj, scene))) < 1e-4
    fast = smooth_motion(T=30)
    trans = fast.root_translation.copy()
    trans[:, 0] = np.arange(30) * 0.1  # 3 m/s: no foot ever stands still
    bad = write_amass_npz(fast.with_(root_translation=trans), tmp_path / "sprint.npz")
    n_objects = len(bpy.data.objects)
    with pytest.raises(RuntimeError, match="sprint.npz: no floor to put the clip on"):
        bpy.ops.a4mer.import_motion(filepath=str(bad), apply_to_selected=False, put_on_floor=True)
    assert len(bpy.data.objects) == n_objects and "sprint" not in bpy.data.actions


def test_import_cmu_bvh_starts_on_the_take(scene, cmu_dance):
    """A CMU "Daz-friendly" BVH starts with a T-pose frame and an ease into the take: the import keys
    the take from its first frame (no 0.4-1.4 m jump between the first two keys) and says it dropped
    the lead-in."""
    path = cmu_dance / "bvh" / "indian" / "04.bvh"
    scene.render.fps = 120
    assert bpy.ops.a4mer.import_motion(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    action = obj.animation_data.action
    assert action["a4mer_reference_frames_dropped"] == 8
    assert armature.action_frames(action)[1] == 3144 - 8
    pos = armature.read_motion(obj, scene).joint_positions()[:2, :22]
    assert np.linalg.norm(pos[1] - pos[0], axis=-1).max() < 0.05


def _key_world_motion(scene, obj, how: str) -> None:
    """Give ``obj`` (a rig) what moves it in the world: an animated parent (2 m along X and a quarter
    turn over 60 frames), a Child Of constraint to a moved empty, or a Copy Location constraint."""
    mover = bpy.data.objects.new("mover", None)
    scene.collection.objects.link(mover)
    if how == "moving parent":
        obj.parent = mover
        for f, x, rz in ((1, 0.0, 0.0), (60, 2.0, np.pi / 2)):
            mover.location, mover.rotation_euler = (x, 0.0, 0.0), (0.0, 0.0, rz)
            mover.keyframe_insert("location", frame=f)
            mover.keyframe_insert("rotation_euler", frame=f)
    else:
        c = obj.constraints.new("CHILD_OF" if how == "child of" else "COPY_LOCATION")
        c.target = mover
        bpy.context.view_layer.update()
        mover.location, mover.rotation_euler = (1.5, -2.0, 0.5), (0.0, 0.0, 0.7)  # after: Child Of's inverse is set


@pytest.mark.parametrize("how", ["moving parent", "child of", "copy location"])
def test_import_onto_a_carried_rig_keys_the_clips_world_motion(scene, tmp_path, how):
    """A rig moved by a parent or an object constraint is keyed so that the body is where the clip has it
    in the world on every frame, as Segment, Fill and exports read it back, whichever frame the playhead
    was on: the import used the object's matrix on the current frame only (and without constraints),
    which put the body metres away (2-4 m on a real clip) and differently from one playhead to another."""
    motion = smooth_motion(T=60, seed=5)
    path = write_amass_npz(motion, tmp_path / "walk.npz")
    got = []
    for playhead in (1, 45):
        obj, _ = make_row_rig("mpi_body_only")
        _key_world_motion(scene, obj, how)
        scene.frame_set(playhead)
        bpy.ops.object.select_all(action="DESELECT")
        bpy.context.view_layer.objects.active = obj
        obj.select_set(True)
        assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
        assert scene.frame_current == playhead
        back = armature.read_motion(obj, scene)
        np.testing.assert_allclose(back.root_translation, motion.root_translation, atol=1e-5)
        assert quat_angle(back.rotations[:, :22], motion.rotations[:, :22]).max() < 1e-5  # a body-only rig
        got.append(back.root_translation)
        bpy.data.objects.remove(bpy.data.objects["mover"])
        bpy.data.objects.remove(obj)
    np.testing.assert_allclose(got[0], got[1], atol=1e-6)


def _file_state() -> dict:
    return {a.name: (a.users, a.use_fake_user) for a in bpy.data.actions}


@pytest.mark.parametrize("case", ["tweak mode", "time stretching", "scale 0"])
def test_a_refused_import_names_the_problem_and_changes_nothing(scene, tmp_path, case):
    """Onto a rig in NLA tweak mode (a traceback, and an orphan action left), while the scene remaps time
    (imported at half or double speed), onto a rig flattened to scale 0 (an empty action left, the
    user's action given a fake user, the file and rig not named): one clear line, nothing changed."""
    obj, _ = make_row_rig("mpi_body_only")
    mine = armature.write_motion(obj, smooth_motion(T=30, seed=2), scene, name="mine")
    if case == "tweak mode":
        track = obj.animation_data.nla_tracks.new()
        track.strips.new("mine", 1, mine)
        obj.animation_data.action = None
        track.select = track.strips[0].select = True
        obj.animation_data.use_tweak_mode = True
        want = "in NLA tweak mode: leave it"
    elif case == "time stretching":
        scene.render.frame_map_old, scene.render.frame_map_new = 100, 200
        want = "the scene remaps time"
    else:
        obj.scale = (0.0, 0.0, 0.0)
        want = "walk.npz onto 'SMPLX-body': the armature object's scale is 0"
    bpy.context.view_layer.objects.active = obj
    path = write_amass_npz(smooth_motion(T=20, seed=12), tmp_path / "walk.npz")
    before, n_objects, played = _file_state(), len(bpy.data.objects), obj.animation_data.action
    with pytest.raises(RuntimeError, match=want) as e:
        bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True)
    assert "Traceback" not in str(e.value)
    assert _file_state() == before and len(bpy.data.objects) == n_objects
    assert obj.animation_data.action == played


def test_import_onto_a_rig_in_edit_mode_uses_the_rest_as_edited(scene, tmp_path):
    """Blender updates a rig's bones from its edit bones only on leaving Edit mode: an import made there
    posed the rig for the rest before the edit (a wrist 15 cm off once Edit mode was left)."""
    motion = smooth_motion(T=20, seed=6)
    path = write_amass_npz(motion, tmp_path / "wave.npz")
    obj, _ = make_row_rig("mpi_body_only")
    bpy.context.view_layer.objects.active = obj
    names = armature.detect_rig(obj).names
    bpy.ops.object.mode_set(mode="EDIT")
    elbow = obj.data.edit_bones[names[armature.detect_rig(obj).smpl_bone[18]]]
    elbow.roll += np.pi / 2
    obj.data.edit_bones[names[armature.detect_rig(obj).smpl_bone[16]]].tail.z += 0.1
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
    bpy.ops.object.mode_set(mode="OBJECT")
    back = armature.read_motion(obj, scene)
    assert quat_angle(back.rotations[:, :22], motion.rotations[:, :22]).max() < 1e-5


def test_a_selected_mesh_gets_a_new_armature_and_the_report_names_its_rig(scene, tmp_path, capfd):
    obj, _ = make_row_rig("mpi_body_only")
    body = bpy.data.objects.new("Body", bpy.data.meshes.new("Body"))
    scene.collection.objects.link(body)
    body.parent = obj
    bpy.context.view_layer.objects.active = body
    body.select_set(True)
    path = write_amass_npz(smooth_motion(T=20, seed=12), tmp_path / "wave.npz")
    capfd.readouterr()
    assert bpy.ops.a4mer.import_motion(filepath=str(path), apply_to_selected=True) == {"FINISHED"}
    assert (f"the selected 'Body' is not an SMPL-like rig (to key the clip onto its armature, select {obj.name!r})"
            in capfd.readouterr().out)
