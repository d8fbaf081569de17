"""Hostile inputs to the readers (acceptance report B4, B7, B9, R1, R2): implausible frame rates and
rotation values, files that are not regular files, degenerate rigs, and where errors point in a file.

Each case is built from the real example clip (or a small ASF/AMC pair) and must give one clear
:class:`A4merError` naming the file and the problem, never a traceback, a raw warning, or gigabytes."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from a4mer.api import LoadOptions, load_motion
from a4mer.errors import A4merError, BadValue, MotionFileError
from a4mer.geometry import resample_times
from a4mer.io import read_amc, read_bvh
from a4mer.io.amass import read_amass_npz
from a4mer.motion import MAX_RESAMPLED_FRAMES, Motion, resampled_frame_count
from a4mer.skeleton import SMPL

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"


def _example_parts() -> tuple[str, list[str]]:
    """The example BVH as (everything up to and including the 'Frame Time' line, frame rows)."""
    text = EXAMPLE.read_text()
    head, body = re.split(r"(?m)^Frame Time:[^\n]*\n", text, maxsplit=1)
    ft = re.search(r"(?m)^Frame Time:[^\n]*\n", text).group(0)
    return head + ft, [r for r in body.splitlines() if r.strip()]


def _bvh(tmp_path: Path, name: str, frame_time: str | None = None, row: int | None = None, col: int = 0,
         token: str | None = None, rows: list[str] | None = None) -> Path:
    """The example clip written to ``tmp_path/name``, with its Frame Time replaced, and/or value ``col``
    of frame row ``row`` (0-based index into the rows) replaced by ``token``."""
    head, body = _example_parts()
    body = list(rows if rows is not None else body)
    if frame_time is not None:
        head = re.sub(r"(?m)^Frame Time:[^\n]*$", f"Frame Time: {frame_time}", head)
    if row is not None:
        vals = body[row].split()
        vals[col] = token
        body[row] = " ".join(vals)
    p = tmp_path / name
    p.write_text(head + "\n".join(body) + "\n")
    return p


def _rotation_column() -> int:
    """Index of the example's first rotation channel (the root's)."""
    head, _ = _example_parts()
    chans = re.search(r"CHANNELS\s+\d+\s+([^\n]*)", head).group(1).split()
    return next(i for i, c in enumerate(chans) if c.lower().endswith("rotation"))


# --- B4: implausible frame rates ----------------------------------------------------------------------
def test_a_bvh_frame_time_of_1000_s_is_refused_naming_the_rate_and_source_fps(tmp_path):
    p = _bvh(tmp_path, "ft_huge.bvh", frame_time="1000")
    with pytest.raises(MotionFileError, match=r"Frame Time 1000 s is 0\.001 fps, not a plausible frame rate.*"
                                              r"--source-fps") as e:
        read_bvh(p)
    assert str(p) in str(e.value)
    with pytest.raises(MotionFileError, match="not a plausible frame rate"):
        load_motion(p)  # the CLI's path: refused before anything is resampled
    # the caller's rate reads it (the header's is only kept in the meta)
    clip = read_bvh(p, fps=30)
    assert clip.fps == 30.0 and clip.meta["header_fps"] == pytest.approx(0.001)
    assert load_motion(p, source_fps=30).fps == 30.0


@pytest.mark.parametrize("frame_time", ["1e-9", "2.0"])
def test_bvh_frame_times_outside_1_to_100000_fps_are_refused(tmp_path, frame_time):
    with pytest.raises(MotionFileError, match="not a plausible frame rate"):
        read_bvh(_bvh(tmp_path, "ft.bvh", frame_time=frame_time))


def test_a_frame_time_of_one_second_is_still_read(tmp_path):
    assert read_bvh(_bvh(tmp_path, "ft1.bvh", frame_time="1")).fps == 1.0


def test_an_npz_rate_of_1e_6_is_refused_naming_the_file_and_source_fps(tmp_path):
    p = tmp_path / "fps_tiny.npz"
    np.savez(p, poses=np.zeros((60, 72)), trans=np.zeros((60, 3)), mocap_framerate=np.array(1e-6))
    with pytest.raises(MotionFileError, match=r"implausibly low .*--source-fps") as e:
        read_amass_npz(p)
    assert str(p) in str(e.value)
    assert read_amass_npz(p, fps=30).fps == 30.0


def test_implausible_rate_overrides_are_refused(tmp_path):
    with pytest.raises(BadValue, match=r"source_fps \(--source-fps\) must be at least 1, got 0.5"):
        LoadOptions(source_fps=0.5)
    with pytest.raises(BadValue, match="fps override must be at least 1"):
        read_bvh(EXAMPLE, fps=0.01)
    with pytest.raises(BadValue, match="fps override must be at least 1"):
        read_amc(tmp_path / "x.amc", fps=1e-6)


def test_a4mer_writes_no_rate_it_would_refuse_to_read(tmp_path, capsys):
    """An output rate under 1 fps is refused like a stated one (convert --fps 0.5 wrote an npz that info
    then refused, blaming its header); a Motion in memory at such a rate still writes as BVH."""
    from a4mer.cli import main
    from a4mer.io.bvh_write import write_bvh
    assert main(["convert", str(EXAMPLE), "--fps", "0.5", "-o", str(tmp_path / "slow.npz")]) == 1
    assert "fps (--fps) must be at least 1, got 0.5" in capsys.readouterr().err
    assert not (tmp_path / "slow.npz").exists()
    slow = load_motion(EXAMPLE).slice(0, 3).with_(fps=0.5)
    write_bvh(slow, tmp_path / "slow.bvh")
    assert read_bvh(tmp_path / "slow.bvh", fps=30.0).num_frames == 3


def test_resampled_frame_count_is_resample_times_length_without_building_it():
    for n, src, dst in [(1, 30, 60), (60, 30, 30), (61, 120, 30), (1000, 29.97, 30), (7, 24, 100), (500, 60, 23.976)]:
        assert resampled_frame_count(n, src, dst) == len(resample_times(n, src, dst))
    with pytest.raises(BadValue, match=f"would make .* frames \\(at most {MAX_RESAMPLED_FRAMES:,}\\)"):
        resampled_frame_count(60, 1e-6, 30)


def test_model_bounds_refuses_a_resample_too_large_to_hold():
    """features.model_bounds counted its model frames with resample_times directly, past Motion.resample's
    guard: 590 million frames (4.4 GiB) for a 60-frame clip at 1e-6 fps (here 7 million, 57 MB)."""
    from a4mer.features import model_bounds
    from a4mer.segment.atoms import AtomConfig
    rot = np.zeros((60, SMPL.num_joints, 4))
    rot[..., 0] = 1.0
    m = Motion(2.5e-4, np.zeros((60, 3)), rot)  # a Motion in memory may hold any positive rate
    with pytest.raises(BadValue, match="would make 7,080,001 frames"):
        model_bounds(m, AtomConfig(mode="frame"), 30.0)
    b_in, b_m = model_bounds(m.with_(fps=30.0), AtomConfig(mode="frame"), 30.0)
    assert b_in[-1] == 60 and b_m[-1] == 60


# --- B7: implausible rotation values ------------------------------------------------------------------
@pytest.mark.parametrize("token", ["1e30", "-7e5"])
def test_a_bvh_rotation_of_1e30_degrees_is_refused_naming_the_frame_row(tmp_path, token):
    col = _rotation_column()
    p = _bvh(tmp_path, "val.bvh", row=20, col=col, token=token)
    with pytest.raises(MotionFileError, match=r"implausible rotation value .* degrees in frame row 21, channel "
                                              r"\S+ [XYZ]rotation \(at most 572,958 degrees\)") as e:
        read_bvh(p)
    assert str(p) in str(e.value)


def test_unwrapped_spins_of_thousands_of_degrees_still_read(tmp_path):
    """CMU dance takes unwrap their spins up to 2,846 degrees: far within the limit."""
    col = _rotation_column()
    read_bvh(_bvh(tmp_path, "spin.bvh", row=20, col=col, token="36000"))


def test_a_1e30_rotation_inside_a_gap_is_refused_too(tmp_path):
    """Unlike NaN (a frame marked missing), a huge number is a corrupt file wherever it is."""
    p = _bvh(tmp_path, "val.bvh", row=20, col=_rotation_column(), token="1e30")
    with pytest.raises(MotionFileError, match="frame row 21"):
        read_bvh(p, nonfinite_ok=True)


def _amc_pair(tmp_path: Path, value: str, angle: str = ":DEGREES") -> Path:
    asf = "\n".join([":version 1.10", ":name t", ":units", "  mass 1.0", "  length 1.0", "  angle deg", ":root",
                     "   order TX TY TZ RX RY RZ", "   axis XYZ", "   position 0 0 0", "   orientation 0 0 0",
                     ":bonedata", "  begin", "     id 1", "     name a", "     direction 1 0 0", "     length 2",
                     "     axis 0 0 0 XYZ", "    dof rx rz", "  end", ":hierarchy", "  begin", "    root a", "  end"])
    (tmp_path / "c.asf").write_text(asf + "\n")
    frames = [f"{i}\nroot 0 0 0 0 0 0\na {value if i == 3 else '10'} 20" for i in range(1, 6)]
    p = tmp_path / "c.amc"
    p.write_text("\n".join([":FULLY-SPECIFIED", angle] + frames) + "\n")
    return p


def test_an_amc_rotation_of_1e30_is_refused_naming_the_frame_and_bone(tmp_path):
    p = _amc_pair(tmp_path, "1e30")
    with pytest.raises(MotionFileError, match=r"implausible rotation value 1e\+30 degrees in frame 3, a rx") as e:
        read_amc(p)
    assert str(p) in str(e.value)
    with pytest.raises(MotionFileError, match=r"1\.2e\+04 rad in frame 3, a rx \(at most 10,000 rad\)"):
        read_amc(_amc_pair(tmp_path, "12000", ":RADIANS"))
    assert read_amc(_amc_pair(tmp_path, "3000")).num_frames == 5


def test_an_amc_root_rotation_of_1e30_is_refused(tmp_path):
    p = _amc_pair(tmp_path, "10")
    p.write_text(p.read_text().replace("root 0 0 0 0 0 0\na 10 20\n4", "root 0 0 0 0 1e30 0\na 10 20\n4"))
    with pytest.raises(MotionFileError, match="in frame 3, root ry"):
        read_amc(p)


# --- B9: not a regular file -----------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_bvh_is_not_a_regular_file_and_nothing_blocks(tmp_path):
    p = tmp_path / "f.bvh"
    os.mkfifo(p)
    with pytest.raises(MotionFileError, match=r"f\.bvh: not a regular file"):
        load_motion(p)
    with pytest.raises(MotionFileError, match=r"not a regular file \(a FIFO\)"):
        read_bvh(p)  # the reader itself: would block on open() without the check
    with pytest.raises(A4merError, match=r"bone_map \(--bone-map\) .*: not a regular file"):
        LoadOptions(bone_map=str(p))
    os.mkfifo(tmp_path / "f.npz")
    with pytest.raises(MotionFileError, match=r"f\.npz: not a regular file \(a FIFO\)"):
        read_amass_npz(tmp_path / "f.npz")  # np.load would block


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_link_to_dev_zero_named_bvh_is_not_a_regular_file(tmp_path):
    p = tmp_path / "z.bvh"
    p.symlink_to("/dev/zero")
    with pytest.raises(MotionFileError, match=r"z\.bvh: not a regular file"):
        load_motion(p)
    with pytest.raises(MotionFileError, match=r"not a regular file \(a device\)"):
        read_bvh(p)
    dangling = tmp_path / "gone.bvh"
    dangling.symlink_to(tmp_path / "nowhere.bvh")
    with pytest.raises(MotionFileError, match="file not found"):
        load_motion(dangling)


# --- R1: a rig whose OFFSETs are all zero ------------------------------------------------------------------
def test_zero_offsets_give_no_raw_numpy_warning(tmp_path):
    """A rig placed entirely by position channels has its whole rest pose on one point: the lead-in
    check divided by its height (0) and numpy printed a RuntimeWarning with a4mer's source line."""
    head, rows = _example_parts()
    names = re.findall(r"(?m)^\s*(?:ROOT|JOINT)\s+(\S+)", head)
    hier = []
    for k, n in enumerate(names):  # a chain of 6-channel joints, all offsets zero
        hier += [f"{'ROOT' if k == 0 else 'JOINT'} {n}", "{", "OFFSET 0 0 0",
                 "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    hier += ["End Site", "{", "OFFSET 0 0 0", "}"] + ["}"] * len(names)
    rng = np.random.default_rng(0)
    vals = rng.normal(0, 5, (20, 6 * len(names)))
    p = tmp_path / "zero_offsets.bvh"
    p.write_text("HIERARCHY\n" + "\n".join(hier) + "\nMOTION\nFrames: 20\nFrame Time: 0.0333333\n"
                 + "\n".join(" ".join(f"{v:.4f}" for v in r) for r in vals) + "\n")
    from a4mer.io.source import reference_lead_in
    clip = read_bvh(p)
    assert np.ptp(clip.rest_positions, axis=0).max() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert reference_lead_in(clip) == 0


