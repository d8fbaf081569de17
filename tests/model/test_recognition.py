"""Recognition heads (weighted k-NN, frame head, label record, ``a4mer label``) and the ablation
measurement helpers (ridge probe, per-window errors, paired comparison)."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from a4mer.bench.ablations import TokenProbe, motion_metrics, paired_difference, ridge_fit, ridge_predict
from a4mer.bench.methods import baseline_methods
from a4mer.bench.recognition import LabeledClip, run_recognition
from a4mer.cli.main import main
from a4mer.errors import A4merError
from a4mer.heads.recognition import (HeadConfig, RecognitionHead, label_clip, topk_accuracy, train_frame_head,
                                     weighted_knn)
from a4mer.io.amass import write_amass_npz
from a4mer.model import A4Mer

from model_helpers import synthetic_motion


def brute_knn(tx, ty, qx, C, k, T):
    """Reference: loop over queries, sort neighbours by cosine similarity, add exp(sim / T)."""
    out = np.zeros((len(qx), C))
    for i, q in enumerate(qx):
        sims = [(float(q @ x / np.linalg.norm(q) / np.linalg.norm(x)), j) for j, x in enumerate(tx)]
        sims.sort(key=lambda s: (-s[0], s[1]))
        for s, j in sims[:k]:
            out[i, ty[j]] += np.exp(s / T)
    return out


def test_weighted_knn_matches_brute_force():
    rng = np.random.default_rng(0)
    tx, ty, qx = rng.normal(size=(40, 7)), rng.integers(0, 4, 40), rng.normal(size=(9, 7))
    got = weighted_knn(tx, ty, qx, 4, k=6, temperature=0.2)
    ref = brute_knn(tx, ty, qx, 4, 6, 0.2)
    # weighted_knn shifts the exponent by the maximum similarity: scores differ by one constant factor
    np.testing.assert_allclose(got / got.sum(1, keepdims=True), ref / ref.sum(1, keepdims=True), rtol=1e-9)
    assert np.array_equal(got.argmax(1), ref.argmax(1))


@pytest.mark.parametrize("k, temperature", [(0, 0.07), (2.5, 0.07), (True, 0.07), (5, 0.0), (5, -0.1),
                                              (5, float("nan"))])
def test_weighted_knn_refuses_what_has_no_meaning(k, temperature):
    """k=0 scored every query 0 (class 0 won), temperature 0 gave inf/nan scores, a negative one made the
    farthest neighbours count most: each silently."""
    rng = np.random.default_rng(0)
    with pytest.raises(A4merError, match="k must be|temperature must be"):
        weighted_knn(rng.normal(size=(8, 3)), rng.integers(0, 2, 8), rng.normal(size=(2, 3)), 2, k=k,
                     temperature=temperature)


def test_weighted_knn_refuses_inputs_that_do_not_fit_together():
    """30 labels for 20 vectors voted with the wrong labels, label -1 counted as the last class, a NaN in a
    training vector or a query changed or spoiled the answer: each silently; the rest were numpy errors."""
    rng = np.random.default_rng(0)
    x, y, q = rng.normal(size=(20, 3)), rng.integers(0, 4, 20), rng.normal(size=(5, 3))
    nan_x, nan_q = x.copy(), q.copy()
    nan_x[3, 1] = nan_q[2, 0] = np.nan
    for args, match in (((x, np.r_[np.zeros(10, int), y], q), "one label per training vector"),
                        ((x, y[:15], q), "one label per training vector"),
                        ((x, np.r_[y[:-1], -1], q), r"class indices in \[0, 4\)"),
                        ((x, np.r_[y[:-1], 4], q), r"class indices in \[0, 4\)"),
                        ((x, y.astype(float), q), "class indices"),
                        ((x, y, q[:, :2]), "of one width"), ((x, y, q[0]), "of one width"),
                        ((nan_x, y, q), r"training vectors \[3\] hold NaN"), ((x, y, nan_q), r"queries \[2\] hold NaN")):
        with pytest.raises(A4merError, match=match):
            weighted_knn(*args, 4)
    assert weighted_knn(x, y, q, 4).shape == (5, 4)


def test_weighted_knn_recovers_clusters_and_topk():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 16)) * 3
    ty = np.repeat(np.arange(3), 20)
    tx = centres[ty] + rng.normal(size=(60, 16))
    qy = np.repeat(np.arange(3), 5)
    s = weighted_knn(tx, ty, centres[qy] + rng.normal(size=(15, 16)), 3, k=5)
    assert topk_accuracy(s, qy, 1) == 1.0
    assert topk_accuracy(np.array([[0.1, 0.5, 0.4]]), np.array([2]), 1) == 0.0
    assert topk_accuracy(np.array([[0.1, 0.5, 0.4]]), np.array([2]), 2) == 1.0
    with pytest.raises(A4merError):
        weighted_knn(np.zeros((0, 3)), np.zeros(0, int), np.ones((1, 3)), 2)


def _token_sequences(rng, n, classes=3, dim=8):
    """Clips whose frames are noisy copies of a class direction, with random lengths."""
    dirs = rng.normal(size=(classes, dim))
    y = rng.integers(0, classes, n)
    seqs = [(dirs[c] + 0.5 * rng.normal(size=(int(rng.integers(3, 20)), dim))).astype(np.float32) for c in y]
    return seqs, y


def test_frame_head_learns_and_roundtrips(tmp_path):
    rng = np.random.default_rng(2)
    seqs, y = _token_sequences(rng, 90)
    cfg = HeadConfig(in_dim=8, epochs=40, batch=16)  # the default width: at 16, joined clips starting at random
    head = train_frame_head(seqs[:60], y[:60], ["a", "b", "c"], cfg, "hash0")  # times learned too slowly
    acc = np.mean([(head.predict(s).argmax(1) == c).mean() for s, c in zip(seqs[60:], y[60:])])
    assert acc > 0.9
    p = head.predict(seqs[60])
    assert p.shape == (len(seqs[60]), 3) and np.allclose(p.sum(1), 1)
    path = head.save(tmp_path / "h.safetensors")
    back = RecognitionHead.load(path)
    assert back.classes == ["a", "b", "c"] and back.encoder_hash == "hash0" and back.config == cfg
    np.testing.assert_array_equal(back.predict(seqs[61]), head.predict(seqs[61]))
    with pytest.raises(A4merError, match="expects"):
        head.predict(np.zeros((4, 5), np.float32))
    # a long take is labelled in overlapping windows (one pass over an hour asked for 20 GB): each
    # frame from the window it lies furthest inside
    long = np.concatenate([seqs[i] for i in range(60, 90)] * 2)
    head.WINDOW, head.OVERLAP = 100, 20
    p = head.predict(long)
    assert p.shape == (len(long), 3) and np.allclose(p.sum(1), 1)
    np.testing.assert_allclose(p[:90], RecognitionHead.predict(back, long[:100])[:90])  # back: one pass
    np.testing.assert_allclose(p[90:170], RecognitionHead.predict(back, long[80:180])[10:90])
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(A4merError, match="bad.safetensors"):
        RecognitionHead.load(tmp_path / "bad.safetensors")
    with pytest.raises(A4merError, match="not found"):
        RecognitionHead.load(tmp_path / "missing.safetensors")


def test_frame_head_training_is_seeded():
    rng = np.random.default_rng(3)
    seqs, y = _token_sequences(rng, 20)
    cfg = HeadConfig(in_dim=8, dim=16, heads=2, epochs=3, batch=8)
    a = train_frame_head(seqs, y, ["a", "b", "c"], cfg, "")
    b = train_frame_head(seqs, y, ["a", "b", "c"], cfg, "")
    np.testing.assert_array_equal(a.predict(seqs[0]), b.predict(seqs[0]))


@pytest.fixture(scope="module")
def tiny_model(tiny_run):
    out, _, _ = tiny_run
    return A4Mer.load(out)


@pytest.fixture(scope="module")
def labeled_clips():
    """Two 'actions' (different synthetic motion families) by five 'actors'."""
    clips = []
    for i, actor in enumerate(["bd", "bk", "dg", "mm", "tr"]):
        for action, base in (("calm", 0), ("busy", 1000)):
            m = synthetic_motion(60 + 7 * i, base + i)
            if action == "busy":
                m = m.with_(root_translation=m.root_translation * 4.0)
            clips.append(LabeledClip(f"{actor}_{action}", actor, action, m))
    return clips


def test_run_recognition_structure(tiny_model, labeled_clips):
    from a4mer.bench.recognition import RecognitionConfig
    cfg = RecognitionConfig(k=3, head=HeadConfig(epochs=5, dim=16, heads=2))
    res, head = run_recognition(tiny_model, labeled_clips, cfg, head_inputs=("atom",), return_head=True)
    assert res["train_clips"] == 6 and res["test_clips"] == 4 and res["classes"] == ["busy", "calm"]
    assert len(res["knn"]["tokens"]["correct"]) == 4
    assert res["knn"]["tokens"]["top1"] == pytest.approx(25 * sum(res["knn"]["tokens"]["correct"]))
    assert res["knn_margin_points"] == pytest.approx(res["knn"]["tokens"]["top1"] - res["raw_pose_knn"]["top1"])
    assert 0 <= res["frame_head"]["frame_accuracy"] <= 100
    fv = res["frame_head_variants"]
    assert set(fv) == {"pose", "pose+atom"} and fv["pose"]["inputs"] == ["pose"]
    assert fv["pose+atom"]["config"]["in_dim"] == tiny_model.net.stage1.feat_std.numel() + tiny_model.dim
    # every preparation of every clip vector is a row; the headline margin is against the best raw row
    assert {"raw", "raw (uncentred)", "raw (standardised)"} == set(res["raw_pose_variants"])
    assert res["raw_pose_knn"]["top1"] == max(v["top1"] for v in res["raw_pose_variants"].values())
    assert {"tokens (uncentred)", "tokens (standardised)"} <= set(res["knn_other_centring"])
    assert head.encoder_hash == tiny_model.model_hash and head.config.in_dim == tiny_model.dim
    ac = res["knn_actor_centred"]
    assert {"tokens", "segment tokens", "raw"} <= set(ac)
    assert res["knn_margin_points_actor_centred"] == pytest.approx(ac["tokens"]["top1"] - ac["raw"]["top1"])


def test_group_centring_removes_a_per_actor_offset():
    """An actor-specific offset (a performer's build) defeats global centring; per-actor centring
    removes it, so the left-out actor is recognised again."""
    from a4mer.bench.recognition import RecognitionConfig, group_centred, group_cv
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 12)
    groups = np.repeat(["a", "b", "c", "d"], 9)
    classes = np.eye(8)[y] + 0.05 * rng.normal(size=(36, 8))
    offset = {g: 5.0 * rng.normal(size=8) for g in "abcd"}
    X = classes + np.stack([offset[g] for g in groups])
    Xc = group_centred(X, groups)
    for g in "abcd":
        assert np.allclose(Xc[groups == g].mean(0), 0)
    cfg = RecognitionConfig(k=3)
    assert group_cv(X, y, groups, 3, cfg, "group") == pytest.approx(100.0)
    assert group_cv(X, y, groups, 3, cfg, "centre") < 80.0


def check_label_record(rec, motion, classes):
    T = motion.num_frames
    assert rec["fps"] == motion.fps and len(rec["frame_labels"]) == T and len(rec["frame_confidence"]) == T
    assert all(0 <= c < len(classes) for c in rec["frame_labels"])
    for key in ("runs", "atoms", "motifs"):
        segs = rec[key]
        assert segs[0]["start_frame"] == 0 and segs[-1]["end_frame"] == T
        assert all(a["end_frame"] == b["start_frame"] for a, b in zip(segs[:-1], segs[1:]))
        assert all(s["label"] in classes and 0 < s["confidence"] <= 1 for s in segs)
    for r in rec["runs"]:  # a run is one label over its frames
        assert {classes[c] for c in rec["frame_labels"][r["start_frame"]:r["end_frame"]]} == {r["label"]}


def test_label_clip_and_cli(tiny_model, labeled_clips, tmp_path, monkeypatch):
    seqs = [np.repeat(np.eye(2, tiny_model.dim, k=i, dtype=np.float32), 5, 0) for i in range(2)]
    head = train_frame_head(seqs, np.array([0, 1]), ["x", "y"],
                            HeadConfig(in_dim=tiny_model.dim, dim=16, heads=2, epochs=2), tiny_model.model_hash)
    motion = synthetic_motion(95, 7, fps=24.0)
    rec = label_clip(tiny_model, head, motion)
    check_label_record(rec, motion, ["x", "y"])
    assert rec["vocab_hash"] == tiny_model.vocab.hash  # the vocabulary its motif_ids are of
    hpath = head.save(tmp_path / "head.safetensors")
    clip = tmp_path / "clip.npz"
    write_amass_npz(motion, clip)
    out = tmp_path / "clip.labels.json"
    assert main(["label", str(clip), "--head", str(hpath), "--checkpoint", str(tiny_model.info["source"]),
                 "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(json.dumps(rec))
    # a labels file at segment's default name is not segment's own: segment replaced it
    taken = tmp_path / "clip.segments.json"
    taken.write_text(out.read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["segment", str(clip), "--checkpoint", str(tiny_model.info["source"])]) == 1
    assert taken.read_text() == out.read_text()
    other = train_frame_head(seqs, np.array([0, 1]), ["x", "y"], HeadConfig(in_dim=tiny_model.dim, dim=16, heads=2,
                                                                            epochs=1), "0123456789abcdef")
    with pytest.raises(A4merError, match="retrain the head"):
        label_clip(tiny_model, other, motion)
    assert main(["label", str(clip), "--head", str(tmp_path / "nope.safetensors"), "--checkpoint",
                 str(tiny_model.info["source"])]) == 1


def test_fit_label_head_reads_what_label_train_reads_by_default(tiny_model, labeled_clips):
    """The API and the CLI train the same kind of head unless told otherwise (the API used tokens only)."""
    import argparse

    from a4mer.cli import label_train
    from a4mer.heads.recognition import LABEL_HEAD_INPUTS, fit_label_head
    p = argparse.ArgumentParser()
    label_train.add_arguments(p)
    cli = p.parse_args(["x", "-o", "h.safetensors"]).head_inputs.split(",")
    head, report = fit_label_head(tiny_model, [(c.name, c.motion, c.action) for c in labeled_clips[:4]],
                                  None, 0.0)
    assert list(LABEL_HEAD_INPUTS) == cli == list(head.config.inputs) == report["inputs"]


def test_fit_label_head_reads_a_clip_given_twice_once(tiny_model, labeled_clips, tmp_path):
    """``label-train`` reads a clip given twice once; the API trained on it twice (weighing double and, with a
    hold-out, possibly trained on and held out at once). The same motion twice or one file under two paths is
    now read once; one file under two labels stays, once per label, and two parts of one take, two clips."""
    from a4mer.heads.recognition import fit_label_head
    clips = [(c.name, c.motion, c.action) for c in labeled_clips[:4]]  # 2 calm, 2 busy
    f = tmp_path / "a.npz"
    write_amass_npz(labeled_clips[4].motion, f)
    (tmp_path / "link.npz").symlink_to(f)
    m = labeled_clips[4].motion
    given = clips + [clips[1], (str(f), m, "calm"), (str(tmp_path / "link.npz"), m, "calm"), (str(f), m, "busy"),
                     (str(f), m.slice(0, m.num_frames // 2), "busy")]
    head, report = fit_label_head(tiny_model, given, HeadConfig(epochs=1, dim=16, heads=2, inputs=("atom",)))
    assert report["clips_per_class"] == {"busy": 4, "calm": 3} and report["train_clips"] == 7
    assert report["repeated"] == [clips[1][0], str(tmp_path / "link.npz")]
    assert head.training["clips_per_class"] == {"busy": 4, "calm": 3}


def test_fit_label_head_reads_clips_given_by_path(tiny_model, labeled_clips, tmp_path):
    """``[(name, path, label)]`` failed with AttributeError ('str' object has no attribute 'body'); a path is
    read as label-train reads it and trains as its motion does."""
    from a4mer.heads.recognition import fit_label_head
    cfg = HeadConfig(epochs=1, dim=16, heads=2, inputs=("atom",))
    by_motion = [(c.name, c.motion, c.action) for c in labeled_clips[:4]]
    by_path = []
    for i, (name, m, lab) in enumerate(by_motion):
        write_amass_npz(m, tmp_path / f"{i}.npz")
        by_path.append((name, str(tmp_path / f"{i}.npz"), lab))
    a, _ = fit_label_head(tiny_model, by_motion, cfg)
    b, report = fit_label_head(tiny_model, by_path, cfg)
    assert report["train_clips"] == 4
    x = np.random.default_rng(0).normal(size=(30, a.config.in_dim)).astype(np.float32)
    assert np.allclose(a.predict(x), b.predict(x), atol=1e-4)


def test_a_motif_head_refuses_another_vocabulary(tiny_model, labeled_clips, tmp_path, capsys):
    """A head reading motif tokens, used with ``--vocab`` of another vocabulary of its model, read tokens
    grouped by other motifs without a word; it is now refused naming the head file and both vocabularies.
    Its own vocabulary still labels; a head written before heads recorded their vocabulary loads unchecked."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from a4mer.heads.recognition import fit_label_head
    head, _ = fit_label_head(tiny_model, [(c.name, c.motion, c.action) for c in labeled_clips[:4]],
                             HeadConfig(epochs=1, dim=16, heads=2, inputs=("atom", "motif")))
    assert head.vocab_hash == tiny_model.vocab.hash
    hpath = head.save(tmp_path / "motif_head.safetensors")
    assert RecognitionHead.load(hpath).vocab_hash == tiny_model.vocab.hash
    other = dataclasses.replace(tiny_model.vocab, centroids=tiny_model.vocab.centroids + 0.01)
    assert other.hash != tiny_model.vocab.hash
    vocab = other.save(tmp_path / "other_vocab.safetensors")
    clip = tmp_path / "clip.npz"
    write_amass_npz(labeled_clips[0].motion, clip)
    out = tmp_path / "clip.labels.json"
    ck = ["--checkpoint", str(tiny_model.info["source"]), "-o", str(out)]
    assert main(["label", str(clip), "--head", str(hpath), "--vocab", str(vocab), *ck]) == 1
    err = capsys.readouterr().err
    assert f"{hpath}: the recognition head reads motif tokens of vocabulary {tiny_model.vocab.hash}" in err
    assert other.hash in err and not out.exists()
    assert main(["label", str(clip), "--head", str(hpath), *ck]) == 0  # the vocabulary it was trained with
    with safe_open(hpath, "pt") as fh:  # a head file of before: no vocab_hash in its metadata
        meta, state = fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}
    del meta["vocab_hash"]
    save_file(state, str(tmp_path / "old.safetensors"), metadata=meta)
    assert RecognitionHead.load(tmp_path / "old.safetensors").vocab_hash == ""
    assert main(["label", str(clip), "--head", str(tmp_path / "old.safetensors"), "--vocab", str(vocab), *ck]) == 0


