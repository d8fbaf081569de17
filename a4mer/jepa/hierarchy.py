"""Both levels together: atoms (stage 1) and motifs (stage 2) with hierarchical masking (§6)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.windows import Batch
from .ema import ema_update
from .model import StageConfig, StageJEPA


def frame_times(batch: Batch, fps: float) -> torch.Tensor:
    """(B, T) seconds of each frame from its window start."""
    T = batch.frames.shape[1]
    return (torch.arange(T, dtype=torch.float32, device=batch.frames.device) / fps).expand(batch.frames.shape[0], T)


def motif_inputs(atom_tok: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
    """Stage-2 inputs from atom tokens (B, S, D) and ``batch.seg_group``: atoms are the "frames",
    motifs the segments. Returns frames, frame_time, frame_seg (B, S), seg_start, seg_len,
    seg_valid, mask (B, M); a motif is masked when its atoms are (masks are drawn per motif)."""
    g = batch.seg_group
    M = int(g.max().item()) + 1 if g.numel() else 1
    B, S = g.shape
    idx = torch.where(g < 0, torch.full_like(g, M), g)  # (B, S)
    big = torch.full((B, M + 1), 1e9, device=g.device)
    start = big.scatter_reduce(1, idx, batch.seg_start, reduce="amin", include_self=True)[:, :M]
    length = torch.zeros(B, M + 1, device=g.device).scatter_add(1, idx, batch.seg_len * batch.seg_valid)[:, :M]
    valid = torch.zeros(B, M + 1, dtype=torch.bool, device=g.device).scatter(1, idx, batch.seg_valid)[:, :M]
    mask = torch.zeros(B, M + 1, dtype=torch.bool, device=g.device).scatter(1, idx, batch.mask & batch.seg_valid)[:, :M]
    start = torch.where(valid, start, torch.zeros_like(start))
    return {"frames": atom_tok, "frame_time": batch.seg_start, "frame_seg": g, "seg_start": start,
            "seg_len": length, "seg_valid": valid, "mask": mask & valid}


class A4MerNet(nn.Module):
    """stage1: atom-level JEPA on pose features; stage2: motif-level JEPA on stage-1 atom tokens
    (the target encoder's per-segment tokens, detached, so a masked motif's atoms leak nothing)."""

    def __init__(self, stage1: StageConfig, stage2: StageConfig, fps: float):
        super().__init__()
        self.fps = fps
        self.stage1 = StageJEPA(stage1)
        self.stage2 = StageJEPA(stage2)

    def loss(self, batch: Batch, use_stage2: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
        """Stage-1 loss (+ stage-2 loss when ``use_stage2`` and the batch has motif groups)."""
        ft = frame_times(batch, self.fps)
        l1, st = self.stage1.loss(batch.frames, ft, batch.frame_seg, batch.seg_start, batch.seg_len,
                                  batch.seg_valid, batch.mask)
        stats = {"loss1": float(l1.detach()), "token_std": st["token_std"]}
        if not (use_stage2 and batch.seg_group is not None):
            return l1, stats
        seg_tok, _ = self.stage1.encode(batch.frames, ft, batch.frame_seg, batch.seg_start, batch.seg_len, batch.seg_valid)
        mi = motif_inputs(seg_tok, batch)
        l2, st2 = self.stage2.loss(**mi)
        stats.update(loss2=float(l2.detach()), motif_std=st2["token_std"])
        return l1 + l2, stats

    def ema_step(self, momentum: float, use_stage2: bool) -> None:
        ema_update(self.stage1.target, self.stage1.context, momentum)
        if use_stage2:
            ema_update(self.stage2.target, self.stage2.context, momentum)

    @torch.no_grad()
    def encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Target tokens: ``atom_tokens`` (B, S, D) contextual atom tokens, ``atom_seg_tokens``
        (B, S, D) per-segment encoder tokens, and with ``batch.seg_group`` ``motif_tokens`` (B, M, D)."""
        ft = frame_times(batch, self.fps)
        seg_tok, tok = self.stage1.encode(batch.frames, ft, batch.frame_seg, batch.seg_start, batch.seg_len, batch.seg_valid)
        out = {"atom_tokens": tok, "atom_seg_tokens": seg_tok}
        if batch.seg_group is not None:
            mi = motif_inputs(seg_tok, batch)
            mi.pop("mask")
            out["motif_tokens"] = self.stage2.encode(**mi)[1]
            out["motif_valid"] = mi["seg_valid"]
        return out


