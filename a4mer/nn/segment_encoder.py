"""Segment encoder: one token per variable-length segment (method.md §3).

Each segment's token starts as the max-pool of its (projected) frame features and is refined by
cross-attention to that segment's frames, in a decoder-style stack; frames attend only to frames of
their own segment (block-diagonal mask), or to every visible frame in the ``"full"`` ablation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .blocks import CrossAttentionBlock, SelfAttentionBlock
from .embeddings import TimeEmbedding


@dataclass(frozen=True)
class EncoderConfig:
    """in_dim: per-frame input width; dim: token width D; layers: (frame self-attention + token
    cross-attention) pairs; attention: "segment" (block-diagonal, the method) or "full" (ablation)."""

    in_dim: int = 202
    dim: int = 128
    heads: int = 4
    layers: int = 2
    attention: str = "segment"
    dropout: float = 0.0


def segment_max_pool(h: torch.Tensor, frame_seg: torch.Tensor, num_segments: int) -> torch.Tensor:
    """(B, T, D) frame features, (B, T) segment index (-1 pad) -> (B, S, D) per-segment max."""
    B, T, D = h.shape
    idx = torch.where(frame_seg < 0, torch.full_like(frame_seg, num_segments), frame_seg)  # pad -> slot S
    out = torch.zeros(B, num_segments + 1, D, dtype=h.dtype, device=h.device)
    out = out.scatter_reduce(1, idx[..., None].expand(-1, -1, D), h, reduce="amax", include_self=False)
    return out[:, :num_segments]  # (B, S, D)


def frame_masks(frame_seg: torch.Tensor, num_segments: int, attention: str,
                frame_visible: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean masks (True = may attend): frames->frames (B, T, T) and segment tokens->frames
    (B, S, T). ``frame_visible`` (B, T) restricts the keys of the "full" variant."""
    valid = frame_seg >= 0  # (B, T)
    if attention == "segment":
        ff = (frame_seg[:, :, None] == frame_seg[:, None, :]) & valid[:, None, :]
    elif attention == "full":
        keys = valid if frame_visible is None else valid & frame_visible
        ff = keys[:, None, :].expand(-1, frame_seg.shape[1], -1) | torch.diag_embed(valid)
    else:
        raise ValueError(f"encoder attention must be 'segment' or 'full', got {attention!r}")
    seg_ids = torch.arange(num_segments, device=frame_seg.device)
    sf = frame_seg[:, None, :] == seg_ids[None, :, None]  # (B, S, T)
    return ff, sf


class SegmentEncoder(nn.Module):
    """Frames (B, T, in_dim) grouped by ``frame_seg`` -> segment tokens (B, S, D)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        d = config.dim
        self.inp = nn.Linear(config.in_dim, d)
        self.time = TimeEmbedding(d)
        self.frame_blocks = nn.ModuleList(SelfAttentionBlock(d, config.heads, config.dropout) for _ in range(config.layers))
        self.token_blocks = nn.ModuleList(CrossAttentionBlock(d, config.heads, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, frames: torch.Tensor, frame_seg: torch.Tensor, frame_time: torch.Tensor,
                num_segments: int, frame_visible: torch.Tensor | None = None) -> torch.Tensor:
        """frames (B, T, F) normalised; frame_seg (B, T) long (-1 pad); frame_time (B, T) seconds
        since the frame's segment start; frame_visible (B, T) bool (used by the "full" variant)."""
        h = self.inp(frames) + self.time(frame_time)  # (B, T, D)
        ff, sf = frame_masks(frame_seg, num_segments, self.config.attention, frame_visible)
        tok = segment_max_pool(h, frame_seg, num_segments)  # (B, S, D)
        for fb, tb in zip(self.frame_blocks, self.token_blocks):
            h = fb(h, ff)
            tok = tb(tok, h, sf)
        return self.norm(tok)
