"""Putting real clips on the floor (a4mer.floor, ``--floor``): CMU Indian dance and martial-arts takes,
whose capture stands 5-13 cm under z = 0, end with their feet on it; clips whose source stands on its
floor (Bandai, HDM05, CMU salsa: the retarget keeps it) barely move; a hop keeps its flight; the sole
height is what the real floors of Bandai and HDM05 show."""
from __future__ import annotations

import numpy as np
import pytest

from a4mer import floor
from a4mer.api import load_motion


def _still_feet(m) -> np.ndarray:
    """Median height (m) of the lowest foot joint over the frames where a foot joint moves under
    0.1 m/s (stricter than the estimator's 0.3 m/s, and the median, not its 5th percentile)."""
    p = m.joint_positions()[:, list(floor.FOOT_JOINTS)]
    still = np.linalg.norm(np.gradient(p, axis=0), axis=-1) * m.fps < 0.1
    return float(np.median(np.where(still, p[..., 2], np.inf).min(-1)[still.any(-1)]))


def _hdm05(data_root, name: str, fps: float | None = 30.0):
    path = data_root / "hdm05" / "amc" / f"HDM_{name}_120.amc"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return load_motion(path, fps=fps)


def test_a_sunken_take_ends_with_its_feet_on_the_floor(cmu_dance):
    m = load_motion(cmu_dance / "bvh" / "indian" / "14.bvh", fps=30.0)
    before = _still_feet(m) - floor.SOLE_HEIGHT
    out = floor.put_on_floor(m)
    after = _still_feet(out) - floor.SOLE_HEIGHT
    assert before < -0.10 and abs(after) < 0.02, (before, after)  # measured: -11.6 cm -> +1.5 cm
    assert 0.11 < out.meta["floor_shift_m"] < 0.16
    np.testing.assert_allclose(out.root_translation[:, 2] - m.root_translation[:, 2], out.meta["floor_shift_m"],
                               atol=1e-12)
    assert np.array_equal(out.root_translation[:, :2], m.root_translation[:, :2])
    assert np.array_equal(out.rotations, m.rotations)
    for take in ("martial/05", "martial/08"):  # other takes: as low before, on the floor after
        other = load_motion(cmu_dance / "bvh" / f"{take}.bvh", fps=30.0)
        assert floor.floor_height(other) < -0.09 and abs(floor.floor_height(floor.put_on_floor(other))) < 1e-9


def test_clips_whose_source_stands_on_its_floor_barely_move(data_root, cmu_dance):
    """The retarget keeps the source's floor (its ankles stand as high as the source's): an HDM05 grab,
    a Bandai walk and a CMU salsa take move by under 2 cm. (Before the retarget matched the ankles,
    Bandai's stood 7 cm and the salsa takes 12 cm under their floor.)"""
    clips = [_hdm05(data_root, "bd_grabHighR_001"),
             load_motion(cmu_dance / "bvh" / "salsa" / "01.bvh", source_fps=60.0, fps=30.0)]
    bandai = data_root / "bandai-namco/dataset-1/bvh/dataset-1_walk_normal_001.bvh"
    if bandai.exists():
        clips.append(load_motion(bandai))
    for m in clips:
        assert abs(floor.put_on_floor(m).meta["floor_shift_m"]) < 0.02, m.meta["source"]


def test_a_hop_keeps_its_flight_and_stands_where_the_same_actor_stands(data_root):
    hop = _hdm05(data_root, "bd_hopBothLegs1hops_001", fps=None)  # 120 fps, 0.7 s, 0.2 s of it on the floor
    out = floor.put_on_floor(hop)
    low_before = hop.joint_positions()[:, list(floor.FOOT_JOINTS), 2].min(-1)
    low = out.joint_positions()[:, list(floor.FOOT_JOINTS), 2].min(-1)
    np.testing.assert_allclose(low - low_before, out.meta["floor_shift_m"], atol=1e-9)  # one constant
    assert low.max() - low[0] > 0.2  # the flight: 25 cm over the take-off
    assert abs(low[0] - floor.SOLE_HEIGHT) < 0.03 and abs(low[-1] - floor.SOLE_HEIGHT) < 0.03  # 5.5 and 3.5 cm
    walk = _hdm05(data_root, "bd_grabHighR_001")
    assert abs(floor.floor_height(hop) - floor.floor_height(walk)) < 0.015  # the same floor: 0.5 vs -0.3 cm


def test_a_take_all_in_the_air_is_refused(data_root):
    hop = _hdm05(data_root, "bd_hopBothLegs1hops_001")
    with pytest.raises(Exception, match="no floor to put the clip on"):
        floor.put_on_floor(hop.slice(6, 17))  # from take-off to landing


def test_sole_height_is_what_real_floors_show(data_root):
    """On the source skeletons, whose floor is z = 0, the balls of the feet stand 4.2 cm (Bandai) and
    3.4 cm (this HDM05 take; 1-3 cm by actor) over it: ``SOLE_HEIGHT`` is within 1.5 cm of both."""
    from a4mer.io.asfamc import read_amc
    from a4mer.io.bvh import read_bvh
    cases = [(data_root / "bandai-namco/dataset-1/bvh/dataset-1_walk_normal_001.bvh", read_bvh, "Hips",
              ("Foot_L", "Foot_R", "Toes_L", "Toes_R"), 0.042),
             (data_root / "hdm05/amc/HDM_bd_grabHighR_001_120.amc", read_amc, "root",
              ("lfoot", "rfoot", "ltoes", "rtoes"), 0.034)]
    for path, read, pelvis, feet, measured in cases:
        if not path.exists():
            pytest.skip(f"{path} not found")
        src = read(path)
        h = floor.contact_heights(src.positions, src.fps, [src.names.index(n) for n in feet], src.names.index(pelvis))
        level = float(np.percentile(h, floor.FLOOR_PERCENTILE))
        assert abs(level - measured) < 0.01 and abs(level - floor.SOLE_HEIGHT) < 0.015, (path.name, level)


def test_convert_floor_on_the_command_line(cmu_dance, tmp_path, capsys):
    from a4mer.cli.main import main
    src = cmu_dance / "bvh" / "indian" / "14.bvh"
    plain, floored = tmp_path / "plain.npz", tmp_path / "floored.npz"
    assert main(["convert", str(src), "--fps", "30", "-o", str(plain)]) == 0
    assert main(["convert", str(src), "--fps", "30", "-o", str(floored), "--floor"]) == 0
    out = capsys.readouterr().out.splitlines()
    a, b = load_motion(plain), load_motion(floored)
    shift = float(np.median(b.root_translation[:, 2] - a.root_translation[:, 2]))
    assert 0.11 < shift < 0.16 and np.ptp(b.root_translation[:, 2] - a.root_translation[:, 2]) < 1e-6
    assert "onto the floor" not in out[0] and out[1].endswith(f", {floor.describe_shift(shift)})"), out
    np.testing.assert_allclose(b.root_translation[:, :2], a.root_translation[:, :2], atol=1e-12)
    np.testing.assert_allclose(b.rotations, a.rotations, atol=1e-12)
    assert abs(floor.floor_height(b)) < 1e-6
    assert main(["info", str(src), "--floor", "--json"]) == 0
    assert f'"floor_shift_m": {round(shift, 4)}'[:22] in capsys.readouterr().out
