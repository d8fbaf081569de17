"""Training on one's own data survives what real libraries and real users do: a corrupt clip is
skipped with a warning (too many refuse the run), Ctrl-C leaves a checkpoint that ``--resume``
continues exactly, and a file of a run given as the model says what to give instead.

Real clips: 20 Bandai-Namco BVH takes converted the way ``a4mer data prepare`` converts them
(``../shared/data`` or ``A4MER_DATA``; skipped when absent), trained with the tiny test config."""
from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from a4mer.cli.main import main
from a4mer.errors import A4merError
from a4mer.jepa.hierarchy import A4MerNet
from a4mer.train.config import load_config
from a4mer.train.loop import train

from model_helpers import TINY

N_CLIPS = 20
STEPS = 8
SETS = TINY + ["data.datasets=[]", f"optim.steps={STEPS}", "optim.stage2_steps=0", "checkpoint_every=100"]
CLI_SETS = [a for s in SETS for a in ("--set", s)]


@pytest.fixture(scope="module")
def real_prepared(data_root, tmp_path_factory) -> Path:
    """A prepared-data folder (manifest.jsonl + clips/bandai1/*.npz) of 20 real Bandai clips."""
    from a4mer.prepare import ClipJob, convert_job

    bvh = sorted((data_root / "bandai-namco" / "dataset-1" / "bvh").glob("*.bvh"))
    if len(bvh) < N_CLIPS:
        pytest.skip(f"fewer than {N_CLIPS} Bandai dataset-1 clips under {data_root}")
    root = tmp_path_factory.mktemp("prepared")
    rows = [convert_job(ClipJob(str(p), None, "bandai1"), root, 30.0) for p in bvh[::len(bvh) // N_CLIPS][:N_CLIPS]]
    assert all("error" not in r for r in rows), rows
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def real_run(real_prepared, tmp_path_factory) -> Path:
    """An uninterrupted tiny run on the real clips (reference weights; a run folder with a bundle)."""
    out = tmp_path_factory.mktemp("run") / "run"
    return train(real_prepared, load_config(sets=SETS), out, progress=False)


def _copy(real_prepared: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    data = tmp_path / "prep"
    shutil.copytree(real_prepared, data)
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    return data, [data / r["path"] for r in rows]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _put_nan(path: Path) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["poses"][len(arrays["poses"]) // 2, 5] = np.nan
    np.savez(path, **arrays)


def _err_lines(capsys) -> list[str]:
    err = capsys.readouterr().err.strip().splitlines()
    assert not any("Traceback" in line for line in err), err
    return err


# --- 1. corrupt clips -------------------------------------------------------------------------


def test_corrupt_clips_are_skipped_with_one_warning_each_and_training_goes_on(real_prepared, tmp_path, capsys):
    data, clips = _copy(real_prepared, tmp_path)
    _truncate(clips[3])
    _put_nan(clips[11])
    out = tmp_path / "run"
    # this used to stop the run at the first bad clip (exit 1, nothing trained)
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", *CLI_SETS]) == 0
    warnings = [line for line in _err_lines(capsys) if "warning" in line]
    assert len(warnings) == 3, warnings
    assert str(clips[3]) in warnings[0] and "not a readable npz" in warnings[0]
    assert str(clips[11]) in warnings[1] and "NaN" in warnings[1]
    assert "skipped 2 of 20 clips" in warnings[2]
    assert json.loads((out / "train_log.json").read_text())["step"] == STEPS
    assert (out / "bundle.safetensors").is_file()


def test_too_many_or_only_bad_clips_refuse_the_run_before_training(real_prepared, tmp_path, capsys):
    data, clips = _copy(real_prepared, tmp_path)
    for c in clips[:3]:  # 3 of 20 = 15 % > 10 %
        _truncate(c)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", *CLI_SETS]) == 1
    err = _err_lines(capsys)
    assert len(err) == 4 and "error" in err[-1], err  # 3 warnings, then the refusal naming the share
    assert "3 of 20 selected clips" in err[-1] and "10 %" in err[-1] and str(clips[0]) in err[-1]
    assert not (out / "model.safetensors").exists()

    rows = (data / "manifest.jsonl").read_text().splitlines()[:3]  # only the broken clips
    (data / "manifest.jsonl").write_text("\n".join(rows) + "\n")
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", *CLI_SETS]) == 1
    assert "none of the 3 selected clips could be read" in _err_lines(capsys)[-1]
    assert not (out / "model.safetensors").exists()


def test_one_bad_clip_in_a_small_folder_is_skipped_two_are_refused():
    """A single bad clip is skipped even where it is more than the 10 % share (a folder of a few
    clips); two of them there, or every clip, refuse the run."""
    from a4mer.data.dataset import check_skipped
    check_skipped(Path("data"), ["data/a.npz: truncated"], 5)
    with pytest.raises(A4merError, match="2 of 5 selected clips"):
        check_skipped(Path("data"), ["data/a.npz: truncated", "data/b.npz: NaN"], 5)
    with pytest.raises(A4merError, match="none of the 1 selected clips"):
        check_skipped(Path("data"), ["data/a.npz: truncated"], 1)
    check_skipped(Path("data"), ["x"] * 3, 30)
    with pytest.raises(A4merError, match="4 of 30"):
        check_skipped(Path("data"), ["x"] * 4, 30)


# --- 2. Ctrl-C ---------------------------------------------------------------------------------


def _interrupt_in_loss(monkeypatch, at_call: int) -> None:
    """KeyboardInterrupt from inside the loss of step ``at_call`` (its batch drawn, no update yet)."""
    loss, calls = A4MerNet.loss, []

    def interrupted(self, *a, **k):
        calls.append(1)
        if len(calls) == at_call:
            raise KeyboardInterrupt
        return loss(self, *a, **k)
    monkeypatch.setattr(A4MerNet, "loss", interrupted)


def _sigint_in_update(monkeypatch, at_call: int) -> None:
    """A real SIGINT (Ctrl-C) in the middle of the optimiser update of step ``at_call``."""
    ema_step, calls = A4MerNet.ema_step, []

    def interrupted(self, *a, **k):
        calls.append(1)
        if len(calls) == at_call:
            signal.raise_signal(signal.SIGINT)
        return ema_step(self, *a, **k)
    monkeypatch.setattr(A4MerNet, "ema_step", interrupted)


@pytest.mark.parametrize("how, at_call, saved_step", [("loss", 4, 3), ("update", 4, 4)])
def test_ctrl_c_saves_a_checkpoint_that_resume_continues_exactly(real_prepared, real_run, tmp_path, capsys,
                                                                 monkeypatch, how, at_call, saved_step):
    data, out = str(real_prepared), tmp_path / "run"
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a job started in
    try:                                                                # the background ignores Ctrl-C)
        with monkeypatch.context() as m:
            (_interrupt_in_loss if how == "loss" else _sigint_in_update)(m, at_call)
            # this used to end the run with nothing saved (checkpoint_every=100)
            assert main(["train", "--data", data, "--out", str(out), "--no-progress", *CLI_SETS]) == 130
    finally:
        signal.signal(signal.SIGINT, handler)
    err = _err_lines(capsys)
    assert len(err) == 1, err
    assert f"step {saved_step}/{STEPS}" in err[0] and str(out) in err[0] and f"--out {out} --resume" in err[0]
    assert json.loads((out / "state.json").read_text())["step"] == saved_step
    assert not list(out.glob("*.part"))  # no temporary files left behind

    assert main(["train", "--data", data, "--out", str(out), "--resume", "--no-progress"]) == 0
    ref, got = load_file(str(real_run / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert ref.keys() == got.keys() and all((ref[k] == got[k]).all() for k in ref)  # bit-identical


def test_ctrl_c_while_mining_the_vocabulary_saves_and_resume_finishes(real_prepared, tmp_path, capsys, monkeypatch):
    data, out = str(real_prepared), tmp_path / "run"

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr("a4mer.train.loop.mine_vocabulary", interrupted)
        assert main(["train", "--data", data, "--out", str(out), "--no-progress", *CLI_SETS]) == 130
    err = _err_lines(capsys)
    assert len(err) == 1 and f"step {STEPS}/{STEPS}" in err[0] and "--resume" in err[0], err
    assert not (out / "bundle.safetensors").exists()
    assert main(["train", "--data", data, "--out", str(out), "--resume", "--no-progress"]) == 0
    assert (out / "bundle.safetensors").is_file()


def test_sigterm_while_mining_between_the_stages_leaves_a_run_that_resumes(real_prepared, tmp_path, capsys,
                                                                        monkeypatch):
    """A scheduler's SIGTERM while the vocabulary is mined between the two stages, in a job started in
    the background (Ctrl-C ignored): the run is saved and resumes (a SIGTERM killed it outright, and a
    run without a checkpoint yet left a folder that was neither new nor resumable). The end of stage 1
    is checkpointed before mining, so even a kill that cannot be handled leaves a run to resume."""
    from a4mer.train import loop
    data, out = str(real_prepared), tmp_path / "run"
    sets = [a for s in SETS[:-2] + ["optim.stage2_steps=4", "checkpoint_every=100"] for a in ("--set", s)]
    mine, calls = loop.mine_vocabulary, []

    def terminated(*a, **k):
        calls.append(1)
        assert json.loads((out / "state.json").read_text())["step"] == STEPS  # saved before mining
        if len(calls) == 1:
            signal.raise_signal(signal.SIGTERM)
        return mine(*a, **k)
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `a4mer train ... &` in a job script
    try:
        with monkeypatch.context() as m:
            m.setattr("a4mer.train.loop.mine_vocabulary", terminated)
            assert main(["train", "--data", data, "--out", str(out), "--no-progress", *sets]) == 130
    finally:
        signal.signal(signal.SIGINT, handler)
    err = _err_lines(capsys)
    assert len(err) == 1 and f"step {STEPS}/{STEPS + 4}" in err[0] and "--resume" in err[0], err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the CLI's handler is removed again
    assert main(["train", "--data", data, "--out", str(out), "--resume", "--no-progress"]) == 0
    assert (out / "bundle.safetensors").is_file()


def test_sigterm_in_an_optimiser_step_is_held_to_its_end(real_prepared, real_run, tmp_path, capsys, monkeypatch):
    """A SIGTERM in the middle of step 4's update, Ctrl-C ignored (a background job): the step completes,
    the checkpoint is at step 4, and the resumed run ends bit-identical to an uninterrupted one."""
    ema_step, calls = A4MerNet.ema_step, []

    def terminated(self, *a, **k):
        calls.append(1)
        if len(calls) == 4:
            signal.raise_signal(signal.SIGTERM)
        return ema_step(self, *a, **k)
    out, handler = tmp_path / "run", signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with monkeypatch.context() as m:
            m.setattr(A4MerNet, "ema_step", terminated)
            assert main(["train", "--data", str(real_prepared), "--out", str(out), "--no-progress", *CLI_SETS]) == 130
    finally:
        signal.signal(signal.SIGINT, handler)
    assert f"step 4/{STEPS}" in _err_lines(capsys)[0]
    assert main(["train", "--data", str(real_prepared), "--out", str(out), "--resume", "--no-progress"]) == 0
    ref, got = load_file(str(real_run / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert all((ref[k] == got[k]).all() for k in ref)


def test_train_runs_from_a_worker_thread(real_prepared, tmp_path):
    """``main(["train", ...])`` off the main thread (a notebook's or a service's worker) trains: signal
    handlers can only be set on the main thread, and setting SIGTERM's made it fail before any step."""
    import threading
    result = []
    t = threading.Thread(target=lambda: result.append(
        main(["train", "--data", str(real_prepared), "--out", str(tmp_path / "run"), "--no-progress", *CLI_SETS])))
    t.start()
    t.join(300)
    assert result == [0] and (tmp_path / "run" / "bundle.safetensors").is_file()


# --- 3. a file of a run given as the model ------------------------------------------------------


@pytest.mark.parametrize("verb", ["segment", "embed"])
@pytest.mark.parametrize("name", ["model.safetensors", "vocab.safetensors", "optimizer.pt"])
def test_a_file_of_a_run_as_checkpoint_says_to_give_the_run_folder_or_bundle(real_prepared, real_run, tmp_path,
                                                                             capsys, verb, name):
    clip = str(next((real_prepared / "clips" / "bandai1").glob("*.npz")))
    target = str(tmp_path / ("x.segments.json" if verb == "segment" else "x.npz"))
    # this used to say "not an a4mer model bundle (format 'pt')" and the like
    assert main([verb, clip, "--checkpoint", str(real_run / name), "-o", target]) == 1
    err = _err_lines(capsys)
    assert len(err) == 1, err
    assert str(real_run / name) in err[0] and f"run folder {real_run}" in err[0]
    assert str(real_run / "bundle.safetensors") in err[0]
    for instead in (real_run, real_run / "bundle.safetensors"):  # and what it names works
        assert main([verb, clip, "--checkpoint", str(instead), "-o", target]) == 0


def test_weights_copied_out_of_their_run_say_they_need_the_run_folder(real_run, tmp_path):
    from a4mer.errors import A4merError
    from a4mer.model import A4Mer

    lone = tmp_path / "model.safetensors"
    shutil.copy(real_run / "model.safetensors", lone)
    with pytest.raises(A4merError, match="config.json.*run folder"):
        A4Mer.load(lone)


@pytest.mark.parametrize("file, content, named", [
    ("config.json", "[]", "config TrainConfig: expected a table, got list"),
    ("config.json", None, "model.stage1.encoder.heads"),  # heads = 0: a ZeroDivisionError deep in the model
    ("state.json", "{}", "state.json: cannot resume from this checkpoint (KeyError"),
    ("state.json", '{"step": "abc"}', "state.json: cannot resume from this checkpoint (ValueError"),
    ("state.json", '{"step": 2, "elapsed": 1.0}', "state.json: cannot resume from this checkpoint (KeyError: 'rng'"),
    ("optimizer.pt", "", "optimizer.pt: not this run's optimizer state"),
    ("optimizer.pt", "pickle", "optimizer.pt: holds Python objects besides tensors, which a4mer never unpickles"),
])
def test_a_damaged_run_folder_is_one_error_on_resume(real_prepared, real_run, tmp_path, capsys, file, content, named):
    import pickle
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    (run / "bundle.safetensors").unlink()  # a run that has not ended (one that has is left as it is)
    if content is None:
        cfg = json.loads((run / file).read_text())
        cfg["model"]["stage1"]["encoder"]["heads"] = 0
        (run / file).write_text(json.dumps(cfg))
    elif content == "pickle":
        (run / file).write_bytes(pickle.dumps({"a": {1, 2}}))
    else:
        (run / file).write_text(content)
    assert main(["train", "--data", str(real_prepared), "--out", str(run), "--resume", "--no-progress"]) == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and named in err[0] and str(run) in err[0], err


def test_a_run_whose_weights_changed_type_is_refused(real_run, tmp_path):
    """int32 weights in model.safetensors were taken and truncated without a word."""
    import torch
    from safetensors.torch import load_file, save_file
    from a4mer.errors import A4merError
    from a4mer.model import A4Mer
    run = tmp_path / "run"
    shutil.copytree(real_run, run)
    sd = load_file(str(run / "model.safetensors"))
    k = sorted(x for x in sd if sd[x].is_floating_point())[0]
    sd[k] = sd[k].to(torch.int32)
    save_file(sd, str(run / "model.safetensors"))
    with pytest.raises(A4merError, match=f"weights of another type \\({k}: torch.int32, expected torch.float32\\)"):
        A4Mer.load(run)
