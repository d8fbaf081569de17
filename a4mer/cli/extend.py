"""``a4mer extend INPUT --frames N -o OUT.npz``: the input frames unchanged, then N new frames.

The new frames continue the motion from (at least 1 s of) context; with ``--motif ID`` they perform
that motif of the installed model's vocabulary (its prototype placed at the last input frame,
time-stretched to N frames or looped when N is >= 1.5x its length, blended in from the
unconditioned continuation over the first 0.4 s). A quality sidecar ``OUT.quality.json`` is written next to the output.
"""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np

from ..errors import A4merError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._common import add_load_arguments
    from .inbetween import HEADS_HELP, add_motif_arguments
    p.add_argument("input", help="clip (npz/bvh/amc)")
    p.add_argument("--frames", type=int, required=True, help="number of frames to add (at the clip's frame rate; at most 60 s)")
    p.add_argument("-o", "--output", required=True, help="output .npz")
    p.add_argument("--motif", help="motif id the new frames should perform (see a4mer.heads.motif_conditioned)")
    p.add_argument("--heads", default="auto", help=HEADS_HELP)
    add_motif_arguments(p)
    add_load_arguments(p, lead_in=False)


def run(args: argparse.Namespace) -> int:
    from ..heads.cycle import HANDOVER_S
    from ..heads.inbetween import A4merWarning
    from ..heads.npz_out import check_output, write_result
    from ..heads.quality import ClipQuality, write_with_sidecar
    from ._common import load_clip, load_options, named_files, naming
    from .inbetween import check_model_flags, check_motif, faded_method, motif_conditioner, resolve_heads

    try:
        motif = check_motif(args.motif, args)
    except A4merError as e:
        raise naming(args.input, e) from None
    check_model_flags(args, motif, "extend")
    check_output(args.input, args.output, named_files(args))
    opts = load_options(args, inputs=[args.input], whole=True)  # output frames = the file's frames
    motion = load_clip(args.input, opts, "extend")
    heads = resolve_heads(args.heads)
    mc = motif_conditioner(heads, motif, args) if motif is not None else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", A4merWarning)
            result = (heads.extend_clip(motion, args.frames) if mc is None
                      else mc.extend_clip(motion, args.frames, motif))
    except A4merError as e:
        raise naming(args.input, e) from None
    for w in result.meta.get("warnings", []):
        print(f"a4mer extend: warning: {w}", file=sys.stderr)
    T = motion.num_frames
    gen = np.arange(T, T + args.frames)
    share = result.meta.get("learned_share")
    if not heads.learned_for("extend"):
        method = "damped constant velocity (learned correction gated off)"
    else:
        method = faded_method("damped constant velocity", heads, share) or heads.name
    cycle = result.meta.get("cycle")
    played = mc is not None and bool(result.meta["motif"]["played_spans"])  # else too short: the plain one
    if cycle and args.frames / motion.fps > HANDOVER_S[0] and not played:  # the motif takes over before it
        method += (f", handing over to the input's repeating cycle (period {cycle['period_s']:.2f} s) "
                   f"between {HANDOVER_S[0]:g} and {HANDOVER_S[1]:g} s")
    if played:
        method = f"motif {motif} prototype blended from the {method}"
    extra = {"learned_share": share} | ({"motif": result.meta["motif"]} if mc is not None else {})
    out, side = write_with_sidecar(
        lambda: write_result(args.input, motion, result, gen, args.output),
        lambda stored: ClipQuality(motion, stored, gen).span(T, T + args.frames - 1, task="extend", method=method,
                                                             keys=[T - 1], warnings=result.meta.get("warnings", []),
                                                             extra=extra))
    print(f"wrote {out} ({result.num_frames} frames at {result.fps:g} fps, {args.frames} new) and {side}")
    return 0
