"""Training of the token route (:mod:`a4mer.heads.token_net`) on the frozen shipped A4Mer model.

The model's tokens are computed once per clip (windows planned as for inference), then two small
networks are fitted on them:
- the decoder, on random frames: rotation loss (6D of every joint) + forward-kinematics loss (joint
  positions on the neutral SMPL skeleton, pelvis over the origin, heading removed) + root height,
  planar velocity and yaw rate;
- the predictor, on random windows with masked segments: one contiguous block inside the window
  (in-betweening) or at its end (extension); smooth-L1 on the masked tokens + L1 on their log length.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import quat_identity
from ..motion import Motion
from .token_net import TokenNet, TokenNetConfig
from .token_pose import pose_vectors
from .torch_geom import fk_rotmat, rot6d_to_rotmat
from .windows import mirror

SAMPLE_FPS = 30.0


@dataclass(frozen=True)
class TokenTrainConfig:
    """minutes: wall-clock budget; max_steps: when set, a budget of steps instead (reproducible on a
    busy machine; the tests use it); frames_per_step / windows_per_step: batch sizes of the decoder
    and predictor steps; fk_weight: weight of the FK loss (per metre of mean joint error)."""

    minutes: float = 8.0
    max_steps: int | None = None
    lr: float = 1e-3
    frames_per_step: int = 512
    windows_per_step: int = 32
    fk_weight: float = 4.0
    length_weight: float = 0.2
    seed: int = 0


@dataclass
class TokenData:
    """Tokens of every window of every clip and the frames they cover.

    tokens (N, D) float32; seg_window (N,) window index; seg_len (N,) s; seg_start (N,) s from the
    window start; window_first (W + 1,) index of each window's first segment (last: N);
    frame_seg (F,) global segment of each 30 fps frame; frame_u (F,) phase in its segment;
    frame_pose (F, POSE_DIM) float32 targets."""

    tokens: np.ndarray
    seg_window: np.ndarray
    seg_len: np.ndarray
    seg_start: np.ndarray
    window_first: np.ndarray
    frame_seg: np.ndarray
    frame_u: np.ndarray
    frame_pose: np.ndarray

    @staticmethod
    def concat(parts: list["TokenData"]) -> "TokenData":
        segs = np.cumsum([0] + [len(p.tokens) for p in parts])
        wins = np.cumsum([0] + [len(p.window_first) - 1 for p in parts])
        return TokenData(np.concatenate([p.tokens for p in parts]),
                         np.concatenate([p.seg_window + w for p, w in zip(parts, wins)]),
                         np.concatenate([p.seg_len for p in parts]), np.concatenate([p.seg_start for p in parts]),
                         np.r_[np.concatenate([p.window_first[:-1] + s for p, s in zip(parts, segs)]), segs[-1]],
                         np.concatenate([p.frame_seg + s for p, s in zip(parts, segs)]),
                         np.concatenate([p.frame_u for p in parts]), np.concatenate([p.frame_pose for p in parts]))


def as_motion(trans: np.ndarray, rot22: np.ndarray, fps: float = SAMPLE_FPS) -> Motion:
    """A Motion of body joints ``rot22 (T, 22, 4)`` (hands at identity)."""
    q = np.concatenate([rot22, quat_identity((len(rot22), 2))], 1)
    return Motion(fps, np.asarray(trans, float), q)


@torch.no_grad()
def clip_token_data(model, trans: np.ndarray, rot22: np.ndarray) -> TokenData:
    """Tokens and frame targets of one 30 fps clip."""
    from ..data.windows import plan_windows
    _, _, b_model, arrays = model._prepare(as_motion(trans, rot22), check_units=False)
    S = len(b_model) - 1
    d = model.config.data
    tokens = model._encode(arrays, b_model)["atom_seg_tokens"]  # encoded in the windows planned here
    spans = plan_windows(b_model, d.window_frames, d.max_segments)
    seg_window = np.concatenate([np.full(j - i, b) for b, (i, j) in enumerate(spans)])
    bt = b_model / model.fps  # boundaries, s
    starts = np.array([bt[i] for i, _ in spans])
    T = len(trans)
    t = np.arange(T) / SAMPLE_FPS
    seg = np.clip(np.searchsorted(bt, t, side="right") - 1, 0, S - 1)
    lens = np.diff(bt)
    u = np.clip((t - bt[seg]) / lens[seg], 0.0, 1.0 - 1e-6)
    return TokenData(tokens.astype(np.float32), seg_window, lens.astype(np.float32),
                     (bt[:-1] - starts[seg_window]).astype(np.float32), np.r_[[i for i, _ in spans], S],
                     seg, u.astype(np.float32), pose_vectors(trans, rot22, SAMPLE_FPS))


def collect(model, clips, use_mirror: bool = True) -> TokenData:
    """:class:`TokenData` of ``clips`` [(name, trans (T, 3), rot (T, 22, 4)) at 30 fps] and, with
    ``use_mirror``, of their mirror images."""
    parts = []
    for _, tr, q in clips:
        for tq in ([(tr, q), mirror(tr, q)] if use_mirror else [(tr, q)]):
            parts.append(clip_token_data(model, *tq))
    return TokenData.concat(parts)


def pose_joints(pose: torch.Tensor) -> torch.Tensor:
    """Joint positions (N, 22, 3) m of heading-free pose vectors (N, POSE_DIM): pelvis at (0, 0, height)."""
    mats = rot6d_to_rotmat(pose[:, :132].reshape(-1, 22, 6))
    root = torch.zeros(len(pose), 3, dtype=pose.dtype, device=pose.device)
    root[:, 2] = pose[:, 132]
    return fk_rotmat(mats, root)


def decoder_batch(data: TokenData, idx: np.ndarray) -> dict[str, torch.Tensor]:
    seg = data.frame_seg[idx]
    w = data.seg_window[seg]
    has_prev = data.window_first[w] < seg
    has_next = seg + 1 < data.window_first[w + 1]
    zero = np.zeros_like(data.tokens[:1])
    t = torch.from_numpy
    return {"prev": t(np.where(has_prev[:, None], data.tokens[np.maximum(seg - 1, 0)], zero)),
            "own": t(data.tokens[seg]),
            "next": t(np.where(has_next[:, None], data.tokens[np.minimum(seg + 1, len(data.tokens) - 1)], zero)),
            "flags": t(np.stack([has_prev, has_next], 1).astype(np.float32)), "length": t(data.seg_len[seg]),
            "u": t(data.frame_u[idx]), "pose": t(data.frame_pose[idx])}


def decoder_loss(net: TokenNet, b: dict, fk_weight: float) -> tuple[torch.Tensor, dict]:
    y = net.decoder(b["prev"], b["own"], b["next"], b["flags"], b["length"], b["u"])
    target = (b["pose"] - net.pose_mean) / net.pose_std
    feat = torch.nn.functional.smooth_l1_loss(y, target)
    pose = y * net.pose_std + net.pose_mean
    fk_err = (pose_joints(pose) - pose_joints(b["pose"])).norm(dim=-1).mean()
    return feat + fk_weight * fk_err, {"feat": float(feat.detach()), "mpjpe_mm": 1000 * float(fk_err.detach())}


def predictor_batch(data: TokenData, windows: np.ndarray, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Padded windows with one masked block each: inside the window (half) or at its end (half)."""
    first, last = data.window_first[windows], data.window_first[windows + 1]
    S = int((last - first).max())
    B, D = len(windows), data.tokens.shape[1]
    tok = np.zeros((B, S, D), np.float32)
    start, length = np.zeros((B, S), np.float32), np.ones((B, S), np.float32)
    valid, mask = np.zeros((B, S), bool), np.zeros((B, S), bool)
    for b, (i, j) in enumerate(zip(first, last)):
        n = j - i
        tok[b, :n], start[b, :n], length[b, :n], valid[b, :n] = data.tokens[i:j], data.seg_start[i:j], data.seg_len[i:j], True
        if n >= 3 and rng.random() < 0.5:  # in-betweening: a block with visible segments on both sides
            k = int(rng.integers(1, min(6, n - 2) + 1))
            a = int(rng.integers(1, n - k))
        else:  # extension: the last k segments
            k = int(rng.integers(1, min(3, n - 1) + 1))
            a = n - k
        mask[b, a:a + k] = True
    t = torch.from_numpy
    return {"tokens": t(tok), "start": t(start), "length": t(length), "valid": t(valid), "mask": t(mask)}


