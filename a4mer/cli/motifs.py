"""``a4mer motifs build --data DIR --out VOCAB``: mine a motif vocabulary from your own clips with a
trained encoder (no retraining). DIR: a prepared dataset (manifest.jsonl) or any folder of clips.

It mines as a training run does (:func:`a4mer.train.mining.mine_items`, the seed of the model's run by
default): a run's bundle and the clips that run mined (a prepared dataset with ``--split train``,
holding only the run's data sets) give the run's own vocabulary."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import A4merError
from ..wording import counted
from ._common import add_load_arguments, collect_inputs, load_clip, load_options, named_files
from .segment import add_model_arguments, load_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="motifs_cmd", metavar="COMMAND")
    b = sub.add_parser("build", help="mine a motif vocabulary from a folder of clips")
    b.add_argument("--data", required=True, help="prepared dataset folder or folder of clips")
    b.add_argument("--out", required=True, help="vocabulary file to write (.safetensors)")
    b.add_argument("--k", type=int, help="number of codes (default: the model's, capped at atoms/10)")
    b.add_argument("--min-support", type=int, help="clips a pattern must occur in (default: the model's)")
    b.add_argument("--max-len", type=int, help="longest pattern in atoms (default: the model's)")
    b.add_argument("--split", help="with a prepared dataset: only its clips of this split (e.g. train, so that "
                   "its test clips stay unseen); default: every clip")
    b.add_argument("--seed", type=int, help="random seed of the code clustering (default: the model's training seed, "
                   "as its run mined)")
    add_model_arguments(b)
    add_load_arguments(b, twist=False)


def _clip_paths(data: Path, split: str | None) -> list[Path]:
    if (data / "manifest.jsonl").is_file():
        from ..prepare import manifest_rows
        rows = sorted(manifest_rows(data), key=lambda r: r["path"])
        if split is not None:
            have = sorted({str(r.get("split", "?")) for r in rows})
            rows = [r for r in rows if r.get("split") == split]
            if not rows:
                raise A4merError(f"{data}: no clips of split {split!r}; it holds splits {', '.join(have)}")
        else:
            have = sorted({str(r.get("split", "train")) for r in rows})
            if len(have) > 1:  # a training run mines only its own split (data.split): say why the two may differ
                print(f"a4mer motifs: note: mining the clips of every split ({', '.join(have)}); a training run mines "
                      "only its training clips (--split train mines as it does)", file=sys.stderr)
        return [data / r["path"] for r in rows]
    if split is not None:
        raise A4merError(f"{data}: --split needs a manifest.jsonl (made by 'a4mer data prepare')")
    return collect_inputs([str(data)])


def _clip_name(path: Path, data: Path) -> str:
    """How the vocabulary names an example clip: its path under ``data`` (a prepared dataset's manifest
    path), so that it is found again from ``data`` wherever the command runs."""
    try:
        rel = os.path.relpath(path, data)
    except ValueError:  # another drive (Windows)
        return str(path)
    return str(path) if rel.startswith("..") else Path(rel).as_posix()


def run(args: argparse.Namespace) -> int:
    if args.motifs_cmd != "build":
        raise A4merError("usage: a4mer motifs build --data DIR --out VOCAB")
    from dataclasses import replace

    from ..train.mining import clip_item, mine_items

    from ..io.outputs import check_output

    for flag, value, low in (("--k", args.k, 2), ("--min-support", args.min_support, 1), ("--max-len", args.max_len, 2)):
        if value is not None and value < low:
            raise A4merError(f"{flag} must be at least {low}, got {value}")
    paths = _clip_paths(Path(args.data), args.split)
    check_output(args.out, paths + named_files(args), [".safetensors"])
    opts = load_options(args, inputs=paths)
    model = load_model(args)
    items, skipped = [], 0
    for i, path in enumerate(paths):
        try:
            motion = load_clip(path, opts, "motifs")
            item = clip_item(_clip_name(path, Path(args.data)), motion, model.config)
            if not all(np.isfinite(a).all() for a in item.arrays.values()):
                raise A4merError(f"{path}: non-finite pose features (corrupt values)")
        except A4merError as e:
            print(f"a4mer motifs: skipping: {e}", file=sys.stderr)
            skipped += 1
            continue
        items.append(item)
    if not items:
        raise A4merError(f"{args.data}: no readable clips")
    names = [it.name for it in items]
    mc = model.config.model.motifs
    changes = {k: v for k, v in (("min_support", args.min_support), ("max_len", args.max_len)) if v is not None}
    mc = replace(mc, **changes)
    if mc.max_len < mc.min_len:
        raise A4merError(f"--max-len {mc.max_len} is below the shortest pattern mined ({mc.min_len} atoms)")
    seed = model.config.seed if args.seed is None else args.seed
    vocab = mine_items(model.net, items, model.config, motifs=mc, k=args.k, seed=seed)
    n = sum(len(it.bounds) - 1 for it in items)
    vocab.save(args.out)
    print(f"{counted(len(names), 'clip')}, {counted(n, 'atom')} -> {args.out}: {vocab.k} codes, "
          f"{counted(len(vocab.patterns), 'pattern')} "
          f"(support >= {mc.min_support}), seed {seed}, encoder {model.model_hash}, vocab {vocab.hash}")
    if not vocab.patterns:
        why = (f"only {counted(len(names), 'clip')}, fewer than --min-support {mc.min_support}" if len(names) < mc.min_support
               else f"no run of {mc.min_len}-{mc.max_len} atom codes recurs in {mc.min_support} of the {len(names)} clips")
        lower = max(1, min(mc.min_support - 1, max(2, len(names) // 2) if len(names) > 1 else 1))
        hint = (f"lower --min-support (e.g. --min-support {lower}) or add clips" if lower < mc.min_support
                else "add clips, or longer ones")
        print(f"a4mer motifs: warning: 0 patterns ({why}): every motif is a single atom code; {hint}", file=sys.stderr)
    if skipped:  # the vocabulary is written, but a clip was left out: not a clean run (as label-train)
        print(f"a4mer motifs: {skipped} of {counted(len(paths), 'clip')} could not be read and were left out", file=sys.stderr)
    return 1 if skipped else 0
