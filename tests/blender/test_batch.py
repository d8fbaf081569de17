"""``a4mer batch`` with the real worker (bpy module): a folder of tiny real clips plus a corrupt file,
a .blend holding several SMPL armatures (one with a hole in its keys), and the ``blender -b`` entry
script run under the bpy module.

Segmentation uses the shipped model when it exists. Until then (and only here, in tests) the model is
replaced by the STAND-IN worker tests/blender/fake_worker.py through the runner's worker mode
(``--runner-python``); the test says which one it used.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bpy
from a4mer.api import load_motion
from a4mer.cli.main import main
from a4mer.io import write_amass_npz
from a4mer.skeleton import SMPL
from a4mer.strips import ATOMS_TRACK, MOTIFS_TRACK
from a4mer_blender.bridge import anim_compat, armature, nla

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WALK = REPO / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
KICK = REPO / "examples" / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc"
ASF = REPO / "examples" / "hdm05" / "asf" / "HDM_mm.asf"


def _model_available() -> bool:
    try:
        from a4mer.model import DEFAULT_BUNDLE
    except ImportError:
        return False
    return DEFAULT_BUNDLE.is_file()


@pytest.fixture
def segmenter(tmp_path, monkeypatch) -> list[str]:
    """Extra ``a4mer batch`` flags choosing the segmenter: none (the shipped model) when it exists,
    else the test-only stand-in worker."""
    if _model_available():
        return []
    exe = tmp_path / "standin_python"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_worker.py"}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("A4MER_FAKE_WORKER", "ok")
    return ["--runner-python", str(exe)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, float]]]:
    """A folder: a 40-frame npz slice of the Bandai walk, the HDM05 kick (AMC + its ASF in ../asf/),
    and a corrupt npz. Returns the folder and {output name: (frames, fps)} of the good clips."""
    root = tmp_path_factory.mktemp("batch_in")
    walk = load_motion(WALK).slice(0, 40)
    write_amass_npz(walk, root / "walk.npz")
    (root / "hdm" / "amc").mkdir(parents=True)
    (root / "hdm" / "asf").mkdir()
    (root / "hdm" / "amc" / KICK.name).write_bytes(KICK.read_bytes())
    (root / "hdm" / "asf" / ASF.name).write_bytes(ASF.read_bytes())
    (root / "broken.npz").write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    kick = load_motion(KICK)
    return root, {"walk": (40, 30.0), f"hdm__amc__{KICK.stem}": (kick.num_frames, kick.fps)}  # path below root


def _run(args, capsys) -> tuple[int, str]:
    code = main(["batch", *map(str, args)])
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def check_tiles(seg: dict, T: int) -> None:
    """Atoms tile [0, T) without holes; motifs ordered, non-overlapping, inside the clip."""
    atoms = seg["atoms"]
    assert atoms[0]["start_frame"] == 0 and atoms[-1]["end_frame"] == T
    assert all(a["end_frame"] == b["start_frame"] for a, b in zip(atoms[:-1], atoms[1:]))
    assert all(a["end_frame"] > a["start_frame"] for a in atoms)
    ends = [0] + [m["end_frame"] for m in seg["motifs"]]
    assert all(m["start_frame"] >= e for m, e in zip(seg["motifs"], ends[:-1]))
    assert all(0 <= m["start_frame"] < m["end_frame"] <= T for m in seg["motifs"])
    assert seg["duration"] == pytest.approx(T / seg["fps"], abs=1e-5)


def _open(path: Path):
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    scene = bpy.context.scene
    return scene, [o for o in scene.objects if o.type == "ARMATURE"]


def test_batch_folder(clips, segmenter, tmp_path, capsys):
    root, good = clips
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--segment", "--jobs", "2", *segmenter], capsys)
    print(text)
    assert code != 0
    assert "broken" in text and "broken.npz" in text and "not a readable npz" in text
    names = sorted(p.name for p in out.iterdir())
    want = sorted([f"{n}{s}" for n in good for s in (".blend", ".segments.json", ".timeline.png")] + ["runs"])
    assert names == want  # nothing named broken.*, no temporary file or folder
    for name, (T, fps) in good.items():
        seg = json.loads((out / f"{name}.segments.json").read_text())
        check_tiles(seg, T)
        assert seg["fps"] == pytest.approx(fps)
        scene, arms = _open(out / f"{name}.blend")
        assert len(arms) == 1
        obj = arms[0]
        assert armature.scene_fps(scene) == pytest.approx(fps)
        f0, n = armature.action_frames(obj.animation_data.action)
        assert (f0, n) == (1, T)  # the action spans the clip
        tracks = nla.a4mer_tracks(obj)
        assert [t.name for t in tracks] == [ATOMS_TRACK, MOTIFS_TRACK]
        assert len(tracks[0].strips) == len(seg["atoms"]) and len(tracks[1].strips) == len(seg["motifs"])
        if not segmenter:
            assert seg["model_hash"] != "fake"
    summ = json.loads(next((out / "runs").iterdir()).read_text())
    assert summ["counts"] == {"ok": 2, "failed": 1, "skipped": 0}
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    code, text = _run([root, "--out", out, "--segment", *segmenter], capsys)
    assert code != 0 and text.count("skipped ") == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == stamp  # nothing rewritten


def _make_scene_blend(path: Path) -> dict:
    """A .blend with two SMPL armatures (A: keys deleted on frames 11..19 and 25..28, B: dense) and a non-SMPL
    armature. Returns facts about it."""
    from a4mer_blender.operators.importer import import_motion
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    scene.frame_start = 1
    clip = path.parent / "walk36.npz"
    write_amass_npz(load_motion(WALK).slice(0, 36), clip)
    a, _ = import_motion(bpy.context, str(clip), apply_to_selected=False)
    a.name = "Alpha"
    b, _ = import_motion(bpy.context, str(clip), apply_to_selected=False)
    b.name = "Beta"
    bpy.ops.object.armature_add()
    bpy.context.active_object.name = "NotSMPL"
    values = {}
    for fc in anim_compat.fcurves_of(a, a.animation_data.action):
        kp = fc.keyframe_points
        for i in reversed(range(len(kp))):
            if 11 <= kp[i].co[0] <= 19 or 25 <= kp[i].co[0] <= 28:
                kp.remove(kp[i])
        values[(fc.data_path, fc.array_index)] = {int(k.co[0]): k.co[1] for k in kp}
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return {"values": values, "sha": hashlib.sha256(path.read_bytes()).hexdigest()}


def test_batch_blend_input_fill_extend(segmenter, tmp_path, capsys):
    src = tmp_path / "in" / "shot.blend"
    src.parent.mkdir()
    facts = _make_scene_blend(src)
    out = tmp_path / "out"
    code, text = _run([src, "--out", out, "--segment", "--fill-gaps", "--extend", "6", *segmenter], capsys)
    print(text)
    assert code == 0
    assert "Alpha: fill-gaps: filled 2 gap(s), 13 frames" in text and "Beta: fill-gaps: no gaps" in text
    names = sorted(p.name for p in out.iterdir() if p.is_file())
    assert names == ["shot.blend", "shot__Alpha.segments.json", "shot__Alpha.timeline.png",
                     "shot__Beta.segments.json", "shot__Beta.timeline.png"]
    assert hashlib.sha256(src.read_bytes()).hexdigest() == facts["sha"]  # the input is never modified
    for n in ("Alpha", "Beta"):
        check_tiles(json.loads((out / f"shot__{n}.segments.json").read_text()), 36 + 6)
    scene, arms = _open(out / "shot.blend")
    assert sorted(o.name for o in arms) == ["Alpha", "Beta", "NotSMPL"]
    alpha = scene.objects["Alpha"]
    assert armature.action_frames(alpha.animation_data.action) == (1, 42)
    assert len(nla.a4mer_tracks(alpha)) == 2 and nla.a4mer_tracks(scene.objects["NotSMPL"]) == []
    curves = {(fc.data_path, fc.array_index): fc for fc in anim_compat.fcurves_of(alpha, alpha.animation_data.action)}
    body = {f'pose.bones["{n}"]' for n in SMPL.names[:22]}
    checked = 0
    for key, kept in facts["values"].items():
        if key[0].rsplit(".", 1)[0] not in body:
            continue  # hands / root bone: generation covers the body joints 0-21
        checked += 1
        fc = curves[key]
        frames = sorted(int(round(k.co[0])) for k in fc.keyframe_points)
        assert frames == list(range(1, 43))  # every frame keyed now (gaps filled, 6 frames added)
        got = {int(round(k.co[0])): k.co[1] for k in fc.keyframe_points}
        for f in (1, 10, 20, 36):  # kept keys keep their values (quaternions up to their sign)
            if "quaternion" in key[0]:
                assert abs(got[f]) == pytest.approx(abs(kept[f]), abs=1e-4)
            else:
                assert got[f] == pytest.approx(kept[f], abs=1e-4)
    assert checked == 22 * 4 + 3  # body rotations + pelvis location
    # --object picks one armature: plain output names
    out2 = tmp_path / "out2"
    code, text = _run([src, "--out", out2, "--segment", "--object", "Beta", "--fps", "24", *segmenter], capsys)
    assert code == 0 and "--fps 24 not applied: a .blend keeps its scene rate (30 fps)" in text
    assert sorted(p.name for p in out2.iterdir() if p.is_file()) == ["shot.blend", "shot.segments.json",
                                                                      "shot.timeline.png"]
    code, text = _run([src, "--out", tmp_path / "out3", "--object", "NotSMPL"], capsys)
    assert code != 0 and "NotSMPL" in text and "not an SMPL-like rig" in text
    (tmp_path / "in" / "shot.fbx").write_bytes(b"Kaydara FBX Binary")
    code, text = _run([tmp_path / "in" / "shot.fbx", "--out", tmp_path / "out5"], capsys)
    assert code != 0 and "unsupported file type '.fbx'; a4mer batch reads .npz, .bvh, .amc (with its .asf) or .blend" in text
    # a shot saved while generated frames were shown (not baked): named as such
    import addon_utils
    _open(src)
    addon_utils.enable("a4mer_blender", default_set=True, handle_error=None)
    bpy.context.view_layer.objects.active = bpy.context.scene.objects["Alpha"]
    assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
    unbaked = tmp_path / "unbaked.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(unbaked))
    addon_utils.disable("a4mer_blender", default_set=True, handle_error=None)
    code, text = _run([unbaked, "--out", tmp_path / "out4", "--object", "Alpha", "--extend", "6"], capsys)
    assert code != 0 and "'Alpha' shows A4Mer generated frames that were saved before baking" in text


def _libraries_found(blend: Path) -> dict[str, tuple[str, bool]]:
    """{library name: (its stored path, whether that path finds the file)} of ``blend``, opened."""
    bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    return {lib.name: (lib.filepath, Path(bpy.path.abspath(lib.filepath)).is_file()) for lib in bpy.data.libraries}


def test_batch_output_blend_keeps_relative_paths_that_find_their_files(tmp_path, capsys):
    """A shot that links a prop by a relative path (``//lib/props.blend``) gives an output .blend whose
    link still finds the prop: written relative to the output folder, not to the hidden working folder
    it was saved in (two levels below --out: the path pointed two folders too high). The direct worker
    (``scripts/blender_batch.py``: one level) alike; the input is not changed."""
    from a4mer_blender import batch_worker
    shots = tmp_path / "shots"
    (shots / "lib").mkdir(parents=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    bpy.context.active_object.name = "Prop"
    bpy.ops.wm.save_as_mainfile(filepath=str(shots / "lib" / "props.blend"))
    _make_scene_blend(shots / "shot.blend")
    with bpy.data.libraries.load("//lib/props.blend", link=True, relative=True) as (_, linked):
        linked.objects = ["Prop"]
    bpy.context.scene.collection.objects.link(linked.objects[0])
    bpy.ops.wm.save_mainfile()
    sha = hashlib.sha256((shots / "shot.blend").read_bytes()).hexdigest()
    code, text = _run([shots / "shot.blend", "--out", tmp_path / "out", "--object", "Beta"], capsys)
    assert code == 0, text
    assert batch_worker.main(["--input", str(shots / "shot.blend"), "--out-dir", str(tmp_path / "direct"),
                              "--object", "Beta"]) == 0
    relative = bpy.app.version >= (5, 0, 0)  # older Blenders write such paths absolute (noted)
    assert ("shot.blend: its relative file paths are written absolute" in text) != relative
    for out in (tmp_path / "out", tmp_path / "direct"):
        path, found = _libraries_found(out / "shot.blend")["props.blend"]
        assert found, f"{out}: the linked prop's path {path!r} finds no file"
        assert path.startswith("//") == relative
        assert "Prop" in bpy.context.scene.objects and bpy.context.scene.objects["Prop"].library is not None
    assert hashlib.sha256((shots / "shot.blend").read_bytes()).hexdigest() == sha


def test_batch_fill_leaves_a_gap_over_4_s_and_names_it(tmp_path, capsys):
    """A shot keyed on frames 1-2, 130-131 and 134-135 (30 fps): the 4.23 s gap is left unkeyed and named,
    the 2-frame gap is filled; the user's keys keep their frames."""
    from a4mer_blender.operators.importer import import_motion
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 30, 1.0
    clip = tmp_path / "walk.npz"
    write_amass_npz(load_motion(WALK), clip)
    rig, _ = import_motion(bpy.context, str(clip), apply_to_selected=False)
    rig.name = "Rig"
    for fc in anim_compat.fcurves_of(rig, rig.animation_data.action):
        kp = fc.keyframe_points
        for i in reversed(range(len(kp))):
            if 3 <= kp[i].co[0] <= 129 or 132 <= kp[i].co[0] <= 133:
                kp.remove(kp[i])
    src = tmp_path / "in" / "shot.blend"
    src.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    code, text = _run([src, "--out", tmp_path / "out", "--fill-gaps"], capsys)
    assert code == 0, text
    assert "Rig: fill-gaps: filled 1 gap(s), 2 frames" in text and "not filled: 2..130 (127 frames, 4.233 s: at most 4 s (120 frames at 30 fps) can be filled)" in text
    _, arms = _open(tmp_path / "out" / "shot.blend")
    fc = next(fc for fc in anim_compat.fcurves_of(arms[0], arms[0].animation_data.action)
              if fc.data_path == 'pose.bones["left_knee"].rotation_quaternion')
    assert sorted(int(round(k.co[0])) for k in fc.keyframe_points) == [1, 2, 130, 131, 132, 133, 134, 135]


def test_blender_entry_script(clips, segmenter, tmp_path):
    """scripts/blender_batch.py (the ``blender -b --python`` entry) under the bpy module."""
    root, _ = clips
    script = REPO / "scripts" / "blender_batch.py"
    args = [a for a in segmenter]
    if args:
        args = ["--python", args[1]]
    proc = subprocess.run([sys.executable, str(script), "--", "--input", str(root / "walk.npz"), "--out-dir",
                           str(tmp_path / "o"), "--segment", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1].split(" ", 1)[1])
    assert sorted(res["outputs"]) == ["walk.blend", "walk.segments.json", "walk.timeline.png"]
    bad = subprocess.run([sys.executable, str(script), "--", "--input", str(root / "broken.npz"), "--out-dir",
                          str(tmp_path / "o2")], capture_output=True, text=True)
    assert bad.returncode == 1 and "broken.npz" in bad.stderr
    assert list((tmp_path / "o2").iterdir()) == []
    (tmp_path / "o3").mkdir()
    request = json.dumps({"id": 7, "argv": ["--input", str(root / "walk.npz"), "--out-dir", str(tmp_path / "o3")],
                          "tmpdir": str(tmp_path)})
    served = subprocess.run([sys.executable, str(script), "--", "--serve"], input=request + "\n", capture_output=True,
                            text=True)  # how a4mer batch --blender runs it
    assert served.returncode == 0, served.stderr
    res = json.loads(served.stdout.strip().splitlines()[-1].split(" ", 1)[1])
    assert res["request"] == 7 and res["outputs"] == ["walk.blend"] and (tmp_path / "o3" / "walk.blend").is_file()


def test_worker_heads_subprocess_matches_in_process():
    """Inside a Blender without torch the heads run as ``PY -m a4mer inbetween|extend``: same frames."""
    import argparse
    from a4mer_blender.batch_worker import WorkerHeads, _heads
    m = load_motion(WALK).slice(0, 50)
    here = _heads(argparse.Namespace(checkpoint="", python=None))
    there = WorkerHeads(sys.executable)
    a, b = here.inbetween(m, 15, 30), there.inbetween(m, 15, 30)
    np.testing.assert_allclose(a.joint_positions(), b.joint_positions(), atol=1e-6)
    assert np.abs(a.joint_positions()[16:30] - m.joint_positions()[16:30]).max() > 1e-4  # frames were generated
    c, d = here.extend_clip(m, 8), there.extend_clip(m, 8)
    assert c.num_frames == d.num_frames == 58
    np.testing.assert_allclose(c.joint_positions(), d.joint_positions(), atol=1e-6)
    keys = [k for k in range(50) if not 10 < k < 20 and not 30 < k < 35]
    e, f = here.inbetween_keys(m, keys), there.inbetween_keys(m, keys)
    np.testing.assert_allclose(e.joint_positions(), f.joint_positions(), atol=1e-6)
    np.testing.assert_allclose(e.joint_positions()[keys], m.joint_positions()[keys], atol=1e-9)
    with pytest.raises(Exception, match="a4mer inbetween failed"):
        there.inbetween(m, 10, 400)


def test_worker_refuses_bad_options_and_the_input_folder_before_anything(tmp_path, capsys):
    """The worker (``scripts/blender_batch.py``) never writes into its input's folder (a .blend input
    would be overwritten by its copy), and a bad option or output folder is one line naming it."""
    from a4mer_blender import batch_worker
    shot = tmp_path / "shots" / "shot.blend"
    shot.parent.mkdir()
    shot.write_bytes(b"BLENDER-v300 the animator's shot")
    (tmp_path / "afile").write_text("x")
    ok = ["--input", str(shot), "--out-dir", str(tmp_path / "out")]
    for args, message in (
            (["--input", str(shot), "--out-dir", str(shot.parent)],
             f"--out-dir {shot.parent}: the folder of the input {shot}; outputs there could overwrite inputs"),
            (["--input", str(shot), "--out-dir", str(tmp_path / "afile")],
             f"--out-dir {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file, not a folder"),
            ([*ok, "--fps", "-1"], "--fps must be a frame rate from 1 to 100000 fps, got -1"),
            ([*ok, "--source-fps", "0"], "--source-fps must be a frame rate from 1 to 100000 fps, got 0"),
            ([*ok, "--extend", "-5"], "--extend must be >= 0, got -5")):
        assert batch_worker.main(args) == 1
        cap = capsys.readouterr()
        assert cap.err == f"a4mer_blender.batch_worker: error: {message}" + cap.err.split(message, 1)[1], cap.err
        assert "Traceback" not in cap.err and json.loads(cap.out.split("A4MER_RESULT ", 1)[1])["error"].startswith(message)
    assert shot.read_bytes() == b"BLENDER-v300 the animator's shot"
    assert sorted(p.name for p in shot.parent.iterdir()) == ["shot.blend"]
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def salsa(data_root, tmp_path_factory) -> Path:
    """The first 90 frames of a CMU salsa BVH (header: 120 fps; the take is 60 fps; its first 8 frames
    are the T-pose and the ease into the take)."""
    import tarfile
    with tarfile.open(data_root / "cmu-dance" / "cmu-dance.tar.xz", "r|xz") as t:
        member = next(m for m in t if m.name.startswith("bvh/salsa/") and m.name.endswith(".bvh"))
        lines = t.extractfile(member).read().decode().splitlines(True)
    i = next(k for k, line in enumerate(lines) if line.startswith("Frames:"))
    path = tmp_path_factory.mktemp("salsa") / "salsa.bvh"
    path.write_text("".join(lines[:i] + ["Frames:\t90\n", lines[i + 1]] + lines[i + 2:i + 92]))
    return path


def test_batch_reads_clips_as_segment_does(salsa, segmenter, tmp_path, capsys):
    """--source-fps, --asf and --keep-reference-frames read the clips as ``a4mer segment`` does; the
    dropped rest-pose lead-in is a note and ``reference_frames_dropped`` in the segments JSON."""
    out = tmp_path / "out"
    code, text = _run([salsa, "--out", out, "--segment", "--source-fps", "60", *segmenter], capsys)
    assert code == 0, text
    assert f"{salsa}: the file's first 8 frames (its rest pose and the ease into the take) are left out" in text
    seg = json.loads((out / "salsa.segments.json").read_text())
    assert seg["fps"] == 60 and seg["reference_frames_dropped"] == 8
    check_tiles(seg, 82)
    scene, (obj,) = _open(out / "salsa.blend")
    assert armature.scene_fps(scene) == pytest.approx(60)
    assert armature.action_frames(obj.animation_data.action) == (1, 82)
    amc = tmp_path / "in" / "kick.amc"  # no .asf beside it or in ../asf/
    amc.parent.mkdir()
    amc.write_bytes(KICK.read_bytes())
    out2 = tmp_path / "out2"
    code, text = _run([salsa, amc, "--out", out2, "--source-fps", "60", "--asf", ASF, "--keep-reference-frames"], capsys)
    assert code == 0 and "left out" not in text, text
    scene, (obj,) = _open(out2 / "salsa.blend")
    assert armature.action_frames(obj.animation_data.action) == (1, 90)
    assert armature.scene_fps(scene) == pytest.approx(60)
    scene, (obj,) = _open(out2 / "kick.blend")
    assert armature.scene_fps(scene) == pytest.approx(60)


def test_batch_reads_an_unknown_skeleton_with_a_bone_map_and_scale(salsa, tmp_path, capsys):
    """A clip of a skeleton no scheme knows: the failure said "pass a bone map (--bone-map JSON)", which
    ``a4mer batch`` did not take. It now takes --bone-map, --scale, --up and --twist, as every other
    command that reads clips does, and hands them to the worker."""
    from a4mer.api import load_motion
    from a4mer.retarget import SCHEMES
    odd = tmp_path / "in" / "odd.bvh"
    odd.parent.mkdir()
    renamed = {"hip": "Becken", "lThigh": "ThighLeft", "rThigh": "ThighRight"}
    text = salsa.read_text()
    for a, b in renamed.items():
        text = re.sub(rf"((?:ROOT|JOINT) ){a}\b", rf"\g<1>{b}", text)
    odd.write_text(text)
    code, text = _run([odd, "--out", tmp_path / "out0", "--source-fps", "60"], capsys)
    assert code == 1 and "--bone-map" in text, text
    bmap = {k: renamed.get(v, v) for k, v in SCHEMES[load_motion(salsa).meta["scheme"]].items() if v}
    (tmp_path / "map.json").write_text(json.dumps(bmap))
    travel = []
    for scale, out in ((None, tmp_path / "out1"), (2.0, tmp_path / "out2")):
        extra = ["--scale", str(scale)] if scale else []
        code, text = _run([odd, "--out", out, "--source-fps", "60", "--bone-map", tmp_path / "map.json", *extra], capsys)
        assert code == 0, text
        scene, (obj,) = _open(out / "odd.blend")
        root = armature.read_motion(obj, scene).root_translation
        travel.append(np.linalg.norm(root[-1, :2] - root[0, :2]))
    ref = load_motion(salsa, source_fps=60).root_translation
    assert travel[0] == pytest.approx(np.linalg.norm(ref[-1, :2] - ref[0, :2]), rel=1e-3)
    assert travel[1] / travel[0] == pytest.approx(2.0 / load_motion(salsa).meta["retarget_scale"], rel=1e-3)
    code, text = _run([odd, "--out", tmp_path / "out3", "--bone-map", tmp_path / "nope.json"], capsys)
    assert code == 1 and "nope.json" in text and not (tmp_path / "out3").exists(), text


def test_worker_refuses_only_an_armature_that_another_input_writes(tmp_path, capsys):
    """``takes/shot.blend`` beside ``takes/shot/...`` clips is not refused up front: ``a4mer batch``
    passes the worker the other inputs' names (``--taken``), and the worker refuses the .blend only when
    one of its armatures would really write such a name, naming both files."""
    from a4mer_blender import batch_worker
    src = tmp_path / "in" / "shot.blend"
    src.parent.mkdir()
    _make_scene_blend(src)
    clip = tmp_path / "in" / "shot" / "alpha.bvh"
    out = tmp_path / "out"
    assert batch_worker.main(["--input", str(src), "--out-dir", str(out), "--taken", f"shot__alpha={clip}"]) == 1
    cap = capsys.readouterr()
    assert f"{src}: the armature 'Alpha' would write shot__Alpha.*, as the batch's input {clip} does: rename one " \
           "of them, or pass --object" in cap.err
    assert list(out.iterdir()) == []
    assert batch_worker.main(["--input", str(src), "--out-dir", str(out), "--taken", f"shot__gamma={clip}"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["shot.blend"]
    assert batch_worker.main(["--input", str(src), "--out-dir", str(tmp_path / "out2"), "--object", "Alpha",
                              "--taken", f"shot__alpha={clip}"]) == 0  # with --object the .blend writes shot.*


def test_the_worker_holds_the_batch_folder_it_writes_into(tmp_path):
    """The worker takes its own lock on its --out-dir when that is a batch working folder, so a worker
    left running by a killed batch keeps its folder (also where a lock is per process, as on NFS)."""
    import os
    from a4mer import batch
    from a4mer.batch import workdirs
    out = tmp_path / "out"
    out.mkdir()
    folder = batch.private_dir(out, "tmp", "clip")
    code = ("import sys; from a4mer_blender import batch_worker as w; "
            "w._check(w.parse_args(['--input', sys.argv[1], '--out-dir', sys.argv[2]])); print('held', flush=True); "
            "sys.stdin.read()")
    worker = subprocess.Popen([sys.executable, "-c", code, str(WALK), str(folder)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "held"
        os.close(workdirs._HELD.pop(str(folder.resolve())))  # the batch is gone (killed): its lock with it
        assert batch.remove_dead_dirs(out) == [] and folder.is_dir()
    finally:
        worker.communicate("", timeout=60)
    assert batch.remove_dead_dirs(out) == [folder.name] and not folder.exists()


def test_a_serving_worker_runs_clip_after_clip_from_a_fresh_scene(clips, tmp_path):
    """The batch's worker process runs clips one after another (Python, Blender and torch start once):
    each clip starts from a factory-fresh scene (its .blend holds its own armature only, at its own
    rate), and a bad clip in between is answered with its error and changes nothing for the next."""
    from a4mer import batch
    root, good = clips
    opts = batch.BatchOptions(out=tmp_path)
    worker = batch.Worker(opts)
    clip = {"walk": root / "walk.npz", "broken": root / "broken.npz", f"hdm__amc__{KICK.stem}": root / "hdm" / "amc" / KICK.name}
    try:
        answers, pids = {}, set()
        for name, path in clip.items():
            (tmp_path / name).mkdir()
            answers[name] = worker.run(batch.worker_args(batch.ClipJob(path, name), tmp_path / name, opts), tmp_path)
            pids.add(worker.proc.pid)
        assert len(pids) == 1, "one worker process for every clip"
        assert "not a readable npz" in answers["broken"].result["error"]
        for name, (T, fps) in good.items():
            assert answers[name].result.get("error") is None, answers[name].result
            scene, arms = _open(tmp_path / name / f"{name}.blend")
            assert len(arms) == 1 and armature.scene_fps(scene) == pytest.approx(fps)
            assert armature.action_frames(arms[0].animation_data.action) == (1, T)
    finally:
        worker.stop()
    assert worker.proc is None


def test_serve_gives_each_clip_its_own_temporary_folder_and_answers_every_line(monkeypatch, capsys, tmp_path):
    """What a clip starts (the model worker, the runner's job folders) writes its temporary files in the
    folder of the request (the batch removes it with the clip's working folder); a line that is not a
    request is answered with an error, and the worker goes on."""
    import tempfile
    from a4mer_blender import batch_worker
    seen = []

    def run(argv):
        seen.append((argv, tempfile.gettempdir(), os.environ["TMPDIR"]))
        return 0, {"input": argv[1]}
    monkeypatch.setattr(batch_worker, "run", run)
    lines = [json.dumps({"id": 1, "argv": ["--input", "a.bvh"], "tmpdir": str(tmp_path / "a")}), "\n", "garbage\n",
             json.dumps({"id": 2, "argv": ["--input", "b.bvh"], "tmpdir": str(tmp_path / "b")})]
    assert batch_worker.serve(lines) == 0
    assert seen == [(["--input", "a.bvh"], str(tmp_path / "a"), str(tmp_path / "a")),
                    (["--input", "b.bvh"], str(tmp_path / "b"), str(tmp_path / "b"))]
    assert tempfile.gettempdir() != str(tmp_path / "b") and os.environ.get("TMPDIR") != str(tmp_path / "b")
    ready, *answers = capsys.readouterr().out.splitlines()
    assert ready == "A4MER_READY"
    results = [json.loads(ln.split(" ", 1)[1]) for ln in answers]
    assert [r.get("request") for r in results] == [1, None, 2] and "not a request" in results[1]["error"]
