"""Train the shipped default A4Mer model and write it to a4mer/assets/default.safetensors.

Data: the Bandai-Namco datasets 1 and 2 and the CMU dance set, training split, with left/right
mirroring and one random playback-speed variant (0.7-1.4x) per clip; HDM05 stays out (it is the
cross-dataset evaluation). Then (unless ``--heads-minutes 0``) the in-betweening / extension heads are
trained by scripts/train_heads.py (25 min; Bandai + CMU dance, HDM05's training actors only validate)
and written to a4mer/assets/heads.safetensors, and (unless ``--token-minutes 0``) the token route
(decoder + masked-segment predictor on the new model's tokens) by scripts/train_token_heads.py (6 min
of fitting, ~2 min of encoding) into a4mer/assets/token_heads.safetensors. Run (about 85 minutes on 2
shared cores: ~5 min data, 40 min optimisation, mining and export, ~26 min heads, ~8 min token route):

    nice -n 10 .venv/bin/python scripts/train_default.py --data PREPARED --out WORK/default_run

The prepared data comes from ``a4mer data prepare ../shared/data -o PREPARED`` (BVH/AMC read with the
source's twist, its default; the shipped files were trained on data read with ``--twist clip``, the
default then: the model's input calibrates twist itself, and heads retrained on the default data
measure the same within run-to-run change, docs/benchmarks.md "Motion core").
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from a4mer.jepa.hierarchy import round_to_half  # noqa: F401  (documented step of the export)
from a4mer.model import DEFAULT_BUNDLE, A4Mer
from a4mer.train.config import load_config
from a4mer.train.loop import train

LICENSE = "CC BY-NC 4.0 (model weights derived from the Bandai-Namco Research Motion Dataset)"
ATTRIBUTIONS = [  # as the data folders' READMEs ask (shared/data/*/README.md), repeated in the project README
    "Bandai-Namco-Research-Motiondataset (datasets 1 and 2), \u00a9 2022 Bandai Namco Research Inc., CC BY-NC 4.0, "
    "https://github.com/BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset (commit 74ead3ba); M. Kobayashi, "
    "C.-C. Liao, K. Inoue, S. Yojima, M. Takahashi, Motion Capture Dataset for Practical Use of AI-based Motion "
    "Editing and Stylization, arXiv:2306.08861, 2023",
    "CMU Graphics Lab Motion Capture Database (salsa, Indian dance and martial arts, Daz-friendly BVH via "
    "https://github.com/papagina/Auto_Conditioned_RNN_motion, commit fbb7f641): The data used in this project was "
    "obtained from mocap.cs.cmu.edu. The database was created with funding from NSF EIA-0196217.",
]

HDM05_ATTRIBUTION = "HDM05, M. Mueller et al., Universitaet Bonn, CC BY-SA 3.0"


def data_terms(datasets) -> tuple[str, list[str]]:
    """(licence, attributions) of a file trained on the manifest data sets ``datasets``: Bandai's CC BY-NC
    licence where Bandai is among them, the attribution of each source the project's data folders ask for
    (a data set of your own adds none)."""
    datasets = set(datasets)
    bandai = bool(datasets & {"bandai1", "bandai2"})
    used = [t for t in ATTRIBUTIONS if ("Bandai" in t and bandai) or ("CMU" in t and "cmu-dance" in datasets)]
    if "hdm05" in datasets:
        used.append(HDM05_ATTRIBUTION)
    return (LICENSE if bandai else ""), used


def check_minutes(p: argparse.ArgumentParser, minutes: dict[str, float], positive: bool = False) -> None:
    """``p.error`` for a time budget (flag name -> minutes) that is negative, not finite, or with
    ``positive`` 0."""
    import math
    for flag, value in minutes.items():
        if not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
            p.error(f"{flag} must be a number of minutes {'> 0' if positive else '>= 0'}, got {value}")


def check_out_file(p: argparse.ArgumentParser, flag: str, out: str) -> None:
    """``p.error`` for an output ``flag out`` that cannot be a file (a folder, a folder that does not exist
    and cannot be made), before any training: the scripts write it only at the end."""
    path = Path(out)
    if path.is_dir():
        p.error(f"{flag} {out}: is a folder; give the file to write (e.g. {path / 'name.safetensors'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"{flag} {out}: cannot create its folder ({e.strerror or e})")


#: The default configuration (dotted overrides of a4mer.train.config.TrainConfig).
DEFAULT_SETS = [
    "data.datasets=[\"bandai1\", \"bandai2\", \"cmu-dance\"]",
    "data.mirror=true", "data.speed_variants=1",
    "model.motifs.k=64", "model.motifs.min_support=5",
    "optim.batch_size=32", "optim.lr=5e-4", "optim.warmup_steps=200",
    "checkpoint_every=250", "log_every=25", "threads=1",
]


def remine(out: Path, config, data: str) -> A4Mer:
    """The finished run's model with a vocabulary mined again under ``config.model.motifs``."""
    from dataclasses import replace

    from a4mer.data.dataset import build_items
    from a4mer.train.loop import make_segmenter
    from a4mer.train.mining import mine_vocabulary

    model = A4Mer.load(out)
    run_cfg = replace(model.config, model=replace(model.config.model, motifs=config.model.motifs))
    base = replace(run_cfg, data=replace(run_cfg.data, mirror=False, speed_variants=0))
    items = build_items(data, base.data, make_segmenter(base), np.random.default_rng(0))
    vocab = mine_vocabulary(model.net, items, base)  # for the bundle only: the run's own vocab.safetensors stays
    return A4Mer(run_cfg, model.net, vocab, model.info)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prepared dataset folder (manifest.jsonl + clips/)")
    p.add_argument("--out", required=True, help="training output folder")
    p.add_argument("--steps", type=int, default=8000, help="stage-1 steps (the wall-clock limit usually ends the run first)")
    p.add_argument("--stage2-steps", type=int, default=2000, help="joint stage-1+2 steps after mining")
    p.add_argument("--minutes", type=float, default=40.0, help="wall-clock limit of the optimisation (schedules follow "
                                                                "it; 0: no limit, the steps end the run)")
    p.add_argument("--max-clips", type=int, default=0, help="use only this many clips (smoke runs)")
    p.add_argument("--bundle", help="where to write the bundle (default: the shipped a4mer/assets/default.safetensors; "
                                    "with --export-only it must be given)")
    p.add_argument("--set", action="append", default=[], help="extra config override key=value")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--heads-minutes", type=float, default=25.0,
                   help="train the heads afterwards for this many minutes (0: skip)")
    p.add_argument("--heads-out", default=str(Path(DEFAULT_BUNDLE).parent / "heads.safetensors"),
                   help="where to write the heads file")
    p.add_argument("--token-minutes", type=float, default=6.0,
                   help="then train the token route (decoder + predictor) for this many minutes (0: skip)")
    p.add_argument("--token-out", default=str(Path(DEFAULT_BUNDLE).parent / "token_heads.safetensors"),
                   help="where to write the token heads file")
    p.add_argument("--export-only", action="store_true",
                   help="no training: re-mine the vocabulary of the finished run in --out with this script's "
                        "motif settings and write the bundle to --bundle (the heads are not trained again; the run's "
                        "folder is left as it was)")
    a = p.parse_args(argv)
    check_minutes(p, {"--minutes": a.minutes, "--heads-minutes": a.heads_minutes, "--token-minutes": a.token_minutes})
    for flag, value in (("--bundle", a.bundle), ("--heads-out", a.heads_out), ("--token-out", a.token_out)):
        if value is not None:
            check_out_file(p, flag, value)
    if a.bundle is None:
        if a.export_only:  # a re-mined vocabulary must not replace the shipped model by accident
            p.error("--export-only needs --bundle (where to write the re-mined bundle)")
        a.bundle = str(DEFAULT_BUNDLE)
    if a.export_only:
        a.heads_minutes = a.token_minutes = 0.0
    # One intra-op thread: on a shared 2-core machine two OpenMP threads stall each other (measured
    # 0.31 s/step with 1 thread vs 16.8 s/step with 2 under load); the other core serves the rest.
    torch.set_num_threads(1)
    sets = DEFAULT_SETS + [f"optim.steps={a.steps}", f"optim.stage2_steps={a.stage2_steps}",
                           f"time_limit_s={a.minutes * 60}", f"data.max_clips={a.max_clips}"] + a.set
    config = load_config(sets=sets)
    t0 = time.time()
    if a.export_only:
        out = Path(a.out)
        model = remine(out, config, a.data)
    else:
        out = train(a.data, config, a.out, resume=a.resume)
        model = A4Mer.load(out / "bundle.safetensors")
    log = json.loads((out / "train_log.json").read_text())
    model.save(a.bundle, license=LICENSE, attributions=ATTRIBUTIONS,
               training={"script": "scripts/train_default.py", "data": ["bandai1", "bandai2", "cmu-dance"],
                         "excluded": ["hdm05 (cross-dataset evaluation)"], "steps": log["step"],
                         "wall_s": round(time.time() - t0, 1), "argv": sys.argv[1:]})
    size = Path(a.bundle).stat().st_size
    print(f"bundle {a.bundle}: {size / 1e6:.2f} MB, model {model.model_hash}, vocab {model.vocab.hash}, "
          f"{model.vocab.k} codes, {len(model.vocab.patterns)} patterns; total {time.time() - t0:.0f} s")
    import subprocess
    here = Path(__file__).resolve().parent
    for what, minutes, cmd in (
            ("heads", a.heads_minutes, [str(here / "train_heads.py"), "--data", a.data, "--out", a.heads_out]),
            ("token route", a.token_minutes, [str(here / "train_token_heads.py"), "--data", a.data, "--out", a.token_out,
                                              "--model", a.bundle])):
        if minutes <= 0:
            continue
        cmd = [sys.executable, *cmd, "--minutes", str(minutes)]
        print(f"training the {what}:", " ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            print(f"{what} training failed (exit {rc})", file=sys.stderr)
            return rc
    print(f"total {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