# --- R2: frame rows counted from 1 in every message of the BVH reader ---------------------------------------
@pytest.mark.parametrize("token,problem", [
    ("abc", r"'abc' in frame row 21, value 5 is not a number"),
    ("0x10", r"'0x10' in frame row 21, value 5 is not a number"),
    ("nan", r"frame row 21 \(frame 20 counting from 0\) contains NaN/inf values"),
    ("1e30", r"frame row 21, channel"),
])
def test_a_bad_value_on_the_21st_frame_row_is_named_frame_row_21(tmp_path, token, problem):
    """numpy's text said 'row 20' (counted from 0) for what the NaN check calls frame row 21."""
    col = 4 if token != "1e30" else _rotation_column()
    p = _bvh(tmp_path, "v.bvh", row=20, col=col, token=token)
    with pytest.raises(MotionFileError, match=problem):
        read_bvh(p)


@pytest.mark.parametrize("extra", [" 1.0 2.0", None])
def test_a_long_or_short_18th_row_is_named_frame_row_18(tmp_path, extra):
    _, rows = _example_parts()
    width = len(rows[0].split())
    rows[17] = rows[17] + extra if extra else " ".join(rows[17].split()[:-3])
    p = _bvh(tmp_path, "r.bvh", rows=rows)
    with pytest.raises(MotionFileError, match=f"frame row 18 has {width + 2 if extra else width - 3} values, "
                                              f"the rows before it {width}"):
        read_bvh(p)


