"""Gap fills stay above the floor their context rests on (shipped heads, real HDM05 mocap, never
trained on): without the floor lift, long gaps of the classical curve and the heads sink through the
floor (a lie-down's feet by up to half a metre); with it no body joint goes more than
``FLOOR_LIFT_TOLERANCE`` below the lowest joint of the context, at a small cost in accuracy."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from a4mer.api import load_motion
from a4mer.bench.metrics import body_fk
from a4mer.heads import ground
from a4mer.heads import inbetween as IB

pytest.importorskip("torch")


def _rows(data_root):
    with open(data_root / "hdm05" / "labels.csv", newline="") as f:
        return list(csv.DictReader(f))


def _below_floor(ctx_pos, gen_pos) -> float:
    """How far (m) the body of ``gen_pos (n, 22, 3)`` sinks below the lowest joint of ``ctx_pos
    (c, 22, 3)`` when the context rests on a floor (``ground.floor_lift``'s rules), else 0: the depth
    of the second-deepest body part (one part alone through the floor is that limb's pose)."""
    low = ctx_pos[..., 2].min(-1)
    grounded = np.mean(low < low.min() + 0.05) >= ground.GROUNDED_SHARE
    depths = sorted(low.min() - gen_pos[:, list(part), 2].min() for part in ground.BODY_PARTS)
    return float(depths[-2]) if grounded else 0.0


def _off(ctx_h, gen_h, fps, end_key=True):
    return np.zeros(len(gen_h))


def _windows(data_root, longest=60, context=15):
    """(clip at 30 fps, s, e, context frames) of the longest gap (at most ``longest`` frames) that leaves
    ``context`` frames on each side, in the middle of every HDM05 clip long enough."""
    out = []
    for r in _rows(data_root):
        m = load_motion(data_root / "hdm05" / r["file"], fps=30.0)
        gap = min(longest, m.num_frames - 2 * context - 2)
        if gap < 20:
            continue
        s = (m.num_frames - gap) // 2 - 1
        e = s + gap + 1
        out.append((m, s, e, np.r_[max(0, s - 29):s + 1, e:min(m.num_frames, e + 30)]))
    return out


@pytest.mark.filterwarnings("ignore::a4mer.heads.inbetween.A4merWarning")
def test_gap_fills_do_not_sink_through_the_floor(data_root, monkeypatch):
    heads = IB.default_heads()
    wins = _windows(data_root)
    assert len(wins) >= 120

    def run():
        pen, err = [], []
        for m, s, e, ctx in wins:
            out = heads.inbetween(m, s, e)
            pos = body_fk(m.rotations, m.root_translation)[0]
            gen = body_fk(out.rotations[s + 1:e], out.root_translation[s + 1:e])[0]
            pen.append(_below_floor(pos[ctx], gen))
            err.append(np.linalg.norm(gen - pos[s + 1:e], axis=-1).mean())
            np.testing.assert_array_equal(out.rotations[:s + 1], m.rotations[:s + 1])
            np.testing.assert_array_equal(out.root_translation[e:], m.root_translation[e:])
        return np.array(pen), np.mean(err)

    pen, err = run()
    monkeypatch.setattr(IB, "floor_lift", _off)
    pen_before, err_before = run()
    assert pen_before.max() > 0.15, pen_before.max()  # the unlifted fills sink (so this test can fail)
    assert (pen_before > ground.FLOOR_LIFT_TOLERANCE + 0.01).sum() >= 3
    assert pen.max() <= ground.FLOOR_LIFT_TOLERANCE + 0.005, pen.max()
    assert err <= 1.02 * err_before, (err, err_before)


def test_extensions_do_not_sink_through_the_floor(data_root, monkeypatch):
    """1 s of extension after the first second of the HDM05 depositFloor takes (bending down to put
    something on the floor: the continuation keeps going down)."""
    heads = IB.default_heads()
    clips = [load_motion(data_root / "hdm05" / r["file"], fps=30.0) for r in _rows(data_root)
             if r["class_name"] == "depositFloorR"]
    clips = [m for m in clips if m.num_frames >= 60]

    def run():
        pen, err = [], []
        for m in clips:
            ctx = m.slice(0, 30)
            out = heads.extend_clip(ctx, 30)
            pos = body_fk(m.rotations[:60], m.root_translation[:60])[0]
            gen = body_fk(out.rotations[30:], out.root_translation[30:])[0]
            pen.append(_below_floor(pos[:30], gen))
            err.append(np.linalg.norm(gen - pos[30:], axis=-1).mean())
        return np.array(pen), np.mean(err)

    pen, err = run()
    monkeypatch.setattr(IB, "floor_lift", _off)
    pen_before, err_before = run()
    assert len(clips) >= 20
    assert pen_before.max() > 0.15 and (pen_before > ground.FLOOR_LIFT_TOLERANCE + 0.01).sum() >= 5, pen_before
    assert pen.max() <= ground.FLOOR_LIFT_TOLERANCE + 0.005, pen.max()
    assert err <= 1.02 * err_before, (err, err_before)


def test_blocking_does_not_sink_through_the_floor(data_root, monkeypatch):
    """Keys every 30 frames (1 s) of every other HDM05 clip: each span stays above the floor the keys
    within 1 s of it rest on."""
    heads = IB.default_heads()
    clips = [load_motion(data_root / "hdm05" / r["file"], fps=30.0) for r in _rows(data_root)[::2]]

    def run():
        pen, err = [], []
        for m in clips:
            keys = np.arange(0, m.num_frames, 30)
            if len(keys) < 3:
                continue
            out = heads.inbetween_keys(m, keys)
            np.testing.assert_array_equal(out.rotations[keys], m.rotations[keys])
            pos = body_fk(out.rotations, out.root_translation)[0]
            true = body_fk(m.rotations, m.root_translation)[0]
            for s, e in zip(keys, keys[1:]):
                pen.append(_below_floor(pos[keys[(keys >= s - 30) & (keys <= e + 30)]], pos[s + 1:e]))
                err.append(np.linalg.norm(pos[s + 1:e] - true[s + 1:e], axis=-1).mean())
        return np.array(pen), np.mean(err)

    pen, err = run()
    monkeypatch.setattr(IB, "floor_lift", _off)
    pen_before, err_before = run()
    assert len(pen) >= 100
    assert pen_before.max() > 0.07, pen_before.max()
    assert pen.max() <= ground.FLOOR_LIFT_TOLERANCE + 0.005, pen.max()
    assert err <= 1.02 * err_before, (err, err_before)
