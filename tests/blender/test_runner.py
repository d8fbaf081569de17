"""Runner: worker subprocess plumbing (JSON-lines progress, result file, errors, cancel = kill) through a
stand-in worker, the operator's synchronous path with worker preferences, and mode resolution."""
from __future__ import annotations

import os
import time

import pytest

import bpy
from a4mer.errors import A4merError
from a4mer_blender import runner
from a4mer_blender.bridge import armature, nla
from bl_helpers import make_row_rig, smooth_motion


def test_worker_result_and_progress(fake_python, monkeypatch, tmp_path):
    monkeypatch.setenv("A4MER_FAKE_WORKER", "ok")
    seen = []
    motion = smooth_motion(T=33)
    seg = runner.run_sync(motion, runner.RunnerSettings(mode="WORKER", python=fake_python, checkpoint="/ck.safetensors",
                                                        device="cuda"), on_progress=lambda p, m: seen.append((p, m)))
    assert seg["atoms"][-1]["end_frame"] == 33 and seg["fps"] == 30.0
    progress = [p for p, _ in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0 and seen[-1][1] == "done"
    import json
    argv = json.loads((tmp_path / "args.json").read_text())
    assert argv[:3] == ["-m", "a4mer", "segment"] and "--progress-jsonl" in argv
    assert argv[argv.index("--checkpoint") + 1] == "/ck.safetensors" and argv[argv.index("--device") + 1] == "cuda"


def test_worker_that_cannot_start_is_one_error_and_leaves_no_folder(tmp_path, monkeypatch):
    """A missing interpreter, a folder or a file without execute permission: one A4merError naming it,
    and the job's temporary folder (with the clip in it) is gone."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    plain = tmp_path / "not_executable"
    plain.write_text("#!/bin/sh\n")
    for py, msg in ((str(tmp_path / "none"), "not found"), (str(tmp_path), "is a folder"),
                    (str(plain), "cannot be run")):
        with pytest.raises(A4merError, match=f"worker interpreter .* {msg}"):
            runner.run_sync(smooth_motion(T=10), runner.RunnerSettings(mode="WORKER", python=py))
        with pytest.raises(A4merError, match=msg):
            runner.run_heads_sync(smooth_motion(T=10), runner.RunnerSettings(mode="WORKER", python=py), "extend",
                                  ["--frames", "5"])
    assert list((tmp_path / "tmp").iterdir()) == []


def test_heads_jobs_take_the_model_settings_with_a_motif(fake_python):
    s = runner.RunnerSettings(mode="WORKER", python=fake_python, checkpoint="/ck.safetensors", vocab="/v.safetensors")
    plain = runner.HeadsJob(smooth_motion(T=10), s, "extend", ["--frames", "5"])
    motif = runner.HeadsJob(smooth_motion(T=10), s, "extend", ["--frames", "5", "--motif", "3"])
    try:
        assert "--checkpoint" not in plain.argv()  # the heads read no model
        argv = motif.argv()
        assert argv[argv.index("--checkpoint") + 1] == "/ck.safetensors" and argv[argv.index("--vocab") + 1] == "/v.safetensors"
    finally:
        plain.cleanup()
        motif.cleanup()


def test_worker_failure_is_reported(fake_python, monkeypatch):
    """Word for word, also where the worker Python would write its Windows code page (the worker is told
    PYTHONUTF8=1 and read as UTF-8, as Blender's own Python reads it: a path with an Ł was 'no message')."""
    monkeypatch.setenv("A4MER_FAKE_WORKER", "fail")
    with pytest.raises(A4merError, match=r"worker exited with code 3: .*boom: bad checkpoint C:\\Users\\Łukasz\\m"):
        runner.run_sync(smooth_motion(T=10), runner.RunnerSettings(mode="WORKER", python=fake_python))


def test_cancel_kills_worker_and_changes_nothing(scene, fake_python, monkeypatch):
    monkeypatch.setenv("A4MER_FAKE_WORKER", "slow")
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=20), scene)
    job = runner.Job(armature.read_motion(obj, scene), runner.RunnerSettings(mode="WORKER", python=fake_python)).start()
    deadline = time.time() + 120  # a worker starting on a busy 2-core machine
    while job.poll().progress < 0.2 and time.time() < deadline:
        time.sleep(0.05)
    assert job.state.progress == pytest.approx(0.2) and not job.state.done
    pid = job._proc.pid
    job.cancel()
    assert job._proc.poll() is not None and job.state.done and job.state.error == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not job.dir.exists()
    assert obj.animation_data.nla_tracks.__len__() == 0 and nla.RECORD_KEY not in obj


