"""The Python API misused as notebooks do: a path given to A4Mer.inbetween/extend, option strings for
booleans, a clip in centimetres, a clip on another skeleton, hand-built Motions with wrong types. Each
gets the file's frames, a clear a4mer error or a warning, never a silent wrong result."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from a4mer.api import LoadOptions, load_motion
from a4mer.errors import A4merError
from a4mer.heads.inbetween import A4merWarning, LearnedHeads
from a4mer.motion import Motion, concatenate
from a4mer.skeleton import SMPL, Skeleton


def test_a_path_given_to_the_model_keeps_the_file_s_frame_numbers(cmu_dance):
    """A CMU take whose first 8 frames are its rest pose and the ease into the take: the model read
    the path without them, so frame 400 of the result was the file's 408 (the CLI fills the file's)."""
    from a4mer.model import A4Mer
    path = cmu_dance / "bvh" / "salsa" / "01.bvh"
    whole = load_motion(path, keep_reference_frames=True)
    assert load_motion(path).num_frames < whole.num_frames  # the lead-in the readers drop by default
    model = A4Mer.load()
    out = model.inbetween(path, 400, 431)
    assert out.num_frames == whole.num_frames
    np.testing.assert_array_equal(out.rotations[:401], whole.rotations[:401])
    assert model.extend(path, 10).num_frames == whole.num_frames + 10


def test_boolean_options_refuse_strings(repo_root):
    for name in ("floor", "keep_reference_frames"):
        with pytest.raises(A4merError, match=f"{name} must be True or False, got 'no'"):
            LoadOptions(**{name: "no"})  # "no" read as True before
    with pytest.raises(A4merError, match=r"asf \(--asf\) must be a file path, got 5"):
        LoadOptions(asf=5)
    with pytest.raises(A4merError, match="the clip path is empty"):
        load_motion("")


def test_a_clip_in_centimetres_is_named_and_another_skeleton_refused(repo_root):
    m = load_motion(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh")
    cm = m.with_(root_translation=m.root_translation * 100.0)
    heads = LearnedHeads(net=None)
    for call in (lambda c: heads.inbetween(c, 40, 70), lambda c: heads.extend_clip(c, 10),
                 lambda c: heads.inbetween_keys(c, [0, 30, 60])):
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            out = call(cm)
        assert [str(w.message) for w in got] == out.meta["warnings"]  # once each
        assert len(got) == 1 and "is the clip in centimetres" in str(got[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", A4merWarning)
        assert heads.inbetween(m, 40, 70).meta["warnings"] == []  # the same clip in metres: no warning
        up = m.root_translation + [0.0, 0.0, 6.0]  # on a 6 m platform, and in a car at 25 m/s: metres too
        heads.inbetween(m.with_(root_translation=up), 40, 70)
        car = m.root_translation + np.arange(m.num_frames)[:, None] * [25.0 / m.fps, 0.0, 0.0]
        heads.inbetween(m.with_(root_translation=car), 40, 70)
    other = Skeleton("mine", tuple(f"j{i}" for i in range(24)), SMPL.parents, SMPL.offsets)
    alien = Motion(m.fps, m.root_translation, m.rotations[:, :24], skeleton=other)
    for call in (lambda: heads.inbetween(alien, 40, 70), lambda: heads.extend_clip(alien, 10),
                 lambda: heads.inbetween_keys(alien, [0, 30, 60])):
        with pytest.raises(A4merError, match="the heads fill SMPL-family clips"):
            call()
    with pytest.raises(A4merError, match="keys must be a list of key frames, got 5"):
        heads.inbetween_keys(m, 5)


def test_hand_built_motions_get_a4mer_errors():
    T = 5
    rot = np.tile([1.0, 0, 0, 0], (T, 24, 1))
    m = Motion(30, np.zeros((T, 3)), rot)
    for call, match in ((lambda: Motion(30, np.zeros((T, 3)), rot, meta=None), "meta must be a dict"),
                        (lambda: m.with_(meta="abc"), "meta must be a dict"),
                        (lambda: m.with_(bogus=1), "Motion has no field 'bogus'"),
                        (lambda: m.slice(1.5), "start must be a whole number of frames"),
                        (lambda: concatenate(m), "takes a list of Motions"),
                        (lambda: Motion(30, np.zeros((T, 3)), rot * 1e160), "too long to normalise")):
        with pytest.raises(A4merError, match=match):
            call()
    assert m.slice(1.0, 3).num_frames == 2 and m.slice(None, 3).num_frames == 3  # whole floats are frames


def test_model_calls_with_wrong_types_get_a4mer_errors():
    from a4mer.data.augment import change_speed
    from a4mer.model import A4Mer
    with pytest.raises(A4merError, match="takes the path of a bundle or training folder, got int"):
        A4Mer.load(5)
    model = A4Mer.load()
    with pytest.raises(A4merError, match="set_vocab takes a MotifVocabulary or the path of one, got NoneType"):
        model.set_vocab(None)
    with pytest.raises(A4merError, match="speed must be a positive number"):
        change_speed(Motion(30, np.zeros((5, 3)), np.tile([1.0, 0, 0, 0], (5, 24, 1))), 0)


def test_keys_as_a_set_or_a_generator_fill_a_path_as_a_list_does(repo_root, tmp_path):
    """A set or generator of keys failed the path reader's conversion and was dropped there: the file was
    read whole (calibrated on every frame, the key frames up to 0.1 off in quaternion terms) and a NaN key
    frame was taken from its neighbour instead of refused."""
    from a4mer.model import A4Mer
    path = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    model = A4Mer.load()
    want = model.inbetween(path, keys=[10, 60, 110])
    for keys in ({110, 10, 60}, (k for k in (10, 60, 110))):
        got = model.inbetween(path, keys=keys)
        np.testing.assert_array_equal(got.rotations, want.rotations)
        np.testing.assert_array_equal(got.root_translation, want.root_translation)
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Frame Time")) + 1
    values = lines[first + 55].split()
    lines[first + 55] = " ".join(values[:5] + ["nan"] + values[6:])  # a NaN rotation on key frame 55
    bad = tmp_path / "nan_key.bvh"
    bad.write_text("\n".join(lines) + "\n")
    for keys in ([40, 55, 100], {40, 55, 100}):
        with pytest.raises(A4merError, match="NaN/inf values in frame"):
            model.inbetween(bad, keys=keys)


def test_segment_and_embed_of_a_path_say_how_many_lead_in_frames_were_left_out(cmu_dance):
    """Given a path, the record said nothing of the 8 rest-pose frames the reader left out (the CLI's JSON
    did): a boundary taken from it was 8 frames off in inbetween(path), which counts the file's frames."""
    from a4mer.model import A4Mer
    path = cmu_dance / "bvh" / "salsa" / "01.bvh"
    model = A4Mer.load()
    record = model.segment(path)
    dropped = load_motion(path).meta["reference_frames_dropped"]
    assert dropped > 0 and record["reference_frames_dropped"] == dropped
    assert int(model.embed(path)["reference_frames_dropped"]) == dropped
    assert "reference_frames_dropped" not in model.segment(load_motion(path, keep_reference_frames=True))


