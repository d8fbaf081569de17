"""``a4mer convert INPUT... -o OUT``: any supported clip -> AMASS-style SMPL npz."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..api import load_motion
from ..errors import A4merError
from ..io.amass import write_amass_npz
from ._common import add_load_arguments, collect_inputs, load_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="clips (.npz/.bvh/.amc) or folders of clips")
    p.add_argument("-o", "--output", required=True,
                   help="output .npz (one input) or folder (several inputs: <stem>.npz each)")
    p.add_argument("--fps", type=float, help="resample to this rate (by time); default: source rate")
    add_load_arguments(p)


def run(args: argparse.Namespace) -> int:
    inputs = collect_inputs(args.inputs)
    out = Path(args.output)
    many = len(inputs) > 1 or out.is_dir() or out.suffix.lower() != ".npz"
    if many:
        out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in inputs:
        target = out / (path.stem + ".npz") if many else out
        try:
            motion = load_motion(path, load_options(args, fps=args.fps))
            write_amass_npz(motion, target)
        except A4merError as e:
            failed += 1
            print(f"a4mer convert: error: {e}", file=sys.stderr)
            continue
        err = motion.meta.get("retarget_error_median_deg")
        extra = f", retarget error median {err:.2f} deg" if err is not None else ""
        print(f"{path} -> {target} ({motion.num_frames} frames at {motion.fps:g} fps{extra})")
    if failed:
        print(f"a4mer convert: {failed} of {len(inputs)} clips failed", file=sys.stderr)
    return 1 if failed else 0
