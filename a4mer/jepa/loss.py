"""Latent prediction loss with the global/local split (method.md §4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _masked_mean(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(B, S, D), (B, S) bool -> (B, 1, D) mean over masked segments (zero where none)."""
    w = m[..., None].to(x.dtype)
    return (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1.0)


def jepa_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, split: bool = True,
              alpha: float = 0.05) -> torch.Tensor:
    """Smooth-L1 loss over masked segments.

    pred, target: (B, S, D); mask: (B, S) bool (True = masked, predicted). With ``split``: per masked
    segment k, ``L_local_k + alpha * lambda_k * L_global`` where z_g is the mean target over the
    window's masked set, local parts are ``z_k - z_g`` (likewise for predictions),
    ``lambda_k = stopgrad(L_local_k / L_global)``. A window with a single masked segment has no local
    part (``z_k = z_g``) and the paper's ``lambda_k`` is 0 / 0 there: its segment gets the plain loss
    (ours; before, it got none: short clips, whose windows hold few segments, taught the model nothing
    in up to half their windows). Without ``split``: plain smooth-L1 on ``z_k``.
    Returns the mean over masked segments (a scalar; 0 if nothing is masked).
    """
    target = target.detach()
    n = mask.sum().clamp_min(1)
    if not split:
        per = F.smooth_l1_loss(pred, target, reduction="none").mean(-1)  # (B, S)
        return (per * mask).sum() / n
    zg, pg = _masked_mean(target, mask), _masked_mean(pred, mask)  # (B, 1, D)
    local = F.smooth_l1_loss(pred - pg, target - zg, reduction="none").mean(-1)  # (B, S)
    glob = F.smooth_l1_loss(pg, zg, reduction="none").mean(-1)  # (B, 1)
    lam = (local / glob.clamp_min(1e-8)).detach()
    per = local + alpha * lam * glob
    single = mask.sum(1, keepdim=True) == 1  # (B, 1): no local part
    per = torch.where(single, glob, per)  # a single masked segment: z_g = z_k, the plain loss
    return (per * mask).sum() / n
