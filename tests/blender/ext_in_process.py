"""Run in a separate process by test_extension.py: the installed extension in a Python that also has
torch and an installed a4mer (what the README's "runs in Blender's Python when torch imports there"
means). Segments a clip in Blender's Python through the extension's runner; prints one JSON line.

    python ext_in_process.py EXTENSION.zip
"""
import json
import sys

import numpy as np

import bpy

bpy.ops.wm.read_factory_settings(use_empty=True)
assert bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default",
                                                enable_on_install=True) == {"FINISHED"}
PKG = "bl_ext.user_default.a4mer_blender"
import importlib  # noqa: E402

runner = importlib.import_module(PKG + ".runner")
core = importlib.import_module(PKG + "._core")
from bl_ext.user_default.a4mer_blender.a4mer.geometry import axis_angle_to_quat  # noqa: E402
from bl_ext.user_default.a4mer_blender.a4mer.motion import Motion  # noqa: E402

t = np.arange(90) / 30.0
aa = 0.3 * np.sin(t[:, None, None] * np.linspace(1, 3, 72).reshape(1, 24, 3))
aa[:, 0, 0] += np.pi / 2
motion = Motion(30.0, np.stack([t, 0 * t, 0.9 + 0 * t], 1), axis_angle_to_quat(aa))
settings = runner.RunnerSettings(mode="IN_PROCESS", device="cpu")
out = {"core": core.CORE, "mode": runner.resolve_mode(settings)}
seg = runner.run_sync(motion, settings)
out["atoms_end"] = seg["atoms"][-1]["end_frame"]
print("RESULT " + json.dumps(out), flush=True)
# leave without the interpreter's teardown: torch's thread pool and the bpy module, unloaded in turn,
# now and then abort the process at exit ("terminate called without an active exception"), after the
# work is done; Blender itself exits its own way
import os  # noqa: E402

os._exit(0)
