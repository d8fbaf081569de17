"""A rig's rest pose and SMPL's T-pose: body-shape variation is SMPL's own rest (nothing turned); an
A-pose or a bent limb is mapped by rest turns, so a clip shows the same poses as on a T-pose rig."""
from __future__ import annotations

import re

import numpy as np
import pytest

from a4mer.errors import SkeletonError
from a4mer.geometry import axis_angle_to_quat, quat_angle, quat_to_rotmat, rotmat_to_quat
from a4mer.motion import Motion
from a4mer.rig import RigRest, basis_matrices, motion_to_rig, pose_matrices, rig_to_motion
from a4mer.skeleton import SMPL

RX90 = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # template (Y up) -> Blender (Z up)


def _rest(heads: np.ndarray) -> np.ndarray:
    """(24, 4, 4) armature-space rest matrices: identity axes at ``heads`` (Z up)."""
    rest = np.tile(np.eye(4), (24, 1, 1))
    rest[:, :3, 3] = heads @ RX90.T
    return rest


def _rotate_chain(heads: np.ndarray, pivot: int, joints: list[int], axis_angle) -> np.ndarray:
    r = quat_to_rotmat(axis_angle_to_quat(np.asarray(axis_angle, dtype=float)))
    out = heads.copy()
    out[joints] = (heads[joints] - heads[pivot]) @ r.T + heads[pivot]
    return out


def test_t_pose_and_body_shapes_pass():
    heads = SMPL.rest_positions()
    assert RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(heads)).rest_pose_deviation().max() < 1e-3
    for aa in ([0, 0, np.radians(27)], [np.radians(31), 0, 0], [0.4, -1.1, 2.0]):  # armature data turned
        turned = heads @ quat_to_rotmat(axis_angle_to_quat(np.array(aa))).T
        rig = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(turned))
        assert rig.rest_pose_deviation().max() < 1e-3
    rng = np.random.default_rng(0)
    for _ in range(20):  # bone lengths x0.8-1.2 and every offset tilted by up to 8 degrees
        offsets = np.zeros_like(heads)
        for j in range(1, 24):
            tilt = quat_to_rotmat(axis_angle_to_quat(rng.normal(size=3) * np.radians(8) / np.sqrt(3)))
            offsets[j] = tilt @ (heads[j] - heads[SMPL.parents[j]]) * rng.uniform(0.8, 1.2)
        shaped = np.zeros_like(heads)
        for j in range(1, 24):
            shaped[j] = shaped[SMPL.parents[j]] + offsets[j]
        RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(shaped))


def test_a_posed_rest_is_refused_naming_the_limbs():
    """One knee bent and one arm raised (the posed rest an FBX gets without its bind pose): no
    symmetric A-pose, so twists and spine cannot be told; refused, naming the bones."""
    heads = _rotate_chain(SMPL.rest_positions(), 4, [7, 10], [np.radians(60), 0, 0])
    heads = _rotate_chain(heads, 17, [19, 21, 23], [0, 0, np.radians(70)])
    with pytest.raises(SkeletonError, match=r"not SMPL's T-pose \(right_shoulder -> right_elbow 70 deg, left_knee -> "
                                            r"left_ankle 60 deg\) nor a symmetric A-pose \(left and right limbs "
                                            r"differ by up to 70 deg\): a posed rest"):
        RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(heads))


def _child_axes_rest(heads: np.ndarray, seed: int = 0) -> np.ndarray:
    """(24, 4, 4) rest matrices of an FBX/BVH-style SMPL rig (Z up): see :func:`_skeleton_rest`."""
    return _skeleton_rest(SMPL, heads, seed)


def _joint_positions(rig: RigRest, motion) -> np.ndarray:
    """(T, 24, 3) world positions of the rig's SMPL bone heads with ``motion`` written onto it."""
    basis = np.tile(np.eye(4), (1, rig.num_bones, 1, 1))
    loc, rot = motion_to_rig(rig, motion, basis, np.eye(4))
    pose = pose_matrices(rig.rest, rig.parents, basis_matrices(loc, rot))
    return pose[:, list(rig.smpl_bone)][..., :3, 3]


def _a_pose(heads: np.ndarray, degrees: float = 40.0) -> np.ndarray:
    out = _rotate_chain(heads, 16, [18, 20, 22], [0, 0, -np.radians(degrees)])  # left arm down
    return _rotate_chain(out, 17, [19, 21, 23], [0, 0, np.radians(degrees)])