def test_a_vocabulary_made_in_memory_is_checked_as_one_read_from_a_file():
    """set_vocab took a vocabulary built in memory unchecked: a NaN scale or NaN centroids gave NaN
    confidences (every atom on code 0), a support list one short dropped a pattern, 1-D centroids an
    IndexError."""
    from dataclasses import replace
    from a4mer.model import A4Mer
    model = A4Mer.load()
    good = model.vocab
    nan_c = np.array(good.centroids)
    nan_c[3, 0] = np.nan
    for bad, match in ((replace(good, scale=float("nan")), r"malformed motif vocabulary \(scale nan"),
                       (replace(good, centroids=nan_c), "'centroids' hold NaN"),
                       (replace(good, support=good.support[:-1]), "support values"),
                       (replace(good, centroids=good.centroids[0]), "centroids of shape")):
        with pytest.raises(A4merError, match=match):
            model.set_vocab(bad)
        assert model.vocab is good


def test_small_helpers_name_what_is_wrong(repo_root, tmp_path):
    """Raw IndexError/ValueError from write_bvh's joint_subset and precision; find_clips matching a str of
    suffixes by substring (a LICENSE file listed as a clip) and ".BVH" finding nothing; concatenate
    refusing a float32 29.97 fps next to 29.97, and a generator of Motions."""
    from a4mer.api import find_clips
    from a4mer.io import write_bvh
    m = Motion(30, np.zeros((4, 3)), np.tile([1.0, 0, 0, 0], (4, 24, 1)))
    for kw, match in (({"joint_subset": ["pelvis", "tail"]}, "no joint 'tail' in the skeleton"),
                      ({"joint_subset": [0, 99]}, "joint index 99 is not one of the skeleton's 0..23"),
                      ({"precision": -1}, "precision must be a whole number of decimals from 0 to 15, got -1")):
        with pytest.raises(A4merError, match=match):
            write_bvh(m, tmp_path / "x.bvh", **kw)
    folder = repo_root / "examples" / "bandai"
    want = [folder / "dataset-1_walk_happy_002.bvh"]
    assert find_clips(folder, suffixes=".bvh") == want and find_clips(folder, suffixes=(".BVH",)) == want
    a = Motion(29.97, np.zeros((4, 3)), m.rotations)
    b = Motion(np.float32(29.97), np.zeros((5, 3)), m.rotations[:1].repeat(5, 0))
    assert concatenate([a, b]).num_frames == 9 and concatenate(x for x in (a, b)).num_frames == 9