def predictor_loss(net: TokenNet, b: dict, length_weight: float) -> tuple[torch.Tensor, dict]:
    m = b["mask"]
    pred, log_len = net.predict_raw(b["tokens"], b["start"], b["length"], m, b["valid"])
    tok = torch.nn.functional.smooth_l1_loss(pred[m], b["tokens"][m])
    ln = (log_len[m] - b["length"][m].log()).abs().mean()
    return tok + length_weight * ln, {"token": float(tok.detach()), "log_length": float(ln.detach())}


def fit_stats(net: TokenNet, data: TokenData) -> None:
    """Pose normalisation from the training frames (std floored at 1e-3)."""
    net.pose_mean.copy_(torch.from_numpy(data.frame_pose.mean(0)))
    net.pose_std.copy_(torch.from_numpy(np.maximum(data.frame_pose.std(0), 1e-3)))


@torch.no_grad()
def evaluate(net: TokenNet, data: TokenData, cfg: TokenTrainConfig, seed: int = 1) -> dict[str, float]:
    """Mean losses on fixed batches of ``data`` (decoder: up to 8192 frames; predictor: 256 windows)."""
    rng = np.random.default_rng(seed)
    net.eval()
    idx = rng.choice(len(data.frame_seg), size=min(8192, len(data.frame_seg)), replace=False)
    _, dstats = decoder_loss(net, decoder_batch(data, idx), cfg.fk_weight)
    wins = rng.integers(0, len(data.window_first) - 1, size=256)
    wins = wins[data.window_first[wins + 1] - data.window_first[wins] >= 2]
    _, pstats = predictor_loss(net, predictor_batch(data, wins, rng), cfg.length_weight)
    net.train()
    return {**dstats, **pstats}


