import numpy as np
import pytest
from scipy.spatial.transform import Rotation as R

from a4mer import geometry as g


def _xyzw(q):
    return q[..., [1, 2, 3, 0]]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_quat_matrix_axis_angle_match_scipy(rng):
    aa = rng.normal(size=(500, 3)) * 1.5
    q = g.axis_angle_to_quat(aa)
    ref = R.from_rotvec(aa)
    assert np.allclose(g.quat_to_rotmat(q), ref.as_matrix(), atol=1e-12)
    assert np.allclose(g.rotmat_to_quat(ref.as_matrix()), g.quat_normalize(np.where(q[:, :1] < 0, -q, q)), atol=1e-9)
    back = g.quat_to_axis_angle(q)
    assert np.allclose(R.from_rotvec(back).as_matrix(), ref.as_matrix(), atol=1e-9)


@pytest.mark.parametrize("order", ["ZXY", "XYZ", "ZYX", "YXZ", "XZY", "YZX"])
def test_euler_matches_scipy_intrinsic(rng, order):
    ang = rng.uniform(-np.pi, np.pi, size=(100, 3))
    q = g.euler_to_quat(ang, order)
    assert np.allclose(g.quat_to_rotmat(q), R.from_euler(order.upper(), ang).as_matrix(), atol=1e-12)


def test_mul_apply_and_conj(rng):
    a, b = g.axis_angle_to_quat(rng.normal(size=(2, 50, 3)))
    v = rng.normal(size=(50, 3))
    ref = (R.from_quat(_xyzw(a)) * R.from_quat(_xyzw(b))).apply(v)
    assert np.allclose(g.quat_apply(g.quat_mul(a, b), v), ref, atol=1e-12)
    assert np.allclose(g.quat_apply(g.quat_conj(a), g.quat_apply(a, v)), v, atol=1e-12)


def test_slerp_matches_scipy(rng):
    a, b = g.axis_angle_to_quat(rng.normal(size=(2, 30, 3)))
    t = rng.uniform(0, 1, size=30)
    out = g.quat_slerp(a, b, t)
    for i in range(30):
        from scipy.spatial.transform import Slerp
        ref = Slerp([0, 1], R.from_quat(_xyzw(np.stack([a[i], b[i]]))))(t[i])
        assert np.degrees(g.quat_angle(out[i], ref.as_quat()[[3, 0, 1, 2]])) < 1e-6


def test_between_rot6d_unflip(rng):
    u, v = rng.normal(size=(2, 100, 3))
    q = g.quat_between(u, v)
    got = g.quat_apply(q, u)
    assert np.allclose(got / np.linalg.norm(got, axis=-1, keepdims=True), v / np.linalg.norm(v, axis=-1, keepdims=True), atol=1e-9)
    anti = g.quat_between(np.array([1.0, 0, 0]), np.array([-1.0, 0, 0]))
    assert np.allclose(g.quat_apply(anti, [1.0, 0, 0]), [-1, 0, 0], atol=1e-9)
    m = g.quat_to_rotmat(g.axis_angle_to_quat(rng.normal(size=(20, 3))))
    assert np.allclose(g.rot6d_to_rotmat(g.rotmat_to_rot6d(m)), m, atol=1e-12)
    q = g.axis_angle_to_quat(np.linspace(0, 6, 40)[:, None] * np.array([0, 0, 1.0]))
    q[::3] *= -1
    un = g.quat_unflip(q)
    assert np.all(np.sum(un[1:] * un[:-1], -1) > 0)
    assert np.allclose(g.quat_angle(un, q), 0, atol=1e-6)


def test_fk_chain():
    offsets = np.array([[0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]])
    rot = np.tile([1.0, 0, 0, 0], (1, 3, 1))
    rot[0, 1] = g.axis_angle_to_quat(np.array([0, 0, np.pi / 2]))
    pos, _ = g.forward_kinematics(rot, np.zeros((1, 3)), offsets, [-1, 0, 1])
    assert np.allclose(pos[0], [[0, 0, 0], [1, 0, 0], [1, 1, 0]], atol=1e-12)


def test_resample_times_keep_duration():
    c = g.resample_times(1000, 100.0, 30.0)
    assert len(c) == 300 and c[1] == pytest.approx(100 / 30) and c[-1] <= 999
    assert len(g.resample_times(301, 120.0, 30.0)) == 76 and len(g.resample_times(76, 30.0, 120.0)) == 301
    with pytest.raises(ValueError):
        g.resample_times(0, 30, 60)
