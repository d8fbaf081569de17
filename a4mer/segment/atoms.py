"""Action-atom boundaries: kinematic change points (light core, numpy only; runs inside Blender).

Method (docs/model.md §Atoms). On joint positions at 30 fps, each joint's trajectory is extrapolated
at constant velocity over a horizon of ``h`` frames and compared with where the joint really goes:

    e_j(t) = || p_j(t + h) - (p_j(t) + (p_j(t) - p_j(t - h))) || = || p_j(t+h) - 2 p_j(t) + p_j(t-h) ||

(metres; the error of predicting ``h`` frames ahead from the velocity of the last ``h`` frames). The
per-joint errors are aggregated over the 22 body joints (mean by default), lightly smoothed, and the
local maxima above ``threshold`` become boundary candidates. Candidates are accepted strongest first
unless a stronger accepted boundary lies within the refractory period (0.5 s) — so no two boundaries,
the clip start or the clip end are closer than 0.5 s. Atoms longer than ``max_atom_s`` (long holds)
are split at their highest interior local maxima of the error. Everything is vectorised except a loop over the
(few) candidates; the output is a deterministic function of the joint positions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from ..errors import A4merError

#: Frame rate the detector works at (the paper's 30 fps stream).
ATOM_FPS = 30.0


@dataclass(frozen=True)
class AtomConfig:
    """Parameters of the boundary detector (all times in seconds, distances in metres).

    horizon_frames: extrapolation horizon h at 30 fps.
    aggregate: "mean" (default) or "max" over joints of the per-joint error.
    threshold: minimum aggregated error (m) of a boundary candidate.
    smooth_frames: width of the box filter applied to the aggregated error (odd, 1 = none).
    refractory_s: minimum distance of two boundaries (and of a boundary to either clip end).
    max_atom_s: atoms longer than this are split (0 disables).
    mode: "kinematic" (the method), "fixed" (ablation: fixed ``fixed_s`` atoms) or "frame"
      (ablation: every 30 fps frame is an atom).
    """

    horizon_frames: int = 4
    aggregate: str = "mean"
    threshold: float = 0.05
    smooth_frames: int = 3
    refractory_s: float = 0.5
    max_atom_s: float = 2.0
    mode: str = "kinematic"
    fixed_s: float = 0.67

    def __post_init__(self) -> None:
        if self.aggregate not in ("mean", "max"):
            raise A4merError(f"atoms.aggregate must be 'mean' or 'max', got {self.aggregate!r}")
        if self.mode not in ("kinematic", "fixed", "frame"):
            raise A4merError(f"atoms.mode must be 'kinematic', 'fixed' or 'frame', got {self.mode!r}")
        if self.horizon_frames < 1 or self.smooth_frames < 1 or self.smooth_frames % 2 == 0:
            raise A4merError("atoms.horizon_frames must be >= 1 and atoms.smooth_frames odd >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AtomConfig":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(d) - names)
        if bad:
            raise A4merError(f"unknown atom config keys {bad}; known: {sorted(names)}")
        return cls(**d)


def extrapolation_error(positions: np.ndarray, horizon: int = 4) -> np.ndarray:
    """Per-joint constant-velocity extrapolation error.

    positions: (T, J, 3) metres at 30 fps. Returns (T, J) metres: ``e[t] = |p[t+h] - 2 p[t] + p[t-h]|``
    (the error of extrapolating ``h`` frames past frame t from the velocity over the last ``h``
    frames), zero where ``t - h < 0`` or ``t + h >= T``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise A4merError(f"positions must be (T, J, 3), got {positions.shape}")
    T = len(positions)
    err = np.zeros(positions.shape[:2])
    h = int(horizon)
    if T > 2 * h:
        d2 = positions[2 * h:] - 2.0 * positions[h:-h] + positions[:-2 * h]  # (T-2h, J, 3)
        err[h:T - h] = np.linalg.norm(d2, axis=-1)
    return err


