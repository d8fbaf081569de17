"""Predictor g: learnable mask tokens + context tokens -> predicted tokens of masked segments."""
from __future__ import annotations

import torch
from torch import nn

from ..nn.blocks import SelfAttentionBlock, key_mask
from ..nn.embeddings import SegmentPositionEmbedding


class Predictor(nn.Module):
    """(B, S, D) context tokens (masked positions ignored) -> (B, S, out_dim) predictions."""

    def __init__(self, dim: int, width: int, heads: int, layers: int, out_dim: int):
        super().__init__()
        self.inp = nn.Linear(dim, width)
        self.mask_token = nn.Parameter(torch.zeros(width))
        nn.init.normal_(self.mask_token, std=0.02)
        self.pos = SegmentPositionEmbedding(width)
        self.blocks = nn.ModuleList(SelfAttentionBlock(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)

    def forward(self, ctx: torch.Tensor, seg_start: torch.Tensor, seg_len: torch.Tensor,
                mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = self.inp(ctx)
        x = torch.where(mask[..., None], self.mask_token.to(x.dtype).expand_as(x), x)
        x = x + self.pos(seg_start, seg_len)
        m = key_mask(valid) | torch.diag_embed(valid)
        for blk in self.blocks:
            x = blk(x, m)
        return self.out(self.norm(x))