def test_blank_lines_between_rows_do_not_shift_the_row_number(tmp_path):
    _, rows = _example_parts()
    rows = rows[:5] + [""] + rows[5:]
    vals = rows[21].split()  # frame row 21 (the blank line is not a frame row)
    vals[4] = "abc"
    rows[21] = " ".join(vals)
    head, _ = _example_parts()
    p = tmp_path / "b.bvh"
    p.write_text(head + "\n".join(rows) + "\n")
    with pytest.raises(MotionFileError, match="frame row 21, value 5"):
        read_bvh(p)


def _chain_bvh(path: Path, joints: int, frames: int, end_sites: int = 1, dup: bool = False) -> Path:
    """A BVH whose root has ``joints - 1`` channel-less children in a chain (one of them named like the root
    when ``dup``) and ``end_sites`` End Sites; ``frames`` rows of its root's one channel."""
    lines = ["HIERARCHY", "ROOT Hips", "{", "OFFSET 0 0 0", "CHANNELS 1 Xrotation"]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] * end_sites
    for j in range(1, joints):
        lines += [f"JOINT {'Hips' if dup and j == joints - 1 else f'J{j}'}", "{", "OFFSET 0 1 0", "CHANNELS 0"]
    lines += ["}"] * (joints - 1) + ["}", "MOTION", f"Frames: {frames}", "Frame Time: 0.0333333"]
    path.write_text("\n".join(lines) + "\n" + "0\n" * frames)
    return path


