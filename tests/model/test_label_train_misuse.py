"""``a4mer label-train`` as people misuse it, on real HDM05 clips with the shipped model: a hold-out
share that would take every clip of a label, a clip given twice, a spreadsheet's CSV (BOM, CRLF,
unicode labels), a CSV giving one clip two labels; and a long take, which must not pad every
training batch to its length."""
from __future__ import annotations

import json

import numpy as np
import pytest

from a4mer.cli.main import main
from a4mer.heads.recognition import FrameHead, HeadConfig, RecognitionHead, train_frame_head

CLIPS = {"squat": ["HDM_bd_squat1Reps_001_120", "HDM_bd_squat1Reps_002_120"],
         "hop": ["HDM_bd_hopBothLegs1hops_001_120", "HDM_bd_hopBothLegs1hops_002_120"]}


@pytest.fixture(scope="module")
def library(data_root, tmp_path_factory):
    """``lib/<label>/<clip>.amc`` (links to the real HDM05 clips) and ``lib/asf/HDM_bd.asf``."""
    lib = tmp_path_factory.mktemp("label_lib") / "lib"
    (lib / "asf").mkdir(parents=True)
    (lib / "asf" / "HDM_bd.asf").symlink_to(data_root / "hdm05" / "asf" / "HDM_bd.asf")
    for label, names in CLIPS.items():
        (lib / label).mkdir()
        for n in names:
            (lib / label / f"{n}.amc").symlink_to(data_root / "hdm05" / "amc" / f"{n}.amc")
    return lib


def test_holdout_never_takes_every_clip_of_a_label(library, tmp_path, capsys):
    """Two clips per label and --holdout 0.75 held out both (round(1.5) = 2): nothing was left to train on
    and the error ("need one label per training clip") named no cause; one clip of each label now trains."""
    head = tmp_path / "h.safetensors"
    assert main(["label-train", str(library), "-o", str(head), "--holdout", "0.75", "--epochs", "2"]) == 0, \
        capsys.readouterr().err
    h = RecognitionHead.load(head)
    assert h.training["train_clips"] == 2 and h.training["clips_per_class"] == {"hop": 2, "squat": 2}
    rep = json.loads((tmp_path / "h.holdout.json").read_text())
    assert rep["clips"] == 2 and sorted(p["label"] for p in rep["predictions"]) == ["hop", "squat"]


def test_the_holdout_report_names_clips_and_counts_frames_as_label_does(library, tmp_path, monkeypatch, capsys):
    """The report's clip paths were relative to the folder label-train ran in, and its frame accuracy counted
    frames at the model's 10 fps where ``a4mer label`` labels the clip's own 120 fps frames: both now as
    ``label`` reads and writes them, from any folder."""
    crossed = library.parent / "crossed"  # labels a head cannot learn: held-out frames come out mixed
    for label, (squat, hop) in zip("AB", zip(CLIPS["squat"], CLIPS["hop"])):
        (crossed / label).mkdir(parents=True, exist_ok=True)
        for name, kind in ((squat, "squat"), (hop, "hop")):
            if not (crossed / label / f"{name}.amc").exists():
                (crossed / label / f"{name}.amc").symlink_to(library / kind / f"{name}.amc")
    if not (crossed / "asf").exists():
        (crossed / "asf").symlink_to(library / "asf")
    monkeypatch.chdir(library.parent)
    assert main(["label-train", crossed.name, "-o", str(tmp_path / "h.safetensors"), "--holdout", "0.5",
                 "--epochs", "2"]) == 0, capsys.readouterr().err
    rep = json.loads((tmp_path / "h.holdout.json").read_text())
    monkeypatch.chdir(tmp_path)
    right = total = 0
    for p in rep["predictions"]:
        assert p["clip"].startswith(str(crossed)), p  # absolute, the link kept
        out = tmp_path / "x.labels.json"
        assert main(["label", p["clip"], "--head", str(tmp_path / "h.safetensors"), "-o", str(out)]) == 0
        labels = json.loads(out.read_text())
        assert labels["clip"]["label"] == p["predicted"]
        frames = np.array(labels["frame_labels"])
        right, total = right + int((frames == labels["head_classes"].index(p["label"])).sum()), total + len(frames)
    assert 0 < right < total and rep["frame_accuracy"] == pytest.approx(100 * right / total), (rep, right, total)


def test_a_clip_given_twice_is_read_once(library, tmp_path, capsys):
    """``lib lib/squat/x.amc``: the clip counted twice (3 squats of 2 files) and, with a hold-out, could be
    trained on and held out at once."""
    again = library / "squat" / f"{CLIPS['squat'][0]}.amc"
    head = tmp_path / "h.safetensors"
    assert main(["label-train", str(library), str(again), "-o", str(head), "--epochs", "2"]) == 0
    assert "given more than once" in capsys.readouterr().err
    assert RecognitionHead.load(head).training["clips_per_class"] == {"hop": 2, "squat": 2}