def _running(marker: str) -> list[int]:
    """Pids of the processes whose command line holds ``marker``."""
    found = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(d))
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_cancel_and_an_interrupted_wait_stop_what_a_launcher_started(fake_python, monkeypatch, tmp_path):
    """A Worker Python that is a launcher starting Python as its child (a wrapper script setting variables,
    Windows' py.exe): Esc killed the launcher and left the Python running, as did a Ctrl-C in the
    synchronous path (the worker was not stopped at all)."""
    monkeypatch.setenv("A4MER_FAKE_WORKER", "slow")
    launcher = tmp_path / "launcher"
    launcher.write_text(f'#!/bin/sh\nexport A4MER_X=1\n"{fake_python}" "$@"\n')  # no exec: Python is its child
    launcher.chmod(0o755)
    settings = runner.RunnerSettings(mode="WORKER", python=str(launcher))
    job = runner.Job(smooth_motion(T=10), settings).start()
    deadline = time.time() + 120
    while job.poll().progress < 0.2 and time.time() < deadline:
        time.sleep(0.05)
    clip = str(job.clip)
    assert _running(clip)
    job.cancel()
    time.sleep(0.2)
    assert _running(clip) == []

    def interrupt(progress, message):
        if progress >= 0.2:
            raise KeyboardInterrupt
    before = set(_running("fake_worker.py"))
    with pytest.raises(KeyboardInterrupt):
        runner.run_sync(smooth_motion(T=10), settings, on_progress=interrupt)
    time.sleep(0.2)
    assert set(_running("fake_worker.py")) <= before


@pytest.mark.parametrize("mode, message", [
    ("bad progress", None), ("list", r"not a segments record \(a JSON object\), but a list"),
    ("silent", r"exited with code 0 without writing a result: no message \(Worker Python .* must be a Python 3.11")])
def test_odd_worker_output_is_ignored_or_named(fake_python, monkeypatch, mode, message):
    """Progress that is not a number ("half", null) raised a TypeError out of the poll loop (a traceback, and
    the modal operator's timer, progress bar and worker left behind); a JSON list as the result was an
    AttributeError; a worker exiting 0 without a result said nothing of what Worker Python is."""
    monkeypatch.setenv("A4MER_FAKE_WORKER", mode)
    settings = runner.RunnerSettings(mode="WORKER", python=fake_python)
    if message is None:
        assert runner.run_sync(smooth_motion(T=20), settings)["atoms"]
    else:
        with pytest.raises(A4merError, match=message):
            runner.run_sync(smooth_motion(T=20), settings)


def test_path_settings_are_absolute_with_home_and_blend_relative_paths(scene, tmp_path, monkeypatch):
    """A relative Worker Python or checkpoint was looked up from Blender's folder by the check and the
    in-process run, but from its job folder by the worker; ``~`` was not expanded."""
    from a4mer_blender.preferences import setting_path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert setting_path(" models/m.safetensors ") == str(tmp_path / "models" / "m.safetensors")
    assert setting_path('"~/py/bin/python"') == str(tmp_path / "home" / "py" / "bin" / "python")
    assert setting_path("//m.safetensors") == str(tmp_path / "m.safetensors")  # an unsaved .blend
    (tmp_path / "shots").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shots" / "a.blend"))
    assert setting_path("//m.safetensors") == str(tmp_path / "shots" / "m.safetensors")
    assert setting_path("") == ""


