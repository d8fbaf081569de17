"""Add-on preferences, looked up by ``__package__`` (an installed extension's module is
``bl_ext.<repo>.<id>``, a development install's is ``a4mer_blender``); defaults when absent."""
from __future__ import annotations

import os
from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from .runner import RunnerSettings

ADDON_ID = __package__


class A4MerPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    checkpoint_path: StringProperty(name="Checkpoint", subtype="FILE_PATH", default="",
                                    description="Model checkpoint (.safetensors); empty = the shipped default")
    vocab_path: StringProperty(name="Motif vocabulary", subtype="FILE_PATH", default="",
                               description="Motif vocabulary file; empty = the one in the checkpoint")
    runner_mode: EnumProperty(name="Run the model", default="AUTO", items=[
        ("AUTO", "Automatic", "In Blender's Python when torch imports there, else the worker interpreter"),
        ("IN_PROCESS", "In Blender", "Import torch in Blender's own Python"),
        ("WORKER", "Worker process", "Run a separate Python that has a4mer and torch")])
    worker_python: StringProperty(name="Worker Python", subtype="FILE_PATH", default="",
                                  description="Python interpreter with a4mer and torch installed (e.g. a CUDA venv)")
    device: EnumProperty(name="Device", default="auto", items=[
        ("auto", "Automatic", "CUDA when available, else CPU"), ("cpu", "CPU", ""), ("cuda", "CUDA", ""),
        ("mps", "Apple MPS", "")])

    def draw(self, context):
        col = self.layout.column()
        for prop in ("checkpoint_path", "vocab_path", "runner_mode", "worker_python", "device"):
            col.prop(self, prop)


def worker_python(path: str) -> str:
    """The interpreter a Worker Python setting means: a path pasted with quotes (Windows Explorer's "Copy as
    path") without them; a virtual environment's or Python installation's folder, its python executable."""
    p = Path(path)
    if path and p.is_dir():
        for rel in ("Scripts/python.exe", "bin/python3", "bin/python", "python.exe"):
            if (p / rel).is_file():
                return str(p / rel)
    return path


def get_settings(context=None) -> RunnerSettings:
    """The runner settings from the preferences, or the defaults when the add-on is not registered
    as an add-on (e.g. imported by a script)."""
    context = context or bpy.context
    entry = context.preferences.addons.get(ADDON_ID)
    prefs = getattr(entry, "preferences", None)
    if prefs is None or not hasattr(prefs, "runner_mode"):
        return RunnerSettings()
    return RunnerSettings(mode=prefs.runner_mode, python=worker_python(setting_path(prefs.worker_python)),
                          checkpoint=setting_path(prefs.checkpoint_path), vocab=setting_path(prefs.vocab_path),
                          device=prefs.device)


def setting_path(value: str) -> str:
    """A path setting as an absolute path ("" when empty): quotes of a pasted path stripped, ``~`` expanded,
    Blender's ``//`` relative to the .blend (an unsaved one: the current folder), anything else relative to
    the current folder; read alike in Blender and by the worker, which runs in a folder of its own."""
    v = os.path.expanduser(value.strip().strip('"'))
    if not v:
        return ""
    if v.startswith("//"):
        v = bpy.path.abspath(v) if bpy.data.filepath else v[2:]
    return os.path.abspath(v)


classes = (A4MerPreferences,)
