"""`a4mer data prepare` on a mini data root made of real files."""
import csv
import shutil
from pathlib import Path

import numpy as np

from a4mer.cli import main
from a4mer.io import read_amass_npz
from a4mer.prepare import read_manifest


def test_prepare_mini_dataset(data_root, tmp_path):
    """Real files from every data set through `a4mer data prepare` (HDM05 + Bandai dataset-1)."""
    src = tmp_path / "data"
    with open(data_root / "hdm05" / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    keep = [rows[0], next(r for r in rows if r["actor"] == "mm")]
    (src / "hdm05").mkdir(parents=True)
    with open(src / "hdm05" / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in keep:
            w.writerow(r)
            for key in ("file", "asf"):
                (src / "hdm05" / r[key]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(data_root / "hdm05" / r[key], src / "hdm05" / r[key])
    out = tmp_path / "prep"
    assert main(["data", "prepare", str(src), "-o", str(out), "--datasets", "hdm05", "--jobs", "1"]) == 0
    recs = read_manifest(out)
    assert [r["split"] for r in recs] == ["train", "test"]
    for r, row in zip(recs, keep):
        m = read_amass_npz(r["path"])
        assert m.fps == 30 and r["labels"]["action"] == row["class_name"]
        assert abs(m.duration - int(row["frames"]) / 120) <= 1 / 30
        assert np.isfinite(m.rotations).all() and r["twist"] == "rest"
    # the data set's own folder given (one level deeper): that data set, the same clips
    deeper = tmp_path / "prep_deeper"
    assert main(["data", "prepare", str(src / "hdm05"), "-o", str(deeper), "--jobs", "1"]) == 0
    assert [(r["dataset"], r["labels"], r["split"]) for r in read_manifest(deeper)] == \
           [(r["dataset"], r["labels"], r["split"]) for r in recs]
    assert main(["data", "prepare", str(src / "hdm05"), "-o", str(deeper), "--datasets", "bandai"]) == 1
    # clips are read as inbetween/extend read them (the source's twist: the heads' training data), or
    # with --twist clip; the manifest says which
    other = tmp_path / "prep_clip"
    assert main(["data", "prepare", str(src), "-o", str(other), "--datasets", "hdm05", "--jobs", "1", "--twist", "clip"]) == 0
    from a4mer.api import load_motion
    from a4mer.geometry import quat_angle
    for r, c, row in zip(recs, read_manifest(other), keep):
        want = load_motion(src / "hdm05" / row["file"], fps=30.0).body()
        assert c["twist"] == "clip" and quat_angle(read_amass_npz(r["path"]).rotations, want.rotations).max() < 1e-5
        assert quat_angle(read_amass_npz(r["path"]).rotations, read_amass_npz(c["path"]).rotations).max() > 0.05


def test_prepare_a_plain_folder_of_own_clips(data_root, repo_root, tmp_path, capsys):
    """A library of one's own clips (any layout, mixed formats) is prepared as data set 'own': each clip
    labelled with its folder, named by its path, a fixed share held out; training on it finds them
    through ``data.datasets=[]`` (the default data sets name it in the error)."""
    import pytest
    from a4mer.data.dataset import DataConfig, build_items
    from a4mer.errors import A4merError
    lib = tmp_path / "library"
    with open(data_root / "hdm05" / "labels.csv") as f:
        row = next(csv.DictReader(f))
    for key in ("file", "asf"):  # an AMC finds its skeleton in the sibling asf/ folder
        (lib / "hdm" / row[key]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_root / "hdm05" / row[key], lib / "hdm" / row[key])
    bvh = repo_root / "examples/bandai/dataset-1_walk_happy_002.bvh"
    for sub in ("walks/happy", "walks/sad"):
        (lib / sub).mkdir(parents=True)
        shutil.copy(bvh, lib / sub / "take.bvh")
    shutil.copy(bvh, lib / "top.bvh")  # a clip at the top of the library: labelled with the library's name
    out = lib / "prepared"  # inside the library: not read as clips on a re-run
    for _ in range(2):
        assert main(["data", "prepare", str(lib), "-o", str(out), "--jobs", "1"]) == 0, capsys.readouterr().err
    from a4mer.prepare import prepare
    calls = []  # progress is reported clip by clip (it was one call after the last clip)
    assert prepare(lib, out, jobs=1, progress=lambda done, total: calls.append((done, total))) == (4, 0)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    recs = read_manifest(out)
    assert len(recs) == 4 and {r["dataset"] for r in recs} == {"own"}
    # a second prepared folder: the first one's npz copies are not read in again (each clip twice, under a
    # label 'prepared/clips/own', a copy of a test clip possibly in train)
    assert main(["data", "prepare", str(lib), "-o", str(tmp_path / "prepared_v2"), "--jobs", "1"]) == 0
    assert [r["source"] for r in read_manifest(tmp_path / "prepared_v2")] == [r["source"] for r in recs]
    names = sorted(r["path"].split("/clips/own/")[1] for r in recs)
    assert names == sorted([Path(row["file"]).stem.join(["hdm__amc__", ".npz"]),
                            "walks__happy__take.npz", "walks__sad__take.npz", "top.npz"])
    assert sorted(r["labels"]["folder"] for r in recs) == ["hdm/amc", "library", "walks/happy", "walks/sad"]
    # clips are read with the source's twist (as convert, inbetween and extend read them)
    from a4mer.api import load_motion
    hdm = next(r for r in recs if r["labels"]["folder"] == "hdm/amc")
    want = load_motion(lib / "hdm" / row["file"], fps=30.0)
    assert want.meta["retarget_twist"] == "rest pose"
    from a4mer.geometry import quat_angle
    assert quat_angle(read_amass_npz(hdm["path"]).rotations, want.body().rotations).max() < 1e-5
    assert {r["split"] for r in recs} <= {"train", "test"}
    for r in recs:
        assert read_amass_npz(r["path"]).fps == 30
    with pytest.raises(A4merError, match=r"the manifest holds \['own'\]; --set data.datasets=\[\]"):
        build_items(out, DataConfig(), segmenter=None, rng=np.random.default_rng(0))
    with pytest.raises(A4merError, match=r"those data sets hold the splits \['train'\]: --set data.split"):
        build_items(out, DataConfig(datasets=(), split="val"), segmenter=None, rng=np.random.default_rng(0))
    assert len(build_items(out, DataConfig(datasets=(), split="train", mirror=False, speed_variants=0),
                           segmenter=lambda *a: np.array([0]), rng=np.random.default_rng(0))) > 0
    # clips whose path names clash (walks/sad/take.bvh and a walks__sad__take.npz at the top, a .bvh and
    # an .npz of one name) each keep their own file: one overwrote the other, under the other's label
    from a4mer.api import load_motion
    from a4mer.io.amass import write_amass_npz
    write_amass_npz(load_motion(bvh).slice(0, 40), lib / "walks__sad__take.npz")
    write_amass_npz(load_motion(bvh).slice(0, 50), lib / "walks" / "happy" / "take.npz")
    shutil.rmtree(out)
    assert main(["data", "prepare", str(lib), "-o", str(out), "--jobs", "1"]) == 0, capsys.readouterr().err
    recs = read_manifest(out)
    assert len(recs) == 6 and len({r["path"] for r in recs}) == 6
    for r in recs:
        assert read_amass_npz(r["path"]).num_frames == r["frames"], r
    # a library whose headers state a wrong rate (CMU salsa BVHs say 120 and are 60): --source-fps
    slow = tmp_path / "slow"
    assert main(["data", "prepare", str(lib / "walks"), "-o", str(slow), "--jobs", "1", "--source-fps", "15"]) == 0
    (rec,) = [r for r in read_manifest(slow) if r["source"].endswith("sad/take.bvh")]
    plain = load_motion(bvh)  # 30 fps in its header: read at 15 fps it lasts twice as long
    assert rec["frames"] == pytest.approx(2 * plain.num_frames, abs=2)
    (tmp_path / "data" / "hdm05").mkdir(parents=True)  # the project's layout states each clip's rate
    shutil.copy(data_root / "hdm05" / "labels.csv", tmp_path / "data" / "hdm05" / "labels.csv")
    assert main(["data", "prepare", str(tmp_path / "data"), "-o", str(slow), "--source-fps", "60"]) == 1
    assert "--source-fps is for a folder of your own clips" in capsys.readouterr().err
    assert main(["data", "prepare", str(lib / "walks"), "-o", str(slow), "--source-fps", "inf"]) == 1
    # -o the library itself: a second run read the first one's npz clips as new clips of label clips/own
    walks = tmp_path / "walks_only"
    shutil.copytree(lib / "walks", walks)
    for _ in range(2):
        assert main(["data", "prepare", str(walks), "-o", str(walks), "--jobs", "1"]) == 0, capsys.readouterr().err
        assert sorted(r["labels"]["folder"] for r in read_manifest(walks)) == ["happy", "happy", "sad"]


def test_manifest_readers_name_the_file_and_line(tmp_path):
    """One manifest reader for training (paths as written) and the benchmarks (absolute paths); a
    missing file or a malformed line is an error naming it."""
    import pytest
    from a4mer.errors import A4merError
    from a4mer.prepare import manifest_rows
    with pytest.raises(A4merError, match=r"manifest.jsonl: no manifest.jsonl here"):
        manifest_rows(tmp_path)
    (tmp_path / "manifest.jsonl").write_text('{"path": "clips/a.npz", "dataset": "own"}\n\n{"dataset": "own"}\n')
    with pytest.raises(A4merError, match=r"manifest.jsonl:3: bad manifest line"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.jsonl").write_text('{"path": "clips/a.npz", "dataset": "own"}\n')
    assert manifest_rows(tmp_path) == [{"path": "clips/a.npz", "dataset": "own"}]
    assert read_manifest(tmp_path) == [{"path": str(tmp_path / "clips/a.npz"), "dataset": "own"}]
