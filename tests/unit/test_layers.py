"""The core never imports bpy; the light core imports without torch (and without scipy)."""
import subprocess
import sys

LIGHT = ["a4mer", "a4mer.api", "a4mer.motion", "a4mer.geometry", "a4mer.skeleton", "a4mer.io", "a4mer.io.source",
         "a4mer.retarget", "a4mer.prepare", "a4mer.cli.main", "a4mer.cli.convert", "a4mer.cli.info",
         # what the Blender add-on imports (a4mer_blender._core and its users)
         "a4mer.gaps", "a4mer.floor", "a4mer.batch", "a4mer.rig", "a4mer.strips", "a4mer.errors"]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_light_core_imports_without_torch_scipy_bpy():
    mods = LIGHT + ["a4mer.io.bvh", "a4mer.io.asfamc", "a4mer.segment.atoms"]
    code = ("import sys, importlib.abc\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'scipy', 'bpy', 'mathutils'):\n"
            "            raise ImportError('blocked ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            f"for m in {mods!r}: __import__(m)\n"
            "print('ok')")
    r = _run(code)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr


def test_no_module_of_a4mer_imports_bpy():
    code = ("import pkgutil, importlib, sys, a4mer\n"
            "for m in pkgutil.walk_packages(a4mer.__path__, 'a4mer.'):\n"
            "    if m.name.endswith('__main__'): continue\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('bpy', 'mathutils', 'bpy_extras')]\n"
            "print('BAD', bad) if bad else print('ok')")
    r = _run(code)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr
