"""The A4Mer inference class, the bundle, the segment file and the CLI verbs (tiny model)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from a4mer.cli.main import main
from a4mer.errors import A4merError
from a4mer.io.amass import write_amass_npz
from a4mer.model import A4Mer
from a4mer.motifs.vocab import MotifVocabulary

from model_helpers import synthetic_motion


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory):
    out, _, _ = tiny_run
    path = tmp_path_factory.mktemp("bundle") / "tiny.safetensors"
    A4Mer.load(out / "bundle.safetensors").save(path, license="test", attributions=["synthetic"])
    return path


def check_record(rec: dict, motion) -> None:
    """Invariants of the canonical segment file."""
    assert rec["schema_version"] == 1 and rec["fps"] == motion.fps
    assert rec["duration"] == pytest.approx(motion.num_frames / motion.fps)
    atoms, motifs = rec["atoms"], rec["motifs"]
    assert atoms[0]["start_frame"] == 0 and atoms[-1]["end_frame"] == motion.num_frames
    for a, b in zip(atoms[:-1], atoms[1:]):
        assert a["end_frame"] == b["start_frame"]
    for a in atoms:
        assert a["end_frame"] > a["start_frame"]
        assert a["start_t"] == pytest.approx(a["start_frame"] / motion.fps, abs=1e-6)
        assert a["end_t"] == pytest.approx(a["end_frame"] / motion.fps, abs=1e-6)
    covered = [i for m in motifs for i in m["atoms"]]
    assert covered == list(range(len(atoms)))  # motifs tile the clip in order
    for m in motifs:
        assert m["start_frame"] == atoms[m["atoms"][0]]["start_frame"]
        assert m["end_frame"] == atoms[m["atoms"][-1]]["end_frame"]
        assert 0 < m["confidence"] <= 1


def test_bundle_round_trip_is_bit_identical(bundle, tmp_path):
    a = A4Mer.load(bundle)
    again = a.save(tmp_path / "again.safetensors")
    b = A4Mer.load(again)
    assert a.model_hash == b.model_hash and a.vocab.hash == b.vocab.hash
    assert a.info["license"] == "test" and b.info["attributions"] == ["synthetic"]
    m = synthetic_motion(200, 99)
    ta, sa = a.encode(m)
    tb, sb = b.encode(m)
    assert np.array_equal(ta, tb) and np.array_equal(sa, sb)


def test_segment_record_invariants_and_determinism(bundle):
    model = A4Mer.load(bundle)
    # rates under twice the model's: the resample to the model rate can hold a frame fewer than
    # round(T * model fps / fps) (these were a broadcast traceback)
    for fps, T in ((12.0, 56), (7.0, 10), (5.0, 41)):
        m = synthetic_motion(T, 5, fps=fps)
        check_record(model.segment(m), m)
        assert model.encode(m)[1][-1, 1] == T
    for fps, T in ((30.0, 260), (60.0, 500), (24.0, 100)):
        m = synthetic_motion(T, 7, fps=fps)
        rec = model.segment(m)
        check_record(rec, m)
        assert json.dumps(rec) == json.dumps(A4Mer.load(bundle).segment(m))
    assert rec["model_hash"] == model.model_hash and rec["vocab_hash"] == model.vocab.hash
    confs = {m["confidence"] for m in model.segment(synthetic_motion(600, 3))["motifs"]}
    assert len(confs) > 1  # a real score, not a constant


def test_encode_and_embed_shapes(bundle):
    model = A4Mer.load(bundle)
    m = synthetic_motion(300, 11)
    tok, spans = model.encode(m)
    assert tok.shape == (len(spans), model.dim) and spans[0, 0] == 0 and spans[-1, 1] == 300
    e = model.embed(m)
    assert np.array_equal(e["atom_tokens"], tok) and np.array_equal(e["atom_spans"], spans)
    assert e["motif_tokens"].shape == (len(e["motif_spans"]), model.dim)
    assert e["motif_spans"][0, 0] == 0 and e["motif_spans"][-1, 1] == 300
    assert np.allclose(e["clip_embedding"], tok.mean(0))
    assert isinstance(model.net.stage1.target, torch.nn.Module)


def test_corrupt_and_mismatched_files_are_clear_errors(bundle, tiny_run, tmp_path):
    data = bytearray(bundle.read_bytes())
    (tmp_path / "trunc.safetensors").write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(A4merError, match="trunc.safetensors"):
        A4Mer.load(tmp_path / "trunc.safetensors")
    flipped = bytearray(data)
    flipped[-100] ^= 0xFF  # a weight byte
    (tmp_path / "flip.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(A4merError, match="corrupt"):
        A4Mer.load(tmp_path / "flip.safetensors")
    with pytest.raises(A4merError, match="no such"):
        A4Mer.load(tmp_path / "missing.safetensors")
    # a vocabulary of another encoder
    model = A4Mer.load(bundle)
    other = MotifVocabulary(model.vocab.centroids, model.vocab.scale, model.vocab.patterns, model.vocab.support,
                            model.vocab.examples, "0123456789abcdef", model.vocab.config)
    other.save(tmp_path / "other.safetensors")
    with pytest.raises(A4merError, match="encoder"):
        A4Mer.load(bundle, vocab=tmp_path / "other.safetensors")
    assert main(["segment", str(_clip(tmp_path)), "--checkpoint", str(bundle), "--vocab",
                 str(tmp_path / "other.safetensors"), "-o", str(tmp_path / "x.json")]) == 1


def _clip(tmp_path: Path, T: int = 240, seed: int = 5) -> Path:
    p = tmp_path / f"clip{seed}.npz"
    write_amass_npz(synthetic_motion(T, seed), p)
    return p


def test_cli_segment_embed_and_motifs_build(bundle, tmp_path, capsys, monkeypatch):
    clip = _clip(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["segment", str(clip), "--checkpoint", str(bundle)]) == 0
    rec = json.loads((tmp_path / "clip5.segments.json").read_text())
    from a4mer.io import read_amass_npz
    check_record(rec, read_amass_npz(clip))
    capsys.readouterr()
    assert main(["segment", str(clip), "--checkpoint", str(bundle), "-o", "b.json", "--progress-jsonl"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and all(set(x) == {"progress", "message"} for x in lines)
    assert [x["progress"] for x in lines] == sorted(x["progress"] for x in lines) and lines[-1]["progress"] == 1.0
    assert (tmp_path / "b.json").read_text() == (tmp_path / "clip5.segments.json").read_text()
    clip2 = _clip(tmp_path, 180, 6)
    assert main(["embed", str(clip), str(clip2), "--checkpoint", str(bundle), "-o", "emb"]) == 0
    z = np.load(tmp_path / "emb" / "clip6.npz")
    assert z["atom_tokens"].shape[1] == z["clip_embedding"].shape[0] and z["atom_spans"].shape[1] == 2
    # a name embed chose replaces its own earlier embeddings, never the user's clip of that name (an SMPL
    # npz beside them, e.g. convert's output, became an embeddings file)
    assert main(["embed", str(clip), str(clip2), "--checkpoint", str(bundle), "-o", "emb"]) == 0
    (tmp_path / "emb" / "clip6.npz").write_bytes(clip2.read_bytes())
    capsys.readouterr()
    assert main(["embed", str(clip), str(clip2), "--checkpoint", str(bundle), "-o", "emb"]) == 1
    assert "clip6.npz: exists already, and the command chose this name itself" in capsys.readouterr().err
    assert (tmp_path / "emb" / "clip6.npz").read_bytes() == clip2.read_bytes()
    clips = tmp_path / "lib"
    clips.mkdir()
    for s in range(4):
        _clip(clips, 200, 30 + s)
    assert main(["motifs", "build", "--data", str(clips), "--out", "v.safetensors", "--checkpoint", str(bundle),
                 "--k", "4", "--min-support", "2"]) == 0
    v = MotifVocabulary.load(tmp_path / "v.safetensors", encoder_hash=A4Mer.load(bundle).model_hash)
    assert v.k == 4
    assert main(["segment", str(clip), "--checkpoint", str(bundle), "--vocab", "v.safetensors", "-o", "c.json"]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["vocab_hash"] == v.hash


def test_cli_outputs_never_overwrite_the_input(bundle, tmp_path, capsys):
    """segment / embed / export / label-train given their input (or a folder) as the output: one line
    naming it, before the model runs; the input keeps its bytes."""
    clip = _clip(tmp_path)
    data = clip.read_bytes()
    (tmp_path / "taken.json").mkdir()
    (tmp_path / "lib" / "walk").mkdir(parents=True)  # embeddings of lib/walk/clip5.npz: lib/walk__clip5.npz
    (tmp_path / "lib" / "walk" / clip.name).write_bytes(data)
    for argv, msg in ((["segment", str(clip), "-o", str(clip)], "the output must be a .json file"),
                      (["segment", str(clip), "-o", str(tmp_path / "taken.json")], "is a folder"),
                      (["export", str(clip), "--format", "npz", "-o", str(clip)], "refusing to overwrite the input"),
                      (["embed", str(clip), "-o", str(clip)], "refusing to overwrite the input"),
                      (["embed", str(tmp_path / "lib"), "-o", str(tmp_path / "lib")], "read as clips by later runs"),
                      (["label-train", str(clip), "-o", str(clip)], "the output must be a .safetensors file")):
        assert main([*argv, "--checkpoint", str(bundle)] if argv[0] != "export" else argv) == 1
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (argv, err)
    assert clip.read_bytes() == data


def test_a_motif_longer_than_a_window_is_one_token(bundle):
    """A motif encoded in pieces (longer than one model window) gave one token per piece: embed then
    returned more motif tokens than motif spans, each after it paired with the wrong span."""
    from a4mer.jepa.hierarchy import _merge_pieces, encode_clip
    model = A4Mer.load(bundle)
    m = synthetic_motion(900, 3)
    _, _, b_model, arrays = model._prepare(m)
    tok = model._encode(arrays, b_model)["atom_tokens"]
    _, motifs = model._motifs(tok)
    groups = np.zeros(len(tok), np.int64)
    for k, mo in enumerate(motifs):
        groups[mo["atoms"]] = k
    longest = max(int(b_model[mo["atoms"][-1] + 1] - b_model[mo["atoms"][0]]) for mo in motifs)
    d = model.config.data
    for window in (d.window_frames, max(2, longest - 1)):  # the second cuts the longest motif in pieces
        got = encode_clip(model.net, arrays, b_model, window, d.max_segments, groups)["motif_tokens"]
        assert got.shape == (len(motifs), model.dim)
    pieces = [(np.ones((2, 3), np.float32), np.array([0, 1]), np.array([1, 3])),
              (np.full((1, 3), 5.0, np.float32), np.array([1]), np.array([1]))]
    np.testing.assert_array_equal(_merge_pieces(pieces, np.array([0, 1])), [[1, 1, 1], [2, 2, 2]])
