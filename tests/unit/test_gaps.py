"""Gap detection and the plan of generated spans (host-free): which gaps a range fills, the clip window
and arguments sent to the heads, strip ranges, the quality sidecar per span."""
from __future__ import annotations

import numpy as np
import pytest

from a4mer.errors import A4merError
from a4mer.gaps import (gap_runs, plan_extend, plan_fill, quality_line, resolve_range, span_reports,
                        strip_range)


def test_gap_runs_from_unordered_duplicated_float_keys():
    keyed = [5.0, 1, 2, 2.0000001, 10, 11, 3, 30]
    assert gap_runs(keyed) == [(3, 5), (5, 10), (11, 30)]
    assert gap_runs(keyed, first=4, last=20) == [(5, 10)]
    assert gap_runs(range(1, 50)) == []


def test_dense_keys_plan_nothing():
    assert plan_fill(np.arange(1, 121), (1, 120), (1, 120), 30.0) is None


def test_one_gap_uses_start_end_in_clip_frames_with_context_margin():
    keyed = [f for f in range(1, 401) if not 160 < f < 190]
    plan = plan_fill(keyed, (1, 400), (160, 190), 30.0)
    assert plan.verb == "inbetween" and plan.gaps == ((160, 190),) and plan.spans == ((161, 189),)
    assert plan.first == 160 - 90 and plan.last == 190 + 90  # 3 s of context each side
    assert plan.args == ("--start", "90", "--end", "120")
    assert plan.frames == 29 and plan.generated_frames().tolist() == list(range(161, 190))
    keyed = [f for f in range(1, 201) if not 60 < f < 90]
    # the margin is clamped to what can be read
    p2 = plan_fill(keyed, (50, 100), (60, 90), 30.0)
    assert (p2.first, p2.last) == (50, 100) and p2.args == ("--start", "10", "--end", "40")


def test_range_overlap_fills_whole_gaps_and_ignores_others():
    keyed = [f for f in range(1, 301) if not (20 < f < 40 or 100 < f < 130 or 200 < f < 210)]
    # the preview range covers part of the middle gap only: that gap is filled whole
    plan = plan_fill(keyed, (1, 300), (110, 120), 30.0)
    assert plan.gaps == ((100, 130),)
    # a range ending on a key before a gap does not reach into it
    assert plan_fill(keyed, (1, 300), (130, 200), 30.0) is None


def test_several_gaps_in_one_pass_with_every_kept_frame_as_key():
    keyed = list(range(1, 121, 4))  # blocking: a key every 4 frames (1, 5, ..., 117)
    plan = plan_fill(keyed, (1, 120), (1, 120), 30.0)
    assert len(plan.gaps) == 29 and all(e - s == 4 for s, e in plan.gaps)
    assert plan.args[0] == "--key-frames"
    known = [int(x) for x in plan.args[1].split(",")]
    gen = set(plan.to_clip(plan.generated_frames()).tolist())
    assert set(known) | gen == set(range(plan.num_frames)) and not set(known) & gen
    assert sorted(k + plan.first for k in known)[:3] == [1, 5, 9]
    assert 118 - plan.first in known  # frames after the last key are context, not generated


def test_too_long_gaps_are_skipped_with_the_reason():
    keyed = [f for f in range(1, 401) if not (10 < f < 200 or 250 < f < 260)]
    plan = plan_fill(keyed, (1, 400), (1, 400), 30.0)
    assert plan.gaps == ((250, 260),)
    assert plan.skipped[0][:2] == (10, 200) and "at most 4 s" in plan.skipped[0][2]
    only_long = plan_fill(keyed, (1, 400), (1, 100), 30.0)
    assert only_long.spans == () and only_long.skipped[0][:2] == (10, 200)


def test_resolve_range_precedence():
    assert resolve_range((1, 100)) == (1, 100)
    assert resolve_range((1, 100), preview=(20, 30)) == (20, 30)
    assert resolve_range((1, 100), preview=(20, 30), custom=(5, 6)) == (5, 6)
    with pytest.raises(A4merError, match="empty"):
        resolve_range((1, 100), custom=(9, 3))
    assert resolve_range((1, 100), custom=(90, 400)) == (90, 400)  # overlapping: the plan clips it
    with pytest.raises(A4merError, match=r"frame range 300\.\.400 lies outside the action's keys \(1\.\.100\)"):
        resolve_range((1, 100), custom=(300, 400))
    with pytest.raises(A4merError, match="preview range -50..0 lies outside"):
        resolve_range((1, 100), preview=(-50, 0))