def test_cli_prints_unicode_labels_to_an_ascii_console(tiny_model, labeled_clips, tmp_path):
    """Labels "Tänzer" and "跳" and a path "bibliothèque" printed by ``a4mer label-train`` / ``a4mer label`` to a
    console that cannot show them (PYTHONIOENCODING=ascii; a cp1252 Windows console) raised UnicodeEncodeError
    once the head was written. They are now printed as escapes; the files keep them exactly."""
    lib = tmp_path / "bibliothèque"
    for c in labeled_clips[:6]:
        d = lib / ("Tänzer" if c.action == "busy" else "跳")
        d.mkdir(parents=True, exist_ok=True)
        write_amass_npz(c.motion, d / f"{c.name}.npz")
    head = tmp_path / "köpfe.safetensors"
    ck = ["--checkpoint", str(tiny_model.info["source"])]
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}

    def a4mer(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "a4mer", *argv, *ck], env=env, capture_output=True, cwd=tmp_path,
                              timeout=600)

    r = a4mer("label-train", str(lib), "-o", str(head), "--epochs", "1", "--holdout", "0.3")
    assert r.returncode == 0, r.stderr.decode("ascii", "backslashreplace")
    assert "k\\xf6pfe.safetensors: 2 labels (T\\xe4nzer 3, \\u8df3 3)" in r.stdout.decode("ascii")
    assert RecognitionHead.load(head).classes == ["Tänzer", "跳"]
    held_text = (tmp_path / "köpfe.holdout.json").read_text(encoding="utf-8")
    assert "Tänzer" in held_text and "跳" in held_text  # written as UTF-8, not as \u escapes
    held = json.loads(held_text)
    assert {p["label"] for p in held["predictions"]} == {"Tänzer", "跳"}
    out = tmp_path / "x.labels.json"
    r = a4mer("label", str(lib / "跳" / f"{labeled_clips[0].name}.npz"), "--head", str(head), "-o", str(out))
    assert r.returncode == 0, r.stderr.decode("ascii", "backslashreplace")
    assert "biblioth\\xe8que/\\u8df3/" in r.stdout.decode("ascii")
    assert '"Tänzer"' in out.read_text(encoding="utf-8")
    assert json.loads(out.read_text(encoding="utf-8"))["head_classes"] == ["Tänzer", "跳"]


