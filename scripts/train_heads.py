"""Train the heads' correction decoder on prepared data and write the heads file.

    python scripts/train_heads.py --data PREPARED_DIR --out a4mer/assets/heads.safetensors [--minutes 18]

PREPARED_DIR comes from ``a4mer data prepare`` (manifest.jsonl + 30 fps SMPL npz). Trains on the
train split of Bandai (datasets 1 and 2) and CMU dance with mirroring and playback-speed copies;
validates on held-out Bandai takes, CMU dance test clips and the HDM05 *train* actors (another
source, never trained on; HDM05's test actors stay untouched for the benchmark). Each task's
correction fades out on inputs unlike the training data (familiarity band chosen on validation),
and is switched on only where it is not worse than the classical curve on any validation set.
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
    p.add_argument("--minutes", type=float, default=18.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-datasets", default="bandai1,bandai2,cmu-dance")
    a = p.parse_args(argv)

    import torch
    torch.set_num_threads(a.threads)
    from a4mer.heads.decoder import DecoderConfig
    from a4mer.heads.inbetween import LearnedHeads
    from a4mer.heads.train import TrainConfig, load_manifest_clips, make_val_batches, train

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    t0 = time.time()
    train_clips = load_manifest_clips(a.data, set(a.train_datasets.split(",")), "train")
    log(f"{len(train_clips)} training clips loaded in {time.time() - t0:.0f} s")
    val_specs = {"bandai_heldout": ({"bandai1", "bandai2"}, "test"), "cmu_dance_test": ({"cmu-dance"}, "test"),
                 "hdm05_train_actors": ({"hdm05"}, "train")}
    val = {}
    for name, (ds, split) in val_specs.items():
        clips = load_manifest_clips(a.data, ds, split)
        if clips:
            val[name] = make_val_batches(clips, seed=123, dcfg=DecoderConfig(), per_task=4 if name != "bandai_heldout" else 6)
            log(f"validation set {name}: {len(clips)} clips")
        else:
            log(f"validation set {name}: no clips in the manifest (skipped)")
    cfg = TrainConfig(minutes=a.minutes, seed=a.seed)
    net, hist = train(cfg, DecoderConfig(), train_clips, val, log)
    final, gates = hist["final_val"], hist["gates"]
    log(f"familiarity bands {hist['familiarity_band']}")
    log(f"final validation {json.dumps(final)}")
    log(f"gates {gates}")
    heads = LearnedHeads(net, gates)
    summary = {"train_datasets": a.train_datasets, "train_clips": len(train_clips), "steps": hist["steps"],
               "minutes": round(hist["minutes"], 2), "best_step": hist.get("best_step"), "final_val": final,
               "familiarity_band": hist["familiarity_band"],
               "validation_sets": sorted(val)}
    out = heads.save(a.out, encoder_hash="", training=summary)
    Path(str(out) + ".history.json").write_text(json.dumps(hist, indent=1, default=str))
    log(f"wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
