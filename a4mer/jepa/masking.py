"""Segment masks for the pretext task, drawn in the data pipeline from an explicit generator."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MaskConfig:
    """Mask ``ratio_min``-``ratio_max`` of a window's segments in 1..``max_blocks`` contiguous blocks."""

    ratio_min: float = 0.4
    ratio_max: float = 0.6
    max_blocks: int = 3


def draw_mask(num_segments: int, config: MaskConfig, rng: np.random.Generator) -> np.ndarray:
    """(num_segments,) bool, True = masked. At least one segment stays visible and, when there are
    two or more segments, at least one is masked. Deterministic given ``rng``'s state."""
    S = int(num_segments)
    mask = np.zeros(S, dtype=bool)
    if S < 2:
        return mask
    ratio = rng.uniform(config.ratio_min, config.ratio_max)
    n_mask = int(np.clip(round(ratio * S), 1, S - 1))
    n_blocks = int(rng.integers(1, min(config.max_blocks, n_mask) + 1))
    # split n_mask into n_blocks positive block sizes
    cuts = np.sort(rng.choice(np.arange(1, n_mask), size=n_blocks - 1, replace=False)) if n_blocks > 1 else []
    sizes = np.diff(np.r_[0, cuts, n_mask]).astype(int)
    # place the blocks in order with random gaps (gaps between blocks >= 1)
    free = S - n_mask - (n_blocks - 1)
    if free < 0:  # not enough room for separate blocks: one block
        sizes, n_blocks, free = np.array([n_mask]), 1, S - n_mask
    gaps = rng.multinomial(free, np.ones(n_blocks + 1) / (n_blocks + 1))
    pos = 0
    for k in range(n_blocks):
        pos += gaps[k] + (1 if k > 0 else 0)
        mask[pos:pos + sizes[k]] = True
        pos += sizes[k]
    return mask


def draw_motif_mask(groups: np.ndarray, config: MaskConfig, rng: np.random.Generator) -> np.ndarray:
    """(S,) bool, True = masked, for a window's atoms whose motif ids are ``groups (S,)``: whole motifs
    are masked (hierarchical masking, paper §6: a masked motif masks all its atoms), drawn by
    :func:`draw_mask` over the window's distinct motifs, so at least one motif stays visible."""
    _, inv = np.unique(groups, return_inverse=True)
    return draw_mask(int(inv.max()) + 1, config, rng)[inv]