def test_a_small_file_that_would_need_gigabytes_is_refused_before_reading_them(tmp_path):
    """Joints without channels cost a header line each but memory on every frame: a 108 KB BVH took 2 GB
    and 13 s, a 157 KB one asked for 15 GB. The skeleton and joints x frames are capped, with one line."""
    from a4mer.io._mocap import MAX_JOINT_FRAMES, MAX_JOINTS
    with pytest.raises(MotionFileError, match=rf"joints \(End Sites included\); this reader takes at most {MAX_JOINTS}"):
        read_bvh(_chain_bvh(tmp_path / "many.bvh", MAX_JOINTS + 1, 2))
    frames = MAX_JOINT_FRAMES // 300 + 1
    with pytest.raises(MotionFileError, match=r"301 joints x \d+ frames is more than this reader holds at once"):
        read_bvh(_chain_bvh(tmp_path / "long.bvh", 300, frames))


def test_many_end_sites_and_a_duplicate_among_many_joints_are_named_at_once(tmp_path):
    """The End Site renaming restarted its count for each one and the duplicate check counted every name
    per name (quadratic: 15,000 End Sites took 23 s, 100,000 joints 170 s)."""
    src = read_bvh(_chain_bvh(tmp_path / "ends.bvh", 2, 3, end_sites=900))
    ends = [n for n in src.names if n.startswith("Hips_end")]
    assert len(ends) == len(set(ends)) == 900 and ends[:3] == ["Hips_end", "Hips_end2", "Hips_end3"]
    with pytest.raises(MotionFileError, match="duplicate joint names: Hips"):
        read_bvh(_chain_bvh(tmp_path / "dup.bvh", 1000, 2, dup=True))