def test_spreadsheet_csv_and_conflicting_rows(library, tmp_path, capsys):
    """A "CSV UTF-8" saved by a spreadsheet starts with a byte-order mark (and ends lines with CRLF): its
    header read as '\\ufefffile' and the CSV was refused as having no 'file' column. A clip listed with
    two labels silently took the last one; it is now an error naming both lines."""
    rows = ["file, label"] + [f"lib/{lab}/{n}.amc, {'hüpfen 跳' if lab == 'hop' else lab}"
                              for lab, names in CLIPS.items() for n in names]
    csv = library.parent / "labels.csv"
    csv.write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    head = tmp_path / "h.safetensors"
    assert main(["label-train", str(library), "--labels", str(csv), "-o", str(head), "--epochs", "2"]) == 0, \
        capsys.readouterr().err
    assert RecognitionHead.load(head).classes == ["hüpfen 跳", "squat"]
    bad = library.parent / "twice.csv"
    bad.write_text(f"file,label\nlib/squat/{CLIPS['squat'][0]}.amc,squat\nlib/squat/{CLIPS['squat'][0]}.amc,hop\n",
                   encoding="utf-8")
    assert main(["label-train", str(library), "--labels", str(bad), "-o", str(tmp_path / "h2.safetensors")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: line 3" in err and "'hop'" in err and "'squat'" in err and "line 2" in err
    assert not (tmp_path / "h2.safetensors").exists()


def test_a_label_is_one_label_however_its_accents_are_stored(library, tmp_path, capsys):
    """A folder "Tänzer" copied from macOS (decomposed: a + combining diaeresis) beside one from Windows
    (composed) gave two labels that print alike; --holdout with no label of two clips held out nothing
    without a word."""
    import os
    import unicodedata
    lib = tmp_path / "lib"
    for form, (label, names) in zip(("NFC", "NFD"), CLIPS.items()):
        d = lib / unicodedata.normalize(form, "Tänzer") / label  # the label is the clip's own folder
        d.mkdir(parents=True)
        for n in names[:1]:
            os.symlink(library / label / f"{n}.amc", d / f"{n}.amc")
    flat = tmp_path / "flat"
    for form, label in zip(("NFC", "NFD"), CLIPS):
        (flat / unicodedata.normalize(form, "Tänzer")).mkdir(parents=True, exist_ok=True)
        n = CLIPS[label][0]
        os.symlink(library / label / f"{n}.amc", flat / unicodedata.normalize(form, "Tänzer") / f"{n}.amc")
    (flat / "squat").mkdir()
    os.symlink(library / "squat" / f"{CLIPS['squat'][1]}.amc", flat / "squat" / f"{CLIPS['squat'][1]}.amc")
    asf = ["--asf", str(library / "asf" / "HDM_bd.asf")]
    head = tmp_path / "h.safetensors"
    assert main(["label-train", str(flat), "-o", str(head), "--epochs", "2", *asf]) == 0, capsys.readouterr().err
    assert RecognitionHead.load(head).classes == ["Tänzer", "squat"]
    assert RecognitionHead.load(head).training["clips_per_class"] == {"Tänzer": 2, "squat": 1}
    capsys.readouterr()
    assert main(["label-train", str(lib), "-o", str(tmp_path / "h2.safetensors"), "--epochs", "2", "--holdout", "0.5",
                 *asf]) == 0
    err = capsys.readouterr().err
    assert "--holdout 0.5: no label has two clips, so none was held out" in err
    assert not (tmp_path / "h2.holdout.json").exists()
    assert main(["label-train", str(flat), "-o", str(tmp_path / "h3.safetensors"), "--epochs", "2", "--holdout", "0.5",
                 *asf]) == 0
    assert "1 label(s) with one clip are trained on, not held out: squat" in capsys.readouterr().err


def test_a_long_take_does_not_pad_every_batch(monkeypatch):
    """One 20-minute take (12,000 frames at the head's 10 fps) among short clips: every batch of 32 was padded
    to 12,000 frames (attention 32 x 4 heads x 12,000^2 floats: ~74 GB). Now a long take is read in random
    1-minute crops and a batch holds at most 32 clips of a minute's worth of attention."""
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(12_000, 4)).astype(np.float32)] + [rng.normal(size=(int(n), 4)).astype(np.float32)
                                                               for n in rng.integers(20, 80, 40)]
    y = np.r_[0, rng.integers(0, 2, 40)]
    shapes = []
    forward = FrameHead.forward

    def spy(self, x, t, valid):
        B, T = x.shape[:2]
        shapes.append((B, T))
        assert T <= 600 and B * T * T <= 32 * 600 ** 2, f"a batch of {B} clips padded to {T} frames"  # before it runs
        return forward(self, x, t, valid)

    monkeypatch.setattr(FrameHead, "forward", spy)
    head = train_frame_head(seqs, y, ["a", "b"], HeadConfig(in_dim=4, dim=8, heads=2, epochs=2), "h")
    assert sum(B for B, _ in shapes) == 2 * len(seqs)  # every clip once per epoch
    assert head.predict(seqs[0]).shape == (12_000, 2)


