"""Running the correction decoder on windows at the model rate (30 fps), and extension.

``run_window`` fills the unknown frames of one window; ``fill_mask`` plans windows over a whole
clip (interior gaps, grouped so that neighbouring gaps are generated together); ``extend_frames``
appends frames autoregressively in chunks of at most ``HORIZON`` frames, each from the last
``CONTEXT`` frames (generated ones included).
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import A4merError
from ..geometry import axis_angle_to_quat, quat_apply, quat_conj, quat_mul
from .decoder import CorrectionDecoder
from .windows import base_fill, canonical_transform, envelope, features, reference_frame, to_canonical

CONTEXT = 30
HORIZON = 90


def run_window(net: CorrectionDecoder | None, trans: np.ndarray, rot: np.ndarray, known: np.ndarray,
               tokens: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fill the unknown frames of a window: ``trans (W, 3)``, ``rot (W, 22, 4)``, ``known (W,)`` bool.

    ``net=None`` returns the classical curve (the gated-off answer). Known frames are copied
    unchanged; returns new ``(W, 3)``, ``(W, 22, 4)`` arrays (float64)."""
    bt, bq = base_fill(trans, rot, known)
    if net is None:
        return bt, bq
    inv, shift = canonical_transform(bt, bq, reference_frame(known))
    ct, cq = to_canonical(bt, bq, inv, shift)
    x = torch.from_numpy(features(ct, cq, known))[None]
    k = torch.from_numpy(np.asarray(known, bool))[None]
    tk = None if tokens is None else torch.as_tensor(tokens, dtype=torch.float32)[None]
    with torch.no_grad():
        out = net(x, k, tk)[0].double().numpy()  # (W, 69)
    env = envelope(known)
    t = ct + out[:, :3] * env[:, None]
    d = out[:, 3:].reshape(len(out), 22, 3) * env[:, None, None]
    q = quat_mul(cq, axis_angle_to_quat(d))
    back = quat_conj(inv)
    t = quat_apply(back, t) + shift
    q[:, 0] = quat_mul(np.broadcast_to(back, q[:, 0].shape), q[:, 0])
    unk = ~np.asarray(known, bool)
    out_t, out_q = np.array(trans, float), np.array(rot, float)
    out_t[unk], out_q[unk] = t[unk], q[unk]
    return out_t, out_q


def unknown_runs(known: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` frame ranges of the unknown runs of ``known (T,)``."""
    k = np.concatenate([[True], np.asarray(known, bool), [True]])
    d = np.diff(k.astype(int))
    starts = np.flatnonzero(d == -1)
    ends = np.flatnonzero(d == 1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def fill_mask(net: CorrectionDecoder | None, trans: np.ndarray, rot: np.ndarray, known: np.ndarray,
              max_frames: int = 181, context: int = CONTEXT) -> tuple[np.ndarray, np.ndarray]:
    """Fill every interior unknown run of a clip at the model rate (runs touching the clip's ends are
    left as they are). Windows reach ``context`` frames beyond the runs they generate, start and end on
    known frames and hold at most ``max_frames`` frames; neighbouring runs share a window when they fit."""
    known = np.asarray(known, bool)
    T = len(known)
    runs = [r for r in unknown_runs(known) if r[0] > 0 and r[1] < T - 1]
    out_t, out_q = np.array(trans, float), np.array(rot, float)
    kidx = np.flatnonzero(known)

    def bounds(i: int, j: int) -> tuple[int, int]:
        lo = max(0, runs[i][0] - context)
        hi = min(T - 1, runs[j][1] + context)
        lo = int(kidx[np.searchsorted(kidx, lo)])            # first known frame >= lo
        hi = int(kidx[np.searchsorted(kidx, hi, side="right") - 1])  # last known frame <= hi
        return lo, hi

    i = 0
    while i < len(runs):
        j = i
        while j + 1 < len(runs) and (lambda b: b[1] - b[0] + 1)(bounds(i, j + 1)) <= max_frames:
            j += 1
        lo, hi = bounds(i, j)
        if hi - lo + 1 > max_frames:  # one long run: shrink its context
            spare = max_frames - (runs[i][1] - runs[i][0] + 1)
            if spare < 2:
                raise A4merError(f"a gap of {runs[i][1] - runs[i][0] + 1} frames at 30 fps is longer than the "
                                 f"decoder's window ({max_frames - 2} frames)")
            lo = max(lo, runs[i][0] - spare // 2)
            hi = min(hi, runs[i][1] + (spare - (runs[i][0] - lo)))
        wt, wq = run_window(net, out_t[lo:hi + 1], out_q[lo:hi + 1], known[lo:hi + 1])
        for a, b in runs[i:j + 1]:
            out_t[a:b + 1], out_q[a:b + 1] = wt[a - lo:b - lo + 1], wq[a - lo:b - lo + 1]
        i = j + 1
    return out_t, out_q


def extend_frames(net: CorrectionDecoder | None, trans: np.ndarray, rot: np.ndarray, n: int,
                  context: int = CONTEXT, horizon: int = HORIZON) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new frames ``(n, 3)``, ``(n, 22, 4)`` after ``trans (T, 3)``, ``rot (T, 22, 4)`` at the model rate,
    generated in chunks of at most ``horizon`` frames from the last ``context`` frames."""
    ht, hq = np.array(trans, float), np.array(rot, float)
    T0 = len(ht)
    while len(ht) - T0 < n:
        h = min(horizon, n - (len(ht) - T0))
        c = min(context, len(ht))
        wt = np.concatenate([ht[-c:], np.repeat(ht[-1:], h, 0)])
        wq = np.concatenate([hq[-c:], np.repeat(hq[-1:], h, 0)])
        known = np.arange(c + h) < c
        gt, gq = run_window(net, wt, wq, known)
        ht = np.concatenate([ht, gt[c:]])
        hq = np.concatenate([hq, gq[c:]])
    return ht[T0:], hq[T0:]