def test_a_slice_and_a_label_record_count_the_file_s_frames_before_them(cmu_dance):
    """A slice of a take whose lead-in was left out said ``reference_frames_dropped`` 8 (frame 0 is the
    file's frame 8) where its frame 0 is the file's 1208; label_clip's record left the count out (the
    CLI added it) and clip_inputs failed on a path with an AttributeError."""
    from a4mer.heads.recognition import HeadConfig, clip_inputs, label_clip, train_frame_head
    from a4mer.model import A4Mer
    path = cmu_dance / "bvh" / "salsa" / "01.bvh"
    model = A4Mer.load()
    clip = load_motion(path)
    dropped = clip.meta["reference_frames_dropped"]
    part = clip.slice(300, 600)
    assert model.segment(part)["reference_frames_dropped"] == dropped + 300
    assert int(model.embed(part)["reference_frames_dropped"]) == dropped + 300
    frames = clip_inputs(model, path)["frames"]
    head = train_frame_head([frames[:40], frames[40:80]], np.array([0, 1]), ["a", "b"],
                            HeadConfig(in_dim=frames.shape[1], epochs=1), model.model_hash)
    assert label_clip(model, head, path)["reference_frames_dropped"] == dropped


def test_the_model_warns_of_a_clip_in_centimetres(cmu_dance, tmp_path, capsys):
    """The heads warned of a root 90 m high; segment and embed took the same clip silently and gave other
    atoms (13 for 10) and an embedding at cosine 0.2 to the clip's in metres. The command line prints the
    warning as one line."""
    from a4mer.cli.main import main
    from a4mer.io.amass import write_amass_npz
    from a4mer.model import A4Mer
    clip = load_motion(cmu_dance / "bvh" / "salsa" / "01.bvh").slice(0, 300)
    cm = clip.with_(root_translation=clip.root_translation * 100)
    model = A4Mer.load()
    for call in (model.segment, model.embed):
        with pytest.warns(A4merWarning, match="is the clip in centimetres"):
            call(cm)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            call(clip)
    write_amass_npz(cm, tmp_path / "cm.npz")
    assert main(["segment", str(tmp_path / "cm.npz"), "-o", str(tmp_path / "cm.json")]) == 0
    err = capsys.readouterr().err
    assert "a4mer segment: warning: the root is" in err and "centimetres" in err and "A4merWarning" not in err, err


@pytest.mark.parametrize("changes, match", [({"epochs": 0}, "epochs must be"), ({"epochs": -3}, "epochs must be"),
                                            ({"batch": 0}, "batch must be"), ({"dim": 66}, "multiple of heads"),
                                            ({"lr": -1.0}, "lr must be"), ({"dropout": 1.0}, "dropout in")])
def test_a_head_config_that_cannot_train_is_refused(changes, match):
    """epochs=0 returned an untrained head (0.53 confidence on two labels), dim 66 with 4 heads a torch
    AssertionError: the CLI refused such values, the API did not."""
    from a4mer.heads.recognition import HeadConfig
    with pytest.raises(A4merError, match=match):
        HeadConfig(**changes)


def test_labels_that_are_not_names_are_refused_before_training(cmu_dance):
    """Integer labels trained and saved a head that RecognitionHead.load then refused as corrupt; mixed
    int/str labels ended in a TypeError from sorting."""
    from a4mer.heads.recognition import fit_label_head
    from a4mer.model import A4Mer
    clip = load_motion(cmu_dance / "bvh" / "salsa" / "01.bvh").slice(0, 200)
    for labels in ((0, 1), ("walk", 1), ("walk", " ")):
        with pytest.raises(A4merError, match="a label must be a non-empty name"):
            fit_label_head(A4Mer.load(), [("a", clip, labels[0]), ("b", clip.slice(0, 150), labels[1])])