def test_ridge_recovers_linear_map():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 5))
    W = rng.normal(size=(5, 3))
    Y = X @ W + 2.0 + 0.01 * rng.normal(size=(300, 3))
    fit = ridge_fit(X, Y, np.arange(300) // 3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(ridge_predict(fit, X[:10]), X[:10] @ W + 2.0, atol=0.05)


def test_paired_difference_verdicts():
    rng = np.random.default_rng(5)
    full = rng.normal(100, 5, 200)
    assert paired_difference(False, full, full + 10, rng)["verdict"] == "full better"
    assert paired_difference(False, full, full - 10, rng)["verdict"] == "full worse"
    assert paired_difference(True, full, full + rng.normal(0, 1, 200), rng)["verdict"] == "within noise"
    assert paired_difference(True, [1.0], [0.0], rng)["gain"] == 1.0
    with pytest.raises(A4merError):
        paired_difference(True, [1.0], [0.0, 1.0], rng)


def test_probe_per_window_errors_match_protocols():
    """The per-window lists average to the protocol's own numbers (same windows, same order)."""
    clips = [(f"c{i}", "synthetic", synthetic_motion(200 + 10 * i, 50 + i)) for i in range(6)]
    probe = TokenProbe("probe", lambda m, w: np.r_[m.root_translation.mean(0), m.rotations[:, 1:4].mean((0, 1))])
    probe.fit([c for _, _, c in clips], np.random.default_rng(0))
    methods = [probe] + [b for b in baseline_methods() if b.name in ("hermite", "constant_velocity")]
    res = motion_metrics(clips, methods)
    for name in ("probe", "hermite"):
        assert np.mean(res[name]["gap_windows_mm"]) == pytest.approx(res[name]["inbetween_30_mpjpe_mm"], abs=0.01)
    for name in ("probe", "constant_velocity"):
        assert np.mean(res[name]["extension_windows_mm"]) == pytest.approx(res[name]["extension_1s_mpjpe_mm"], abs=0.01)
    assert len(res["probe"]["gap_windows_mm"]) == res["clips"]["inbetween_windows"] > 0
    with pytest.raises(A4merError, match="gaps"):
        probe.fill_gap(clips[0][2], 10, 20)


def test_motif_class_table_counts():
    from types import SimpleNamespace

    from a4mer.bench.recognition import motif_class_table
    vocab = SimpleNamespace(patterns=[(1, 2), (3, 4)], motif_pattern=lambda k: [(1, 2), (3, 4)][k] if k < 2 else (k - 2,))
    clips = [LabeledClip(f"c{i}", "a", act, None) for i, act in enumerate(["walk", "run", "walk"])]
    infos = [{"motifs": [{"atoms": [0, 1], "motif_id": 0}, {"atoms": [2], "motif_id": 5}]},
             {"motifs": [{"atoms": [0, 1], "motif_id": 0}, {"atoms": [2, 3], "motif_id": 1}]},
             {"motifs": [{"atoms": [0, 1], "motif_id": 1}]}]
    t = motif_class_table(clips, infos, vocab)
    assert t["multi_atom_motifs_seen"] == 2 and t["in_two_or_more_classes"] == 2
    assert t["motifs"][0] == {"motif_id": 0, "pattern": [1, 2], "classes": {"run": 1, "walk": 1}}
    assert t["motifs"][1]["classes"] == {"run": 1, "walk": 1}


def test_label_train_cli_folders_csv_and_bad_clips(tiny_model, labeled_clips, tmp_path, capsys):
    """``a4mer label-train``: labels from folder names or a CSV, a broken clip reported by name and left
    out (exit 1, head still written), the head then labels a clip through ``a4mer label``."""
    for c in labeled_clips:
        d = tmp_path / "lib" / c.action
        d.mkdir(parents=True, exist_ok=True)
        write_amass_npz(c.motion, d / f"{c.name}.npz")
    (tmp_path / "lib" / "busy" / "broken.npz").write_bytes(b"not a zip")
    ck = str(tiny_model.info["source"])
    head = tmp_path / "head.safetensors"
    assert main(["label-train", str(tmp_path / "lib"), "-o", str(head), "--checkpoint", ck, "--epochs", "20"]) == 1
    err = capsys.readouterr().err
    assert "broken.npz" in err and "left out" in err
    h = RecognitionHead.load(head)
    assert h.classes == ["busy", "calm"] and h.encoder_hash == tiny_model.model_hash
    assert h.training["clips_per_class"] == {"busy": 5, "calm": 5}
    mask = os.umask(0o022)
    os.umask(mask)
    assert head.stat().st_mode & 0o777 == 0o666 & ~mask  # readable like every other output (safetensors wrote 0600)
    F = tiny_model.net.stage1.feat_std.numel()
    assert h.config.inputs == ("pose", "atom") and h.config.in_dim == F + tiny_model.dim  # the default
    out = tmp_path / "x.labels.json"
    clip = tmp_path / "lib" / "calm" / "mm_calm.npz"
    assert main(["label", str(clip), "--head", str(head), "--checkpoint", ck, "-o", str(out)]) == 0
    assert json.loads(out.read_text())["head_classes"] == ["busy", "calm"]
    # CSV labels (a relative path and a bare file name), one clip without a label, a holdout report
    rows = ["file,label"] + [f"lib/{c.action}/{c.name}.npz,{'A' if c.action == 'calm' else 'B'}"
                             for c in labeled_clips[:-1]]
    rows[1] = f"{labeled_clips[0].name}.npz,A" if labeled_clips[0].action == "calm" else f"{labeled_clips[0].name}.npz,B"
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    files = [str(tmp_path / "lib" / c.action / f"{c.name}.npz") for c in labeled_clips]
    head2 = tmp_path / "head2.safetensors"
    assert main(["label-train", *files, "-o", str(head2), "--labels", str(tmp_path / "labels.csv"),
                 "--checkpoint", ck, "--epochs", "20", "--holdout", "0.25", "--head-inputs", "atom"]) == 0
    assert f"{labeled_clips[-1].name}.npz: no label" in capsys.readouterr().err
    h2 = RecognitionHead.load(head2)
    rep = json.loads((tmp_path / "head2.holdout.json").read_text())
    assert h2.classes == ["A", "B"] and rep["clips"] == 2 and len(rep["predictions"]) == 2
    assert h2.config.inputs == ("atom",) and h2.config.in_dim == tiny_model.dim
    assert h2.training["train_clips"] == 7 and sum(h2.training["clips_per_class"].values()) == 9
    # a library of symbolic links: the label is the folder the link lies in, not its target's
    (tmp_path / "links" / "slow").mkdir(parents=True)
    (tmp_path / "links" / "fast").mkdir()
    for c in labeled_clips:
        link = tmp_path / "links" / ("slow" if c.action == "calm" else "fast") / f"{c.name}.npz"
        link.symlink_to(tmp_path / "lib" / c.action / f"{c.name}.npz")
    c = labeled_clips[0]  # and one file linked into both folders: a clip of each label
    (tmp_path / "links" / ("fast" if c.action == "calm" else "slow") / "both.npz").symlink_to(
        tmp_path / "lib" / c.action / f"{c.name}.npz")
    head6 = tmp_path / "head6.safetensors"
    assert main(["label-train", str(tmp_path / "links"), "-o", str(head6), "--checkpoint", ck, "--epochs", "5"]) == 0
    assert sum(RecognitionHead.load(head6).training["clips_per_class"].values()) == 11
    # one label only, or a CSV without the columns: clear errors
    one = tmp_path / "one" / "calm"
    one.mkdir(parents=True)
    write_amass_npz(labeled_clips[0].motion, one / "a.npz")
    assert main(["label-train", str(one.parent), "-o", str(tmp_path / "h3.safetensors"), "--checkpoint", ck]) == 1
    assert "at least two labels" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("name,class\nx,y\n")
    assert main(["label-train", str(one.parent), "-o", str(tmp_path / "h4.safetensors"), "--labels",
                 str(tmp_path / "bad.csv"), "--checkpoint", ck]) == 1
    assert "columns 'file' and 'label'" in capsys.readouterr().err
    assert main(["label-train", str(tmp_path / "lib"), "-o", str(tmp_path / "h5.safetensors"), "--checkpoint", ck,
                 "--head-inputs", "pose,velocity"]) == 1
    assert "--head-inputs 'pose,velocity'" in capsys.readouterr().err and not (tmp_path / "h5.safetensors").exists()


def test_standardising_stops_wide_dimensions_from_deciding():
    """Dimensions with a large spread unrelated to the class swamp the centred cosine k-NN;
    standardising every dimension on the fitted vectors (label-free) recovers the classes."""
    from a4mer.bench.recognition import RecognitionConfig, knn_scores, prepare_vectors
    rng = np.random.default_rng(1)
    y = np.tile([0, 1], 20)
    X = np.c_[np.eye(2)[y] * 0.3 + 0.02 * rng.normal(size=(40, 2)), 50.0 * rng.normal(size=(40, 4)),
              np.full(40, 3.0)]  # class dims, wide nuisance dims, a constant dim
    cfg = RecognitionConfig(k=3)
    acc = {p: np.mean(knn_scores(X[:20], y[:20], X[20:], 2, cfg, p).argmax(1) == y[20:])
           for p in ("centre", "standardise")}
    assert acc["standardise"] == 1.0 and acc["centre"] < 0.8
    A, B = prepare_vectors(X[:20], X[20:], "standardise")
    assert A.shape[1] == 6 and np.allclose(A.mean(0), 0) and np.allclose(A.std(0), 1)  # constant dim dropped


def test_training_sequences_join_clips_of_several_labels_within_the_attention_bound():
    """A head trained on clips of one action each labelled takes of several actions badly (HDM05: 34 % of
    the frames of three joined test clips): a ``joined`` share of the training sequences are a clip with
    1-3 others after it, labelled frame by frame, never longer than the plan's attention bound allows."""
    from a4mer.heads.recognition import TRAIN_ATTENTION, _joined, _training_batches
    rng = np.random.default_rng(0)
    seqs = [np.full((int(n), 1), float(c), np.float32) for c, n in zip(rng.integers(0, 3, 40), rng.integers(5, 80, 40))]
    labels = np.array([int(s[0, 0]) for s in seqs])
    for joined in (0.0, 0.5, 1.0):
        cfg = HeadConfig(in_dim=1, dim=8, heads=2, epochs=3, batch=8, joined=joined)
        gen = np.random.default_rng(1)
        several = 0
        for batch in _training_batches([len(s) for s in seqs], cfg):
            xs, ys = _joined(seqs, labels, batch, cfg, gen)
            for (j, a), x, y in zip(batch, xs, ys):
                assert np.array_equal(x[:, 0], y) and y[0] == labels[j]  # each frame labelled as its own clip
                several += len(np.unique(y)) > 1 or len(x) > len(seqs[j])
            assert len(batch) * max(len(x) for x in xs) ** 2 <= max(TRAIN_ATTENTION, len(batch) * max(
                len(seqs[j]) for j, _ in batch) ** 2)
        assert (several == 0) if joined == 0.0 else several > 0


def test_the_pose_input_is_the_same_whichever_way_the_actor_faces(tiny_model):
    """Measured from the clip's first heading, the head's pose input of a frame changed with where the
    actor faced then, so a take where the actor turned was labelled by a changed input."""
    from a4mer.geometry import axis_angle_to_quat, quat_mul
    from a4mer.heads.recognition import clip_inputs
    from a4mer.motion import Motion
    m = synthetic_motion(120, 4)
    q = axis_angle_to_quat(np.array([0.0, 0.0, 2.0]))
    rots = m.rotations.copy()
    rots[:, 0] = quat_mul(np.broadcast_to(q, rots[:, 0].shape), rots[:, 0])
    c, s = np.cos(2.0), np.sin(2.0)
    turned = Motion(m.fps, m.root_translation @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T, rots)
    same = [clip_inputs(tiny_model, x, ("pose",), "frame")["parts"]["pose"] for x in (m, turned)]
    assert np.abs(same[0] - same[1]).max() < 1e-3
    # the take's first half turned away: the frames of its second half (well past the seam, at the head's
    # 10 fps frame 20 on) read the same "frame" input as before, and another "start" one
    half = Motion(m.fps, np.concatenate([turned.root_translation[:60], m.root_translation[60:]]),
                  np.concatenate([turned.rotations[:60], m.rotations[60:]]))
    moved = {h: np.abs(clip_inputs(tiny_model, half, ("pose",), h)["parts"]["pose"][25:]
                       - clip_inputs(tiny_model, m, ("pose",), h)["parts"]["pose"][25:]).max()
             for h in ("start", "frame")}
    assert moved["frame"] < 1e-3 and moved["start"] > 0.1, moved


def test_a_head_written_before_the_pose_heading_setting_reads_pose_as_it_was_trained(tmp_path):
    """Heads written before ``pose_heading`` read pose from the clip's first heading; loaded, they must
    keep doing so (the new default, each frame's heading, would feed them inputs they never saw)."""
    import json as _json

    from safetensors.torch import load_file, save_file
    cfg = HeadConfig(in_dim=4, dim=8, heads=2, epochs=1, inputs=("pose",))
    rng = np.random.default_rng(0)
    head = train_frame_head([rng.normal(size=(6, 4)).astype(np.float32) for _ in range(4)], np.array([0, 1, 0, 1]),
                            ["a", "b"], cfg, "h")
    path = head.save(tmp_path / "new.safetensors")
    assert RecognitionHead.load(path).config.pose_heading == "frame"
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
    old = _json.loads(meta["config"])
    for k in ("pose_heading", "joined", "time_offset_s"):
        del old[k]
    meta["config"] = _json.dumps(old)
    save_file(load_file(str(path)), str(tmp_path / "old.safetensors"), metadata=meta)
    assert RecognitionHead.load(tmp_path / "old.safetensors").config.pose_heading == "start"


def test_decode_labels_changes_label_only_where_the_frames_after_pay_for_it():
    """Frame labels are decoded with a cost per change of label: a take of three actions had 10 label runs
    where each frame took its own arg-max (a frame or two of another label inside an action)."""
    from a4mer.heads.recognition import decode_labels
    p = np.full((60, 3), 0.1)
    p[:30, 0] = p[30:, 1] = 0.8  # two actions, 30 frames each ...
    p[[10, 11, 45], 2] = 0.85  # ... with three frames a little more like a third label
    assert sorted(set(np.flatnonzero(np.diff(decode_labels(p, 0.0))) + 1)) == [10, 12, 30, 45, 46]
    path = decode_labels(p)
    np.testing.assert_array_equal(path, np.r_[np.zeros(30, int), np.ones(30, int)])
    # the penalty is weighed against evidence: a run of another label inside one is two changes; 5 frames
    # favouring it by ln 4 each (6.9 nats) do not pay for two at 4 nats, 5 frames by ln 8 (10.4 nats) do
    q = np.full((40, 2), [0.8, 0.2])
    q[20:25] = [0.2, 0.8]
    assert decode_labels(q, 4.0).tolist() == [0] * 40 and decode_labels(q, 3.0).tolist() == [0] * 20 + [1] * 5 + [0] * 15
    q[20:25] = [1 / 9, 8 / 9]
    assert decode_labels(q, 4.0).tolist() == [0] * 20 + [1] * 5 + [0] * 15
    assert decode_labels(q, 1e9).tolist() == [0] * 40  # one label: the likelier over all frames
    np.testing.assert_array_equal(decode_labels(p, 0.0), p.argmax(1))
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(A4merError, match="switch penalty"):
            decode_labels(p, bad)
