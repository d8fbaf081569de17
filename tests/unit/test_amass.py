import numpy as np
import pytest

from a4mer.errors import MotionFileError
from a4mer.geometry import axis_angle_to_quat, quat_angle
from a4mer.io import read_amass_npz, write_amass_npz
from a4mer.motion import Motion


def test_roundtrip_rotations_exact(tmp_path):
    rng = np.random.default_rng(1)
    m = Motion(60, rng.normal(size=(50, 3)), axis_angle_to_quat(rng.normal(size=(50, 24, 3)) * 2))
    p = write_amass_npz(m, tmp_path / "x.npz")
    back = read_amass_npz(p)
    assert quat_angle(back.rotations, m.rotations).max() < 1e-5
    assert np.allclose(back.root_translation, m.root_translation, atol=1e-12)
    assert back.fps == 60 and not list(tmp_path.glob("*.part"))
    z = np.load(p)
    assert z["poses"].shape == (50, 72) and str(z["gender"]) == "neutral" and z["betas"].shape == (10,)


@pytest.mark.parametrize("width,joints,key", [(72, 24, "fps"), (156, 52, "mocap_framerate"), (165, 55, "mocap_frame_rate")])
def test_layouts_and_rate_keys(tmp_path, width, joints, key):
    np.savez(tmp_path / "a.npz", poses=np.zeros((4, width)), trans=np.zeros((4, 3)), betas=np.zeros(16),
             gender=np.array("female"), **{key: np.array(120.0)})
    m = read_amass_npz(tmp_path / "a.npz")
    assert m.num_joints == joints and m.fps == 120.0 and m.meta["gender"] == "female"
    np.savez(tmp_path / "b.npz", poses=np.zeros((4, width)), gender=np.array(b"male"), **{key: np.array(120.0)})
    assert read_amass_npz(tmp_path / "b.npz").meta["gender"] == "male"  # bytes, as some exporters write it


