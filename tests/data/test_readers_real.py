"""The BVH and ASF/AMC readers on every real clip of ../shared/data (A4MER_DATA).

HDM05 (288 AMC), Bandai dataset-1 (174 BVH) and the CMU dance archive (43 BVH, unpacked with
tarfile into a temporary folder) take about 20 s each on one core.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from a4mer.io import read_amc, read_bvh


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _check_upright(clip, head: str, pelvis: str, feet: tuple[str, str], name: str) -> float:
    """Asserts finite values and head > pelvis > feet on average (Z-up); returns pelvis heights (T,)."""
    assert np.isfinite(clip.positions).all() and np.isfinite(clip.orientations).all(), name
    np.testing.assert_allclose(np.linalg.norm(clip.orientations, axis=-1), 1.0, atol=1e-9)
    z = clip.positions[..., 2]
    h, p = z[:, clip.index(head)].mean(), z[:, clip.index(pelvis)].mean()
    f = z[:, [clip.index(feet[0]), clip.index(feet[1])]].mean()
    assert h > p > f, (name, h, p, f)
    floor = np.percentile(z.min(axis=1), 1)  # the lowest joint: a toe or heel on the ground
    return z[:, clip.index(pelvis)] - floor


def test_hdm05_every_clip(data_root):
    rows = _rows(data_root / "hdm05" / "labels.csv")
    assert len(rows) == 288
    for r in rows:
        path = data_root / "hdm05" / r["file"]
        clip = read_amc(path)  # skeleton found through the sibling asf/ folder
        assert Path(clip.meta["asf"]).name == Path(r["asf"]).name, r["file"]
        assert clip.num_frames == int(r["frames"]) and clip.fps == float(r["fps"]) == 120.0, r["file"]
        assert clip.unit_scale == pytest.approx(0.0254 / 0.45)
        hip = _check_upright(clip, "head", "root", ("lfoot", "rfoot"), r["file"])
        # standing hip height; lieDownFloor clips spend most frames on the floor: use their first frame
        height = hip[0] if r["class_name"] == "lieDownFloor" else np.median(hip)
        assert 0.6 < height < 1.3, (r["file"], height)


def test_bandai_dataset1_every_clip(data_root):
    rows = [r for r in _rows(data_root / "bandai-namco" / "labels.csv") if r["dataset"] == "1"]
    assert len(rows) == 174
    for r in rows:
        clip = read_bvh(data_root / "bandai-namco" / r["file"])
        assert clip.num_frames == int(r["frames"]) and clip.fps == float(r["fps"]) == 30.0, r["file"]
        assert clip.meta["unit_guess"]["unit"] == "cm", (r["file"], clip.meta["unit_guess"])
        assert len(clip.names) == 22 + 5  # 22 joints + 5 end sites (head, hands, toes)
        hip = _check_upright(clip, "Head", "Hips", ("Foot_L", "Foot_R"), r["file"])
        assert 0.6 < np.median(hip) < 1.3, (r["file"], np.median(hip))


def test_cmu_dance_every_clip(data_root, cmu_dance):
    rows = _rows(data_root / "cmu-dance" / "labels.csv")
    assert len(rows) == 43
    for r in rows:
        clip = read_bvh(cmu_dance / r["file"], fps=float(r["true_fps"]))
        assert clip.num_frames == int(r["frames"]), r["file"]
        assert clip.fps == float(r["true_fps"]) and clip.meta["header_fps"] == float(r["header_fps"]), r["file"]
        assert "lButtock" in clip.names and "lShldr" in clip.names  # Daz-friendly skeleton
        hip = _check_upright(clip, "head", "hip", ("lFoot", "rFoot"), r["file"])
        assert 0.5 < np.median(hip) < 1.3, (r["file"], np.median(hip), clip.meta["unit_guess"])
