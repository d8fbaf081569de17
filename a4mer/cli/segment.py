"""``a4mer segment INPUT [-o OUT.json] [--vocab VOCAB]``: atoms and motifs of a clip, written as the
canonical segment file (``<stem>.segments.json`` in the current folder by default)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..io.outputs import a4mer_json, check_output, write_text_atomic
from ..wording import counted
from ._common import add_load_arguments, load_clip, load_options, named_files


def add_model_arguments(p: argparse.ArgumentParser, what: str = "model bundle (.safetensors) or training folder "
                        "(default: the shipped model)") -> None:
    """--checkpoint, --vocab, --device (shared by segment, embed, motifs, inbetween and extend)."""
    p.add_argument("--checkpoint", help=what)
    p.add_argument("--vocab", help="motif vocabulary (.safetensors) built for this model")
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, mps or auto")


def load_model(args: argparse.Namespace):
    from ..model import A4Mer

    return A4Mer.load(args.checkpoint, device=args.device, vocab=args.vocab)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="clip (.npz/.bvh/.amc)")
    p.add_argument("-o", "--output", help="output JSON (default: ./<stem>.segments.json)")
    add_model_arguments(p)
    p.add_argument("--progress-jsonl", action="store_true",
                   help='print progress as JSON lines {"progress": 0.4, "message": "..."} on stdout')
    add_load_arguments(p, twist=False)


def run(args: argparse.Namespace) -> int:

    jsonl = args.progress_jsonl

    def progress(fraction: float, message: str) -> None:
        if jsonl:
            print(json.dumps({"progress": round(float(fraction), 4), "message": message}), flush=True)

    src = Path(args.input)
    out = check_output(args.output if args.output is not None else src.stem + ".segments.json",
                       [src, *named_files(args)], [".json"],
                       replace=args.output is not None or a4mer_json("atoms", "motifs", "model_hash", without=("head_classes",)))
    progress(0.0, "loading model")
    model = load_model(args)
    progress(0.05, f"reading {src.name}")
    motion = load_clip(src, load_options(args, inputs=[src]), "segment")
    record = model.segment(motion, progress=lambda f, m: progress(0.1 + 0.85 * f, m))
    write_text_atomic(out, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    progress(1.0, f"wrote {out}")
    n_atoms, n_motifs = len(record["atoms"]), len(record["motifs"])
    msg = (f"{src} -> {out} ({counted(n_atoms, 'atom')}, {counted(n_motifs, 'motif')}, "
           f"{record['duration']:.2f} s)")
    print(msg, file=sys.stderr if jsonl else sys.stdout)
    return 0
