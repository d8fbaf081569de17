"""Retargeting a :class:`SourceClip` onto SMPL-24 through bone directions (swing) + source twist.

For every SMPL joint, in parent-before-child order:
- unmapped joints (e.g. spine2 of a skeleton without one) keep an identity local rotation and their
  parent aims at the next mapped descendant through the summed rest offsets;
- the pelvis and spine3 take the frame of an "up" bone (pelvis->spine3, spine3->neck) and a lateral
  axis (right->left hip, right->left shoulder): robust to where skeletons put hips and collars;
  other joints whose bones lead to two or more mapped children take the rotation that best aligns
  all those bones (weighted Kabsch);
- joints with one child bone take the source's own world orientation (its twist) times one constant
  calibration per joint, then swung so the SMPL bone points exactly where the source bone points;
- leaves take the calibrated source orientation.
The calibration maps the source's joint frames onto SMPL's: from the file's rest pose when that pose
stands upright (a T- or A-pose, :func:`rest_calibration`), so a head bowed or a forearm turned through
the whole clip stays so; else (files whose zero-rotation pose is not a pose, e.g. bone-aligned joint
frames), and for a joint the mocap solver holds turned far from its rest (:func:`_rest_or_clip`),
against the parent-relative minimal-twist solution over the clip, which keeps how twists vary but not
their mean.
Sudden 180-degree flips of a source joint's orientation (mocap solvers flip a bone's twist now and
then while its position stays smooth) are removed first, so the result's rotations stay continuous.
Root translation is the source's root position rescaled by SMPL leg length / source leg length, then
raised by one constant so that the ankles stand as high as the source's (:func:`ankle_lift`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import A4merError, SkeletonError
from ..geometry import (quat_angle, quat_between, quat_conj, quat_mul, quat_to_rotmat, quat_unflip,
                        rotmat_project, rotmat_to_quat, forward_kinematics, quat_apply)
from ..geometry import reproducible as rp
from ..io.source import SourceClip
from ..motion import Motion
from ..skeleton import SMPL
from .schemes import BoneMap

_EPS = 1e-6
#: joint -> (candidate joints its "up" bone aims at, candidate (right, left) lateral pairs,
#: whether the lateral axis (True) or the up bone (False) is matched exactly); first usable wins
_TRIADS = {0: ((3, 6, 9), ((2, 1),), True), 9: ((12,), ((14, 13), (17, 16)), False)}
_LEGS = (("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle"))


@dataclass(frozen=True)
class RetargetResult:
    """motion: the SMPL-24 Motion. bone_error_deg: SMPL bone ('parent->child') -> median angle (deg)
    between the SMPL bone and the source bone over frames. scale: root translation factor used."""

    motion: Motion
    bone_error_deg: dict[str, float]
    scale: float

    @property
    def median_error_deg(self) -> float:
        return float(np.median(list(self.bone_error_deg.values()))) if self.bone_error_deg else 0.0


def leg_length(positions: np.ndarray, idx: dict[str, int]) -> float:
    """Mean hip-knee-ankle length (metres) over frames and both legs; positions (T, J, 3)."""
    total = []
    for hip, knee, ankle in _LEGS:
        a, b, c = positions[:, idx[hip]], positions[:, idx[knee]], positions[:, idx[ankle]]
        total.append(np.linalg.norm(b - a, axis=-1).mean() + np.linalg.norm(c - b, axis=-1).mean())
    return float(np.mean(total))


#: SMPL ankles: the retargeted clip's ankles are put at the source's ankle heights (scaled)
_ANKLES = (7, 8)


def ankle_lift(motion: Motion, pos: dict[int, np.ndarray], scale: float) -> float:
    """Metres to raise ``motion`` (the retargeted clip, root at the scaled source root) so that its
    ankles stand as high as the source's ankles (``pos``: SMPL joint -> (T, 3) source positions,
    scaled by ``scale``): the median over frames and both ankles; 0 when the source has no ankles.

    The root follows the source's pelvis, but skeletons hang their legs from the pelvis by different
    depths (SMPL 9 cm to the hips, Bandai 2 cm, CMU's Daz skeleton 3 cm *above* its root): without
    this a clip's feet stood 4-17 cm under the source's floor (Bandai, CMU) or over it."""
    ankles = [j for j in _ANKLES if j in pos]
    if not ankles:
        return 0.0
    smpl = motion.joint_positions()[:, ankles, 2]  # (T, A) m
    src = np.stack([pos[j][:, 2] for j in ankles], axis=1) * scale  # (T, A) m
    return float(np.median(src - smpl))


def _targets(src: SourceClip, bmap: BoneMap) -> tuple[dict[int, int], dict[int, np.ndarray]]:
    """SMPL joint -> source joint index (rotation source); SMPL joint -> (T, 3) target position."""
    rot_src: dict[int, int] = {}
    pos: dict[int, np.ndarray] = {}
    for j, name in enumerate(SMPL.names):
        s = bmap.joints.get(name)
        if s is None:
            continue
        si = src.index(s)
        rot_src[j] = si
        pos[j] = src.positions[:, si]
    # leaf fallbacks: feet / hands from the children (or end sites) of the ankle / wrist
    for leaf, parent in ((10, 7), (11, 8), (22, 20), (23, 21)):
        if leaf in pos or parent not in rot_src:
            continue
        kids = [c for c, p in enumerate(src.parents) if p == rot_src[parent]
                and np.linalg.norm(src.positions[:, c] - pos[parent], axis=-1).mean() > 1e-3]
        picked = _hand_children(src, kids, pos, parent) if leaf >= 22 else _toe_child(src, kids, pos, parent)
        if picked:
            pos[leaf] = src.positions[:, picked].mean(axis=1)
    return rot_src, pos


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def _toe_child(src: SourceClip, kids: list[int], pos: dict[int, np.ndarray], ankle: int) -> list[int]:
    """The ankle's child that points most forward over the clip (the toe, not a heel helper that may come
    first), the body's forward being (left hip - right hip) x up, none where no child points forward; the
    first child without both hips."""
    if not kids or 1 not in pos or 2 not in pos:
        return kids[:1]
    forward = _unit(np.cross(pos[1] - pos[2], np.array([0.0, 0.0, 1.0])))  # (T, 3), Z-up world
    ahead = [float(np.mean(np.sum(_unit(src.positions[:, c] - pos[ankle]) * forward, axis=-1))) for c in kids]
    best = int(np.argmax(ahead))
    return [kids[best]] if ahead[best] > 0 else []  # a lone heel helper: no toe, as without children


#: finger bases lie within this angle (deg) of the forearm's line; a thumb (about 50 deg off) or a prop
#: held in the hand does not
FINGER_CONE_DEG = 40.0


def _hand_children(src: SourceClip, kids: list[int], pos: dict[int, np.ndarray], wrist: int) -> list[int]:
    """The wrist's children a hand points at the middle of: the finger bases, those within
    :data:`FINGER_CONE_DEG` of the forearm and nearer the wrist than the elbow is (not a thumb, a weapon or
    a prop: none then, as for a wrist without children); without an elbow, every child not named a thumb."""
    elbow = {20: 18, 21: 19}[wrist]
    unthumbed = [c for c in kids if "thumb" not in src.names[c].lower()] or kids
    if elbow not in pos:
        return unthumbed
    arm = pos[wrist] - pos[elbow]
    reach = float(np.linalg.norm(arm, axis=-1).mean())
    cos = np.cos(np.radians(FINGER_CONE_DEG))
    fingers = [c for c in unthumbed
               if float(np.mean(np.sum(_unit(src.positions[:, c] - pos[wrist]) * _unit(arm), axis=-1))) > cos
               and float(np.linalg.norm(src.positions[:, c] - pos[wrist], axis=-1).mean()) < reach]
    return fingers


def _effective_children(mapped: set[int]) -> dict[int, list[tuple[int, np.ndarray]]]:
    """For each SMPL joint: mapped descendants reached through unmapped joints, with summed rest offset."""
    out: dict[int, list[tuple[int, np.ndarray]]] = {j: [] for j in range(SMPL.num_joints)}
    for c in range(1, SMPL.num_joints):
        if c not in mapped:
            continue
        off = SMPL.offsets[c].copy()
        p = SMPL.parents[c]
        while p >= 0 and p not in mapped:
            off = off + SMPL.offsets[p]
            p = SMPL.parents[p]
        if p >= 0:
            out[p].append((c, off))
    return out


def _kabsch(rest: np.ndarray, obs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rotations (T, 4) best mapping rest dirs (C, 3) onto observed dirs (T, C, 3) with weights (T, C)."""
    rn = rest / np.linalg.norm(rest, axis=-1, keepdims=True)
    on = obs / np.maximum(np.linalg.norm(obs, axis=-1, keepdims=True), _EPS)
    h = np.einsum("tc,ci,tcj->tji", w, rn, on)  # (T, 3, 3) sum_c w on rn^T
    return rotmat_to_quat(rotmat_project(h))


