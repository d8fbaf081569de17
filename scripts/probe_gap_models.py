"""Probe: does a bigger gap model with a longer context beat Hermite on motion unlike the training data?

    python scripts/probe_gap_models.py --data PREPARED [--models tf30,tf30h,mlp8,mlp30] [--seconds 80]
        [--out probe.json]

A ceiling check for the 30-frame gap head, meant for a GPU (the numbers in docs/bench/heads_notes.md
came from one H200, 80 s per model, batch 256; on 2 CPU cores the transformer is ~100 x slower).
Every model predicts the shipped heads' correction (8 sine coefficients per channel on top of cubic
Hermite, same inputs, same FK + rotation loss) for gaps of the ``gap2`` band (19-48 missing frames):

- ``mlp8``: the shipped gap MLP (8 context frames each side, hidden 256);
- ``mlp30``: an MLP on 1 s of context each side (30 frames), hidden 1024;
- ``tf30``: a 4-layer transformer (d 256) over the 60 context frames, 8 query tokens -> coefficients;
- ``tf30h``: ``tf30`` also trained on HDM05 actors bd/bk (not shippable: license).

Training examples: a pool drawn once (mirroring, 0.75/1.0/1.3 speeds, actor-size scaling; Bandai and
CMU dance 64/36 %) from the *train* split outside the validation sets of scripts/train_heads.py, with
every ``--bandai-every``-th Bandai clip (by path hash; the pool must fit a GPU run). Scored at fixed
30-frame gaps (the bench layout) on the validation sets and on the CMU dance / HDM05 *test* clips:
MPJPE x Hermite per set, every ``--eval-every`` steps; the JSON keeps each model's history and its
scores at the best mean validation ratio.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from a4mer.bench.metrics import body_fk  # noqa: E402
from a4mer.heads.baselines import gap_basis  # noqa: E402
from a4mer.heads.decoder import DecoderConfig, apply_correction  # noqa: E402
from a4mer.heads.layouts import gap_example, to_canon  # noqa: E402
from a4mer.heads.torch_geom import fk, quat_to_rotmat  # noqa: E402
from a4mer.heads.train import WindowSampler, augment, clip_weights, validation_set_of  # noqa: E402
from a4mer.io.amass import read_amass_npz  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
B = 256
C = 30
DC = DecoderConfig(context=C)
F1 = DC.features + 1
T0 = time.time()


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)


def load(root: Path, bandai_every: int) -> list[tuple[dict, tuple[str, np.ndarray, np.ndarray]]]:
    """(record with "set", (name, trans, rot)) of the prepared clips this probe reads."""
    out = []
    for line in (root / "manifest.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        ds = r["dataset"]
        r["set"] = (validation_set_of(r, {"dg"}) or "train") if r["split"] == "train" else "test"
        if ds.startswith("bandai") and (r["split"] == "test" or (
                r["set"] == "train" and zlib.crc32(r["path"].encode()) % 100 % bandai_every)):
            continue
        m = read_amass_npz(root / r["path"])
        if abs(m.fps - 30.0) > 1e-6:
            m = m.resample(30.0)
        out.append((r, (f"{ds}/{Path(r['path']).stem}", m.root_translation.astype(float),
                        m.rotations[:, :22].astype(float))))
    return out


#: the augmented clips and their weights, set before the worker processes fork (read, never pickled)
_FORKED: dict = {}


def _gen(args):
    """``n`` batches of ``task`` drawn with ``seed`` in a worker process (x stored as float16)."""
    seed, n, task = args
    clips, weights = _FORKED["aug"], _FORKED["w"]
    s = WindowSampler(clips, np.random.default_rng(seed), DC, weights, (0.85, 1.15))
    out = []
    for _ in range(n):
        b = s.batch(task, B)
        b["x"] = b["x"].astype(np.float16)
        b = {k: v for k, v in b.items() if k in ("x", "bt", "bq", "tt", "tq", "tp", "base_err", "basis")}
        out.append(b)
    return out


def pool(clips_named, n, seed, task="gap2"):
    """``n`` training batches of ``B`` windows drawn once, in parallel, from augmented ``clips_named``."""
    aug = augment(clips_named, (0.75, 1.0, 1.3), True)
    names = [nm for nm, _, _ in clips_named for _ in range(6)]
    w = clip_weights(names, [len(t) for t, _ in aug], (("bandai", 0.64), ("cmu-dance", 0.36), ("hdm05", 1.0)))
    procs = max(1, (os.cpu_count() or 2) - 1)
    per = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    _FORKED["aug"], _FORKED["w"] = aug, w
    with mp.get_context("fork").Pool(procs) as p:
        res = p.map(_gen, [(seed + i, k, task) for i, k in enumerate(per) if k])
    return [b for r in res for b in r]


def fixed_gap_batches(clips_named, G=30, per_clip=8):
    """Batches of windows at a fixed ``G``-frame gap with 1 s of context on each side (the bench layout):
    up to ``per_clip`` windows per clip, spread evenly and at least 15 frames apart."""
    L = 2 * 30 + G
    ts, qs = [], []
    for _, t, q in clips_named:
        T = len(t)
        if T < L:
            continue
        k = min(per_clip, (T - L) // 15 + 1)
        for a in np.linspace(0, T - L, k).astype(int):
            ts.append(t[a:a + L])
            qs.append(q[a:a + L])
    if not ts:
        return []
    ts, qs = np.stack(ts), np.stack(qs)
    out = []
    for i in range(0, len(ts), 256):
        t, q = ts[i:i + 256], qs[i:i + 256]
        s, e = 29, 29 + G + 1
        ex = gap_example(t, q, s, e, C, 1, True)
        tt, tq = to_canon(t[:, s + 1:e], q[:, s + 1:e], ex.inv, ex.shift)
        tp = body_fk(tq, tt)[0]
        bp = body_fk(ex.base_q, ex.base_t)[0]
        b = {"x": ex.x, "bt": ex.base_t, "bq": ex.base_q, "tt": tt, "tq": tq, "tp": tp,
             "base_err": np.linalg.norm(bp - tp, axis=-1).mean(-1), "basis": gap_basis(e - s, DC.basis)}
        out.append({k: v.astype(np.float32) for k, v in b.items()})
    return out


def dev(b):
    return {k: torch.from_numpy(np.asarray(v)).to(DEV).float() for k, v in b.items()}


def sl8(x):  # the shipped C=8 layout from the C=30 one
    bef = x[:, :C * F1].reshape(len(x), C, F1)[:, -8:]
    aft = x[:, C * F1:2 * C * F1].reshape(len(x), C, F1)[:, :8]
    return torch.cat([bef.reshape(len(x), -1), aft.reshape(len(x), -1), x[:, -2:]], -1)


class MLP(nn.Module):
    def __init__(self, d_in, hidden, c8):
        super().__init__()
        self.c8 = c8
        self.register_buffer("m", torch.zeros(d_in)); self.register_buffer("s", torch.ones(d_in))
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, 8 * 69))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def prep(self, x):
        return sl8(x) if self.c8 else x

    def forward(self, x):
        x = self.prep(x)
        return (self.net(((x - self.m) / self.s).clamp(-5, 5)) * 0.2).reshape(len(x), 8, 69)


class TF(nn.Module):
    def __init__(self, d=256, layers=4, heads=8, drop=0.1):
        super().__init__()
        d_in = 2 * C * F1 + 2
        self.register_buffer("m", torch.zeros(d_in)); self.register_buffer("s", torch.ones(d_in))
        self.inp = nn.Linear(F1 + 2, d)
        self.pos = nn.Parameter(torch.randn(2 * C, d) * 0.02)
        self.q = nn.Parameter(torch.randn(8, d) * 0.02)
        el = nn.TransformerEncoderLayer(d, heads, 4 * d, drop, activation="gelu", batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(el, layers)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, 69)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def prep(self, x):
        return x

    def forward(self, x):
        Bn = len(x)
        z = ((x - self.m) / self.s).clamp(-5, 5)
        fr = z[:, :2 * C * F1].reshape(Bn, 2 * C, F1)
        g = z[:, -2:][:, None].expand(Bn, 2 * C, 2)
        h = self.inp(torch.cat([fr, g], -1)) + self.pos
        h = torch.cat([h, self.q.expand(Bn, -1, -1)], 1)
        h = self.enc(h)
        return self.out(self.norm(h[:, -8:])) * 0.2


def loss_of(net, b):
    coef = net(b["x"])
    pt, pq = apply_correction(coef, b["basis"], b["bt"], b["bq"])
    e_pos = torch.sqrt(((fk(pq, pt) - b["tp"]) ** 2).sum(-1) + 1e-10).mean(-1)
    e_rot = (quat_to_rotmat(pq) - quat_to_rotmat(b["tq"])).abs().mean((-1, -2, -3))
    return (e_pos.mean() + 0.3 * e_rot.mean()) / b["base_err"].mean().clamp(min=0.01), e_pos


def ratio(net, batches):
    net.eval()
    num = den = 0.0
    with torch.no_grad():
        for b in batches:
            b = dev(b)
            _, e = loss_of(net, b)
            num += float(e.mean(-1).sum())
            den += float(b["base_err"].mean(-1).sum())
    net.train()
    return num / max(den, 1e-9)


def train(name, net, batches, evals, secs, eval_every, lr=5e-4):
    """Train ``net`` for ``secs`` seconds on random batches of the pool (cosine schedule); scores every
    ``eval_every`` steps; returns the result dict (history, scores at the best mean validation ratio)."""
    net = net.to(DEV)
    xs = torch.cat([net.prep(torch.from_numpy(b["x"][:64]).float()) for b in batches[:64]])
    net.m.copy_(xs.mean(0).to(DEV))
    net.s.copy_(xs.std(0).clamp(min=0.05).to(DEV))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    gpu = [dev(b) for b in batches]
    t0, step, hist, best = time.time(), 0, [], (9e9, None, None)
    rng = np.random.default_rng(0)
    while time.time() - t0 < secs:
        frac = (time.time() - t0) / secs
        for g in opt.param_groups:
            g["lr"] = lr * min(1, (step + 1) / 300) * 0.5 * (1 + np.cos(np.pi * frac))
        b = gpu[int(rng.integers(len(gpu)))]
        loss, _ = loss_of(net, b)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % eval_every == 0:
            r = {k: round(ratio(net, v), 4) for k, v in evals.items()}
            val = np.mean([r[k] for k in r if k.startswith("val")])
            hist.append({"step": step, "sec": round(time.time() - t0), "loss": float(loss.detach()), **r})
            if val < best[0]:
                best = (val, step, r)
            log(name, hist[-1])
    res = {"model": name, "steps": step, "best_val_mean": best[0], "best_step": best[1], "at_best": best[2],
           "history": hist, "params": sum(p.numel() for p in net.parameters())}
    log("RESULT", json.dumps({k: v for k, v in res.items() if k != "history"}))
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder from `a4mer data prepare`")
    p.add_argument("--models", default="tf30,tf30h,mlp8,mlp30")
    p.add_argument("--seconds", type=float, default=80.0, help="training time per model")
    p.add_argument("--pool", type=int, default=400, help="training batches of 256 drawn once")
    p.add_argument("--hdm-pool", type=int, default=100, help="HDM05 bd/bk batches (for tf30h)")
    p.add_argument("--bandai-every", type=int, default=3, help="keep every N-th Bandai training clip (by hash)")
    p.add_argument("--eval-every", type=int, default=400)
    p.add_argument("--out", default="")
    a = p.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = True
    data = load(Path(a.data), a.bandai_every)
    tr = [c for r, c in data if r["set"] == "train" and r["dataset"] != "hdm05"]
    hd = [c for r, c in data if r["set"] == "train" and r["dataset"] == "hdm05"]
    evals = {k: fixed_gap_batches([c for r, c in data if r["set"] == v]) for k, v in
             (("val_bandai", "bandai_heldout"), ("val_cmu", "cmu_dance_heldout"), ("val_hdm_dg", "hdm05_actor_dg"))}
    for k, ds in (("test_cmu", "cmu-dance"), ("test_hdm", "hdm05")):
        evals[k] = fixed_gap_batches([c for r, c in data if r["set"] == "test" and r["dataset"] == ds])
    log("fixed 30-frame gap windows", {k: sum(len(b["x"]) for b in v) for k, v in evals.items()})
    pool_tr = pool(tr, a.pool, 100)
    pool_h = pool(hd, a.hdm_pool, 900) if a.hdm_pool and "tf30h" in a.models else []
    log("pools", len(pool_tr), len(pool_h))
    results = []
    for name in a.models.split(","):
        torch.manual_seed(0)
        if name == "mlp8":
            r = train(name, MLP(2 * 8 * F1 + 2, 256, True), pool_tr, evals, a.seconds, a.eval_every, 1e-3)
        elif name == "mlp30":
            r = train(name, MLP(2 * C * F1 + 2, 1024, False), pool_tr, evals, a.seconds, a.eval_every)
        elif name == "tf30":
            r = train(name, TF(), pool_tr, evals, a.seconds, a.eval_every)
        elif name == "tf30h":
            r = train(name, TF(), pool_tr + 2 * pool_h, evals, a.seconds, a.eval_every)
        else:
            raise SystemExit(f"unknown model {name!r} (mlp8, mlp30, tf30, tf30h)")
        results.append(r)
        if a.out:
            Path(a.out).write_text(json.dumps({"device": DEV, "seconds": a.seconds, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
