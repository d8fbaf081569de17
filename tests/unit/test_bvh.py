"""BVH reader and writer: channel orders against scipy, end sites, rates, units, round trips, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from a4mer.errors import MotionFileError
from a4mer.geometry import axis_angle_to_quat
from a4mer.io import read_bvh, write_bvh
from a4mer.geometry import euler_unwrap
from a4mer.io.bvh_write import rotmat_to_euler
from a4mer.motion import Motion
from a4mer.skeleton import SMPL

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bvh_schemes"
Y_TO_Z = Rotation.from_euler("x", 90, degrees=True)

# (name, parent, offset, channels) of a chain exercising every rotation order, a 2-channel joint,
# position channels on a non-root joint and End Sites
SPEC = [
    ("Root", -1, (1.0, 2.0, 3.0), "Xposition Yposition Zposition Yrotation Xrotation Zrotation"),
    ("A", 0, (0.0, 5.0, 0.0), "Zrotation Xrotation Yrotation"),
    ("B", 1, (0.0, 4.0, 1.0), "Xrotation Yrotation Zrotation"),
    ("C", 2, (2.0, 0.0, 0.0), "Xposition Yposition Zposition Zrotation Yrotation Xrotation"),
    ("D", 3, (0.0, -3.0, 0.5), "Yrotation Zrotation Xrotation"),
    ("E", 1, (-2.0, 1.0, 0.0), "Xrotation Zrotation Yrotation"),
    ("F", 5, (0.0, 2.0, 2.0), "Zrotation Yrotation"),
    ("G", 0, (1.0, -1.0, 0.0), "Yrotation Xrotation Zrotation"),
]
END_SITES = {"D": (0.0, -1.0, 0.0), "F": (1.0, 0.0, 0.0), "G": (0.0, -2.0, 0.0)}


def _bvh_text(values: np.ndarray, frame_time: str = "0.0333333") -> str:
    children = {i: [j for j, s in enumerate(SPEC) if s[1] == i] for i in range(len(SPEC))}
    out = ["HIERARCHY"]

    def emit(i: int, depth: int) -> None:
        name, parent, off, ch = SPEC[i]
        ind = "\t" * depth
        out.append(f"{ind}{'ROOT' if parent < 0 else 'JOINT'} {name}")
        out.append(f"{ind}{{")
        out.append(f"{ind}\tOFFSET {off[0]} {off[1]} {off[2]}")
        out.append(f"{ind}\tCHANNELS {len(ch.split())} {ch}")
        for c in children[i]:
            emit(c, depth + 1)
        if name in END_SITES:
            e = END_SITES[name]
            out.extend([f"{ind}\tEnd Site", f"{ind}\t{{", f"{ind}\t\tOFFSET {e[0]} {e[1]} {e[2]}", f"{ind}\t}}"])
        out.append(f"{ind}}}")

    emit(0, 0)
    out += ["MOTION", f"Frames: {len(values)}", f"Frame Time: {frame_time}"]
    out += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(out) + "\n"


def _file_order() -> list[int]:
    order, stack = [], [0]
    children = {i: [j for j, s in enumerate(SPEC) if s[1] == i] for i in range(len(SPEC))}
    while stack:
        i = stack.pop()
        order.append(i)
        stack += reversed(children[i])
    return order


def _random_values(rng: np.random.Generator, T: int) -> np.ndarray:
    cols = []
    for i in _file_order():
        for ch in SPEC[i][3].split():
            cols.append(rng.uniform(-170, 170, T) if "rotation" in ch else rng.normal(0, 3, T))
    return np.round(np.stack(cols, 1), 6)  # as written to the file


def _reference(values: np.ndarray) -> tuple[dict, dict]:
    """Global positions and rotations (scipy) in the file's Y-up frame, per joint name."""
    col = 0
    chans = {}
    for i in _file_order():
        names = SPEC[i][3].split()
        chans[i] = {n: values[:, col + k] for k, n in enumerate(names)}
        col += len(names)
    pos, rot = {}, {}
    for i, (name, parent, off, ch) in enumerate(SPEC):
        c = chans[i]
        order = "".join(n[0] for n in ch.split() if "rotation" in n)
        ang = np.stack([c[f"{a}rotation"] for a in order], 1)
        local = Rotation.from_euler(order.upper(), ang, degrees=True)  # intrinsic
        t = np.array(off, float) * np.ones((len(values), 1))
        for k, a in enumerate("XYZ"):
            if f"{a}position" in c:
                t[:, k] = c[f"{a}position"]
        if parent < 0:
            rot[name], pos[name] = local, t
        else:
            pn = SPEC[parent][0]
            rot[name], pos[name] = rot[pn] * local, pos[pn] + rot[pn].apply(t)
    for name, e in END_SITES.items():
        pos[f"{name}_end"] = pos[name] + rot[name].apply(e)
        rot[f"{name}_end"] = rot[name]
    return pos, rot


