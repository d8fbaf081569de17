"""Scripted use: a4mer_blender.headless imports a clip and writes the A4Mer tracks, saving a .blend."""
from __future__ import annotations

import json

import bpy
from a4mer.io import write_amass_npz
from a4mer_blender import headless
from a4mer_blender.bridge import nla
from bl_helpers import even_segments, smooth_motion


def test_headless_main(scene, tmp_path, capsys):
    clip = write_amass_npz(smooth_motion(T=40), tmp_path / "clip.npz")
    seg = tmp_path / "clip.segments.json"
    seg.write_text(json.dumps(even_segments(40, 30.0)))
    out = tmp_path / "out.blend"
    assert headless.main([str(clip), "--segments", str(seg), "--save", str(out)]) == 0
    assert "6 atoms" in capsys.readouterr().out and out.exists()
    obj = bpy.context.active_object
    assert len(nla.read_record(obj)["tracks"][0]["strips"]) == 6
    assert headless.main([str(tmp_path / "missing.npz")]) == 1


def test_headless_runs_the_model_as_the_preferences_say(scene, tmp_path, fake_python, monkeypatch, capsys):
    """The documented headless entry took the default settings whatever the preferences said (no worker,
    so 'needs torch'); ``--python`` names a worker there and then."""
    from a4mer_blender import runner
    monkeypatch.setenv("A4MER_FAKE_WORKER", "ok")
    monkeypatch.setattr(runner, "_import_model", lambda: (None, "torch is not installed in this Python"))
    clip = write_amass_npz(smooth_motion(T=40), tmp_path / "clip.npz")
    prefs = bpy.context.preferences.addons["a4mer_blender"].preferences
    prefs.runner_mode, prefs.worker_python, prefs.device = "WORKER", fake_python, "cpu"
    assert headless.main([str(clip)]) == 0
    argv = json.loads((tmp_path / "args.json").read_text())
    assert argv[argv.index("--device") + 1] == "cpu"
    prefs.runner_mode, prefs.worker_python = "AUTO", ""
    assert headless.main([str(clip)]) == 1 and "no worker interpreter is set" in capsys.readouterr().err
    assert headless.main([str(clip), "--python", fake_python]) == 0


def test_headless_warns_when_the_segments_were_made_for_another_clip(scene, tmp_path, capsys):
    clip = write_amass_npz(smooth_motion(T=40), tmp_path / "clip.npz")
    seg = tmp_path / "long.segments.json"
    seg.write_text(json.dumps(even_segments(70, 30.0)))
    assert headless.main([str(clip), "--segments", str(seg)]) == 0
    assert "made for another clip" in capsys.readouterr().err