def _motion(T: int = 40, seed: int = 3) -> Motion:
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None, None] / 30.0
    aa = 0.6 * np.sin(t * rng.uniform(1, 4, (1, 24, 3)) + rng.uniform(0, 6, (1, 24, 3)))
    trans = np.stack([0.5 * t[:, 0, 0], 0.1 * np.sin(t[:, 0, 0]), 0.9 + 0.0 * t[:, 0, 0]], axis=1)
    return Motion(30.0, trans, axis_angle_to_quat(aa))


@pytest.mark.parametrize("axes", ["up", "child"])
def test_an_a_pose_rig_shows_the_poses_a_t_pose_rig_shows(axes):
    """A clip written onto an A-pose rig puts every joint where it goes on a T-pose rig of the same
    proportions (SMPL's FK), and reads back as the same clip: the rest turn maps SMPL's T-pose-relative
    rotations onto the rig's rest. Without it the arms were 40 deg off (or the rig was refused)."""
    heads = SMPL.rest_positions()
    make = _rest if axes == "up" else _child_axes_rest
    t_rig = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), make(heads))
    a_rig = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), make(_a_pose(heads)))
    assert t_rig.rest_pose_note() == ""
    assert re.search(r"left_shoulder -> left_elbow 40 deg, right_shoulder -> right_elbow 40 deg",
                     a_rig.rest_pose_note())
    motion = _motion()
    want = motion.joint_positions()  # SMPL FK, Z-up world
    np.testing.assert_allclose(_joint_positions(t_rig, motion), want, atol=1e-6)
    got = _joint_positions(a_rig, motion)
    np.testing.assert_allclose(got[:, :20], want[:, :20], atol=1e-6)
    # the turn is the smallest one onto the upper arm's rest direction; SMPL's arm is not quite
    # straight, so the forearm sits 0.6 deg off the rotated one: the hands a few mm off
    assert np.abs(got - want).max() < 0.004
    loc, rot = motion_to_rig(a_rig, motion, np.tile(np.eye(4), (1, 24, 1, 1)), np.eye(4))
    back = rig_to_motion(a_rig, loc, rot, np.eye(4), 30.0, unit=1.0)
    assert quat_angle(back.rotations, motion.rotations).max() < 1e-6
    np.testing.assert_allclose(back.root_translation, motion.root_translation, atol=1e-9)


def test_an_a_pose_rig_at_rest_reads_as_arms_down():
    """The rig's own rest read as a clip: the shoulders turned 40 deg down, everything else at rest."""
    rig = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _child_axes_rest(_a_pose(SMPL.rest_positions())))
    rest = rig_to_motion(rig, np.zeros((1, 24, 3)), np.tile([1.0, 0, 0, 0], (1, 24, 1)), np.eye(4), 30.0, unit=1.0)
    angles = np.degrees(quat_angle(rest.rotations[0], np.array([1.0, 0, 0, 0])))
    np.testing.assert_allclose(angles[[16, 17]], 40.0, atol=0.3)
    assert np.delete(angles, [0, 16, 17]).max() < 1e-6  # the pelvis holds the Z-up turn


def test_bent_knees_and_body_shapes_only_turn_what_is_bent():
    """A rest with both knees bent 60 deg turns the knees alone; body-shape tilts (under 12 deg)
    turn nothing, so a shaped SMPL rig keeps SMPL's meaning of its rotations."""
    heads = _rotate_chain(SMPL.rest_positions(), 4, [7, 10], [np.radians(60), 0, 0])
    heads = _rotate_chain(heads, 5, [8, 11], [np.radians(60), 0, 0])
    turns, off = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(heads)).rest_turns()
    knees = off[[4, 5]]
    assert knees == pytest.approx(60.0, abs=0.1) and off[[7, 8]].max() < 5.0
    assert np.delete(off, [4, 5, 7, 8]).max() < 1e-3
    assert np.degrees(quat_angle(rotmat_to_quat(turns[4]), np.array([1.0, 0, 0, 0]))) == pytest.approx(off[4])
    assert np.abs(turns[[j for j in range(24) if j not in (4, 5, 7, 8, 10, 11)]] - np.eye(3)).max() < 1e-9
    rng = np.random.default_rng(1)
    heads = SMPL.rest_positions()
    shaped = heads.copy()
    for j in range(1, 24):  # every offset tilted by 5 deg about a random axis
        axis = rng.normal(size=3)
        tilt = quat_to_rotmat(axis_angle_to_quat(axis / np.linalg.norm(axis) * np.radians(5)))
        shaped[j] = shaped[SMPL.parents[j]] + tilt @ (heads[j] - heads[SMPL.parents[j]])
    turns, _ = RigRest.from_bones(list(SMPL.names), list(SMPL.parents), _rest(shaped)).rest_turns()
    assert np.abs(turns - np.eye(3)).max() < 1e-12


