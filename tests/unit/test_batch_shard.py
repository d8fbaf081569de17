"""a4mer batch without Blender: discovery, sharding, gaps, skip/force, temp+rename, failures, summary.

The orchestration is exercised with a STAND-IN worker (written below into tmp_path) that obeys the
worker's command line and output protocol, so these tests stay fast; the real worker (bpy) is tested
in tests/blender/test_batch.py.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from a4mer import batch
from a4mer.batch import workdirs, workers
from a4mer.cli._common import collect_inputs
from a4mer.cli.main import main
from a4mer.errors import A4merError

# --- stand-in worker (test only) ---------------------------------------------------------------
FAKE = r'''
import json, os, sys, tempfile, time
from a4mer import batch


def clip(a):
    opt = lambda k: a[a.index(k) + 1] if k in a else None
    src, out, name = opt("--input"), opt("--out-dir"), opt("--name")
    batch.hold_dir(out)  # as the real worker does: its folder stays in use while it works, even if the batch died
    text = open(src, "rb").read()
    open(src + ".pid", "w").write(str(os.getpid()))
    open(src + ".tmpdir", "w").write(os.environ.get("TMPDIR", ""))
    if b"CRASH" in text:
        open(os.path.join(out, name + ".blend"), "wb").write(b"half")  # partial file, then a hard crash
        os.abort()
    if b"UTF8" in text:  # Blender's C code prints UTF-8 bytes whatever the console's code page
        sys.stdout.buffer.write(('Info: Saved copy as "' + name + '.blend"\n').encode("utf-8"))
        sys.stdout.flush()
    if b"BAD" in text:
        return {"error": src + ": not a BVH file (no HIERARCHY section)"}
    if b"BUG" in text:
        return {"error": "KeyError: 'x'", "unexpected": True}
    if b"SLOW" in text:
        open(src + ".started", "w").write(str(os.getpid()))
        time.sleep(60)
    if b"SPAWN" in text:  # what the add-on runner does: a job folder in the temp dir, a model subprocess
        import subprocess
        d = tempfile.mkdtemp(prefix="a4mer_job_")
        from a4mer import processes  # started as the add-on runner starts its model process
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **processes.worker_group())
        open(src + ".info", "w").write(json.dumps({"pid": child.pid, "dir": d}))
        time.sleep(60)
    T, fps = 24, 30.0
    atoms = [{"start_frame": s, "end_frame": s + 6, "start_t": s / fps, "end_t": (s + 6) / fps, "code": s % 4}
             for s in range(0, T, 6)]
    motifs = [{"start_frame": 0, "end_frame": 12, "start_t": 0, "end_t": 0.4, "motif_id": 1, "atoms": [0, 1], "confidence": 1},
              {"start_frame": 12, "end_frame": 24, "start_t": 0.4, "end_t": 0.8, "motif_id": 2, "atoms": [2, 3], "confidence": 1}]
    files = []
    if "--segment" in a:
        json.dump({"schema_version": 1, "model_hash": "x", "vocab_hash": "y", "fps": fps, "duration": T / fps,
                   "atoms": atoms, "motifs": motifs}, open(os.path.join(out, name + ".segments.json"), "w"))
        files.append(name + ".segments.json")
    if "--motion-npz" in a:
        import numpy as np
        from a4mer.io import write_amass_npz
        from a4mer.motion import Motion
        q = np.zeros((T, 24, 4)); q[..., 0] = 1.0
        write_amass_npz(Motion(fps, np.zeros((T, 3)) + [0, 0, 0.9], q), os.path.join(out, batch.motion_file(name)))
    open(os.path.join(out, name + ".blend"), "wb").write(b"BLENDER-fake " + text[:20])
    files.append(name + ".blend")
    batch.let_go(out)
    return {"input": src, "name": name, "objects": [{"object": "SMPL", "stem": name}],
            "notes": ["fill-gaps: no gaps"] if "--fill-gaps" in a else [], "outputs": files, "pid": os.getpid()}


if sys.argv[1] == "-c":  # a4mer batch asking what this interpreter has (cli.batch.probe_interpreter)
    print("A4MER_PROBE " + os.environ.get("FAKE_PROBE", '{"bpy": true, "torch": false, "device": null}'))
    sys.exit(0)
assert sys.argv[sys.argv.index("a4mer_blender.batch_worker") + 1:] == ["--serve"]
time.sleep(float(os.environ.get("FAKE_STARTUP_S", "0")))  # Blender and torch starting
# as the Blender executable (``--blender``) does when it starts: a killed one leaves it behind (the bpy
# module starts inside the first clip, with its temporary files already in that clip's folder)
tempfile.mkdtemp(prefix="blender_")
batch.hold_dir(tempfile.gettempdir())  # as the real worker does: its temporary folder stays in use while it runs
print("A4MER_READY", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    tempfile.tempdir = req["tmpdir"]
    print("A4MER_RESULT " + json.dumps({**clip(req["argv"]), "request": req["id"]}), flush=True)
'''


@pytest.fixture
def fake_python(tmp_path):
    """An interpreter stand-in: ``FAKE -m a4mer_blender.batch_worker ARGS`` runs the script above."""
    script = tmp_path / "fake_worker.py"
    script.write_text(FAKE)
    exe = tmp_path / "fakepy"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def _clips(root: Path, names: dict[str, bytes]) -> Path:
    for rel, data in names.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


# --- sharding ----------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_disjoint_complete_deterministic(n):
    jobs = [batch.ClipJob(Path(f"/d/c{i}.bvh"), f"clip_{i:03d}") for i in range(200)]
    parts = [batch.select_shard(jobs, (k, n)) for k in range(1, n + 1)]
    names = [j.name for p in parts for j in p]
    assert sorted(names) == sorted(j.name for j in jobs)  # every clip exactly once
    assert len(names) == len(set(names))
    if n > 1:
        assert all(len(p) > 0 for p in parts)
    shuffled = list(reversed(jobs))  # another listing order, another mount point: same shard per clip
    moved = [batch.ClipJob(Path("/mnt/farm") / j.path.name, j.name) for j in shuffled]
    for k in range(1, n + 1):
        assert {j.name for j in batch.select_shard(moved, (k, n))} == {j.name for j in parts[k - 1]}
    more = jobs + [batch.ClipJob(Path("/d/new.bvh"), "new_clip")]  # adding a clip moves no other clip
    for k in range(1, n + 1):
        assert {j.name for j in batch.select_shard(more, (k, n))} - {"new_clip"} == {j.name for j in parts[k - 1]}


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "2", ""])
def test_parse_shard_errors(text):
    with pytest.raises(A4merError, match="shard"):
        batch.parse_shard(text)


def test_parse_shard_ok():
    assert batch.parse_shard("2/5") == (2, 5) and batch.parse_shard(" 1 / 1 ") == (1, 1)


# --- discovery ---------------------------------------------------------------------------------
def test_discover_folders_names_and_exclusions(tmp_path):
    root = _clips(tmp_path / "in", {"a/walk.bvh": b"1", "b/walk.bvh": b"2", "run.npz": b"3", "kick.amc": b"4",
                                    "kick.asf": b"5", "scene.blend": b"6", ".hidden.bvh": b"7",
                                    ".cache/x.bvh": b"8", "notes.txt": b"9", "c/d/take 1.bvh": b"a"})
    out = root / "out"
    _clips(out, {"old.blend": b"x"})
    jobs = batch.discover([root], exclude=out)
    got = {j.name: j.path.relative_to(root).as_posix() for j in jobs}
    assert got == {"a__walk": "a/walk.bvh", "b__walk": "b/walk.bvh", "run": "run.npz", "kick": "kick.amc",
                   "scene": "scene.blend", "c__d__take_1": "c/d/take 1.bvh"}
    direct = batch.discover([root / "run.npz", root / "notes.txt"])
    assert [j.name for j in direct] == ["run", "notes"]  # given files are taken as they are (fail by name)
    assert [j.name for j in batch.discover([root / "a"])] == ["walk"]  # the path below the folder given
    # a broken symbolic link in a folder is a clip that fails by name, not one that vanishes
    (root / "gone.bvh").symlink_to(tmp_path / "nowhere.bvh")
    assert "gone" in [j.name for j in batch.discover([root], exclude=out)]
    assert root / "gone.bvh" in collect_inputs([str(root)])
    with pytest.raises(A4merError, match="no input clips"):
        batch.discover([_clips(tmp_path / "e", {"x.txt": b""})])


@pytest.mark.parametrize("files, given", [
    ({"walk.bvh": b"1", "walk.npz": b"2"}, ["."]),  # one take in two formats
    ({"Walk.bvh": b"1", "walk.bvh": b"2"}, ["."]),  # one file on macOS / Windows
    ({"walk 1.bvh": b"1", "walk_1.bvh": b"2"}, ["."]),  # equal once made safe as a file name
    ({"a/takes/walk.bvh": b"1", "b/takes/walk.bvh": b"2"}, ["a/takes", "b/takes"]),  # two folders of one name
    ({"a/walk.bvh": b"1", "b/walk.bvh": b"2"}, ["a/walk.bvh", "b/walk.bvh"]),  # files given directly
    ({"x/y.bvh": b"1", "x__y.bvh": b"2"}, ["."])])
def test_inputs_that_would_write_the_same_outputs_are_refused(tmp_path, files, given):
    root = _clips(tmp_path / "in", files)
    with pytest.raises(A4merError, match="would both write") as e:
        batch.discover([root / g for g in given])
    a, b = sorted(files)
    assert str(root / a).replace("/./", "/") in str(e.value).replace("/./", "/")
    assert str(root / b).replace("/./", "/") in str(e.value).replace("/./", "/")
    if "Walk.bvh" in files:  # both names, not "both write walk.*"
        assert "Walk.* and walk.*, one file on a case-blind disk" in str(e.value)


def test_names_that_are_one_file_on_windows_or_macos_are_told_apart():
    """``Walk.bvh`` and ``walk.bvh`` (or ``Tänzer`` spelt with a combining mark, as macOS hands names
    over) are one file where the file system ignores case or Unicode spelling: ``convert`` / ``embed``
    wrote both to it and reported success for each; they are named by their folders now. Batch names
    are composed Unicode, and a Windows device name is not a file name."""
    from a4mer.api import clip_names
    nfd, nfc = "Ta\u0308nzer", "T\u00e4nzer"
    assert clip_names([Path("/s/day1/Walk.bvh"), Path("/s/day2/walk.bvh")]) == ["day1__Walk", "day2__walk"]
    assert clip_names([Path("/s/x/a.bvh"), Path("/s/x/A.npz")]) == ["a_bvh", "A_npz"]
    assert clip_names([Path(f"/s/a/{nfd}.bvh"), Path(f"/s/b/{nfc}.bvh")]) == [f"a__{nfd}", f"b__{nfc}"]
    assert batch.safe_name(nfd) == batch.safe_name(nfc) == nfc
    assert [batch.safe_name(n) for n in ("aux", "COM1.take", "nul", "auxiliary", "con_1")] == \
        ["aux_", "COM1.take_", "nul_", "auxiliary", "con_1"]


def test_adding_a_clip_never_renames_or_reshards_a_finished_one(tmp_path):
    """A clip's name (its outputs, its shard) comes from its own path only: a clip with the same file
    name added in another sub-folder leaves the first one's name alone."""
    root = _clips(tmp_path / "in", {"day1/walk.bvh": b"1", "day1/run.bvh": b"2", "top.bvh": b"3"})
    before = {j.path: j.name for j in batch.discover([root])}
    assert before == {root / "day1/run.bvh": "day1__run", root / "day1/walk.bvh": "day1__walk", root / "top.bvh": "top"}
    _clips(root, {"day2/walk.bvh": b"4", "day2/top.bvh": b"5", "walk.bvh": b"6"})
    after = {j.path: j.name for j in batch.discover([root])}
    assert {p: after[p] for p in before} == before
    for n in (2, 3, 4):
        assert all(batch.shard_of(after[p], n) == batch.shard_of(name, n) for p, name in before.items())


