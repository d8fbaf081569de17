"""Motion-quality metrics (numpy only): MPJPE, LaFAN1 L2P / L2Q / NPSS, foot skate, jerk, contacts.

All positions come from forward kinematics of SMPL body joints 0-21 on the fixed neutral SMPL
skeleton (metres, Z-up world), whatever skeleton the clip was captured on, so numbers from
different sources are comparable. Quaternions are wxyz.

LaFAN1 definitions (Harvey et al. 2020, ``benchmarks.py`` of the ubisoft-laforge-animation-dataset):
- L2Q: mean over frames of the L2 norm of the difference of *global* quaternions, all joints
  concatenated (we align each predicted quaternion's sign to the ground truth first).
- L2P: mean over frames of the L2 norm of the difference of global positions, all joints
  concatenated, after normalising each coordinate with a mean/std of reference data. Positions are
  first expressed in a frame canonical to the window (root at the origin in the ground plane and
  facing +Y at the last context frame).
- NPSS: power-weighted earth mover's distance between the normalised power spectra of predicted and
  true sequences of global quaternions (computed jointly over a batch of equal-length windows).
"""
from __future__ import annotations

import numpy as np

from ..floor import FOOT_JOINTS  # ankles (7, 8) and feet (10, 11) of SMPL, one definition for the core and heads
from ..geometry import axis_quat, forward_kinematics, quat_apply, quat_mul, quat_unflip
from ..geometry import reproducible as rp
from ..skeleton import SMPL

BODY = 22
CONTACT_HEIGHT = 0.05  # metres above the joint's own lowest height in the clip


