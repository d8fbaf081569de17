"""Frequent contiguous code patterns (GSP-style level-wise mining, contiguous n-grams).

Support of a pattern = number of sequences (clips) that contain it at least once. A length-(n+1)
pattern is counted only if both its length-n prefix and suffix are frequent (Apriori pruning).
"""
from __future__ import annotations

from collections import Counter, defaultdict


def mine_patterns(sequences: list[list[int]], min_support: int, min_len: int = 2, max_len: int = 8
                  ) -> dict[tuple[int, ...], int]:
    """Frequent contiguous patterns of length ``min_len..max_len`` -> support (sequence count)."""
    frequent: dict[tuple[int, ...], int] = {}
    prev: set[tuple[int, ...]] | None = None
    for n in range(1, max_len + 1):
        support: Counter = Counter()
        for seq in sequences:
            seen = set()
            for i in range(len(seq) - n + 1):
                p = tuple(seq[i:i + n])
                if prev is not None and (p[:-1] not in prev or p[1:] not in prev):
                    continue
                seen.add(p)
            support.update(seen)
        level = {p: s for p, s in support.items() if s >= min_support}
        if not level:
            break
        if n >= min_len:
            frequent.update(level)
        prev = set(level)
    return frequent


def occurrences(sequences: list[list[int]], patterns: set[tuple[int, ...]], max_len: int
                ) -> dict[tuple[int, ...], list[tuple[int, int]]]:
    """Every occurrence ``(sequence index, start)`` of each pattern, in order."""
    out: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
    for si, seq in enumerate(sequences):
        for n in range(1, max_len + 1):
            for i in range(len(seq) - n + 1):
                p = tuple(seq[i:i + n])
                if p in patterns:
                    out[p].append((si, i))
    return dict(out)