def test_a_clip_given_directly_and_in_a_folder_is_named_as_the_folder_names_it_in_any_order(tmp_path):
    """``a4mer batch takes takes/salsa/15.bvh`` named the clip ``salsa__15``, the other order ``15``: a
    redo under another name (and shard). The folder's name wins in either order; the clips keep the order of
    the arguments."""
    root = _clips(tmp_path / "in", {"salsa/15.bvh": b"1", "salsa/16.bvh": b"2", "solo.bvh": b"3"})
    clip, solo = root / "salsa" / "15.bvh", root / "solo.bvh"
    for items in ([root, clip], [clip, root]):
        assert {j.path: j.name for j in batch.discover(items)}[clip] == "salsa__15"
    assert [j.name for j in batch.discover([solo, root / "salsa"])] == ["solo", "15", "16"]


def test_several_folder_arguments_name_clips_after_their_folder(tmp_path):
    """``a4mer batch day1 day2`` (each with walk.bvh): day1__walk, day2__walk; one folder keeps the path
    below it; two folders of the same name clash, and the message says how the names were made."""
    root = _clips(tmp_path / "in", {"day1/walk.bvh": b"1", "day2/walk.bvh": b"2", "day2/sub/run.bvh": b"3",
                                    "x/day1/kick.bvh": b"4", "y/day1/walk.bvh": b"5"})
    got = {j.name: j.path for j in batch.discover([root / "day1", root / "day2"])}
    assert got == {"day1__walk": root / "day1/walk.bvh", "day2__walk": root / "day2/walk.bvh",
                   "day2__sub__run": root / "day2/sub/run.bvh"}
    assert sorted(j.name for j in batch.discover([root / "day2"])) == ["sub__run", "walk"]  # as before
    assert sorted(j.name for j in batch.discover([root / "day1", root / "day1"])) == ["walk"]  # one folder, twice
    with pytest.raises(A4merError, match="would both write day1__walk") as e:
        batch.discover([root / "day1", root / "y/day1"])
    assert "with several folders given, a clip is named by its folder's name and its path below it: " \
           "day1/walk -> day1__walk" in str(e.value) and "path below the folder given: day1/walk.bvh" not in str(e.value)


