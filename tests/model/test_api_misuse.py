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
