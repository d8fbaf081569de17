"""Motif-mining configuration."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MotifConfig:
    """k: k-means codes (512 in the paper; fewer for small data, see docs/model.md);
    min_support: a pattern must occur in at least this many clips (GSP support = number of sequences);
    min_len/max_len: pattern lengths mined (atoms); kmeans_iters; max_examples: occurrences stored per
    pattern; temperature: soft-assignment temperature relative to the median gap between the nearest and
    second-nearest squared centroid distance of the training atoms."""

    k: int = 512
    min_support: int = 5
    min_len: int = 2
    max_len: int = 8
    kmeans_iters: int = 30
    max_examples: int = 5
    temperature: float = 1.0