def test_a_clip_without_trans_is_read_and_named_as_such(tmp_path, capsys):
    from a4mer.cli.main import main
    np.savez(tmp_path / "pose_only.npz", poses=np.zeros((3, 72)), fps=np.array(30.0))
    m = read_amass_npz(tmp_path / "pose_only.npz")
    assert m.meta["no_trans"] and np.ptp(m.root_translation, axis=0).max() == 0.0
    assert main(["convert", str(tmp_path / "pose_only.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    assert "pose_only.npz: no 'trans' array: the root stays at the origin" in capsys.readouterr().err
    np.savez(tmp_path / "full.npz", poses=np.zeros((3, 72)), trans=np.zeros((3, 3)), fps=np.array(30.0))
    assert "no_trans" not in read_amass_npz(tmp_path / "full.npz").meta


def test_an_implausible_rate_override_is_refused(tmp_path):
    np.savez(tmp_path / "a.npz", poses=np.zeros((3, 72)), fps=np.array(30.0))
    assert read_amass_npz(tmp_path / "a.npz", fps=60).fps == 60.0
    with pytest.raises(MotionFileError, match=r"a.npz: fps override must be at least 1, got 0.5"):
        read_amass_npz(tmp_path / "a.npz", fps=0.5)


def test_a_standard_rate_stored_in_float32_reads_as_that_rate(tmp_path):
    """Blender's 29.97 fps (30 / 1.001 in float32) as a batch export writes it: snapped as a BVH's Frame
    Time is, so the segments JSON and every later output say 29.97."""
    np.savez(tmp_path / "r.npz", poses=np.zeros((3, 72)), mocap_frame_rate=np.array(np.float32(30 / 1.001)))
    assert read_amass_npz(tmp_path / "r.npz").fps == 29.97
    np.savez(tmp_path / "o.npz", poses=np.zeros((3, 72)), mocap_frame_rate=np.array(33.0))
    assert read_amass_npz(tmp_path / "o.npz").fps == 33.0


def test_object_arrays_are_skipped_not_unpickled(tmp_path):
    np.savez(tmp_path / "o.npz", poses=np.zeros((3, 72)), trans=np.zeros((3, 3)), fps=np.array(30.0),
             extra=np.array([{"a": 1}], dtype=object))
    assert read_amass_npz(tmp_path / "o.npz").num_frames == 3
    # one rate under two keys, one of them float32, is one rate
    np.savez(tmp_path / "two.npz", poses=np.zeros((3, 72)), mocap_framerate=np.array(100 / 3),
             mocap_frame_rate=np.array(100 / 3, np.float32))
    assert read_amass_npz(tmp_path / "two.npz").fps == 100 / 3


@pytest.mark.parametrize("arrays,msg", [
    ({"trans": np.zeros((3, 3)), "fps": 30.0}, "missing 'poses'"),
    ({"poses": np.zeros((3, 70)), "fps": 30.0}, "expected"),
    ({"poses": np.zeros((0, 72)), "trans": np.zeros((0, 3)), "fps": 30.0}, "zero frames"),
    ({"poses": np.full((3, 72), np.nan), "trans": np.zeros((3, 3)), "fps": 30.0}, "NaN"),
    ({"poses": np.zeros((3, 72)), "trans": np.zeros((3, 3))}, "no frame rate"),
    ({"poses": np.zeros((3, 72)), "mocap_framerate": np.array([30.0, 60.0])}, "'mocap_framerate' holds 2 values; expected one"),
    ({"poses": np.zeros((3, 72)), "mocap_framerate": -30.0}, "mocap_framerate=-30.0: frame rate must be a positive number"),
    ({"poses": np.zeros((3, 72)), "fps": 1e9}, "fps=1000000000.0: frame rate must be at most 100000"),
    ({"poses": np.zeros((3, 72)), "mocap_framerate": 60.0, "mocap_frame_rate": 30.0},
     r"frame-rate keys disagree \(mocap_framerate=60, mocap_frame_rate=30\): pass --source-fps"),
    ({"poses": np.zeros((3, 72)), "fps": 30.0, "betas": np.zeros(400)}, "'betas' has 400 values; a body shape has at most 300"),
    ({"poses": np.zeros((3, 72)), "fps": 30.0, "betas": np.r_[np.zeros(9), np.nan]}, "'betas' contains NaN or infinite"),
    ({"poses": np.zeros((3, 72)), "trans": np.zeros((4, 3)), "fps": 30.0}, "'trans'"),
    ({"poses": np.array([np.zeros(72)] * 3 + [None], dtype=object), "fps": 30.0}, "'poses' is stored as a Python object array"),
    ({"betas": np.zeros(16), "gender": np.array("male")}, r"a body-shape file \(betas, no 'poses'\), not a motion clip"),
])
def test_bad_files_name_file_and_problem(tmp_path, arrays, msg):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(MotionFileError, match=msg) as e:
        read_amass_npz(p)
    assert str(p) in str(e.value)


def test_corrupt_and_truncated(tmp_path):
    p = tmp_path / "t.npz"
    np.savez(p, poses=np.zeros((30, 72)), trans=np.zeros((30, 3)), fps=np.array(30.0))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(MotionFileError, match="t.npz"):
        read_amass_npz(p)
    (tmp_path / "g.npz").write_bytes(b"garbage")
    with pytest.raises(MotionFileError):
        read_amass_npz(tmp_path / "g.npz")
    # a damaged member is an error naming it, not read as absent (a clip lost its whole root path)
    import zipfile
    np.savez(p, poses=np.zeros((30, 72)), trans=np.ones((30, 3)), fps=np.array(30.0))
    with zipfile.ZipFile(p) as a, zipfile.ZipFile(tmp_path / "rot.npz", "w") as b:
        for n in a.namelist():
            d = a.read(n)
            b.writestr(n, d[:8] + b"\x00\x00" + d[10:] if n == "trans.npy" else d)
    with pytest.raises(MotionFileError, match=r"rot.npz: the array 'trans' is unreadable"):
        read_amass_npz(tmp_path / "rot.npz")
    for key in ("trans", "fps", "gender", "betas"):  # an object array the clip needs (or keeps) is named, not dropped
        arrays = {"poses": np.zeros((3, 72)), "trans": np.zeros((3, 3)), "fps": np.array(30.0)}
        arrays[key] = np.array([None, 1], dtype=object)
        np.savez(tmp_path / "obj.npz", **arrays)
        with pytest.raises(MotionFileError, match=f"obj.npz: '{key}' is stored as a Python object array"):
            read_amass_npz(tmp_path / "obj.npz")
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros((30, 72)))
    npy.rename(tmp_path / "array.npz")
    with pytest.raises(MotionFileError, match=r"array.npz: a single \.npy array, not an npz archive"):
        read_amass_npz(tmp_path / "array.npz")


def test_convert_keeps_the_subjects_betas_gender_and_hands(tmp_path):
    """An AMASS clip converted (resampled) to npz keeps its subject's shape, gender and hand poses: with
    the poses and trans they give back the same body; a clip from elsewhere gets zeros and neutral."""
    from a4mer.cli.main import main
    rng = np.random.default_rng(3)
    betas = rng.normal(size=16)
    src = tmp_path / "subject.npz"
    np.savez(src, poses=rng.normal(size=(40, 156)) * 0.3, trans=rng.normal(size=(40, 3)), betas=betas,
             gender=np.array(b"female"), mocap_framerate=np.array(60.0))
    assert main(["convert", str(src), "--fps", "30", "-o", str(tmp_path / "out.npz")]) == 0
    z = np.load(tmp_path / "out.npz")
    assert np.array_equal(z["betas"], betas) and str(z["gender"]) == "female"
    assert z["poses"].shape == (20, 156)  # SMPL-H keeps its hands
    back, sub = read_amass_npz(tmp_path / "out.npz"), read_amass_npz(src).resample(30.0)
    assert back.num_joints == 52 and quat_angle(back.rotations, sub.rotations).max() < 1e-5
    plain = Motion(30, np.zeros((5, 3)), np.tile([1.0, 0, 0, 0], (5, 24, 1)))
    z = np.load(write_amass_npz(plain, tmp_path / "plain.npz"))
    assert str(z["gender"]) == "neutral" and not z["betas"].any()


@pytest.mark.parametrize("layout", [72, 156, 165])
def test_split_keys_alone_are_read_as_poses(tmp_path, layout):
    """An npz with AMASS's split keys and no ``poses`` (``root_orient``, ``pose_body``, ``pose_hand``,
    ``pose_jaw``, ``pose_eye``) reads as the same clip as its ``poses`` (it was refused as a body-shape
    file); ``surface_model_type`` goes through ``convert``; a split key of the wrong width is named."""
    from a4mer.cli.main import main
    from a4mer.io.amass import SPLIT_KEYS
    rng = np.random.default_rng(5)
    J = layout // 3
    poses = rng.normal(size=(12, layout)) * 0.3
    if layout == 72:
        poses[:, 66:] = 0.0  # SMPL's two hand joints have no split key
    split = {k: poses[:, 3 * a:3 * b] for k, (a, b) in SPLIT_KEYS[J].items()}
    common = dict(trans=rng.normal(size=(12, 3)), betas=np.zeros(16), gender=np.array("male"),
                  mocap_frame_rate=np.array(30.0), surface_model_type=np.array("smplx"))
    np.savez(tmp_path / "joined.npz", poses=poses, **common)
    np.savez(tmp_path / "split.npz", **split, **common)
    a, b = read_amass_npz(tmp_path / "joined.npz"), read_amass_npz(tmp_path / "split.npz")
    assert b.num_joints == a.num_joints == (24 if layout == 72 else J)
    assert quat_angle(a.rotations, b.rotations).max() < 1e-12 and b.meta["surface_model_type"] == "smplx"
    assert main(["convert", str(tmp_path / "split.npz"), "-o", str(tmp_path / "out.npz")]) == 0
    z = np.load(tmp_path / "out.npz")
    assert z["poses"].shape == (12, layout)
    assert ("surface_model_type" in z.files) == (layout == 165)  # kept where it names the layout written
    np.savez(tmp_path / "pickled.npz", **{**split, "pose_body": np.array([None] * 12, dtype=object)}, **common)
    with pytest.raises(MotionFileError, match=r"pickled.npz: 'pose_body' is stored as a Python object array"):
        read_amass_npz(tmp_path / "pickled.npz")  # not read as absent (a clip without its body)
    split["pose_body"] = split["pose_body"][:, :60]
    np.savez(tmp_path / "bad.npz", **split, **common)
    with pytest.raises(MotionFileError, match=r"bad.npz: 'pose_body' has shape \(12, 60\).*expected \(12, 63\)"):
        read_amass_npz(tmp_path / "bad.npz")


@pytest.mark.parametrize("T", [20, 120])
def test_per_frame_betas_are_one_body_shape(tmp_path, T):
    """betas (T, 10), one row per frame as video fitting tools write them: a short clip's rows were flattened
    into one (T*10,) shape (frame 1's values read as components 10-19), a longer one refused ('1200
    values')."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(1, 10)) + 0.01 * rng.normal(size=(T, 10))
    path = tmp_path / "fit.npz"
    np.savez(path, poses=np.zeros((T, 72)), trans=np.zeros((T, 3)), betas=rows, mocap_frame_rate=np.array(30.0))
    m = read_amass_npz(path)
    np.testing.assert_allclose(m.meta["betas"], rows.mean(axis=0))
    np.savez(path, poses=np.zeros((T, 72)), trans=np.zeros((T, 3)), betas=np.zeros((T, 301)),
             mocap_frame_rate=np.array(30.0))
    with pytest.raises(MotionFileError, match="'betas' has 301 values"):
        read_amass_npz(path)


def test_the_rate_is_written_under_both_amass_names(tmp_path):
    """SMPL+H loaders read bdata['mocap_framerate'], SMPL-X files hold 'mocap_frame_rate': an SMPL+H clip
    written with only the latter failed those loaders with a KeyError."""
    m = Motion(120, np.zeros((12, 3)), np.tile([1.0, 0, 0, 0], (12, 24, 1)))
    z = np.load(write_amass_npz(m, tmp_path / "out.npz"))
    assert float(z["mocap_framerate"]) == float(z["mocap_frame_rate"]) == 120.0
    assert read_amass_npz(tmp_path / "out.npz").fps == 120.0
