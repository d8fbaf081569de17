"""The extension zip (scripts/build_extension.py) installs and works in a Python with bpy + numpy only."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bl_helpers import even_segments

REPO = Path(__file__).resolve().parents[2]


def _build_module():
    spec = importlib.util.spec_from_file_location("build_extension", REPO / "scripts" / "build_extension.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ext_zip(tmp_path_factory):
    return _build_module().build(tmp_path_factory.mktemp("dist"))


def test_zip_layout(ext_zip):
    build = _build_module()
    names = set(zipfile.ZipFile(ext_zip).namelist())
    assert {"blender_manifest.toml", "LICENSE", "__init__.py", "bridge/anim_compat.py", "a4mer/rig.py", "a4mer/strips.py",
            "a4mer/motion.py"} <= names
    for ex in build.CORE_EXCLUDE:
        assert not any(n == f"a4mer/{ex}" or n.startswith(f"a4mer/{ex.rstrip('/')}/") for n in names), ex
    assert not any("__pycache__" in n for n in names)


def test_installs_and_runs_without_torch(ext_zip, tmp_path):
    site = Path(importlib.util.find_spec("bpy").origin).parents[1]
    seg = tmp_path / "clip.segments.json"
    seg.write_text(json.dumps(even_segments(45, 30.0, atom_len=8)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLENDER"))}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "blender_user")
    res = subprocess.run([sys.executable, "-S", "-E", str(Path(__file__).with_name("ext_isolated.py")), str(site),
                          str(ext_zip), str(seg)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    assert out["installed"] == "bl_ext.user_default.a4mer_blender" and out["runner_mode"] == "AUTO"
    assert out["core"] == "bl_ext.user_default.a4mer_blender.a4mer" and out["core_modules"] > 10
    assert out["family"] == "smpl" and out["roundtrip_err"] < 1e-5
    seg_d = json.loads(seg.read_text())
    assert out["tracks"] == [["A4Mer Atoms", len(seg_d["atoms"])], ["A4Mer Motifs", len(seg_d["motifs"])]]
    assert out["nla"] == out["tracks"] and out["heavy_loaded"] == []
    assert (tmp_path / "blender_user").is_dir()


def test_installed_extension_segments_in_blenders_python_with_torch(ext_zip, tmp_path):
    """With torch and a4mer in Blender's Python, the installed extension segments in process: it read
    the clip with its bundled core, whose Motion the installed model refused ("got Motion")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLENDER")}
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "blender_user")
    res = subprocess.run([sys.executable, str(Path(__file__).with_name("ext_in_process.py")), str(ext_zip)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    out = json.loads(next(ln for ln in res.stdout.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    assert out == {"core": "bl_ext.user_default.a4mer_blender.a4mer", "mode": "IN_PROCESS", "atoms_end": 90}


def test_in_blender_mode_without_torch_is_a_clear_error(monkeypatch):
    from a4mer.errors import A4merError
    from a4mer_blender import runner
    monkeypatch.setattr(runner, "_import_model", lambda: (None, "torch is not installed in this Python"))
    with pytest.raises(A4merError, match=r"In Blender needs torch.*\(torch is not installed in this Python\).*choose Worker process"):
        runner.resolve_mode(runner.RunnerSettings(mode="IN_PROCESS"))
