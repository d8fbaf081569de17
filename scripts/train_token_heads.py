"""Train the token route of the heads (token decoder + masked-segment predictor) on the frozen model.

    python scripts/train_token_heads.py --data PREPARED_DIR --out a4mer/assets/token_heads.safetensors [--minutes 8]

Reads the *train* split of ``a4mer data prepare``'s manifest (``--train-datasets``, default Bandai 1+2
and CMU dance, with mirror images; the same validation clips as ``scripts/train_heads.py`` are held out,
``a4mer.heads.train.load_split``: ~5 % of Bandai, ~10 % of CMU dance and of any other data set,
HDM05 actors bd/bk/dg), encodes every clip once with the model (default: the shipped bundle) and fits
the decoder and predictor for ``--minutes`` of wall clock. Writes the token heads file (tied to that
model by its hash) and prints decoder MPJPE / token / length errors per set.
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
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of the fitting, minutes (> 0)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-datasets", default="bandai1,bandai2,cmu-dance",
                   help="datasets whose train split is trained on (as scripts/train_heads.py)")
    p.add_argument("--val-actors", default="bd,bk,dg", help="HDM05 train-split actors used for validation")
    a = p.parse_args(argv)
    from train_default import check_minutes, check_out_file, data_terms
    check_minutes(p, {"--minutes": a.minutes}, positive=True)
    check_out_file(p, "--out", a.out)

    import torch
    torch.set_num_threads(a.threads)
    from a4mer.errors import A4merError
    from a4mer.heads.token_heads import TokenHeads
    from a4mer.heads.token_train import TokenTrainConfig, collect, train
    from a4mer.heads.train import load_split
    from a4mer.model import A4Mer

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    val_actors = set(a.val_actors.split(",")) if a.val_actors else set()
    datasets = set(a.train_datasets.split(","))
    t0 = time.time()
    try:
        model = A4Mer.load(a.model)
        train_clips, val_clips = load_split(a.data, datasets, val_actors, log)
    except A4merError as e:
        p.error(str(e))
    data = collect(model, train_clips)
    log(f"{len(train_clips)} training clips (+ mirror images): {len(data.tokens)} segments, "
        f"{len(data.frame_seg)} frames, encoded in {time.time() - t0:.0f} s")
    val = {name: collect(model, clips, use_mirror=False) for name, clips in val_clips.items()}
    cfg = TokenTrainConfig(minutes=a.minutes, seed=a.seed)
    net, summary = train(data, cfg, val=val, log=log)
    summary.update(train_clips=len(train_clips), model_hash=model.model_hash, split="train",
                   datasets=a.train_datasets, val_actors=a.val_actors)
    for k, v in summary.items():
        if isinstance(v, dict):
            log(f"{k}: " + ", ".join(f"{m} {x:.4g}" for m, x in v.items()))
    license, used = data_terms(datasets)  # and the terms of the model the heads are tied to
    license = model.info.get("license") or license
    used = list(dict.fromkeys([*model.info.get("attributions", []), *used]))
    out = TokenHeads(net, model).save(a.out, training=summary, license=license, attributions=used)
    log(f"wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB)")
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
