"""Transformer blocks with explicit boolean attention masks (pre-norm)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FeedForward(nn.Module):
    """Position-wise MLP ``D -> mult*D -> D`` with GELU."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, mult * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mult * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Attention(nn.Module):
    """Multi-head attention. ``mask`` (B, Lq, Lk) bool, True = may attend. Rows with no allowed key
    return zeros (instead of NaN)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} not divisible by {heads} heads")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        B, Lq, D = x.shape
        H = self.heads
        q = self.q(x).view(B, Lq, H, D // H).transpose(1, 2)  # (B, H, Lq, Dh)
        k, v = self.kv(ctx).view(B, ctx.shape[1], 2, H, D // H).permute(2, 0, 3, 1, 4)  # (B, H, Lk, Dh) each
        if mask is not None:
            any_key = mask.any(-1, keepdim=True)  # (B, Lq, 1)
            safe = mask | ~any_key  # rows without keys attend everywhere, then are zeroed
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=safe[:, None])
            y = y * any_key[:, None].to(y.dtype)
        else:
            y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(B, Lq, D))


class SelfAttentionBlock(nn.Module):
    """``x + Attn(LN x) ; x + FF(LN x)`` with a (B, L, L) mask."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ff = FeedForward(dim, dropout=dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = self.n1(x)
        x = x + self.attn(h, h, mask)
        return x + self.ff(self.n2(x))


class CrossAttentionBlock(nn.Module):
    """Queries attend to a context: ``q + Attn(LN q, LN ctx) ; q + FF(LN q)``; mask (B, Lq, Lk)."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.nq, self.nc, self.n2 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ff = FeedForward(dim, dropout=dropout)

    def forward(self, q: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        q = q + self.attn(self.nq(q), self.nc(ctx), mask)
        return q + self.ff(self.n2(q))


def key_mask(valid: torch.Tensor) -> torch.Tensor:
    """(B, L) bool validity -> (B, L, L) mask letting every query see every valid key."""
    return valid[:, None, :].expand(-1, valid.shape[1], -1)
