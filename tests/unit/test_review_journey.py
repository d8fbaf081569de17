"""User-journey review of the core CLI (info / convert / export / data prepare): each test is a defect
found by running the README's commands on derived files, fixed in a4mer/io, a4mer/cli, a4mer/export,
a4mer/prepare or a4mer/retarget."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from a4mer.api import load_motion
from a4mer.cli import main
from a4mer.errors import MotionFileError
from a4mer.io import read_amass_npz, read_bvh

BVH = "examples/bandai/dataset-1_walk_happy_002.bvh"


@pytest.fixture
def clip(repo_root):
    return repo_root / BVH


def _err_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.strip()]


def _segments(num_frames: int, fps: float) -> dict:
    atoms = [{"start_frame": s, "end_frame": min(s + 15, num_frames), "start_t": s / fps,
              "end_t": min(s + 15, num_frames) / fps, "code": 1} for s in range(0, num_frames, 15)]
    motifs = [{"start_frame": 0, "end_frame": 30, "start_t": 0.0, "end_t": 30 / fps, "motif_id": 3,
               "atoms": [0, 1], "confidence": 0.9}]
    return {"schema_version": 1, "fps": fps, "duration": num_frames / fps, "atoms": atoms, "motifs": motifs}


# --- readers ------------------------------------------------------------------------------------

def test_bvh_with_classic_mac_line_ends_reads_like_lf(clip, tmp_path):
    """A BVH saved with CR-only line ends was 'no MOTION section (truncated file?)'."""
    text = clip.read_text()
    cr = tmp_path / "cr.bvh"
    cr.write_bytes(text.replace("\n", "\r").encode())
    crlf = tmp_path / "crlf.bvh"
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    ref = read_bvh(clip)
    for p in (cr, crlf):
        got = read_bvh(p)
        assert got.num_frames == ref.num_frames and got.fps == ref.fps
        np.testing.assert_array_equal(got.positions, ref.positions)


@pytest.mark.parametrize("fps", [45.0, 37.0, 119.88, 24.5, 49.0, 81.30081300813008])
def test_exported_bvh_keeps_a_non_standard_rate(clip, tmp_path, fps):
    """Exported BVHs wrote ``Frame Time`` with 10 decimals, so 45 fps came back as 45.000000045."""
    m = load_motion(clip, source_fps=fps)
    out = tmp_path / "m.bvh"
    assert main(["export", str(clip), "--source-fps", repr(fps), "--format", "bvh", "-o", str(out)]) == 0
    back = load_motion(out)
    assert back.fps == fps and back.num_frames == m.num_frames
    np.testing.assert_allclose(back.joint_positions(), m.joint_positions(), atol=1e-5)


def test_standard_rates_keep_the_usual_frame_time(clip, tmp_path):
    out = tmp_path / "m.bvh"
    assert main(["export", str(clip), "--format", "bvh", "-o", str(out)]) == 0
    assert "Frame Time: 0.0333333333" in out.read_text().splitlines()


@pytest.mark.parametrize("key,scale,problem", [("poses", 1e200, "implausible 'poses'"),
                                               ("trans", 1e300, "implausible 'trans'")])
def test_npz_with_absurd_values_is_one_error_naming_the_file(tmp_path, key, scale, problem):
    """poses of 1e200 gave numpy warnings and 'motion contains NaN/inf values' without the file name;
    a trans of 1e300 was read (root travel: inf)."""
    rng = np.random.default_rng(0)
    arrays = {"poses": rng.normal(0, 0.3, (20, 72)), "trans": rng.normal(0, 1, (20, 3)), "mocap_framerate": 30.0}
    arrays[key] = arrays[key] * scale
    p = tmp_path / "absurd.npz"
    np.savez(p, **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MotionFileError, match=problem) as e:
            read_amass_npz(p)
    assert str(p) in str(e.value)


# --- convert / info -----------------------------------------------------------------------------

@pytest.mark.parametrize("flag,value", [("--scale", "0"), ("--fps", "-3"), ("--source-fps", "nan"),
                                        ("--bone-map", "missing.json"), ("--asf", "missing.asf")])
def test_convert_bad_flag_is_one_error_and_makes_nothing(clip, tmp_path, capsys, flag, value):
    """A bad flag was reported once per clip ('2 of 2 clips failed') after the output folder was made."""
    out = tmp_path / "out"
    amc = clip.parents[1] / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc"
    arg = str(tmp_path / value) if value.endswith((".json", ".asf")) else value
    assert main(["convert", str(clip), str(amc), "-o", str(out), flag, arg]) == 1
    lines = _err_lines(capsys)
    assert len(lines) == 1 and flag in lines[0], lines
    assert not out.exists()


def test_convert_rerun_into_a_folder_inside_the_input_folder(clip, tmp_path, capsys):
    """``a4mer convert lib -o lib/npz`` twice: the second run took lib/npz/*.npz as inputs and failed
    ('2 inputs would write it'); hidden files (macOS ``._x.bvh``) failed as clips."""
    lib = tmp_path / "my lib"
    (lib / ".cache").mkdir(parents=True)
    (lib / "walk.bvh").write_bytes(clip.read_bytes())
    (lib / "._walk.bvh").write_bytes(b"\x00\x05\x16\x07Mac OS X")
    (lib / ".cache" / "old.bvh").write_bytes(clip.read_bytes())
    out = lib / "npz"
    for _ in range(2):
        assert main(["convert", str(lib), "-o", str(out)]) == 0, capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == ["walk.npz"]
    # a hidden file named directly is still taken (and fails by name)
    assert main(["convert", str(lib / "._walk.bvh"), "-o", str(tmp_path / "x.npz")]) == 1
    assert "._walk.bvh" in capsys.readouterr().err


def test_folder_or_suffixless_missing_input_says_so(tmp_path, capsys):
    """``a4mer info clips/`` or a mistyped ``clips`` said "unsupported file type ''"."""
    (tmp_path / "clips").mkdir()
    assert main(["info", str(tmp_path / "clips")]) == 1
    assert "is a folder" in _err_lines(capsys)[0]
    assert main(["info", str(tmp_path / "clip")]) == 1
    assert "file not found" in _err_lines(capsys)[0]
    assert main(["convert", str(tmp_path / "clip"), "-o", str(tmp_path / "c.npz")]) == 1
    assert "clip: file not found" in capsys.readouterr().err


def test_convert_empty_output_is_an_error(clip, tmp_path, capsys, monkeypatch):
    """``-o ""`` (an unset shell variable) wrote <stem>.npz into the current folder."""
    monkeypatch.chdir(tmp_path)
    assert main(["convert", str(clip), "-o", ""]) == 1
    assert "-o is empty" in _err_lines(capsys)[0]
    assert list(tmp_path.iterdir()) == []


def test_bone_map_naming_a_joint_the_clip_lacks(clip, tmp_path, capsys):
    """A map naming a wrong joint said 'bone map incomplete: left_knee (nope)'."""
    from a4mer.retarget.schemes import SCHEMES
    bmap = {k: v for k, v in SCHEMES["bandai"].items() if v}
    bmap["left_knee"] = "nope"
    p = tmp_path / "map.json"
    p.write_text(json.dumps(bmap))
    assert main(["info", str(clip), "--bone-map", str(p)]) == 1
    line = _err_lines(capsys)[0]
    assert "left_knee -> 'nope'" in line and "does not have" in line and "LowerLeg_L" in line


# --- export -------------------------------------------------------------------------------------

def test_export_checks_the_output_before_reading(clip, tmp_path, capsys, monkeypatch):
    """The output was checked only after the clip was read (and the model ran, with --segment)."""
    import a4mer.api

    def boom(*a, **k):
        raise AssertionError("the clip was read before the output was checked")
    monkeypatch.setattr(a4mer.api, "load_motion", boom)
    assert main(["export", str(clip), "--format", "bvh", "-o", str(tmp_path / "no" / "x.bvh")]) == 1
    assert "does not exist" in _err_lines(capsys)[0]


@pytest.mark.parametrize("fmt,name", [("npz", "w.bvh"), ("bvh", "w.npz"), ("babel", "w.bvh"), ("timeline", "w.svg")])
def test_export_output_suffix_matches_the_format(clip, tmp_path, capsys, fmt, name):
    """``--format npz -o w.bvh`` wrote an npz archive named w.bvh."""
    seg = tmp_path / "s.json"
    seg.write_text(json.dumps(_segments(135, 30.0)))
    argv = ["export", str(clip), "--format", fmt, "-o", str(tmp_path / name)]
    assert main(argv + (["--segments", str(seg)] if fmt in ("babel", "timeline") else [])) == 1
    assert "the output must be a" in _err_lines(capsys)[0]
    assert not (tmp_path / name).exists()


def test_export_refuses_segments_of_another_clip(clip, tmp_path, capsys):
    """Segments of a 6 s clip were written as the BABEL labels of a 37 s clip without a word."""
    m = load_motion(clip)
    seg = tmp_path / "other.segments.json"
    seg.write_text(json.dumps(_segments(m.num_frames * 5, m.fps)))
    out = tmp_path / "w.babel.json"
    assert main(["export", str(clip), "--format", "babel", "--segments", str(seg), "-o", str(out)]) == 1
    line = _err_lines(capsys)[0]
    assert str(seg) in line and "another clip" in line
    assert not out.exists()
    seg.write_text(json.dumps(_segments(m.num_frames, m.fps)))
    assert main(["export", str(clip), "--format", "babel", "--segments", str(seg), "-o", str(out)]) == 0


@pytest.mark.parametrize("fmt", ["bvh", "babel"])
def test_export_write_error_is_one_line_and_leaves_nothing(clip, tmp_path, capsys, monkeypatch, fmt):
    """A failing write (disk full) of a BVH or BABEL export was a traceback."""
    import a4mer.export

    def full(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(a4mer.export.os, "replace", full)
    seg = tmp_path / "s.json"
    seg.write_text(json.dumps(_segments(135, 30.0)))
    out = tmp_path / f"w.{'bvh' if fmt == 'bvh' else 'babel.json'}"
    assert main(["export", str(clip), "--format", fmt, "-o", str(out), "--segments", str(seg)]) == 1
    line = _err_lines(capsys)[0]
    assert str(out) in line and "No space left" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


# --- data prepare -------------------------------------------------------------------------------

def test_prepare_layout_error_makes_no_output_folder(tmp_path, capsys):
    """``a4mer data prepare data/hdm05 -o out`` (one level too deep) made ``out`` before failing."""
    (tmp_path / "hdm05").mkdir()
    out = tmp_path / "prepared"
    assert main(["data", "prepare", str(tmp_path / "hdm05"), "-o", str(out), "--datasets", "hdm05"]) == 1
    assert "labels.csv not found" in _err_lines(capsys)[0]
    assert not out.exists()


def test_a_library_with_a_folder_named_like_a_project_data_set_is_a_plain_folder(tmp_path, capsys):
    """``lib/hdm05/*.npz`` (one's own clips, no labels.csv in hdm05/) was taken for the project's layout
    and refused ("hdm05/labels.csv not found"); so was a library with ``lib/labels.csv``."""
    from a4mer.geometry import axis_angle_to_quat
    from a4mer.io.amass import write_amass_npz
    from a4mer.motion import Motion
    from a4mer.prepare import read_manifest
    (tmp_path / "lib" / "hdm05").mkdir(parents=True)
    aa = np.zeros((40, 24, 3))
    aa[:, 0, 0], aa[:, 16, 2] = np.pi / 2, np.linspace(0, 1, 40)
    write_amass_npz(Motion(30.0, np.tile([0, 0, 0.9], (40, 1)), axis_angle_to_quat(aa)),
                    tmp_path / "lib" / "hdm05" / "kick.npz")
    # a labels CSV of its own at the top (for label-train --labels) was taken for the project's layout too
    (tmp_path / "lib" / "labels.csv").write_text("file,label\nhdm05/kick.npz,kick\n")
    out = tmp_path / "prepared"
    assert main(["data", "prepare", str(tmp_path / "lib"), "-o", str(out), "--jobs", "1"]) == 0, capsys.readouterr().err
    (rec,) = read_manifest(out)
    assert rec["dataset"] == "own" and rec["labels"] == {"folder": "hdm05"}


def test_smplx_npz_round_trip_keeps_body(tmp_path):
    """SMPL-X npz (165, gender as bytes, float32): read as SMPL-X; convert writes it whole (165)."""
    rng = np.random.default_rng(1)
    T = 12
    p = tmp_path / "x_stageii.npz"
    np.savez(p, poses=rng.normal(0, 0.2, (T, 165)).astype(np.float32), trans=rng.normal(0, 1, (T, 3)).astype(np.float32),
             gender=np.array(b"female"), mocap_frame_rate=np.float32(60), betas=np.zeros(16))
    m = read_amass_npz(p)
    assert m.skeleton.name == "smplx" and m.fps == 60 and m.meta["gender"] == "female"
    out = tmp_path / "x.npz"
    assert main(["convert", str(p), "-o", str(out)]) == 0
    back = read_amass_npz(out)
    assert back.skeleton.name == "smplx"
    np.testing.assert_allclose(back.joint_positions(), m.joint_positions(), atol=1e-5)


def test_convert_a_folder_of_clips_with_the_same_names_and_amass_shape_files(clip, tmp_path, capsys):
    """A library laid out like CMU (``salsa/04.bvh``, ``indian/04.bvh``) was refused as a whole
    ('2 inputs would write it'); an AMASS subject folder's ``shape.npz`` (betas, no poses) counted as
    a failed clip. Clashing names now take their path from the shared folder, as ``a4mer batch`` names
    them, and shape files are skipped (named directly, one is still an error)."""
    lib = tmp_path / "lib"
    for sub in ("salsa", "indian"):
        (lib / sub).mkdir(parents=True)
        (lib / sub / "04.bvh").write_bytes(clip.read_bytes())
    (lib / "solo.bvh").write_bytes(clip.read_bytes())
    subj = lib / "S1"
    subj.mkdir()
    np.savez(subj / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    out = tmp_path / "out"
    assert main(["convert", str(lib), "-o", str(out)]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["indian__04.npz", "salsa__04.npz", "solo.npz"]
    assert main(["convert", str(subj / "shape.npz"), "-o", str(tmp_path / "s.npz")]) == 1
    assert "shape.npz" in capsys.readouterr().err


def test_a_linked_folder_is_searched_once_and_a_stopped_prepare_output_is_not_read_as_clips(tmp_path):
    """A link to a folder of takes inside a library was skipped without a word (Path.rglob does not follow
    it), and a `data prepare` into the library stopped before it wrote its manifest left clips/ that the
    next prepare read in again, every clip twice under a made-up label."""
    from a4mer.api import find_clips
    from a4mer.io import write_amass_npz
    from a4mer.motion import Motion
    from a4mer.prepare import OUTPUT_MARK, plain_jobs
    m = Motion(30, np.zeros((5, 3)), np.tile([1.0, 0, 0, 0], (5, 24, 1)))
    lib, shared = tmp_path / "lib", tmp_path / "shared_takes"
    (lib / "walk").mkdir(parents=True)
    shared.mkdir()
    write_amass_npz(m, lib / "walk" / "a.npz")
    write_amass_npz(m, shared / "run1.npz")
    (lib / "run").symlink_to(shared, target_is_directory=True)
    (lib / "walk" / "loop").symlink_to(lib, target_is_directory=True)  # a link back up: not searched round
    assert [p.relative_to(lib).as_posix() for p in find_clips(lib)] == ["run/run1.npz", "walk/a.npz"]
    stopped = lib / "out"  # a prepare into lib/out, stopped before its manifest
    (stopped / "clips" / "own").mkdir(parents=True)
    (stopped / OUTPUT_MARK).touch()
    write_amass_npz(m, stopped / "clips" / "own" / "walk__a.npz")
    jobs = plain_jobs(lib, tmp_path / "elsewhere")
    assert sorted(j.labels["folder"] for j in jobs) == ["run", "walk"]