def test_a_blend_beside_a_folder_of_its_name_is_not_refused(tmp_path, fake_python, capsys):
    """``takes/dance.blend`` beside ``takes/dance/solo.bvh``: both run; the .blend's worker is told that
    dance__solo is another input's, so that only an armature really named solo is refused (tests/blender)."""
    root = _clips(tmp_path / "takes", {"dance.blend": b"1", "dance/solo.bvh": b"2", "dance__duo.npz": b"3",
                                       "walk.bvh": b"4"})
    jobs = {j.name: j for j in batch.discover([root])}
    assert sorted(jobs) == ["dance", "dance__duo", "dance__solo", "walk"]
    assert sorted(jobs["dance"].taken) == [("dance__duo", str(root / "dance__duo.npz")),
                                           ("dance__solo", str(root / "dance/solo.bvh"))]
    assert jobs["walk"].taken == () and jobs["dance__solo"].taken == ()
    args = batch.worker_args(jobs["dance"], tmp_path / "t", batch.BatchOptions(out=tmp_path / "o"))
    assert [args[i + 1] for i, a in enumerate(args) if a == "--taken"] == [
        f"dance__solo={root / 'dance/solo.bvh'}", f"dance__duo={root / 'dance__duo.npz'}"]
    code, text = _run([root, "--out", tmp_path / "out", "--python", fake_python], capsys)
    assert code == 0, text
    assert sorted(p.name for p in (tmp_path / "out").glob("*.blend")) == [
        "dance.blend", "dance__duo.blend", "dance__solo.blend", "walk.blend"]


def test_a_clip_never_overwrites_the_files_another_input_wrote(tmp_path, fake_python, capsys):
    """``dance.blend`` (armatures solo, duo) finished earlier wrote ``dance__solo.segments.json``; the
    clip ``dance/solo.bvh`` added later fails by name instead of overwriting it."""
    root = _clips(tmp_path / "takes", {"dance/solo.bvh": b"good solo", "walk.bvh": b"good walk"})
    out = tmp_path / "out"
    theirs = ["dance.blend", "dance__solo.segments.json", "dance__solo.timeline.png", "dance__duo.segments.json"]
    _clips(out, {f: b"the .blend's" for f in theirs})
    _clips(out / "runs", {"20260101T000000Z.json": json.dumps({"clips": [
        {"input": str(root / "dance.blend"), "name": "dance", "status": "ok", "outputs": theirs}]}).encode()})
    code, text = _run([root, "--out", out, "--segment", "--python", fake_python], capsys)
    assert code == 1, text
    assert (f"FAILED  dance__solo ({root / 'dance/solo.bvh'}): would overwrite dance__solo.segments.json, which "
            f"an earlier run wrote for dance ({root / 'dance.blend'})") in text
    assert all((out / f).read_bytes() == b"the .blend's" for f in theirs) and (out / "walk.blend").is_file()
    assert not (out / "dance__solo.blend").exists() and not list(out.glob(".a4mer-*"))
    (out / "dance__solo.segments.json").unlink()  # gone (not wanted any more): the clip may write its files
    (out / "dance__solo.timeline.png").unlink()
    assert _run([root, "--out", out, "--segment", "--python", fake_python], capsys)[0] == 0


def test_discover_a_folder_inside_the_output_folder(tmp_path):
    """``a4mer batch out/in --out out`` (the demo's layout): the input folder lies inside the output
    folder, so every clip is under ``exclude``; only an output folder *inside* the input is skipped."""
    out = tmp_path / "out"
    root = _clips(out / "in", {"shot.blend": b"1", "walk.bvh": b"2"})
    _clips(out, {"done.blend": b"x"})
    assert sorted(j.name for j in batch.discover([root], exclude=out)) == ["shot", "walk"]
    assert [p.name for p in collect_inputs([str(root)], exclude=out)] == ["walk.bvh"]  # convert takes no .blend


# --- whole runs with the stand-in worker --------------------------------------------------------
def _run(args, capsys):
    code = main(["batch", *map(str, args)])
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def test_batch_reads_a_workers_utf8_output_under_a_windows_code_page(tmp_path, fake_python, capsys, monkeypatch):
    """On Windows a pipe read as text is decoded in the ANSI code page (cp1252 here), but Blender writes
    UTF-8 (``Saved copy as "歩く.blend"``): a clip with a Japanese or Polish name failed with
    UnicodeDecodeError, and a failure's reason naming such a file was garbled. Pipes are read as UTF-8."""
    import locale
    monkeypatch.setattr(locale, "getencoding", lambda: "cp1252")
    root = _clips(tmp_path / "in", {"歩く.bvh": b"UTF8 good", "Łódź.bvh": b"UTF8 BAD"})
    out = tmp_path / "out"
    code, _ = _run([root, "--out", out, "--python", fake_python], capsys)
    assert code == 1
    summ = json.loads(next((out / "runs").iterdir()).read_text(encoding="utf-8"))
    by = {c["name"]: c for c in summ["clips"]}
    assert by["歩く"]["status"] == "ok", by["歩く"]
    assert by["Łódź"]["reason"] == f"{root / 'Łódź.bvh'}: not a BVH file (no HIERARCHY section)"


def test_batch_run_failures_skip_force_summary(tmp_path, fake_python, capsys):
    root = _clips(tmp_path / "in", {"a.bvh": b"good a", "b.npz": b"good b", "broken.bvh": b"BAD data",
                                    "crash.bvh": b"CRASH now"})
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--segment", "--jobs", "2", "--python", fake_python], capsys)
    assert code == 1
    line = next(ln for ln in text.splitlines() if "FAILED  broken" in ln)
    assert line.endswith(f"FAILED  broken ({root / 'broken.bvh'}): not a BVH file (no HIERARCHY section)"), line
    assert "crash" in text and "worker crashed" in text
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a.blend", "a.segments.json", "a.timeline.png", "b.blend", "b.segments.json", "b.timeline.png",
                     "runs"]  # nothing of the failed clips, no temporary file
    runs = list((out / "runs").iterdir())
    assert len(runs) == 1
    summ = json.loads(runs[0].read_text())
    assert summ["counts"] == {"ok": 2, "failed": 2, "skipped": 0}
    by = {c["name"]: c for c in summ["clips"]}
    assert by["broken"]["status"] == "failed" and "HIERARCHY" in by["broken"]["reason"]
    assert sorted(by["a"]["outputs"]) == ["a.blend", "a.segments.json", "a.timeline.png"]
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    # second run: finished clips are skipped, nothing rewritten
    code, text = _run([root, "--out", out, "--segment", "--python", fake_python], capsys)
    assert code == 1 and text.count("skipped") >= 2
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == stamp
    # --force redoes them; without the failing clips the exit code is 0
    (root / "broken.bvh").unlink()
    (root / "crash.bvh").unlink()
    code, text = _run([root, "--out", out, "--segment", "--force", "--python", fake_python], capsys)
    assert code == 0 and "skipped" not in text.split("clips ->")[1].split("summary")[0].replace("0 skipped", "")
    assert (out / "a.blend").stat().st_mtime_ns != stamp["a.blend"]
    # without --segment the .blend alone is the finished output; asking for --segment later redoes the clip
    out2 = tmp_path / "out2"
    assert _run([root / "a.bvh", "--out", out2, "--python", fake_python], capsys)[0] == 0
    assert sorted(p.name for p in out2.iterdir()) == ["a.blend", "runs"]
    code, text = _run([root / "a.bvh", "--out", out2, "--segment", "--python", fake_python], capsys)
    assert code == 0 and (out2 / "a.timeline.png").is_file()


