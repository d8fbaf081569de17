"""LatentFormer: a Transformer over segment tokens (method.md §3)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import SelfAttentionBlock, key_mask
from .embeddings import SegmentPositionEmbedding


class LatentFormer(nn.Module):
    """Segment tokens (B, S, D) + positions (start, length in s) -> contextual tokens (B, S, D);
    only ``visible`` (B, S) segments are attended to."""

    def __init__(self, dim: int, heads: int, layers: int, dropout: float = 0.0):
        super().__init__()
        self.pos = SegmentPositionEmbedding(dim)
        self.blocks = nn.ModuleList(SelfAttentionBlock(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, seg_start: torch.Tensor, seg_len: torch.Tensor,
                visible: torch.Tensor) -> torch.Tensor:
        x = tokens + self.pos(seg_start, seg_len)
        m = key_mask(visible) | torch.diag_embed(visible)
        for blk in self.blocks:
            x = blk(x, m)
        return self.norm(x)
