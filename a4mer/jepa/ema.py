"""Exponential moving average target network."""
from __future__ import annotations

import math

import torch
from torch import nn


def momentum_at(step: int, total: int, start: float = 0.996, end: float = 1.0) -> float:
    """Cosine schedule of the EMA momentum from ``start`` (step 0) to ``end`` (step ``total``)."""
    f = min(max(step / max(total, 1), 0.0), 1.0)
    return end - (end - start) * (math.cos(math.pi * f) + 1) / 2


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, parameters only (in place on target)."""
    for t, o in zip(target.parameters(), online.parameters()):
        t.mul_(momentum).add_(o.detach(), alpha=1.0 - momentum)
