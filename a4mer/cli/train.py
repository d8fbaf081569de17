"""``a4mer train --data DIR [--config FILE] [--set k=v] --out DIR``: train an A4Mer model.
Data-parallel: ``torchrun --nproc_per_node N -m a4mer train ...`` (gloo on CPU). Ctrl-C saves a
checkpoint at the last completed step, prints the ``--resume`` command and exits with 130; so does a
SIGTERM (what a cluster's scheduler sends when it stops a job)."""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from ..errors import A4merError
from ..io.outputs import check_folder
from ..train.interrupt import TrainingInterrupted, raise_interrupt
from ..wording import counted

#: files a training run writes into --out (a folder holding any of them holds a run)
RUN_FILES = ("model.safetensors", "config.json", "optimizer.pt", "state.json", "vocab.safetensors",
             "bundle.safetensors", "train_log.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="prepared dataset folder (manifest.jsonl + clips/)")
    p.add_argument("--config", help="TOML or JSON config file (see a4mer.train.config.TrainConfig)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, vocabulary, bundle)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (its config.json is used)")
    p.add_argument("--seed", type=int, help="random seed (same as --set seed=N)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")


def check_out(out: Path, resume: bool) -> None:
    """--out must be a folder (or not exist yet); without --resume it must not hold another run (its
    files would be overwritten one by one, and an interrupted run would leave a mix of both)."""
    if out.exists() and not out.is_dir():
        raise A4merError(f"--out {out}: is a file, not a folder")
    check_folder(out, "--out")  # not at the first checkpoint, after minutes of training
    unfinished = (f"--out {out}: its first checkpoint was never finished (no state.json: the run was stopped "
                  "while writing it), so there is nothing to resume; delete the folder, or choose another --out")
    if resume:
        if not (out / "model.safetensors").is_file():
            raise A4merError(f"--out {out}: nothing to resume (no model.safetensors)")
        if not (out / "state.json").is_file() and not (out / "bundle.safetensors").is_file():
            raise A4merError(unfinished)
        return
    found = [f for f in RUN_FILES if (out / f).exists()]
    if "model.safetensors" in found and not (out / "state.json").is_file() and not (out / "bundle.safetensors").is_file():
        raise A4merError(unfinished)
    if found:
        raise A4merError(f"--out {out}: holds a training run already ({', '.join(found)}); continue it with "
                         "--resume or choose another --out")


def run(args: argparse.Namespace) -> int:
    from ..train.config import load_config
    from ..train.loop import train

    if not args.data:
        raise A4merError("--data DIR is required")
    out = Path(args.out)
    check_out(out, args.resume)
    sets = list(args.set) + ([f"seed={args.seed}"] if args.seed is not None else [])
    if args.resume and (sets or args.config):
        given = ", ".join(["--config"] * bool(args.config) + [f"--set {s}" for s in args.set]
                          + [f"--seed {args.seed}"] * (args.seed is not None))
        raise A4merError(f"--resume continues the run in {out} with its own config.json; {given} would be "
                         "ignored (leave them out, or train into a new --out)")
    config = load_config(args.config, sets)
    main_thread = threading.current_thread() is threading.main_thread()  # where handlers can be set
    before = signal.signal(signal.SIGTERM, raise_interrupt) if main_thread else None
    try:
        out = train(args.data, config, out, resume=args.resume, progress=not args.no_progress)
    except TrainingInterrupted as e:
        if e.rank == 0:
            print(interrupted_line(e, args.data), file=sys.stderr, flush=True)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, before)
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun: one line, from the first process
        print(f"trained model in {out} (bundle: {out / 'bundle.safetensors'})")
        print(mining_line(out))
    return 0


def interrupted_line(e: TrainingInterrupted, data: str) -> str:
    """One line after Ctrl-C: where the checkpoint is and the command that continues the run."""
    if not e.saved:
        return f"a4mer train: interrupted before the first step; nothing saved in {e.out}"
    again = shlex.join(["a4mer", "train", "--data", str(data), "--out", str(e.out), "--resume"])
    return f"a4mer train: interrupted; checkpoint at step {e.step}/{e.total} saved in {e.out}; continue with: {again}"


def mining_line(out: Path) -> str:
    """What the run in ``out`` mined and trained at the motif level, for the end of ``a4mer train``."""
    from ..motifs.vocab import MotifVocabulary
    from ..train.checkpoint import load_config_json
    config = load_config_json(out)
    vocab = MotifVocabulary.load(out / "vocab.safetensors")
    line = (f"motif vocabulary: {vocab.k} codes, {counted(len(vocab.patterns), 'pattern')} (support >= "
            f"{config.model.motifs.min_support} clips), vocab {vocab.hash}")
    if not vocab.patterns:
        line += ("; warning: no pattern recurs in that many clips, so every motif is a single atom code "
                 "(lower model.motifs.min_support, or build one later with a4mer motifs build --min-support)")
    if not config.optim.stage2_steps:
        line += "; warning: optim.stage2_steps=0: the motif level (stage 2, motif tokens) was not trained"
    return line