def _frame(exact: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3): columns (exact, other made orthogonal to it, their cross)."""
    x = exact / np.maximum(np.linalg.norm(exact, axis=-1, keepdims=True), _EPS)
    y = other - np.sum(other * x, -1, keepdims=True) * x
    y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), _EPS)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _usable(v: np.ndarray) -> bool:
    return float(np.linalg.norm(v, axis=-1).mean()) > 1e-3


def _triad(j: int, pos: dict[int, np.ndarray]) -> np.ndarray | None:
    """Rotations (T, 4) aligning joint j's rest up/lateral frame with the observed one, if mapped."""
    if j not in _TRIADS:
        return None
    ups, pairs, lateral_exact = _TRIADS[j]
    up = next((u for u in ups if u in pos and _usable(pos[u] - pos[j])), None)
    pair = next(((r, l) for r, l in pairs if r in pos and l in pos and _usable(pos[l] - pos[r])), None)
    if up is None or pair is None:
        return None
    rest = SMPL.rest_positions()
    (r, l) = pair
    vecs_rest = (rest[l] - rest[r], rest[up] - rest[j])
    vecs_obs = (pos[l] - pos[r], pos[up] - pos[j])
    if not lateral_exact:
        vecs_rest, vecs_obs = vecs_rest[::-1], vecs_obs[::-1]
    f_rest = _frame(*vecs_rest)
    f_obs = _frame(*vecs_obs)
    return rotmat_to_quat(f_obs @ f_rest.T)


