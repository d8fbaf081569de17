"""``a4mer embed INPUTS... -o OUT``: atom/motif/clip embeddings (frozen target encoder) as npz.
One input: OUT is the .npz file; several: OUT is a folder of ``<stem>.npz``."""
from __future__ import annotations

import argparse

import numpy as np

from ..wording import counted
from ._common import (add_load_arguments, check_not_among_inputs, collect_inputs, load_clip,
                      load_options, output_targets, run_each)
from .segment import add_model_arguments, load_model


#: the arrays of an embeddings npz (``A4Mer.embed``'s, with the model's hashes): the only npz a name embed
#: chooses in an output folder may replace (never e.g. the user's SMPL clip ``converted/walk.npz``)
WRITTEN_KEYS = ("atom_tokens", "atom_spans", "motif_tokens", "motif_spans", "clip_embedding",
                "reference_frames_dropped", "model_hash", "vocab_hash")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="clips (.npz/.bvh/.amc) or folders of clips")
    p.add_argument("-o", "--output", required=True, help="output .npz (one input), else a folder, created if missing: <name>.npz for each "
                        "clip (a path without .npz is a folder, also for one input)")
    add_model_arguments(p)
    add_load_arguments(p, twist=False)


def run(args: argparse.Namespace) -> int:
    from ..io.outputs import npz_within, save_npz_atomic

    inputs = collect_inputs(args.inputs, exclude=args.output)
    targets = output_targets(inputs, args.output, replace=npz_within(*WRITTEN_KEYS, required=("atom_tokens", "model_hash")))
    check_not_among_inputs(args.inputs, targets, args.output, "embeddings")
    opts = load_options(args, inputs=inputs)
    model = load_model(args)

    def embed(path, target) -> str:
        motion = load_clip(path, opts, "embed")
        emb = model.embed(motion)
        save_npz_atomic(target, **emb, model_hash=np.array(model.model_hash), vocab_hash=np.array(model.vocab.hash))
        return f"{counted(len(emb['atom_tokens']), 'atom')}, {counted(len(emb['motif_tokens']), 'motif')}"

    return run_each("embed", inputs, targets, embed)
