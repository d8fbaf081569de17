"""Training of the correction decoder on windows of real mocap from several capture sources
(mirroring, playback-speed changes and actor-size scaling of the root translation; sources sampled
with fixed weights so that a large source does not drown the others).

Tasks sampled per batch (one layout per batch): ``gap0``, ``gap1``, ... (dense context on both sides,
one run of missing frames in the MLP's band of 2-120), ``blocking`` (keys 6-30 frames apart),
``extend`` (1-90 frames to predict).
Loss on the generated frames: mean joint-position error of FK on the neutral SMPL skeleton (metres)
+ ``rot_weight`` x L1 of local rotation matrices, divided by the classical curve's error on the batch
(so every task and gap length weighs alike). Batches are drawn by a background thread while the
torch step runs (one torch thread is fastest on 2 cores).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..bench.metrics import body_fk
from ..errors import A4merError
from ..geometry import lerp_at, quat_unflip, slerp_at
from .baselines import extend_basis, gap_basis
from .decoder import CorrectionDecoder, DecoderConfig, apply_correction
from .layouts import blocking_example, extend_example, gap_example, gap_span, to_canon
from .torch_geom import fk_rotmat, quat_to_rotmat
from .windows import mirror



@dataclass(frozen=True)
class TrainConfig:
    """minutes: wall-clock budget; batch: windows per step; speeds: playback-speed factors of the
    augmented copies; task_probs: gap (split evenly over the gap-length bands) / blocking / extend;
    eval_every: steps between validations;
    trans_scale: range of a per-window factor on the root translation (actor size; the skeleton is
    the neutral SMPL one); source_weights: (dataset prefix, share of windows) — clips of a source not
    listed share the weight ``other``; familiarity: candidate gate bands, widest first; by_steps: the
    learning-rate schedule follows ``max_steps`` instead of the wall clock (a reproducible run: same
    seed, same weights)."""

    minutes: float = 18.0
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 200
    speeds: tuple[float, ...] = (0.75, 1.0, 1.3)
    mirror: bool = True
    task_probs: tuple[float, float, float] = (0.55, 0.15, 0.3)
    rot_weight: float = 0.3
    eval_every: int = 250
    familiarity: tuple[tuple[float, float], ...] = ((99.0, 99.9), (95.0, 99.5), (90.0, 99.0), (75.0, 95.0),
                                                    (50.0, 90.0))
    trans_scale: tuple[float, float] = (0.85, 1.15)
    source_weights: tuple[tuple[str, float], ...] = (("bandai", 0.45), ("cmu-dance", 0.25), ("hdm05", 0.3),
                                                     ("other", 0.2))
    seed: int = 0
    max_steps: int = 1_000_000
    by_steps: bool = False


def load_manifest_clips(root: str | Path, datasets: set[str], split: str,
                        where: Callable[[dict], bool] | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, trans (T, 3), rot (T, 22, 4)) of the prepared 30 fps clips of ``datasets`` and ``split``
    listed in ``root/manifest.jsonl`` (from ``a4mer data prepare``); ``where(record)`` filters further
    (e.g. by actor). name = "<dataset>/<file stem>"."""
    from ..io.amass import read_amass_npz
    from ..prepare import manifest_rows
    root = Path(root)
    out = []
    for r in manifest_rows(root):
        if r["dataset"] not in datasets or r["split"] != split or (where is not None and not where(r)):
            continue
        m = read_amass_npz(root / r["path"])
        if abs(m.fps - 30.0) > 1e-6:
            m = m.resample(30.0)
        out.append((f"{r['dataset']}/{Path(r['path']).stem}", m.root_translation.copy(), m.rotations[:, :22].copy()))
    return out


