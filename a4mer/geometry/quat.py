"""Rotation conversions in numpy (light core: no scipy, no torch).

Conventions: quaternions are w-first ``(..., 4)`` = (w, x, y, z), unit length, active rotations
(``quat_apply(q, v)`` rotates vector ``v``). Rotation matrices are ``(..., 3, 3)`` acting on column
vectors. Angles are radians. No function modifies its inputs.
"""
from __future__ import annotations

import numpy as np
from . import reproducible as rp

_EPS = 1e-12


def quat_identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """Identity quaternions of shape ``shape + (4,)``."""
    q = np.zeros(tuple(shape) + (4,))
    q[..., 0] = 1.0
    return q


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)``; zero-length inputs become identity."""
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    out = np.where(n > _EPS, q / np.maximum(n, _EPS), quat_identity(q.shape[:-1]))
    return out


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate (= inverse for unit quaternions) of ``(..., 4)`` wxyz quaternions."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of ``(..., 4)`` wxyz quaternions (apply ``b`` first, then ``a``)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = aw * bw - ax * bx - ay * by - az * bz
    out[..., 1] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 2] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of ``(..., 3)`` vectors (broadcasting; what ``np.cross`` gives, without its
    axis bookkeeping, which dominated forward kinematics)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def quat_apply(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (broadcasting)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def quat_to_rotmat(q: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternions ``(..., 4)`` to rotation matrices ``(..., 3, 3)``."""
    q = quat_normalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1)
    return m.reshape(q.shape[:-1] + (3, 3))


