"""Per-frame model features (method.md §1, ours), numpy.

A clip is first turned into heading-free *frame arrays* at the model frame rate
(:func:`frame_arrays`); a window ``[a, b)`` of them becomes features (:func:`window_features`),
made heading-canonical at the window's first frame. Per frame (F = 202):

=========  =====  ================================================================================
slice      width  content
=========  =====  ================================================================================
0:132      132    local rotations of SMPL body joints 0-21 as 6D (first two rotation-matrix columns);
                  joint 0 (global orientation) is rotated about world Z by minus the window-start yaw
132:198    66     joint positions (FK on the neutral SMPL skeleton) minus the pelvis, in the
                  window-start heading frame, metres
198        1      pelvis height, metres
199:201    2      pelvis planar velocity in the frame's own heading frame, m/s
201        1      yaw rate, rad/s
=========  =====  ================================================================================

Heading (yaw): angle about world +Z of the body's forward axis (SMPL template +Z, mapped to the
world by the global orientation) projected on the ground plane.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .geometry import quat_to_rotmat, quat_unflip
from .geometry import reproducible as rp
from .motion import resampled_frame_count

NUM_BODY = 22
FEATURE_DIM = NUM_BODY * 6 + NUM_BODY * 3 + 1 + 2 + 1  # 202


def _rot_z(angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices about +Z by ``angle`` (radians)."""
    c, s = rp.cos(angle), rp.sin(angle)
    m = np.zeros(np.shape(angle) + (3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1], m[..., 2, 2] = c, -s, s, c, 1.0
    return m


def frame_arrays(motion: Any, fps: float) -> dict[str, np.ndarray]:
    """Heading-free per-frame arrays of ``motion`` resampled to ``fps`` (float32), with each joint's
    twist calibrated on the clip (:func:`a4mer.retarget.solve.canonical_twist`): the model sees the
    same joint frames whichever way a clip was read (a BVH/AMC with the source's twist, an AMASS npz,
    an armature's pose).

    Returns ``rotmats`` (T, 22, 3, 3) local rotations (joint 0 = global orientation),
    ``rel_pos`` (T, 22, 3) m joint positions minus the pelvis (world axes), ``root`` (T, 3) m pelvis
    position, ``yaw`` (T,) rad unwrapped heading.
    """
    from .retarget.solve import canonical_twist
    m = canonical_twist(motion.body().resample(fps))
    rot = quat_unflip(m.rotations)
    pos = m.joint_positions()[:, :NUM_BODY]  # (T, 22, 3)
    rotmats = quat_to_rotmat(rot[:, :NUM_BODY])  # (T, 22, 3, 3)
    fwd = rotmats[:, 0, :, 2]  # template +Z in world, (T, 3)
    yaw = np.unwrap(rp.arctan2(fwd[:, 1], fwd[:, 0]))
    return {"rotmats": rotmats.astype(np.float32), "rel_pos": (pos - pos[:, :1]).astype(np.float32),
            "root": pos[:, 0].astype(np.float32), "yaw": yaw.astype(np.float32)}


#: the headings :func:`window_features` measures a window in: its first frame's, or each frame's own
HEADINGS = ("start", "frame")


def window_features(arrays: dict[str, np.ndarray], start: int, stop: int, fps: float,
                    heading: str = "start") -> np.ndarray:
    """(stop-start, 202) float32 features of frames ``[start, stop)``, heading-canonical at ``start``
    (the model's input), or with ``heading="frame"`` each frame in its own heading (the same pose the same
    features whichever way the body faces: the recognition head's pose input over a long take).

    arrays: output of :func:`frame_arrays` at ``fps``.
    """
    rotmats = arrays["rotmats"][start:stop].astype(np.float64)  # (W, 22, 3, 3)
    rel = arrays["rel_pos"][start:stop].astype(np.float64)  # (W, 22, 3)
    root = arrays["root"].astype(np.float64)
    yaw_all = arrays["yaw"].astype(np.float64)
    W = len(rotmats)
    if heading not in HEADINGS:
        raise ValueError(f"heading must be one of {HEADINGS}, got {heading!r}")
    canon = _rot_z(-yaw_all[start] if heading == "start" else -yaw_all[start:stop])  # (3, 3) or (W, 3, 3)
    rotmats = rotmats.copy()
    rotmats[:, 0] = canon @ rotmats[:, 0]
    rot6d = rotmats[..., :, :2].reshape(W, NUM_BODY, 6)  # (W, 22, 6): columns 0 and 1
    rel_c = rel @ canon.T if heading == "start" else np.einsum("wij,wkj->wki", canon, rel)  # (W, 22, 3)
    # velocities by central differences over the whole clip (so a window edge has no artefact)
    T = len(root)
    lo, hi = max(start - 1, 0), min(stop + 1, T)
    if T > 1:
        vel_all = np.gradient(root[lo:hi, :2], axis=0) * fps  # (n, 2)
        yr_all = np.gradient(yaw_all[lo:hi]) * fps
    else:
        vel_all, yr_all = np.zeros((hi - lo, 2)), np.zeros(hi - lo)
    vel = vel_all[start - lo:start - lo + W]
    yaw_rate = yr_all[start - lo:start - lo + W]
    yaw = yaw_all[start:stop]
    c, s = rp.cos(-yaw), rp.sin(-yaw)
    vel_local = np.stack([c * vel[:, 0] - s * vel[:, 1], s * vel[:, 0] + c * vel[:, 1]], axis=1)
    feats = np.concatenate([rot6d.reshape(W, -1), rel_c.reshape(W, -1), root[start:stop, 2:3],
                            vel_local, yaw_rate[:, None]], axis=1)
    return feats.astype(np.float32)


def seconds_to_frames(bounds_src: np.ndarray, src_fps: float, dst_fps: float, num_dst: int) -> np.ndarray:
    """Map boundaries ``(K,)`` (``[0, ..., T_src]``) to another frame rate by time, keeping every
    segment at least one frame long. Returns (K,) int64 ``[0, ..., num_dst]``."""
    b = np.round(np.asarray(bounds_src, dtype=np.float64) * (dst_fps / src_fps)).astype(np.int64)
    b[0], b[-1] = 0, num_dst
    b = np.minimum(b, num_dst)
    for i in range(1, len(b)):  # enforce strictly increasing (only bites for sub-frame segments)
        if b[i] <= b[i - 1]:
            b[i] = b[i - 1] + 1
    if b[-1] > num_dst:  # too many segments for the frames available: drop the overflow
        b = np.r_[b[b < num_dst], num_dst]
    return b


def model_bounds(motion: Any, atoms: Any, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Segments of ``motion`` for the model: (bounds in the motion's frames, bounds in model frames).

    atoms: :class:`a4mer.segment.atoms.AtomConfig`. "kinematic" atoms are detected at 30 fps and
    mapped by time; the "frame" and "fixed" ablations cut at the model rate (and are mapped back).
    """
    from .segment.atoms import atom_boundaries

    # never more model frames than frame_arrays' resample holds (fewer at rates under 2x the model's);
    # counted without building them, and refused beyond MAX_RESAMPLED_FRAMES (a wrong frame rate)
    n_model = max(1, min(int(round(motion.num_frames * fps / motion.fps)),
                         resampled_frame_count(motion.num_frames, motion.fps, fps)))
    if atoms.mode == "kinematic":
        b_in = atom_boundaries(motion, atoms)
        return b_in, seconds_to_frames(b_in, motion.fps, fps, n_model)
    if atoms.mode == "frame":
        b_m = np.arange(n_model + 1, dtype=np.int64)
    else:
        step = max(1, int(round(atoms.fixed_s * fps)))
        b_m = np.unique(np.r_[np.arange(0, n_model, step), n_model]).astype(np.int64)
    b_in = np.round(b_m * (motion.fps / fps)).astype(np.int64)
    b_in[-1] = motion.num_frames
    return b_in, b_m
