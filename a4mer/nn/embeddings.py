"""Time embeddings: sinusoids of seconds, and segment position from (start, length)."""
from __future__ import annotations

import math

import torch
from torch import nn


def sinusoid(t: torch.Tensor, dim: int, max_period: float = 100.0, min_period: float = 0.1) -> torch.Tensor:
    """(...,) seconds -> (..., dim) sin/cos features at geometric periods in [min_period, max_period] s."""
    half = dim // 2
    periods = torch.exp(torch.linspace(math.log(min_period), math.log(max_period), half, device=t.device))
    ang = 2 * math.pi * t[..., None] / periods  # (..., half)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)


class TimeEmbedding(nn.Module):
    """Frame time (s) -> (..., D) learned projection of sinusoids."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.proj = nn.Linear(dim, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.proj(sinusoid(t, self.dim))


class SegmentPositionEmbedding(nn.Module):
    """Variable-length segment position from its start time and length (s) -> (..., D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.proj = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def forward(self, start: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([sinusoid(start, self.dim), sinusoid(length, self.dim, 10.0, 0.05)], -1))
