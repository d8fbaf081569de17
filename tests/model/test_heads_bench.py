"""Heads benchmark protocols and report on synthetic clips (numpy baselines only)."""
import numpy as np

from a4mer.bench import report
from a4mer.bench.extension import ExtensionConfig, ext_windows, run_extension
from a4mer.bench.inbetween import InbetweenConfig, gap_windows, run_blocking, run_gaps
from a4mer.bench.methods import baseline_methods
from a4mer.bench.metrics import body_fk, canonicalize, position_stats
from a4mer.geometry import axis_angle_to_quat, quat_mul
from a4mer.motion import Motion


def _uniform(T, seed=0):
    """Constant root velocity and constant joint angular velocities: Hermite/CV are exact."""
    rng = np.random.default_rng(seed)
    t = np.arange(T, dtype=float)
    trans = np.array([0.0, 0.0, 0.9]) + t[:, None] * np.array([0.01, 0.005, 0.0])
    w = rng.normal(size=(24, 3)) * 0.01
    rot = quat_mul(axis_angle_to_quat(rng.normal(size=(24, 3)) * 0.3)[None], axis_angle_to_quat(t[:, None, None] * w[None]))
    rot[:, 0] = quat_mul(axis_angle_to_quat(np.array([np.pi / 2, 0, 0])), rot[:, 0])
    return Motion(30.0, trans, rot)


def test_windows_fit_and_do_not_overlap():
    w = gap_windows(400, 30, 30, 3)
    assert len(w) == 3
    for a, s, e in w:
        assert s == a + 29 and e == s + 31 and e + 30 <= 400
    assert all(w[i][0] + 90 <= w[i + 1][0] for i in range(2))
    assert gap_windows(89, 30, 30, 3) == []
    assert ext_windows(44, 15, 30, 2) == [] and len(ext_windows(200, 15, 30, 2)) == 2


def test_protocols_score_exact_baselines_zero_and_report_lengths(tmp_path):
    clips = [("a", "synthetic", _uniform(250)), ("b", "synthetic", _uniform(70, 1))]
    cfg = InbetweenConfig(gaps=(5, 30, 120), blocking=(10,))
    wins = []
    for _, _, m in clips:
        p, g = body_fk(m.rotations, m.root_translation)
        wins.append(canonicalize(p, g, 29)[0])
    res = run_gaps(clips, baseline_methods(), cfg, position_stats(wins))
    assert res["5"]["clips"] == 2 and res["120"]["clips"] == 1  # the 70-frame clip is too short for 120
    assert res["5"]["too_short"] == [] and res["120"]["too_short"] == ["b"]
    short = run_gaps(clips[1:], baseline_methods(), cfg, position_stats(wins))["120"]["hermite"]
    assert short["windows"] == 0 and short["kept_frames_exact"] is None  # not "True" of nothing
    assert res["30"]["hermite"]["mpjpe_mm"] < 1e-6 and res["30"]["zero_velocity"]["mpjpe_mm"] > 1.0
    assert res["30"]["hermite"]["kept_frames_exact"]
    blk = run_blocking(clips, baseline_methods(), cfg)
    assert blk["10"]["hermite"]["mpjpe_mm"] < 1e-6 and blk["10"]["hermite"]["kept_frames_exact"]
    assert blk["10"]["natural_spline"]["kept_frames_exact"] and "natural_spline" not in res["30"]  # blocking only
    ext = run_extension(clips, baseline_methods(), ExtensionConfig(horizons=(15, 90)))
    assert ext["15"]["constant_velocity"]["mpjpe_mm"] < 1e-6 and ext["90"]["clips"] == 1 and ext["90"]["too_short"] == ["b"]
    results = {"inbetween": res, "blocking": blk, "extension": ext,
               "meta": {"clips": 2, "data": "x", "datasets": {"synthetic": 2}, "clips_found": {"synthetic": 5},
                        "max_clips": 2}}
    md = report.markdown(results, "a4mer bench --data x --out y", [])
    assert "## Heads I" in md and "| 5 | 2 (≥ 65) / " in md and "| 30 | 1 (≥ 90) / " in md
    # which clips a setting could not use, and why; a cut data set says so
    assert "- gap 120: 1 clip under 180 frames at 30 fps, not used: `b`" in md
    assert "- horizon 90: 1 clip under 120 frames at 30 fps, not used: `b`" in md
    assert "at most 2 per data set, evenly chosen: synthetic 2 of 5" in md
    # a setting no clip serves is one row saying so, not a row of dashes per method
    none = run_gaps(clips[1:], baseline_methods(), InbetweenConfig(gaps=(120,)), position_stats(wins))
    table = report.gap_table(none)
    assert "| 120 | 0 (≥ 180) | no clip is long enough |" in table and "hermite" not in table
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkeep me\n")
    report.update_doc(doc, md)
    doc.write_text(doc.read_text() + "\n<!-- begin:model -->\n## Model\n\nkeep me too\n<!-- end:model -->\n")
    report.update_doc(doc, md)  # idempotent: replaced, not appended twice; the next section is kept
    text = doc.read_text()
    assert text.count("## Heads I") == 1 and "keep me" in text
    assert "<!-- begin:model -->\n## Model\n\nkeep me too\n<!-- end:model -->" in text
    assert len(report.plot(results, tmp_path)) == 3
