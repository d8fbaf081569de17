"""Write an SMPL-family :class:`Motion` as a standard BVH (numpy only).

The BVH skeleton is the motion's own (SMPL) skeleton: OFFSETs are the SMPL rest offsets turned into
the output axes and units, zero rotation is the SMPL rest pose, the root has 6 channels
(``Xposition Yposition Zposition`` + rotations) and every other joint 3 rotation channels in the
``euler`` order (intrinsic, as BVH readers compose them). Leaves get an ``End Site``.
``read_bvh(path, up=up)`` gives back ``motion.joint_positions()``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..conventions import Y_UP_TO_Z_UP
from ..errors import A4merError
from ..geometry import axis_angle_to_quat, euler_unwrap, quat_apply, quat_conj, quat_identity, quat_mul, quat_to_rotmat
from ..geometry import reproducible as rp
from ..motion import Motion

_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "cmu": 0.0254 / 0.45, "inch": 0.0254}
_AX = {"X": 0, "Y": 1, "Z": 2}
#: End Site offsets (metres, SMPL template frame: Y up, +Z forward, +X the body's left) of leaves.
_END_SITES = {"head": (0.0, 0.10, 0.0), "left_foot": (0.0, -0.02, 0.05), "right_foot": (0.0, -0.02, 0.05)}


def rotmat_to_euler(m: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` to intrinsic Euler angles ``(..., 3)`` radians.

    ``order`` as in BVH (e.g. "ZXY"): ``m = R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2)``,
    the inverse of :func:`a4mer.geometry.euler_to_quat`. The middle angle is in [-pi/2, pi/2];
    at gimbal lock the last angle is set to 0.
    """
    order = order.upper()
    if len(order) != 3 or set(order) != set("XYZ"):
        raise ValueError(f"bad Euler order {order!r}: need a permutation of XYZ")
    i, j, k = (_AX[c] for c in order)
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (XYZ, YZX, ZXY)
    m = np.asarray(m, dtype=np.float64)
    cb = np.hypot(m[..., i, i], m[..., i, j])
    b = rp.arctan2(s * m[..., i, k], cb)
    lock = cb < 1e-9
    a = np.where(lock, rp.arctan2(s * m[..., k, j], m[..., j, j]), rp.arctan2(-s * m[..., j, k], m[..., k, k]))
    c = np.where(lock, 0.0, rp.arctan2(-s * m[..., i, j], m[..., i, i]))
    return np.stack([a, b, c], axis=-1)


