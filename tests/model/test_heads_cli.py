"""``a4mer inbetween`` / ``a4mer extend`` command lines on synthetic npz clips (classical and learned)."""
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from a4mer.cli.main import main  # noqa: E402


def _npz(path, T=150, layout=156, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None] / fps
    poses = 0.2 * np.sin(t * rng.uniform(1, 3, layout) + rng.uniform(0, 6, layout))
    poses[:, :3] = [np.pi / 2, 0, 0]
    trans = np.concatenate([0.4 * t, 0 * t, 0.9 + 0 * t], 1)
    np.savez(path, poses=poses, trans=trans, betas=np.zeros(16), gender=np.array("neutral"),
             mocap_framerate=np.array(fps), dmpls=np.zeros((T, 8)))
    return path


@pytest.mark.parametrize("heads", ["none", "small"])
def test_inbetween_cli_keeps_layout_and_frames(tmp_path, heads):
    src = _npz(tmp_path / "in.npz")
    spec = "none"
    if heads == "small":
        from a4mer.heads.decoder import CorrectionDecoder, DecoderConfig
        from a4mer.heads.inbetween import LearnedHeads
        spec = str(LearnedHeads(CorrectionDecoder(DecoderConfig(hidden=32, context=4, basis=4))).save(
            tmp_path / "h.safetensors"))
    out = tmp_path / "out.npz"
    assert main(["inbetween", str(src), "--start", "40", "--end", "90", "-o", str(out), "--heads", spec]) == 0
    a, b = np.load(src), np.load(out)
    assert b["poses"].shape == a["poses"].shape and float(b["mocap_framerate"]) == 30.0
    keep = np.r_[0:41, 90:150]
    np.testing.assert_array_equal(b["poses"][keep], a["poses"][keep])  # bit for bit
    np.testing.assert_array_equal(b["trans"][keep], a["trans"][keep])
    assert not np.array_equal(b["poses"][41:90], a["poses"][41:90])
    q = json.loads((tmp_path / "out.quality.json").read_text())
    assert q["span"] == [41, 89] and q["kept_frames_exact"] and "foot_skate_cm_s" in q
    assert set(q["key_distance_mm"]) == {"40", "90"}


def test_blocking_cli_every_key_exact(tmp_path):
    src = _npz(tmp_path / "in.npz", layout=72)
    out = tmp_path / "b.npz"
    assert main(["inbetween", str(src), "--keys", "20", "-o", str(out), "--heads", "none"]) == 0
    a, b = np.load(src), np.load(out)
    keys = sorted(set(list(range(0, 150, 20)) + [149]))
    np.testing.assert_array_equal(b["poses"][keys], a["poses"][keys])
    q = json.loads((tmp_path / "b.quality.json").read_text())
    assert q["task"] == "blocking" and len(q["spans"]) == len(keys) - 1
    # each span is compared with the kept frames only (not with the other spans' generated frames)
    assert all(sp["kept_frames_exact"] and sp["kept_frames_max_abs_diff"] == 0.0 for sp in q["spans"])
    assert all(sp["context_foot_skate_cm_s"] is None for sp in q["spans"])  # only keys were kept


def test_sidecar_method_per_span_and_context_from_the_input(tmp_path):
    """Close keys get the natural spline, the other spans the classical curve: each span says which.
    The context numbers (ground level included) come from the kept frames, so they do not move with
    the heads or with how much was generated."""
    src = _npz(tmp_path / "in.npz", layout=72)
    assert main(["inbetween", str(src), "--key-frames", "0,4,40,70", "-o", str(tmp_path / "k.npz"),
                 "--heads", "none"]) == 0
    q = json.loads((tmp_path / "k.quality.json").read_text())
    assert [sp["method"].split(" (")[0] for sp in q["spans"]] == [
        "natural cubic spline through the keys", "classical curve", "classical curve"]
    assert q["method"].count(";") == 1
    from a4mer.heads.decoder import CorrectionDecoder, DecoderConfig
    from a4mer.heads.inbetween import LearnedHeads
    small = str(LearnedHeads(CorrectionDecoder(DecoderConfig(hidden=32, context=4, basis=4))).save(tmp_path / "h.safetensors"))
    ctx = set()
    for i, argv in enumerate((["inbetween", "--start", "40", "--end", "90", "--heads", "none"],
                              ["inbetween", "--start", "40", "--end", "90", "--heads", small])):
        assert main([argv[0], str(src), *argv[1:], "-o", str(tmp_path / f"g{i}.npz")]) == 0
        g = json.loads((tmp_path / f"g{i}.quality.json").read_text())
        ctx.add((g["context_foot_skate_cm_s"], g["context_jerk_m_s3"], g["context_frame_step_mm"]))
    assert len(ctx) == 1 and None not in next(iter(ctx))
    ext = set()
    for n in (30, 600):
        assert main(["extend", str(src), "--frames", str(n), "-o", str(tmp_path / f"e{n}.npz"), "--heads", "none"]) == 0
        ext.add(json.loads((tmp_path / f"e{n}.quality.json").read_text())["context_foot_skate_cm_s"])
    assert len(ext) == 1


def test_output_problems_are_named_before_anything_is_computed(tmp_path, capsys):
    src = _npz(tmp_path / "in.npz")
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "side.quality.json").mkdir()
    for out, msg in ((tmp_path / "missing" / "x.npz", "does not exist"), (tmp_path / "dir.npz", "is a folder"),
                     (tmp_path / "side.npz", "side.quality.json: is a folder")):
        for verb in (["inbetween", "--start", "40", "--end", "90"], ["extend", "--frames", "10"]):
            assert main([verb[0], str(src), *verb[1:], "-o", str(out), "--heads", "none"]) == 1
            err = capsys.readouterr().err
            assert msg in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz", "in.npz", "side.quality.json"]


def test_source_fps_override_is_the_rate_written(tmp_path):
    src = _npz(tmp_path / "in.npz", fps=24.0)
    for verb in (["inbetween", "--start", "40", "--end", "90"], ["extend", "--frames", "30"]):
        out = tmp_path / f"{verb[0]}.npz"
        assert main([verb[0], str(src), *verb[1:], "--source-fps", "30", "-o", str(out), "--heads", "none"]) == 0
        assert float(np.load(out)["mocap_framerate"]) == 30.0
        assert json.loads(out.with_name(f"{verb[0]}.quality.json").read_text())["fps"] == 30.0


def test_garbage_npz_is_named_as_such(tmp_path, capsys):
    bad = tmp_path / "garbage.npz"
    bad.write_text("garbage\n")
    assert main(["inbetween", str(bad), "--start", "2", "--end", "9", "-o", str(tmp_path / "x.npz")]) == 1
    assert "garbage.npz: not a readable npz file (no zip archive or .npy header)" in capsys.readouterr().err


