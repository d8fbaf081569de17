"""Time-correct resampling (numpy): lerp positions and slerp rotations at new frame times."""
from __future__ import annotations

import numpy as np

from .quat import quat_slerp


def resample_count(num_frames: int, src_fps: float, dst_fps: float) -> int:
    """How many frames :func:`resample_times` gives (``num_frames >= 1`` at ``src_fps`` to ``dst_fps``)."""
    return int(np.floor((num_frames - 1) * dst_fps / src_fps + 1e-6)) + 1


def resample_times(num_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Source-frame coordinates (float, ``(N,)``) of the frames of the resampled clip.

    Frames sit at times ``k / dst_fps`` covering the source's time span ``[0, (num_frames - 1) /
    src_fps]``, so nothing is extrapolated and the duration ``N / dst_fps`` is at most one source frame
    (``1 / src_fps``) shorter than ``num_frames / src_fps`` (and never longer by a frame or more).
    """
    if num_frames < 1:
        raise ValueError("cannot resample an empty clip")
    n = resample_count(num_frames, src_fps, dst_fps)
    return np.minimum(np.arange(n) * (src_fps / dst_fps), num_frames - 1)


def _split(coords: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i0 = np.clip(np.floor(coords).astype(np.int64), 0, num_frames - 1)
    i1 = np.minimum(i0 + 1, num_frames - 1)
    return i0, i1, coords - i0


def rows_read(coords: np.ndarray, num_frames: int) -> np.ndarray:
    """Sorted indices ``(M,)`` of the rows of a ``num_frames``-row array that :func:`lerp_at` / :func:`slerp_at`
    read at the fractional frame coordinates ``coords (N,)`` (the others may hold anything)."""
    i0, i1, _ = _split(coords, num_frames)
    return np.unique(np.concatenate([i0, i1]))


def lerp_at(values: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Linearly interpolate ``values (T, ...)`` at fractional frame coordinates ``coords (N,)``."""
    i0, i1, f = _split(coords, len(values))
    f = f.reshape((-1,) + (1,) * (values.ndim - 1))
    return values[i0] * (1.0 - f) + values[i1] * f


def slerp_at(quats: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Slerp unit wxyz quaternions ``(T, ..., 4)`` at fractional frame coordinates ``coords (N,)``."""
    i0, i1, f = _split(coords, len(quats))
    f = np.broadcast_to(f.reshape((-1,) + (1,) * (quats.ndim - 2)), (len(coords),) + quats.shape[1:-1])
    return quat_slerp(quats[i0], quats[i1], f)


def known_coords(known: np.ndarray) -> np.ndarray:
    """Fractional coordinates ``(N,)`` into the known frames (``known (T,)`` True; at least one) of each of
    the N other frames, for :func:`lerp_at` / :func:`slerp_at` of the known frames' values: between two
    known frames by time, before the first / after the last the nearest (held)."""
    known = np.asarray(known, dtype=bool)
    idx = np.flatnonzero(known)
    return np.interp(np.flatnonzero(~known), idx, np.arange(len(idx), dtype=np.float64))