def rotmat_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` to unit wxyz quaternions ``(..., 4)`` with w >= 0.

    Uses the numerically stable branch per element (largest diagonal term).
    """
    m = np.asarray(m, dtype=np.float64)
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    # 4*w^2, 4*x^2, 4*y^2, 4*z^2 candidates
    cand = np.stack([1 + tr, 1 + 2 * m[:, 0, 0] - tr, 1 + 2 * m[:, 1, 1] - tr, 1 + 2 * m[:, 2, 2] - tr], -1)
    best = np.argmax(cand, axis=-1)
    s = np.sqrt(np.maximum(cand[np.arange(len(m)), best], _EPS))  # 2*|component|
    q = np.empty((len(m), 4))
    r = m
    for k in range(4):
        sel = best == k
        if not np.any(sel):
            continue
        ss = s[sel]
        rr = r[sel]
        if k == 0:
            q[sel] = np.stack([ss / 2, (rr[:, 2, 1] - rr[:, 1, 2]) / (2 * ss),
                               (rr[:, 0, 2] - rr[:, 2, 0]) / (2 * ss), (rr[:, 1, 0] - rr[:, 0, 1]) / (2 * ss)], -1)
        elif k == 1:
            q[sel] = np.stack([(rr[:, 2, 1] - rr[:, 1, 2]) / (2 * ss), ss / 2,
                               (rr[:, 0, 1] + rr[:, 1, 0]) / (2 * ss), (rr[:, 0, 2] + rr[:, 2, 0]) / (2 * ss)], -1)
        elif k == 2:
            q[sel] = np.stack([(rr[:, 0, 2] - rr[:, 2, 0]) / (2 * ss), (rr[:, 0, 1] + rr[:, 1, 0]) / (2 * ss),
                               ss / 2, (rr[:, 1, 2] + rr[:, 2, 1]) / (2 * ss)], -1)
        else:
            q[sel] = np.stack([(rr[:, 1, 0] - rr[:, 0, 1]) / (2 * ss), (rr[:, 0, 2] + rr[:, 2, 0]) / (2 * ss),
                               (rr[:, 1, 2] + rr[:, 2, 1]) / (2 * ss), ss / 2], -1)
    q = quat_normalize(q)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(batch + (4,))


def axis_angle_to_quat(aa: np.ndarray) -> np.ndarray:
    """Axis-angle vectors ``(..., 3)`` (direction = axis, norm = angle in radians) to wxyz ``(..., 4)``."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half)/angle with a Taylor expansion near zero
    small = angle < 1e-8
    k = np.where(small, 0.5 - angle ** 2 / 48.0, rp.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([rp.cos(half), aa * k], axis=-1)


def quat_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Unit wxyz quaternions ``(..., 4)`` to axis-angle ``(..., 3)`` with angle in [0, pi]."""
    q = quat_normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * rp.arctan2(s, q[..., :1])
    small = s < 1e-8
    k = np.where(small, 2.0 + angle ** 2 / 12.0, angle / np.where(small, 1.0, s))
    return q[..., 1:] * k


_AXES = {"x": 0, "y": 1, "z": 2}


def axis_quat(axis: str, angle: np.ndarray) -> np.ndarray:
    """Quaternions ``(..., 4)`` for rotations by ``angle (...)`` radians about a principal axis 'x'|'y'|'z'."""
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = rp.cos(angle / 2)
    q[..., 1 + _AXES[axis.lower()]] = rp.sin(angle / 2)
    return q


def euler_to_quat(angles: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles ``(..., 3)`` radians to wxyz ``(..., 4)``.

    ``order`` is the channel order as written in BVH/ASF files, e.g. ``"ZXY"``: the rotation is
    ``R = R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2)`` (intrinsic, the BVH convention; equal to
    scipy's ``Rotation.from_euler(order.upper(), ...)``).
    """
    angles = np.asarray(angles, dtype=np.float64)
    if len(order) != 3 or any(c.lower() not in _AXES for c in order):
        raise ValueError(f"bad Euler order {order!r}")
    q = axis_quat(order[0], angles[..., 0])
    for i in (1, 2):
        q = quat_mul(q, axis_quat(order[i], angles[..., i]))
    return q


def quat_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between ``a`` and ``b`` ``(..., 4)`` at fraction ``t`` (broadcast to ``(...)``).

    Takes the short way (flips ``b`` where ``a . b < 0``)."""
    a = quat_normalize(a)
    b = quat_normalize(b)
    t = np.asarray(t, dtype=np.float64)[..., None]
    d = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(d < 0, -b, b)
    d = np.abs(d)
    theta = rp.arccos(np.clip(d, -1.0, 1.0))
    s = rp.sin(theta)
    lin = s < 1e-6
    safe = np.where(lin, 1.0, s)
    wa = np.where(lin, 1.0 - t, rp.sin((1.0 - t) * theta) / safe)
    wb = np.where(lin, t, rp.sin(t * theta) / safe)
    return quat_normalize(wa * a + wb * b)


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians, ``(...)``) between rotations ``a`` and ``b`` ``(..., 4)``."""
    d = np.abs(np.sum(quat_normalize(a) * quat_normalize(b), axis=-1))
    return 2.0 * rp.arccos(np.clip(d, 0.0, 1.0))


def quat_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest rotation ``(..., 4)`` taking directions ``u`` to ``v`` ``(..., 3)`` (need not be unit).

    Antiparallel inputs rotate by pi about an axis perpendicular to ``u``."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u, v = np.broadcast_arrays(u, v)
    un = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), _EPS)
    vn = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)
    w = 1.0 + np.sum(un * vn, axis=-1, keepdims=True)
    xyz = np.cross(un, vn)
    # antiparallel: pick any axis perpendicular to u
    anti = (w[..., 0] < 1e-9)
    if np.any(anti):
        alt = np.cross(un, np.array([1.0, 0.0, 0.0]))
        alt2 = np.cross(un, np.array([0.0, 1.0, 0.0]))
        alt = np.where(np.linalg.norm(alt, axis=-1, keepdims=True) < 1e-6, alt2, alt)
        xyz = np.where(anti[..., None], alt, xyz)
        w = np.where(anti[..., None], 0.0, w)
    return quat_normalize(np.concatenate([w, xyz], axis=-1))


def rotmat_to_rot6d(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` to the 6D representation ``(..., 6)`` (first two columns)."""
    m = np.asarray(m, dtype=np.float64)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def rot6d_to_rotmat(r: np.ndarray) -> np.ndarray:
    """6D rotations ``(..., 6)`` to rotation matrices ``(..., 3, 3)`` by Gram-Schmidt."""
    r = np.asarray(r, dtype=np.float64)
    a, b = r[..., :3], r[..., 3:]
    x = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), _EPS)
    b = b - np.sum(x * b, axis=-1, keepdims=True) * x
    y = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), _EPS)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def rotmat_project(m: np.ndarray) -> np.ndarray:
    """Nearest rotation matrices ``(..., 3, 3)`` to arbitrary ``(..., 3, 3)`` matrices (SVD, det = +1)."""
    u, _, vt = np.linalg.svd(np.asarray(m, dtype=np.float64))
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, -1] *= d[..., None]
    return u @ vt


def quat_unflip(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Make a quaternion sequence ``(T, ..., 4)`` sign-continuous along ``axis`` (same rotations)."""
    q = np.moveaxis(np.asarray(q, dtype=np.float64), axis, 0)
    if len(q) < 2:
        return np.moveaxis(q.copy(), 0, axis)
    flips = np.sum(q[1:] * q[:-1], axis=-1) < 0  # (T-1, ...) sign change between neighbours
    parity = np.concatenate([np.zeros_like(flips[:1]), np.cumsum(flips, axis=0) % 2 == 1], axis=0)
    out = np.where(parity[..., None], -q, q)
    return np.moveaxis(out, 0, axis)


def euler_unwrap(angles: np.ndarray) -> np.ndarray:
    """Euler angles ``(T, ..., 3)`` radians, the middle one at index 1 (any order of axes: the two
    solutions of a rotation are ``(a, b, c)`` and ``(a + pi, pi - b, c + pi)``), rewritten as the same
    rotations along a path without jumps from frame 0 (kept as it is): each frame takes the solution
    nearer the frame before (a middle angle passing +-90 degrees, a deep knee bend, goes on instead of
    flipping the outer two by 180 degrees), then whole turns are unwrapped (no 360-degree steps)."""
    raw = np.asarray(angles, dtype=np.float64)
    if len(raw) < 2:
        return raw.copy()
    alt = np.stack([raw[..., 0] + np.pi, np.pi - raw[..., 1], raw[..., 2] + np.pi], axis=-1)

    def step(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (T-1, ...) angle distance, whole turns aside
        return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi).sum(axis=-1)

    # alt_t is as far from raw_{t-1} as raw_t from alt_{t-1}: a crossing toggles the solution from there on
    flips = step(alt[1:], raw[:-1]) < step(raw[1:], raw[:-1])
    parity = np.concatenate([np.zeros_like(flips[:1]), np.cumsum(flips, axis=0) % 2 == 1], axis=0)
    return np.unwrap(np.where(parity[..., None], alt, raw), axis=0)
