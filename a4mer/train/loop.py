"""The training loop: stage 1 (atoms), motif mining, optional joint stage 2; data-parallel under
torchrun (gradients all-reduced over ranks, gloo on CPU); progress bar with loss, token std
(collapse guard) and throughput; periodic checkpoints and resume."""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from ..data.dataset import ClipItem, WindowSampler, build_items
from ..errors import A4merError
from ..features import model_bounds
from ..jepa.ema import momentum_at
from ..jepa.hierarchy import A4MerNet, round_to_half
from ..jepa.model import FEATURE_STD_FLOOR
from .checkpoint import check_state_matches, load_config_json, load_resume, load_weights, read_state, save_checkpoint
from .config import TrainConfig, to_dict
from .interrupt import HoldInterrupt, TrainingInterrupted
from .mining import assign_groups, mine_vocabulary


def _dist() -> tuple[int, int]:
    """(rank, world size); initialises gloo when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def make_segmenter(config: TrainConfig):
    fps, atoms = config.data.fps, config.model.atoms
    return lambda motion: model_bounds(motion, atoms, fps)[1]


def feature_stats(items: list[ClipItem], config: TrainConfig, rng: np.random.Generator, n: int = 256
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (F,) of the features of ``n`` random windows (std floored at ``FEATURE_STD_FLOOR``)."""
    sampler = WindowSampler(items, config.data, rng)
    b = sampler.next_batch(n)
    x = b.frames[b.frame_seg >= 0]  # (N, F)
    return x.mean(0), x.std(0).clamp_min(FEATURE_STD_FLOOR)


def lr_at(step: int, fraction: float, config: TrainConfig) -> float:
    """Learning rate: linear warm-up over ``warmup_steps``, then cosine decay to 5 % by ``fraction`` = 1."""
    o = config.optim
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    return o.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(max(fraction, 0.0), 1.0))))


def progress_fraction(step: int, total: int, elapsed: float, config: TrainConfig) -> float:
    """How far the run is, in [0, 1]: ``step / total``, or with ``time_limit_s`` the larger of that
    and ``elapsed / time_limit_s`` (the schedules then fit the wall-clock budget; such runs are not
    bit-reproducible)."""
    f = step / max(total, 1)
    if config.time_limit_s:
        f = max(f, elapsed / config.time_limit_s)
    return min(f, 1.0)


def build_net(config: TrainConfig) -> A4MerNet:
    """A freshly initialised :class:`A4MerNet` (seeded by ``config.seed``; global RNG restored)."""
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        return A4MerNet(config.model.stage1, config.model.stage2, config.data.fps)