def test_short_clips_train_as_before():
    """Clips within the crop keep the plain batches: a seeded permutation per epoch cut every 32."""
    from a4mer.heads.recognition import _training_batches
    cfg = HeadConfig(epochs=3, batch=32, seed=5)
    lengths = list(np.random.default_rng(1).integers(5, 600, 70))
    gen = np.random.default_rng(5)
    plain = []
    for _ in range(3):
        order = gen.permutation(70)
        plain += [[(int(j), 0) for j in order[i:i + 32]] for i in range(0, 70, 32)]
    assert _training_batches(lengths, cfg) == plain


def test_a_head_of_another_model_is_named(library, tiny_run, tmp_path, capsys):
    """``a4mer label --head H --checkpoint OTHER``: the error named neither the head file nor came before the
    clip was read; it now names the head and says to retrain it."""
    head = tmp_path / "h.safetensors"
    assert main(["label-train", str(library), "-o", str(head), "--epochs", "1"]) == 0
    clip = library / "hop" / f"{CLIPS['hop'][0]}.amc"
    out = tmp_path / "x.labels.json"
    assert main(["label", str(clip), "--head", str(head), "--checkpoint", str(tiny_run[0]), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{head}: the recognition head was trained on encoder" in err and "retrain the head" in err
    assert not out.exists()
    assert main(["label", str(clip), "--head", str(head), "-o", str(out)]) == 0  # its own model labels the clip
    assert json.loads(out.read_text())["head_classes"] == ["hop", "squat"]


def test_any_number_of_training_steps_trains():
    """Exactly 10 steps (``--epochs 10`` on up to 32 clips) failed with ZeroDivisionError: OneCycleLR's
    warm-up of 0.1 x 10 steps was one step long. 1-12 steps all train now."""
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(20, 4)).astype(np.float32) for _ in range(6)]
    y = np.arange(6) % 2
    for epochs in range(1, 13):
        head = train_frame_head(seqs, y, ["a", "b"], HeadConfig(in_dim=4, dim=8, heads=2, epochs=epochs), "h")
        assert head.predict(seqs[0]).shape == (20, 2)


def test_a_holdout_json_that_is_not_a4mers_report_is_never_removed_or_replaced(library, tmp_path, capsys):
    """label-train removed ``<head stem>.holdout.json`` beside ``-o`` on every run (an earlier head's report
    must not sit beside a new head), whatever that file was: a label CSV of that name given with ``--labels``
    (an input), a file of the user's; with ``--holdout`` it replaced such a file without a word. Only a
    hold-out report a4mer wrote is removed or replaced now; one of the user's is refused before training."""
    rows = ["file,label"] + [f"lib/{lab}/{n}.amc,{lab}" for lab, names in CLIPS.items() for n in names]
    csv = library.parent / "heads.holdout.json"  # an odd name for a label CSV, but the user's
    csv.write_text("\n".join(rows) + "\n")
    head = library.parent / "heads.safetensors"
    code = main(["label-train", str(library), "--labels", str(csv), "-o", str(head), "--epochs", "1"])
    assert code == 1 and "refusing to overwrite the input" in capsys.readouterr().err
    assert csv.read_text().startswith("file,label") and not head.exists()
    mine = tmp_path / "mine.holdout.json"
    mine.write_text('{"my": "notes"}')
    args = ["label-train", str(library), "-o", str(tmp_path / "mine.safetensors"), "--epochs", "1"]
    assert main(args) == 0 and mine.read_text() == '{"my": "notes"}'  # left alone without --holdout
    code = main([*args, "--holdout", "0.5"])
    assert code == 1 and "exists and is not a hold-out report of a4mer's" in capsys.readouterr().err
    assert mine.read_text() == '{"my": "notes"}'
    mine.unlink()
    assert main([*args, "--holdout", "0.5"]) == 0 and json.loads(mine.read_text())["clips"] == 2
    assert main(args) == 0 and not mine.exists()  # a4mer's own report of the earlier head goes
