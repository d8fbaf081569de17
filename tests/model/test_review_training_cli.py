"""User journey of the model-side commands (train, motifs build, label-train): user errors are one
line naming the flag or file, before anything is written; resume through the CLI continues."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from a4mer.cli.main import main
from a4mer.errors import A4merError
from a4mer.io.amass import write_amass_npz
from a4mer.train.config import load_config

from model_helpers import TINY, synthetic_motion


def _one_error_line(capsys, *words: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    for w in words:
        assert w in err[0], (w, err[0])


@pytest.mark.parametrize("bad, key", [
    ("log_every=0", "log_every"), ("checkpoint_every=0", "checkpoint_every"), ("optim.steps=-5", "optim.steps"),
    ("optim.batch_size=0", "optim.batch_size"), ("optim.lr=-1", "optim.lr"), ("threads=-1", "threads"),
    ("data.window_s=0", "data.window_s"), ("data.fps=0", "data.fps"), ("data.max_segments=1", "data.max_segments"),
    ("model.stage1.encoder.heads=3", "model.stage1.encoder.dim"), ("model.motifs.k=1", "model.motifs.k"),
    ("model.motifs.temperature=0", "model.motifs.temperature"),  # a vocabulary of scale 0: every confidence 1
    # NaN / infinite: a traceback (cannot convert float NaN to integer), or training on with NaN atoms
    ("data.window_s=NaN", "data.window_s"), ("data.window_s=Infinity", "data.window_s"), ("data.fps=1e400", "data.fps"),
    ("optim.lr=Infinity", "optim.lr"), ("model.atoms.threshold=NaN", "model.atoms.threshold"),
    ("model.atoms.fixed_s=-1", "model.atoms.fixed_s"),
])
def test_out_of_range_config_values_are_one_error_naming_the_key(bad, key):
    # these used to fail deep inside training (ZeroDivisionError, torch ValueError) or train silently
    with pytest.raises(A4merError, match=key.replace(".", r"\.")):
        load_config(sets=TINY + [bad])


def _prepared(root: Path, n: int = 5) -> Path:
    (root / "clips").mkdir(parents=True)
    rows = []
    for i in range(n):
        write_amass_npz(synthetic_motion(150 + 20 * i, 40 + i), root / "clips" / f"c{i}.npz")
        rows.append({"dataset": "bandai1", "split": "train", "fps": 30.0, "path": f"clips/c{i}.npz"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_train_cli_out_checks_and_resume_continues(tmp_path, capsys):
    from a4mer.train.loop import train

    data = _prepared(tmp_path / "prep")
    cfg = load_config(sets=TINY + ["optim.stage2_steps=0", "optim.steps=6", "checkpoint_every=100"])
    out = tmp_path / "run"
    train(data, cfg, out, progress=False, stop_after=2)  # an interrupted run
    assert json.loads((out / "state.json").read_text())["step"] == 2
    before = {f.name: f.read_bytes() for f in out.iterdir()}

    # a folder holding a run, without --resume: refused, nothing touched
    assert main(["train", "--data", str(data), "--out", str(out), "--set", "optim.steps=3"]) == 1
    _one_error_line(capsys, "--out", "--resume")
    # --resume uses the run's config.json: --set would be silently ignored, so it is an error
    assert main(["train", "--data", str(data), "--out", str(out), "--resume", "--set", "optim.steps=3"]) == 1
    _one_error_line(capsys, "--resume", "--set optim.steps=3")
    # --out naming a file
    (tmp_path / "afile").write_text("x")
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "afile")]) == 1
    _one_error_line(capsys, "afile", "file")
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before

    capsys.readouterr()
    assert main(["train", "--data", str(data), "--out", str(out), "--resume", "--no-progress"]) == 0
    assert "motif vocabulary: " in capsys.readouterr().out
    assert json.loads((out / "train_log.json").read_text())["step"] == 6
    assert json.loads((out / "state.json").read_text())["step"] == 6
    assert (out / "bundle.safetensors").is_file()


def test_motifs_build_never_overwrites_a_clip_and_checks_its_flags(tiny_run, tmp_path, capsys):
    out, _, _ = tiny_run
    lib = tmp_path / "lib"
    lib.mkdir()
    for s in range(3):
        write_amass_npz(synthetic_motion(160, 60 + s), lib / f"m{s}.npz")
    clip = lib / "m0.npz"
    data = clip.read_bytes()
    base = ["motifs", "build", "--data", str(lib), "--checkpoint", str(out)]
    # --out naming one of the clips used to replace the clip with the vocabulary
    assert main(base + ["--out", str(clip)]) == 1
    _one_error_line(capsys, str(clip))
    assert clip.read_bytes() == data
    assert main(base + ["--out", str(tmp_path / "v.json")]) == 1
    _one_error_line(capsys, "v.json", ".safetensors")
    for flag, value in (("--k", "-3"), ("--min-support", "0"), ("--max-len", "1")):
        assert main(base + ["--out", str(tmp_path / "v.safetensors"), flag, value]) == 1  # --k -3 was a traceback
        _one_error_line(capsys, flag)
    assert not (tmp_path / "v.safetensors").exists() and not list(tmp_path.glob("*.part"))
    assert main(base + ["--out", str(tmp_path / "v.safetensors"), "--k", "3", "--min-support", "2"]) == 0
    assert (tmp_path / "v.safetensors").is_file() and not list(tmp_path.glob("*.part"))
    capsys.readouterr()
    # more support than clips: no pattern can be mined; the vocabulary is written, and a warning says why
    assert main(base + ["--out", str(tmp_path / "u.safetensors"), "--k", "3", "--min-support", "5"]) == 0
    err = capsys.readouterr().err
    assert "warning: 0 patterns (only 3 clips, fewer than --min-support 5)" in err and "--min-support 2)" in err, err
    # the hint names a lower value than the one given (it repeated --min-support 2 for one clip)
    assert main(["motifs", "build", "--data", str(clip), "--checkpoint", str(out), "--out", str(tmp_path / "o.safetensors"),
                 "--k", "2", "--min-support", "2"]) == 0
    err = capsys.readouterr().err
    assert "only 1 clip, fewer than --min-support 2" in err and "(e.g. --min-support 1)" in err, err
    # a clip that cannot be read is named and left out; the exit code says so (it was 0)
    (lib / "broken.npz").write_bytes(b"not a clip")
    assert main(base + ["--out", str(tmp_path / "w.safetensors"), "--k", "3", "--min-support", "2"]) == 1
    assert "broken.npz" in capsys.readouterr().err and (tmp_path / "w.safetensors").is_file()

    # the model's own files are inputs too: naming one as --out replaced the user's model (or vocabulary)
    bundle = out / "bundle.safetensors"
    data_before = bundle.read_bytes()
    assert main(base + ["--out", str(bundle)]) == 1
    _one_error_line(capsys, "refusing to overwrite the input")
    assert bundle.read_bytes() == data_before
    capsys.readouterr()
    # --split takes a prepared dataset's clips of one split only; a plain folder has none to take
    assert main(base + ["--out", str(tmp_path / "x.safetensors"), "--split", "train"]) == 1
    _one_error_line(capsys, "--split needs a manifest.jsonl")
    prepared = tmp_path / "prepared"
    (prepared / "clips").mkdir(parents=True)
    rows = []
    for s, split in enumerate(("train", "train", "train", "test")):
        write_amass_npz(synthetic_motion(160, 60 + s), prepared / "clips" / f"c{s}.npz")
        rows.append(json.dumps({"dataset": "own", "path": f"clips/c{s}.npz", "split": split}))
    (prepared / "manifest.jsonl").write_text("\n".join(rows) + "\n")
    pbase = ["motifs", "build", "--data", str(prepared), "--checkpoint", str(out), "--k", "3", "--min-support", "2"]
    assert main(pbase + ["--out", str(tmp_path / "t.safetensors"), "--split", "validation"]) == 1
    _one_error_line(capsys, "no clips of split 'validation'", "test, train")
    assert main(pbase + ["--out", str(tmp_path / "t.safetensors"), "--split", "train"]) == 0
    assert capsys.readouterr().out.startswith("3 clips, ")
    assert main(pbase + ["--out", str(tmp_path / "a.safetensors")]) == 0
    assert capsys.readouterr().out.startswith("4 clips, ")


def test_label_train_checks_holdout_and_its_report_path_first(tmp_path, capsys):
    lib = tmp_path / "lib"
    for label in ("walk", "jump"):
        (lib / label).mkdir(parents=True)
        write_amass_npz(synthetic_motion(90, 70), lib / label / "a.npz")
    head = tmp_path / "h.safetensors"
    # the checkpoint does not exist: the flag errors must come before the model is loaded
    base = ["label-train", str(lib), "-o", str(head), "--checkpoint", str(tmp_path / "no_model")]
    assert main(base + ["--holdout", "1.5"]) == 1
    _one_error_line(capsys, "--holdout", "1.5")
    (tmp_path / "h.holdout.json").mkdir()  # the hold-out report could not be written after training
    assert main(base + ["--holdout", "0.2"]) == 1
    _one_error_line(capsys, "h.holdout.json", "folder")
    assert not head.exists()


def test_the_shipped_files_are_inputs_no_output_may_replace(tmp_path, capsys):
    """Without --checkpoint, motifs build and label-train read the shipped model: an --out / -o naming it
    (or another shipped file) replaced the package's model with a vocabulary or a label head."""
    import hashlib

    from a4mer.shipped import DEFAULT_BUNDLE, HEADS, shipped_files
    assert DEFAULT_BUNDLE in shipped_files() and HEADS in shipped_files()
    lib = tmp_path / "lib" / "walk"
    lib.mkdir(parents=True)
    for s in range(2):
        write_amass_npz(synthetic_motion(160, 60 + s), lib / f"m{s}.npz")
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in shipped_files()}
    for target, argv in ((DEFAULT_BUNDLE, ["motifs", "build", "--data", str(lib), "--out", str(DEFAULT_BUNDLE)]),
                         (HEADS, ["motifs", "build", "--data", str(lib), "--out", str(HEADS)]),
                         (DEFAULT_BUNDLE, ["label-train", str(lib.parent), "-o", str(DEFAULT_BUNDLE), "--epochs", "1"])):
        assert main(argv) == 1, argv
        _one_error_line(capsys, "refusing to overwrite the input", str(target))
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in shipped_files()} == digest
