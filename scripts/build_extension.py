#!/usr/bin/env python
"""Build the Blender extension zip: the add-on plus a4mer's light core (numpy only).

    python scripts/build_extension.py [-o dist/] [--blender-ext PATH/blender_ext.py]

Stages ``a4mer_blender/`` + ``addon_manifest/blender_manifest.toml`` + ``LICENSE`` + ``a4mer/`` minus
:data:`CORE_EXCLUDE` (the torch-dependent and command-line parts) into a folder, then runs Blender's
extension CLI (``blender_ext.py build``, shipped inside Blender and inside the bpy module at
``bpy/<ver>/scripts/addons_core/bl_pkg/cli/``) on it. Inside the zip the core is the sub-package
``<addon>/a4mer`` (``a4mer_blender._core`` prefers it over an installed ``a4mer``).
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Paths under a4mer/ left out of the extension: they import torch (or are only for training,
#: benchmarks, the command line, dataset preparation or model weights). Everything else must import
#: with numpy only (tests/blender/test_extension.py imports every bundled module without torch/scipy).
CORE_EXCLUDE: tuple[str, ...] = (
    "nn", "jepa", "train", "heads", "bench", "data", "cli", "assets", "shipped.py",
    "model.py", "motifs/vocab.py", "motifs/training", "prepare.py", "__main__.py",
)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.tmp", ".*")


def find_blender_ext() -> Path:
    """``blender_ext.py`` of the installed bpy module."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bpy is not installed: pass --blender-ext PATH/blender_ext.py")
    hits = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not hits:
        raise SystemExit("blender_ext.py not found inside the bpy module: pass --blender-ext")
    return hits[-1]


def _excluded(rel: Path) -> bool:
    rel_s = rel.as_posix()
    return any(rel_s == e or rel_s.startswith(e.rstrip("/") + "/") for e in CORE_EXCLUDE)


def stage(dest: Path) -> Path:
    """Copy the extension's files into ``dest`` (created); returns it."""
    shutil.copytree(REPO / "a4mer_blender", dest, ignore=_IGNORE)
    shutil.copy2(REPO / "addon_manifest" / "blender_manifest.toml", dest / "blender_manifest.toml")
    shutil.copy2(REPO / "LICENSE", dest / "LICENSE")  # MIT: the notice travels with every copy
    src = REPO / "a4mer"
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if _excluded(rel) or "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
            continue
        out = dest / "a4mer" / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)
    return dest


def build(output_dir: Path, blender_ext: Path | None = None) -> Path:
    """Build the zip into ``output_dir``; returns its path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="a4mer_ext_") as tmp:
        src = stage(Path(tmp) / "a4mer_blender")
        cmd = [sys.executable, str(blender_ext or find_blender_ext()), "build", "--source-dir", str(src),
               "--output-dir", str(output_dir.resolve())]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"extension build failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        zips = sorted(output_dir.glob("a4mer_blender-*.zip"), key=lambda p: p.stat().st_mtime)
    return zips[-1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output-dir", default=str(REPO / "dist"), help="where the zip goes (default: dist/)")
    p.add_argument("--blender-ext", help="path to Blender's blender_ext.py (default: the bpy module's)")
    args = p.parse_args(argv)
    z = build(Path(args.output_dir), Path(args.blender_ext) if args.blender_ext else None)
    print(f"{z} ({z.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
