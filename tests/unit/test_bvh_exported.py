"""BVH as other tools write it, built from a real Bandai take: Blender's exporter (every joint's position
keyed, with float noise), a stretching joint, and UTF-16 text (Windows PowerShell's ``>``)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from a4mer.api import load_motion
from a4mer.errors import MotionFileError
from a4mer.io import read_bvh
from a4mer.io.bvh import _bone_lengths, parse_bvh

CLIP = "bandai-namco/dataset-1/bvh/dataset-1_walk-left_tired_001.bvh"


def _take(data_root: Path) -> tuple[str, list[str], np.ndarray, dict[str, list[int]]]:
    """The Bandai take as (text up to MOTION, the Frames and Frame Time lines, (T, C) values, joint ->
    its position columns)."""
    text = (data_root / CLIP).read_text()
    head, motion = text.split("MOTION\n", 1)
    lines = motion.strip().splitlines()
    values = np.array([r.split() for r in lines[2:]], float)
    columns: dict[str, list[int]] = {}
    c = 0
    for name, channels in re.findall(r"(?:ROOT|JOINT)\s+(\S+)\s*\{\s*OFFSET[^\n]*\n\s*CHANNELS\s+\d+([^\n]*)", head):
        kinds = channels.split()
        columns[name] = [c + i for i, k in enumerate(kinds) if k.lower().endswith("position")]
        c += len(kinds)
    assert c == values.shape[1]
    return head, lines[:2], values, columns


def _write(path: Path, head: str, frame_lines: list[str], values: np.ndarray) -> Path:
    rows = "\n".join(" ".join(f"{v:.9g}" for v in r) for r in values)
    path.write_text(head + "MOTION\n" + "\n".join(frame_lines) + "\n" + rows + "\n")
    return path


def _blender_noise(values: np.ndarray, columns: dict[str, list[int]], seed: int = 0) -> np.ndarray:
    """Position channels of every joint below the take's two roots (joint_Root, Hips: root motion)
    moved by up to 5e-5 units from frame to frame, as Blender's float32 export writes them (its bones:
    1e-5 of their length)."""
    rng = np.random.default_rng(seed)
    out = values.copy()
    for name, cols in list(columns.items())[2:]:
        out[:, cols] += rng.uniform(-5e-5, 5e-5, (len(values), len(cols)))
    return out


def test_blender_position_noise_keeps_the_unit(data_root, tmp_path):
    """Bones whose position channels carry float noise are bones: the unit stays centimetres and the
    root path keeps its length with --scale 1 (it was guessed "m" here, "cmu" on Blender's own export:
    5.6 times too long)."""
    head, frames, values, columns = _take(data_root)
    clean = _write(tmp_path / "clean.bvh", head, frames, values)
    noisy = _write(tmp_path / "noisy.bvh", head, frames, _blender_noise(values, columns))
    a, b = read_bvh(clean).meta["unit_guess"], read_bvh(noisy).meta["unit_guess"]
    assert a["unit"] == b["unit"] == "cm"
    assert b["limb_chain_units"] == pytest.approx(a["limb_chain_units"], abs=1e-3)
    ra, rb = (load_motion(p, scale=1.0).root_translation for p in (clean, noisy))
    np.testing.assert_allclose(rb, ra, atol=1e-4)


def test_a_stretching_joint_is_still_no_bone(data_root, tmp_path):
    """A joint whose translation really moves (a stretching shin, 5 % of its length) still gives its link
    length 0, as root motion does, while its noisy neighbours keep theirs."""
    head, frames, values, columns = _take(data_root)
    noisy = _blender_noise(values, columns)
    stretch = 1.0 + 0.05 * np.sin(np.linspace(0.0, 6.0, len(values)))
    noisy[:, columns["LowerLeg_R"]] *= stretch[:, None]
    take = parse_bvh(_write(tmp_path / "stretch.bvh", head, frames, noisy))
    clean = parse_bvh(_write(tmp_path / "clean.bvh", head, frames, values))
    at = np.ones(take.num_frames, bool)
    got, want = _bone_lengths(take.translations, at), _bone_lengths(clean.translations, at)
    j = take.names.index("LowerLeg_R")
    assert got[j] == 0.0 and want[j] > 10.0
    assert got[take.names.index("Hips")] == 0.0  # root motion under joint_Root
    others = [i for i in range(len(got)) if i != j]
    np.testing.assert_allclose(got[others], want[others], rtol=1e-4)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_bvh_with_its_bom_is_read(data_root, tmp_path, encoding):
    """A BVH saved as UTF-16 with its byte-order mark (PowerShell's ``>``: little-endian, CRLF) reads as
    the UTF-8 file does."""
    text = (data_root / CLIP).read_text().replace("\n", "\r\n")
    p = tmp_path / "utf16.bvh"
    p.write_bytes(("\ufeff" + text).encode(encoding))
    a, b = read_bvh(data_root / CLIP), read_bvh(p)
    assert a.names == b.names
    np.testing.assert_array_equal(a.positions, b.positions)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_bvh_without_bom_is_named(data_root, tmp_path, encoding):
    """Without the byte-order mark the message says UTF-16, not "binary data"."""
    p = tmp_path / "nobom.bvh"
    p.write_bytes((data_root / CLIP).read_text().encode(encoding))
    with pytest.raises(MotionFileError, match="UTF-16 text without a byte-order mark"):
        read_bvh(p)