def remove_flips(q: np.ndarray, max_step: float = np.radians(120.0)) -> np.ndarray:
    """Orientations (T, J, 4) with sudden flips removed: where a joint turns by more than
    ``max_step`` radians between two frames (a solver's twist flip, not motion), the frames on one
    side are turned in the joint's own frame so the orientation stays continuous. The longest run
    between flips keeps the source's orientation (a reference frame before the take is the one turned,
    not the take: the rest pose then still calibrates the take, see :func:`rest_calibration`)."""
    eps = quat_mul(quat_conj(q[:-1]), q[1:])  # (T-1, J, 4) body-frame step of each joint
    glitch = 2 * rp.arccos(np.clip(np.abs(eps[..., 0]), 0.0, 1.0)) > max_step
    if not glitch.any():
        return q
    out = q.copy()
    for j in np.flatnonzero(glitch.any(0)):
        starts = [0] + list(np.flatnonzero(glitch[:, j]) + 1)
        runs = list(zip(starts, starts[1:] + [len(q)]))
        d = [np.array([1.0, 0, 0, 0])]  # the turn applied to each run, anchored at the first
        for t, _ in runs[1:]:
            d.append(quat_mul(quat_conj(eps[t - 1, j]), d[-1]))
        keep = quat_conj(d[int(np.argmax([b - a for a, b in runs]))])  # the longest run stays as it is
        for (a, b), da in zip(runs, d):
            out[a:b, j] = quat_mul(q[a:b, j], quat_mul(da, keep))
    return out