def test_an_interrupted_batch_still_writes_the_summary_of_its_finished_clips(tmp_path, fake_python, capsys,
                                                                           monkeypatch):
    root = _clips(tmp_path / "in", {"a.bvh": b"good a", "b.bvh": b"good b", "z.bvh": b"good z"})
    real = batch.run_clip

    def ctrl_c_at_z(job, opts, procs=None, runs=None):
        if job.name == "z":
            raise KeyboardInterrupt
        return real(job, opts, procs, runs)
    monkeypatch.setattr(batch, "run_clip", ctrl_c_at_z)
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--python", fake_python], capsys)
    assert code == 130 and "interrupted after 2 of 3 clips" in text
    (summ,) = [json.loads(p.read_text()) for p in (out / "runs").iterdir()]
    assert summ["interrupted"] and [c["name"] for c in summ["clips"]] == ["a", "b"]
    assert summ["counts"] == {"ok": 2, "failed": 0, "skipped": 0} and summ["clips_found"] == 3


def test_batch_timeout_cleans_up(tmp_path, fake_python, capsys):
    root = _clips(tmp_path / "in", {"slow.bvh": b"SLOW"})
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--python", fake_python, "--timeout", "1"], capsys)
    assert code == 1 and "timed out" in text
    assert sorted(p.name for p in out.iterdir()) == ["runs"]
    # the killed worker's temporary folder (where Blender's own one lay) was one of the batch's, and is gone
    tmp = Path((root / "slow.bvh.tmpdir").read_text())
    assert tmp.parent == out and tmp.name.startswith(".a4mer-tmp-") and not tmp.exists()


def test_two_shards_cover_every_clip_once(tmp_path, fake_python, capsys):
    root = _clips(tmp_path / "in", {f"c{i}.bvh": b"good" for i in range(9)})
    out = tmp_path / "out"
    for k in (1, 2):
        assert _run([root, "--out", out, "--shard", f"{k}/2", "--python", fake_python], capsys)[0] == 0
    summaries = [json.loads(p.read_text()) for p in sorted((out / "runs").iterdir())]
    assert len(summaries) == 2 and all(s["clips_found"] == 9 for s in summaries)
    done = [c["name"] for s in summaries for c in s["clips"] if c["status"] == "ok"]
    assert sorted(done) == sorted(f"c{i}" for i in range(9))
    assert sorted(p.name for p in out.glob("*.blend")) == sorted(f"c{i}.blend" for i in range(9))


