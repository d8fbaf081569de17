"""Run in a separate process by test_extension.py: a Python that has bpy and numpy only.

    python -S -E ext_isolated.py SITE_PACKAGES EXTENSION.zip SEGMENTS.json

``-S`` skips site (no .pth files, so no editable a4mer); sys.path is cut down to the site-packages
that hold bpy and numpy, and an import hook refuses torch, scipy, matplotlib and any a4mer /
a4mer_blender outside the installed extension. Installs and enables the zip, imports every bundled
module, detects an MPI-style rig, keys a motion and writes strips from SEGMENTS.json. Prints one JSON
line with what it found; exits non-zero on any failure.
"""
import importlib.abc
import json
import sys

SITE, ZIP, SEGMENTS = sys.argv[1:4]
sys.path[:] = [p for p in sys.path if "python3" in p and "site-packages" not in p] + [SITE]
BLOCKED = ("torch", "scipy", "matplotlib", "a4mer", "a4mer_blender", "safetensors")


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the extension must run with bpy + numpy only")
        return None


sys.meta_path.insert(0, Blocker())
try:
    import scipy  # noqa: F401
    raise SystemExit("the import blocker does not work")
except ImportError:
    pass

import importlib  # noqa: E402
import pkgutil  # noqa: E402

import numpy as np  # noqa: E402

import bpy  # noqa: E402

bpy.ops.wm.read_factory_settings(use_empty=True)
res = bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
assert res == {"FINISHED"}, res
PKG = "bl_ext.user_default.a4mer_blender"
assert PKG in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
prefs = bpy.context.preferences.addons[PKG].preferences
out = {"installed": PKG, "runner_mode": prefs.runner_mode, "device": prefs.device}

core = importlib.import_module(PKG + "._core")
out["core"] = core.CORE
bundled = importlib.import_module(PKG + ".a4mer")
mods = [m.name for m in pkgutil.walk_packages(bundled.__path__, bundled.__name__ + ".")]
for m in mods:
    importlib.import_module(m)
out["core_modules"] = len(mods)

from bl_ext.user_default.a4mer_blender.a4mer.geometry import axis_angle_to_quat  # noqa: E402
from bl_ext.user_default.a4mer_blender.a4mer.motion import Motion  # noqa: E402
from bl_ext.user_default.a4mer_blender.bridge import armature, nla  # noqa: E402

scene = bpy.context.scene
scene.render.fps = 30
obj = armature.create_smpl_armature(bpy.context, name="SMPLX-neutral")
rig = armature.detect_rig(obj)
out["family"] = rig.family
t = np.arange(45) / 30.0
aa = 0.3 * np.sin(t[:, None, None] * np.linspace(1, 3, 72).reshape(1, 24, 3))
aa[:, 0, 0] += np.pi / 2
motion = Motion(30.0, np.stack([t, 0 * t, 0.9 + 0 * t], 1), axis_angle_to_quat(aa))
armature.write_motion(obj, motion, scene)
back = armature.read_motion(obj, scene)
out["roundtrip_err"] = float(np.abs(back.rotations - motion.rotations).max())
assert bpy.ops.a4mer.segment(segments_file=SEGMENTS) == {"FINISHED"}
rec = nla.read_record(obj)
out["tracks"] = [(t["name"], len(t["strips"])) for t in rec["tracks"]]
out["nla"] = [(t.name, len(t.strips)) for t in obj.animation_data.nla_tracks]
out["heavy_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("RESULT " + json.dumps(out))
