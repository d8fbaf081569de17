"""``a4mer label-train CLIPS... -o HEAD.safetensors [--labels LABELS.csv] [--holdout 0.2]``: train a
recognition head on your own labelled clips, for ``a4mer label``.

Labels come from ``--labels`` (a CSV with columns ``file,label``; ``file`` is a path relative to the
CSV's folder, an absolute path or a bare file name) or, without it, from each clip's folder name
(``walks/a.bvh`` is a ``walks`` clip). The head reads, per frame, what ``--head-inputs`` names — the
model's normalised pose features and/or the frozen atom (and motif) tokens of the model given by
``--checkpoint`` (default: the shipped one) — and only works with that model. Clips that cannot be read
are reported (file and reason) and left out; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import unicodedata
from pathlib import Path

from ..errors import A4merError
from ..wording import counted
from ._common import add_load_arguments, collect_inputs, load_clip, load_options, named_files
from .segment import add_model_arguments, load_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="clips (.npz/.bvh/.amc) or folders of clips")
    p.add_argument("-o", "--output", required=True, help="head file to write (.safetensors)")
    p.add_argument("--labels", help="CSV with columns file,label (default: each clip's folder name)")
    p.add_argument("--holdout", type=float, default=0.0,
                   help="share of each label's clips kept out of training and reported (e.g. 0.2)")
    p.add_argument("--epochs", type=int, default=150, help="training epochs of the head (default 150)")
    p.add_argument("--head-inputs", default="pose,atom",
                   help="what the head reads per frame, comma-separated from pose, atom, motif (default pose,atom: "
                        "on takes of several actions it labels twice as many frames right as atom,motif, which is "
                        "ahead on clips of one action each; see the README)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the training and the hold-out draw (default 0)")
    add_model_arguments(p)
    add_load_arguments(p, twist=False)


def read_label_csv(path: Path) -> dict[str, str]:
    """``file -> label`` of a CSV with columns ``file`` and ``label`` (keys: resolved paths of files that
    exist relative to the CSV's folder, else the file name as written). Read as a spreadsheet saves it:
    any encoding :func:`a4mer.io._mocap.read_user_text` takes, fields separated by ``,``, ``;`` (Excel
    where the decimal mark is a comma) or a tab, whichever the header holds; a path written on Windows
    (``walk\\a.bvh``) is found on macOS and Linux too."""
    from ..io._mocap import read_user_text
    try:
        text = read_user_text(path)
        header = text.lstrip().split("\n", 1)[0]
        sep = next((s for s in (",", ";", "\t") if {"file", "label"} <= {c.strip() for c in header.split(s)}), ",")
        rows = [{k.strip() if isinstance(k, str) else k: v for k, v in r.items()}  # "file , label" too
                for r in csv.DictReader(io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise A4merError(f"{path}: cannot read the label CSV ({e})") from None
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise A4merError(f"{path}: the label CSV needs a header with columns 'file' and 'label'")
    out: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for i, r in enumerate(rows, start=2):
        name, label = (r.get("file") or "").strip(), unicodedata.normalize("NFC", (r.get("label") or "").strip())
        if not name or not label:
            raise A4merError(f"{path}: line {i}: empty file or label")
        if any((x or "").strip() for x in r.get(None) or ()):  # a label "Gehen, schnell" read as "Gehen"
            sep_name = {",": "comma", ";": "semicolon", "\t": "tab"}[sep]
            raise A4merError(f"{path}: line {i}: more fields than the header has ({name}, {label}, "
                             f"{', '.join(x.strip() for x in r[None])}): a label holding a {sep_name} must be "
                             'quoted ("Gehen, schnell")')
        if os.sep == "/" and "\\" in name and not (path.parent / name).exists():
            name = name.replace("\\", "/")
        p = Path(name) if Path(name).is_absolute() else path.parent / name
        key = str(p.resolve()) if p.is_file() else name
        if key in out and out[key] != label:  # a clip of two labels: which one is meant is the user's call
            raise A4merError(f"{path}: line {i}: {name} is labelled {label!r} here and {out[key]!r} on line "
                             f"{line_of[key]}")
        out[key], line_of[key] = label, line_of.get(key, i)
    return out


def label_of(clip: Path, table: dict[str, str] | None) -> str | None:
    """The clip's label: from the CSV table (by resolved path, then by file name), else the name of the
    folder it lies in (a symbolic link's own folder, not its target's)."""
    if table is None:
        return unicodedata.normalize("NFC", Path(os.path.abspath(clip)).parent.name)
    return table.get(str(clip.resolve()), table.get(clip.name))


def holdout_path(head: Path) -> Path:
    """The per-clip hold-out report written beside the head: ``<stem>.holdout.json``."""
    return head.with_name(head.stem + ".holdout.json")


def run(args: argparse.Namespace) -> int:
    from ..heads.recognition import HeadConfig, check_head_inputs, fit_label_head, unique_clips
    from ..io.outputs import a4mer_json, check_output, write_text_atomic

    inputs = tuple(x.strip() for x in args.head_inputs.split(",") if x.strip())
    what = f"--head-inputs {args.head_inputs!r}"
    check_head_inputs(inputs, what)  # before any clip is read
    if len(set(inputs)) != len(inputs):
        raise A4merError(f"{what}: a name is given twice")
    table = read_label_csv(Path(args.labels)) if args.labels else None
    files = collect_inputs(args.inputs, once=False)  # unique_clips drops repeats, label by label
    report_path = holdout_path(Path(args.output))
    check_output(args.output, files + named_files(args), [".safetensors"], companions=[report_path])
    ours = a4mer_json("clips", "clip_accuracy", "frame_accuracy", "predictions")  # a hold-out report of a4mer's
    if args.holdout > 0 and report_path.is_file() and not ours(report_path):
        raise A4merError(f"{report_path} (written beside {Path(args.output).name}): exists and is not a hold-out "
                         "report of a4mer's: move it, or give -o another name")
    if args.epochs < 1:
        raise A4merError(f"--epochs must be at least 1, got {args.epochs}")
    if not 0.0 <= args.holdout < 1.0:  # before any clip is read or the model loaded
        raise A4merError(f"--holdout must be a share in [0, 1) (e.g. 0.2), got {args.holdout:g}")
    labelled = []
    for f in files:
        label = label_of(f, table)
        if label is None:
            print(f"a4mer label-train: {f}: no label in {args.labels} (left out)", file=sys.stderr)
        else:
            labelled.append((str(f), f, label))
    labelled, repeats = unique_clips(labelled)  # before any clip is read: a file given twice is read once
    for name in repeats:
        print(f"a4mer label-train: note: {name} is given more than once: read once", file=sys.stderr)
    clips, failed = [], 0
    opts = load_options(args)
    for _, f, label in labelled:
        try:
            # absolute (links kept): the hold-out report names the clips wherever it is read from
            clips.append((os.path.abspath(f), load_clip(f, opts, "label-train"), label))
        except (A4merError, OSError) as e:
            failed += 1
            print(f"a4mer label-train: error: {e} (left out)", file=sys.stderr)
    if table is not None:
        seen = {k for f in files for k in (str(f.resolve()), f.name)}
        unused = [k for k in table if k not in seen]
        if unused:
            print(f"a4mer label-train: {args.labels}: {len(unused)} listed file(s) are not among the clips "
                  f"(missing or not given): {', '.join(Path(k).name for k in unused[:5])}"
                  + (" ..." if len(unused) > 5 else ""), file=sys.stderr)
    model = load_model(args)
    head, report = fit_label_head(model, clips, HeadConfig(epochs=args.epochs, seed=args.seed, inputs=inputs),
                                  holdout=args.holdout, seed=args.seed)
    if "holdout" not in report and report_path.is_file() and ours(report_path):  # never an earlier head's beside
        report_path.unlink()  # this one (one it replaces below keeps its permissions)
    out = head.save(args.output)
    counts = ", ".join(f"{c} {n}" for c, n in report["clips_per_class"].items())
    print(f"{out}: {len(report['classes'])} labels ({counts}); trained on {counted(report['train_clips'], 'clip')}")
    if "holdout" in report:
        h = report["holdout"]
        print(f"held out {counted(h['clips'], 'clip')}: {h['clip_accuracy']:.1f} % of clips, {h['frame_accuracy']:.1f} % of "
              "frames labelled right")
        written = write_text_atomic(holdout_path(out), json.dumps(h, indent=1, ensure_ascii=False) + "\n")
        print(f"per-clip predictions: {written}")
    if args.holdout > 0:
        alone = [c for c, n in report["clips_per_class"].items() if n < 2]
        if "holdout" not in report:
            print(f"a4mer label-train: note: --holdout {args.holdout:g}: no label has two clips, so none was held "
                  "out and there is no hold-out report (one clip of every label stays in training)", file=sys.stderr)
        elif alone:
            print(f"a4mer label-train: note: {len(alone)} label(s) with one clip are trained on, not held out: "
                  f"{', '.join(alone[:5])}{' ...' if len(alone) > 5 else ''}", file=sys.stderr)
    return 1 if failed else 0
