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
