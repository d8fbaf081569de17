"""``a4mer embed INPUTS... -o OUT``: atom/motif/clip embeddings (frozen target encoder) as npz.
One input: OUT is the .npz file; several: OUT is a folder of ``<stem>.npz``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import A4merError
from ._common import add_load_arguments, collect_inputs, load_options
from .segment import add_model_arguments, load_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="clips (.npz/.bvh/.amc) or folders of clips")
    p.add_argument("-o", "--output", required=True, help="output .npz (one input) or folder (several)")
    add_model_arguments(p)
    add_load_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..api import load_motion

    inputs = collect_inputs(args.inputs)
    out = Path(args.output)
    many = len(inputs) > 1 or out.is_dir() or out.suffix.lower() != ".npz"
    if many:
        out.mkdir(parents=True, exist_ok=True)
    model = load_model(args)
    failed = 0
    for path in inputs:
        target = out / (path.stem + ".npz") if many else out
        try:
            emb = model.embed(load_motion(path, load_options(args)))
        except A4merError as e:
            failed += 1
            print(f"a4mer embed: error: {e}", file=sys.stderr)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        np.savez(target, **emb, model_hash=np.array(model.model_hash), vocab_hash=np.array(model.vocab.hash))
        print(f"{path} -> {target} ({len(emb['atom_tokens'])} atoms, {len(emb['motif_tokens'])} motifs)")
    return 1 if failed else 0