def validation_set_of(record: dict, val_actors: set[str]) -> str | None:
    """Which validation set a *train*-split manifest record belongs to (None: training): a fixed ~5 %
    of Bandai clips ("bandai_heldout"), the HDM05 actors ``val_actors`` ("hdm05_actor_<actors>") and
    ~10 % of the clips of any other data set, e.g. CMU dance or your own ("cmu_dance_heldout",
    "own_heldout"), chosen by a hash of the path."""
    import zlib
    h = zlib.crc32(record["path"].encode()) % 100
    ds = record["dataset"]
    if ds == "hdm05":
        return "hdm05_actor_" + "_".join(sorted(val_actors)) if record.get("labels", {}).get("actor") in val_actors else None
    if ds in ("bandai1", "bandai2"):
        return "bandai_heldout" if h < 5 else None
    return f"{ds.replace('-', '_')}_heldout" if h < 10 else None


#: data sets whose held-out clips validate every heads run that finds them in its manifest, whatever it
#: trains on (the shipped files' sources and HDM05, another capture source)
VALIDATION_DATASETS = frozenset({"bandai1", "bandai2", "cmu-dance", "hdm05"})


def load_split(root: str | Path, train_datasets: set[str], val_actors: set[str],
               log: Callable[[str], None] = print) -> tuple[list, dict[str, list]]:
    """The clips a heads run trains and validates on, from the *train* split of ``root/manifest.jsonl``
    (every test split stays untouched for the benchmark): (training clips of ``train_datasets``,
    {validation set name: clips}) with the validation sets of :func:`validation_set_of` from
    ``train_datasets`` and :data:`VALIDATION_DATASETS`; clips as :func:`load_manifest_clips` gives them.
    :class:`A4merError` before any clip is read when no training or no validation clip would be left."""
    from ..prepare import manifest_rows
    records = [r for r in manifest_rows(root) if r["split"] == "train"]  # paths as in the file, as validation_set_of hashes them
    given = sorted({r["dataset"] for r in records})
    datasets = set(train_datasets) | VALIDATION_DATASETS
    held = {r["path"]: validation_set_of(r, val_actors) for r in records}  # path -> its validation set (None: training)
    names = sorted({held[r["path"]] for r in records if r["dataset"] in datasets} - {None})
    if not any(r["dataset"] in train_datasets and held[r["path"]] is None for r in records):
        raise A4merError(f"{root}: no training clips of {', '.join(sorted(train_datasets))} in its train split "
                         f"(it holds {', '.join(given) or 'none'}): choose the data sets with --train-datasets")
    if not names:
        raise A4merError(f"{root}: no validation clips (the heads choose their checkpoint and gates on held-out "
                         f"clips: ~10 % of each data set's train split, chosen by path, none fell out of the "
                         f"{sum(r['dataset'] in train_datasets for r in records)} clips of "
                         f"{', '.join(sorted(train_datasets))}): give more clips")
    train = load_manifest_clips(root, set(train_datasets), "train", where=lambda r: held[r["path"]] is None)
    val = {n: load_manifest_clips(root, datasets, "train", where=lambda r, n=n: held[r["path"]] == n) for n in names}
    for n, clips in val.items():
        log(f"validation set {n}: {len(clips)} clips")
    return train, val


def source_of(name: str) -> str:
    """Source of a clip name "<dataset>/<stem>" ("bandai1" and "bandai2" are one source, "bandai")."""
    ds = name.split("/", 1)[0]
    return "bandai" if ds.startswith("bandai") else ds


def clip_weights(names: list[str], lengths, source_weights) -> np.ndarray:
    """Sampling probability ``(N,)`` of each clip: its source's share (``source_weights``; unknown
    sources share ``other``), split within the source in proportion to clip length."""
    sw = dict(source_weights)
    src = [source_of(n) for n in names]
    known = set(src) & set(sw)
    others = set(src) - known
    lengths = np.asarray(lengths, float)
    w = np.zeros(len(names))
    for s_ in set(src):
        idx = np.array([i for i, x in enumerate(src) if x == s_])
        share = sw[s_] if s_ in sw else sw.get("other", 0.2) / len(others)
        w[idx] = share * lengths[idx] / lengths[idx].sum()
    return w / w.sum()


