"""Exports (npz / BVH / BABEL), the export verb and the pictures, on a slice of the real example clip."""
from __future__ import annotations

import json
import uuid
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a4mer import export as ex
from a4mer.api import load_motion
from a4mer.cli.main import main
from a4mer.errors import A4merError
from a4mer.io.amass import read_amass_npz
from a4mer.io.bvh import read_bvh

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"


@pytest.fixture(scope="module")
def motion():
    return load_motion(CLIP).slice(0, 45)


def segments_for(num_frames: int, fps: float, atom_len: int = 6) -> dict:
    """Segments in the model's schema tiling ``num_frames`` (atoms of ``atom_len``, motifs of 2 atoms)."""
    atoms = [{"start_frame": s, "end_frame": min(num_frames, s + atom_len), "start_t": s / fps,
              "end_t": min(num_frames, s + atom_len) / fps, "code": (s // atom_len) % 5}
             for s in range(0, num_frames, atom_len)]
    motifs = []
    for i in range(0, len(atoms), 2):
        j = min(len(atoms), i + 2)
        a, b = atoms[i]["start_frame"], atoms[j - 1]["end_frame"]
        motifs.append({"start_frame": a, "end_frame": b, "start_t": a / fps, "end_t": b / fps,
                       "motif_id": [3, 17, 3, 8][(i // 2) % 4], "atoms": list(range(i, j)), "confidence": 0.25 + i / 100})
    return {"schema_version": 1, "model_hash": "mh", "vocab_hash": "vh", "fps": fps, "duration": num_frames / fps,
            "atoms": atoms, "motifs": motifs}


def test_npz_round_trip(motion, tmp_path):
    out = ex.export(motion, tmp_path / "a.npz", "npz")
    back = read_amass_npz(out)
    assert back.fps == motion.fps and back.num_frames == motion.num_frames
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_bvh_positions_match(motion, tmp_path):
    out = ex.export(motion, tmp_path / "a.bvh", "bvh")
    src = read_bvh(out)
    assert src.fps == motion.fps and src.num_frames == motion.num_frames
    want = motion.body().joint_positions()  # (T, 24, 3) Z-up metres
    got = np.stack([src.positions[:, src.index(n)] for n in motion.body().skeleton.names], axis=1)
    assert np.abs(got - want).max() < 1e-3
    assert "Xposition Yposition Zposition" in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.bvh"]


def test_babel_times_labels_and_names(motion, tmp_path):
    seg = segments_for(motion.num_frames, motion.fps)
    out = ex.export(motion, tmp_path / "walk.babel.json", "babel", segments=seg, motif_names={"17": "Skip"},
                    name="walk", feat_p="walk.npz")
    data = json.loads(out.read_text())
    seq = data["walk"]
    assert seq["dur"] == pytest.approx(motion.num_frames / motion.fps)
    labels = seq["frame_ann"]["labels"]
    assert len(labels) == len(seg["motifs"])
    for lab, m in zip(labels, seg["motifs"]):
        assert round(lab["start_t"] * seg["fps"]) == m["start_frame"]
        assert round(lab["end_t"] * seg["fps"]) == m["end_frame"]
        want = "Skip" if m["motif_id"] == 17 else f"m{m['motif_id']}"
        assert lab["raw_label"] == want and lab["proc_label"] == want.lower() and lab["act_cat"] == [want]
    assert len({lab["seg_id"] for lab in labels}) == len(labels)
    for lab in labels + seq["seq_ann"]["labels"]:  # UUID-shaped, as in BABEL's own files
        assert str(uuid.UUID(lab["seg_id"])) == lab["seg_id"]
    assert sorted(x["raw_label"] for x in seq["seq_ann"]["labels"]) == sorted({lab["raw_label"] for lab in labels})
    again = ex.babel_sequence(seg, "walk", "walk.npz", {"17": "Skip"}, motion.duration)
    assert again == seq  # deterministic (stable seg ids)


def test_babel_needs_segments_and_bad_segments_leave_nothing(motion, tmp_path):
    with pytest.raises(A4merError, match="needs segments"):
        ex.export(motion, tmp_path / "x.babel.json", "babel")
    bad = segments_for(motion.num_frames, motion.fps)
    bad["motifs"][1]["start_frame"] = 0  # overlaps the first motif
    with pytest.raises(A4merError, match="motifs\\[1\\]"):
        ex.export(motion, tmp_path / "y.babel.json", "babel", segments=bad)
    with pytest.raises(A4merError, match="unknown export format"):
        ex.export(motion, tmp_path / "z.fbx", "fbx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change, named", [
    (lambda s: s["atoms"][1].update(start_frame="6"), r"atoms\[1\].start_frame must be a whole number >= 0, got '6'"),
    (lambda s: s["atoms"][0].update(start_frame=-3), r"atoms\[0\].start_frame must be a whole number >= 0, got -3"),
    (lambda s: s["motifs"][0].update(motif_id="walk"), r"motifs\[0\].motif_id must be a whole number"),
    (lambda s: s["motifs"][0].update(confidence=float("nan")), r"motifs\[0\].confidence must be a number"),
    (lambda s: s.update(motifs=None), "'motifs' must be a list, got NoneType"),
    (lambda s: s.update(duration="x"), "duration must be a positive number"),
    (lambda s: s.update(fps=60.0), r"atoms\[0\].end_t 0.2 s is not end_frame 6 / fps 60"),  # made at 30 fps
])
def test_segments_with_values_of_the_wrong_kind_are_refused(motion, tmp_path, change, named):
    """These were tracebacks, or wrong output (a file claiming 60 fps labelled half the clip)."""
    seg = segments_for(motion.num_frames, motion.fps)
    change(seg)
    with pytest.raises(A4merError, match=named):
        ex.export(motion, tmp_path / "x.babel.json", "babel", segments=seg)
    assert list(tmp_path.iterdir()) == []


def test_segments_with_numpy_numbers_are_taken_and_huge_or_partial_items_refused(motion, tmp_path):
    seg = segments_for(motion.num_frames, motion.fps)
    seg["atoms"][0].update(start_frame=np.int64(0), code=np.int32(4))
    seg["motifs"][0].update(confidence=np.float32(0.5), end_t=np.float64(seg["motifs"][0]["end_t"]))
    assert ex.export(motion, tmp_path / "np.babel.json", "babel", segments=seg).is_file()  # were refused
    for change, named in ((lambda s: s["atoms"][0].update(end_frame=10 ** 400), "end_frame must be a whole number"),
                          (lambda s: s["atoms"][0].update(end_t=10 ** 400), "end_t must be a number"),
                          (lambda s: s.update(fps=10 ** 400), "fps must be a positive number"),
                          (lambda s: s.update(generated_motifs=[{"motif_id": 1}]), r"generated_motifs\[0\] lacks 'start_frame'")):
        bad = segments_for(motion.num_frames, motion.fps)
        change(bad)
        with pytest.raises(A4merError, match=named):  # were OverflowError / KeyError tracebacks
            ex.export(motion, tmp_path / "x.babel.json", "babel", segments=bad)


def test_segments_reaching_past_the_clip_do_not_fit_it(motion, tmp_path, capsys):
    """A consistent file whose last motif ends at frame 1000 of a 45-frame clip: its duration said 1.5 s."""
    seg = segments_for(motion.num_frames, motion.fps)
    seg["motifs"][-1].update(end_frame=1000, end_t=1000 / motion.fps)
    clip = tmp_path / "clip.npz"
    ex.export(motion, clip, "npz")
    (tmp_path / "s.json").write_text(json.dumps(seg))
    assert main(["export", str(clip), "--format", "babel", "--segments", str(tmp_path / "s.json"),
                 "-o", str(tmp_path / "x.babel.json")]) == 1
    assert "these segments cover 33.33 s but" in capsys.readouterr().err
    for extra, fits in ((1, True), (4, False)):  # a segments file of a clip a few frames longer: another clip
        seg = segments_for(motion.num_frames + extra, motion.fps)
        (tmp_path / "s.json").write_text(json.dumps(seg))
        code = main(["export", str(clip), "--format", "babel", "--segments", str(tmp_path / "s.json"),
                     "-o", str(tmp_path / f"y{extra}.babel.json")])
        assert code == (0 if fits else 1), capsys.readouterr().err


def test_a_default_name_never_replaces_a_file_of_the_users(motion, tmp_path, capsys, monkeypatch):
    """``a4mer export converted/walk.npz --format bvh`` named its output ``./walk.bvh`` and replaced the
    user's original capture there without a word. A name the command chose itself replaces no file (a
    segments file of an earlier ``a4mer segment`` run is replaced: its own kind); ``-o`` replaces."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "converted").mkdir()
    ex.export(motion, tmp_path / "converted" / "walk.npz", "npz")
    original = b"HIERARCHY\nthe user's own capture\n"
    (tmp_path / "walk.bvh").write_bytes(original)
    assert main(["export", "converted/walk.npz", "--format", "bvh"]) == 1
    assert "walk.bvh: exists already, and the command chose this name itself: give -o walk.bvh" in capsys.readouterr().err
    assert (tmp_path / "walk.bvh").read_bytes() == original
    assert main(["export", "converted/walk.npz", "--format", "bvh", "-o", "walk.bvh"]) == 0
    assert (tmp_path / "walk.bvh").read_bytes() != original
    from a4mer.io.outputs import a4mer_json, check_output
    own = tmp_path / "walk.segments.json"
    own.write_text(json.dumps(segments_for(motion.num_frames, motion.fps)))
    assert check_output(own, replace=a4mer_json("atoms", "motifs", "model_hash")) == own
    own.write_text('{"notes": "mine"}')
    with pytest.raises(A4merError, match="exists already"):
        check_output(own, replace=a4mer_json("atoms", "motifs", "model_hash"))


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_pictures(motion, tmp_path):
    from a4mer import plots
    seg = segments_for(motion.num_frames, motion.fps)
    w, h = _png_size(plots.timeline_png(seg, tmp_path / "t.png"))
    assert w >= 1200 and h > 200
    long = segments_for(3000, 30.0)
    w2, _ = _png_size(plots.timeline_png(long, tmp_path / "t2.png"))
    assert w2 > w  # long clips get wider pictures (legible bars)
    gw, gh = _png_size(plots.motif_gallery_png(motion, seg, tmp_path / "g.png"))
    assert gw >= 1200 and gh > 200
    picked = plots.pick_occurrences(seg)
    assert [m["motif_id"] for m in picked] == [3, 8, 17]  # most frequent first, then by id
    empty = dict(seg, motifs=[])
    with pytest.raises(A4merError, match="no motif occurrence"):
        plots.motif_gallery_png(motion, empty, tmp_path / "g2.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png", "t.png", "t2.png"]


def test_export_verb(tmp_path, capsys):
    npz = tmp_path / "walk.npz"
    assert main(["convert", str(CLIP), "-o", str(npz)]) == 0
    m = read_amass_npz(npz)
    seg_path = tmp_path / "walk.segments.json"
    seg_path.write_text(json.dumps(segments_for(m.num_frames, m.fps)))
    assert main(["export", str(npz), "--format", "bvh", "-o", str(tmp_path / "w.bvh")]) == 0
    assert read_bvh(tmp_path / "w.bvh").num_frames == m.num_frames
    assert main(["export", str(npz), "--format", "babel", "--segments", str(seg_path), "-o",
                 str(tmp_path / "w.babel.json")]) == 0
    assert json.loads((tmp_path / "w.babel.json").read_text())["walk"]["dur"] == pytest.approx(m.duration)
    assert main(["export", str(npz), "--format", "timeline", "--segments", str(seg_path), "-o",
                 str(tmp_path / "w.png")]) == 0
    capsys.readouterr()
    assert main(["export", str(npz), "--format", "babel", "-o", str(tmp_path / "no.json")]) == 1
    assert "needs segments" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.bvh"), "--format", "npz"]) == 1
    assert "missing.bvh" in capsys.readouterr().err
    assert not (tmp_path / "no.json").exists()


def test_light_core_imports_without_matplotlib_torch_bpy():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('matplotlib', 'torch', 'bpy', 'scipy'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import a4mer.export, a4mer.plots, a4mer.batch, a4mer.cli.batch, a4mer.cli.export\n"
        "assert not any(m.split('.')[0] in ('matplotlib', 'torch', 'bpy') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_export_segment_reads_the_clip_as_segment_does(tmp_path):
    """``export X.amc --format babel --segment`` labels the clip as ``a4mer segment X.amc`` does (it once
    fed the model other joint frames: the source's twist, where segment read the clip calibrated)."""
    amc = REPO / "examples" / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc"
    seg = tmp_path / "kick.segments.json"
    assert main(["segment", str(amc), "-o", str(seg)]) == 0
    babel = tmp_path / "kick.babel.json"
    assert main(["export", str(amc), "--format", "babel", "--segment", "-o", str(babel)]) == 0
    labels = next(iter(json.loads(babel.read_text()).values()))["frame_ann"]["labels"]
    want = json.loads(seg.read_text())["motifs"]
    assert [lab["a4mer"]["motif_id"] for lab in labels] == [m["motif_id"] for m in want]