class _Bar:
    """tqdm bar on an interactive stderr, one log line per ``log_every`` steps otherwise."""

    def __init__(self, total: int, initial: int, enabled: bool):
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=initial, dynamic_ncols=True, desc="train")

    def update(self, step: int, total: int, stats: dict[str, float]) -> None:
        if not self.enabled:
            return
        text = " ".join(f"{k}={v:.4g}" for k, v in stats.items())
        if self.bar is not None:
            self.bar.n = step
            self.bar.set_postfix_str(text, refresh=True)
        else:
            print(f"step {step}/{total} {text}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train(data_dir: str | Path, config: TrainConfig, out: str | Path, resume: bool = False,
          items: list[ClipItem] | None = None, progress: bool = True, stop_after: int | None = None) -> Path:
    """Train an A4Mer model on a prepared dataset (or on ``items``) and write checkpoints to ``out``.

    Writes ``out/model.safetensors``, ``config.json``, ``optimizer.pt``, ``state.json``,
    ``vocab.safetensors`` (after mining) and the inference bundle ``out/bundle.safetensors``.
    ``stop_after``: stop (with a checkpoint, no bundle) after this many steps of this call; continue
    later with ``resume=True``. Clips of ``data_dir`` that cannot be used are skipped with a warning
    (:func:`~a4mer.data.dataset.build_items`). A KeyboardInterrupt (Ctrl-C) once training has started
    writes a checkpoint at the last completed step and raises :class:`TrainingInterrupted`.
    """
    rank, world = _dist()
    out = Path(out)
    if resume:
        if not (out / "model.safetensors").is_file():
            raise A4merError(f"{out}: nothing to resume (no model.safetensors)")
        config = load_config_json(out)  # the run's own settings, threads included (same weights as one run)
        if _complete(out, config):
            if rank == 0:
                print(f"a4mer train: {out}: this run is complete (its bundle is written): nothing to resume",
                      file=sys.stderr, flush=True)
            return out
    if config.threads:
        torch.set_num_threads(config.threads)
    build_rng = np.random.default_rng([config.seed, 7])
    if items is None:
        t_load = time.time()

        def loaded(k: int, n: int) -> None:
            if progress and rank == 0 and (k % 250 == 0 or k == n):
                print(f"prepared {k}/{n} clips ({time.time() - t_load:.0f} s)", file=sys.stderr, flush=True)

        def warn(message: str) -> None:  # skipped clips: always reported (rank 0)
            if rank == 0:
                print(f"a4mer train: warning: {message}", file=sys.stderr, flush=True)

        items = build_items(data_dir, config.data, make_segmenter(config), build_rng, loaded, warn)
    net = build_net(config)
    mean, std = feature_stats(items, config, np.random.default_rng([config.seed, 11]))
    net.stage1.feat_mean.copy_(mean)
    net.stage1.feat_std.copy_(std)
    params = [p for n, p in net.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    rng = np.random.default_rng([config.seed, rank])
    step, vocab, st = 0, None, {}
    total = config.optim.steps + config.optim.stage2_steps
    data = data_fingerprint(items)
    if resume:
        load_weights(out, net)
        st = load_resume(out, opt)
        mixed = check_state_matches(net, st)
        if mixed and rank == 0:
            print(f"a4mer train: warning: {mixed}", file=sys.stderr, flush=True)
        if st.get("data") not in (None, data):  # checkpoints before the fingerprint was kept have none
            given = data_dir if data_dir is not None else "the clips given"
            raise A4merError(f"{out}: this run was trained on other data ({st['data']['clips']} clip variants) than "
                             f"{given} gives ({data['clips']}): resume with the run's own --data, or start a new "
                             "--out")
        step = int(st["step"])
        if rank == 0 and int(st.get("world", 1)) == world:
            rng.bit_generator.state = st["rng"]
        else:  # other ranks: a fresh stream per (seed, rank, step)
            rng = np.random.default_rng([config.seed, rank, step])
    stage1_fraction = config.optim.steps / max(total, 1)
    elapsed0 = float(st.get("elapsed", 0.0)) if resume else 0.0
    if (resume and (out / "vocab.safetensors").is_file() and config.optim.stage2_steps
            and progress_fraction(step, total, elapsed0, config) >= stage1_fraction):  # in stage 2: its vocabulary
        from ..motifs.vocab import MotifVocabulary
        vocab = MotifVocabulary.load(out / "vocab.safetensors")
        assign_groups(net, items, vocab, config)
    sampler = WindowSampler(items, config.data, rng)
    bar = _Bar(total, step, progress and rank == 0)
    t0, seen, last = time.time(), 0, {}
    first = step
    net.train()
    elapsed = lambda: elapsed0 + time.time() - t0  # noqa: E731
    rng_done = rng.bit_generator.state  # the generator state after the last completed step (``step``)
    try:
        while True:
            frac = progress_fraction(step, total, elapsed(), config)
            if frac >= 1.0:
                break
            if world > 1:  # every rank follows rank 0's clock
                flags = torch.tensor([frac])
                dist.broadcast(flags, 0)
                frac = float(flags[0])
                if frac >= 1.0:
                    break
            use2 = config.optim.stage2_steps > 0 and frac >= stage1_fraction
            if use2 and vocab is None:
                if rank == 0:  # the end of stage 1: a run stopped while mining resumes from here
                    _save(out, net, config, opt, step, rng_done, world, elapsed(), data)
                vocab = mine_vocabulary(net, items, config)
                if rank == 0:
                    vocab.save(out / "vocab.safetensors")
                assign_groups(net, items, vocab, config)
            for g in opt.param_groups:
                g["lr"] = lr_at(step, frac, config)
            batch = sampler.next_batch(max(1, config.optim.batch_size // world))
            loss, stats = net.loss(batch, use2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if world > 1:
                for p in params:
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world
            torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip)
            with HoldInterrupt():  # Ctrl-C never leaves a half-applied update
                opt.step()
                net.ema_step(momentum_at(int(frac * 10000), 10000, config.optim.ema_start, config.optim.ema_end), use2)
                step += 1
                rng_done = rng.bit_generator.state
            seen += batch.frames.shape[0] * world
            if not math.isfinite(loss.item()):
                raise A4merError(f"training diverged at step {step} (loss {loss.item()})")
            last = {"loss": loss.item(), **stats, "win/s": seen / max(time.time() - t0, 1e-9)}
            if step % config.log_every == 0 or step == total:
                bar.update(step, total, last)
            if rank == 0 and step % config.checkpoint_every == 0:
                _save(out, net, config, opt, step, rng_done, world, elapsed(), data)
            if stop_after is not None and step - first >= stop_after and step < total:
                if rank == 0:
                    _save(out, net, config, opt, step, rng_done, world, elapsed(), data)
                bar.close()
                return out
        bar.close()
        in_sync = _ranks_in_sync(net) if world > 1 else True
        round_to_half(net)  # the bundle stores float16: mine with exactly the weights that ship
        vocab = mine_vocabulary(net, items, config)
        if rank == 0:
            vocab.save(out / "vocab.safetensors")
            _save(out, net, config, opt, step, rng_done, world, elapsed(), data)
            from ..model import A4Mer
            info = {"training": {"steps": step}}  # no wall-clock seconds (train_log.json): the same run, the same bytes
            A4Mer(config, net, vocab, info).save(out / "bundle.safetensors")
            (out / "train_log.json").write_text(json.dumps({"step": step, "last": last, "seconds": elapsed(),
                                                              "world": world, "ranks_in_sync": in_sync}),
                                                   encoding="utf-8", newline="\n")
    except KeyboardInterrupt:  # Ctrl-C: a checkpoint at the last completed step, for --resume
        bar.close()
        saved = rank == 0 and step > 0
        if saved:  # a second Ctrl-C here aborts the save (each file is still replaced atomically)
            _save(out, net, config, opt, step, rng_done, world, elapsed(), data)
        raise TrainingInterrupted(out, step, total, saved, rank) from None
    if dist.is_initialized():
        dist.barrier()
    return out


def _complete(out: Path, config: TrainConfig) -> bool:
    """True when the run in ``out`` has ended: its bundle is written and its last checkpoint
    (``state.json``) is at the end of the schedule (steps, or ``time_limit_s``)."""
    try:
        st = read_state(out)
    except A4merError:
        return False  # the resume reports what is wrong with it
    total = config.optim.steps + config.optim.stage2_steps
    return (out / "bundle.safetensors").is_file() and progress_fraction(st["step"], total, st["elapsed"], config) >= 1.0


def _ranks_in_sync(net: A4MerNet) -> bool:
    """True when every rank holds the same weights (data-parallel invariant)."""
    v = torch.stack([p.detach().double().sum() for p in net.parameters()])
    ref = v.clone()
    dist.broadcast(ref, 0)
    ok = torch.tensor([float(torch.allclose(v, ref, rtol=0, atol=1e-9))])
    dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok.item() == 1.0)


def data_fingerprint(items: list[ClipItem]) -> dict[str, Any]:
    """What a run was trained on, kept in its checkpoint so that ``--resume`` with other data is
    refused: the number of clip variants and a digest of their names and lengths (frames)."""
    import hashlib
    lines = sorted(f"{it.name}\t{it.num_frames}" for it in items)
    return {"clips": len(items), "digest": hashlib.sha1("\n".join(lines).encode()).hexdigest()[:16]}


def _save(out: Path, net: A4MerNet, config: TrainConfig, opt: Any, step: int, rng_state: dict[str, Any], world: int,
          elapsed: float, data: dict[str, Any]) -> None:
    """Checkpoint after ``step`` completed steps; ``rng_state``: the sampler generator's state after
    that step; ``elapsed``: seconds of optimisation so far (for ``time_limit_s``); ``data``: the
    :func:`data_fingerprint` of the run's clips."""
    # each rank's generator state is not gathered; ranks > 0 reseed deterministically from the step on resume
    save_checkpoint(out, net, config, opt, {"step": step, "rng": rng_state, "world": world, "elapsed": elapsed,
                                            "config": to_dict(config), "data": data})