def _quat_close(wxyz: np.ndarray, r: Rotation, tol: float = 1e-9) -> bool:
    xyzw = r.as_quat()
    q = np.concatenate([wxyz[:, 1:], wxyz[:, :1]], 1)
    return bool(np.all(np.abs(np.abs(np.sum(q * xyzw, 1)) - 1) < tol))


@pytest.mark.parametrize("up", ["y", "z"])
def test_channel_orders_match_scipy(tmp_path, up):
    rng = np.random.default_rng(1)
    vals = _random_values(rng, 7)
    p = tmp_path / "orders.bvh"
    p.write_text(_bvh_text(vals))
    clip = read_bvh(p, up=up, unit_scale=1.0)
    pos, rot = _reference(vals)
    world = Y_TO_Z if up == "y" else Rotation.identity()
    assert clip.positions.shape == (7, len(SPEC) + len(END_SITES), 3)
    for name in pos:
        j = clip.index(name)
        np.testing.assert_allclose(clip.positions[:, j], world.apply(pos[name]), atol=1e-9, err_msg=name)
        assert _quat_close(clip.orientations[:, j], world * rot[name]), name
    assert clip.source_up == up and clip.unit_scale == 1.0


def test_end_sites_and_rest(tmp_path):
    vals = _random_values(np.random.default_rng(2), 3)
    p = tmp_path / "e.bvh"
    p.write_text(_bvh_text(vals))
    clip = read_bvh(p, unit_scale=0.01)
    ends = [n for n, e in zip(clip.names, clip.end_site) if e]
    assert sorted(ends) == sorted(f"{n}_end" for n in END_SITES)
    for n in END_SITES:
        j, pj = clip.index(f"{n}_end"), clip.index(n)
        assert clip.parents[j] == pj
        np.testing.assert_allclose(clip.orientations[:, j], clip.orientations[:, pj])
    # rest pose: offsets summed (no rotation), metres, Z-up: (x, y, z) -> (x, -z, y)
    d = clip.rest_positions[clip.index("D")]
    off = np.sum([SPEC[i][2] for i in (0, 1, 2, 3, 4)], axis=0) * 0.01
    np.testing.assert_allclose(d, [off[0], -off[2], off[1]], atol=1e-12)
    assert all(clip.parents[j] < j for j in range(1, len(clip.names)))


@pytest.mark.parametrize("frame_time,expected", [("0.0333333", 30.0), ("0.00833333", 120.0),
                                                 ("0.016667", 60.0), ("0.0123", 1 / 0.0123)])
def test_frame_time_snap(tmp_path, frame_time, expected):
    p = tmp_path / "r.bvh"
    p.write_text(_bvh_text(_random_values(np.random.default_rng(3), 2), frame_time))
    clip = read_bvh(p)
    assert clip.fps == pytest.approx(expected, rel=1e-12)
    assert clip.meta["header_fps"] == clip.fps


def test_fps_override(tmp_path):
    p = tmp_path / "r.bvh"
    p.write_text(_bvh_text(_random_values(np.random.default_rng(3), 2), "0.00833333"))
    clip = read_bvh(p, fps=60)
    assert clip.fps == 60.0 and clip.meta["header_fps"] == 120.0 and clip.meta["fps_overridden"]


