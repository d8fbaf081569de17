"""``a4mer label INPUT --head HEAD [-o OUT.json]``: label a clip's frames, atoms and motifs with a
recognition head (a4mer.heads.recognition) trained on the tokens of the same model.

The output (default ``./<stem>.labels.json``) holds the class names, one label index and confidence
per input frame, runs of one label, every atom and motif with its label (mean class probability
over its frames, top 3) and the label of the whole clip; frames index the input at its own fps.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..errors import A4merError
from ..io.outputs import a4mer_json, check_output, write_text_atomic
from ..wording import counted
from ._common import add_load_arguments, load_clip, load_options, named_files
from .segment import add_model_arguments, load_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="clip (.npz/.bvh/.amc)")
    p.add_argument("--head", required=True, help="recognition head (.safetensors, from a4mer label-train)")
    p.add_argument("-o", "--output", help="output JSON (default: ./<stem>.labels.json)")
    p.add_argument("--switch-penalty", type=float, default=None, metavar="NATS",
                   help="what a change of label costs when frames are labelled (default 4: a frame or two of "
                        "another label inside an action does not start a run; 0: each frame's own most likely label)")
    add_model_arguments(p)
    add_load_arguments(p, twist=False)


def run(args: argparse.Namespace) -> int:
    from ..heads.recognition import SWITCH_PENALTY, RecognitionHead, check_head_fits, label_clip

    penalty = SWITCH_PENALTY if args.switch_penalty is None else args.switch_penalty
    if not (math.isfinite(penalty) and penalty >= 0):  # before the model loads
        raise A4merError(f"--switch-penalty must be a number >= 0 (nats), got {args.switch_penalty:g}")
    src = Path(args.input)
    out = check_output(args.output if args.output is not None else src.stem + ".labels.json",
                       [src, *named_files(args)], [".json"],
                       replace=args.output is not None or a4mer_json("head_classes", "clip", "model_hash"))
    head = RecognitionHead.load(args.head)
    model = load_model(args)
    check_head_fits(model, head, args.head)  # before the clip is read: a head of another model is named
    motion = load_clip(src, load_options(args, inputs=[src]), "label")
    record = label_clip(model, head, motion, penalty)
    write_text_atomic(out, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    c = record["clip"]
    print(f"{src} -> {out}: {c['label']} ({c['confidence']:.2f}); {counted(len(record['runs']), 'label run')}, "
          f"{counted(len(record['atoms']), 'atom')}, {counted(len(record['motifs']), 'motif')}", file=sys.stdout)
    return 0
