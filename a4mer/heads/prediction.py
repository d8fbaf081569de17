"""Running the task MLPs on a clip at the model rate (30 fps): interior gaps and extension.

``fill_runs`` generates every interior run of unknown frames: a run whose neighbouring frames are
known (dense context) is a ``gap``; a run between sparse keys is ``blocking``. ``extend_frames``
appends frames in steps of at most ``horizon`` frames, each step reading the last second (generated
frames included). With ``net=None`` (or a task gated off) the classical curve is returned (extension: constant
velocity).
"""
from __future__ import annotations

import numpy as np
import torch

from ..geometry import axis_angle_to_quat, quat_apply, quat_conj, quat_mul
from .decoder import CorrectionDecoder, extend_basis, gap_basis
from .layouts import Example, blocking_example, extend_example, gap_example, gap_span


def unknown_runs(known: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` frame ranges of the unknown runs of ``known (T,)``."""
    k = np.concatenate([[True], np.asarray(known, bool), [True]])
    d = np.diff(k.astype(int))
    return list(zip(np.flatnonzero(d == -1).tolist(), (np.flatnonzero(d == 1) - 1).tolist()))


def gap_mlp_on(gates: dict, band: str) -> bool:
    """Whether the gap MLP ``band`` (``gap0``, ...) corrects: in-betweening is on and that band is not
    gated off (a band the gates do not name is on)."""
    return bool(gates.get("inbetween", False) and gates.get(band, True))


def _apply(net: CorrectionDecoder | None, task: str, ex: Example, basis: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """World-frame result ``(N, 3)``, ``(N, 22, 4)`` of one example (base + correction)."""
    t, q = ex.base_t[0].astype(float), ex.base_q[0].astype(float)
    if net is not None:
        with torch.no_grad():
            coef = net(task, torch.from_numpy(ex.x))[0].double().numpy()  # (K, 69)
        corr = basis @ coef  # (N, 69)
        t = t + corr[:, :3]
        q = quat_mul(q, axis_angle_to_quat(corr[:, 3:].reshape(len(corr), 22, 3)))
    back = quat_conj(ex.inv[0])
    q = q.copy()
    q[:, 0] = quat_mul(np.broadcast_to(back, q[:, 0].shape), q[:, 0])
    return quat_apply(back, t) + ex.shift[0], q


def fill_runs(net: CorrectionDecoder | None, gates: dict, trans: np.ndarray, rot: np.ndarray,
              known: np.ndarray, context: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Fill the interior unknown runs of ``trans (T, 3)``, ``rot (T, 22, 4)`` (known frames copied)."""
    known = np.asarray(known, bool)
    T = len(known)
    out_t, out_q = np.array(trans, float), np.array(rot, float)
    keys = np.flatnonzero(known)
    K = net.cfg.basis if net is not None else 1
    stride, rel = 1, True
    if net is not None:
        context, stride, rel = net.cfg.context, net.cfg.gap_stride, net.cfg.relative_rotations
    span = gap_span(context, stride)
    for a, b in unknown_runs(known):
        if a == 0 or b == T - 1:
            continue
        s, e = a - 1, b + 1
        dense = (s == 0 or known[s - 1]) and (e == T - 1 or known[e + 1])
        if dense:
            # context: the contiguous known frames on each side (at most what the gap example reads)
            lo = s
            while lo > 0 and known[lo - 1] and s - lo + 1 < span:
                lo -= 1
            hi = e
            while hi < T - 1 and known[hi + 1] and hi - e + 1 < span:
                hi += 1
            ex = gap_example(out_t[None, lo:hi + 1], out_q[None, lo:hi + 1], s - lo, e - lo, context, stride, rel)
            task = net.cfg.gap_task(b - a + 1) if net is not None else "gap0"
            use = gap_mlp_on(gates, task)
        else:
            i = int(np.searchsorted(keys, s))
            ka = int(keys[i - 1]) if i > 0 else None
            kb = int(keys[i + 2]) if i + 2 < len(keys) else None
            lo = ka if ka is not None else s
            hi = kb if kb is not None else e
            ex = blocking_example(out_t[None, lo:hi + 1], out_q[None, lo:hi + 1], None if ka is None else ka - lo,
                                  s - lo, e - lo, None if kb is None else kb - lo, rel)
            task, use = "blocking", gates.get("blocking", False)
        t, q = _apply(net if use else None, task, ex, gap_basis(e - s, K))
        out_t[a:b + 1], out_q[a:b + 1] = t, q
    return out_t, out_q


def extend_frames(net: CorrectionDecoder | None, gate: bool, trans: np.ndarray, rot: np.ndarray, n: int,
                  context: int = 10, horizon: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new frames ``(n, 3)``, ``(n, 22, 4)`` after ``trans (T, 3)``, ``rot (T, 22, 4)`` at 30 fps."""
    ht, hq = np.array(trans, float), np.array(rot, float)
    T0 = len(ht)
    use = net if gate else None
    K = net.cfg.basis if net is not None else 1
    # without a correction the base is plain constant velocity (never worse than the baseline)
    tau = net.cfg.extend_tau if use is not None else float("inf")
    rel = net.cfg.relative_rotations if net is not None else True
    if net is not None:
        context, horizon = net.cfg.context, net.cfg.horizon
    while len(ht) - T0 < n:
        H = min(horizon, n - (len(ht) - T0))
        ex = extend_example(ht[None, -3 * context:], hq[None, -3 * context:], H, context, tau, rel)
        t, q = _apply(use, "extend", ex, extend_basis(H, K, horizon))
        ht, hq = np.concatenate([ht, t]), np.concatenate([hq, q])
    return ht[T0:], hq[T0:]
