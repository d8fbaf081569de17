"""``a4mer train --data DIR [--config FILE] [--set k=v] --out DIR``: train an A4Mer model.
Data-parallel: ``torchrun --nproc_per_node N -m a4mer train ...`` (gloo on CPU)."""
from __future__ import annotations

import argparse

from ..errors import A4merError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="prepared dataset folder (manifest.jsonl + clips/)")
    p.add_argument("--config", help="TOML or JSON config file (see a4mer.train.config.TrainConfig)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, vocabulary, bundle)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (its config.json is used)")
    p.add_argument("--seed", type=int, help="random seed (same as --set seed=N)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")


def run(args: argparse.Namespace) -> int:
    from ..train.config import load_config
    from ..train.loop import train

    if not args.data:
        raise A4merError("--data DIR is required")
    sets = list(args.set) + ([f"seed={args.seed}"] if args.seed is not None else [])
    config = load_config(args.config, sets)
    out = train(args.data, config, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"trained model in {out} (bundle: {out / 'bundle.safetensors'})")
    return 0