def _smpl_motion(T: int = 12, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    aa = rng.normal(0, 0.4, (T, 24, 3))
    aa[:, 0] = [np.pi / 2, 0, 0]  # upright
    aa[:, 0] += rng.normal(0, 0.1, (T, 3))
    trans = np.cumsum(rng.normal(0, 0.02, (T, 3)), 0) + [0, 0, 0.95]
    return Motion(30.0, trans, axis_angle_to_quat(aa))


@pytest.mark.parametrize("units,scale", [("m", 1.0), ("cm", 0.01), ("cmu", 0.0254 / 0.45)])
@pytest.mark.parametrize("up", ["y", "z"])
@pytest.mark.parametrize("euler", ["ZXY", "ZYX", "XYZ"])
def test_write_read_round_trip(tmp_path, units, scale, up, euler):
    m = _smpl_motion()
    p = write_bvh(m, tmp_path / "m.bvh", units=units, up=up, euler=euler)
    clip = read_bvh(p, up=up)
    assert clip.unit_scale == scale, clip.meta["unit_guess"]  # the guess finds the written unit
    idx = [clip.index(n) for n in SMPL.names]
    np.testing.assert_allclose(clip.positions[:, idx], m.joint_positions(), atol=1e-5)
    assert clip.fps == 30.0 and clip.num_frames == m.num_frames


def test_write_standard_header(tmp_path):
    p = write_bvh(_smpl_motion(3), tmp_path / "m.bvh", units="cm")
    text = p.read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT pelvis"
    assert "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in lines
    assert lines.count("CHANNELS 3 Zrotation Xrotation Yrotation") == 23
    assert lines.count("End Site") == 5  # head, 2 feet, 2 hands
    assert "Frame Time: 0.0333333333" in lines


def test_write_subset_helpers_names(tmp_path):
    """Dropped joints fold into children (exact where they do not rotate); helpers keep positions."""
    m = _smpl_motion()
    rot = m.rotations.copy()
    rot[:, SMPL.index("spine2")] = [1, 0, 0, 0]
    m = m.with_(rotations=rot)
    keep = [n for n in SMPL.names[:22] if n != "spine2"]
    names = {"pelvis": "hip", "left_hip": "lThigh", "spine3": "chest"}
    p = write_bvh(m, tmp_path / "s.bvh", names=names, units="cm", joint_subset=keep,
                  extra_helper_bones={"lButtock": ("left_hip", 0.5), "Neck1": ("head", 0.0)})
    clip = read_bvh(p)
    assert "spine2" not in clip.names and "left_hand" not in clip.names and "lButtock" in clip.names
    assert clip.parents[clip.index("lThigh")] == clip.index("lButtock")
    assert clip.parents[clip.index("chest")] == clip.index("spine1")
    jp = m.joint_positions()
    for n in keep:
        out = names.get(n, n)
        np.testing.assert_allclose(clip.positions[:, clip.index(out)], jp[:, SMPL.index(n)], atol=1e-5, err_msg=n)
    # the wrist is a leaf now: its End Site lies where the dropped hand joint was
    np.testing.assert_allclose(clip.positions[:, clip.index("left_wrist_end")], jp[:, SMPL.index("left_hand")], atol=1e-5)


def test_write_orientations_consistent(tmp_path):
    """Global orientations read back = Motion's global rotations (template frame -> world) for up='z'."""
    m = _smpl_motion()
    clip = read_bvh(write_bvh(m, tmp_path / "o.bvh", up="z", units="m"), up="z")
    idx = [clip.index(n) for n in SMPL.names]
    g = m.global_rotations()
    # up='z' writes offsets rotated by Y_UP_TO_Z_UP, so world = g @ Q^-1
    ref = Rotation.from_quat(g[..., [1, 2, 3, 0]].reshape(-1, 4)) * Y_TO_Z.inv()
    got = Rotation.from_quat(clip.orientations[:, idx][..., [1, 2, 3, 0]].reshape(-1, 4))
    assert (ref.inv() * got).magnitude().max() < 1e-5


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_rotmat_to_euler_matches_scipy(order):
    r = Rotation.random(500, random_state=4)
    ang = rotmat_to_euler(r.as_matrix(), order)
    assert (Rotation.from_euler(order, ang).inv() * r).magnitude().max() < 1e-9
    lock = Rotation.from_euler(order, [[0.3, np.pi / 2, -0.7], [1.0, -np.pi / 2, 0.2]])
    ang = rotmat_to_euler(lock.as_matrix(), order)
    assert (Rotation.from_euler(order, ang).inv() * lock).magnitude().max() < 1e-9


@pytest.mark.parametrize("order", ["XYZ", "ZXY", "ZYX"])
def test_written_channels_turn_the_short_way(tmp_path, order):
    """A spin of 3 turns about the vertical and a bend to 150 degrees about the middle axis (a deep knee
    bend in ZXY): the written channels step by a few degrees per frame, no 360-degree steps and no
    180-degree flips past +-90 degrees, and read back as the same rotations."""
    t = np.linspace(0.0, 1.0, 121)
    path = np.stack([6 * np.pi * t, np.deg2rad(150) * np.sin(np.pi * t), 0.4 * np.sin(2 * np.pi * t)], -1)
    r = Rotation.from_euler(order, path)
    ang = euler_unwrap(rotmat_to_euler(r.as_matrix(), order))
    assert np.abs(np.diff(ang, axis=0)).max() < np.deg2rad(10)
    assert (Rotation.from_euler(order, ang).inv() * r).magnitude().max() < 1e-9
    assert np.abs(np.diff(rotmat_to_euler(r.as_matrix(), order), axis=0)).max() > np.deg2rad(170)  # as computed
    rot = np.zeros((121, 24, 4))
    rot[..., 0] = 1.0
    rot[:, 0] = axis_angle_to_quat(np.array([np.pi / 2, 0.0, 0.0]))  # upright
    rot[:, 4] = r.as_quat()[:, [3, 0, 1, 2]]  # left knee
    out = write_bvh(Motion(30.0, np.tile([0.0, 0.0, 0.95], (121, 1)), rot), tmp_path / "bend.bvh", euler=order)
    data = np.array([[float(v) for v in line.split()] for line in
                     out.read_text().split("Frame Time:")[1].splitlines()[1:] if line.strip()])
    assert np.abs(np.diff(data[:, 3:], axis=0)).max() < 10.0  # degrees per frame, every rotation channel
    back = read_bvh(out)
    assert back.num_frames == 121
    one = write_bvh(Motion(30.0, np.tile([0.0, 0.0, 0.95], (1, 1)), rot[:1]), tmp_path / "one.bvh", euler=order)
    assert read_bvh(one).num_frames == 1  # a one-frame clip (the path has no step to follow)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_written_channels_run_on_through_the_frame_of_gimbal_lock(order):
    """A bend passing exactly through 90 degrees about the middle axis, with the outer two held at 20 and
    30 degrees: on the locked frame only a combination of the outer two is fixed, and the last one was set
    to 0, a one-frame 30-degree spike of both. It now runs on from the frames around; the rotations stay."""
    from a4mer.io.bvh_write import euler_channels
    path = np.deg2rad(np.stack([np.full(21, 20.0), np.linspace(80, 100, 21), np.full(21, 30.0)], -1))
    r = Rotation.from_euler(order, path)
    m = np.stack([r.as_matrix(), Rotation.identity(21).as_matrix()], axis=1)  # (T, 2, 3, 3): a still joint too
    ang = euler_channels(m, order)
    assert np.abs(np.diff(ang, axis=0)).max() < np.deg2rad(1.01)
    assert np.allclose(ang[:, 0], path, atol=1e-9) and np.allclose(ang[:, 1], 0.0)
    assert (Rotation.from_euler(order, ang[:, 0]).inv() * r).magnitude().max() < 1e-9
    locked = rotmat_to_euler(r.as_matrix()[10], order)
    assert abs(locked[2]) < 1e-12 and abs(locked[0] - path[10, 0]) > np.deg2rad(10)  # as computed there


@pytest.mark.parametrize("json_path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_scheme_fixtures(json_path):
    info = json.loads(json_path.read_text())
    clip = read_bvh(json_path.with_name(info["bvh"]))
    assert clip.meta["unit_guess"]["unit"] == info["units"]
    assert clip.num_frames == info["frames"] <= 40 and clip.fps == info["fps"]
    idx = [clip.index(info["bone_map"][n]) for n in info["joints"]]
    np.testing.assert_allclose(clip.positions[:, idx], np.array(info["positions"]), atol=2e-4)
    for h in info["helpers"]:
        assert h in clip.names
    assert json_path.with_name(info["bvh"]).stat().st_size <= 30 * 1024


def test_example_bandai(repo_root):
    clip = read_bvh(repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh")
    assert clip.num_frames == 135 and clip.fps == 30.0 and clip.unit_scale == 0.01
    z = clip.positions[..., 2].mean(0)
    assert z[clip.index("Head")] > z[clip.index("Hips")] > z[clip.index("Foot_L")]
    assert 0.6 < z[clip.index("Hips")] < 1.3
    # the walk moves forward: root travels more than a metre
    hips = clip.positions[:, clip.index("Hips"), :2]
    assert np.linalg.norm(hips[-1] - hips[0]) > 1.0


# --- malformed input: always MotionFileError naming the file --------------------------------------
GOOD = _bvh_text(_random_values(np.random.default_rng(5), 3))
BAD = {
    "empty": "",
    "garbage": "hello world\nthis is not a bvh\n",
    "truncated_hierarchy": GOOD[: GOOD.index("JOINT C")],
    "truncated_motion": GOOD[: GOOD.index("Frame Time")],
    "truncated_row": GOOD[:-20],
    "no_motion": GOOD[: GOOD.index("MOTION")],
    "zero_frames": GOOD[: GOOD.index("Frames:")] + "Frames: 0\nFrame Time: 0.033333\n",
    "nan": GOOD.replace(GOOD.splitlines()[-1].split()[3], "nan", 1),
    "inf": GOOD.rstrip("\n") + "\n",
    "row_too_short": GOOD.rstrip("\n").rsplit(" ", 1)[0] + "\n",
    "row_too_long": GOOD.rstrip("\n") + " 1.0\n",
    "frames_mismatch": GOOD.replace("Frames: 3", "Frames: 4"),
    "channel_count": GOOD.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 3 Zrotation Xrotation", 1),
    "unknown_channel": GOOD.replace("Xrotation", "Wrotation", 1),
    "repeated_channel": GOOD.replace("Zrotation Xrotation Yrotation", "Zrotation Zrotation Yrotation", 1),
    "no_offset": GOOD.replace("OFFSET 0.0 5.0 0.0", "", 1),
    "unbalanced": GOOD.replace("}", "", 1),
    "text_in_row": GOOD.replace(GOOD.splitlines()[-1].split()[2], "abc", 1),
    "negative_frame_time": GOOD.replace("Frame Time: 0.0333333", "Frame Time: -0.1"),
    "duplicate_names": GOOD.replace("JOINT B", "JOINT A"),
    "two_roots": GOOD.replace("MOTION", "ROOT X\n{\nOFFSET 0 0 0\n}\nMOTION"),
}
BAD["inf"] = BAD["inf"].replace(GOOD.splitlines()[-2].split()[1], "inf", 1)


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_text(tmp_path, case):
    p = tmp_path / f"{case}.bvh"
    p.write_text(BAD[case])
    with pytest.raises(MotionFileError) as e:
        read_bvh(p)
    assert str(p) in str(e.value) and e.value.problem


@pytest.mark.parametrize("data", [b"\x00\x01\x02binary" * 20, "HIERARCHY\nROOT Hüft\n".encode("latin-1"),
                                  b"\x89PNG\r\n\x1a\n" + bytes(range(256))])
def test_binary_and_non_utf8(tmp_path, data):
    p = tmp_path / "bin.bvh"
    p.write_bytes(data)
    with pytest.raises(MotionFileError):
        read_bvh(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MotionFileError, match="not found"):
        read_bvh(tmp_path / "nope.bvh")
    with pytest.raises(MotionFileError, match="directory"):
        read_bvh(tmp_path)


def test_format_variants(tmp_path):
    """CRLF line ends, braces on the name line, blank lines, a zero-channel joint, lower-case
    channel names: the same motion as the plain file."""
    vals = _random_values(np.random.default_rng(6), 4)
    plain = tmp_path / "plain.bvh"
    plain.write_text(_bvh_text(vals))
    text = _bvh_text(vals).replace("JOINT A\n\t{", "JOINT A {").replace("MOTION\n", "MOTION\n\n")
    text = text.replace("Xrotation Yrotation Zrotation", "xrotation yrotation zrotation")
    variant = tmp_path / "variant.bvh"
    variant.write_bytes(text.replace("\n", "\r\n").encode())
    a, b = read_bvh(plain, unit_scale=1.0), read_bvh(variant, unit_scale=1.0)
    assert a.names == b.names
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-12)
    # a joint without channels keeps its offset and its parent's orientation
    zero = _bvh_text(vals[:, :-3]).replace("CHANNELS 3 Yrotation Xrotation Zrotation\n\t\tEnd", "CHANNELS 0\n\t\tEnd")
    p = tmp_path / "zero.bvh"
    p.write_text(zero)
    clip = read_bvh(p, unit_scale=1.0)
    g, root = clip.index("G"), clip.index("Root")
    np.testing.assert_allclose(clip.orientations[:, g], clip.orientations[:, root], atol=1e-12)


def test_end_site_name_collision(tmp_path):
    """A real joint called '<parent>_end' keeps its name; the End Site gets a number."""
    text = _bvh_text(_random_values(np.random.default_rng(8), 2)).replace("JOINT F", "JOINT D_end")
    p = tmp_path / "c.bvh"
    p.write_text(text)
    clip = read_bvh(p, unit_scale=1.0)
    assert "D_end" in clip.names and "D_end2" in clip.names and "D_end_end" in clip.names
    assert not clip.end_site[clip.index("D_end")] and clip.end_site[clip.index("D_end2")]


def test_z_up_files_are_read_standing(repo_root, tmp_path):
    """A BVH written Z-up loads upright by default (its rest pose stands along Z) and the same clip
    written Y-up too; up="y" forces the Y-up reading (the body lies). A rest pose with the bones along
    X (Bandai's) keeps Y-up even when the body lies in every frame: the frames cannot tell a Z-up file
    from a clip of someone lying."""
    from a4mer.api import load_motion
    from a4mer.io.bvh_write import write_bvh
    walk = load_motion(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh")
    z = write_bvh(walk, tmp_path / "walk_z.bvh", up="z", units="cm")
    for path in (z, write_bvh(walk, tmp_path / "walk_y.bvh", up="y", units="cm")):
        back = load_motion(path)
        assert np.abs(back.joint_positions() - walk.joint_positions()).max() < 1e-3, path.name
    lying = load_motion(z, up="y").joint_positions()
    assert np.median(lying[:, 15, 2] - lying[:, 0, 2]) < 0.2  # the head is not above the pelvis
    # the Bandai example turned to lie on its back in every frame (root rotated in the file): still lying
    text = (repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh").read_text()
    head, motion = text.split("MOTION", 1)
    lines = motion.strip().splitlines()
    rows = [np.array(r.split(), float) for r in lines[2:]]
    for r in rows:  # root channels: Xposition Yposition Zposition Zrotation Xrotation Yrotation
        r[4] += 90.0
    (tmp_path / "lying.bvh").write_text(head + "MOTION\n" + "\n".join(lines[:2]) + "\n"
                                        + "\n".join(" ".join(f"{v:.6f}" for v in r) for r in rows) + "\n")
    p = load_motion(tmp_path / "lying.bvh").joint_positions()
    assert abs(np.median(p[:, 15, 2] - p[:, 0, 2])) < 0.3  # read Y-up: it lies, as in the file