def body_fk(rotations: np.ndarray, root_translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global positions ``(..., 22, 3)`` m and orientations ``(..., 22, 4)`` wxyz of SMPL joints 0-21.

    rotations: ``(..., J>=22, 4)`` wxyz local rotations on an SMPL-family skeleton (joints 0-21 used).
    root_translation: ``(..., 3)`` metres (pelvis position). Uses the neutral SMPL rest offsets.
    """
    rot = np.asarray(rotations, dtype=np.float64)[..., :BODY, :]
    return forward_kinematics(rot, np.asarray(root_translation, dtype=np.float64), SMPL.offsets[:BODY],
                              SMPL.parents[:BODY])


def mpjpe_mm(pred_pos: np.ndarray, true_pos: np.ndarray) -> float:
    """Mean per-joint position error in millimetres between ``(..., J, 3)`` metre arrays."""
    d = np.linalg.norm(np.asarray(pred_pos) - np.asarray(true_pos), axis=-1)
    return float(d.mean() * 1000.0) if d.size else float("nan")


def heading_yaw(root_quat: np.ndarray) -> np.ndarray:
    """Yaw (radians, ``(...)``) of the body's facing direction in the Z-up world.

    SMPL's template faces +Z; the world facing is ``R_root @ (0, 0, 1)`` projected on the ground;
    yaw is its angle from +Y, counter-clockwise about +Z (0 = facing +Y).
    """
    f = quat_apply(root_quat, np.array([0.0, 0.0, 1.0]))
    return rp.arctan2(-f[..., 0], f[..., 1])


def canonicalize(pos: np.ndarray, gq: np.ndarray, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Express a window ``pos (T, J, 3)``, ``gq (T, J, 4)`` in the frame of its frame ``ref``.

    The root's ground-plane position at ``ref`` moves to the origin (height kept) and the body faces
    +Y there (rotation about Z). Returns new arrays.
    """
    yaw = heading_yaw(gq[ref, 0])
    inv = axis_quat("z", -yaw)
    shift = np.array([pos[ref, 0, 0], pos[ref, 0, 1], 0.0])
    return quat_apply(inv, pos - shift), quat_mul(np.broadcast_to(inv, gq.shape), gq)


def position_stats(windows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-coordinate mean and std ``(J*3,)`` of canonical positions ``(T, J, 3)`` over all frames."""
    x = np.concatenate([w.reshape(len(w), -1) for w in windows], axis=0)
    return x.mean(0), np.maximum(x.std(0), 1e-6)


def l2p(pred_pos: np.ndarray, true_pos: np.ndarray, mean: np.ndarray, std: np.ndarray) -> float:
    """LaFAN1 L2P of ``(B, T, J, 3)`` (or ``(T, J, 3)``) canonical positions, normalised by ``mean``/``std``
    ``(J*3,)``: mean over windows and frames of the L2 norm over all normalised coordinates."""
    p = np.asarray(pred_pos).reshape(*np.shape(pred_pos)[:-2], -1)
    t = np.asarray(true_pos).reshape(*np.shape(true_pos)[:-2], -1)
    return float(np.mean(np.linalg.norm((p - mean) / std - (t - mean) / std, axis=-1)))


def align_signs(pred_q: np.ndarray, true_q: np.ndarray) -> np.ndarray:
    """``pred_q`` with each quaternion's sign flipped to lie in ``true_q``'s hemisphere (same rotations)."""
    d = np.sum(pred_q * true_q, axis=-1, keepdims=True)
    return np.where(d < 0, -pred_q, pred_q)


def l2q(pred_gq: np.ndarray, true_gq: np.ndarray) -> float:
    """LaFAN1 L2Q of global quaternions ``(B, T, J, 4)`` or ``(T, J, 4)``: mean over windows and frames of
    the L2 norm of the difference, all joints concatenated (signs aligned to the truth)."""
    p = align_signs(np.asarray(pred_gq, float), np.asarray(true_gq, float))
    t = np.asarray(true_gq, float)
    return float(np.mean(np.sqrt(np.sum((p - t) ** 2, axis=(-2, -1)))))


def npss(pred: np.ndarray, true: np.ndarray) -> float:
    """LaFAN1 NPSS of ``(B, T, F)`` sequences (F features, e.g. J*4 global quaternion components).

    Power spectra of the real part of the FFT along time, normalised per feature, compared by the L1
    distance of their cumulative sums (EMD), averaged with weights = total power of the truth.
    """
    p = np.asarray(pred, float)
    t = np.asarray(true, float)
    gt_pow = np.square(np.real(np.fft.fft(t, axis=1)))
    pr_pow = np.square(np.real(np.fft.fft(p, axis=1)))
    gt_tot = gt_pow.sum(axis=1)
    pr_tot = pr_pow.sum(axis=1)
    gt_cdf = np.cumsum(gt_pow / np.maximum(gt_tot[:, None, :], 1e-12), axis=1)
    pr_cdf = np.cumsum(pr_pow / np.maximum(pr_tot[:, None, :], 1e-12), axis=1)
    emd = np.linalg.norm(pr_cdf - gt_cdf, ord=1, axis=1)
    if gt_tot.sum() <= 0:
        return float(emd.mean())
    return float(np.average(emd, weights=gt_tot))


def npss_quats(pred_gq: np.ndarray, true_gq: np.ndarray) -> float:
    """NPSS of global quaternions ``(B, T, J, 4)``, signs made continuous along time and aligned."""
    t = quat_unflip(np.asarray(true_gq, float), axis=1)
    p = align_signs(np.asarray(pred_gq, float), t)
    B, T = t.shape[:2]
    return npss(p.reshape(B, T, -1), t.reshape(B, T, -1))


def foot_heights(pos: np.ndarray, ground: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Heights ``(T, 4)`` m of the foot joints above their own ground level, and that level ``(4,)``.

    ``ground`` defaults to the 2nd percentile of each foot joint's height over ``pos (T, J, 3)``
    (pass the level of the whole clip when scoring a span of it)."""
    z = np.asarray(pos)[:, FOOT_JOINTS, 2]
    g = np.percentile(z, 2, axis=0) if ground is None else np.asarray(ground, float)
    return z - g, g


def foot_skate(pos: np.ndarray, fps: float, ground: np.ndarray | None = None,
               height: float = CONTACT_HEIGHT) -> float:
    """Foot skating in cm/s: mean over frame steps and foot joints of the horizontal foot speed
    weighted by contact ``w = clip(2 - 2**(h / height), 0, 1)`` (1 on the ground, 0 above ``height``).

    pos: ``(T, J, 3)`` m, T >= 2. Zero for a clip whose feet never move while low.
    """
    pos = np.asarray(pos, float)
    if len(pos) < 2:
        return 0.0
    h, _ = foot_heights(pos, ground)
    feet = pos[:, FOOT_JOINTS, :2]
    v = np.linalg.norm(np.diff(feet, axis=0), axis=-1) * fps  # (T-1, 4) m/s
    hm = np.minimum(h[1:], h[:-1])
    w = np.clip(2.0 - rp.power(2.0, hm / height), 0.0, 1.0)
    return float(np.mean(w * v) * 100.0)


def contacts(pos: np.ndarray, ground: np.ndarray | None = None, height: float = CONTACT_HEIGHT) -> np.ndarray:
    """Contact state ``(T, 2)`` bool of the left/right foot (ankle or foot joint below ``height``),
    with hysteresis: a contact ends only when both joints of the side rise above 1.5 * ``height``."""
    h, _ = foot_heights(pos, ground)
    side_h = np.stack([np.minimum(h[:, 0], h[:, 2]), np.minimum(h[:, 1], h[:, 3])], axis=1)  # (T, 2)
    out = np.zeros(side_h.shape, bool)
    state = side_h[0] < height
    for t in range(len(side_h)):
        state = np.where(state, side_h[t] < 1.5 * height, side_h[t] < height)
        out[t] = state
    return out


def contact_changes(pos: np.ndarray, ground: np.ndarray | None = None, height: float = CONTACT_HEIGHT) -> int:
    """Number of foot contact switches (on->off or off->on, both feet) over ``pos (T, J, 3)``."""
    c = contacts(pos, ground, height)
    return int(np.sum(c[1:] != c[:-1]))


def jerk(pos: np.ndarray, fps: float) -> float:
    """Mean jerk magnitude in m/s^3: third finite difference of ``pos (T, J, 3)`` times fps^3,
    averaged over joints and frames (0 for T < 4)."""
    pos = np.asarray(pos, float)
    if len(pos) < 4:
        return 0.0
    d3 = np.diff(pos, n=3, axis=0) * fps ** 3
    return float(np.linalg.norm(d3, axis=-1).mean())