def augment(clips, speeds, do_mirror: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Copies of every clip at each playback speed (and mirrored): list of (trans, rot) float32, in
    the order clip 0 copies, clip 1 copies, ... (``len(speeds) * (2 if do_mirror else 1)`` each)."""
    out = []
    for _, tr, q in clips:
        q = quat_unflip(q)
        for f in speeds:
            if f == 1.0:
                t2, q2 = tr, q
            else:
                c = np.arange(0, len(tr) - 1 + 1e-9, f)
                t2, q2 = lerp_at(tr, c), slerp_at(q, c)
            out.append((t2.astype(np.float32), q2.astype(np.float32)))
            if do_mirror:
                mt, mq = mirror(t2, q2)
                out.append((mt.astype(np.float32), mq.astype(np.float32)))
    return out


class WindowSampler:
    """Draws batches of training examples from clips ``[(trans (T,3), rot (T,22,4))]`` at 30 fps.

    One layout per batch (so the sine basis is shared): ``gap<i>`` (G missing frames log-uniform over the
    band's ``DecoderConfig.gap_range``; sometimes less context), ``blocking`` (keys ~N = 6..30 apart, neighbouring keys jittered or absent),
    ``extend`` (H = 1..90 frames, log-uniform)."""

    def __init__(self, clips, rng: np.random.Generator, cfg: DecoderConfig, weights: np.ndarray | None = None,
                 trans_scale: tuple[float, float] = (1.0, 1.0)):
        self.clips = clips
        self.lengths = np.array([len(t) for t, _ in clips])
        self.rng = rng
        self.cfg = cfg
        self.weights = None if weights is None else np.asarray(weights, float)
        self.trans_scale = trans_scale

    def _windows(self, W: int, B: int) -> tuple[np.ndarray, np.ndarray] | None:
        """B random windows of W frames ``(B, W, 3)``, ``(B, W, 22, 4)`` (None if no clip is that long)."""
        ok = np.flatnonzero(self.lengths >= W)
        if len(ok) == 0:
            return None
        if self.weights is None:
            chosen = self.rng.choice(ok, size=B)
        else:
            p = self.weights[ok]
            chosen = self.rng.choice(ok, size=B, p=p / p.sum())
        ts, qs = [], []
        for ci in chosen:
            tr, q = self.clips[int(ci)]
            a = int(self.rng.integers(0, len(tr) - W + 1))
            ts.append(tr[a:a + W])
            qs.append(q[a:a + W])
        t = np.stack(ts).astype(float)
        lo, hi = self.trans_scale
        if hi > lo:  # actor size: scale the root path about the window's first root position
            f = self.rng.uniform(lo, hi, size=(B, 1, 1))
            t = t[:, :1] + f * (t - t[:, :1])
        return t, np.stack(qs).astype(float)

    def batch(self, task: str, B: int) -> dict[str, np.ndarray]:
        r, C = self.rng, self.cfg.context
        while True:
            if task.startswith("gap"):
                lo, hi = self.cfg.gap_range(task)
                G = int(np.exp(r.uniform(np.log(lo), np.log(hi + 1))))
                span = gap_span(C, self.cfg.gap_stride)
                cb, ca = (span, span) if r.random() < 0.8 else (int(r.integers(1, span + 1)), int(r.integers(1, span + 1)))
                win = self._windows(cb + G + ca, B)
                if win is None:
                    continue
                s, e = cb - 1, cb + G
                ex = gap_example(*win, s, e, C, self.cfg.gap_stride, self.cfg.relative_rotations,
                                 self.cfg.velocity_order(task), self.cfg.gap_global_weight)
                tt, tq = win[0][:, s + 1:e], win[1][:, s + 1:e]
                basis = gap_basis(e - s, self.cfg.basis)
            elif task == "blocking":
                N = int(r.integers(6, 31))
                prev = 0 if r.random() < 0.15 else max(2, N + int(r.integers(-3, 4)))
                nxt = 0 if r.random() < 0.15 else max(2, N + int(r.integers(-3, 4)))
                win = self._windows(prev + N + nxt + 1, B)
                if win is None:
                    continue
                s, e = prev, prev + N
                ex = blocking_example(*win, 0 if prev else None, s, e, e + nxt if nxt else None,
                                      self.cfg.relative_rotations)
                tt, tq = win[0][:, s + 1:e], win[1][:, s + 1:e]
                basis = gap_basis(N, self.cfg.basis)
            else:
                H = int(np.exp(r.uniform(0, np.log(91))))
                c = 3 * C if r.random() < 0.85 else int(r.integers(2, 3 * C + 1))
                win = self._windows(c + H, B)
                if win is None:
                    continue
                ex = extend_example(win[0][:, :c], win[1][:, :c], H, C, self.cfg.extend_tau,
                                    self.cfg.relative_rotations)
                tt, tq = win[0][:, c:], win[1][:, c:]
                basis = extend_basis(H, self.cfg.basis, self.cfg.horizon)
            break
        tt, tq = to_canon(tt, tq, ex.inv, ex.shift)
        tp = body_fk(tq, tt)[0]
        bp = body_fk(ex.base_q, ex.base_t)[0]
        out = {"x": ex.x, "bt": ex.base_t, "bq": ex.base_q, "tt": tt, "tq": tq, "tp": tp,
               "base_err": np.linalg.norm(bp - tp, axis=-1).mean(-1), "basis": basis}
        return {k: v.astype(np.float32) for k, v in out.items()}


class Prefetcher:
    """Draws ``(task, batch)`` pairs in a background thread so that numpy sampling overlaps the torch
    step (both release the GIL for most of their work). Deterministic: one thread draws the tasks
    and the batches in order from the sampler's generator. Use as a context manager."""

    def __init__(self, sampler: "WindowSampler", tasks: tuple[str, ...], probs: np.ndarray, batch: int,
                 depth: int = 4):
        import queue
        import threading
        self._q: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._args = (sampler, tasks, probs / probs.sum(), batch)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Prefetcher":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _put(self, item) -> None:
        import queue
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        sampler, tasks, p, B = self._args
        try:
            while not self._stop.is_set():
                task = tasks[sampler.rng.choice(len(tasks), p=p)]
                self._put((task, _tensors(sampler.batch(task, B))))
        except BaseException as e:  # raised again by next()
            self._put(("error", e))

    def next(self) -> tuple[str, dict]:
        task, b = self._q.get()
        if task == "error":
            raise b
        return task, b


def _tensors(b: dict) -> dict[str, torch.Tensor]:
    return {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in b.items()}


def losses(net: CorrectionDecoder, b: dict, rot_weight: float, task: str) -> tuple[torch.Tensor, dict]:
    """Loss of a batch relative to the classical curve's error, and MPJPE (mm) of learned and base."""
    coef = net(task, b["x"])
    pt, pq = apply_correction(coef, b["basis"], b["bt"], b["bq"])
    pm = quat_to_rotmat(pq)
    e_pos = torch.sqrt(((fk_rotmat(pm, pt) - b["tp"]) ** 2).sum(-1) + 1e-10).mean(-1)  # (B, N) m
    e_rot = (pm - quat_to_rotmat(b["tq"])).abs().mean((-1, -2, -3))
    l_pos, l_rot = e_pos.mean(), e_rot.mean()
    base = b["base_err"].mean()
    scale = base.clamp(min=0.01)
    return (l_pos + rot_weight * l_rot) / scale, {"mpjpe_mm": float(l_pos.detach()) * 1000,
                                                  "base_mpjpe_mm": float(base) * 1000}


def make_val_batches(clips, seed: int, dcfg: DecoderConfig, per_task: int = 6, B: int = 64) -> dict[str, list[dict]]:
    """Fixed validation batches per task from ``clips`` (no augmentation)."""
    s = WindowSampler([(t.astype(np.float32), q.astype(np.float32)) for _, t, q in clips],
                      np.random.default_rng(seed), dcfg)
    return {task: [_tensors(s.batch(task, B)) for _ in range(per_task)] for task in dcfg.input_dims()}


def evaluate(net: CorrectionDecoder, val: dict[str, list[dict]], rot_weight: float) -> dict[str, dict]:
    """Mean learned and base MPJPE (mm) per task on fixed batches."""
    net.eval()
    res = {}
    with torch.no_grad():
        for task, batches in val.items():
            parts = [losses(net, b, rot_weight, task)[1] for b in batches]
            res[task] = {k: float(np.mean([p[k] for p in parts])) for k in parts[0]}
    net.train()
    return res


def train(cfg: TrainConfig, dcfg: DecoderConfig, clips, val_sets: dict[str, dict],
          log: Callable[[str], None] = print) -> tuple[CorrectionDecoder, dict]:
    """Train a decoder on augmented ``clips`` [(name, trans, rot)] within ``cfg.minutes``.

    val_sets: name -> batches from :func:`make_val_batches` (held-out data, e.g. other sources).
    Returns the net with the best weights on the summed learned/base validation MPJPE ratios, and a
    history dict."""
    if not val_sets:  # the checkpoint, the familiarity bands and the gates are chosen on them
        raise A4merError("the heads need validation clips (val_sets is empty): see load_split")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    aug = augment(clips, cfg.speeds, cfg.mirror)
    copies = len(cfg.speeds) * (2 if cfg.mirror else 1)
    names = [n for n, _, _ in clips for _ in range(copies)]
    weights = clip_weights(names, [len(t) for t, _ in aug], cfg.source_weights)
    shares = {}
    for n, w in zip(names, weights):
        shares[source_of(n)] = shares.get(source_of(n), 0.0) + float(w)
    log(f"training windows from {len(clips)} clips -> {len(aug)} augmented copies, "
        f"{sum(len(t) for t, _ in aug)} frames; source shares " +
        ", ".join(f"{k} {v:.2f}" for k, v in sorted(shares.items())))
    sampler = WindowSampler(aug, rng, dcfg, weights, cfg.trans_scale)
    net = CorrectionDecoder(dcfg)
    tasks = tuple(dcfg.input_dims())
    gaps = dcfg.gap_tasks()
    probs = np.array([cfg.task_probs[0] / len(gaps)] * len(gaps) + list(cfg.task_probs[1:]))
    for t in tasks:  # fixed input standardisation from the training data
        net.tasks[t].set_normalization(torch.cat([torch.from_numpy(sampler.batch(t, 64)["x"]) for _ in range(8)]))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    t0 = time.time()
    budget = cfg.minutes * 60
    hist: dict = {"val": [], "config": asdict(cfg), "decoder": asdict(dcfg)}
    best, best_state = float("inf"), None
    step = 0
    run = []
    # the training batches come from a sampler of their own: the background thread draws a few more
    # than are used, which must not shift what the familiarity selection below draws
    feed_sampler = WindowSampler(aug, np.random.default_rng([cfg.seed, 1]), dcfg, weights, cfg.trans_scale)
    with Prefetcher(feed_sampler, tasks, probs, cfg.batch) as feed:
        while time.time() - t0 < budget and step < cfg.max_steps:
            frac = step / cfg.max_steps if cfg.by_steps else (time.time() - t0) / budget
            lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * (0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
            for g in opt.param_groups:
                g["lr"] = lr
            task, b = feed.next()
            loss, parts = losses(net, b, cfg.rot_weight, task)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            run.append(parts["mpjpe_mm"] / max(parts["base_mpjpe_mm"], 1e-6))
            step += 1
            if step % cfg.eval_every == 0 or time.time() - t0 >= budget:
                ev = {name: evaluate(net, v, cfg.rot_weight) for name, v in val_sets.items()}
                score = sum(r["mpjpe_mm"] / max(r["base_mpjpe_mm"], 1e-6) for e in ev.values() for r in e.values())
                hist["val"].append({"step": step, "minutes": (time.time() - t0) / 60, "train_ratio": float(np.mean(run)),
                                    "val": ev})
                log(f"step {step} ({(time.time() - t0) / 60:.1f} min) lr {lr:.2e} train learned/base {np.mean(run):.3f} | " +
                    " | ".join(f"{n}: " + ", ".join(f"{t} {r['mpjpe_mm']:.1f}/{r['base_mpjpe_mm']:.1f}" for t, r in e.items())
                               for n, e in ev.items()))
                run = []
                if score < best:
                    best = score
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    hist["best_step"] = step
    if best_state is not None:
        net.load_state_dict(best_state)
    hist["familiarity_band"], hist["gates"], hist["final_val"] = select_familiarity(net, sampler, val_sets, cfg)
    hist["steps"] = step
    hist["minutes"] = (time.time() - t0) / 60
    return net, hist


def select_familiarity(net: CorrectionDecoder, sampler: WindowSampler, val_sets: dict, cfg: TrainConfig,
                       batches: int = 16) -> tuple[dict, dict, dict]:
    """Fade each task's correction out on inputs less familiar than the training data: the mean
    squared standardised input between two percentiles of training examples. Per task, the widest band
    of ``cfg.familiarity`` whose validation results pass :func:`choose_gates` is kept (motion unlike
    the training data then gets the classical curve instead of a guess); a task with no passing band
    keeps the widest band and is gated off. Returns (bands, gates, final validation)."""
    names = tuple(net.cfg.input_dims())
    xs = {t: torch.cat([torch.from_numpy(sampler.batch(t, 64)["x"]) for _ in range(batches)]) for t in names}
    chosen: dict[str, tuple[float, float]] = {}
    for band in cfg.familiarity:
        for t in names:
            net.tasks[t].set_familiarity(xs[t], *(chosen.get(t, band)))
        gates = choose_gates({n: evaluate(net, v, cfg.rot_weight) for n, v in val_sets.items()})
        for t in names:
            if t not in chosen and gates[t]:
                chosen[t] = band
    for t in names:
        net.tasks[t].set_familiarity(xs[t], *(chosen.get(t, cfg.familiarity[0])))
    final = {n: evaluate(net, v, cfg.rot_weight) for n, v in val_sets.items()}
    return {t: list(b) for t, b in chosen.items()}, task_gates({t: t in chosen for t in names}), final


def task_gates(mlp_gates: dict[str, bool]) -> dict[str, bool]:
    """Gates per MLP (``gap0``.., ``blocking``, ``extend``) plus ``inbetween``: whether any gap MLP is on."""
    return {**mlp_gates, "inbetween": any(v for k, v in mlp_gates.items() if k.startswith("gap"))}


def choose_gates(final_eval: dict[str, dict], tolerance: float = 0.005) -> dict[str, bool]:
    """Use the learned correction for a task only where it is not worse than its classical curve (the
    answer the heads fall back to) by more than ``tolerance`` (relative) on any validation set and
    better on average over them. Keys: the MLPs of the evaluation (``gap0``.., ``blocking``, ``extend``)
    and ``inbetween`` (see :func:`task_gates`)."""
    gates = {}
    for t in next(iter(final_eval.values())):
        ratios = [e[t]["mpjpe_mm"] / max(e[t]["base_mpjpe_mm"], 1e-9) for e in final_eval.values()]
        gates[t] = bool(max(ratios) <= 1.0 + tolerance and np.mean(ratios) < 1.0)
    return task_gates(gates)
