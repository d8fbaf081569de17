"""Atom boundaries: known change points of synthetic piecewise-constant-velocity motion."""
from __future__ import annotations

import numpy as np
import pytest

from a4mer.motion import Motion
from a4mer.segment.atoms import (ATOM_FPS, AtomConfig, atom_boundaries, atom_boundaries_30, boundary_score,
                                 extrapolation_error, length_histogram)


def piecewise(bounds: list[int], J: int = 22, seed: int = 0, noise: float = 0.0005) -> np.ndarray:
    """(T, J, 3) joints moving at a new random constant velocity in each [b_i, b_i+1)."""
    rng = np.random.default_rng(seed)
    T = bounds[-1]
    pos = np.zeros((T, J, 3))
    p = rng.normal(size=(J, 3))
    for a, b in zip(bounds[:-1], bounds[1:]):
        v = rng.normal(size=(J, 3)) * 0.03  # ~0.9 m/s per axis
        pos[a:b] = p + v * np.arange(b - a)[:, None, None]
        p = pos[b - 1] + v
    return pos + rng.normal(size=pos.shape) * noise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_known_boundaries_are_found(seed):
    true = [0, 40, 75, 130, 175, 230]
    found = atom_boundaries_30(piecewise(true, seed=seed))
    assert found[0] == 0 and found[-1] == true[-1]
    assert len(found) == len(true)
    assert np.abs(found - np.array(true)).max() <= 1


def test_refractory_and_ends():
    cfg = AtomConfig()
    gap = int(cfg.refractory_s * ATOM_FPS)
    true = [0, 10, 20, 28, 60, 66, 120]  # changes closer than 0.5 s
    found = atom_boundaries_30(piecewise(true, seed=4), cfg)
    assert np.diff(found).min() >= gap


def test_boundaries_sit_on_high_error():
    rng = np.random.default_rng(5)
    true = np.r_[0, np.cumsum(rng.integers(16, 45, size=20))]
    pos = piecewise(list(true), seed=5)
    found = atom_boundaries_30(pos)
    score = boundary_score(pos)
    random_frames = rng.integers(0, len(pos), size=200)
    assert score[found[1:-1]].mean() > 5 * np.median(score[random_frames])
    assert np.std(np.diff(found)) > 3  # lengths vary


def test_long_holds_are_split():
    pos = np.zeros((300, 22, 3))  # 10 s standing still
    found = atom_boundaries_30(pos)
    assert np.diff(found).max() <= AtomConfig().max_atom_s * ATOM_FPS


def test_error_invariant_to_constant_velocity_translation():
    pos = piecewise([0, 50, 100], seed=6)
    drift = np.arange(100)[:, None, None] * np.array([0.02, -0.01, 0.0])
    assert np.allclose(extrapolation_error(pos), extrapolation_error(pos + drift))


def test_deterministic_and_input_untouched():
    pos = piecewise([0, 33, 70, 140, 200], seed=7)
    before = pos.copy()
    a = atom_boundaries_30(pos)
    b = atom_boundaries_30(pos.copy())
    assert np.array_equal(a, b) and np.array_equal(pos, before)


def test_motion_frame_rate_mapping():
    """A 60 fps Motion gets the boundaries of its 30 fps resampling, in 60 fps frames."""
    rng = np.random.default_rng(8)
    T = 240
    rot = np.zeros((T, 24, 4))
    rot[..., 0] = 1.0
    root = np.zeros((T, 3))
    v = np.zeros(3)
    for t in range(1, T):
        if t in (50, 130, 190):
            v = rng.normal(size=3) * 0.03
        root[t] = root[t - 1] + v
    m60 = Motion(60.0, root, rot)
    b60 = atom_boundaries(m60)
    b30 = atom_boundaries(m60.resample(30.0))
    assert b60[-1] == T and b60[0] == 0
    assert np.abs(b60[1:-1] - 2 * b30[1:-1]).max() <= 1
    assert {25, 65, 95} <= set(b30.tolist()) | {x + 1 for x in b30} | {x - 1 for x in b30}


def test_ablation_modes_and_histogram():
    pos = piecewise([0, 40, 90], seed=9)
    assert np.array_equal(atom_boundaries_30(pos, AtomConfig(mode="frame")), np.arange(91))
    fixed = atom_boundaries_30(pos, AtomConfig(mode="fixed", fixed_s=1.0))
    assert fixed.tolist() == [0, 30, 60, 90]
    hist = length_histogram(np.array([0.2, 0.6, 0.7, 5.0]))
    assert sum(c for _, c in hist) == 4
    with pytest.raises(Exception):
        AtomConfig(aggregate="median")


def test_real_clip_boundaries_on_kinematic_changes(repo_root):
    """On the example Bandai walk (a lively walk: the score is high all the time): every boundary
    is a local peak of the extrapolation error, above the clip's median and its 75th percentile
    on average; atom lengths are in the 0.3-1.5 s range and vary."""
    clips = sorted((repo_root / "examples" / "bandai").glob("*.bvh"))
    if not clips:
        pytest.skip("examples/bandai has no clip")
    from a4mer.api import load_motion

    m = load_motion(clips[0]).resample(ATOM_FPS)
    score = boundary_score(m.joint_positions()[:, :22])
    b = atom_boundaries(m)
    inner = b[1:-1]
    assert len(inner) >= 3
    for t in inner:
        assert score[t] >= score[max(0, t - 3):t + 4].max() - 1e-12  # a peak within +-0.1 s
    assert np.all(score[inner] > np.median(score)) and score[inner].mean() > np.percentile(score, 75)
    lengths = np.diff(b) / ATOM_FPS
    assert 0.3 <= np.median(lengths) <= 1.5 and lengths.std() > 0
