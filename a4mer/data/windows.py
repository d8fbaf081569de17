"""Windows of whole segments and their batches (tensors for the model)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..features import FEATURE_DIM, window_features


@dataclass
class Batch:
    """A batch of windows. B windows, T frames (padded), S segments (padded).

    frames: (B, T, F) float32 features (un-normalised); frame_seg: (B, T) long segment index of each
    frame, -1 = padding; seg_start, seg_len: (B, S) float32 seconds from the window start;
    seg_valid: (B, S) bool; mask: (B, S) bool, True = masked segment (all False at inference);
    seg_group: (B, S) long motif index of each segment within its window (-1 padding) or None.
    """

    frames: torch.Tensor
    frame_seg: torch.Tensor
    seg_start: torch.Tensor
    seg_len: torch.Tensor
    seg_valid: torch.Tensor
    mask: torch.Tensor
    seg_group: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> "Batch":
        def mv(x: torch.Tensor | None) -> torch.Tensor | None:
            return None if x is None else x.to(device)
        return Batch(*(mv(getattr(self, k)) for k in ("frames", "frame_seg", "seg_start", "seg_len",
                                                       "seg_valid", "mask", "seg_group")))


def plan_windows(bounds: np.ndarray, max_frames: int, max_segments: int,
                 group_starts: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Cut a clip's segments into consecutive windows for inference.

    bounds: (S+1,) segment boundaries in model frames. Returns ``[(i, j)]`` segment ranges covering
    ``0..S`` in order, each with ``bounds[j] - bounds[i] <= max_frames`` (a single longer segment
    forms its own window) and ``j - i <= max_segments``. With ``group_starts`` (sorted segment indices
    where a motif starts, incl. 0) windows end only at motif starts when possible.
    """
    S = len(bounds) - 1
    allowed = np.zeros(S + 1, dtype=bool)
    if group_starts is None:
        allowed[:] = True
    else:
        allowed[np.asarray(group_starts, dtype=np.int64)] = True
        allowed[S] = True
    out, i = [], 0
    while i < S:
        j = i + 1
        best = None
        while j <= S and j - i <= max_segments and bounds[j] - bounds[i] <= max_frames:
            if allowed[j]:
                best = j
            j += 1
        if best is None:  # no allowed end fits: fall back to the longest fit
            best = max(i + 1, j - 1)
        out.append((i, best))
        i = best
    return out


def collate(arrays_list: list[dict[str, np.ndarray]], bounds_list: list[np.ndarray],
            spans: list[tuple[int, int]], fps: float, masks: list[np.ndarray] | None = None,
            groups: list[np.ndarray] | None = None) -> Batch:
    """Build a :class:`Batch`.

    arrays_list[b]: frame arrays of window b's clip; bounds_list[b]: that clip's (S+1,) boundaries;
    spans[b] = (i, j): the window's segment range; masks[b]: (j-i,) bool; groups[b]: (j-i,) int
    motif index per segment (renumbered from 0 inside the window).
    """
    B = len(spans)
    lens = [int(bounds_list[b][j] - bounds_list[b][i]) for b, (i, j) in enumerate(spans)]
    T, S = max(lens), max(j - i for i, j in spans)
    frames = np.zeros((B, T, FEATURE_DIM), np.float32)
    frame_seg = np.full((B, T), -1, np.int64)
    seg_start = np.zeros((B, S), np.float32)
    seg_len = np.zeros((B, S), np.float32)
    seg_valid = np.zeros((B, S), bool)
    mask = np.zeros((B, S), bool)
    seg_group = np.full((B, S), -1, np.int64) if groups is not None else None
    for b, (i, j) in enumerate(spans):
        bd = np.asarray(bounds_list[b][i:j + 1], dtype=np.int64)
        a = int(bd[0])
        frames[b, :lens[b]] = window_features(arrays_list[b], a, int(bd[-1]), fps)
        frame_seg[b, :lens[b]] = np.repeat(np.arange(j - i), np.diff(bd))
        seg_start[b, :j - i] = (bd[:-1] - a) / fps
        seg_len[b, :j - i] = np.diff(bd) / fps
        seg_valid[b, :j - i] = True
        if masks is not None:
            mask[b, :j - i] = masks[b]
        if groups is not None:
            g = np.asarray(groups[b])
            seg_group[b, :j - i] = np.unique(g, return_inverse=True)[1]
    t = torch.from_numpy
    return Batch(t(frames), t(frame_seg), t(seg_start), t(seg_len), t(seg_valid), t(mask),
                 None if seg_group is None else t(seg_group))
