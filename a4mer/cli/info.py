"""``a4mer info INPUT``: fps, frames, duration, skeleton, detected scheme and retarget error."""
from __future__ import annotations

import argparse
import json

import numpy as np

from ..api import load_motion
from ._common import add_load_arguments, load_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a clip (.npz/.bvh/.amc)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_load_arguments(p)


def summarize(motion) -> dict:
    """Plain summary of a Motion (what ``a4mer info`` prints)."""
    pos = motion.joint_positions()
    meta = motion.meta
    out = {
        "source": meta.get("source"), "format": meta.get("source_format"),
        "fps": motion.fps, "source_fps": meta.get("source_fps", motion.fps), "frames": motion.num_frames,
        "duration_s": round(motion.duration, 4), "skeleton": f"{motion.skeleton.name} ({motion.num_joints} joints)",
        "scheme": meta.get("scheme", "smpl (npz)"),
        "retarget_error_median_deg": meta.get("retarget_error_median_deg"),
        "twist_calibration": meta.get("retarget_twist"),
        "root_travel_m": round(float(np.linalg.norm(np.diff(motion.root_translation[:, :2], axis=0), axis=-1).sum()), 4),
        "mean_pelvis_height_m": round(float(pos[:, 0, 2].mean()), 4),
    }
    if meta.get("asf"):  # the skeleton an AMC was read with, and where it was found
        out["asf"] = f"{meta['asf']} ({meta.get('asf_found', 'given')})"
    if meta.get("no_trans"):
        out["note"] = "no 'trans' array in the file: the root stays at the origin"
    if meta.get("reference_frames_dropped"):  # the file's rest-pose lead-in
        out["reference_frames_dropped"] = int(meta["reference_frames_dropped"])
    if "floor_shift_m" in meta:  # --floor
        out["floor_shift_m"] = round(meta["floor_shift_m"], 4) + 0.0  # never -0.0
    if meta.get("retarget_twist_from_clip"):  # joints the mocap solver held turned through the take
        out["twist_from_clip"] = list(meta["retarget_twist_from_clip"])
    if "retarget_error_deg" in meta:
        worst = sorted(meta["retarget_error_deg"].items(), key=lambda kv: -kv[1])[:3]
        out["worst_bones_deg"] = dict(worst)
    return out


def run(args: argparse.Namespace) -> int:
    opts = load_options(args, inputs=[args.input])
    info = summarize(load_motion(args.input, opts))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for k, v in info.items():
            if v is not None:  # what does not apply (the retarget check of an npz): left out, not "None"
                print(f"{k:<{width}}  {v}")
    return 0