def test_one_worker_process_runs_clip_after_clip_and_is_replaced_when_it_cannot_be_trusted(tmp_path, fake_python,
                                                                                           capsys, monkeypatch):
    """Python, Blender and the model start once per worker, not once per clip; a worker that crashed,
    timed out, met an unexpected error or ran CLIPS_PER_WORKER clips is replaced, and the next clip runs."""
    names = {"a.bvh": b"good", "b.bvh": b"good", "c.bvh": b"CRASH", "d.bvh": b"good", "e.bvh": b"BUG",
             "f.bvh": b"good", "g.bvh": b"good", "h.bvh": b"good", "i.bvh": b"good"}
    root = _clips(tmp_path / "in", names)
    monkeypatch.setattr(workers, "CLIPS_PER_WORKER", 3)
    code, text = _run([root, "--out", tmp_path / "out", "--python", fake_python], capsys)
    assert code == 1 and text.count("FAILED") == 2 and "worker crashed" in text and "KeyError: 'x'" in text
    pid = {n[0]: (root / f"{n}.pid").read_text() for n in names}
    assert pid["a"] == pid["b"] == pid["c"] != pid["d"] == pid["e"] != pid["f"] == pid["g"] == pid["h"] != pid["i"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.blend")) == [f"{n}.blend" for n in "abdfghi"]
    root2 = _clips(tmp_path / "in2", {"a.bvh": b"SLOW", "b.bvh": b"good"})
    code, text = _run([root2, "--out", tmp_path / "out2", "--python", fake_python, "--timeout", "1"], capsys)
    assert code == 1 and "timed out" in text and (tmp_path / "out2" / "b.blend").is_file()
    assert (root2 / "a.bvh.pid").read_text() != (root2 / "b.bvh.pid").read_text()


def test_a_workers_start_up_is_not_counted_against_a_clips_timeout(tmp_path, fake_python, capsys, monkeypatch):
    """--timeout 1 with workers that take 1.5 s to start: every clip failed "timed out" (each timeout killed
    the worker, so the next clip paid its start again), now only the slow clip does."""
    root = _clips(tmp_path / "in", {"a.bvh": b"good", "b.bvh": b"SLOW", "c.bvh": b"good", "d.bvh": b"good"})
    monkeypatch.setenv("FAKE_STARTUP_S", "1.5")
    code, text = _run([root, "--out", tmp_path / "out", "--python", fake_python, "--timeout", "1"], capsys)
    assert code == 1 and text.count("FAILED") == 1 and "FAILED  b" in text and "timed out after 1 s" in text, text
    assert sorted(p.name for p in (tmp_path / "out").glob("*.blend")) == ["a.blend", "c.blend", "d.blend"]
    monkeypatch.setattr(workers, "STARTUP_S", 0.5)  # a worker that never gets going is named, once per clip
    code, text = _run([root / "a.bvh", "--out", tmp_path / "out2", "--python", fake_python, "--timeout", "0.2"], capsys)
    assert code == 1 and "the worker did not start within 0.5 s" in text, text


def test_worker_command_forms(tmp_path):
    job = batch.ClipJob(tmp_path / "a.bvh", "a")
    opts = batch.BatchOptions(out=tmp_path, segment=True, extend=12, fill_gaps=True, object="Rig",
                              runner_python="/venv/bin/python", blender="/opt/blender/blender")
    cmd = batch.worker_command(opts)
    assert cmd == ["/opt/blender/blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python",
                   str(batch.default_blender_script()), "--", "--serve"]
    assert batch.default_blender_script().is_file()
    args = batch.worker_args(job, tmp_path / "t", opts)
    assert args[args.index("--extend") + 1] == "12" and args[args.index("--python") + 1] == "/venv/bin/python"
    assert {"--segment", "--fill-gaps"} <= set(args) and args[args.index("--object") + 1] == "Rig"
    dash = batch.worker_args(batch.ClipJob(tmp_path / "-walk.bvh", "-walk"), tmp_path / "t", opts)
    assert "--name=-walk" in dash  # argparse took "-walk" for an option: the clip always failed
    plain = batch.BatchOptions(out=tmp_path, python="/py")
    assert batch.worker_command(plain) == ["/py", "-m", "a4mer_blender.batch_worker", "--serve"]
    args = batch.worker_args(job, tmp_path / "t", plain)
    assert "--segment" not in args and os.path.isabs(args[args.index("--input") + 1])


def test_the_blender_and_python_people_name(tmp_path, fake_python, capsys, monkeypatch):
    """The Start menu's ``blender-launcher.exe`` (its worker output goes to a hidden console: every clip
    failed with "worker gave no result line") is the ``blender.exe`` beside it, a macOS ``Blender.app`` its
    binary inside; ``--python`` may be a name on PATH (it was refused as no such interpreter)."""
    from a4mer.cli.batch import blender_binary
    win = tmp_path / "Blender Foundation" / "Blender 4.2"
    win.mkdir(parents=True)
    (win / "blender-launcher.exe").write_bytes(b"")
    (win / "blender.exe").write_bytes(b"")
    assert blender_binary(str(win / "blender-launcher.exe")) == str(win / "blender.exe")
    app = tmp_path / "Blender.app" / "Contents" / "MacOS"
    app.mkdir(parents=True)
    (app / "Blender").write_bytes(b"")
    assert blender_binary(str(tmp_path / "Blender.app")) == str(app / "Blender")
    assert blender_binary("/opt/blender/blender") == "/opt/blender/blender"
    monkeypatch.setenv("PATH", f"{Path(fake_python).parent}{os.pathsep}{os.environ['PATH']}")
    root = _clips(tmp_path / "in", {"a.bvh": b"good a"})
    code, text = _run([root, "--out", tmp_path / "out", "--python", Path(fake_python).name], capsys)
    assert code == 0 and "no such interpreter" not in text


def test_run_summaries_are_whole_and_never_clash(tmp_path, monkeypatch):
    """Summaries of farm tasks started in the same second each get their own file; a full disk left an
    empty summary under the final name (and a traceback): now one error, and no file."""
    import errno
    from datetime import datetime, timezone
    started = datetime(2026, 12, 3, 15, 0, 0, tzinfo=timezone.utc)
    paths = [batch.write_summary(tmp_path, {"n": i}, started) for i in range(3)]
    assert [p.name for p in paths] == ["20261203T150000Z.json", "20261203T150000Z-1.json", "20261203T150000Z-2.json"]
    assert [json.loads(p.read_text())["n"] for p in paths] == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted(p.name for p in paths)  # no temporary file

    def no_links(*a, **k):  # exFAT, FAT32, some shares
        raise OSError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(os, "link", no_links)
    assert json.loads(batch.write_summary(tmp_path, {"n": 3}, started).read_text())["n"] == 3

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fdopen", full)
    with pytest.raises(A4merError, match=r"runs: cannot write the run summary \(No space left on device\)"):
        batch.write_summary(tmp_path, {"n": 4}, started)
    assert len(list((tmp_path / "runs").iterdir())) == 4


def test_worker_that_cannot_start_fails_once_with_a_clear_message(tmp_path, capsys):
    root = _clips(tmp_path / "in", {"a.bvh": b"x"})
    code, text = _run([root, "--out", tmp_path / "o", "--blender", tmp_path / "no_blender"], capsys)
    assert code == 1 and "not an executable file" in text
    code, text = _run([root, "--out", tmp_path / "o", "--python", tmp_path / "no_python"], capsys)
    assert code == 1 and "no such interpreter" in text
    assert not (tmp_path / "o").exists()


def test_a_python_without_bpy_or_a_device_torch_cannot_use_fails_before_any_clip(tmp_path, capsys, monkeypatch,
                                                                                 fake_python):
    """``--python`` without bpy failed every clip in turn ("No module named 'a4mer_blender'") and a bad
    ``--device`` every clip's model; both are one error now, before the output folder is made."""
    root = _clips(tmp_path / "in", {"a.bvh": b"x", "b.bvh": b"x"})
    monkeypatch.setenv("FAKE_PROBE", '{"bpy": false, "torch": false, "device": null}')
    code, text = _run([root, "--out", tmp_path / "o", "--python", fake_python], capsys)
    assert code == 1 and "this interpreter has no bpy module" in text and "a.bvh" not in text
    monkeypatch.setenv("FAKE_PROBE", '{"bpy": true, "torch": true, "device": "device \'cuda\' is not usable here"}')
    code, text = _run([root, "--out", tmp_path / "o", "--python", fake_python, "--device", "cuda"], capsys)
    assert code == 1 and "--device: device 'cuda' is not usable here" in text
    monkeypatch.setenv("FAKE_PROBE", '{"bpy": true, "torch": false, "device": null}')  # no torch: the runner decides
    code, text = _run([root, "--out", tmp_path / "o", "--python", fake_python, "--device", "bogus",
                       "--runner-python", sys.executable], capsys)
    assert code == 1 and "--device: device 'bogus' is not usable here" in text, text
    assert not (tmp_path / "o").exists()
    code, text = _run([root, "--out", tmp_path / "o", "--python", fake_python, "--device", "cpu",
                       "--runner-python", sys.executable], capsys)
    assert code == 0, text


def test_a_worker_that_ends_before_reading_its_request_is_named_by_its_exit_code_and_last_words(
        tmp_path, capsys, monkeypatch):
    """A Blender that ends at once (a farm node missing a shared library) closed its stdin before the
    request was written: the clip failed with "BrokenPipeError: [Errno 32] Broken pipe" (a race: one
    that ended a moment later was named by its exit code). The worker here has ended before the write."""
    root = _clips(tmp_path / "in", {"a.bvh": b"x"})
    blender = tmp_path / "blender"
    blender.write_text("#!/bin/sh\necho 'blender: error while loading shared libraries: libXi.so.6' >&2\nexit 127\n")
    blender.chmod(blender.stat().st_mode | stat.S_IEXEC)
    real = workers.subprocess.Popen

    def ended(cmd, *a, **kw):
        proc = real(cmd, *a, **kw)
        if cmd[0] == str(blender):
            proc.wait()
        return proc
    monkeypatch.setattr(workers.subprocess, "Popen", ended)
    code, text = _run([root, "--out", tmp_path / "o", "--blender", blender], capsys)
    assert code == 1
    assert "FAILED  a" in text and "worker exited with code 127: blender: error while loading shared libraries" in text
    assert "BrokenPipe" not in text


def test_batch_exports(tmp_path, fake_python, capsys):
    from a4mer.io.bvh import read_bvh
    root = _clips(tmp_path / "in", {"a.bvh": b"good a"})
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--segment", "--export", "npz,bvh,babel", "--python", fake_python], capsys)
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "a.babel.json", "a.blend", "a.bvh", "a.npz", "a.segments.json", "a.timeline.png"]
    assert read_bvh(out / "a.bvh").num_frames == 24
    labels = json.loads((out / "a.babel.json").read_text())["a"]["frame_ann"]["labels"]
    assert [(lab["raw_label"], lab["start_t"], lab["end_t"]) for lab in labels] == [("m1", 0.0, 0.4), ("m2", 0.4, 0.8)]
    assert "skipped" in _run([root, "--out", out, "--segment", "--export", "bvh", "--python", fake_python], capsys)[1]
    (out / "a.bvh").unlink()  # a missing export makes the clip unfinished
    text = _run([root, "--out", out, "--segment", "--export", "bvh", "--python", fake_python], capsys)[1]
    # redone with fewer exports: the earlier run's npz and BABEL exports do not describe the new .blend
    assert "ok      a" in text and "removed 2 output(s) of an earlier run not written this time: a.babel.json, a.npz" in text
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["a.blend", "a.bvh", "a.segments.json", "a.timeline.png"]
    (out / "keep.npz").write_bytes(b"not the batch's")  # a file no run summary lists is never touched
    assert "ok      a" in _run([root, "--out", out, "--force", "--python", fake_python], capsys)[1]
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["a.blend", "keep.npz"]
    assert "ok      a" in _run([root, "--out", out, "--segment", "--export", "bvh", "--python", fake_python], capsys)[1]
    code, text = _run([root, "--out", out, "--export", "babel", "--python", fake_python], capsys)
    assert code == 1 and "needs --segment" in text
    code, text = _run([root, "--out", out, "--export", "fbx", "--python", fake_python], capsys)
    assert code == 1 and "unknown format" in text
    # the gallery shows motifs; a model or vocabulary that is not there fails once, before any clip
    for flags, message in ((["--gallery"], "--gallery needs --segment"),
                           (["--segment", "--checkpoint", tmp_path / "no.safetensors"],
                            f"--checkpoint {tmp_path / 'no.safetensors'}: no such file or folder"),
                           (["--segment", "--vocab", tmp_path / "no_vocab"], f"--vocab {tmp_path / 'no_vocab'}: no such")):
        code, text = _run([root, "--out", tmp_path / "out_bad", *flags, "--python", fake_python], capsys)
        assert code == 1 and message in text and "[1/1]" not in text, text