def _calibrated(q_src: np.ndarray, g_ref: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    """Source orientation (T, 4) times one constant rotation K that best maps it onto g_ref (T, 4).

    With ``axis`` (the SMPL bone's rest direction, which every per-frame K_t = q_src^-1 g_ref maps
    onto the source's local bone direction), K is that mapping times the circular mean of the
    per-frame twists about the bone, which stays well defined however much the twists spread.
    Without it (leaves), K is the chordal mean of K_t over the frames within 90 degrees of a first
    estimate."""
    kt = quat_mul(quat_conj(q_src), g_ref)  # (T, 4)
    if axis is None:
        k = rotmat_to_quat(rotmat_project(quat_to_rotmat(kt).sum(0)))
        near = quat_angle(kt, k) < np.pi / 2
        k = rotmat_to_quat(rotmat_project(quat_to_rotmat(kt[near] if near.any() else kt).sum(0)))
        return quat_mul(q_src, k)
    a = axis / np.linalg.norm(axis)
    d = quat_apply(kt, a).mean(0)
    b = quat_between(a, d)
    tw = quat_mul(quat_conj(b), kt)  # ~ pure twists about a
    theta = 2 * rp.arctan2(tw[:, 1:] @ a, tw[:, 0])
    mean = rp.arctan2(rp.sin(theta).mean(), rp.cos(theta).mean())
    k = quat_mul(b, np.concatenate([[rp.cos(mean / 2)], rp.sin(mean / 2) * a]))
    return quat_mul(q_src, k)


def _solve_joint(j: int, g_parent: np.ndarray, pos: dict[int, np.ndarray],
                 kids: list[tuple[int, np.ndarray]], q_src: np.ndarray | None,
                 k: np.ndarray | None = None, turned: set[int] | None = None) -> np.ndarray:
    """Global rotation (T, 4) of mapped SMPL joint ``j`` given its parent's (T, 4), the target
    positions, its effective children (joint, summed rest offset), its source orientation and the
    calibration ``k`` (4,) from source to SMPL joint frame (None: calibrated on the clip). ``j`` is
    added to ``turned`` when ``k`` is set aside for the clip's calibration (see :func:`_rest_or_clip`)."""
    tri = _triad(j, pos)
    if tri is not None:
        return tri
    bones = [(off, pos[c] - pos[j]) for c, off in kids]
    bones = [(off, u, np.linalg.norm(u, axis=-1)) for off, u in bones if _usable(u)]
    if len(bones) >= 2:
        return _kabsch(np.array([b[0] for b in bones]), np.stack([b[1] for b in bones], axis=1),
                       np.stack([b[2] for b in bones], axis=1))
    if len(bones) == 1:
        off, u, _ = bones[0]
        g_swing = quat_mul(quat_between(quat_apply(g_parent, off), u), g_parent)
        if q_src is None:
            return g_swing
        g_ref = _rest_or_clip(j, q_src, k, _calibrated(q_src, g_swing, off), turned)  # the source's twist
        return quat_mul(quat_between(quat_apply(g_ref, off), u), g_ref)
    if q_src is None:
        return g_parent
    return _rest_or_clip(j, q_src, k, _calibrated(q_src, g_parent), turned)


#: a joint whose source orientation, calibrated on the rest pose, lies more than this from the clip's
#: own calibration over the whole clip is taken to be turned by the mocap solver (HDM05 wrists and
#: ankles: 145-175 degrees in some takes, a sole turned up), and calibrated on the clip; held turns of
#: a body (a forearm pronated 100 degrees, an HDM05 actor's upper arms 80-100 degrees) stay
_SOLVER_TURN_DEG = 135.0


def _rest_or_clip(j: int, q_src: np.ndarray, k: np.ndarray | None, g_clip: np.ndarray,
                  turned: set[int] | None) -> np.ndarray:
    """Joint ``j``'s source orientation (T, 4) calibrated by the rest pose's ``k`` (4,), unless there is
    none or it lies over :data:`_SOLVER_TURN_DEG` from ``g_clip`` (T, 4), the clip-calibrated one, in
    most frames (then ``g_clip``, and ``j`` goes into ``turned``)."""
    if k is None:
        return g_clip
    g = quat_mul(q_src, k)
    if np.median(quat_angle(g, g_clip)) <= np.radians(_SOLVER_TURN_DEG):
        return g
    if turned is not None:
        turned.add(j)
    return g_clip


def _solve(src: SourceClip, bmap: BoneMap, calib: dict[int, np.ndarray] | None = None,
           turned: set[int] | None = None, flips: bool = True) -> tuple[np.ndarray, dict[int, int], dict[int, np.ndarray]]:
    """SMPL global rotations (T, 24, 4) of ``src``, with the source joint (rotation source) and the
    (T, 3) target position of every mapped SMPL joint. ``calib``: SMPL joint -> (4,) source-to-SMPL
    frame calibration (None: calibrated on the clip; ``{}``: no source orientations, swing only);
    ``turned`` collects the joints calibrated on the clip instead (:func:`_rest_or_clip`); ``flips``:
    remove the source's sudden twist flips first (:func:`remove_flips`)."""
    rot_src, pos = _targets(src, bmap)
    if 0 not in pos:
        raise SkeletonError(f"{src.path}: no source joint for the SMPL pelvis")
    T = src.num_frames
    kids = _effective_children(set(pos))
    g = np.zeros((T, SMPL.num_joints, 4))
    g[..., 0] = 1.0
    qsrc = None if calib == {} else quat_unflip(src.orientations)
    if qsrc is not None and flips:
        qsrc = remove_flips(qsrc)
    for j in range(SMPL.num_joints):
        p = SMPL.parents[j]
        g_parent = g[:, p] if p >= 0 else np.tile([1.0, 0, 0, 0], (T, 1))
        if j not in pos:
            g[:, j] = g_parent
            continue
        q_src = qsrc[:, rot_src[j]] if qsrc is not None and j in rot_src else None
        g[:, j] = _solve_joint(j, g_parent, pos, kids[j], q_src, None if calib is None else calib.get(j), turned)
    return g, rot_src, pos


def _local(g: np.ndarray) -> np.ndarray:
    """SMPL local rotations (T, 24, 4) of global ones (T, 24, 4)."""
    local = g.copy()
    for j in range(1, SMPL.num_joints):
        local[:, j] = quat_mul(quat_conj(g[:, SMPL.parents[j]]), g[:, j])
    return local


#: the file's rest pose calibrates twist when it stands upright: every mapped leg bone within
#: _UPRIGHT_DEG of straight down and the pelvis -> neck line within it of straight up (Z). Files whose
#: zero-rotation pose is no pose (bone-aligned joint frames, as Bandai-Namco's) fail this by far.
_UPRIGHT_DEG = 30.0
_LEG_BONES, _SPINE = ((1, 4), (4, 7), (2, 5), (5, 8)), ((0, 12), (0, 9), (0, 6))


def _upright(pos: dict[int, np.ndarray]) -> bool:
    """True when the (1, 3) rest positions ``pos`` (SMPL joint -> source position) stand upright."""
    def along(a: int, b: int, z: float) -> bool | None:
        if a not in pos or b not in pos or not _usable(pos[b] - pos[a]):
            return None
        v = (pos[b] - pos[a])[0]
        return bool(z * v[2] / np.linalg.norm(v) >= rp.cos(np.radians(_UPRIGHT_DEG)))
    legs = [along(a, b, -1.0) for a, b in _LEG_BONES]
    spine = next((r for r in (along(a, b, 1.0) for a, b in _SPINE) if r is not None), None)
    return spine is True and any(r is not None for r in legs) and all(r is not False for r in legs)


def rest_calibration(src: SourceClip, bmap: BoneMap) -> dict[int, np.ndarray] | None:
    """SMPL joint -> (4,) rotation K with SMPL frame = source frame x K, read off the file's rest pose
    (``src.rest_positions`` / ``rest_orientations``: the swing-only solve on it), or None when the file
    has no usable rest pose: none given, or one that does not stand upright (see :data:`_UPRIGHT_DEG`).
    The head and the feet, when they are leaves (no bone of their own to aim), are mapped onto SMPL's
    template standing upright and facing where the source's rest pose faces (:func:`_standing`), not
    onto their parent's aimed frame: SMPL's neck leans 38 degrees forward of an upright skeleton's, and
    a head calibrated on it looked up by that much. Hands follow their forearm, which a T- and an
    A-pose hold differently."""
    if src.rest_orientations is None:
        return None
    rest = replace(src, positions=src.rest_positions[None], orientations=src.rest_orientations[None])
    try:
        g, rot_src, pos = _solve(rest, bmap, {})
    except SkeletonError:
        return None
    if not _upright(pos):
        return None
    kids = _effective_children(set(pos))
    leaf = {j for j in rot_src if j in _STANDING_LEAVES and not any(_usable(pos[c] - pos[j]) for c, _ in kids[j])}
    stand = _standing(pos) if leaf else None
    if stand is None:
        leaf = set()
    return {j: quat_mul(quat_conj(src.rest_orientations[s]), stand if j in leaf else g[0, j]) for j, s in rot_src.items()}


#: leaves calibrated on SMPL's standing template (head, feet): see :func:`rest_calibration`
_STANDING_LEAVES = (10, 11, 15)


def _standing(pos: dict[int, np.ndarray]) -> np.ndarray | None:
    """(4,) rotation taking SMPL's template (+Y up) to the world standing upright (+Z up), its right ->
    left hip line (else shoulder line) level in both, onto that of the (1, 3) rest positions; None when
    neither line is there (or has no length across)."""
    up_w = np.array([0.0, 0.0, 1.0])
    pair = next(((r, l) for r, l in ((2, 1), (17, 16)) if r in pos and l in pos
                 and np.linalg.norm(np.cross((pos[l] - pos[r])[0], up_w)) > 1e-3), None)
    if pair is None:
        return None
    r, l = pair
    rest = SMPL.rest_positions()

    def frame(lat: np.ndarray, up: np.ndarray) -> np.ndarray:
        lat = lat - np.dot(lat, up) * up
        lat = lat / max(np.linalg.norm(lat), _EPS)
        return np.stack([lat, up, np.cross(lat, up)], axis=-1)
    world = frame((pos[l] - pos[r])[0], np.array([0.0, 0.0, 1.0]))
    return rotmat_to_quat(world @ frame(rest[l] - rest[r], np.array([0.0, 1.0, 0.0])).T)


def canonical_twist(motion: Motion) -> Motion:
    """``motion``'s body (SMPL-24) with each joint's twist calibrated on the clip, as ``twist="clip"``
    reads a BVH/AMC: the motion retargeted from its own joints (positions and world orientations),
    so a clip read with the source's twist, an AMASS npz or a posed armature gives the model the
    joint frames its training data had (within ~0.2 degrees of a BVH/AMC read with ``twist="clip"``;
    idempotent to that). Root translation, frames and meta are kept; joint positions move by the
    swing fits' float error only."""
    body = motion.body()
    if body.num_frames == 0:
        return body
    names = tuple(SMPL.names)
    positions, orientations = forward_kinematics(body.rotations, body.root_translation, body.skeleton.offsets,
                                                 body.skeleton.parents)
    src = SourceClip(path=str(body.meta.get("source", "motion")), format="smpl", fps=body.fps, names=names,
                     parents=tuple(SMPL.parents), end_site=np.zeros(len(names), dtype=bool),
                     positions=positions, orientations=orientations,
                     rest_positions=SMPL.rest_positions(), unit_scale=1.0, source_up="z")
    # no flip removal: a clip's joints turn continuously at its own rate; resampled, a fast twist (a
    # folded knee's, 220 degrees in 0.05 s in a CMU take) steps past remove_flips' threshold
    g, _, _ = _solve(src, BoneMap("smpl", {n: n for n in names}), None, flips=False)
    return body.with_(rotations=quat_unflip(_local(g)))


#: joints whose frame canonical_twist builds from joint positions (pelvis, spine3), not from their own
#: orientation turned by one constant: twist_offsets leaves them as they are
_TRIAD_JOINTS = tuple(_TRIADS)


def twist_offsets(motion: Motion) -> np.ndarray:
    """(24, 4) per SMPL joint the constant rotation ``K`` with ``world orientation @ K`` = the joint's frame
    calibrated on the clip (:func:`canonical_twist`): exact for every joint but the pelvis and spine3
    (their frames come from joint positions; identity here). Identity throughout for a BVH/AMC read with
    ``twist="clip"``; a held twist or head turn for one read with the source's (HDM05: up to ~50
    degrees). With :func:`turn_twist` a clip goes into those frames and back exactly."""
    body = motion.body()
    if body.num_frames == 0:
        return np.tile([1.0, 0.0, 0.0, 0.0], (SMPL.num_joints, 1))
    kt = quat_mul(quat_conj(body.global_rotations()), canonical_twist(body).global_rotations())  # (T, 24, 4)
    k = rotmat_to_quat(rotmat_project(quat_to_rotmat(kt).sum(0)))
    k[list(_TRIAD_JOINTS)] = [1.0, 0.0, 0.0, 0.0]
    return k


def turn_twist(rot: np.ndarray, k: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Local SMPL rotations ``(..., J, 4)`` (J <= 24, SMPL order) with every joint's world orientation
    times ``k[j]`` (``(>= J, 4)``, :func:`twist_offsets`) on the right, or its inverse: into the frames
    calibrated on the clip and back."""
    J = rot.shape[-2]
    k = quat_conj(k[:J]) if inverse else k[:J]
    g = np.array(rot, dtype=np.float64)
    for j in range(1, J):
        g[..., j, :] = quat_mul(g[..., SMPL.parents[j], :], rot[..., j, :])
    g = quat_mul(g, k)
    out = g.copy()
    out[..., 1:, :] = quat_mul(quat_conj(g[..., list(SMPL.parents[1:J]), :]), g[..., 1:, :])
    return out


#: a bone map's sides are swapped when, over the clip, the median cosine between the map's right -> left
#: hip line, and its right -> left shoulder line, and the body's left told by the feet and by the knees
#: (:func:`side_cosines`) is under minus this all four ways. Every Bandai dataset-1 clip, 80 HDM05 takes and
#: the 43 CMU dance takes read right way round: the largest of the four at least +0.93, none flagged (the
#: knees +0.71 to +1, the feet +0.8 to +1 but in a sprint, -0.8 to +0.5: Bandai's dash and run, toes
#: pointing down and back most of the time); read with the sides swapped, all flagged but 9 of those sprints
_SWAPPED_COS = 0.5


def side_cosines(src: SourceClip, bmap: BoneMap) -> np.ndarray:
    """(2, 2) median cosines over the clip between the map's right -> left hip line (row 0) and right -> left
    shoulder line (row 1), and the body's left (columns) told by the feet, up x the way they point
    (ankle -> foot, else -> the ankle's children), and by the knees, the axis they bend about (thigh x shin,
    as knees bend forward): near +1 for a map right way round, near -1 for one with left and right
    swapped, which changes neither the feet's direction nor the knees' bending; NaN where a joint is not
    mapped. Frames, not the rest pose, tell it: some files' zero-rotation pose is no pose (Bandai's)."""
    idx = {n: src.index(s) for n, s in bmap.joints.items()}
    P = src.positions[::max(1, src.num_frames // 1000)]  # (T', J, 3), Z-up
    out = np.full((2, 2), np.nan)
    if not all(f"{side}_{j}" in idx for side in ("left", "right") for j in ("hip", "knee", "ankle", "shoulder")):
        return out
    ahead, bend = np.zeros((len(P), 3)), np.zeros((len(P), 3))
    for side in ("left", "right"):
        hip, knee, ankle = (P[:, idx[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
        bend += _unit(np.cross(knee - hip, ankle - knee))
        foot = idx.get(f"{side}_foot")
        for c in [foot] if foot is not None else [c for c, p in enumerate(src.parents) if p == idx[f"{side}_ankle"]]:
            ahead += _unit(P[:, c] - ankle)
    lefts = (_unit(np.cross([0.0, 0.0, 1.0], ahead)), _unit(bend))
    for row, joint in enumerate(("hip", "shoulder")):
        line = _unit(P[:, idx[f"left_{joint}"]] - P[:, idx[f"right_{joint}"]])
        for col, left in enumerate(lefts):
            if left.any():
                out[row, col] = np.median(np.sum(line * left, axis=-1))
    return out


def check_sides(src: SourceClip, bmap: BoneMap) -> None:
    """SkeletonError when ``bmap`` clearly puts its left_* joints on the body's right and its right_* on its
    left: the hips and the shoulders, told by the feet and by the knees (:func:`side_cosines`, all under
    ``-_SWAPPED_COS``); nothing is said where a cue is missing or they disagree."""
    cos = side_cosines(src, bmap)
    if not np.isnan(cos).any() and cos.max() < -_SWAPPED_COS:
        raise SkeletonError(f"the bone map's left and right look swapped: its left_hip "
                            f"({bmap.joints['left_hip']!r}) lies on the body's right and its right_hip "
                            f"({bmap.joints['right_hip']!r}) on its left, and so do the shoulders (left_shoulder "
                            f"{bmap.joints['left_shoulder']!r}), seen from where the feet point and the knees bend; "
                            f"give the left_* keys the source's left joints")


def retarget(src: SourceClip, bmap: BoneMap, scale: float | None = None, twist: str = "rest") -> RetargetResult:
    """Retarget ``src`` onto SMPL-24; ``scale`` overrides the leg-length ratio for root translation;
    ``twist``: ``"rest"`` calibrates the joint frames on the file's rest pose where it can
    (:func:`rest_calibration`), ``"clip"`` always on the clip. A user bone map (scheme ``"user"``) whose
    left and right are swapped is a SkeletonError (:func:`check_sides`)."""
    if twist not in ("rest", "clip"):
        raise A4merError(f"twist must be 'rest' or 'clip', got {twist!r}")
    if bmap.scheme == "user":
        check_sides(src, bmap)
    calib = rest_calibration(src, bmap) if twist == "rest" else None
    turned: set[int] = set()
    g, _, pos = _solve(src, bmap, calib, turned)
    T = src.num_frames
    kids = _effective_children(set(pos))
    local = _local(g)
    idx = {n: i for i, n in enumerate(SMPL.names)}
    src_legs = leg_length(np.stack([pos.get(i, np.zeros((T, 3))) for i in range(SMPL.num_joints)], 1), idx)
    smpl_legs = leg_length(SMPL.rest_positions()[None], idx)
    if scale is None:
        if src_legs < 1e-6:
            raise SkeletonError(f"{src.path}: source legs have zero length; pass --scale")
        scale = smpl_legs / src_legs
    motion = Motion(fps=src.fps, root_translation=pos[0] * scale, rotations=quat_unflip(local),
                    skeleton=SMPL)
    lift = ankle_lift(motion, pos, scale)
    if lift:
        motion = motion.with_(root_translation=motion.root_translation + np.array([0.0, 0.0, lift]))
    errors = bone_errors(motion, pos, kids)
    meta = {"source": src.path, "source_format": src.format, "source_fps": src.fps,
            "source_up": src.source_up, "scheme": bmap.scheme, "retarget_scale": float(scale),
            "retarget_lift_m": round(lift, 4), "retarget_twist": "rest pose" if calib is not None else "clip",
            "retarget_twist_from_clip": [SMPL.names[j] for j in sorted(turned)],
            "retarget_error_deg": {k: round(v, 3) for k, v in errors.items()},
            "retarget_error_median_deg": round(float(np.median(list(errors.values()))), 3) if errors else 0.0,
            **{k: v for k, v in src.meta.items() if isinstance(v, (str, int, float, bool))}}
    return RetargetResult(motion.with_(meta=meta), errors, float(scale))


def bone_errors(motion: Motion, pos: dict[int, np.ndarray],
                kids: dict[int, list[tuple[int, np.ndarray]]]) -> dict[str, float]:
    """Median angle (degrees) per SMPL bone between the retargeted and the source bone direction
    (measured on at most ~2,000 evenly spaced frames)."""
    step = max(1, motion.num_frames // 2000)
    smpl_pos, _ = forward_kinematics(motion.rotations[::step], motion.root_translation[::step],
                                     SMPL.offsets, SMPL.parents)
    pos = {j: p[::step] for j, p in pos.items()}
    out = {}
    for j, children in kids.items():
        for c, _ in children:
            u = pos[c] - pos[j]
            if np.linalg.norm(u, axis=-1).mean() < 1e-3:
                continue
            v = smpl_pos[:, c] - smpl_pos[:, j]
            cos = np.sum(u * v, -1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), _EPS)
            out[f"{SMPL.names[j]}->{SMPL.names[c]}"] = float(np.degrees(np.median(rp.arccos(np.clip(cos, -1, 1)))))
    return out
