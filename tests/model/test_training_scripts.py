"""The training scripts (scripts/train_default.py, train_heads.py, train_token_heads.py) on data of your
own: which clips validate, arguments checked before any training, nothing of a finished run replaced."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from a4mer.errors import A4merError
from a4mer.io.amass import write_amass_npz

from model_helpers import synthetic_motion, tiny_config

SCRIPTS = Path(__file__).parents[2] / "scripts"


def _script(name: str, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _own_data(root: Path, n: int = 30, frames: int = 260) -> Path:
    """A folder as ``a4mer data prepare MY_CLIPS -o root`` writes it: data set ``own``, train split."""
    (root / "clips" / "own").mkdir(parents=True)
    rows = []
    for i in range(n):
        rel = f"clips/own/take{i}.npz"
        write_amass_npz(synthetic_motion(frames + 7 * i, 300 + i), root / rel)
        rows.append({"path": rel, "dataset": "own", "source": "own", "frames": frames + 7 * i, "fps": 30.0,
                     "labels": {"folder": "takes"}, "split": "train", "twist": "rest"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_a_data_set_of_your_own_holds_out_validation_clips(tmp_path):
    """Only Bandai, CMU dance and HDM05 had validation clips: heads trained on ``own`` data ran their whole
    budget, then stopped in a StopIteration (no validation set to choose the gates on)."""
    from a4mer.heads.train import load_split, validation_set_of
    data = _own_data(tmp_path / "d")
    train, val = load_split(data, {"own"}, {"dg"}, log=lambda m: None)
    assert list(val) == ["own_heldout"] and train and val["own_heldout"]
    rows = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()]
    held = {f"own/{Path(r['path']).stem}" for r in rows if validation_set_of(r, {"dg"})}
    assert {n for n, _, _ in val["own_heldout"]} == held and not held & {n for n, _, _ in train}
    assert len(train) + len(held) == len(rows)
    with pytest.raises(A4merError, match=r"no training clips of bandai1 .*it holds own.*--train-datasets"):
        load_split(data, {"bandai1"}, {"dg"}, log=lambda m: None)
    few = _own_data(tmp_path / "few", n=3)
    kept = [r for r in rows[:3] if validation_set_of(r, {"dg"}) is None]  # training clips only
    assert 0 < len(kept) < 3
    (few / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    with pytest.raises(A4merError, match="no validation clips"):
        load_split(few, {"own"}, {"dg"}, log=lambda m: None)


def test_scripts_check_their_arguments_before_training(tmp_path):
    """A budget of -1 minutes was taken (heads) or named ``time_limit_s`` (default model); an --out that is a
    folder was found only when the trained file was written."""
    data = _own_data(tmp_path / "d", n=2)
    folder = tmp_path / "a_folder"
    folder.mkdir()
    for script, args, words in (
            ("train_heads.py", ["--out", tmp_path / "h.safetensors", "--minutes", "-1"], ["--minutes", "> 0, got -1"]),
            ("train_heads.py", ["--out", tmp_path / "h.safetensors", "--minutes", "0"], ["--minutes", "> 0"]),
            ("train_heads.py", ["--out", folder, "--minutes", "1"], ["is a folder"]),
            ("train_heads.py", ["--out", tmp_path / "h.safetensors", "--train-datasets", "bandai1"],
             ["no training clips of bandai1"]),
            ("train_token_heads.py", ["--out", folder], ["is a folder"]),
            ("train_token_heads.py", ["--out", tmp_path / "t.safetensors", "--minutes", "nan"], ["--minutes"]),
            ("train_default.py", ["--out", tmp_path / "run", "--minutes", "-1"], ["--minutes", ">= 0"]),
            ("train_default.py", ["--out", tmp_path / "run", "--heads-minutes", "-1"], ["--heads-minutes"]),
            ("train_default.py", ["--out", tmp_path / "run", "--heads-out", folder], ["--heads-out", "is a folder"])):
        r = _script(script, "--data", data, *args, timeout=120)
        assert r.returncode == 2, (script, args, r.stderr)
        assert all(w in r.stderr for w in words) and "Traceback" not in r.stderr, (script, args, r.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder", "d"] and not list(folder.iterdir())


def test_heads_train_on_a_data_set_of_your_own(tmp_path):
    data = _own_data(tmp_path / "d")
    out = tmp_path / "own_heads.safetensors"
    r = _script("train_heads.py", "--data", data, "--out", out, "--train-datasets", "own", "--minutes", "0.1")
    assert r.returncode == 0, r.stderr + r.stdout[-3000:]
    hist = json.loads(Path(str(out) + ".history.json").read_text())
    assert list(hist["final_val"]) == ["own_heldout"] and hist["steps"] > 0
    from a4mer.heads.files import load_heads, read_heads_metadata
    assert load_heads(out).net is not None
    meta = read_heads_metadata(out)
    assert json.loads(meta["training"])["train_datasets"] == "own"
    assert meta["license"] == "" and json.loads(meta["attributions"]) == []  # your own data: no terms of the project's sources


def test_export_only_writes_the_bundle_and_leaves_the_run_as_it_was(tmp_path):
    """``--export-only --bundle B`` re-mines the vocabulary for B; it replaced the run's own
    vocab.safetensors too (the run's checkpoints then described another vocabulary than its bundle)."""
    from a4mer.model import A4Mer
    from a4mer.train.loop import train
    data = _own_data(tmp_path / "d", n=8, frames=150)
    run = train(data, tiny_config("data.datasets=[]"), tmp_path / "run", progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    bundle = tmp_path / "remined.safetensors"
    r = _script("train_default.py", "--data", data, "--out", run, "--export-only", "--bundle", bundle,
                "--set", "model.motifs.k=3", "--set", "model.motifs.min_support=2")
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    remined = A4Mer.load(bundle)
    assert remined.vocab.k == 3 != A4Mer.load(run).vocab.k  # mined again under the script's settings
    assert remined.info["license"].startswith("CC BY-NC")
