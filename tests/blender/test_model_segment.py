"""End to end with the real model (skipped, with the reason, until a4mer.model and its shipped bundle
exist): bpy.ops.a4mer.segment() on an MPI-convention rig carrying a real retargeted clip, and the
in-process and worker runners giving identical segments. Env A4MER_TEST_MODEL=PATH runs them with
another checkpoint (e.g. a smoke-training bundle) instead of the shipped default."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

import bpy
from a4mer_blender import runner
from a4mer_blender.bridge import armature, nla
from bl_helpers import make_row_rig, pose_snapshot

MODEL = os.environ.get("A4MER_TEST_MODEL") or None
CLIPS = ("bandai-namco/dataset-1/bvh/dataset-1_walk-left_tired_001.bvh",
         "bandai-namco/dataset-1/bvh/dataset-1_bye_feminine_001.bvh")


@pytest.fixture(scope="module")
def model_ready():
    if importlib.util.find_spec("a4mer.model") is None:
        pytest.skip("a4mer.model is not in this checkout yet")
    from a4mer.errors import A4merError
    try:
        from a4mer.model import A4Mer
        A4Mer.load(MODEL)
    except (A4merError, ImportError, OSError) as e:
        pytest.skip(f"the model cannot be loaded here: {e}")
    return True


@pytest.fixture(params=CLIPS, ids=["walk", "bye"])
def real_rig(request, scene, data_root, model_ready):
    from a4mer.api import load_motion
    path = data_root / request.param
    if not path.exists():
        pytest.skip(f"{path} not found")
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, load_motion(path).resample(30.0), scene, name=path.stem)
    return obj


def test_segment_operator_with_the_model(scene, real_rig):
    obj = real_rig
    prefs = bpy.context.preferences.addons["a4mer_blender"].preferences
    prefs.runner_mode, prefs.checkpoint_path, prefs.device = "IN_PROCESS", MODEL or "", "cpu"
    f0, T = armature.action_frames(obj.animation_data.action)
    frames = range(f0, f0 + T)
    before = pose_snapshot(obj, frames)
    assert bpy.ops.a4mer.segment() == {"FINISHED"}
    rec = nla.read_record(obj)
    tracks = [obj.animation_data.nla_tracks[t["name"]] for t in rec["tracks"]]
    assert [t.name for t in tracks] == ["A4Mer Atoms", "A4Mer Motifs"]
    for track in tracks:
        strips = sorted(track.strips, key=lambda s: s.frame_start)
        assert strips[0].frame_start == f0 and strips[-1].frame_end == f0 + T
        assert all(a.frame_end == b.frame_start for a, b in zip(strips, strips[1:]))
    assert np.abs(pose_snapshot(obj, frames) - before).max() < 1e-5
    n_atoms, n_motifs = len(tracks[0].strips), len(tracks[1].strips)
    assert n_atoms > (T / 30.0) / 2.0, f"{n_atoms} atoms in {T / 30.0:.1f} s"
    assert n_motifs < n_atoms


def test_in_process_and_worker_agree(scene, real_rig):
    if importlib.util.find_spec("a4mer.cli.segment") is None:
        pytest.skip("a4mer.cli.segment is not in this checkout yet")
    motion = armature.read_motion(real_rig, scene)
    common = dict(checkpoint=MODEL or "", device="cpu")
    here = runner.run_sync(motion, runner.RunnerSettings(mode="IN_PROCESS", **common))
    there = runner.run_sync(motion, runner.RunnerSettings(mode="WORKER", python=sys.executable, **common))
    assert here == there


def test_in_process_runs_load_the_model_once_until_its_file_changes(scene, real_rig, tmp_path, monkeypatch):
    """Segmenting clip after clip (a batch worker, an animator) loads the model once; a checkpoint
    rewritten under the same name (a training run's next one) is loaded again."""
    import shutil
    from a4mer.model import DEFAULT_BUNDLE, A4Mer
    bundle = tmp_path / "model.a4mer.safetensors"
    shutil.copyfile(MODEL or DEFAULT_BUNDLE, bundle)
    loads = []
    real = A4Mer.load.__func__
    monkeypatch.setattr(A4Mer, "load", classmethod(lambda cls, *a, **kw: loads.append(a) or real(cls, *a, **kw)))
    runner._loaded.cache_clear()
    motion = armature.read_motion(real_rig, scene)
    settings = runner.RunnerSettings(mode="IN_PROCESS", checkpoint=str(bundle), device="cpu")
    first = runner.run_sync(motion, settings)
    assert runner.run_sync(motion, settings) == first and len(loads) == 1
    os.utime(bundle, ns=(bundle.stat().st_atime_ns, bundle.stat().st_mtime_ns + 10**9))
    assert runner.run_sync(motion, settings) == first and len(loads) == 2