def boundary_score(positions: np.ndarray, config: AtomConfig = AtomConfig()) -> np.ndarray:
    """(T,) metres: extrapolation error aggregated over joints and box-smoothed (the curve that is
    thresholded). positions: (T, J, 3) metres at 30 fps."""
    err = extrapolation_error(positions, config.horizon_frames)  # (T, J)
    score = err.mean(axis=1) if config.aggregate == "mean" else err.max(axis=1)
    k = config.smooth_frames
    if k > 1 and len(score) >= k:
        score = np.convolve(np.pad(score, k // 2, mode="edge"), np.ones(k) / k, mode="valid")
    return score


def _select_peaks(score: np.ndarray, threshold: float, gap: int) -> np.ndarray:
    """Frames of local maxima of ``score`` above ``threshold``, accepted strongest first, at least
    ``gap`` frames from each other and from both ends. Returns sorted int64 array."""
    T = len(score)
    if T < 2 * gap + 1:
        return np.zeros(0, dtype=np.int64)
    left = np.r_[-np.inf, score[:-1]]
    right = np.r_[score[1:], -np.inf]
    cand = np.nonzero((score > threshold) & (score > left) & (score >= right))[0]
    cand = cand[(cand >= gap) & (cand <= T - gap)]
    order = cand[np.lexsort((cand, -score[cand]))]  # strongest first; ties: earlier frame first
    taken = np.zeros(T + 1, dtype=bool)  # frames blocked by accepted boundaries
    accepted = []
    for t in order:
        if taken[t]:
            continue
        accepted.append(t)
        taken[max(0, t - gap + 1):t + gap] = True
    return np.array(sorted(accepted), dtype=np.int64)


def _split_long(bounds: np.ndarray, score: np.ndarray, max_len: int, gap: int) -> np.ndarray:
    """Split spans longer than ``max_len`` frames at their highest-score interior frames (keeping at
    least ``gap`` frames to every boundary). bounds: sorted (K,) including 0 and T."""
    out = [int(bounds[0])]
    for a, b in zip(bounds[:-1], bounds[1:]):
        a, b = int(a), int(b)
        inner: list[int] = []
        while True:
            edges = [a] + inner + [b]
            longest = max(range(len(edges) - 1), key=lambda i: (edges[i + 1] - edges[i], -i))
            s, e = edges[longest], edges[longest + 1]
            if e - s <= max_len or e - s < 2 * gap:
                break
            lo, hi = s + gap, e - gap
            seg = score[lo - 1:hi + 2]  # with one neighbour on each side
            peak = (seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])  # local maxima in [lo, hi]
            cand = np.where(peak, seg[1:-1], -np.inf)
            if not np.isfinite(cand).any():
                cand = seg[1:-1]
            t = lo + int(np.argmax(cand))  # highest local maximum (first one on ties): deterministic
            inner = sorted(inner + [t])
        out.extend(inner + [b])
    return np.array(out, dtype=np.int64)


def atom_boundaries_30(positions: np.ndarray, config: AtomConfig = AtomConfig()) -> np.ndarray:
    """Atom boundaries of a 30 fps clip.

    positions: (T, J, 3) metres at 30 fps (SMPL body joints 0-21). Returns (S+1,) int64 frame
    indices ``[0, b_1, ..., T]``: atom i covers frames ``[b_i, b_{i+1})``.
    """
    positions = np.asarray(positions, dtype=np.float64)
    T = len(positions)
    if T == 0:
        raise A4merError("cannot cut an empty clip into atoms")
    if config.mode == "frame":
        return np.arange(T + 1, dtype=np.int64)
    if config.mode == "fixed":
        step = max(1, int(round(config.fixed_s * ATOM_FPS)))
        return np.unique(np.r_[np.arange(0, T, step), T]).astype(np.int64)
    gap = max(1, int(round(config.refractory_s * ATOM_FPS)))
    score = boundary_score(positions, config)
    inner = _select_peaks(score, config.threshold, gap)
    bounds = np.r_[0, inner, T].astype(np.int64)
    if config.max_atom_s > 0:
        bounds = _split_long(bounds, score, max(int(round(config.max_atom_s * ATOM_FPS)), 2 * gap), gap)
    return bounds


def atom_boundaries(motion: Any, config: AtomConfig = AtomConfig()) -> np.ndarray:
    """Atom boundaries of a :class:`a4mer.motion.Motion`, in the motion's own frames.

    The motion is resampled to 30 fps (by time), its body joints 0-21 are placed by forward
    kinematics, boundaries are found at 30 fps and mapped back to the input frame rate by time
    (rounded; duplicates removed). Returns (S+1,) int64 ``[0, ..., motion.num_frames]``.
    """
    m30 = motion.resample(ATOM_FPS)
    pos = m30.joint_positions()[:, :22]  # (T30, 22, 3)
    b30 = atom_boundaries_30(pos, config)
    T = motion.num_frames
    if m30 is motion or abs(motion.fps - ATOM_FPS) < 1e-9:
        return np.minimum(b30, T)
    b = np.round(b30[1:-1] * (motion.fps / ATOM_FPS)).astype(np.int64)
    return np.unique(np.r_[0, np.clip(b, 1, T - 1) if T > 1 else b[:0], T]).astype(np.int64)


def length_histogram(lengths_s: np.ndarray, edges: tuple[float, ...] = (0, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, np.inf)
                     ) -> list[tuple[str, int]]:
    """Histogram of atom lengths (seconds) as ``[(bin label, count)]`` for reports."""
    counts, _ = np.histogram(np.asarray(lengths_s, dtype=np.float64), bins=np.asarray(edges))
    labels = [f"{a:g}-{b:g} s" if np.isfinite(b) else f">= {a:g} s" for a, b in zip(edges[:-1], edges[1:])]
    return list(zip(labels, counts.tolist()))
