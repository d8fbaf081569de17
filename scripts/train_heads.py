"""Train the heads' correction decoder on prepared data and write the heads file.

    python scripts/train_heads.py --data PREPARED_DIR --out a4mer/assets/heads.safetensors [--minutes 25]

PREPARED_DIR comes from ``a4mer data prepare`` (manifest.jsonl + 30 fps SMPL npz). Uses only the
*train* split of the manifest (every test split, e.g. HDM05 actors mm/tr, stays untouched for the
benchmark): trains on Bandai (datasets 1 and 2) and CMU dance, with mirroring, playback-speed copies,
actor-size scaling and per-source sampling weights; validates (checkpoint, familiarity gate and on/off
gate choice) on held-out sets (``a4mer.heads.train.load_split``): a fixed ~5 % of the Bandai train clips,
a fixed ~10 % of the CMU dance train clips (and of any other data set trained on, e.g. ``own`` from
``a4mer data prepare MY_CLIPS``), and the HDM05 training actors bd/bk/dg (another capture source, never
trained on: HDM05's CC BY-SA 3.0 share-alike terms cannot be combined with Bandai's CC BY-NC 4.0 in one
shipped file). Each task's correction fades out on inputs unlike the training data (familiarity band chosen on
validation) and is switched on only where it is not worse than the classical curve on any validation
set.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=25.0, help="wall-clock budget of the training, minutes (> 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the training step (batches are drawn "
                   "by a second thread beside it: 1 is fastest on 2 cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-datasets", default="bandai1,bandai2,cmu-dance",
                   help="datasets whose train split is trained on (HDM05 is left out by default: its CC BY-SA "
                        "3.0 share-alike terms cannot be combined with Bandai's CC BY-NC 4.0 in one file)")
    p.add_argument("--gap-stride", type=int, default=None, help="frames between the gap head's context frames "
                   "(default: DecoderConfig's)")
    p.add_argument("--source-weights", default=None,
                   help='share of training windows per source, e.g. "bandai=0.45,cmu-dance=0.25,hdm05=0.3,other=0.2" '
                        "(default: TrainConfig's)")
    p.add_argument("--task-probs", default=None, help='gap,blocking,extend shares of the training batches, e.g. "0.45,0.25,0.3"')
    p.add_argument("--val-actors", default="bd,bk,dg", help="HDM05 train-split actors kept for validation")
    a = p.parse_args(argv)
    from train_default import check_minutes, check_out_file, data_terms
    check_minutes(p, {"--minutes": a.minutes}, positive=True)
    check_out_file(p, "--out", a.out)

    import torch
    torch.set_num_threads(a.threads)
    from a4mer.errors import A4merError
    from a4mer.heads.decoder import DecoderConfig
    from a4mer.heads.inbetween import LearnedHeads
    from a4mer.heads.train import TrainConfig, load_split, make_val_batches, train

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    val_actors = set(a.val_actors.split(",")) if a.val_actors else set()
    from a4mer.prepare import read_manifest
    try:
        twists = sorted({r.get("twist", "clip") for r in read_manifest(a.data)})  # older manifests: read with "clip"
    except A4merError as e:
        p.error(str(e))
    if twists != ["rest"]:
        log(f"warning: {a.data} holds clips read with twist {twists}: inbetween and extend read a BVH/AMC with the "
            "source's twist ('rest'); prepare the heads' data with `a4mer data prepare SRC -o DIR` (its default)")
    t0 = time.time()
    datasets = set(a.train_datasets.split(","))
    try:
        train_clips, val_clips = load_split(a.data, datasets, val_actors, log)
    except A4merError as e:
        p.error(str(e))
    log(f"{len(train_clips)} training clips loaded in {time.time() - t0:.0f} s")
    dcfg = DecoderConfig() if a.gap_stride is None else DecoderConfig(gap_stride=a.gap_stride)
    val = {name: make_val_batches(clips, seed=123, dcfg=dcfg, per_task=8) for name, clips in val_clips.items()}
    extra = {}
    if a.source_weights:
        extra["source_weights"] = tuple((k, float(v)) for k, v in (kv.split("=") for kv in a.source_weights.split(",")))
    if a.task_probs:
        extra["task_probs"] = tuple(float(v) for v in a.task_probs.split(","))
    cfg = TrainConfig(minutes=a.minutes, seed=a.seed, **extra)
    net, hist = train(cfg, dcfg, train_clips, val, log)
    final, gates = hist["final_val"], hist["gates"]
    log(f"familiarity bands {hist['familiarity_band']}")
    log(f"final validation {json.dumps(final)}")
    log(f"gates {gates}")
    heads = LearnedHeads(net, gates)
    summary = {"train_datasets": a.train_datasets, "split": "train", "val_actors": a.val_actors,
               "train_clips": len(train_clips), "steps": hist["steps"],
               "minutes": round(hist["minutes"], 2), "best_step": hist.get("best_step"), "final_val": final,
               "familiarity_band": hist["familiarity_band"],
               "validation_sets": sorted(val)}
    license, used = data_terms(datasets)
    if "hdm05" in datasets and license:
        log("warning: trained on HDM05 (CC BY-SA 3.0, share-alike) and Bandai (CC BY-NC 4.0): the terms "
            "conflict; do not ship this file")
    out = heads.save(a.out, encoder_hash="", training=summary, license=license, attributions=used)
    Path(str(out) + ".history.json").write_text(json.dumps(hist, indent=1, default=str))
    log(f"wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