def test_a_clip_named_like_the_workers_own_motion_file_keeps_its_npz_export(tmp_path, fake_python, capsys):
    """``take.motion.bvh``'s npz export is ``take.motion.npz``, which the batch took for the worker's own
    npz of the animation: never written, so the clip said ok and was redone on every run."""
    root = _clips(tmp_path / "in", {"take.motion.bvh": b"good t"})
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--export", "npz,bvh", "--python", fake_python], capsys)
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["take.motion.blend", "take.motion.bvh",
                                                                     "take.motion.npz"]
    assert "skipped take.motion" in _run([root, "--out", out, "--export", "npz,bvh", "--python", fake_python], capsys)[1]


# --- output folder, interrupts, timeouts ----------------------------------------------------------
def test_an_output_folder_that_cannot_be_written_is_one_error_before_any_clip(tmp_path, fake_python, capsys,
                                                                              monkeypatch):
    root = _clips(tmp_path / "in", {"a.bvh": b"good a", "b.bvh": b"good b"})
    (tmp_path / "afile").write_text("x")
    runs_file = tmp_path / "o2"
    _clips(runs_file, {"runs": b"a file where the summaries go"})
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != ro and real(p, mode, **kw))  # root ignores chmod
    for out, problem in ((tmp_path / "afile", f"{tmp_path / 'afile'} is a file, not a folder"),
                         (tmp_path / "afile" / "sub", f"cannot create the folder {tmp_path / 'afile' / 'sub'} (Not a directory)"),
                         (runs_file, f"{runs_file / 'runs'} is a file, not a folder"),
                         (ro, f"the folder {ro} is not writable")):
        code, text = _run([root, "--out", out, "--python", fake_python], capsys)
        assert code == 1 and text == f"a4mer batch: error: --out {out}: {problem}\n", text
    assert list(ro.iterdir()) == [] and [p.name for p in runs_file.iterdir()] == ["runs"]  # no clip ran


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_timeout_stops_what_the_worker_started_and_removes_its_temporary_files(tmp_path, fake_python, capsys):
    """--timeout kills the worker's whole process group (the model subprocess of --runner-python too,
    which the add-on runner started in a session of its own: it outlived the batch by seconds),
    and the add-on runner's job folders (made in the worker's temp dir) go with the clip's folder."""
    root = _clips(tmp_path / "in", {"spawn.bvh": b"SPAWN"})
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--python", fake_python, "--timeout", "2"], capsys)
    info = json.loads((root / "spawn.bvh.info").read_text())
    try:
        assert code == 1 and "timed out after 2 s" in text
        time.sleep(0.2)
        assert not _running(info["pid"]), "the worker's subprocess outlived the batch"
        assert not Path(info["dir"]).exists()
        assert sorted(p.name for p in out.iterdir()) == ["runs"]
    finally:
        if _running(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)


def test_a_clip_committed_while_ctrl_c_came_in_is_in_the_summary(tmp_path, fake_python, capsys, monkeypatch):
    """Ctrl-C just after clip a's worker finished: a's files are still committed, so the interrupted
    run's summary lists a (a later --force run then knows which files were a's)."""
    root = _clips(tmp_path / "in", {"a.bvh": b"good a", "z.bvh": b"good z"})
    a_worker_done = threading.Event()
    real_run, real_draw = batch.run_clip, batch._draw

    def run_clip(job, opts, procs=None, runs=None):
        if job.name == "z":
            a_worker_done.wait(30)
            raise KeyboardInterrupt
        return real_run(job, opts, procs, runs)

    def draw(tmp, opts):
        a_worker_done.set()
        time.sleep(0.5)  # the interrupt reaches the batch while a is being drawn
        real_draw(tmp, opts)
    monkeypatch.setattr(batch, "run_clip", run_clip)
    monkeypatch.setattr(batch, "_draw", draw)
    out = tmp_path / "out"
    code, text = _run([root, "--out", out, "--segment", "--jobs", "2", "--python", fake_python], capsys)
    assert code == 130 and "interrupted after 1 of 2 clips" in text, text
    assert (out / "a.blend").is_file()
    (summ,) = [json.loads(p.read_text()) for p in (out / "runs").iterdir()]
    assert [(c["name"], c["status"]) for c in summ["clips"]] == [("a", "ok")]
    assert sorted(summ["clips"][0]["outputs"]) == ["a.blend", "a.segments.json", "a.timeline.png"]


def _wait_for(path: Path) -> int:
    for _ in range(300):
        if path.is_file() and path.read_text():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_the_workers_and_write_the_summary(tmp_path, fake_python, sig, code):
    """SIGTERM (scancel, a time limit) and SIGHUP (the terminal closed, ssh dropped) stop a batch as
    Ctrl-C does: summary, workers stopped (they run in their own session: the hang-up does not reach
    them), temporary folders removed, exit code 128 + signal."""
    root = _clips(tmp_path / "in", {"a.bvh": b"good a", "slow.bvh": b"SLOW"})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "a4mer", "batch", str(root), "--out", str(out), "--python",
                             fake_python], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = _wait_for(root / "slow.bvh.started")
    try:
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
        name = signal.Signals(sig).name
        assert proc.returncode == code, stdout + stderr
        assert f"terminated ({name}) after 1 of 2 clips" in stderr
        time.sleep(0.2)
        assert not _running(worker)
        (summ,) = [json.loads(p.read_text()) for p in (out / "runs").iterdir()]
        assert summ["interrupted"] is True and summ["signal"] == name
        assert [c["name"] for c in summ["clips"]] == ["a"]
        assert not list(out.glob(".a4mer-*"))
    finally:
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