def test_plan_extend():
    plan = plan_extend((1, 600), 30, 30.0)
    assert plan.verb == "extend" and plan.args == ("--frames", "30") and plan.spans == ((601, 630),)
    assert (plan.first, plan.last) == (600 - 180 + 1, 600)
    assert plan_extend((5, 40), 3, 30.0).first == 5
    with pytest.raises(A4merError, match="at least 1"):
        plan_extend((1, 100), 0, 30.0)
    with pytest.raises(A4merError, match="2 frames"):
        plan_extend((7, 7), 10, 30.0)
    assert plan_extend((1, 100), 1440, 24.0).spans == ((101, 1540),)  # 60 s at the scene's 24 fps
    with pytest.raises(A4merError, match=r"2000 frames are 66.67 s at 30 fps; at most 60 s \(1800 frames\)"):
        plan_extend((1, 100), 2000, 30.0)  # refused before the model runs (the add-on's plan)


def test_strip_range_covers_exactly_the_span():
    assert strip_range((61, 89)) == (61.0, 89.0)
    a, b = strip_range((12, 12))
    assert a == 12.0 and 12.0 < b < 13.0


def test_span_reports_single_and_multi_in_scene_frames():
    single = {"span": [30, 58], "method": "m", "key_distance_mm": {"29": 1.0, "59": 2.0},
              "max_frame_step_mm": 310.0, "max_frame_step_frame": 43,
              "warnings": ["motif 16 played at 2.06x its speed to fit frames 30..58", "less than 1 s of context",
                           "a joint moves 310 mm in one frame at frame 43 (at most 40 mm in the kept frames around "
                           "the span): look there"]}
    out = span_reports(single, 31, [(61, 89)])
    assert out[0]["span"] == [61, 89] and out[0]["key_distance_mm"] == {"60": 1.0, "90": 2.0}
    assert out[0]["warnings"] == ["motif 16 played at 2.06x its speed to fit frames 61..89", "less than 1 s of context",
                                  "a joint moves 310 mm in one frame at frame 74 (at most 40 mm in the kept frames "
                                  "around the span): look there"]
    assert out[0]["max_frame_step_frame"] == 74 and single["max_frame_step_frame"] == 43
    assert single["span"] == [30, 58]  # input not modified
    multi = {"spans": [{"span": [1, 3]}, {"span": [5, 7]}]}
    assert [r and r["span"] for r in span_reports(multi, 10, [(15, 17), (11, 13), (20, 20)])] == \
        [[15, 17], [11, 13], None]
    assert span_reports(None, 0, [(1, 2)]) == [None]


def test_quality_line():
    q = {"foot_skate_cm_s": 1.25, "context_foot_skate_cm_s": 0.5, "jerk_m_s3": 12.0, "context_jerk_m_s3": None,
         "key_distance_mm": {"1": 3.0, "9": 41.2}, "context_frame_step_mm": 30.0}
    line = quality_line(q)
    assert "skate 1.2 cm/s (ctx 0.5)" in line and "jerk 12 (ctx -)" in line and "key step 41 mm (ctx 30)" in line
    assert "floor" not in line and "floor" not in quality_line({**q, "below_kept_floor_cm": 1.5})
    assert quality_line({**q, "below_kept_floor_cm": 7.4}).endswith(", 7 cm below the floor")
    assert quality_line(None) == "no quality report"
    assert quality_line({**q, "learned_share": 0.4}).endswith(", learned correction 40%")  # faded part of the way
    assert quality_line({**q, "learned_share": 0.9496}).endswith(", learned correction 94%")
    assert "learned" not in quality_line({**q, "learned_share": 1.0}) + quality_line({**q, "learned_share": None})


def test_a_gap_just_over_4_s_says_by_how_much():
    """96 frames at 23.976 fps are 4.004 s: the reason read "4.00 s gap; at most 4 s can be filled"."""
    keyed = [f for f in range(1, 201) if not 50 < f < 147]
    why = plan_fill(keyed, (1, 200), (1, 200), 24000 / 1001).skipped[0][2]
    assert why == "96 frames, 4.004 s: at most 4 s (95 frames at 23.976 fps) can be filled"
