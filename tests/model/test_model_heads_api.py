"""A4Mer.inbetween / A4Mer.extend with the shipped model on the example clip."""
import numpy as np
import pytest

from a4mer.api import LoadOptions, load_motion
from a4mer.errors import A4merError
from a4mer.geometry import quat_angle
from a4mer.model import A4Mer


@pytest.fixture(scope="module")
def setup(repo_root):
    return A4Mer.load(), load_motion(repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh")


def test_inbetween_keeps_everything_outside_the_gap(setup):
    model, m = setup
    out = model.inbetween(m, 40, 71)
    assert out.num_frames == m.num_frames and out.fps == m.fps
    keep = np.r_[0:41, 71:m.num_frames]
    assert quat_angle(out.rotations[keep], m.rotations[keep]).max() < 1e-6
    assert np.allclose(out.root_translation[keep], m.root_translation[keep], atol=1e-9)
    # the gap is generated, not copied: a different motion inside
    assert quat_angle(out.rotations[41:71], m.rotations[41:71]).max() > 1e-4
    keys = [0, 20, 40, 60, 80, 100, 120, 134]
    blk = model.inbetween(m, keys=keys)
    assert quat_angle(blk.rotations[keys], m.rotations[keys]).max() < 1e-6
    with pytest.raises(A4merError):
        model.inbetween(m, 10)


def test_extend_keeps_input_and_continues(setup):
    model, m = setup
    out = model.extend(m, 30)
    assert out.num_frames == m.num_frames + 30
    assert quat_angle(out.rotations[: m.num_frames], m.rotations).max() < 1e-6
    step = np.linalg.norm(out.root_translation[m.num_frames] - m.root_translation[-1])
    assert step < 0.2  # continuous seam (one frame of a walk moves a few cm)


def test_a_clip_path_is_loaded_and_other_types_are_named(setup, repo_root):
    model, m = setup
    path = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    assert model.segment(str(path)) == model.segment(m)
    np.testing.assert_array_equal(model.extend(path, 5).rotations, model.extend(m, 5).rotations)
    with pytest.raises(A4merError, match="expected a Motion or the path of a clip .*, got ndarray"):
        model.segment(m.rotations)


def test_a_path_is_read_for_a_fill_as_the_command_reads_it(setup, tmp_path):
    """``A4Mer.inbetween(path, ...)`` read the clip whole and refused NaN anywhere; ``a4mer inbetween`` ignores
    what the frames to generate hold (a capture's dropouts). Now both read it the same way."""
    from a4mer.io.amass import write_amass_npz
    model, m = setup
    clean, holed = tmp_path / "clean.npz", tmp_path / "holed.npz"
    write_amass_npz(m, clean)
    z = dict(np.load(clean))
    z["poses"][50:60, 3:9] = np.nan
    np.savez(holed, **z)
    a, b = model.inbetween(str(clean), 40, 71), model.inbetween(holed, 40, 71)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    np.testing.assert_array_equal(model.inbetween(holed, keys=[0, 45, 70, 100]).rotations,
                                  model.inbetween(clean, keys=[0, 45, 70, 100]).rotations)
    with pytest.raises(A4merError, match=r"holed.npz.*NaN/inf values in frame\(s\) 50, 51, .*outside the frames to generate"):
        model.inbetween(holed, 55, 71)
    with pytest.raises(A4merError, match="NaN"):
        model.extend(holed, 5)


@pytest.mark.parametrize("call,msg", [
    (lambda model, m: model.inbetween(m, float("nan"), 70), "start must be a whole number of frames, got nan"),
    (lambda model, m: model.inbetween(m, 40.7, 70), "start must be a whole number of frames, got 40.7"),
    (lambda model, m: model.inbetween(m, True, 70), "start must be a whole number of frames, got True"),
    (lambda model, m: model.inbetween(m, 10, 50, keys=[0, 20]), "start and end (one gap) or keys (blocking), not both"),
    (lambda model, m: model.inbetween(m, keys=[0, 20.5, 40]), "a key frame must be a whole number of frames"),
    (lambda model, m: model.extend(m, None), "number of frames to add must be a whole number of frames, got None"),
    (lambda model, m: model.extend(m, float("inf")), "got inf"),
    (lambda model, m: model.extend(m, "30"), "got '30'"),
    (lambda model, m: model.extend(m, 1.5), "got 1.5"),
    (lambda model, m: m.resample(0), "frame rate must be a positive number, got 0"),
    (lambda model, m: m.resample(None), "frame rate must be a positive number, got None"),
    (lambda model, m: type(m)(None, m.root_translation, m.rotations), "frame rate must be a positive number, got None"),
    (lambda model, m: type(m)("30", m.root_translation, m.rotations), "frame rate must be a positive number, got '30'"),
    (lambda model, m: m.resample(1e9), "frame rate must be at most 100000, got 1000000000.0"),
    (lambda model, m: m.with_(fps=0.0001).resample(30), "would make 40,200,001 frames (at most 5,000,000)"),
    (lambda model, m: load_motion("x.npz", fps=np.bool_(True)), "fps (--fps) must be a positive number, got True"),
    (lambda model, m: load_motion("x.npz", LoadOptions(floor=True), fps=24), "not both (fps)"),  # fps was ignored
    (lambda model, m: load_motion("x.npz", fsp=24), "unexpected keyword argument 'fsp'"),
    (lambda model, m: load_motion("x.npz", {"fps": 24}), "options must be a LoadOptions, got dict"),
    (lambda model, m: __import__("a4mer.api", fromlist=["x"]).find_clips("no_such_library"), "no_such_library: no such folder"),
    (lambda model, m: type(m)(30, m.root_translation, m.rotations, skeleton=None), "skeleton must be a Skeleton"),
    (lambda model, m: load_motion(None), "expected the path of a clip"),
    (lambda model, m: load_motion("x.npz", fps="30"), "fps (--fps) must be a positive number, got '30'"),
    (lambda model, m: A4Mer.load(device="foo"), "device 'foo' is not usable here"),
    (lambda model, m: A4Mer.load(device="mps"), "device 'mps' is not usable here (MPS is not available on this machine)"),
    (lambda model, m: __import__("a4mer.motion", fromlist=["x"]).concatenate([m, 3]), "concatenate takes Motions, got Motion, int"),
])
def test_bad_arguments_are_a4mer_errors_not_tracebacks(setup, call, msg):
    """Wrong kinds of arguments to the Python API: one A4merError saying which and what it got (they
    were numpy/torch/Python errors, or silently truncated: 40.7 -> 40, True -> 1)."""
    model, m = setup
    before = (m.root_translation.copy(), m.rotations.copy())
    with pytest.raises(A4merError) as e:
        call(model, m)
    assert msg in str(e.value), str(e.value)
    assert np.array_equal(m.root_translation, before[0]) and np.array_equal(m.rotations, before[1])


def test_numpy_numbers_are_numbers(setup, repo_root):
    """Rates given as numpy scalars or 0-d arrays (``npz['mocap_frame_rate']``) load like Python numbers
    (they were refused with 'must be a positive number, got 30')."""
    _, m = setup
    path = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    want = load_motion(path, fps=24, source_fps=60)
    for fps, src in ((np.int64(24), np.int32(60)), (np.float32(24), np.array(60.0)), (np.array(24), 60)):
        got = load_motion(path, fps=fps, source_fps=src)
        assert got.fps == 24.0 and np.array_equal(got.rotations, want.rotations)
    assert type(m)(np.float32(30), m.root_translation, m.rotations).fps == 30.0


def test_whole_float_frames_keys_meta_and_auto_device(setup):
    model, m = setup
    assert np.array_equal(model.inbetween(m, 40.0, np.int64(71)).rotations, model.inbetween(m, 40, 71).rotations)
    out = model.inbetween(m, keys=[0, 20, 21, 40])
    assert out.meta["generated"] == [[1, 19], [22, 39]] and out.meta["keys"] == [0, 20, 21, 40]
    assert A4Mer.load(device="auto").model_hash == model.model_hash
    assert len(repr(model.vocab)) < 200  # printing the vocabulary in a notebook printed 646,000 characters


def test_export_takes_a_path_checks_its_suffix_and_motif_names(setup, repo_root, tmp_path):
    import json

    from a4mer.export import export
    from a4mer.io.amass import read_amass_npz
    model, m = setup
    src = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    assert read_amass_npz(export(str(src), tmp_path / "w.npz", "npz")).num_frames == m.num_frames
    with pytest.raises(A4merError, match=r"x.bvh: a npz export is named \*.npz"):
        export(m, tmp_path / "x.bvh", "npz")
    seg = model.segment(m)
    first = seg["motifs"][0]["motif_id"]
    out = export(m, tmp_path / "w.babel.json", "babel", segments=seg, motif_names={first: "stroll"})
    labels = json.loads(out.read_text())["w"]["frame_ann"]["labels"]
    assert labels[0]["raw_label"] == "stroll"  # an int key names the motif as a str key does
    with pytest.raises(A4merError, match="fps must be a positive number, got 0"):
        export(m, tmp_path / "z.babel.json", "babel", segments={**seg, "fps": 0})
    assert not (tmp_path / "x.bvh").exists() and not (tmp_path / "z.babel.json").exists()


def test_the_heads_keep_a_held_twist_and_fill_as_for_the_clip_without_it(setup):
    """A clip read with the source's twist holds a head turn and a forearm twist the heads' training data
    (read with each joint's twist calibrated on the clip) never held. The heads fill and extend in those
    calibrated joint frames and turn the result back: the gap and the extension are the plain clip's with
    the held turn on top, and the keys are exact. Before, the turn changed the answer (CMU dance 30-frame
    gaps 0.94 x Hermite read with the source's twist, 0.90 x read calibrated)."""
    from a4mer.geometry import axis_angle_to_quat
    from a4mer.retarget.solve import turn_twist
    from a4mer.skeleton import SMPL
    model, m = setup
    turn = np.zeros((24, 3))
    turn[15] = [0.0, np.radians(50), 0.0]  # the head's frame turned (a leaf: any held rotation)
    turn[18] = np.radians(40) * SMPL.offsets[20] / np.linalg.norm(SMPL.offsets[20])  # left elbow: about the forearm
    k = axis_angle_to_quat(turn)  # each joint's world frame times k: its children stay where they are
    held = m.with_(rotations=turn_twist(m.rotations, k))
    on = lambda q: turn_twist(q, k)  # noqa: E731
    a, b = model.inbetween(m, 40, 71), model.inbetween(held, 40, 71)
    assert quat_angle(b.rotations[41:71], on(a.rotations[41:71])).max() < 2e-3
    np.testing.assert_allclose(b.root_translation, a.root_translation, atol=1e-6)
    np.testing.assert_array_equal(b.rotations[[40, 71]], held.rotations[[40, 71]])  # keys exact
    a, b = model.extend(m, 45), model.extend(held, 45)
    T = m.num_frames
    assert quat_angle(b.rotations[T:], on(a.rotations[T:])).max() < 2e-3
    np.testing.assert_array_equal(b.rotations[:T], held.rotations)


def test_a_held_pose_stays_held(setup):
    """A hold: the same pose on every known frame. Filled (one gap, blocking) or extended, it stays
    exactly that pose: the learned corrections fade out on still inputs (motion_share). They turned
    joints 12-22 degrees inside the gap and walked an extended hold 20-30 cm away."""
    model, m = setup
    held = m.with_(rotations=np.repeat(m.rotations[60:61], 150, 0), root_translation=np.repeat(m.root_translation[60:61], 150, 0))
    for out in (model.inbetween(held, 50, 81), model.inbetween(held, keys=list(range(0, 150, 20)))):
        assert quat_angle(out.rotations, held.rotations).max() < 1e-6
        np.testing.assert_allclose(out.root_translation, held.root_translation, atol=1e-6)
    ext = model.extend(held, 60)
    assert quat_angle(ext.rotations[150:], held.rotations[:1]).max() < 1e-6
    np.testing.assert_allclose(ext.root_translation[150:], np.repeat(held.root_translation[:1], 60, 0), atol=1e-6)


def test_extended_knees_do_not_bend_backwards(setup, data_root, cmu_dance):
    """The posture cap is symmetric about the input's mean pose, so it let a knee bend backwards as far
    as it bent forwards: a jog extended by 5 s bent a knee 47 deg backwards (the input: 14-86 deg
    forwards), a salsa 33 deg, a kung-fu take 14 deg. Knees and elbows now stay within 10 deg of straight
    or of the straightest they were. Real HDM05 (never trained on) and CMU takes."""
    from a4mer.heads.posture import HINGE_MARGIN, HINGE_SOFT, HINGES, hinge_bend
    model, _ = setup
    clips = [load_motion(data_root / "hdm05" / "amc" / "HDM_bk_jogLeftCircle4StepsRstart_004_120.amc", fps=30.0),
             load_motion(cmu_dance / "bvh" / "salsa" / "01.bvh", source_fps=60.0, fps=24.0),
             load_motion(cmu_dance / "bvh" / "martial" / "03.bvh", fps=60.0)]
    for m in clips:
        out = model.extend(m, int(5 * m.fps))
        for j in HINGES:
            straightest = min(0.0, hinge_bend(m.rotations[-int(2 * m.fps):, j], j).min())
            least = hinge_bend(out.rotations[m.num_frames:, j], j).min()
            assert least > straightest - HINGE_MARGIN - HINGE_SOFT - 1e-6, m.meta["source"]


def test_filled_knees_and_elbows_do_not_bend_backwards(setup, cmu_dance):
    """Hermite tangents of a fast kick carried over a 2-4 s gap bent a CMU dancer's knees up to 180 deg
    backwards (the truth: 8-106 deg forwards), and the learned correction kept most of it. Real CMU Indian
    dance, 60 and 120-frame gaps."""
    from a4mer.heads.posture import HINGE_MARGIN, HINGE_SOFT, HINGES, hinge_bend
    model, _ = setup
    m = load_motion(cmu_dance / "bvh" / "indian" / "15.bvh", fps=30.0)
    checked = 0
    for G in (60, 120):
        for s in range(30, min(m.num_frames, 600) - G - 31, 60):
            e = s + G
            out = model.inbetween(m, s, e)
            ctx = np.r_[s - 30:s + 1, e:e + 31]
            for j in HINGES:
                straightest = min(0.0, hinge_bend(m.rotations[ctx, j], j).min())
                assert hinge_bend(out.rotations[s + 1:e, j], j).min() > straightest - HINGE_MARGIN - HINGE_SOFT - 1e-6
                checked += 1
    assert checked >= 40