def test_a_batch_whose_reader_goes_away_stops_and_writes_the_summary(tmp_path, fake_python):
    """``a4mer batch ... | head -1``: once its output cannot be written, the batch stops as SIGPIPE stops
    other programs (exit 141), with the summary of the clips it finished. It ran every remaining clip
    without a word and wrote no summary, so later runs knew nothing of the files it committed."""
    root = _clips(tmp_path / "in", {"a.bvh": b"good a", "slow.bvh": b"SLOW"})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "a4mer", "batch", str(root), "--out", str(out), "--python",
                             fake_python], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("a4mer batch: 2 of 2 clips")
        proc.stdout.close()  # the reader goes away
        stderr = proc.communicate(timeout=30)[1]
        assert proc.returncode == 141, stderr
        assert "terminated (SIGPIPE) after 1 of 2 clips" in stderr
        (summ,) = [json.loads(p.read_text()) for p in (out / "runs").iterdir()]
        assert summ["interrupted"] is True and summ["signal"] == "SIGPIPE"
        assert [c["name"] for c in summ["clips"]] == ["a"]
        assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["a.blend"]
    finally:
        proc.kill()
        started = root / "slow.bvh.started"
        if started.is_file() and _running(int(started.read_text())):
            os.kill(int(started.read_text()), signal.SIGKILL)


_HOLDER = """
import os, sys
from pathlib import Path
from a4mer import batch
os.getpid = lambda: int(sys.argv[2])  # as seen from another pid namespace: a pid that is not running here
d = batch.private_dir(Path(sys.argv[1]), "tmp", "live")
(d / "work.txt").write_text("x")
print(d.name, flush=True)
sys.stdin.read()
"""


def test_remove_dead_dirs_removes_only_folders_nobody_holds(tmp_path):
    """A working folder is removed when no process holds its lock (its makers were killed), whatever the
    process id in its name says: a live run in another pid namespace (same host name) keeps its folder;
    folders without a lock file (older versions, or being made), being made, or of other hosts stay."""
    out = tmp_path / "out"
    out.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = workdirs._host()
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out), str(gone.pid)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        live = holder.stdout.readline().strip()
        assert live.startswith(f".a4mer-tmp-{gone.pid}@{host}-live-")
        assert batch.remove_dead_dirs(out) == [] and (out / live / "work.txt").is_file()
        old = [f".a4mer-tmp-{gone.pid}@{host}-x-abc", ".a4mer-other", f".a4mer-part-{gone.pid}@elsewhere-y"]
        for d in old:
            _clips(out / d, {"f": b"x"})
        _clips(out / f".a4mer-tmp-{gone.pid}@elsewhere-z", {batch.LOCK_NAME: b"1@elsewhere"})
        _clips(out / f".a4mer-tmp-{gone.pid}@{host}-making", {batch.LOCK_NAME: b""})  # made, not yet locked
        kept = sorted(p.name for p in out.iterdir())
        assert batch.remove_dead_dirs(out) == [] and sorted(p.name for p in out.iterdir()) == kept
        assert (out / live / "work.txt").is_file()
        mine = batch.private_dir(out, "part")  # this process's own: never removed while held
        assert batch.remove_dead_dirs(out) == [] and mine.is_dir()
        batch.release_dir(mine)
        assert not mine.exists()
        holder.kill()  # SIGKILL: the folder stays, its lock is free
        holder.wait()
        assert batch.remove_dead_dirs(out) == [live]
        assert sorted(p.name for p in out.iterdir()) == sorted(set(kept) - {live})
    finally:
        holder.kill()
        holder.wait()


def test_host_names_that_differ_after_40_characters_stay_different(monkeypatch):
    import socket
    names = set()
    for pod in ("motion-capture-cleanup-batch-worker-pool-0", "motion-capture-cleanup-batch-worker-pool-1"):
        monkeypatch.setattr(socket, "gethostname", lambda pod=pod: pod)
        names.add(workdirs._host())
        assert len(workdirs._host()) <= 40 and workdirs._PRIVATE.match(f".a4mer-tmp-1@{workdirs._host()}-x")
    assert len(names) == 2
    monkeypatch.setattr(socket, "gethostname", lambda: "render-07.farm")
    assert workdirs._host() == "render_07.farm"


def test_a_worker_left_running_by_a_killed_batch_keeps_its_folder(tmp_path, fake_python):
    """SIGKILL of the batch alone (the OOM killer) leaves its worker running in its own session, in the
    batch's working folder: the worker holds that folder's lock, so a later run leaves it alone until
    the worker is gone."""
    root = _clips(tmp_path / "in", {"slow.bvh": b"SLOW"})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "a4mer", "batch", str(root), "--out", str(out), "--python",
                             fake_python], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    worker = _wait_for(root / "slow.bvh.started")
    try:
        proc.kill()
        proc.communicate(timeout=30)
        assert _running(worker)
        folders = sorted(out.glob(".a4mer-tmp-*"))  # the clip's and the worker process's temporary one
        assert len(folders) == 2 and any(list(f.glob("blender_*")) for f in folders)
        assert batch.remove_dead_dirs(out) == [] and all(f.is_dir() for f in folders)
        os.kill(worker, signal.SIGKILL)
        for _ in range(100):
            if not _running(worker):
                break
            time.sleep(0.05)
        time.sleep(0.1)
        assert batch.remove_dead_dirs(out) == [f.name for f in folders] and not any(f.exists() for f in folders)
    finally:
        if _running(worker):
            os.kill(worker, signal.SIGKILL)


def test_run_summaries_are_parsed_once_while_unchanged(tmp_path, monkeypatch):
    """Every clip checks what earlier runs wrote: each summary was parsed again for every clip (twice), a
    cost that grows with clips x runs on a farm. A summary is now parsed again only when it changed, and
    one a shard adds meanwhile is read."""
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()

    def summary(name: str, clips: list[str]) -> None:
        (runs_dir / name).write_text(json.dumps({"clips": [
            {"name": c, "input": f"/in/{c}.bvh", "status": "ok", "outputs": [f"{c}.blend", "../x"]} for c in clips]}))
    summary("r1.json", ["a", "b"])
    reads = []
    real = batch.RunSummaries._read
    monkeypatch.setattr(batch.RunSummaries, "_read", staticmethod(lambda p: (reads.append(p.name), real(p))[1]))
    runs = batch.RunSummaries(tmp_path)
    assert batch.earlier_outputs(runs, "a") == {"a.blend"}  # a path outside the folder is never taken
    assert batch.earlier_outputs(runs, "b") == {"b.blend"} and reads == ["r1.json"]
    summary("r2.json", ["c"])
    assert batch.earlier_outputs(runs, "c") == {"c.blend"} and reads == ["r1.json", "r2.json"]
    summary("r1.json", ["a", "b", "dd"])  # rewritten: read again
    assert batch.earlier_outputs(runs, "dd") == {"dd.blend"} and reads == ["r1.json", "r2.json", "r1.json"]
    # looked up, not scanned, per clip: the index is built once while no summary changes (2000 clips x
    # 5 runs took 12 s of scanning for a batch of 2000, 0.3 s indexed)
    assert runs.index() is runs.index() and runs.index().owners["dd.blend"] == [("dd", "/in/dd.bvh")]


def test_a_clip_whose_temporary_folder_cannot_be_made_leaves_no_working_folder(tmp_path, fake_python, capsys,
                                                                                monkeypatch):
    root = _clips(tmp_path / "in", {"a.bvh": b"good a"})
    real = Path.mkdir

    def mkdir(self, *a, **kw):
        if self.name == "tmp" and self.parent.name.startswith(".a4mer-tmp-"):
            raise OSError(28, "No space left on device")
        return real(self, *a, **kw)
    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, text = _run([root, "--out", tmp_path / "out", "--python", fake_python], capsys)
    assert code == 1 and "cannot make its working folder" in text and "No space left on device" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["runs"]


