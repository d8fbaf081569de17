"""Probe: do A4Mer tokens of the visible context help the gap head beyond what it already reads?

    python scripts/probe_heads_tokens.py --data PREPARED --heads HEADS.safetensors [--gap 30] [--tokens oracle]

Windows of 1 s + gap + 1 s from the *train* split (training part vs the validation sets of
scripts/train_heads.py; test splits are never read). For each window the frozen A4Mer encoder
(``A4Mer.load()``, the shipped bundle) encodes the visible context only: the second before the gap
(ending with key s) and the second after it (starting with key e) as two separate clips, so nothing
of the gap leaks into the tokens; the last atom token before and the first atom token after are the
token inputs (2 x D). On top of the shipped heads' gap result, two identical small MLPs are trained
on the same examples for the same number of steps to predict a further sine-basis correction: one
reads the heads' pose features only, the other the pose features plus the two tokens. Validation
MPJPE (mm) of Hermite, the shipped heads, and both probes is printed per validation set and written
as JSON (--out). Tokens help only if the token probe beats the pose-only probe.

``--tokens oracle`` is the upper bound of any token route (a decoder from predicted tokens of the
missing segment can do no better than from its true ones): the whole window, gap included, is
encoded as one clip, and the token inputs are the overlap-weighted mean token of the atoms inside the
gap and the token of the atom covering its middle frame. This leaks the gap by design.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--heads", required=True)
    p.add_argument("--gap", type=int, default=30)
    p.add_argument("--train-windows", type=int, default=3072)
    p.add_argument("--val-windows", type=int, default=256, help="per validation set")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", choices=("context", "oracle"), default="context",
                   help="context: tokens of the visible seconds only; oracle: the gap's own tokens (leaks the gap)")
    p.add_argument("--out", default="")
    a = p.parse_args(argv)

    import numpy as np
    import torch
    torch.set_num_threads(1)
    from a4mer.bench.metrics import body_fk
    from a4mer.geometry import quat_unflip
    from a4mer.heads.baselines import gap_basis
    from a4mer.heads.decoder import CHANNELS, TaskMLP, apply_correction
    from a4mer.heads.files import load_heads
    from a4mer.heads.layouts import gap_example, to_canon
    from a4mer.heads.torch_geom import fk
    from a4mer.heads.train import TrainConfig, clip_weights, load_manifest_clips, validation_set_of
    from a4mer.model import A4Mer
    from a4mer.motion import Motion

    t0 = time.time()
    heads = load_heads(a.heads)
    net = heads.net
    C, K, G = net.cfg.context, net.cfg.basis, a.gap
    model = A4Mer.load()
    ctx = 30  # frames of visible context on each side that the tokens see
    W = ctx + G + 1 + ctx
    s, e = ctx, ctx + G + 1
    rng = np.random.default_rng(a.seed)
    all_ds = {"bandai1", "bandai2", "cmu-dance", "hdm05"}

    def windows(clips, n, weighted):
        clips = [(nm, t, quat_unflip(q)) for nm, t, q in clips if len(t) >= W]
        w = clip_weights([c[0] for c in clips], [len(c[1]) for c in clips],
                         TrainConfig().source_weights) if weighted else None
        idx = rng.choice(len(clips), size=n, p=w)
        ts, qs = [], []
        for i in idx:
            _, t, q = clips[int(i)]
            st = int(rng.integers(0, len(t) - W + 1))
            ts.append(t[st:st + W])
            qs.append(q[st:st + W])
        return np.stack(ts).astype(float), np.stack(qs).astype(float), len(clips)

    def tokens(t, q):
        """(B, 2 * D): context: last atom token of frames 0..s and first atom token of frames e..W-1;
        oracle: mean token of the atoms inside the gap (by overlap) and the token at its middle frame."""
        out = []
        for tb, qb in zip(t, q):
            full = np.concatenate([qb, np.tile([1.0, 0.0, 0.0, 0.0], (len(qb), 2, 1))], 1)  # 24 joints
            if a.tokens == "oracle":
                tok, spans = model.encode(Motion(30.0, tb, full))
                overlap = np.clip(np.minimum(spans[:, 1], e) - np.maximum(spans[:, 0], s + 1), 0, None).astype(float)
                mid = int(np.flatnonzero((spans[:, 0] <= (s + e) // 2) & (spans[:, 1] > (s + e) // 2))[0])
                out.append(np.concatenate([overlap @ tok / overlap.sum(), tok[mid]]))
                continue
            before = Motion(30.0, tb[:s + 1], full[:s + 1])
            after = Motion(30.0, tb[e:], full[e:])
            out.append(np.concatenate([model.encode(before)[0][-1], model.encode(after)[0][0]]))
        return np.stack(out).astype(np.float32)

    def build(t, q):
        ex = gap_example(t, q, s, e, C, net.cfg.gap_stride, net.cfg.relative_rotations,
                         net.cfg.velocity_order(net.cfg.gap_task(G)), net.cfg.gap_global_weight)
        basis = gap_basis(e - s, K)
        with torch.no_grad():
            coef = net(net.cfg.gap_task(G), torch.from_numpy(ex.x))
            bt, bq = apply_correction(coef, torch.from_numpy(basis).float(), torch.from_numpy(ex.base_t).float(),
                                      torch.from_numpy(ex.base_q).float())
        tt, tq = to_canon(t[:, s + 1:e], q[:, s + 1:e], ex.inv, ex.shift)
        tp = body_fk(tq, tt)[0]
        herm = np.linalg.norm(body_fk(ex.base_q, ex.base_t)[0] - tp, axis=-1).mean((1, 2)) * 1000
        return {"x": torch.from_numpy(ex.x), "tok": torch.from_numpy(tokens(t, q)), "bt": bt, "bq": bq,
                "tp": torch.from_numpy(tp).float(), "basis": torch.from_numpy(basis).float(), "hermite_mm": herm}

    train_clips = load_manifest_clips(a.data, all_ds, "train", where=lambda r: validation_set_of(r, {"dg"}) is None)
    t, q, n = windows(train_clips, a.train_windows, True)
    tr = build(t, q)
    print(f"[{time.time() - t0:.0f} s] {a.train_windows} training windows ({W} frames) from {n} clips", flush=True)
    vals = {}
    for name in ("bandai_heldout", "cmu_dance_heldout", "hdm05_actor_dg"):
        clips = load_manifest_clips(a.data, all_ds, "train", where=lambda r, nm=name: validation_set_of(r, {"dg"}) == nm)
        vt, vq, n = windows(clips, a.val_windows, False)
        vals[name] = build(vt, vq)
        print(f"[{time.time() - t0:.0f} s] validation {name}: {a.val_windows} windows from {n} clips", flush=True)

    def mpjpe(b, coef):
        pt, pq = apply_correction(coef, b["basis"], b["bt"], b["bq"])
        return torch.sqrt(((fk(pq, pt) - b["tp"]) ** 2).sum(-1) + 1e-10).mean((-1, -2))  # (B,) m

    res = {}
    for use_tok in (False, True):
        torch.manual_seed(a.seed)
        inp = lambda b: torch.cat([b["x"], b["tok"]], -1) if use_tok else b["x"]  # noqa: E731
        mlp = TaskMLP(inp(tr).shape[1], 256, K * CHANNELS, 0.05)
        mlp.set_normalization(inp(tr))
        opt = torch.optim.AdamW(mlp.parameters(), lr=1e-3, weight_decay=0.01)
        g = torch.Generator().manual_seed(a.seed)
        for step in range(a.steps):
            i = torch.randint(0, len(tr["x"]), (64,), generator=g)
            b = {k: (v[i] if k != "basis" and isinstance(v, torch.Tensor) else v) for k, v in tr.items()}
            loss = mpjpe(b, mlp(inp(b)).reshape(64, K, CHANNELS)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        mlp.eval()
        key = "probe_tokens" if use_tok else "probe_pose_only"
        with torch.no_grad():
            for name, b in vals.items():
                r = res.setdefault(name, {"hermite_mm": float(np.mean(b["hermite_mm"])),
                                          "heads_mm": float(mpjpe(b, torch.zeros(len(b["x"]), K, CHANNELS)).mean()) * 1000})
                r[key + "_mm"] = float(mpjpe(b, mlp(inp(b)).reshape(-1, K, CHANNELS)).mean()) * 1000
            r = res.setdefault("train_fit", {})
            r[key + "_mm"] = float(mpjpe(tr, mlp(inp(tr)).reshape(-1, K, CHANNELS)).mean()) * 1000
        print(f"[{time.time() - t0:.0f} s] {key} trained ({a.steps} steps)", flush=True)
    out = {"gap_frames": G, "tokens": a.tokens, "train_windows": a.train_windows, "val_windows": a.val_windows, "steps": a.steps,
           "model_hash": model.model_hash, "heads": str(a.heads), "results": res}
    print(json.dumps(out, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