def euler_channels(m: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices ``(T, ..., 3, 3)`` as intrinsic Euler channels ``(T, ..., 3)`` radians in ``order``
    that run on from frame to frame (:func:`a4mer.geometry.euler_unwrap`), also through gimbal lock: where
    the middle angle is exactly +-90 degrees only one combination of the outer two is fixed, and the last
    angle is taken from the frames around (:func:`rotmat_to_euler`'s 0 there made a one-frame spike of the
    outer channels), the first from the rotation."""
    m = np.asarray(m, dtype=np.float64)
    eul = euler_unwrap(rotmat_to_euler(m, order))
    i, j, k = (_AX[c] for c in order.upper())
    lock = np.hypot(m[..., i, i], m[..., i, j]) < 1e-9                     # (T, ...)
    T = len(eul)
    flat, mats, locks = eul.reshape(T, -1, 3), m.reshape(T, -1, 3, 3), lock.reshape(T, -1)
    t = np.arange(T)
    for n in np.flatnonzero(locks.any(axis=0) & ~locks.all(axis=0)):      # channels locked on some frames
        at, free = np.flatnonzero(locks[:, n]), ~locks[:, n]
        c = np.interp(at, t[free], flat[free, n, 2])
        about_k = np.zeros((len(at), 3))
        about_k[:, k] = c                                                  # the last rotation, axis-angle
        a = rotmat_to_euler(mats[at, n] @ np.swapaxes(quat_to_rotmat(axis_angle_to_quat(about_k)), -1, -2),
                            order)[:, 0]
        near = np.interp(at, t[free], flat[free, n, 0])
        flat[at, n, 0] = a + 2 * np.pi * np.round((near - a) / (2 * np.pi))
        flat[at, n, 2] = c
    return flat.reshape(eul.shape)


def _frame_time(fps: float) -> str:
    """``Frame Time`` text that reads back as ``fps``: the usual 10 decimals (``0.0333333333``) where
    they do, else 17 significant digits (45 fps: ``0.022222222222222223``, not ``0.0222222222``,
    which reads as 45.000000045)."""
    from .bvh import header_rate
    short = f"{1.0 / fps:.10f}"
    return short if float(short) > 0 and header_rate(float(short)) == fps else f"{1.0 / fps:.17g}"


def _metres_per_unit(units: str | float) -> float:
    if isinstance(units, str):
        if units not in _UNITS:
            raise A4merError(f"units must be one of {sorted(_UNITS)} or metres per unit, got {units!r}")
        return _UNITS[units]
    u = float(units)
    if not np.isfinite(u) or u <= 0:
        raise A4merError(f"units must be positive metres per unit, got {units}")
    return u


def _end_site(skel, j: int, own_offset: np.ndarray) -> np.ndarray:
    """End Site offset (metres, template frame) of skeleton joint ``j`` written as a leaf: its dropped
    child's offset (e.g. an ankle written without its toe), a table entry, or half its own offset."""
    dropped = skel.children(j)
    if dropped:
        return np.asarray(skel.offsets[dropped[0]], dtype=np.float64)
    if skel.names[j] in _END_SITES:
        return np.array(_END_SITES[skel.names[j]])
    return 0.5 * np.asarray(own_offset) if j else np.array([0.0, 0.1, 0.0])


def _subset(skel_names: tuple[str, ...], parents: tuple[int, ...], joint_subset) -> list[int]:
    if joint_subset is None:
        return list(range(len(skel_names)))
    keep = set()
    for n in joint_subset:
        if isinstance(n, str) and n not in skel_names:
            raise A4merError(f"joint_subset: no joint {n!r} in the skeleton (its joints: {', '.join(skel_names)})")
        j = skel_names.index(n) if isinstance(n, str) else int(n)
        if not 0 <= j < len(skel_names):
            raise A4merError(f"joint_subset: joint index {n} is not one of the skeleton's 0..{len(skel_names) - 1}")
        keep.add(j)
    keep = sorted(keep)
    if 0 not in keep:
        raise A4merError("joint_subset must contain the root joint")
    return keep


def write_bvh(motion: Motion, path: str | os.PathLike, names: Mapping[str, str] | Sequence[str] | None = None,
              units: str | float = "m", up: str = "y", euler: str = "ZXY",
              joint_subset: Sequence[str | int] | None = None,
              extra_helper_bones: Mapping[str, tuple[str, float]] | None = None,
              precision: int = 6) -> Path:
    """Write ``motion`` as a BVH file; returns the path.

    names: output joint names, either a mapping skeleton-name -> name (others keep the skeleton's
      names) or one name per written joint (in skeleton order).
    units: "m", "cm", "mm", "inch", "cmu" (1/0.45 inch) or a number of metres per unit.
    up: "y" (Y-up file, the usual BVH world) or "z" (the Motion's Z-up world).
    euler: rotation channel order of every joint (intrinsic), e.g. "ZXY" or "ZYX".
    joint_subset: skeleton joint names or indices to write (the root is required). A dropped joint's
      rotation is folded into its kept children and its offset added to theirs: global orientations
      stay exact; positions stay exact where the dropped joint's rotation is the identity.
    extra_helper_bones: helper name -> (skeleton joint name, fraction): inserts a zero-rotation joint
      between that joint and its parent, at ``fraction`` of the joint's offset (0 = a zero-length
      helper at the parent, as CMU's LHipJoint). At most one helper per joint.
    precision: decimals of the frame values (angles in degrees, positions in output units).
    """
    if up not in ("y", "z"):
        raise A4merError(f"up must be 'y' or 'z', got {up!r}")
    if isinstance(precision, bool) or not isinstance(precision, (int, np.integer)) or not 0 <= precision <= 15:
        raise A4merError(f"precision must be a whole number of decimals from 0 to 15, got {precision!r}")
    euler = euler.upper()
    if len(euler) != 3 or set(euler) != set("XYZ"):
        raise A4merError(f"euler must be a permutation of XYZ, got {euler!r}")
    skel = motion.skeleton
    scale = 1.0 / _metres_per_unit(units)
    keep = _subset(skel.names, skel.parents, joint_subset)
    kept = set(keep)
    T = motion.num_frames
    # A: Z-up world -> output world; B: skeleton (template, Y-up) frame -> output skeleton frame
    q = np.asarray(Y_UP_TO_Z_UP)
    A, B = (quat_conj(q), quat_identity()) if up == "y" else (quat_identity(), q)
    rots = motion.rotations

    # --- output joints: kept skeleton joints, dropped ones folded, helpers inserted ----------------
    out_names: list[str] = []
    out_parent: list[int] = []
    out_offset: list[np.ndarray] = []      # metres, template frame
    out_rot: list[np.ndarray] = []         # (T, 4) local rotation, template frame
    out_index: dict[int, int] = {}
    helpers = dict(extra_helper_bones or {})
    helper_of: dict[str, str] = {}
    for h, (joint, frac) in helpers.items():
        if joint not in skel.names or skel.names.index(joint) not in kept or joint == skel.names[0]:
            raise A4merError(f"helper bone {h!r}: {joint!r} is not a written non-root joint")
        if joint in helper_of:
            raise A4merError(f"joint {joint!r} has two helper bones")
        helper_of[joint] = h
    if isinstance(names, Mapping) or names is None:
        rename = dict(names or {})
    else:
        if len(names) != len(keep):
            raise A4merError(f"names lists {len(names)} names for {len(keep)} written joints")
        rename = {skel.names[j]: n for j, n in zip(keep, names)}
    for j in keep:
        name = rename.get(skel.names[j], skel.names[j])
        if j == 0:
            out_index[j] = 0
            out_names.append(name)
            out_parent.append(-1)
            out_offset.append(np.zeros(3))
            out_rot.append(rots[:, 0])
            continue
        off = np.array(skel.offsets[j], dtype=np.float64)
        rot = rots[:, j]
        p = skel.parents[j]
        while p not in kept:  # fold dropped ancestors
            off = off + skel.offsets[p]
            rot = quat_mul(rots[:, p], rot)
            p = skel.parents[p]
        parent = out_index[p]
        h = helper_of.get(skel.names[j])
        if h is not None:
            frac = float(helpers[h][1])
            out_names.append(h)
            out_parent.append(parent)
            out_offset.append(off * frac)
            out_rot.append(quat_identity((T,)))
            parent = len(out_names) - 1
            off = off * (1.0 - frac)
        out_index[j] = len(out_names)
        out_names.append(name)
        out_parent.append(parent)
        out_offset.append(off)
        out_rot.append(rot)
    if len(set(out_names)) != len(out_names) or any(not n or any(ch.isspace() for ch in n) for n in out_names):
        raise A4merError("output joint names must be unique, non-empty and without spaces")

    # --- frames in output axes/units --------------------------------------------------------------
    J = len(out_names)
    local = np.stack(out_rot, axis=1)                                       # (T, J, 4)
    local[:, 1:] = quat_mul(quat_mul(B, local[:, 1:]), quat_conj(B))
    local[:, 0] = quat_mul(quat_mul(A, local[:, 0]), quat_conj(B))
    ang = np.rad2deg(euler_channels(quat_to_rotmat(local), euler))         # (T, J, 3), no jumps
    root = quat_apply(A, motion.root_translation) * scale                  # (T, 3)
    frames = np.concatenate([root, ang.reshape(T, J * 3)], axis=1)         # (T, 3 + 3J)
    offsets = quat_apply(B, np.stack(out_offset)) * scale                  # (J, 3)

    # --- text ------------------------------------------------------------------------------------
    children = {j: [c for c in range(J) if out_parent[c] == j] for j in range(J)}
    rot_ch = " ".join(f"{c}rotation" for c in euler)
    lines = ["HIERARCHY"]
    fmt = "{:.6f}"

    def emit(j: int, depth: int) -> None:
        ind = "  " * depth
        lines.append(f"{ind}{'ROOT' if j == 0 else 'JOINT'} {out_names[j]}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET " + " ".join(fmt.format(v) for v in offsets[j]))
        if j == 0:
            lines.append(f"{ind}  CHANNELS 6 Xposition Yposition Zposition {rot_ch}")
        else:
            lines.append(f"{ind}  CHANNELS 3 {rot_ch}")
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            end = _end_site(skel, next(s for s, o in out_index.items() if o == j), out_offset[j])
            end = quat_apply(B, end) * scale
            lines.append(f"{ind}  End Site")
            lines.append(f"{ind}  {{")
            lines.append(f"{ind}    OFFSET " + " ".join(fmt.format(v) for v in end))
            lines.append(f"{ind}  }}")
        lines.append(f"{ind}}}")

    emit(0, 0)
    # frame columns follow the hierarchy's depth-first order, not the joint index order
    dfs: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        dfs.append(j)
        stack.extend(reversed(children[j]))
    cols = [0, 1, 2] + [3 + 3 * j + k for j in dfs for k in range(3)]
    frames = frames[:, cols]
    frames[np.abs(frames) < 0.5 * 10.0 ** -precision] = 0.0  # no "-0.000000"
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {_frame_time(motion.fps)}"]
    row = " ".join([f"%.{precision}f"] * frames.shape[1])
    body = "\n".join(row % tuple(r) for r in frames)
    path = Path(path)
    path.write_text("\n".join(lines) + "\n" + body + "\n", encoding="utf-8", newline="\n")
    return path