def test_operator_runs_worker_from_preferences(scene, fake_python, monkeypatch):
    monkeypatch.setenv("A4MER_FAKE_WORKER", "ok")
    prefs = bpy.context.preferences.addons["a4mer_blender"].preferences
    prefs.runner_mode, prefs.worker_python = "WORKER", fake_python
    obj, _ = make_row_rig("mpi_body_only")
    armature.write_motion(obj, smooth_motion(T=42), scene)
    assert bpy.ops.a4mer.segment() == {"FINISHED"}
    rec = nla.read_record(obj)
    assert rec["segments"]["model_hash"] == "fake" and len(rec["tracks"][0]["strips"]) == 9


def test_worker_python_pasted_with_quotes_or_given_as_a_folder(scene, tmp_path, fake_python):
    """Windows Explorer's "Copy as path" pastes ``"C:\\...\\python.exe"`` with the quotes, and people give a
    virtual environment's folder: both were "not found"."""
    from a4mer_blender.preferences import get_settings
    prefs = bpy.context.preferences.addons["a4mer_blender"].preferences
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").symlink_to(fake_python)
    try:
        for given, want in ((f'"{fake_python}"', fake_python), (f" {venv} ", str(venv / "bin" / "python3"))):
            prefs.worker_python = given
            assert get_settings().python == want
    finally:
        prefs.worker_python = ""


def test_auto_mode_without_torch_needs_a_worker(monkeypatch):
    monkeypatch.setattr(runner, "_import_model", lambda: (None, "torch is not installed in this Python"))
    with pytest.raises(A4merError, match="no worker interpreter is set"):
        runner.resolve_mode(runner.RunnerSettings())
    # a model that fails to import for another reason is named as such, not as a missing torch
    monkeypatch.setattr(runner, "_import_model", lambda: (None, "importing a4mer.model failed: ImportError: libcuda"))
    with pytest.raises(A4merError, match=r"\(importing a4mer.model failed: ImportError: libcuda\)"):
        runner.resolve_mode(runner.RunnerSettings(mode="IN_PROCESS"))
    assert runner.resolve_mode(runner.RunnerSettings(python="/x/python")) == "WORKER"
    with pytest.raises(A4merError, match="unknown runner mode"):
        runner.resolve_mode(runner.RunnerSettings(mode="GPU"))


def test_default_settings_when_addon_absent(scene):
    from a4mer_blender.preferences import get_settings
    import addon_utils
    assert get_settings().mode == "AUTO"
    addon_utils.disable("a4mer_blender", default_set=True)
    assert get_settings() == runner.RunnerSettings()


def test_in_process_and_worker_give_identical_segments(scene, fake_python, monkeypatch):
    """Both paths start from the same clip file: a stand-in model whose output hashes the exact input
    values gives the same segments in Blender's Python and in the worker."""
    import fake_model
    monkeypatch.setenv("A4MER_FAKE_WORKER", "model")
    monkeypatch.setattr(runner, "_import_model", lambda: (fake_model, ""))
    obj, _ = make_row_rig("fbx_m_avg")
    armature.write_motion(obj, smooth_motion(T=75, seed=13), scene)
    motion = armature.read_motion(obj, scene)
    settings = dict(vocab="/v.safetensors", device="cpu")
    here = runner.run_sync(motion, runner.RunnerSettings(mode="AUTO", **settings))
    there = runner.run_sync(motion, runner.RunnerSettings(mode="WORKER", python=fake_python, **settings))
    assert len(here["atoms"]) >= 3 and here["vocab_hash"] == "/v.safetensors"
    assert here == there
    assert fake_model.A4Mer.calls[-1] == {"path": None, "device": "cpu", "vocab": "/v.safetensors"}