@torch.no_grad()
def encode_clip(net: A4MerNet, arrays: dict, bounds, window_frames: int, max_segments: int,
                groups=None, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Target tokens of a whole clip, encoded in consecutive windows of whole segments.

    arrays: frame arrays at ``net.fps``; bounds: (S+1,) segment boundaries in those frames; groups:
    (S,) motif index per atom (non-decreasing) or None. Returns ``atom_tokens`` (S, D),
    ``atom_seg_tokens`` (S, D) and with groups ``motif_tokens`` (M, D) float32 numpy arrays.
    """
    import numpy as np

    from ..data.windows import collate, plan_windows

    bounds = np.asarray(bounds, dtype=np.int64)
    S = len(bounds) - 1
    gstarts = None if groups is None else np.nonzero(np.r_[True, groups[1:] != groups[:-1]])[0]
    spans = plan_windows(bounds, window_frames, max_segments, gstarts)
    device = next(net.parameters()).device
    atom, seg, motif = [], [], []
    for k in range(0, len(spans), batch_size):
        part = spans[k:k + batch_size]
        gl = None if groups is None else [groups[i:j] for i, j in part]
        batch = collate([arrays] * len(part), [bounds] * len(part), part, net.fps, None, gl).to(device)
        out = net.encode(batch)
        for b, (i, j) in enumerate(part):
            atom.append(out["atom_tokens"][b, :j - i].float().cpu().numpy())
            seg.append(out["atom_seg_tokens"][b, :j - i].float().cpu().numpy())
            if groups is not None:
                n = int(out["motif_valid"][b].sum())
                ids, counts = np.unique(groups[i:j], return_counts=True)  # the window's motifs, in order
                motif.append((out["motif_tokens"][b, :n].float().cpu().numpy(), ids, counts))
    res = {"atom_tokens": np.concatenate(atom) if atom else np.zeros((0, net.stage1.config.encoder.dim), np.float32),
           "atom_seg_tokens": np.concatenate(seg) if seg else np.zeros((0, net.stage1.config.encoder.dim), np.float32)}
    assert len(res["atom_tokens"]) == S
    if groups is not None:
        res["motif_tokens"] = _merge_pieces(motif, np.unique(groups))
    return res


def _merge_pieces(pieces, motif_ids) -> np.ndarray:
    """One token per motif (M, D) from per-window ``(tokens (n, D), motif ids (n,), atom counts (n,))``:
    a motif longer than a window is encoded in pieces, whose tokens are averaged by their atoms (a
    motif in one piece keeps its token exactly)."""
    import numpy as np
    tokens = np.concatenate([t for t, _, _ in pieces])
    where = np.searchsorted(motif_ids, np.concatenate([ids for _, ids, _ in pieces]))
    weights = np.concatenate([c for _, _, c in pieces]).astype(np.float64)
    out = np.zeros((len(motif_ids), tokens.shape[1]), np.float64)
    np.add.at(out, where, tokens * weights[:, None])
    total = np.bincount(where, weights, minlength=len(motif_ids))
    merged = (out / total[:, None]).astype(np.float32)
    single = np.bincount(where, minlength=len(motif_ids)) == 1
    merged[single] = tokens[np.searchsorted(where, np.flatnonzero(single))]
    return merged


INFERENCE_PREFIXES = ("stage1.target.", "stage2.target.", "stage1.feat_", "stage2.feat_")


def inference_state(net: A4MerNet) -> dict[str, torch.Tensor]:
    """The tensors inference needs: both target extractors and the input normalisation."""
    return {k: v.detach() for k, v in net.state_dict().items() if k.startswith(INFERENCE_PREFIXES)}


def encoder_hash(net: A4MerNet) -> str:
    """Hash identifying the inference encoder (see :func:`a4mer.train.checkpoint.state_hash`)."""
    from ..train.checkpoint import state_hash
    return state_hash(inference_state(net))


@torch.no_grad()
def round_to_half(net: A4MerNet) -> None:
    """Round the inference tensors to float16 precision in place (what the bundle stores)."""
    sd = net.state_dict()
    for k in inference_state(net):
        if sd[k].is_floating_point():
            sd[k].copy_(sd[k].half().float())
