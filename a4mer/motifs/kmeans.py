"""k-means on atom tokens (numpy; k-means++ seeding from an explicit generator)."""
from __future__ import annotations

import numpy as np


def sq_dists(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(N, D), (K, D) -> (N, K) squared Euclidean distances (float64, >= 0)."""
    x = np.asarray(x, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    d = (x * x).sum(1)[:, None] - 2.0 * x @ c.T + (c * c).sum(1)[None, :]
    return np.maximum(d, 0.0)


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding.

    x: (N, D) points; k <= N. Returns centroids (k, D) float32 and labels (N,) int64. Empty
    clusters are re-seeded at the point farthest from its centroid. Deterministic given ``rng``.
    """
    x = np.asarray(x, dtype=np.float64)
    N = len(x)
    k = int(min(k, N))
    if k < 1:
        raise ValueError("k-means needs at least one point")
    cent = np.empty((k, x.shape[1]))
    cent[0] = x[rng.integers(N)]
    d = sq_dists(x, cent[:1])[:, 0]
    for i in range(1, k):
        p = d / d.sum() if d.sum() > 0 else np.full(N, 1.0 / N)
        cent[i] = x[rng.choice(N, p=p)]
        d = np.minimum(d, sq_dists(x, cent[i:i + 1])[:, 0])
    labels = np.zeros(N, dtype=np.int64)
    for _ in range(iters):
        dist = sq_dists(x, cent)
        new = dist.argmin(1)
        if _ > 0 and np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(cent)
        np.add.at(sums, labels, x)
        nonempty = counts > 0
        cent[nonempty] = sums[nonempty] / counts[nonempty, None]
        if not nonempty.all():
            far = np.argsort(-dist[np.arange(N), labels])
            cent[~nonempty] = x[far[:int((~nonempty).sum())]]
    labels = sq_dists(x, cent).argmin(1)
    return cent.astype(np.float32), labels


def soft_assign(x: np.ndarray, centroids: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest code and its soft-assignment probability.

    x: (N, D); centroids: (K, D); scale: temperature (squared-distance units). Returns codes (N,)
    int64 and p (N,) float64 = softmax(-d^2 / scale) at the chosen code, in (0, 1].
    """
    d = sq_dists(x, centroids)  # (N, K)
    codes = d.argmin(1)
    z = -(d - d.min(1, keepdims=True)) / max(scale, 1e-12)
    p = np.exp(z)
    p = p / p.sum(1, keepdims=True)
    return codes, p[np.arange(len(x)), codes]
