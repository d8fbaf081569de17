"""Reading a clip for a gap fill once: the file parsed once and retargeted once (``read_clip`` +
``fill_reading``) gives, to the bit, what the two readings of a fill gave before; interpolating
only around the frames to generate equals interpolating with the whole clip's frames."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import a4mer.io.bvh as bvh_module
import a4mer.retarget as retarget_module
from a4mer.api import LoadOptions, fill_reading, kept_frames, load_motion, read_clip
from a4mer.geometry import known_coords, lerp_at, quat_apply, quat_conj, quat_mul, slerp_at
from a4mer.io.amass import write_amass_npz
from a4mer.io.bvh import read_bvh
from a4mer.io.source import interpolate_frames
from a4mer.motion import Motion

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
#: (start, end, keys): one gap, blocking keys, a gap with no frame in it (every frame kept), bad frames
FILLS = [(60, 90, None), (None, None, [0, 40, 47, 120]), (10, 11, None), (90, 60, None)]


def _count(monkeypatch, module, name: str) -> list:
    """Calls of ``module.name`` from now on, one entry each."""
    calls, real = [], getattr(module, name)

    def counted(*a, **kw):
        calls.append(name)
        return real(*a, **kw)
    monkeypatch.setattr(module, name, counted)
    return calls


def _two_readings(path, opts: LoadOptions, start, end, keys) -> Motion:
    """What ``a4mer inbetween`` read before: the whole file once, then (a BVH/AMC with frames to generate,
    or the floor) again, calibrated on the kept frames only."""
    first = load_motion(path, replace(opts, floor=False), nonfinite_ok=True)
    known = kept_frames(first.num_frames, start, end, keys)
    partial = known is not None and not known.all()
    again = load_motion(path, opts, known=known if partial else None) if (
        opts.floor or (partial and Path(path).suffix != ".npz")) else first
    return again


def _assert_same(a: Motion, b: Motion) -> None:
    assert a.rotations.tobytes() == b.rotations.tobytes()
    assert a.root_translation.tobytes() == b.root_translation.tobytes()
    assert a.fps == b.fps and a.skeleton == b.skeleton and a.meta == b.meta


@pytest.mark.parametrize("floor", [False, True])
@pytest.mark.parametrize("start,end,keys", FILLS)
def test_a_fill_parses_and_retargets_the_file_once_and_reads_it_as_two_readings_did(monkeypatch, start, end,
                                                                                     keys, floor):
    opts = LoadOptions(keep_reference_frames=True, floor=floor)
    before = _two_readings(EXAMPLE, opts, start, end, keys)
    parses = _count(monkeypatch, bvh_module, "_parse_motion")
    retargets = _count(monkeypatch, retarget_module, "retarget")
    reading = read_clip(EXAMPLE, opts, nonfinite_ok=True)
    kw = fill_reading(reading, kept_frames(reading.num_frames, start, end, keys), opts.floor)
    _assert_same(load_motion(EXAMPLE, opts, **kw), before)
    assert len(parses) == 1 and len(retargets) == 1  # Bandai: the Z-up reading is tried on the rest pose alone


@pytest.mark.parametrize("floor", [False, True])
def test_an_npz_fill_reads_the_file_once_and_as_before(tmp_path, monkeypatch, floor):
    path = write_amass_npz(load_motion(EXAMPLE), tmp_path / "walk.npz")
    opts = LoadOptions(keep_reference_frames=True, floor=floor)
    before = _two_readings(path, opts, 30, 50, None)
    import a4mer.io.amass as amass_module
    reads = _count(monkeypatch, amass_module, "read_amass_npz")
    reading = read_clip(path, opts, nonfinite_ok=True)
    kw = fill_reading(reading, kept_frames(reading.num_frames, 30, 50, None), opts.floor)
    _assert_same(load_motion(path, opts, **kw), before)
    assert len(reads) == 1


def test_a_reading_that_does_not_serve_the_options_is_not_used(monkeypatch):
    reading = read_clip(EXAMPLE, LoadOptions(), nonfinite_ok=True)
    parses = _count(monkeypatch, bvh_module, "_parse_motion")
    load_motion(EXAMPLE, LoadOptions(source_fps=60.0), reading=reading)  # another rate: read again
    assert len(parses) == 1
    load_motion(EXAMPLE, LoadOptions(), reading=reading)
    assert len(parses) == 1


def test_the_parsed_take_is_read_only_and_each_reading_of_it_is_what_read_bvh_gives():
    take = bvh_module.parse_bvh(EXAMPLE)
    assert not take.positions.flags.writeable and not take.orientations.flags.writeable
    known = np.ones(take.num_frames, bool)
    known[20:60] = False
    for up, at in (("y", None), ("z", known)):
        a, b = bvh_module.bvh_source(take, up, unit_frames=at), read_bvh(EXAMPLE, up=up, unit_frames=at)
        assert a.positions.tobytes() == b.positions.tobytes() and a.orientations.tobytes() == b.orientations.tobytes()
        assert a.rest_positions.tobytes() == b.rest_positions.tobytes() and a.meta == b.meta
        assert bvh_module.bvh_rest_positions(take, up, unit_frames=at).tobytes() == a.rest_positions.tobytes()


def _interpolated_with_every_frame(src, known):
    """The interpolation of :func:`interpolate_frames` with every frame's parent-relative pose computed."""
    par = np.array(src.parents)
    child = np.flatnonzero(par >= 0)
    q, pos = src.orientations, src.positions
    local, offset = q.copy(), pos.copy()
    local[:, child] = quat_mul(quat_conj(q[:, par[child]]), q[:, child])
    offset[:, child] = quat_apply(quat_conj(q[:, par[child]]), pos[:, child] - pos[:, par[child]])
    idx, t, at = np.flatnonzero(known), np.flatnonzero(~known), known_coords(known)
    local[t], offset[t] = slerp_at(local[idx], at), lerp_at(offset[idx], at)
    q_out, p_out = q.copy(), pos.copy()
    for j, p in enumerate(par):
        if p < 0:
            q_out[t, j], p_out[t, j] = local[t, j], offset[t, j]
        else:
            q_out[t, j] = quat_mul(q_out[t, p], local[t, j])
            p_out[t, j] = p_out[t, p] + quat_apply(q_out[t, p], offset[t, j])
    return q_out, p_out


