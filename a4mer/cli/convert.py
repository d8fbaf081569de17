"""``a4mer convert INPUT... -o OUT``: any supported clip -> AMASS-style SMPL npz."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..floor import describe_shift
from ..io.amass import write_amass_npz
from ._common import (add_load_arguments, check_not_among_inputs, collect_inputs, load_clip, load_options,
                      output_targets, run_each)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="clips (.npz/.bvh/.amc) or folders of clips")
    p.add_argument("-o", "--output", required=True,
                   help="output .npz (one input), else a folder, created if missing: <name>.npz for each "
                        "clip (a path without .npz is a folder, also for one input)")
    p.add_argument("--fps", type=float, help="resample to this rate (by time); default: source rate")
    add_load_arguments(p)


def run(args: argparse.Namespace) -> int:
    inputs = collect_inputs(args.inputs, exclude=args.output)
    opts = load_options(args, fps=args.fps, inputs=inputs)  # a bad flag is one error before anything is read or made

    def convert(path, target) -> str:
        motion = load_clip(path, opts, "convert")
        write_amass_npz(motion, target)
        err = motion.meta.get("retarget_error_median_deg")
        extra = f", retarget error median {err:.2f} deg" if err is not None else ""
        if "floor_shift_m" in motion.meta:
            extra += ", " + describe_shift(motion.meta["floor_shift_m"])
        return f"{motion.num_frames} frames at {motion.fps:g} fps{extra}"

    out = Path(args.output)
    made = not out.exists()
    from ..io.amass import ALWAYS_WRITTEN, WRITTEN_KEYS
    from ..io.outputs import npz_within
    # in a folder, a name chosen here replaces only an npz this command writes (never the user's own AMASS file)
    targets = output_targets(inputs, args.output, replace=npz_within(*WRITTEN_KEYS, required=ALWAYS_WRITTEN))
    check_not_among_inputs(args.inputs, targets, args.output, "converted clips")
    rc = run_each("convert", inputs, targets, convert)
    if made and out.is_dir() and not any(out.iterdir()):  # every clip failed: no empty folder left
        out.rmdir()
    return rc