def train(data: TokenData, cfg: TokenTrainConfig, ncfg: TokenNetConfig = TokenNetConfig(),
          val: dict[str, TokenData] | None = None, log=print) -> tuple[TokenNet, dict]:
    """Fit decoder and predictor for ``cfg.minutes`` (wall clock) or ``cfg.max_steps``; the learning
    rate decays linearly to 0 over the budget. Returns the network and a summary (steps, final
    train/validation losses)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = TokenNet(ncfg)
    fit_stats(net, data)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    wins_ok = np.flatnonzero(np.diff(data.window_first) >= 2)
    budget, t0, step = cfg.minutes * 60.0, time.perf_counter(), 0
    while True:
        frac = step / cfg.max_steps if cfg.max_steps else (time.perf_counter() - t0) / budget
        if frac >= 1.0:
            break
        for g in opt.param_groups:
            g["lr"] = cfg.lr * min(1.0, (step + 1) / 200) * (1.0 - frac)
        ld, sd = decoder_loss(net, decoder_batch(data, rng.integers(0, len(data.frame_seg), cfg.frames_per_step)),
                              cfg.fk_weight)
        lp, sp = predictor_loss(net, predictor_batch(data, rng.choice(wins_ok, cfg.windows_per_step), rng),
                                cfg.length_weight)
        opt.zero_grad()
        (ld + lp).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 500 == 0:
            log(f"step {step} ({100 * frac:.0f} %): decoder {sd['mpjpe_mm']:.1f} mm, token {sp['token']:.4f}, "
                f"log length {sp['log_length']:.3f}")
    net.eval()
    summary = {"steps": step, "seconds": round(time.perf_counter() - t0, 1), "train": evaluate(net, data, cfg)}
    for name, d in (val or {}).items():
        summary[name] = evaluate(net, d, cfg)
    return net, summary