@pytest.mark.parametrize("gaps", [[(30, 60)], [(0, 5), (50, 51), (100, 200)], [(150, 260)]])
def test_interpolating_around_the_gaps_equals_interpolating_with_every_frame(gaps):
    src = read_bvh(EXAMPLE)
    known = np.ones(src.num_frames, bool)
    for a, b in gaps:
        known[a:b] = False
    out = interpolate_frames(src, known)
    q, p = _interpolated_with_every_frame(src, known)
    assert out.orientations.tobytes() == q.tobytes() and out.positions.tobytes() == p.tobytes()
    assert np.isfinite(out.positions).all()


@pytest.mark.parametrize("args, problem", [(["--start", "80", "--end", "40"], "gap 80..40 ends before it starts"),
                                           (["--start", "40", "--end", "41"], "has no frame strictly between"),
                                           (["--start", "40", "--end", "900"], "outside the clip"),
                                           (["--key-frames", "0,30,900"], "outside the clip")])
def test_frames_that_make_no_gap_are_named_before_nan_frames_of_the_file(tmp_path, capsys, args, problem):
    """A capture with dropouts (NaN rows) and a gap given wrong: the error is about the frames given (the
    dropouts may well lie inside the gap the user meant), not the NaN frames."""
    from a4mer.cli.main import main
    text = EXAMPLE.read_text()
    head, body = text.split("Frame Time:", 1)
    rows = body.splitlines()
    rows[1 + 50] = " ".join(["nan"] * len(rows[1 + 50].split()))
    bad = tmp_path / "dropouts.bvh"
    bad.write_text(head + "Frame Time:" + "\n".join(rows) + "\n")
    assert main(["inbetween", str(bad), *args, "-o", str(tmp_path / "out.npz")]) == 1
    err = capsys.readouterr().err
    assert problem in err and "NaN" not in err, err


def test_a_reading_serves_every_load_unchanged(tmp_path):
    """What one load returns cannot change what the next load of the same reading gives."""
    path = write_amass_npz(load_motion(EXAMPLE), tmp_path / "walk.npz")
    reading = read_clip(path)
    load_motion(path, reading=reading).meta["mine"] = 1
    assert "mine" not in load_motion(path, reading=reading).meta
    amc = read_clip(EXAMPLE.parents[1] / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc")
    with pytest.raises(ValueError, match="read-only"):
        amc.data.positions[0, 0, 0] = 1.0
