"""User-journey review on real files of ../shared/data (A4MER_DATA): derived copies (line ends, rates)
through ``a4mer info`` / ``export`` and back."""
from __future__ import annotations

import numpy as np
import pytest

from a4mer.api import load_motion
from a4mer.cli import main

WALK = "bandai-namco/dataset-1/bvh/dataset-1_walk_normal_001.bvh"


def test_real_bvh_any_line_ends(data_root, tmp_path, capsys):
    """A Bandai clip saved with CR-only line ends read as 'no MOTION section (truncated file?)'."""
    src = data_root / WALK
    ref = load_motion(src)
    text = src.read_bytes().decode()
    for name, data in (("cr.bvh", text.replace("\n", "\r")), ("crlf.bvh", text.replace("\n", "\r\n"))):
        p = tmp_path / name
        p.write_bytes(data.encode())
        assert main(["info", str(p), "--json"]) == 0, capsys.readouterr().err
        got = load_motion(p)
        assert got.fps == ref.fps and got.num_frames == ref.num_frames
        np.testing.assert_array_equal(got.joint_positions(), ref.joint_positions())


@pytest.mark.parametrize("rel,source_fps", [(WALK, 45.0),
                                            ("hdm05/amc/HDM_bd_squat1Reps_001_120.amc", None),
                                            ("cmu:salsa/01.bvh", 60.0)])
def test_real_export_bvh_round_trip(data_root, cmu_dance, tmp_path, capsys, rel, source_fps):
    """export --format bvh, then read back: same fps (exactly, also at 45 fps), frame count and FK
    joint positions within 0.01 mm."""
    src = cmu_dance / "bvh" / rel[4:] if rel.startswith("cmu:") else data_root / rel
    flags = ["--source-fps", repr(source_fps)] if source_fps else []
    out = tmp_path / "back.bvh"
    assert main(["export", str(src), "--format", "bvh", "-o", str(out), *flags]) == 0, capsys.readouterr().err
    a = load_motion(src, source_fps=source_fps)
    b = load_motion(out)
    assert b.fps == a.fps == (source_fps or a.fps) and b.num_frames == a.num_frames
    np.testing.assert_allclose(b.joint_positions(), a.joint_positions(), atol=1e-5)