def test_export_of_a_blend_stops_its_worker_at_once_on_ctrl_c(tmp_path, fake_python, monkeypatch):
    """The .blend reader runs in a worker of its own session, which a terminal's Ctrl-C does not reach:
    ``a4mer export`` stopped only after the worker's 30 s of grace."""
    from a4mer.cli.export import read_blend
    shot = _clips(tmp_path / "in", {"shot.blend": b"SLOW"}) / "shot.blend"

    def ctrl_c(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGALRM, ctrl_c)
    t0 = time.perf_counter()
    try:
        signal.alarm(2)
        with pytest.raises(KeyboardInterrupt):
            read_blend(shot, python=fake_python)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert time.perf_counter() - t0 < 10
    assert not _running(int((tmp_path / "in" / "shot.blend.started").read_text()))


def test_export_of_a_blend_names_a_reader_that_never_starts(tmp_path, fake_python, monkeypatch):
    """read_blend decided its own "no result" message and left out the worker's problem: a reader that
    never started was reported as "the .blend reader gave no result"."""
    from a4mer.cli.export import read_blend
    shot = _clips(tmp_path / "in", {"shot.blend": b"good"}) / "shot.blend"
    monkeypatch.setenv("FAKE_STARTUP_S", "1.5")
    monkeypatch.setattr(workers, "STARTUP_S", 0.3)
    with pytest.raises(A4merError, match="the worker did not start within 0.3 s"):
        read_blend(shot, python=fake_python)


def test_export_of_a_blend_names_a_python_that_cannot_run(tmp_path, capsys):
    """``a4mer export shot.blend --python P`` with no interpreter at P (or a folder) ended in a 30-line
    FileNotFoundError (PermissionError) traceback; ``a4mer batch`` said it in one line."""
    shot = _clips(tmp_path / "in", {"shot.blend": b"BLENDER-v300"}) / "shot.blend"
    for python, message in ((tmp_path / "nowhere" / "python", "no such interpreter"),
                            (tmp_path / "in", "not an executable file")):
        code = main(["export", str(shot), "--format", "npz", "--python", str(python), "-o", str(tmp_path / "x.npz")])
        err = capsys.readouterr().err
        assert code == 1 and err == f"a4mer export: error: --python {python}: {message}\n", err
    assert not (tmp_path / "x.npz").exists()


def test_a_linked_clip_is_read_by_its_own_path(tmp_path):
    """``shots/link.bvh -> takes/walk.bvh``: the worker was given the link's target, so the clip's armature
    and action were named ``walk`` in ``link.blend``, and an AMC's ASF was looked for beside the target,
    where ``a4mer segment link.amc`` looks beside the link."""
    root = _clips(tmp_path / "takes", {"walk.bvh": b"x"})
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "link.bvh").symlink_to(root / "walk.bvh")
    job, = batch.discover([tmp_path / "shots"])
    args = batch.worker_args(job, tmp_path / "tmp", batch.BatchOptions(out=tmp_path / "out"))
    assert job.name == "link" and args[args.index("--input") + 1] == str(tmp_path / "shots" / "link.bvh")


def test_redoing_a_clip_removes_only_the_files_that_are_still_its_own(tmp_path):
    """``dance.blend``'s armature walker wrote ``dance__walker.*`` in a first run; those files were removed
    (as the batch advises when a clip ``dance/walker.bvh`` is added) and a second run wrote them for that
    clip. Redoing ``dance.blend`` (``--object dancer``) removed them as its own stale outputs."""
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    walker = ["dance__walker.segments.json", "dance__walker.timeline.png"]
    for stamp, clips in (("20261204T100000Z", [("dance", ["dance.blend", *walker])]),
                         ("20261204T110000Z", [("dance__walker", ["dance__walker.blend", *walker])])):
        (runs_dir / f"{stamp}.json").write_text(json.dumps({"clips": [
            {"name": n, "input": f"/in/{n}", "status": "ok", "outputs": files} for n, files in clips]}))
    for f in ["dance.blend", "dance__walker.blend", "dance.segments.json", *walker]:
        (tmp_path / f).write_text("x")
    runs = batch.RunSummaries(tmp_path)
    assert batch.remove_stale(runs, "dance", ["dance.blend", "dance.segments.json"]) == []
    assert all((tmp_path / f).is_file() for f in walker)
    assert batch.remove_stale(runs, "dance__walker", ["dance__walker.blend", walker[0]]) == [walker[1]]
    assert not (tmp_path / walker[1]).exists() and (tmp_path / walker[0]).is_file()


def test_a_clip_is_not_taken_for_finished_by_a_neighbours_files(tmp_path, fake_python, capsys):
    """take.bvh beside take/a.bvh (named take__a): take__a's segments counted as take's, so take was
    skipped as finished and never got its own."""
    root = _clips(tmp_path / "in", {"take.bvh": b"good t", "take/a.bvh": b"good a"})
    out = tmp_path / "out"
    assert _run([root, "--out", out, "--python", fake_python], capsys)[0] == 0
    assert _run([root, "--out", out, "--segment", "--shard", "2/2", "--python", fake_python], capsys)[0] == 0
    code, text = _run([root, "--out", out, "--segment", "--python", fake_python], capsys)
    assert code == 0 and (out / "take.segments.json").is_file() and (out / "take__a.segments.json").is_file(), text


def test_a_long_unicode_name_fits_a_file_name():
    """150 characters of Japanese are 450 bytes, past the 255 bytes a file name may have: the whole batch
    stopped with 'File name too long'. Names are cut by bytes, on a character boundary."""
    name = batch.safe_name("歩" * 50 + "/" + "歩" * 50)
    assert len(name.encode("utf-8")) <= batch.jobs.NAME_BYTES and name.startswith("歩" * 40)
    assert batch.safe_name("walk-" * 40) == "walk-" * 30


@pytest.mark.parametrize("value", ["nan", "inf", "1e300"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused(tmp_path, value, capsys):
    root = _clips(tmp_path / "in", {"a.bvh": b"good a"})
    code, text = _run([root, "--out", tmp_path / "out", "--timeout", value], capsys)
    assert code != 0 and "--timeout must be a number of seconds" in text and not (tmp_path / "out").exists()


def test_another_input_of_the_same_name_is_not_skipped_as_finished(tmp_path, fake_python, capsys):
    """shoot/day1 then shoot/day2 into one results folder, each with a take001.bvh: day 2's take was
    'skipped: finished earlier' while the results described day 1's."""
    _clips(tmp_path / "shoot", {"day1/take001.bvh": b"good walk", "day2/take001.bvh": b"good bow"})
    out = tmp_path / "results"
    assert _run([tmp_path / "shoot" / "day1", "--out", out, "--python", fake_python], capsys)[0] == 0
    assert _run([tmp_path / "shoot" / "day1", "--out", out, "--python", fake_python], capsys)[0] == 0  # skipped
    before = (out / "take001.blend").read_bytes()
    code, text = _run([tmp_path / "shoot" / "day2", "--out", out, "--python", fake_python], capsys)
    assert code == 1 and "were written for another input" in text and "day1" in text, text
    assert (out / "take001.blend").read_bytes() == before
    assert _run([tmp_path / "shoot" / "day2", "--out", out, "--force", "--python", fake_python], capsys)[0] == 0
