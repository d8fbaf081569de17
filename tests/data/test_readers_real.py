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
from a4mer.io.source import reference_lead_in


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
        assert reference_lead_in(clip) == 0, r["file"]  # a real first frame


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
        assert reference_lead_in(clip) == 0, r["file"]


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
        assert 4 <= reference_lead_in(clip) <= 10, r["file"]  # the T-pose frame and the ease from it


def test_cmu_takes_load_without_their_t_pose_lead_in(data_root, cmu_dance):
    """CMU's "Daz-friendly" BVHs start with a T-pose frame and a 7-frame ease into the take: loaded,
    the clip starts on the take (no joint moving 10 cm in the first 1/30 s, where the file's
    first frame jumps 0.4-1.4 m), says how many frames it dropped, and keeps them on request."""
    from a4mer.api import load_motion
    from a4mer.geometry import quat_angle
    rows = _rows(data_root / "cmu-dance" / "labels.csv")
    for r in rows[::7]:
        path, fps = cmu_dance / r["file"], float(r["true_fps"])
        motion = load_motion(path, source_fps=fps)
        kept = load_motion(path, source_fps=fps, keep_reference_frames=True)
        n = motion.meta["reference_frames_dropped"]
        assert 4 <= n <= 10 and kept.num_frames == int(r["frames"]) == motion.num_frames + n, r["file"]
        assert "reference_frames_dropped" not in kept.meta
        step = round(fps / 30)
        first = np.linalg.norm(motion.joint_positions()[step, :22] - motion.joint_positions()[0, :22], axis=-1)
        raw = np.linalg.norm(kept.joint_positions()[1, :22] - kept.joint_positions()[0, :22], axis=-1)
        assert first.max() < 0.1 and raw.max() > 0.3, (r["file"], first.max(), raw.max())
        # the same take (twist is calibrated over the clip's frames, so it may move by a hair)
        assert np.degrees(quat_angle(motion.rotations, kept.rotations[n:])).max() < 1.0, r["file"]


def test_cli_names_the_dropped_lead_in_and_inbetween_keeps_every_frame(data_root, cmu_dance, tmp_path, capsys):
    """Commands that read a CMU take without its lead-in say so (a note, ``info``, the segments JSON:
    their frame numbers start at the file's frame N); ``inbetween`` reads the file whole, so its output
    has the file's frames and frame numbers."""
    import json

    from a4mer.cli.main import main
    from a4mer.io.amass import read_amass_npz
    r = _rows(data_root / "cmu-dance" / "labels.csv")[0]
    path, frames = cmu_dance / r["file"], int(r["frames"])
    rate = ["--source-fps", r["true_fps"]]
    assert main(["info", str(path), "--json", *rate]) == 0
    n = json.loads(capsys.readouterr().out)["reference_frames_dropped"]
    assert 4 <= n <= 10
    out = tmp_path / "filled.npz"
    assert main(["inbetween", str(path), "--start", "200", "--end", "230", "-o", str(out), "--heads", "none", *rate]) == 0
    assert read_amass_npz(out).num_frames == frames and "left out" not in capsys.readouterr().err
    seg = tmp_path / "take.segments.json"
    assert main(["segment", str(path), "-o", str(seg), *rate]) == 0
    assert f"the file's first {n} frames" in capsys.readouterr().err
    rec = json.loads(seg.read_text())
    assert rec["reference_frames_dropped"] == n and rec["atoms"][-1]["end_frame"] == frames - n
    # embed's npz records it too (its atom spans are frames of the clip read)
    emb = tmp_path / "take.npz"
    assert main(["embed", str(path), "-o", str(emb), *rate]) == 0
    with np.load(emb) as z:
        assert int(z["reference_frames_dropped"]) == n and z["atom_spans"].max() == frames - n
    # BABEL labels the file feat_p names: its times are the file's (they started n frames early)
    babel = tmp_path / "take.babel.json"
    assert main(["export", str(path), "--format", "babel", "--segments", str(seg), "-o", str(babel), *rate]) == 0
    seq = next(iter(json.loads(babel.read_text()).values()))
    fps = float(r["true_fps"])
    assert seq["feat_p"] == str(path) and seq["dur"] == pytest.approx(frames / fps, abs=1e-6)
    labels = seq["frame_ann"]["labels"]
    assert labels[0]["start_t"] == pytest.approx(n / fps, abs=1e-6)
    assert labels[-1]["end_t"] == pytest.approx(frames / fps, abs=1e-6)
