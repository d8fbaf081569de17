"""Shared CLI helpers: load options from flags, collect input files."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..api import FORMATS, LoadOptions
from ..errors import A4merError


def add_load_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of :class:`a4mer.api.LoadOptions`."""
    p.add_argument("--source-fps", type=float, help="override the frame rate stated in the file")
    p.add_argument("--asf", help="ASF skeleton of an AMC clip (default: beside it or in ../asf/)")
    p.add_argument("--bone-map", help="JSON map SMPL joint -> source joint for unknown skeletons")
    p.add_argument("--scale", type=float, help="root translation factor (default: SMPL/source leg length)")


def load_options(args: argparse.Namespace, fps: float | None = None) -> LoadOptions:
    return LoadOptions(fps=fps, source_fps=args.source_fps, asf=args.asf, bone_map=args.bone_map,
                       scale=args.scale)


def collect_inputs(items: list[str]) -> list[Path]:
    """Files given directly, plus every supported clip under given folders (sorted)."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in FORMATS and f.is_file()))
        else:
            out.append(p)
    if not out:
        raise A4merError("no input clips found in " + ", ".join(items))
    return out
