"""Inputs and classical base curves of the task MLPs (gap, blocking, extend; numpy, batched), shared
by training and inference (inference uses B = 1).

Arrays: ``trans (B, W, 3)`` metres, ``rot (B, W, 22, 4)`` wxyz local rotations at 30 fps; every
example of a batch has the same layout. Each example is expressed in the canonical frame of its
reference key (root at the origin, facing +Y). Context frames outside the window are replaced by
the nearest frame inside and flagged invalid (one flag per context frame).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import axis_quat, quat_apply, quat_mul
from ..geometry import reproducible as rp
from .baselines import DAMPING_FRAMES, catmull_batch, hermite_batch, rel_exp, rel_log
from .windows import features


@dataclass
class Example:
    """x: MLP inputs (B, D); base_t/base_q: canonical classical curve on the generated frames
    ((B, N, 3), (B, N, 22, 4)); inv (B, 4) / shift (B, 3): canonical transform (p_c = inv (p - shift))."""

    x: np.ndarray
    base_t: np.ndarray
    base_q: np.ndarray
    inv: np.ndarray
    shift: np.ndarray


def canonical(trans: np.ndarray, rot: np.ndarray, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse heading ``(B, 4)`` and shift ``(B, 3)`` (the root position) of frame ``ref`` of each example.

    The shift includes the root height: absolute pelvis height differs between capture sources and
    retargets, so the inputs only see heights relative to the reference key."""
    f = quat_apply(rot[:, ref, 0], np.array([0.0, 0.0, 1.0]))  # (B, 3) facing
    yaw = rp.arctan2(-f[:, 0], f[:, 1])
    shift = np.array(trans[:, ref], float)  # root of the reference frame at the origin (height too)
    return axis_quat("z", -yaw), shift


def to_canon(trans: np.ndarray, rot: np.ndarray, inv: np.ndarray, shift: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(B, N, 3)``, ``(B, N, 22, 4)`` in the canonical frames ``inv (B, 4)``, ``shift (B, 3)``."""
    t = quat_apply(inv[:, None], trans - shift[:, None])
    q = np.array(rot, float)
    q[:, :, 0] = quat_mul(np.broadcast_to(inv[:, None], q[:, :, 0].shape), q[:, :, 0])
    return t, q


def _context(trans, rot, idx, inv, shift, ref: int | None = None) -> np.ndarray:
    """``(B, len(idx) * (F + 1))``: features of frames ``idx`` (clipped into the window; flag = inside);
    with ``ref`` local rotations relative to those of frame ``ref`` (see ``windows.features``)."""
    W = trans.shape[1]
    idx = np.asarray(idx)
    valid = (idx >= 0) & (idx < W)
    ci = np.clip(idx, 0, W - 1)
    ct, cq = to_canon(trans[:, ci], rot[:, ci], inv, shift)
    rref = None if ref is None else rot[:, ref][:, None]
    f = features(ct, cq, np.ones(len(ci), bool), rref)  # (B, n, F)
    flags = np.broadcast_to(valid[None, :, None].astype(np.float32), f.shape[:2] + (1,))
    return np.concatenate([f, flags], -1).reshape(len(trans), -1)


def damped_batch(trans, rot, H: int, tau: float = DAMPING_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """H frames of damped constant velocity after the last frame of each window (see baselines;
    ``tau = inf``: constant velocity)."""
    k = np.arange(1, H + 1, dtype=float)
    if np.isfinite(tau):
        dist = tau * (1.0 - rp.exp(-k / tau)) / (1.0 - rp.exp(-1.0 / tau)) * rp.exp(-1.0 / tau)
        dist = dist / dist[0]
    else:  # constant velocity
        dist = k
    if trans.shape[1] < 2:
        return np.repeat(trans[:, -1:], H, 1), np.repeat(rot[:, -1:], H, 1)
    tr = trans[:, -1][:, None] + dist[None, :, None] * (trans[:, -1] - trans[:, -2])[:, None]
    w = rel_log(rot[:, -2], rot[:, -1])  # (B, 22, 3)
    q = rel_exp(rot[:, -1][:, None], dist[None, :, None, None] * w[:, None])
    return tr, q


def gap_span(C: int, stride: int) -> int:
    """Frames of dense context a gap example reads on each side (key included)."""
    return (C - 1) * stride + 1


def gap_inputs(trans, rot, s: int, e: int, C: int, stride: int = 1, relative: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gap MLP's inputs ``(B, D)`` float32 and the canonical frame (inv, shift) of key s, for keys
    s < e with dense context: C frames every ``stride`` frames ending with key s (s - (C-1) stride .. s)
    and starting with key e (e .. e + (C-1) stride); frames outside the window are flagged invalid;
    ``relative``: local rotations relative to key s."""
    inv, shift = canonical(trans, rot, s)
    k = np.arange(C) * stride
    ref = s if relative else None
    x = np.concatenate([_context(trans, rot, s - k[::-1], inv, shift, ref),
                        _context(trans, rot, e + k, inv, shift, ref),
                        np.broadcast_to([(e - s) / 120.0, rp.log(e - s) / rp.log(121.0)], (len(trans), 2))], -1)
    return x.astype(np.float32), inv, shift


def gap_example(trans, rot, s: int, e: int, C: int, stride: int = 1, relative: bool = True, order: int = 1,
                global_weight: float = 0.0) -> Example:
    """Gap between keys s < e with dense context (inputs: :func:`gap_inputs`). Base: cubic Hermite with
    key velocities of ``order``, its body rotations ``global_weight`` of the way to the curve of their
    global orientations (``baselines.hermite_batch``)."""
    x, inv, shift = gap_inputs(trans, rot, s, e, C, stride, relative)
    bt, bq = hermite_batch(trans, rot, s, e, order, global_weight=global_weight)
    ct, cq = to_canon(bt, bq, inv, shift)
    return Example(x, ct, cq, inv, shift)


def blocking_example(trans, rot, a: int | None, s: int, e: int, b: int | None, relative: bool = True,
                     fps: float = 30.0) -> Example:
    """Gap between keys s < e when only keys are known; neighbouring keys a < s and b > e (None = none),
    frames of a clip at ``fps``. Reads the four keys and their spacings (seconds). Base: Catmull-Rom
    through the keys."""
    inv, shift = canonical(trans, rot, s)
    idx = np.array([a if a is not None else -1, s, e, b if b is not None else 10 ** 9])
    ctx = _context(trans, rot, idx, inv, shift, s if relative else None)
    sp = [(s - a) / fps if a is not None else 0.0, (e - s) / fps, (b - e) / fps if b is not None else 0.0]
    x = np.concatenate([ctx, np.broadcast_to(sp, (len(trans), 3))], -1)
    bt, bq = catmull_batch(trans, rot, a, s, e, b)
    ct, cq = to_canon(bt, bq, inv, shift)
    return Example(x.astype(np.float32), ct, cq, inv, shift)


def extend_example(trans, rot, H: int, C: int, tau: float = DAMPING_FRAMES, relative: bool = True) -> Example:
    """H frames after the last frame of each window: reads C frames spread over the last second (every
    3rd frame, ending with the last). Base: constant velocity damped with ``tau`` frames (inf: undamped)."""
    W = trans.shape[1]
    inv, shift = canonical(trans, rot, W - 1)
    x = _context(trans, rot, W - 1 - 3 * np.arange(C)[::-1], inv, shift, W - 1 if relative else None)
    bt, bq = damped_batch(trans, rot, H, tau)
    ct, cq = to_canon(bt, bq, inv, shift)
    return Example(x.astype(np.float32), ct, cq, inv, shift)
