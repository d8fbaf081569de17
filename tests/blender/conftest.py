"""Blender tests: the bpy module, a fresh factory scene per test with the add-on enabled."""
from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module is not installed (pip install a4mer[blender])")

HERE = __import__("pathlib").Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Every test in this folder carries the ``blender`` marker (``-m "not blender"`` skips them)."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.blender)


@pytest.fixture
def scene():
    """A fresh empty factory scene at 30 fps, frame 1, with the a4mer_blender add-on enabled."""
    import addon_utils
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("a4mer_blender", default_set=True, handle_error=None)
    assert "a4mer_blender" in bpy.context.preferences.addons
    sc = bpy.context.scene
    sc.render.fps, sc.render.fps_base = 30, 1.0
    sc.frame_start, sc.frame_current = 1, 1
    yield sc
    addon_utils.disable("a4mer_blender", default_set=True, handle_error=None)


@pytest.fixture
def fake_python(tmp_path, monkeypatch):
    """An executable that behaves like ``PY -m a4mer segment ...`` (see fake_worker.py)."""
    import stat
    import sys
    exe = tmp_path / "python"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_worker.py"}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("A4MER_FAKE_ARGS", str(tmp_path / "args.json"))
    return str(exe)