def test_extend_cli_appends_frames(tmp_path):
    src = _npz(tmp_path / "in.npz")
    out = tmp_path / "e.npz"
    assert main(["extend", str(src), "--frames", "45", "-o", str(out), "--heads", "none"]) == 0
    a, b = np.load(src), np.load(out)
    assert len(b["poses"]) == 195 and len(b["dmpls"]) == 195
    np.testing.assert_array_equal(b["poses"][:150], a["poses"])
    assert np.linalg.norm(b["trans"][150] - a["trans"][149]) < 0.05  # continuous seam
    assert json.loads((tmp_path / "e.quality.json").read_text())["span"] == [150, 194]


@pytest.mark.parametrize("verb", ["inbetween", "extend"])
def test_a_quality_report_of_the_users_is_never_replaced_and_ours_keeps_its_permissions(tmp_path, capsys, verb):
    """``-o shot.npz`` beside the user's own ``shot.quality.json`` (a QC file of theirs) replaced it without
    a word; a4mer's own report, replaced by a re-run, lost its permissions (600 came back 644)."""
    import os
    src = _npz(tmp_path / "in.npz")
    out, side = tmp_path / "shot.npz", tmp_path / "shot.quality.json"
    argv = [verb, str(src), *(["--start", "40", "--end", "80"] if verb == "inbetween" else ["--frames", "20"]),
            "-o", str(out), "--heads", "none"]
    side.write_text('{"reviewed by": "me"}\n')
    assert main(argv) == 1
    assert "shot.quality.json (written beside shot.npz): exists and is not a quality report of a4mer's" \
        in capsys.readouterr().err
    assert side.read_text() == '{"reviewed by": "me"}\n' and not out.exists()
    side.unlink()
    assert main(argv) == 0
    os.chmod(side, 0o600)
    os.chmod(out, 0o600)
    assert main(argv) == 0
    assert (os.stat(side).st_mode & 0o777, os.stat(out).st_mode & 0o777) == (0o600, 0o600)


