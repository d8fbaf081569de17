"""convert / info / data prepare through ``a4mer.cli.main`` on the example clips."""
import json

import numpy as np
import pytest

from a4mer.cli import main
from a4mer.io import read_amass_npz

BVH = "examples/bandai/dataset-1_walk_happy_002.bvh"
AMC = "examples/hdm05/amc/HDM_mm_kickLFront1Reps_023_120.amc"


@pytest.fixture
def ex(repo_root):
    return lambda rel: str(repo_root / rel)


def test_convert_single_and_resample(ex, tmp_path, capsys):
    out = tmp_path / "walk.npz"
    assert main(["convert", ex(BVH), "-o", str(out), "--fps", "60"]) == 0
    m = read_amass_npz(out)
    assert m.fps == 60 and abs(m.duration - 135 / 30) <= 1 / 60
    assert "135" not in capsys.readouterr().err


def test_convert_many_with_one_bad_file(ex, tmp_path, capsys):
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0\n")
    out = tmp_path / "out"
    code = main(["convert", ex(BVH), ex(AMC), str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["HDM_mm_kickLFront1Reps_023_120.npz", "dataset-1_walk_happy_002.npz"]
    lines = [ln for ln in err.splitlines() if "broken.bvh" in ln]
    assert len(lines) == 1 and "Traceback" not in err
    assert read_amass_npz(out / "HDM_mm_kickLFront1Reps_023_120.npz").fps == 120


@pytest.mark.parametrize("content,problem", [(b"", "empty|zero|no "), (b"\x00\x01garbage", "binary|not|no ASF skeleton")])
def test_bad_inputs_one_line(tmp_path, capsys, content, problem):
    import re
    for suffix in (".bvh", ".amc", ".npz"):
        p = tmp_path / f"bad{suffix}"
        p.write_bytes(content)
        assert main(["info", str(p)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(p) in err[0], err
        assert re.search(problem, err[0], re.I), err


def test_unknown_suffix_and_missing_file(tmp_path, capsys):
    assert main(["info", str(tmp_path / "x.fbx")]) == 1
    assert "unsupported file type" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "nope.bvh")]) == 1
    assert "not found" in capsys.readouterr().err


def test_info_json(ex, capsys):
    assert main(["info", ex(AMC), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["fps"] == 120 and info["frames"] == 130 and info["scheme"] == "hdm05-asf"
    assert info["mean_pelvis_height_m"] > 0.6


def test_source_fps_override(ex, tmp_path):
    out = tmp_path / "slow.npz"
    assert main(["convert", ex(BVH), "-o", str(out), "--source-fps", "60"]) == 0
    m = read_amass_npz(out)
    assert m.fps == 60 and m.num_frames == 135


def test_unknown_skeleton_names_file_and_bones_then_bone_map_fixes_it(ex, tmp_path, capsys):
    odd = tmp_path / "odd.bvh"
    text = open(ex(BVH)).read()
    odd.write_text(text.replace("Hips", "Becken").replace("UpperLeg_L", "ThighLeft"))
    assert main(["info", str(odd)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(odd) in err[0] and "pelvis (Hips)" in err[0] and "--bone-map" in err[0]
    from a4mer.retarget import SCHEMES
    bmap = {k: v for k, v in SCHEMES["bandai"].items() if v}
    bmap.update({"pelvis": "Becken", "left_hip": "ThighLeft"})
    (tmp_path / "map.json").write_text(json.dumps(bmap))
    out = tmp_path / "odd.npz"
    assert main(["convert", str(odd), "-o", str(out), "--bone-map", str(tmp_path / "map.json")]) == 0
    ref = tmp_path / "ref.npz"
    assert main(["convert", ex(BVH), "-o", str(ref)]) == 0
    assert np.allclose(read_amass_npz(out).joint_positions(), read_amass_npz(ref).joint_positions(), atol=1e-9)


def test_closed_pipe_is_quiet(ex, repo_root):
    """``a4mer info clip | head -1``: the reader closes the pipe early; no traceback, exit 141."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "a4mer", "info", ex(AMC)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=repo_root, bufsize=0)
    proc.stdout.read(5)
    proc.stdout.close()  # what head does after its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141) and "Traceback" not in err, err


def test_outputs_never_overwrite_inputs_and_are_checked_first(ex, tmp_path, capsys):
    """The input given as the output, another file type as the output, or an output in a missing folder:
    one line naming the path before any clip is read; the input stays byte for byte."""
    import hashlib
    import shutil
    clip = tmp_path / "walk.bvh"
    shutil.copy(ex(BVH), clip)
    npz = tmp_path / "walk.npz"
    assert main(["convert", str(clip), "-o", str(npz)]) == 0
    capsys.readouterr()
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (clip, npz)}
    for argv, msg in ((["convert", str(npz), "-o", str(npz)], "refusing to overwrite the input"),
                      (["convert", str(clip), "-o", str(clip)], "-o must be a .npz file (one input) or a folder"),
                      (["convert", str(clip), "-o", str(tmp_path / "walk2.bvh")], "-o must be a .npz file"),
                      (["convert", str(clip), "-o", str(tmp_path / "no" / "x.npz")], "does not exist")):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, err
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (clip, npz)} == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.bvh", "walk.npz"]


def test_outputs_never_overwrite_a_file_a_flag_names(ex, tmp_path, capsys):
    """An output (or the quality sidecar written beside it) that is the --bone-map / --heads / --segments
    file just read: refused before anything is computed (segment, export and label replaced the bone
    map with their JSON, inbetween its sidecar); an empty -o is one line (inbetween and extend ended
    in a traceback, segment wrote its default file instead)."""
    import hashlib
    import shutil
    clip = tmp_path / "walk.bvh"
    shutil.copy(ex(BVH), clip)
    bone_map = tmp_path / "map.json"
    bone_map.write_text("{}")
    side = tmp_path / "bm.quality.json"
    side.write_text("{}")
    files = (clip, bone_map, side)
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    gap = ["--start", "10", "--end", "30"]
    for argv, msg in ((["segment", str(clip), "--bone-map", str(bone_map), "-o", str(bone_map)], "refusing to overwrite the input"),
                      (["label", str(clip), "--head", str(bone_map), "-o", str(bone_map)], "refusing to overwrite the input"),
                      (["export", str(clip), "--format", "babel", "--segments", str(bone_map), "-o", str(bone_map)],
                       "refusing to overwrite the input"),
                      (["inbetween", str(clip), *gap, "--bone-map", str(side), "-o", str(tmp_path / "bm.npz")],
                       "bm.quality.json (written beside bm.npz): refusing to overwrite the input"),
                      (["extend", str(clip), "--frames", "5", "--heads", str(side), "-o", str(tmp_path / "bm.npz")],
                       "refusing to overwrite the input"),
                      (["inbetween", str(clip), *gap, "-o", ""], "-o is empty"),
                      (["extend", str(clip), "--frames", "5", "-o", ""], "-o is empty"),
                      (["segment", str(clip), "-o", ""], "the output path is empty")):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (argv, err)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm.quality.json", "map.json", "walk.bvh"]


def test_data_prepare_names_what_is_missing(tmp_path, capsys):
    for argv, msg in (([str(tmp_path / "nowhere")], "no such data folder"),
                      ([str(tmp_path)], "no clips (.npz/.bvh/.amc) in it, and not the layout of hdm05/"),
                      ([str(tmp_path), "--datasets", "hdm05"], "hdm05/labels.csv not found: data prepare reads a folder holding"),
                      ([str(tmp_path), "--datasets", "hdm05,bogus"], "--datasets: unknown 'bogus'"),
                      ([str(tmp_path), "--fps", "0"], "--fps must be positive")):
        assert main(["data", "prepare", *argv, "-o", str(tmp_path / "out")]) == 1
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, err


def test_inputs_sharing_a_stem_are_named_by_their_folders_then_suffixes(ex, tmp_path, capsys):
    import shutil
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(ex(BVH), tmp_path / sub / "walk.bvh")
    assert main(["convert", str(tmp_path / "a" / "walk.bvh"), str(tmp_path / "b" / "walk.bvh"),
                 "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a__walk.npz", "b__walk.npz"]
    # the same stem in the same folder (walk.bvh and walk.npz): told apart by the suffix, as batch does
    shutil.copy(tmp_path / "out" / "a__walk.npz", tmp_path / "a" / "walk.npz")
    assert main(["convert", str(tmp_path / "a" / "walk.bvh"), str(tmp_path / "a" / "walk.npz"),
                 "-o", str(tmp_path / "out2")]) == 0
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["walk_bvh.npz", "walk_npz.npz"]
    assert main(["convert", str(tmp_path / "a" / "walk.bvh"), "-o", str(tmp_path / "results.v2")]) == 0
    assert (tmp_path / "results.v2" / "walk.npz").is_file()
    # a folder of several clips and a file name as -o: the error says how many clips were found
    assert main(["convert", str(tmp_path / "b"), str(tmp_path / "a" / "walk.bvh"), "-o", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert "the inputs hold 2 clips (walk.bvh, walk.bvh): -o must name a folder" in err and not (tmp_path / "x.npz").exists()


def test_a_flag_that_acts_on_none_of_the_inputs_is_a_note(ex, tmp_path, capsys):
    """``--up``, ``--scale`` or ``--twist clip`` with an AMASS npz (nothing to retarget) did nothing,
    silently."""
    npz = tmp_path / "walk.npz"
    assert main(["convert", str(ex(BVH)), "-o", str(npz)]) == 0
    capsys.readouterr()
    assert main(["convert", str(npz), "-o", str(tmp_path / "b.npz"), "--up", "z", "--scale", "2", "--twist", "clip"]) == 0
    err = capsys.readouterr().err
    assert "--up has no effect here: it applies to .bvh clips only" in err and "--scale has no effect" in err
    assert "--twist has no effect here" in err
    assert main(["info", str(ex(BVH)), "--up", "y"]) == 0
    assert "no effect" not in capsys.readouterr().err


def test_convert_where_every_clip_fails_leaves_no_output_folder(tmp_path, capsys):
    for name in ("a.bvh", "b.bvh"):
        (tmp_path / name).write_text("HIERARCHY\n")
    existing = tmp_path / "existing"
    existing.mkdir()
    for out in (tmp_path / "new", existing):
        assert main(["convert", str(tmp_path / "a.bvh"), str(tmp_path / "b.bvh"), "-o", str(out)]) == 1
        assert "2 of 2 clips failed" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() and existing.is_dir()  # the user's own folder is kept


def test_version_is_one_number_everywhere(repo_root, capsys):
    """``a4mer --version``, the package, pyproject.toml and the extension manifest name one version."""
    import tomllib

    import a4mer
    root = repo_root
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"a4mer {a4mer.__version__}"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    addon = tomllib.loads((root / "addon_manifest" / "blender_manifest.toml").read_text())["version"]
    assert project == addon == a4mer.__version__


def test_a_clip_given_twice_is_taken_once(tmp_path):
    """``embed lib lib/a.bvh`` and ``convert a.bvh a.bvh`` refused the run ("rename them"): one file
    cannot be renamed apart from itself."""
    from a4mer.cli._common import collect_inputs
    lib = tmp_path / "lib"
    lib.mkdir()
    for n in ("a", "b"):
        (lib / f"{n}.bvh").write_text("HIERARCHY\n")
    (lib / "c.bvh").write_text("HIERARCHY\n")
    got = collect_inputs([str(lib / "c.bvh"), str(lib), str(lib / "a.bvh"), str(tmp_path / "lib" / ".." / "lib" / "b.bvh")])
    assert [p.name for p in got] == ["c.bvh", "a.bvh", "b.bvh"]  # each file once, where it first came
    assert len(collect_inputs([str(lib), str(lib / "a.bvh")], once=False)) == 4  # label-train names repeats


def test_sigterm_stops_a_command_as_ctrl_c_does(ex, tmp_path, capsys, monkeypatch):
    """``kill``, ``timeout`` or a farm manager send SIGTERM: the command died where it stood and left its
    temporary ``*.a4mer.part`` file beside the output; it now stops as Ctrl-C does (what was being written
    is removed, one line, exit code 130), and the handler it replaced is back afterwards."""
    import os
    import signal
    from a4mer.io import outputs
    real = outputs.write_atomic

    def killed_while_writing(path, write):
        def write_then_sigterm(tmp):
            write(tmp)
            os.kill(os.getpid(), signal.SIGTERM)
        return real(path, write_then_sigterm)
    monkeypatch.setattr(outputs, "write_atomic", killed_while_writing)
    seen = []
    before = signal.signal(signal.SIGTERM, lambda *a: seen.append(a))  # without the fix: no kill of the test run
    try:
        assert main(["convert", ex(BVH), "-o", str(tmp_path / "walk.npz")]) == 130 and not seen
    finally:
        mine = signal.signal(signal.SIGTERM, before)
    assert "a4mer convert: interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert mine is not signal.default_int_handler and mine.__name__ == "<lambda>"  # the test's own handler is back


def test_convert_into_the_folder_it_reads(ex, tmp_path, capsys):
    """``convert clips -o clips`` wrote its npz among the inputs; the next run converted those too, under
    names drifting each run (x_bvh.npz, x_bvh_66f6ae.npz, ...), then failed. Refused, as embed refuses it."""
    import shutil
    lib = tmp_path / "clips"
    lib.mkdir()
    shutil.copy(ex(BVH), lib / "walk.bvh")
    assert main(["convert", str(lib), "-o", str(lib)]) == 1
    assert "the folder searched for inputs" in capsys.readouterr().err
    assert sorted(p.name for p in lib.iterdir()) == ["walk.bvh"]
    assert main(["convert", str(lib), "-o", str(lib / "npz")]) == 0  # a folder inside it is left out of the inputs
    assert main(["convert", str(lib), "-o", str(lib / "npz")]) == 0
    assert sorted(p.name for p in (lib / "npz").iterdir()) == ["walk.npz"]
    assert main(["convert", str(lib / "walk.bvh"), "-o", str(lib)]) == 0  # a file given: beside it is fine
    assert (lib / "walk.npz").is_file()


def test_an_npz_that_cannot_be_written_is_one_error_and_no_traceback(tmp_path, monkeypatch):
    """A full disk under np.savez: the error line came, then "Exception ignored in ZipFile.__del__ ...
    Traceback" when the garbage collector met the archive numpy left open."""
    import errno
    import gc
    import sys

    from a4mer.errors import A4merError
    from a4mer.io.outputs import save_npz_atomic
    real = np.lib.format.write_array

    def full(fp, array, *a, **k):
        real(fp, array, *a, **k)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(np.lib.format, "write_array", full)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(A4merError, match=r"x.npz: cannot write \(No space left on device\)"):
        save_npz_atomic(tmp_path / "x.npz", poses=np.zeros((1000, 72)))
    gc.collect()
    assert not unraisable and list(tmp_path.iterdir()) == []


def test_outputs_are_the_same_bytes_each_time_and_keep_the_users_permissions(tmp_path):
    """safetensors writes its metadata in a random order: the same head or vocabulary saved twice differed
    (checksums, caches, LFS/DVC saw a new file each time). A re-run made an output the user had made
    private (0600) readable by all."""
    import os
    import stat

    import numpy as np
    from safetensors.numpy import load_file, save_file

    from a4mer.io.outputs import save_npz_atomic, write_safetensors_atomic
    meta = {f"key{i}": f"value {i}" for i in range(12)}
    tensors = {"b": np.arange(5, dtype=np.float32), "a": np.ones((2, 3))}
    saved = set()
    for i in range(6):
        p = tmp_path / f"h{i}.safetensors"
        write_safetensors_atomic(p, lambda tmp: save_file(tensors, tmp, metadata=meta))
        saved.add(p.read_bytes())
    assert len(saved) == 1
    from safetensors import safe_open
    with safe_open(str(tmp_path / "h0.safetensors"), "np") as f:
        assert f.metadata() == meta
    assert all(np.array_equal(v, tensors[k]) for k, v in load_file(str(tmp_path / "h0.safetensors")).items())
    private = tmp_path / "private.npz"
    save_npz_atomic(private, x=np.zeros(3))
    os.chmod(private, 0o600)
    save_npz_atomic(private, x=np.ones(3))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and np.load(private)["x"][0] == 1.0


def test_a_worker_python_imports_nothing_from_the_folder_it_is_started_in(ex, tmp_path, monkeypatch):
    """``a4mer batch .`` / ``a4mer export scene.blend`` start ``python -m ...`` workers in the current folder,
    which Python puts first on the import path: a ``json.py`` in a downloaded asset pack ran."""
    import subprocess
    import sys

    from a4mer.processes import TEXT_PIPES, child_env
    (tmp_path / "json.py").write_text("open('MARKER', 'w').write('ran')\n")
    monkeypatch.chdir(tmp_path)
    r = subprocess.run([sys.executable, "-m", "a4mer", "info", ex(BVH)], env=child_env(), capture_output=True,
                       **TEXT_PIPES)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "MARKER").exists()


def test_deeply_nested_json_is_one_line(ex, tmp_path, capsys):
    """A 400 KB ``[[[...]]]`` as a bone map or segments file raised RecursionError: a traceback."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert main(["info", ex(BVH), "--bone-map", str(deep)]) == 1
    assert f"{deep}: cannot read bone map" in capsys.readouterr().err
    assert main(["export", ex(BVH), "--format", "babel", "--segments", str(deep), "-o", str(tmp_path / "b.json")]) == 1
    err = capsys.readouterr().err
    assert f"{deep}: cannot read segments" in err and "Traceback" not in err


def test_an_artefact_of_a_tensor_type_a4mer_never_writes_is_named(tmp_path):
    """A bundle with one tensor stored as float8 failed deep in the NaN check ("isinf" not implemented for
    'Float8_e4m3fn'), a traceback."""
    import pytest
    import torch
    from safetensors.torch import save_file

    from a4mer.artefact import read_artefact
    from a4mer.errors import A4merError
    p = tmp_path / "odd.safetensors"
    save_file({"w": torch.zeros(4).to(torch.float8_e4m3fn), "b": torch.zeros(2)}, str(p), metadata={"format": "x"})
    with pytest.raises(A4merError, match=r"odd.safetensors: not a readable heads file \(the tensor 'w' is of type F8"):
        read_artefact(p, "x", "heads file", framework="pt")


def test_motif_names_are_drawn_as_written(tmp_path):
    """Motif names went to matplotlib as math: "$5 / $10" was drawn as formula and "$\\frac{$" raised ValueError."""
    from a4mer import plots
    seg = {"fps": 30.0, "duration": 2.0,
           "atoms": [{"start_frame": 0, "end_frame": 30, "start_t": 0, "end_t": 1, "code": 1},
                     {"start_frame": 30, "end_frame": 60, "start_t": 1, "end_t": 2, "code": 2}],
           "motifs": [{"start_frame": 0, "end_frame": 60, "start_t": 0, "end_t": 2, "motif_id": 7, "atoms": [0, 1],
                       "confidence": 1.0}]}
    assert plots.timeline_png(seg, tmp_path / "t.png", motif_names={"7": "$\\frac{$ and $5 / $10"}).is_file()


def test_an_extension_is_counted_at_240_fps_at_most():
    """A file claiming 100,000 fps allowed 6 M frames of extension (60 s at its rate)."""
    import pytest

    from a4mer.errors import A4merError
    from a4mer.gaps import check_extend_length
    check_extend_length(14_400, 100_000.0)
    with pytest.raises(A4merError, match=r"at most 0.144 s \(14400 frames\)"):
        check_extend_length(14_401, 100_000.0)


def test_a_crafted_record_in_a_blend_is_read_as_none():
    """A record whose tracks are not what the panels read (``"tracks": 5``, a strip without frames) made
    every redraw of the N-panel fail; it is treated as no record."""
    import json

    from a4mer.strips import MAPPING_VERSION, loads_record
    good = {"version": MAPPING_VERSION, "tracks": [{"kind": "motif", "strips": [
        {"key": 3, "frame_start": 1.0, "frame_end": 5.0}]}], "motif_names": {}}
    assert loads_record(json.dumps(good)) == good
    for bad in ({"tracks": 5}, {"tracks": [{"kind": "motif", "strips": [{"key": 3}]}]},
                {"tracks": [{"kind": "atom", "strips": [{"key": "x", "frame_start": 1, "frame_end": 2}]}]},
                {"motif_names": []}):
        assert loads_record(json.dumps({**good, **bad})) is None, bad
    assert loads_record("[" * 100_000) is None


def test_a_benchmark_page_given_through_a_link_is_updated_where_it_points(tmp_path):
    """A --doc that is a symbolic link was replaced by a plain file (the page it pointed at left stale)."""
    from a4mer.bench.report import write_section
    page = tmp_path / "site" / "benchmarks.md"
    page.parent.mkdir()
    page.write_text("# Benchmarks\n\nmine\n")
    link = tmp_path / "benchmarks.md"
    link.symlink_to(page)
    write_section(link, "x", "numbers")
    assert link.is_symlink() and "numbers" in page.read_text() and "mine" in page.read_text()


def test_an_output_name_beyond_an_ascii_file_system_encoding_is_written(tmp_path):
    """Under a C locale without UTF-8 mode, file names are bytes decoded as ASCII (``tänzer.bvh`` given on
    the command line holds escaped bytes): the temporary name beside it was decoded as UTF-8, which that
    encoding cannot write, and every command writing such a name ended in a UnicodeEncodeError traceback."""
    import os
    import subprocess
    import sys
    script = ("import os, sys; from pathlib import Path; from a4mer.io.outputs import write_atomic\n"
              "print(sys.getfilesystemencoding())\n"
              "out = Path(os.fsdecode(sys.argv[1].encode() + b'/t\\xc3\\xa4nzer.bvh'))\n"
              "write_atomic(out, lambda tmp: tmp.write_bytes(b'BVH'))\n")
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True)
    if run.stdout.strip() not in ("ascii", "ANSI_X3.4-1968"):
        pytest.skip(f"this machine's C locale reads file names as {run.stdout.strip() or run.stderr[-200:]}")
    assert run.returncode == 0, run.stderr
    assert [p.name.encode("utf-8", "surrogateescape") for p in tmp_path.iterdir()] == [b"t\xc3\xa4nzer.bvh"]
    assert (tmp_path / "tänzer.bvh").read_bytes() == b"BVH"


def test_an_interrupted_result_never_stays_beside_a_report_of_another_run(tmp_path):
    """``inbetween``/``extend`` removed the earlier run's sidecar before writing the new npz (Ctrl-C while it
    was written left the old npz without its report) and wrote the sidecar after the new npz was in place
    (Ctrl-C then left the new npz without one)."""
    from a4mer.heads.quality import sidecar_path, write_with_sidecar
    out = tmp_path / "out.npz"
    out.write_bytes(b"old")
    sidecar_path(out).write_text('{"old": 1}')

    def stopped(*_):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):  # while the new result is written: the earlier pair stays
        write_with_sidecar(stopped, lambda stored: {})
    assert out.read_bytes() == b"old" and sidecar_path(out).read_text() == '{"old": 1}'

    def write():
        out.write_bytes(b"new")
        return out, "stored"
    with pytest.raises(KeyboardInterrupt):  # while its report is made: neither stays
        write_with_sidecar(write, stopped)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert write_with_sidecar(write, lambda stored: {"of": stored}) == (out, sidecar_path(out))
    assert out.read_bytes() == b"new" and json.loads(sidecar_path(out).read_text()) == {"of": "stored"}


def test_convert_into_a_folder_never_replaces_the_users_own_npz(ex, tmp_path, capsys):
    """-o FOLDER holding the user's own walk npz (an AMASS SMPL+H file): convert chose the name itself and
    replaced it without a word. Its own earlier output there is replaced, as a re-run needs."""
    lib = tmp_path / "lib"
    lib.mkdir()
    mine = lib / "dataset-1_walk_happy_002.npz"
    # with dmpls, and without (only keys a4mer writes too, but one frame-rate key: an SMPL+H file of the user's)
    for extra in ({"dmpls": np.zeros((3, 8))}, {"betas": np.zeros(16), "gender": np.array("female")}):
        np.savez(mine, poses=np.zeros((3, 156)), trans=np.zeros((3, 3)), mocap_framerate=np.array(120.0), **extra)
        before = mine.read_bytes()
        assert main(["convert", ex(BVH), "-o", str(lib)]) == 1
        assert "exists already" in capsys.readouterr().err and mine.read_bytes() == before
    mine.unlink()
    assert main(["convert", ex(BVH), "-o", str(lib)]) == 0
    assert main(["convert", ex(BVH), "-o", str(lib), "--fps", "60"]) == 0 and read_amass_npz(mine).fps == 60
