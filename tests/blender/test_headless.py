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