def test_an_npz_whose_arrays_claim_more_than_they_hold_is_refused_before_reading_them(tmp_path, monkeypatch):
    """A 500-byte npz whose .npy header claims terabytes made numpy allocate them (MemoryError traceback);
    a 2 MB zip bomb of an array a4mer never uses took 2 GB and 15 s. Both are one line now."""
    import io
    import zipfile

    from a4mer.io import amass
    poses = io.BytesIO()
    np.lib.format.write_array(poses, np.zeros((4, 72)))
    header = np.lib.format.header_data_from_array_1_0(np.zeros((4, 72)))
    lie = io.BytesIO()
    np.lib.format.write_array_header_1_0(lie, {**header, "shape": (10 ** 10, 72)})
    p = tmp_path / "lying.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("poses.npy", lie.getvalue() + poses.getvalue()[-4 * 72 * 8:])
        z.writestr("trans.npy", b"")
    with pytest.raises(MotionFileError, match=r"the array 'poses' claims shape \(10000000000, 72\) but its file holds"):
        read_amass_npz(p)
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("poses.npy", poses.getvalue())
        info = zipfile.ZipInfo("dmpls.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {**header, "shape": (2 ** 20, 8)})
            chunk = bytes(2 ** 20)
            for _ in range(64 + 1):  # 65 MB of zeros: over a limit set to 64 MB below
                f.write(chunk)
    monkeypatch.setattr(amass, "MAX_MEMBER_BYTES", 64 * 2 ** 20)
    with pytest.raises(MotionFileError, match=r"the array 'dmpls' unpacks to 0.1 GiB; at most 0.0625 GiB"):
        read_amass_npz(bomb)
