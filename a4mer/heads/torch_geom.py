"""Minimal torch rotation helpers for the heads (wxyz quaternions, 6D, rotation vectors, FK)."""
from __future__ import annotations

import torch

from ..skeleton import SMPL

BODY = 22


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of ``(..., 4)`` wxyz quaternions (apply b first)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def quat_apply(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``v (..., 3)`` by unit ``q (..., 4)``."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * torch.cross(u, v.expand_as(u), dim=-1)
    return v + w * t + torch.cross(u, t, dim=-1)


def rotvec_to_quat(r: torch.Tensor) -> torch.Tensor:
    """Rotation vectors ``(..., 3)`` to wxyz ``(..., 4)`` (smooth at zero)."""
    theta2 = (r * r).sum(-1, keepdim=True)
    theta = torch.sqrt(theta2 + 1e-12)
    half = 0.5 * theta
    k = torch.where(theta2 < 1e-8, 0.5 - theta2 / 48.0, torch.sin(half) / theta)
    return torch.cat([torch.cos(half), r * k], -1)


def quat_to_rotmat(q: torch.Tensor) -> torch.Tensor:
    """Unit wxyz ``(..., 4)`` to ``(..., 3, 3)``."""
    w, x, y, z = q.unbind(-1)
    m = torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)
    return m.reshape(q.shape[:-1] + (3, 3))


def rot6d_to_rotmat(r: torch.Tensor) -> torch.Tensor:
    """6D rotations ``(..., 6)`` (the first two matrix columns, as ``a4mer.geometry.rotmat_to_rot6d``)
    to ``(..., 3, 3)`` by Gram-Schmidt."""
    x = torch.nn.functional.normalize(r[..., :3], dim=-1)
    b = r[..., 3:]
    y = torch.nn.functional.normalize(b - (x * b).sum(-1, keepdim=True) * x, dim=-1)
    return torch.stack([x, y, torch.cross(x, y, dim=-1)], -1)


def fk(rot: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """Positions ``(..., 22, 3)`` of SMPL joints 0-21 from local wxyz ``rot (..., 22, 4)`` and pelvis
    ``trans (..., 3)`` on the neutral SMPL skeleton."""
    return fk_rotmat(quat_to_rotmat(rot), trans)


def fk_rotmat(rotmat: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """:func:`fk` from local rotation matrices ``(..., 22, 3, 3)`` (one small matrix product per joint
    instead of quaternion algebra: about 4 x faster forward and backward)."""
    offsets = torch.tensor(SMPL.offsets[:BODY].copy(), dtype=rotmat.dtype, device=rotmat.device)
    g = [rotmat[..., 0, :, :]]
    p = [trans]
    for j in range(1, BODY):
        par = SMPL.parents[j]
        g.append(g[par] @ rotmat[..., j, :, :])
        p.append(p[par] + g[par] @ offsets[j])
    return torch.stack(p, -2)