@pytest.mark.parametrize("mode", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_between_recovers_a_smooth_euler_path(mode):
    """An animator's smooth Euler curve whose middle angle passes 90 degrees and whose outer angles pass
    180: read back from the rotations, the principal angles jump (Bake wrote such spikes next to the
    user's keys); made continuous from the key before, they are the curve again, frame for frame."""
    from a4mer.channels import channels_to_quat, euler_between, quat_to_channels
    t = np.linspace(0, 1, 40)[:, None]
    path = np.zeros((40, 3))
    mid = "XYZ".index(mode[1])
    outer = [k for k in range(3) if k != mid]
    path[:, mid] = (0.9 + 1.3 * t)[:, 0]           # 52 -> 126 degrees
    path[:, outer[0]] = (2.0 + 1.8 * t)[:, 0]      # through 180 degrees
    path[:, outer[1]] = (-0.4 - 2.9 * t)[:, 0]     # through -180 degrees
    raw = quat_to_channels(channels_to_quat(path, mode), mode)
    assert np.abs(np.diff(raw, axis=0)).max() > 1.0  # the principal angles jump
    out = euler_between(raw, path[0] + [0.01, -0.01, 0.01], None, mode)
    np.testing.assert_allclose(out, path, atol=1e-6)
    shifted = euler_between(raw, path[0] + 2 * np.pi, None, mode)  # the key before sits a turn further
    np.testing.assert_allclose(shifted, path + 2 * np.pi, atol=1e-6)


def _skeleton_rest(skel, heads: np.ndarray, seed: int = 0) -> np.ndarray:
    """(J, 4, 4) rest matrices of a BVH-style rig of ``skel``'s joints (Z up): each bone's Y axis at its
    first child joint (leaves: along the parent's bone), random roll."""
    rng = np.random.default_rng(seed)
    pos = heads @ RX90.T
    rest = np.tile(np.eye(4), (skel.num_joints, 1, 1))
    for j, p in enumerate(skel.parents):
        kids = [c for c, q in enumerate(skel.parents) if q == j]
        y = pos[kids[0]] - pos[j] if kids else pos[j] - pos[p]
        y = y / np.linalg.norm(y)
        x = np.cross(y, rng.normal(size=3))
        x = x / np.linalg.norm(x)
        rest[j, :3, :3] = np.stack([x, y, np.cross(x, y)], axis=1)
        rest[j, :3, 3] = pos[j]
    return rest


@pytest.mark.parametrize("a_pose", [False, True])
def test_an_smplx_clip_poses_the_rigs_fingers_jaw_and_eyes(a_pose):
    """An SMPL-X clip written onto an SMPL-X rig (bones along the limbs, random roll) poses the finger,
    jaw and eye bones too: every joint lands where SMPL-X's FK puts it, and the rig reads back as the
    same clip (hands and face included). On an A-pose rig the hands take their wrist's rest turn.
    Before, only the 24 body joints were written and the fingers kept their rest."""
    from a4mer.skeleton import SMPLX
    heads = SMPLX.rest_positions()
    if a_pose:
        left = [j for j in range(SMPLX.num_joints) if _under(SMPLX, j, 18)]
        right = [j for j in range(SMPLX.num_joints) if _under(SMPLX, j, 19)]
        heads = _rotate_chain(_rotate_chain(heads, 16, left, [0, 0, -np.radians(40)]), 17, right, [0, 0, np.radians(40)])
    rig = RigRest.from_bones(list(SMPLX.names), list(SMPLX.parents), _skeleton_rest(SMPLX, heads))
    assert {n for n, _ in rig.extra_bone} == set(SMPLX.names[22:])
    rng = np.random.default_rng(5)
    T = 12
    aa = 0.5 * np.sin(np.arange(T)[:, None, None] / 5.0 + rng.uniform(0, 6, (1, SMPLX.num_joints, 3)))
    motion = Motion(30.0, np.tile([0.1, 0.2, 0.9], (T, 1)), axis_angle_to_quat(aa), skeleton=SMPLX)
    basis = np.tile(np.eye(4), (1, rig.num_bones, 1, 1))
    loc, rot = motion_to_rig(rig, motion, basis, np.eye(4))
    assert quat_angle(rot[:, 30], np.array([1.0, 0, 0, 0])).max() > 0.1  # a finger bone moved
    back = rig_to_motion(rig, loc, rot, np.eye(4), 30.0, unit=1.0, skeleton=SMPLX)
    assert back.skeleton == SMPLX and quat_angle(back.rotations, motion.rotations).max() < 1e-6
    if not a_pose:  # joint positions: SMPL-X's FK on the rig's own proportions
        pose = pose_matrices(rig.rest, rig.parents, basis_matrices(loc, rot))
        np.testing.assert_allclose(pose[..., :3, 3], motion.joint_positions(), atol=1e-6)
    body = rig_to_motion(rig, loc, rot, np.eye(4), 30.0, unit=1.0)  # the default: SMPL-24, hands at rest
    assert body.skeleton == SMPL and quat_angle(body.rotations[:, :22], motion.rotations[:, :22]).max() < 1e-6


def _under(skel, j: int, root: int) -> bool:
    """True when joint ``j`` is ``root`` or below it in ``skel``."""
    while j >= 0:
        if j == root:
            return True
        j = skel.parents[j]
    return False


@pytest.mark.parametrize("mode", ["ZXY", "XYZ"])
def test_euler_between_meets_the_key_after_near_gimbal_lock(mode):
    """Near gimbal lock (middle angle 89.4 degrees) a small turn swings the outer angles by more than 90
    degrees a frame. Nearest-frame-to-frame from the key before then takes the other triple of angles
    and stays on it, so at the key after the curve jumps by about pi (the keys interpolate through half
    a turn: a Blender fill near a BVH elbow's gimbal lock did this); the path of least motion through
    both keys stays on the keys' triple. Every frame is the same pose either way."""
    from a4mer.geometry import euler_unwrap
    from a4mer.channels import channels_to_quat, euler_between, quat_to_channels
    mid = "XYZ".index(mode[1])
    a, b = [k for k in range(3) if k != mid]
    s = 1.0 / (1.0 + np.exp(-4.0 * (np.arange(34) - 16.5)))
    path = np.zeros((34, 3))
    path[:, mid] = np.pi / 2 - 0.01
    path[:, a], path[:, b] = 0.3 + 2.4 * s, -0.2 - 2.4 * s
    raw = quat_to_channels(channels_to_quat(path, mode), mode)
    prev, after, span = path[0], path[-1], raw[1:-1]  # the user's keys on their own continuous curve
    order = [a, mid, b]  # the middle axis at index 1, as euler_unwrap takes it
    fwd = np.empty((len(span) + 1, 3))
    fwd[:, order] = euler_unwrap(np.r_[prev[None], span][:, order])
    fwd = fwd[1:]  # nearest to the frame before, frame by frame
    assert np.abs(np.diff(np.r_[prev[None], fwd, after[None]], axis=0)).max() > 2.5
    out = euler_between(span, prev, after, mode)
    assert np.abs(np.diff(np.r_[prev[None], out, after[None]], axis=0)).max() < 2.0
    assert quat_angle(channels_to_quat(out, mode), channels_to_quat(span, mode)).max() < 1e-7  # 3e-8: one ulp of the dot
    np.testing.assert_allclose(euler_between(span, prev, None, mode)[0], fwd[0], atol=1e-9)


def test_axis_angle_keys_interpolate_as_the_rotations_through_the_identity():
    """Axis-angle channels of rotations passing near the identity keep their axis's hemisphere (the angle
    turns negative): each frame's axis was taken on its own, so a foot at 26 deg about a on one frame and
    7 deg about -a on the next played 19 deg off the halfway rotation between the two keys."""
    from a4mer.channels import channels_to_quat, quat_to_channels
    from a4mer.geometry import quat_slerp
    t = np.linspace(-1.25, 0.95, 12)  # ..., -0.05, 0.15, ...: the swing passes the identity between two keys
    aa = t[:, None] * np.array([0.5, 0.1, -0.05])
    q = axis_angle_to_quat(aa)
    ch = quat_to_channels(q, "AXIS_ANGLE")
    assert quat_angle(channels_to_quat(ch, "AXIS_ANGLE"), q).max() < 1e-9
    mid = channels_to_quat(0.5 * (ch[1:] + ch[:-1]), "AXIS_ANGLE")  # what linear keys give halfway
    assert quat_angle(mid, quat_slerp(q[:-1], q[1:], 0.5)).max() < 1e-6
    still = quat_to_channels(np.tile([1.0, 0.0, 0.0, 0.0], (3, 1)), "AXIS_ANGLE")
    np.testing.assert_allclose(still, [[0.0, 0.0, 1.0, 0.0]] * 3)
