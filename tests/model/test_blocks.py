"""Attention structure of the segment encoder, LatentFormer and predictor."""
from __future__ import annotations

import torch

from a4mer.nn.latentformer import LatentFormer
from a4mer.nn.segment_encoder import EncoderConfig, SegmentEncoder, frame_masks, segment_max_pool


def _inputs(B=2, T=12, F=10):
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(B, T, F, generator=g)
    seg = torch.tensor([[0] * 4 + [1] * 5 + [2] * 3, [0] * 6 + [1] * 4 + [-1] * 2])
    t = torch.arange(T).float().expand(B, T) / 10
    return frames, seg, t


def _encoder(attention):
    torch.manual_seed(0)
    return SegmentEncoder(EncoderConfig(in_dim=10, dim=16, heads=2, layers=2, attention=attention)).eval()


def test_block_diagonal_mask_blocks_other_segments():
    frames, seg, t = _inputs()
    enc = _encoder("segment")
    base = enc(frames, seg, t, 3)
    changed = frames.clone()
    changed[0, 4:9] += 5.0  # segment 1 of window 0
    out = enc(changed, seg, t, 3)
    assert torch.allclose(out[0, 0], base[0, 0], atol=1e-6) and torch.allclose(out[0, 2], base[0, 2], atol=1e-6)
    assert not torch.allclose(out[0, 1], base[0, 1], atol=1e-3)
    assert torch.allclose(out[1], base[1], atol=1e-6)  # other window untouched


def test_full_attention_ablation_mixes_segments():
    frames, seg, t = _inputs()
    enc = _encoder("full")
    base = enc(frames, seg, t, 3)
    changed = frames.clone()
    changed[0, 4:9] += 5.0
    assert not torch.allclose(enc(changed, seg, t, 3)[0, 0], base[0, 0], atol=1e-4)


def test_masks_and_max_pool_shapes():
    frames, seg, _ = _inputs()
    ff, sf = frame_masks(seg, 3, "segment")
    assert ff.shape == (2, 12, 12) and sf.shape == (2, 3, 12)
    assert not ff[0, 0, 5] and ff[0, 0, 3] and not ff[1, 0, 11]
    pooled = segment_max_pool(frames, seg, 3)
    assert torch.allclose(pooled[0, 1], frames[0, 4:9].max(0).values)
    assert torch.equal(pooled[1, 2], torch.zeros(10))  # empty segment slot


def test_latentformer_ignores_invisible_segments():
    torch.manual_seed(0)
    lf = LatentFormer(16, 2, 2).eval()
    x = torch.randn(1, 5, 16)
    start, length = torch.arange(5.).view(1, 5), torch.ones(1, 5)
    vis = torch.tensor([[True, True, False, True, True]])
    a = lf(x, start, length, vis)
    y = x.clone()
    y[0, 2] += 10
    b = lf(y, start, length, vis)
    assert torch.allclose(a[0, [0, 1, 3, 4]], b[0, [0, 1, 3, 4]], atol=1e-6)
