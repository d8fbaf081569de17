"""A4Mer.inbetween / A4Mer.extend with the shipped model on the example clip."""
import numpy as np
import pytest

from a4mer.api import load_motion
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
