"""Training: loop, checkpoints (save -> load bit-identical, resume), data-parallel under torchrun."""
from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from a4mer.errors import A4merError
from a4mer.train.checkpoint import load_resume, load_weights
from a4mer.train.config import load_config, to_dict
from a4mer.train.loop import build_net, train

from model_helpers import TINY, synthetic_motion, tiny_config


def test_run_writes_checkpoint_vocab_bundle(tiny_run):
    out, items, cfg = tiny_run
    for f in ("model.safetensors", "config.json", "optimizer.pt", "state.json", "vocab.safetensors", "bundle.safetensors"):
        assert (out / f).is_file(), f
    log = json.loads((out / "train_log.json").read_text())
    assert log["step"] == cfg.optim.steps + cfg.optim.stage2_steps
    assert log["last"]["token_std"] > 0.05 and "loss2" in log["last"]


def test_checkpoint_load_is_bit_identical(tiny_run):
    out, _, cfg = tiny_run
    net = build_net(cfg)
    load_weights(out, net)
    from safetensors.torch import load_file
    saved = load_file(str(out / "model.safetensors"))
    for k, v in net.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_corrupt_or_mismatched_checkpoint_is_a_clear_error(tiny_run, tmp_path):
    out, _, cfg = tiny_run
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    (bad / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(A4merError, match="model.safetensors"):
        load_weights(bad, build_net(cfg))
    wider = build_net(tiny_config("model.stage1.encoder.dim=16", "model.stage2.encoder.in_dim=16"))
    with pytest.raises(A4merError, match="does not match"):
        load_weights(out, wider)
    (bad / "optimizer.pt").write_bytes(b"not a torch file")
    with pytest.raises(A4merError, match="resume"):
        load_resume(bad, torch.optim.AdamW(build_net(cfg).parameters()))


def test_config_is_strict():
    with pytest.raises(A4merError, match=r"did you mean optim\.steps\?"):
        load_config(sets=["optim.stpes=3"])
    with pytest.raises(A4merError, match=r"did you mean log_every\?"):  # a key of another section
        load_config(sets=["optim.log_every=3"])
    with pytest.raises(A4merError):
        load_config(sets=["optim.steps=\"many\""])
    cfg = load_config(sets=["model.atoms.mode=fixed", "model.stage1.loss_split=false", "model.stage1.encoder.attention=full",
                            "model.stage1.target=reconstruction"])
    assert cfg.model.atoms.mode == "fixed" and not cfg.model.stage1.loss_split
    assert load_config(sets=[]).model.motifs.k == 512
    assert to_dict(load_config(sets=TINY)) == to_dict(tiny_config())


def test_resume_continues_exactly(tmp_path):
    from a4mer.data.dataset import make_item
    from a4mer.train.loop import make_segmenter

    cfg = tiny_config("optim.stage2_steps=0", "optim.steps=8", "checkpoint_every=100", "threads=1")
    seg = make_segmenter(cfg)
    items = lambda: [make_item(f"c{i}", synthetic_motion(150, 20 + i), seg, cfg.data.fps) for i in range(4)]  # noqa: E731
    train(None, cfg, tmp_path / "a", items=items(), progress=False)
    train(None, cfg, tmp_path / "b", items=items(), progress=False, stop_after=3)
    assert json.loads((tmp_path / "b" / "state.json").read_text())["step"] == 3
    # other data (one clip fewer) is refused, and the checkpoint is left as it was
    before = {f.name: f.read_bytes() for f in (tmp_path / "b").iterdir()}
    with pytest.raises(A4merError, match="other data"):
        train(None, tiny_config(), tmp_path / "b", items=items()[:3], progress=False, resume=True)
    assert {f.name: f.read_bytes() for f in (tmp_path / "b").iterdir()} == before
    torch.set_num_threads(2)
    # the CLI resumes with the default config (threads=0): the run's own config.json must decide
    train(None, tiny_config(), tmp_path / "b", items=items(), progress=False, resume=True)
    assert torch.get_num_threads() == 1
    from safetensors.torch import load_file
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the shipped form of the run is the same bytes too (its metadata held the run's wall-clock seconds)
    for f in ("bundle.safetensors", "vocab.safetensors"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    # the run's seconds are those of both sessions; resuming the finished run changes nothing (it
    # re-mined, re-exported and wrote a log with no losses)
    log = json.loads((tmp_path / "b" / "train_log.json").read_text())
    assert log["last"] and log["seconds"] >= json.loads((tmp_path / "b" / "state.json").read_text())["elapsed"] - 1e-6
    before = {f.name: f.read_bytes() for f in (tmp_path / "b").iterdir()}
    train(None, tiny_config(), tmp_path / "b", items=items(), progress=False, resume=True)
    assert {f.name: f.read_bytes() for f in (tmp_path / "b").iterdir()} == before


def test_a_time_limited_run_resumed_in_stage_2_keeps_its_vocabulary(tmp_path):
    """With a wall-clock limit, stage 2 starts at a share of the time, long before ``optim.steps``; a run
    resumed there mined a new vocabulary (the checkpoints' groups and the shipped codes then disagreed
    with the one stage 2 had trained on)."""
    from a4mer.data.dataset import make_item
    from a4mer.train.loop import make_segmenter
    cfg = tiny_config("optim.steps=1000", "optim.stage2_steps=1000", "time_limit_s=10000", "checkpoint_every=100000",
                      "threads=1")
    seg = make_segmenter(cfg)
    items = lambda: [make_item(f"c{i}", synthetic_motion(150, 20 + i), seg, cfg.data.fps) for i in range(4)]  # noqa: E731
    run = tmp_path / "run"
    train(None, cfg, run, items=items(), progress=False, stop_after=2)
    assert not (run / "vocab.safetensors").exists()  # still in stage 1
    state = json.loads((run / "state.json").read_text())
    state["elapsed"] = 5500.0  # past half of the time limit: stage 2, at step 2 of 1000
    (run / "state.json").write_text(json.dumps(state))
    train(None, cfg, run, items=items(), progress=False, resume=True, stop_after=2)
    vocab = (run / "vocab.safetensors").read_bytes()  # mined when stage 2 began, then 2 steps of stage 2
    assert json.loads((run / "state.json").read_text())["step"] == 4
    train(None, cfg, run, items=items(), progress=False, resume=True, stop_after=1)
    assert (run / "vocab.safetensors").read_bytes() == vocab


def test_a_checkpoint_stopped_half_way_is_named_on_resume(tmp_path, capsys):
    """A checkpoint is four files written one after another; stopped between them (a second Ctrl-C, a
    kill), the weights were of step N+1 and state.json of step N, and --resume took the mix without a word.
    A run stopped while writing its first checkpoint could be neither resumed ("not this run's optimizer
    state") nor started again ("holds a training run")."""
    import shutil
    from a4mer.cli.train import check_out
    from a4mer.data.dataset import make_item
    from a4mer.train.loop import make_segmenter
    cfg = tiny_config("optim.stage2_steps=0", "optim.steps=6", "checkpoint_every=100", "threads=1")
    seg = make_segmenter(cfg)
    items = lambda: [make_item(f"c{i}", synthetic_motion(150, 20 + i), seg, cfg.data.fps) for i in range(4)]  # noqa: E731
    train(None, cfg, tmp_path / "b", items=items(), progress=False, stop_after=2)
    train(None, cfg, tmp_path / "c", items=items(), progress=False, stop_after=3)
    shutil.copy(tmp_path / "c" / "model.safetensors", tmp_path / "b" / "model.safetensors")  # step 3's weights
    capsys.readouterr()
    train(None, cfg, tmp_path / "b", items=items(), progress=False, resume=True)
    assert "newer than state.json (step 2): the run was stopped while a checkpoint was written" in capsys.readouterr().err
    first = tmp_path / "first"
    first.mkdir()
    for f in ("model.safetensors", "config.json"):
        shutil.copy(tmp_path / "c" / f, first / f)
    for resume in (True, False):
        with pytest.raises(A4merError, match="its first checkpoint was never finished"):
            check_out(first, resume)
    with pytest.raises(A4merError, match=r"cannot create the folder \(.*model.safetensors is a file\)"):
        check_out(tmp_path / "c" / "model.safetensors" / "run", False)  # was a traceback at the first checkpoint


def _tiny_dataset(root: Path, n: int = 6) -> Path:
    from a4mer.io.amass import write_amass_npz

    (root / "clips" / "synth").mkdir(parents=True)
    rows = []
    for i in range(n):
        m = synthetic_motion(140 + 20 * i, 40 + i)
        rel = f"clips/synth/c{i}.npz"
        write_amass_npz(m, root / rel)
        rows.append({"path": rel, "dataset": "synth", "source": "synthetic", "frames": m.num_frames, "fps": 30.0,
                     "labels": {"action": "x"}, "split": "train"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_torchrun_two_cpu_processes_stay_in_sync(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed beside this python")
    data = _tiny_dataset(tmp_path / "data")
    sets = [a for s in TINY + ["data.datasets=[]", "optim.steps=4", "optim.stage2_steps=2"] for a in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "a4mer", "train", "--data", str(data),
                        "--out", str(tmp_path / "out"), "--no-progress", *sets],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    log = json.loads((tmp_path / "out" / "train_log.json").read_text())
    assert log["world"] == 2 and log["ranks_in_sync"] is True and log["step"] == 6


@pytest.mark.parametrize("switch", [["model.atoms.mode=frame"], ["model.atoms.mode=fixed", "model.atoms.fixed_s=1.0"],
                                    ["model.stage1.loss_split=false"], ["model.stage1.encoder.attention=full"],
                                    ["model.stage1.target=reconstruction"]])
def test_ablation_switches_train_and_segment(switch, tmp_path):
    from a4mer.data.dataset import make_item
    from a4mer.model import A4Mer
    from a4mer.train.loop import make_segmenter

    cfg = tiny_config("optim.steps=3", "optim.stage2_steps=2", "model.motifs.min_support=1", *switch)
    seg = make_segmenter(cfg)
    items = [make_item(f"c{i}", synthetic_motion(120, 60 + i), seg, cfg.data.fps) for i in range(3)]
    if cfg.model.atoms.mode == "frame":
        assert all(np.all(np.diff(it.bounds) == 1) for it in items)
    if cfg.model.atoms.mode == "fixed":
        assert all(np.all(np.diff(it.bounds)[:-1] == 10) for it in items)
    out = train(None, cfg, tmp_path, items=items, progress=False)
    model = A4Mer.load(out / "bundle.safetensors")
    m = synthetic_motion(90, 70)
    rec = model.segment(m)
    assert rec["atoms"][-1]["end_frame"] == 90 and sum(len(x["atoms"]) for x in rec["motifs"]) == len(rec["atoms"])


def test_a_run_stopped_before_its_motifs_were_mined_again_names_the_stale_vocabulary(tiny_run, tmp_path):
    """A training folder whose vocab.safetensors was mined with weights of an earlier phase (training stopped
    before the motifs were mined again) said only "this model has no motif vocabulary", naming no file."""
    from safetensors.torch import load_file, save_file

    from a4mer.model import A4Mer
    out, _, _ = tiny_run
    run = tmp_path / "run1"
    shutil.copytree(out, run)
    weights = load_file(str(run / "model.safetensors"))
    weights = {k: v + 0.01 if v.is_floating_point() else v for k, v in weights.items()}  # trained on after mining
    save_file(weights, str(run / "model.safetensors"))
    model = A4Mer.load(run)
    with pytest.raises(A4merError, match=rf"the model {re.escape(str(run))} has no motif vocabulary "
                                         rf"\({re.escape(str(run / 'vocab.safetensors'))} was mined with the weights "
                                         r"of an earlier phase.*a4mer motifs build"):
        model.segment(synthetic_motion(T=120, seed=0))
    assert A4Mer.load(out).vocab is not None  # the run's own vocabulary still loads
