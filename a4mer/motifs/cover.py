"""Minimum cover of a code sequence by non-overlapping patterns (dynamic programming)."""
from __future__ import annotations

import numpy as np


def min_cover(codes: list[int] | np.ndarray, patterns: dict[tuple[int, ...], int], max_len: int
              ) -> list[tuple[int, int]]:
    """Cover ``codes`` with the fewest consecutive pieces, each a pattern of ``patterns`` or a single
    atom (always allowed, so a cover exists). Ties: larger total support of the chosen patterns, then
    the shortest last piece, then the shortest piece before it, and so on (deterministic): of equal
    covers, the one whose long pieces start first (``[a b][c]`` before ``[a][b c]``).

    Returns ``[(start, end)]`` pieces in order (end exclusive) tiling ``0..len(codes)``.
    """
    c = [int(x) for x in codes]
    n = len(c)
    INF = 1 << 60
    best = [(0, 0)] + [(INF, 0)] * n  # (pieces, -support) per prefix length
    back = [0] * (n + 1)
    for i in range(1, n + 1):
        for L in range(1, min(max_len, i) + 1):
            p = tuple(c[i - L:i])
            if L > 1 and p not in patterns:
                continue
            sup = patterns.get(p, 0) if L > 1 else 0
            cand = (best[i - L][0] + 1, best[i - L][1] - sup)
            if cand < best[i]:
                best[i], back[i] = cand, i - L
    pieces, i = [], n
    while i > 0:
        pieces.append((back[i], i))
        i = back[i]
    return pieces[::-1]
