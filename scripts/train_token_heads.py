"""Train the token route of the heads (token decoder + masked-segment predictor) on the frozen model.

    python scripts/train_token_heads.py --data PREPARED_DIR --out a4mer/assets/token_heads.safetensors [--minutes 8]

Reads the *train* split of ``a4mer data prepare``'s manifest (Bandai 1+2 and CMU dance, with mirror
images; the same validation clips as ``scripts/train_heads.py`` are held out: ~5 % of Bandai, ~10 %
of CMU dance, HDM05 actors bd/bk/dg), encodes every clip once with the model (default: the shipped
bundle) and fits the decoder and predictor for ``--minutes`` of wall clock. Writes the token heads
file (tied to that model by its hash) and prints decoder MPJPE / token / length errors per set.
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
    p.add_argument("--model", default=None, help="A4Mer bundle or training folder (default: the shipped bundle)")
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-actors", default="bd,bk,dg", help="HDM05 train-split actors used for validation")
    a = p.parse_args(argv)

    import torch
    torch.set_num_threads(a.threads)
    from a4mer.heads.token_heads import TokenHeads
    from a4mer.heads.token_train import TokenTrainConfig, collect, train
    from a4mer.heads.train import load_manifest_clips, validation_set_of
    from a4mer.model import A4Mer

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    model = A4Mer.load(a.model)
    val_actors = set(a.val_actors.split(",")) if a.val_actors else set()
    t0 = time.time()
    train_clips = load_manifest_clips(a.data, {"bandai1", "bandai2", "cmu-dance"}, "train",
                                      where=lambda r: validation_set_of(r, val_actors) is None)
    data = collect(model, train_clips)
    log(f"{len(train_clips)} training clips (+ mirror images): {len(data.tokens)} segments, "
        f"{len(data.frame_seg)} frames, encoded in {time.time() - t0:.0f} s")
    val = {}
    for name in ("bandai_heldout", "cmu_dance_heldout", "hdm05_actor_" + "_".join(sorted(val_actors))):
        clips = load_manifest_clips(a.data, {"bandai1", "bandai2", "cmu-dance", "hdm05"}, "train",
                                    where=lambda r, n=name: validation_set_of(r, val_actors) == n)
        if clips:
            val[name] = collect(model, clips, use_mirror=False)
    cfg = TokenTrainConfig(minutes=a.minutes, seed=a.seed)
    net, summary = train(data, cfg, val=val, log=log)
    summary.update(train_clips=len(train_clips), model_hash=model.model_hash, split="train",
                   datasets="bandai1,bandai2,cmu-dance", val_actors=a.val_actors)
    for k, v in summary.items():
        if isinstance(v, dict):
            log(f"{k}: " + ", ".join(f"{m} {x:.4g}" for m, x in v.items()))
    from train_default import ATTRIBUTIONS, LICENSE  # the same data terms as the default model
    used = [t for t in ATTRIBUTIONS if "Bandai" in t or "CMU" in t]
    out = TokenHeads(net, model).save(a.out, training=summary, license=LICENSE, attributions=used)
    log(f"wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB)")
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