@pytest.mark.parametrize("verb", ["inbetween", "extend"])
def test_a_new_clip_never_sits_beside_an_earlier_runs_report(tmp_path, monkeypatch, verb):
    """The clip is written, then its quality report: stopped in between (Ctrl-C, a full disk), the new
    clip sat beside the previous run's report, which described other frames; then it stayed without a
    report. What the stopped run was writing goes, as after any Ctrl-C."""
    from a4mer.heads import quality
    src, out = _npz(tmp_path / "in.npz"), tmp_path / "o.npz"
    argv = [verb, str(src), "-o", str(out), "--heads", "none"]
    argv += ["--start", "40", "--end", "70"] if verb == "inbetween" else ["--frames", "20"]
    assert main(argv) == 0 and (tmp_path / "o.quality.json").is_file()

    def stop(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(quality.ClipQuality, "__init__", stop)
    assert main(argv) == 130
    assert not out.exists() and not (tmp_path / "o.quality.json").exists()


@pytest.mark.parametrize("argv,msg", [
    (["--start", "40", "--end", "400"], "in.npz: gap 40..400 is outside the clip"),
    (["--start", "40", "--end", "41"], "no frame strictly between"),
    (["--start", "40", "--end", "40"], "no frame strictly between"),
    (["--start", "70", "--end", "40"], "in.npz: gap 70..40 ends before it starts"),
    (["--key-frames", "5,6"], "in.npz: the keys leave no frame to generate"),
    (["--key-frames", "-5,30,60"], "in.npz: key frames [-5] are outside the clip"),  # not argparse's usage
    (["--start", "40", "--end", "90", "--motif", "m999"], "in.npz: unknown motif id"),
    (["--keys", "20", "--start", "3"], "cannot be combined"),
    (["--key-frames", "0,122"], "in.npz: keys 0 and 122 leave a gap of 121 frames (4.03 s); at most 4 s (120 frames at 30 fps)"),
    (["--start", "40", "--end", "90", "--device", "bogus"], "device 'bogus' is not usable here"),
    ([], "give --start and --end"),
])
def test_inbetween_cli_errors(tmp_path, capsys, argv, msg):
    src = _npz(tmp_path / "in.npz")
    assert main(["inbetween", str(src), *argv, "-o", str(tmp_path / "x.npz"), "--heads", "none"]) == 1
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_extension_longer_than_a_minute_refused(tmp_path, capsys):
    src = _npz(tmp_path / "in.npz")
    assert main(["extend", str(src), "--frames", "99999999999", "-o", str(tmp_path / "x.npz"), "--heads", "none"]) == 1
    assert "in.npz: 99999999999 frames are" in capsys.readouterr().err
    assert main(["extend", str(src), "--frames", "1801", "-o", str(tmp_path / "x.npz"), "--heads", "none"]) == 1
    assert "in.npz: 1801 frames are 60.03 s at 30 fps; at most 60 s (1800 frames)" in capsys.readouterr().err
    # --device is checked without --motif too; unused model flags are named
    assert main(["extend", str(src), "--frames", "5", "-o", str(tmp_path / "y.npz"), "--heads", "none",
                 "--vocab", "v.safetensors"]) == 0
    assert "note: --vocab is not used without --motif" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_long_gap_refused_and_short_context_warns(tmp_path, capsys):
    src = _npz(tmp_path / "in.npz", T=300)
    assert main(["inbetween", str(src), "--start", "10", "--end", "200", "-o", str(tmp_path / "x.npz"),
                 "--heads", "none"]) == 1
    assert "at most 4 s" in capsys.readouterr().err
    assert main(["inbetween", str(src), "--start", "10", "--end", "60", "-o", str(tmp_path / "y.npz"),
                 "--heads", "none"]) == 0
    assert "context before the gap" in capsys.readouterr().err


def test_shipped_heads_end_to_end(tmp_path):
    """The bundled heads file (skipped when absent): loads strictly, is small, and fills a gap and a
    blocking pass with keys exact through the CLI."""
    from a4mer.heads.decoder import DecoderConfig
    from a4mer.heads.files import default_heads, find_heads, read_heads_metadata
    path = find_heads()
    if path is None:
        pytest.skip("no bundled heads file (a4mer/assets/heads.safetensors); run scripts/train_heads.py")
    assert sum(f.stat().st_size for f in path.parent.glob("*.safetensors")) <= 20e6  # the whole shipped bundle
    meta = read_heads_metadata(path)
    bands = DecoderConfig.from_dict(json.loads(meta["config"])).gap_tasks()
    assert json.loads(meta["gates"]).keys() == {"inbetween", "blocking", "extend", *bands}
    heads = default_heads()
    assert heads.net is not None
    src = _npz(tmp_path / "in.npz", T=200, layout=72)
    for argv in (["--start", "60", "--end", "91"], ["--keys", "20"]):
        out = tmp_path / "o.npz"
        assert main(["inbetween", str(src), *argv, "-o", str(out)]) == 0
        a, b = np.load(src), np.load(out)
        keys = [60, 91] if "--start" in argv else list(range(0, 200, 20)) + [199]
        np.testing.assert_array_equal(b["poses"][keys], a["poses"][keys])
        assert np.isfinite(b["poses"]).all()
    assert main(["extend", str(src), "--frames", "90", "-o", str(tmp_path / "e.npz")]) == 0


def test_bench_windows_per_clip(tmp_path, capsys):
    """``a4mer bench --windows-per-clip N`` takes up to N non-overlapping windows from a long clip (and
    says so in the JSON); N < 1 is refused."""
    data = tmp_path / "clips"
    data.mkdir()
    _npz(data / "long.npz", T=400)
    counts = {}
    for n in (1, 3):
        out = tmp_path / f"b{n}"
        assert main(["bench", "--data", str(data), "--out", str(out), "--heads", "none", "--tasks", "inbetween,extension",
                     "--windows-per-clip", str(n)]) == 0
        res = json.loads((out / "heads_bench.json").read_text())
        assert res["meta"]["windows_per_clip"] == n
        counts[n] = (res["inbetween"]["30"]["hermite"]["windows"], res["extension"]["30"]["constant_velocity"]["windows"])
    assert counts == {1: (1, 1), 3: (3, 3)}  # 400 frames hold four 91-frame gap windows and six 60-frame ones
    assert main(["bench", "--data", str(data), "--out", str(tmp_path / "b0"), "--windows-per-clip", "0"]) == 1
    assert "--windows-per-clip must be at least 1" in capsys.readouterr().err
    assert json.loads((tmp_path / "b1" / "heads_bench.json").read_text())["meta"]["clip_names"] == ["long.npz"]
    # a typo in --datasets names what there is; clips too short for any window are an error, not empty
    # tables; neither leaves an output folder behind
    assert main(["bench", "--data", str(data), "--out", str(tmp_path / "b5"), "--datasets", "clps"]) == 1
    assert "no clips in data sets clps; it holds data sets clips" in capsys.readouterr().err
    short = tmp_path / "short"
    short.mkdir()
    _npz(short / "tiny.npz", T=8)
    assert main(["bench", "--data", str(short), "--out", str(tmp_path / "b6"), "--heads", "none"]) == 1
    assert "no window fits these clips (the longest has 8 frames at 30 fps; the shortest window needs 11)" \
        in capsys.readouterr().err
    assert not (tmp_path / "b5").exists() and not (tmp_path / "b6").exists()
    _npz(short / "tiny.npz", T=21)  # blocking with keys every 5 and 10 frames fits; the rest is named
    assert main(["bench", "--data", str(short), "--out", str(tmp_path / "b7"), "--heads", "none"]) == 0
    err = capsys.readouterr().err
    assert "warning: inbetween 5, 15, 30, 45, 60, 120 frames: no clip is long enough (the longest has 21 frames" in err
    assert "warning: extension 15, 30, 60, 90 frames" in err and "blocking 20, 30 frames" in err
    assert "they need 41+, 61+)" in err  # each setting's need (the first was said for all)


def test_bench_checks_its_outputs_before_measuring_and_fails_on_unreadable_clips(tmp_path, capsys):
    """--doc rewrote any file it named, an input clip too; --out naming a file, a missing --notes and a corrupt
    saved result were tracebacks (after the whole measurement); clips that could not be read left the exit
    code 0, where convert and data prepare give 1."""
    data = tmp_path / "clips"
    (data / "walks").mkdir(parents=True)
    _npz(data / "walks" / "w0.npz", T=200, seed=0)
    clip = (data / "walks" / "w0.npz").read_bytes()
    out = tmp_path / "b"
    base = ["bench", "--data", str(data), "--heads", "none", "--tokens", "none", "--tasks", "extension", "--max-clips", "2"]
    mine = tmp_path / "mine.md"
    mine.write_text("# my page\n")
    for argv, message in (
            ([*base, "--out", str(out), "--doc", str(data / "walks" / "w0.npz")], "must be a .md file"),
            # the page in --out, as --doc, got the section's markers and then locked the folder for every later run
            ([*base, "--out", str(out), "--doc", str(out / "heads_bench.md")], "the page a4mer bench writes into --out"),
            # --notes as --doc: the page was nested into itself
            ([*base, "--out", str(out), "--doc", str(mine), "--notes", str(mine)], "refusing to overwrite the input"),
            ([*base, "--out", str(out), "--doc", str(tmp_path / "no" / "page.md")], "does not exist"),
            ([*base, "--out", str(out), "--notes", str(tmp_path / "missing.md")], "--notes"),
            ([*base, "--out", str(data / "walks" / "w0.npz")], "not a folder"),
            ([*base, "--out", str(data / "walks" / "w0.npz" / "res")], "cannot create the folder")):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert (data / "walks" / "w0.npz").read_bytes() == clip and not out.exists()  # nothing measured or written
    assert mine.read_text() == "# my page\n"
    (data / "walks" / "broken.npz").write_bytes(b"not a zip")
    doc = tmp_path / "page.md"
    assert main([*base, "--out", str(out), "--doc", str(doc)]) == 1  # measured and written, but a clip failed
    err = capsys.readouterr().err
    assert "broken.npz" in err and "1 clip(s) could not be read" in err
    res = json.loads((out / "heads_bench.json").read_text())
    assert res["meta"]["clip_names"] == ["walks/w0.npz"] and "broken.npz" in res["meta"]["unreadable"][0]
    # only the asked task is timed; without learned heads, its baseline is (the Speed table was empty)
    assert "warm_extend_90_frames_constant_velocity_s" in res["speed"]
    assert not any(k.startswith(("warm_inbetween", "warm_blocking")) for k in res["speed"])
    assert "Heads I" in doc.read_text() or "heads-i" in doc.read_text()
    (out / "heads_bench.json").write_text("{ torn")
    assert main(["bench", "--out", str(out), "--render-only"]) == 1
    assert "heads_bench.json: not a benchmark result" in capsys.readouterr().err


def test_bench_says_what_it_left_out(tmp_path, capsys, monkeypatch):
    """``a4mer bench`` on a user's folder: a data set cut by --max-clips is "N of M" on stderr and in the
    report; clips too short for a setting are named; --source-fps reads the clips as the user says;
    an empty plot says why; what speed could not be measured is a note; --render-only needs no --data."""
    import matplotlib.axes
    data = tmp_path / "clips"
    (data / "walks").mkdir(parents=True)
    for i, T in enumerate((200, 70, 400)):
        _npz(data / "walks" / f"w{i}.npz", T=T, seed=i)
    out = tmp_path / "b"
    base = ["bench", "--data", str(data), "--out", str(out), "--heads", "none", "--tasks", "inbetween,extension"]
    assert main([*base, "--max-clips", "2"]) == 0
    captured = capsys.readouterr()
    assert "note: data set walks: 2 of 3 clips (--max-clips 2, evenly chosen)" in captured.err
    res = json.loads((out / "heads_bench.json").read_text())
    assert res["meta"]["clips_found"] == {"walks": 3} and res["meta"]["clip_names"] == ["walks/w0.npz", "walks/w2.npz"]
    assert res["inbetween"]["120"]["too_short"] == [] and res["inbetween"]["120"]["clips"] == 2
    md = (out / "heads_bench.md").read_text()
    assert "walks 2 of 3" in md and "CLI from a cold start: not measured (add --cold)" in md
    # read at 60 fps, the 200-frame clip is 100 frames at 30 fps: too short for a 45-frame gap, named so
    assert main([*base, "--max-clips", "2", "--source-fps", "60"]) == 0
    res = json.loads((out / "heads_bench.json").read_text())
    assert res["inbetween"]["15"]["too_short"] == [] and res["inbetween"]["45"]["too_short"] == ["walks/w0.npz"]
    assert "- gap 45: 1 clip under 105 frames at 30 fps, not used: `walks/w0.npz`" in (out / "heads_bench.md").read_text()
    capsys.readouterr()
    # --render-only rewrites the report from the JSON without --data; measuring without --data is refused
    (out / "heads_bench.md").unlink()
    assert main(["bench", "--out", str(out), "--render-only"]) == 0 and (out / "heads_bench.md").is_file()
    assert main(["bench", "--out", str(tmp_path / "c")]) == 1
    assert "--data is needed" in capsys.readouterr().err
    # only a short clip: the gap plot says no clip is long enough; the warm gap timing says why it is missing
    texts = []
    real_text = matplotlib.axes.Axes.text
    monkeypatch.setattr(matplotlib.axes.Axes, "text", lambda ax, x, y, s, *a, **k: (texts.append(s), real_text(ax, x, y, s, *a, **k))[1])
    short = tmp_path / "short"
    short.mkdir()
    _npz(short / "tiny.npz", T=60)
    assert main(["bench", "--data", str(short), "--out", str(tmp_path / "s"), "--heads", "none",
                 "--tasks", "inbetween,extension"]) == 0
    assert any("no clip is long enough for any setting" in t and "65 frames" in t for t in texts)
    assert "warm 60-frame gap: not measured: the longest clip has 60 frames, a 60-frame gap with 1 s of context on " \
        "each side needs 120" in capsys.readouterr().err
    # a clip of exactly 120 frames times the gap; the report is UTF-8 also where the console's locale is not
    import os
    import subprocess
    import sys
    _npz(short / "tiny.npz", T=120)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONIOENCODING": ""}
    r = subprocess.run([sys.executable, "-m", "a4mer", "bench", "--data", str(short), "--out", str(tmp_path / "u"),
                        "--heads", "none", "--tokens", "none", "--tasks", "inbetween"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "not measured" not in r.stderr
    assert "| 60 | 1 (≥ 120) / 1 |" in (tmp_path / "u" / "heads_bench.md").read_text(encoding="utf-8")


def test_motif_with_a_vocabulary_of_ones_own(tmp_path, capsys, data_root):
    """A studio's own vocabulary (``a4mer motifs build`` on a folder of BVH clips) works with --motif
    once prototypes are built for it and passed with --prototypes; without them, the error says how."""
    import subprocess
    import sys
    from pathlib import Path
    bvh = sorted((data_root / "bandai-namco" / "dataset-1" / "bvh").glob("*.bvh"))
    if len(bvh) < 40:
        pytest.skip(f"Bandai dataset-1 clips not found under {data_root}")
    lib = tmp_path / "lib"
    lib.mkdir()
    for p in bvh[::len(bvh) // 8][:8]:
        (lib / p.name).symlink_to(p)
    vocab, protos = tmp_path / "own_vocab.safetensors", tmp_path / "own_protos.safetensors"
    assert main(["motifs", "build", "--data", str(lib), "--out", str(vocab), "--min-support", "2"]) == 0
    script = Path(__file__).parents[2] / "scripts" / "build_motif_prototypes.py"
    (tmp_path / "elsewhere").mkdir()  # the clips are named under --data, so any working folder finds them
    run = subprocess.run([sys.executable, str(script), "--vocab", str(vocab), "--data", str(lib), "--out", str(protos)],
                         capture_output=True, text=True, cwd=tmp_path / "elsewhere")
    assert run.returncode == 0, run.stderr
    refused = subprocess.run([sys.executable, str(script), "--vocab", str(vocab), "--data", str(lib)],
                             capture_output=True, text=True)  # would have replaced the shipped prototypes
    assert refused.returncode == 2 and "--out is needed with --bundle/--vocab" in refused.stderr
    from a4mer.heads.motif_conditioned import MotifPrototypes
    from a4mer.model import A4Mer
    own = A4Mer.load(vocab=str(vocab)).vocab
    assert all(e["clip"] in {q.name for q in lib.iterdir()} for ex in own.examples for e in ex)
    p = MotifPrototypes.load(protos, vocab_hash=own.hash)
    mid = next(i for i in range(p.num_motifs) if p.has(i))
    clip = str(bvh[1])
    capsys.readouterr()
    base = ["extend", clip, "--frames", "30", "--motif", str(mid), "--vocab", str(vocab)]
    assert main(base + ["-o", str(tmp_path / "no_protos.npz")]) == 1
    err = capsys.readouterr().err
    assert f"but the model's vocabulary is {own.hash}" in err and "--prototypes FILE" in err, err
    # the id range is the loaded vocabulary's, not the shipped one's
    too_big = ["extend", clip, "--frames", "30", "--motif", str(own.num_motifs), "--vocab", str(vocab),
               "--prototypes", str(protos), "-o", str(tmp_path / "x.npz")]
    assert main(too_big) == 1
    assert f"vocabulary has {own.num_motifs} motifs" in capsys.readouterr().err
    out = tmp_path / "ext.npz"
    assert main(base[:3] + ["90"] + base[4:] + ["--prototypes", str(protos), "-o", str(out)]) == 0
    side = json.loads(out.with_suffix(".quality.json").read_text())
    assert side["method"].startswith(f"motif {mid} prototype") and side["motif"]["played_spans"], side
    # 6 frames are too few for any motif: the plain continuation, said once and consistently
    capsys.readouterr()
    assert main(base[:3] + ["6"] + base[4:] + ["--prototypes", str(protos), "-o", str(out)]) == 0
    side, err = json.loads(out.with_suffix(".quality.json").read_text()), capsys.readouterr().err
    assert "too few to play motif" in err and "segmented again" not in err, err
    assert not side["method"].startswith("motif") and side["motif"]["played_spans"] == [], side


def _garbled_bvh(src, dst, frames, how):
    """A copy of BVH ``src`` whose motion lines ``frames`` hold something else: zero rotations (markers
    lost), the frame before repeated (a frozen capture), random numbers in every channel or NaN (dropouts)."""
    lines = src.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Frame Time")) + 1
    rng = np.random.default_rng(0)
    for f in frames:
        vals = lines[first + f].split()
        lines[first + f] = (" ".join(vals[:3] + ["0"] * (len(vals) - 3)) if how == "zero" else
                            " ".join(f"{v:.3f}" for v in rng.uniform(-180, 180, len(vals))) if how == "random"
                            else " ".join(["nan"] * len(vals)) if how == "nan" else lines[first + frames[0] - 1])
    dst.write_text("\n".join(lines) + "\n")
    return dst


@pytest.mark.parametrize("how", ["zero", "hold", "random", "nan"])
@pytest.mark.parametrize("cut", ["gap", "keys", "key-frames"])
def test_what_a_bvh_holds_in_the_gap_changes_nothing(tmp_path, repo_root, how, cut):
    """A BVH read with clip-calibrated twist (a Bandai take): the frames inside the gap calibrated the
    retargeting and the floor, so garbage there turned every kept frame by up to 93 degrees (a frozen
    gap: 6 degrees). Only the kept frames calibrate the reading now; that includes the file's unit
    (random positions in the gap made it read metres, with ``--scale 1`` 100 x the root's travel) and the
    floor (found first on every frame: "no floor to put the clip on")."""
    src = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    gap = {"gap": list(range(61, 90)), "keys": [f for f in range(1, 120) if f % 20],
           "key-frames": [f for f in range(31, 90) if f % 15]}[cut]
    bad = _garbled_bvh(src, tmp_path / "garbled.bvh", gap, how)
    args = {"gap": ["--start", "60", "--end", "90", "--floor"], "keys": ["--keys", "20"],  # keys of a walk show
            "key-frames": ["--key-frames", "30,45,60,75,90", "--floor", "--scale", "1"]}[cut]  # no still foot
    for name, path in (("clean", src), ("garbled", bad)):
        assert main(["inbetween", str(path), *args, "--heads", "none", "-o", str(tmp_path / f"{name}.npz")]) == 0
    a, b = np.load(tmp_path / "clean.npz"), np.load(tmp_path / "garbled.npz")
    np.testing.assert_allclose(b["poses"], a["poses"], atol=1e-9)
    np.testing.assert_allclose(b["trans"], a["trans"], atol=1e-9)


def test_object_arrays_of_an_npz_are_carried_over_unread(tmp_path):
    """An npz with an object array (a ``meta`` dict saved by another tool): the output silently lost it;
    it is copied as stored (never unpickled)."""
    src = _npz(tmp_path / "in.npz")
    z = dict(np.load(src))
    z["meta"] = np.array({"subject": "s01", "note": "take 3"}, dtype=object)
    np.savez(src, **z)
    for verb in (["inbetween", "--start", "50", "--end", "90"], ["extend", "--frames", "20"]):
        out = tmp_path / f"{verb[0]}.npz"
        assert main([verb[0], str(src), *verb[1:], "--heads", "none", "-o", str(out)]) == 0
        with np.load(out, allow_pickle=True) as o:
            assert o["meta"].item() == {"subject": "s01", "note": "take 3"} and o["poses"].shape[0] >= 150


def test_nan_in_the_gap_of_an_npz_is_filled_and_nan_elsewhere_named(tmp_path, capsys):
    """Dropouts (NaN) in the frames to generate were refused ("contains NaN or infinite values"): what the
    gap holds is ignored, NaN too. NaN on a kept frame is an error naming that frame; ``extend`` (every
    frame is context) refuses any."""
    src = _npz(tmp_path / "in.npz")
    z = dict(np.load(src))
    clean = tmp_path / "clean.npz"
    assert main(["inbetween", str(src), "--start", "50", "--end", "90", "--heads", "none", "-o", str(clean)]) == 0
    z["poses"][60:70, 3:9] = np.nan
    z["trans"][75] = np.inf
    np.savez(src, **z)
    assert main(["inbetween", str(src), "--start", "50", "--end", "90", "--heads", "none", "-o", str(tmp_path / "o.npz")]) == 0
    a, b = np.load(clean), np.load(tmp_path / "o.npz")
    np.testing.assert_array_equal(b["poses"], a["poses"])
    np.testing.assert_array_equal(b["trans"], a["trans"])
    capsys.readouterr()
    assert main(["inbetween", str(src), "--start", "65", "--end", "90", "--heads", "none", "-o", str(tmp_path / "x.npz")]) == 1
    assert "NaN/inf values in frame(s) 60, 61, 62, 63, 64, ... (counting from 0, as the gap's start/end and key frames do), outside the frames to generate" in capsys.readouterr().err
    assert main(["extend", str(src), "--frames", "10", "-o", str(tmp_path / "x.npz")]) == 1
    assert "contains NaN or infinite values (first in frame 60)" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_frames_outside_the_key_frames_are_the_files(tmp_path, repo_root):
    """``--key-frames 30,45,60``: the frames before the first key and after the last are not generated,
    so they are the file's frames, read with the keys and those frames calibrating the reading (they were
    held at the first / last key: a walk frozen for 1 s at each end)."""
    from a4mer.api import load_motion
    src = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    assert main(["inbetween", str(src), "--key-frames", "30,45,60", "--heads", "none", "-o", str(tmp_path / "o.npz")]) == 0
    out = load_motion(tmp_path / "o.npz")
    known = np.ones(out.num_frames, bool)
    known[31:60] = False
    known[45] = True
    ref = load_motion(src, keep_reference_frames=True, known=known)
    outside = np.r_[0:30, 61:len(known)]
    assert np.ptp(out.root_translation[:30, :2], axis=0).max() > 0.3  # the walk goes on
    np.testing.assert_allclose(out.root_translation[outside], ref.root_translation[outside], atol=1e-6)
    dots = np.abs(np.sum(out.rotations[outside] * ref.rotations[outside], axis=-1))  # q and -q: one turn
    assert dots.min() > 1 - 1e-9


@pytest.mark.parametrize("layout", [72, 156])
def test_npz_layouts_written_back(tmp_path, layout):
    """Split keys: SMPL-H's ``pose_hand`` took SMPL-X's columns, and an SMPL npz's ``root_orient`` /
    ``pose_body`` were not written, so they kept the input's rows on generated frames; an npz without
    ``trans`` (root at the origin) gained one with the heads' drift in it."""
    src = _npz(tmp_path / "in.npz", layout=layout)
    z = dict(np.load(src))
    split = (("root_orient", slice(0, 3)), ("pose_body", slice(3, 66)))
    split += (("pose_hand", slice(66, 156)),) if layout == 156 else ()
    for k, cols in split:
        z[k] = z["poses"][:, cols].copy()
        z[k][60:80] = 0.0  # what the gap holds is ignored
    np.savez(src, **z)
    assert main(["inbetween", str(src), "--start", "50", "--end", "90", "-o", str(tmp_path / "h.npz"), "--heads", "none"]) == 0
    h = np.load(tmp_path / "h.npz")
    for k, cols in split:
        np.testing.assert_array_equal(h[k], h["poses"][:, cols])
    # split keys alone (no poses) are read, and written back alone; AMASS's duration follows the frames
    alone = {k: v for k, v in z.items() if k != "poses"}
    np.savez(tmp_path / "alone.npz", **alone, mocap_time_length=np.array(len(z["trans"]) / 30.0))
    assert main(["extend", str(tmp_path / "alone.npz"), "--frames", "20", "-o", str(tmp_path / "alone_out.npz"),
                 "--heads", "none"]) == 0
    a = np.load(tmp_path / "alone_out.npz")
    assert "poses" not in a.files and all(a[k].shape[0] == len(z["trans"]) + 20 for k, _ in split)
    np.testing.assert_array_equal(a["pose_body"][:len(z["trans"])], alone["pose_body"])
    assert float(a["mocap_time_length"]) == pytest.approx((len(z["trans"]) + 20) / 30.0)
    del z["trans"]
    np.savez(tmp_path / "nt.npz", **z)
    for verb in (["inbetween", "--start", "50", "--end", "90"], ["extend", "--frames", "20"]):
        assert main([verb[0], str(tmp_path / "nt.npz"), *verb[1:], "-o", str(tmp_path / "nt_out.npz")]) == 0
        assert "trans" not in np.load(tmp_path / "nt_out.npz").files


@pytest.mark.parametrize("kind", ["no_trans", "float16"])
def test_the_sidecar_and_the_api_describe_what_the_file_holds(tmp_path, kind):
    """An npz without ``trans`` cannot hold the root motion the heads generate, and a float16 one holds
    the generated rows rounded: the sidecar described the float64 result instead (jerk 4.7 against 3.0
    from the file; 7.7 against 29.9), and the API's result differed from the file by up to 44 mm."""
    from a4mer.api import load_motion
    from a4mer.bench.metrics import body_fk, jerk
    from a4mer.heads.files import default_heads
    z = dict(np.load(_npz(tmp_path / "in.npz")))
    if kind == "no_trans":
        del z["trans"]
    else:
        z = {k: v.astype(np.float16) if k in ("poses", "trans") else v for k, v in z.items()}
    np.savez(tmp_path / "in.npz", **z)
    for verb, args, span in (("inbetween", ["--start", "50", "--end", "90"], (51, 89)),
                             ("extend", ["--frames", "30"], (150, 179))):
        out = tmp_path / f"{verb}.npz"
        assert main([verb, str(tmp_path / "in.npz"), *args, "-o", str(out)]) == 0
        side = json.loads(out.with_name(f"{verb}.quality.json").read_text())
        written = load_motion(out)
        pos, _ = body_fk(written.rotations, written.root_translation)
        assert side["jerk_m_s3"] == pytest.approx(jerk(pos[span[0] - 1:span[1] + 2], 30.0), rel=1e-6)
        if kind == "no_trans":  # the API gives what the command writes
            clip = load_motion(tmp_path / "in.npz")
            api = (default_heads().inbetween(clip, 50, 90) if verb == "inbetween"
                   else default_heads().extend_clip(clip, 30))
            assert np.abs(api.root_translation - written.root_translation).max() < 1e-9


def test_a_pose_only_clip_given_a_root_path_keeps_it(tmp_path):
    """A clip read from an npz without ``trans`` keeps ``meta['no_trans']`` when the user gives it a root
    path (``with_``) or joins it to a walk (``concatenate``): the heads then set the root of every frame,
    kept frames and keys too, to frame 0's (kept frames moved by metres). A root that moves is kept."""
    from a4mer.api import load_motion
    from a4mer.heads.files import default_heads
    from a4mer.motion import concatenate
    walk = load_motion(_npz(tmp_path / "in.npz"))
    z = dict(np.load(tmp_path / "in.npz"))
    del z["trans"]
    np.savez(tmp_path / "nt.npz", **z)
    pose_only = load_motion(tmp_path / "nt.npz")
    path = walk.root_translation + [[1.0, 2.0, 0.0]]
    heads = default_heads()
    for clip, gap in ((pose_only.with_(root_translation=path), (50, 90)), (concatenate([pose_only, walk]), (100, 140))):
        assert clip.meta["no_trans"] and np.ptp(clip.root_translation, axis=0).max() > 0.5
        out = heads.inbetween(clip, *gap)
        kept = np.r_[0:gap[0] + 1, gap[1]:clip.num_frames]
        np.testing.assert_array_equal(out.root_translation[kept], clip.root_translation[kept])
        ext = heads.extend_clip(clip, 20)
        np.testing.assert_array_equal(ext.root_translation[:clip.num_frames], clip.root_translation)
    held = heads.inbetween(pose_only, 50, 90)  # still: a file without trans holds the root where it is
    assert np.ptp(held.root_translation, axis=0).max() == 0.0


def test_an_integer_npz_gets_real_generated_rows(tmp_path):
    """``poses`` and ``trans`` stored as integers (a whole-radian, whole-metre clip): the generated rows
    were cast to the input's integer dtype, truncated to 0/1/2 rad; the output holds them as floats and
    the kept rows as they were."""
    src = _npz(tmp_path / "f.npz", layout=72)
    z = dict(np.load(src))
    z["poses"] = np.round(z["poses"] * 10).astype(np.int32)
    z["trans"] = np.round(z["trans"]).astype(np.int64)
    np.savez(tmp_path / "int.npz", **z)
    assert main(["inbetween", str(tmp_path / "int.npz"), "--start", "50", "--end", "90", "-o", str(tmp_path / "o.npz"),
                 "--heads", "none"]) == 0
    o = np.load(tmp_path / "o.npz")
    assert o["poses"].dtype == np.float64 and o["trans"].dtype == np.float64
    np.testing.assert_array_equal(o["poses"][:51], z["poses"][:51])
    gen = o["poses"][51:90]
    assert np.abs(gen - np.round(gen)).max() > 0.05  # not whole numbers


def test_floor_moves_every_row_of_an_npz(tmp_path, repo_root):
    """``--floor`` on an npz: every row of ``trans`` moves by the same shift (the kept rows stayed put
    while the generated ones were on the floor)."""
    from a4mer.api import load_motion
    from a4mer.export import export
    src = export(load_motion(repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"), tmp_path / "w.npz", "npz")
    z = dict(np.load(src))
    z["trans"][:, 2] -= 0.11  # 11 cm under its floor
    np.savez(src, **z)
    for verb in (["inbetween", "--start", "60", "--end", "90"], ["extend", "--frames", "20"]):
        out = tmp_path / f"{verb[0]}.npz"
        assert main([verb[0], str(src), *verb[1:], "--floor", "-o", str(out)]) == 0
        t = np.load(out)["trans"]
        dz = t[:len(z["trans"]), 2] - z["trans"][:, 2]
        kept = np.ones(len(dz), bool)
        if verb[0] == "inbetween":
            kept[61:90] = False
        assert 0.09 < dz[kept].mean() < 0.14 and np.ptp(dz[kept]) < 1e-9
        assert np.abs(np.diff(t[:, 2])).max() < 0.03  # no step at the keys or the seam


def test_blocking_context_is_the_motion_around_each_span(tmp_path):
    """Keyed from frame 15 on, a take that stands still for its first and last half second: every span was
    compared with those held frames (0.5 mm per frame against the 13 mm the motion moves), so each looked
    like a jump. Each span's context is now the kept frames within 1 s of it, and between sparse keys the
    step its keys imply: the same as when the keys start at frame 0."""
    src = _npz(tmp_path / "in.npz", T=150, layout=72)
    a = dict(np.load(src))
    a["poses"][:15], a["trans"][:15] = a["poses"][15], a["trans"][15]  # held before the first key
    a["poses"][135:], a["trans"][135:] = a["poses"][135], a["trans"][135]  # and after the last
    np.savez(src, **a)
    reports = []
    for keys in ("15,35,55,75,95,115,135", "0,15,35,55,75,95,115,135,149"):
        out = tmp_path / f"k{len(keys)}.npz"
        assert main(["inbetween", str(src), "--key-frames", keys, "-o", str(out), "--heads", "none"]) == 0
        spans = json.loads(out.with_suffix(".quality.json").read_text())["spans"]
        reports.append({tuple(sp["span"]): sp for sp in spans})
    for span in [(56, 74), (76, 94)]:  # middle spans: over a second from the held ends
        own, ref = reports[0][span], reports[1][span]
        assert own["context_frame_step_mm"] == pytest.approx(ref["context_frame_step_mm"])
        step = np.linalg.norm(np.diff(a["trans"][55:76], axis=0), axis=-1).mean() * 1000.0  # the root's own pace
        assert own["context_frame_step_mm"] > 0.5 * step
        assert own["context_jerk_m_s3"] is None


def test_sidecar_says_how_much_learned_correction_a_span_got(tmp_path, repo_root):
    """The sidecar's ``learned_share`` is the share of the learned correction a span got (its familiarity
    gate times how much the motion around it moves). On a real walk the correction is applied in full;
    in a held pose it fades out, and the span is named the classical curve it then is."""
    src = repo_root / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    out = tmp_path / "walk.npz"
    assert main(["inbetween", str(src), "--start", "40", "--end", "71", "-o", str(out)]) == 0
    side = json.loads(out.with_suffix(".quality.json").read_text())
    assert side["method"] == "learned" and side["learned_share"] > 0.9
    held = _npz(tmp_path / "held.npz", T=150, layout=72)
    a = dict(np.load(held))
    a["poses"][:], a["trans"][:] = a["poses"][0], a["trans"][0]  # one pose held for 5 s
    np.savez(held, **a)
    out = tmp_path / "h.npz"
    assert main(["inbetween", str(held), "--key-frames", "0,40,71,149", "-o", str(out)]) == 0
    spans = json.loads(out.with_suffix(".quality.json").read_text())["spans"]
    assert [sp["learned_share"] for sp in spans] == [0.0, 0.0, 0.0]
    assert all(sp["method"].startswith("classical curve (the learned correction faded out to 0%") for sp in spans)
    assert main(["inbetween", str(held), "--key-frames", "0,40,71,149", "-o", str(out), "--heads", "none"]) == 0
    assert all(sp["learned_share"] is None for sp in json.loads(out.with_suffix(".quality.json").read_text())["spans"])
    # extension alike
    sides = {}
    for name, clip in (("walk", src), ("held", held)):
        assert main(["extend", str(clip), "--frames", "30", "-o", str(tmp_path / f"e_{name}.npz")]) == 0
        sides[name] = json.loads((tmp_path / f"e_{name}.quality.json").read_text())
    assert sides["walk"]["method"].startswith("learned") and sides["walk"]["learned_share"] > 0.9
    assert sides["held"]["learned_share"] == 0.0
    assert sides["held"]["method"].startswith("damped constant velocity (the learned correction faded out to 0%")


def test_a_mistyped_heads_word_names_the_words(tmp_path, capsys):
    """``--heads autox`` said "heads file not found"; it names the words it takes."""
    src = _npz(tmp_path / "in.npz")
    for verb in (["inbetween", "--start", "40", "--end", "60"], ["extend", "--frames", "5"]):
        assert main([verb[0], str(src), *verb[1:], "--heads", "autox", "-o", str(tmp_path / "o.npz")]) == 1
        assert "--heads autox: neither 'auto', 'none' or 'tokens' nor a heads file" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()


def test_key_frames_out_of_order_or_twice_are_a_note_and_an_empty_entry_an_error(tmp_path, capsys):
    """``--key-frames 60,30,30,90`` was used as 30,60,90 without a word; ``0,,60`` as 0,60."""
    src = _npz(tmp_path / "in.npz")
    assert main(["inbetween", str(src), "--key-frames", "60,30,30,90,", "--heads", "none", "-o", str(tmp_path / "a.npz")]) == 0
    assert "note: --key-frames taken in order, each once: 30,60,90" in capsys.readouterr().err
    assert main(["inbetween", str(src), "--key-frames", "30,60,90,", "--heads", "none", "-o", str(tmp_path / "b.npz")]) == 0
    assert "note" not in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "a.npz")["poses"], np.load(tmp_path / "b.npz")["poses"])
    assert main(["inbetween", str(src), "--key-frames", "0,,60", "--heads", "none", "-o", str(tmp_path / "c.npz")]) == 1
    assert "--key-frames has an empty entry: '0,,60'" in capsys.readouterr().err


def test_bench_keeps_its_outputs_one_set_and_the_users_own_files(tmp_path, capsys, monkeypatch):
    """A re-run with fewer --tasks left the earlier run's plots beside the new page; an interrupt between the
    JSON and the page left one run's JSON beside another's page; a user's own heads_bench.json/.md in --out
    were replaced; a bad manifest line was a traceback; --data . named its data set ''; --max-clips chose
    unreadable clips, measuring fewer than it said; --doc added a second "## Heads I" to a page whose
    section had no a4mer markers."""
    from a4mer.bench import report
    data = tmp_path / "clips"
    data.mkdir()
    for i in range(4):
        _npz(data / f"c{i}.npz", T=130, seed=i)
    out = tmp_path / "b"
    base = ["bench", "--heads", "none", "--tokens", "none"]
    assert main([*base, "--data", str(data), "--out", str(out), "--tasks", "inbetween,extension"]) == 0
    assert (out / "heads_inbetween.png").is_file()
    first = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(report, "markdown", interrupted)
    assert main([*base, "--data", str(data), "--out", str(out), "--tasks", "extension", "--max-clips", "1"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # the earlier set, whole; no temporary folder
    assert main([*base, "--data", str(data), "--out", str(tmp_path / "new"), "--tasks", "extension"]) == 130
    monkeypatch.undo()
    assert not (tmp_path / "new").exists()  # a folder it made is removed again
    (data / "c2.npz").write_bytes(b"not a zip")  # evenly chosen with --max-clips 3: c0, c2 and c4
    _npz(data / "c4.npz", T=130, seed=4)
    assert main([*base, "--data", str(data), "--out", str(out), "--tasks", "extension", "--max-clips", "3"]) == 1
    res = json.loads((out / "heads_bench.json").read_text())
    assert res["meta"]["clip_names"] == ["c0.npz", "c1.npz", "c4.npz"]  # c1 takes the unreadable c2's place
    assert sorted(p.name for p in out.iterdir()) == ["heads_bench.json", "heads_bench.md", "heads_extension.png"]
    capsys.readouterr()
    for name, text in (("heads_bench.json", '{"my": "own results"}'), ("heads_bench.md", "my own notes\n")):
        mine = tmp_path / "mine"
        mine.mkdir(exist_ok=True)
        (mine / name).write_text(text)
        assert main([*base, "--data", str(data), "--out", str(mine), "--tasks", "extension"]) == 1
        assert f"{name}: exists already and is not a result of a4mer bench" in capsys.readouterr().err
        assert (mine / name).read_text() == text
        (mine / name).unlink()
    # a plot of a4mer's name that it did not draw is the user's own too (it was replaced, or removed as the
    # earlier run's when fewer tasks were asked); a4mer's plots carry its mark
    assert report.is_our_plot(out / "heads_extension.png") and not report.is_our_plot(out / "heads_bench.md")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    fig.savefig(mine / "heads_inbetween.png")
    plt.close(fig)
    own = (mine / "heads_inbetween.png").read_bytes()
    for tasks in ("inbetween", "extension"):
        assert main([*base, "--data", str(data), "--out", str(mine), "--tasks", tasks]) == 1
        assert "heads_inbetween.png: exists already and is not a result of a4mer bench" in capsys.readouterr().err
    assert (mine / "heads_inbetween.png").read_bytes() == own and sorted(p.name for p in mine.iterdir()) == ["heads_inbetween.png"]
    # plots drawn before plots were marked, beside a4mer's own result, are a4mer's
    import shutil
    legacy = tmp_path / "legacy"
    shutil.copytree(out, legacy)
    shutil.copy(mine / "heads_inbetween.png", legacy / "heads_extension.png")
    assert main([*base, "--data", str(data), "--out", str(legacy), "--tasks", "extension", "--max-clips", "1"]) == 0
    assert report.is_our_plot(legacy / "heads_extension.png")
    capsys.readouterr()
    monkeypatch.chdir(data)
    doc = tmp_path / "page.md"
    doc.write_text("# Results\n\n## Heads I\n\nold numbers\n\n## Other\n\nkept\n")
    assert main([*base, "--data", ".", "--out", str(tmp_path / "dot"), "--tasks", "extension", "--doc", str(doc)]) == 1
    assert json.loads((tmp_path / "dot" / "heads_bench.json").read_text())["meta"]["datasets"] == {"clips": 4}
    page = doc.read_text()
    assert page.count("## Heads I") == 1 and "old numbers" not in page and page.endswith("## Other\n\nkept\n")
    (data / "manifest.jsonl").write_text('{"path": "c0.npz", "dataset": "x"}\n{"path": "c4.npz", "data\n')
    assert main([*base, "--data", str(data), "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "manifest.jsonl:2: bad manifest line" in err and "Traceback" not in err


def test_the_method_of_a_key_frames_span_is_what_blocking_did(tmp_path, repo_root):
    """--key-frames fills from the keys alone; the sidecar named the method as for a gap in dense frames:
    "classical curve" beside learned_share 1.0 (120 fps), or for keys 4 frames apart (the natural spline)."""
    from a4mer.heads.files import default_heads
    bvh = str(repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh")
    for fps, keys, want in ((120, "100,130", default_heads().name), (30, "10,14", "natural cubic spline")):
        clip = tmp_path / f"walk{fps}.npz"
        assert main(["convert", bvh, "--fps", str(fps), "-o", str(clip)]) == 0
        assert main(["inbetween", str(clip), "--key-frames", keys, "-o", str(tmp_path / "out.npz")]) == 0
        q = json.loads((tmp_path / "out.quality.json").read_text())
        assert q["task"] == "blocking" and q["method"].startswith(want), q["method"]


def test_an_output_of_an_npz_without_a_rate_says_its_rate(tmp_path, capsys):
    """An npz with no frame-rate key, read with --source-fps: the output had none either, so a4mer info
    (or the next command) could not read it without --source-fps again."""
    src = _npz(tmp_path / "in.npz")
    z = {k: v for k, v in np.load(src).items() if k not in ("mocap_framerate", "mocap_frame_rate")}
    np.savez(src, **z)
    out = tmp_path / "out.npz"
    assert main(["extend", str(src), "--frames", "10", "--source-fps", "30", "-o", str(out), "--heads", "none"]) == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fps"] == 30.0
