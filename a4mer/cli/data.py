"""``a4mer data prepare SRC -o DIR``: convert a data folder into SMPL npz clips + manifest."""
from __future__ import annotations

import argparse
import sys

from ..api import TWISTS
from ..prepare import dataset_names, prepare
from ..wording import counted


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_verb", required=True)
    pp = sub.add_parser("prepare", help="convert every clip at a common fps with a manifest")
    pp.add_argument("source", help="data folder holding hdm05/, bandai-namco/, cmu-dance/, or any folder of "
                                   "clips (prepared as data set 'own', labelled by folder, 1 in 10 held out)")
    pp.add_argument("-o", "--output", required=True, help="output folder (archives are unpacked here)")
    pp.add_argument("--fps", type=float, default=30.0, help="common frame rate (default 30)")
    pp.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    pp.add_argument("--datasets", help="comma-separated subset of hdm05, bandai (or bandai-namco), cmu-dance "
                                       "(default: all three)")
    pp.add_argument("--source-fps", type=float,
                    help="the true rate of every clip of a folder of your own clips, overriding their headers "
                         "(CMU salsa BVHs say 120 and are 60); the project's data sets read theirs from labels.csv")
    pp.add_argument("--twist", choices=TWISTS, default="rest",
                    help="a BVH/AMC's joint twist (see 'a4mer convert --help'; default 'rest', as inbetween and "
                         "extend read clips: the heads' training data)")


def run(args: argparse.Namespace) -> int:
    datasets = dataset_names(args.datasets) if args.datasets else None
    try:
        from tqdm import tqdm
    except ImportError:  # the light install (numpy only): no bar
        tqdm = None
    bar = tqdm(desc="prepare", unit="clip", dynamic_ncols=True) if tqdm and sys.stderr.isatty() else None

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        ok, bad = prepare(args.source, args.output, fps=args.fps, jobs=args.jobs, datasets=datasets,
                          twist=args.twist, progress=progress, source_fps=args.source_fps)
    finally:
        if bar is not None:
            bar.close()
    print(f"{counted(ok, 'clip')} converted into {args.output}/manifest.jsonl, {bad} failed")
    if bad:
        print(f"a4mer data prepare: {counted(bad, 'clip')} failed, see {args.output}/errors.jsonl", file=sys.stderr)
    return 1 if bad else 0
