"""The motif vocabulary on real mocap with the shipped model: a training run's mining and ``a4mer motifs
build`` are one code path, so the same model and clips give the same vocabulary."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from a4mer.cli.main import main
from a4mer.model import DEFAULT_BUNDLE, A4Mer


@pytest.fixture(scope="module")
def model():
    if not DEFAULT_BUNDLE.is_file():
        pytest.skip(f"the default bundle {DEFAULT_BUNDLE} is missing")
    return A4Mer.load()


@pytest.fixture(scope="module")
def toy13(data_root, tmp_path_factory):
    """The 13 longest HDM05 takes (3-7.5 s), prepared as a user prepares a library: one of them is held
    out as ``test`` by the hash of its path."""
    import csv
    labels = data_root / "hdm05" / "labels.csv"
    if not labels.is_file():
        pytest.skip(f"{labels} not found")
    with open(labels) as f:
        rows = sorted(csv.DictReader(f), key=lambda r: (-int(r["frames"]), r["file"]))[:13]
    root = tmp_path_factory.mktemp("toy13")
    (root / "lib" / "amc").mkdir(parents=True)
    (root / "lib" / "asf").mkdir()
    for r in rows:
        shutil.copy(data_root / "hdm05" / r["file"], root / "lib" / "amc")
        shutil.copy(data_root / "hdm05" / r["asf"], root / "lib" / "asf")
    assert main(["data", "prepare", str(root / "lib"), "-o", str(root / "prep")]) == 0
    rows = [json.loads(x) for x in (root / "prep" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 13 and {r["split"] for r in rows} == {"train", "test"}
    return root / "prep"


def test_training_mining_and_motifs_build_agree(model, toy13, tmp_path, capsys):
    # they disagreed on a 13-clip set (1 vs 0 patterns): k-means drew from another seed's stream in
    # `motifs build` (default_rng(0), the run's default_rng([seed, 13])), and the run mines only its
    # training split while `motifs build` took every clip; the tokens were batched differently too
    from a4mer.data.dataset import build_items
    from a4mer.motifs.vocab import MotifVocabulary
    from a4mer.train.loop import make_segmenter
    from a4mer.train.mining import mine_vocabulary

    cfg = replace(model.config, data=replace(model.config.data, datasets=()))  # --set data.datasets=[]
    items = build_items(toy13, cfg.data, make_segmenter(cfg), np.random.default_rng([cfg.seed, 7]), warn=None)
    assert any("~" in it.name for it in items)  # mirrored and speed variants, as a run has
    ran = mine_vocabulary(model.net, items, cfg)  # what the run mines (mid-run and at its end)
    assert ran.patterns  # this set has recurring patterns

    out = tmp_path / "v.safetensors"
    assert main(["motifs", "build", "--data", str(toy13), "--split", "train", "--out", str(out)]) == 0
    built = MotifVocabulary.load(out, encoder_hash=model.model_hash)
    assert built.to_json() == ran.to_json()
    assert np.array_equal(built.centroids, ran.centroids)
    assert f"seed {cfg.seed}" in capsys.readouterr().out

    # every split (the default): a note says that a run mines its training clips only
    assert main(["motifs", "build", "--data", str(toy13), "--out", str(tmp_path / "all.safetensors")]) == 0
    io = capsys.readouterr()
    assert io.out.startswith("13 clips, ") and "a training run mines only its training clips" in io.err


def test_a_run_mines_clips_whose_name_holds_a_tilde(model, toy13):
    # the run told its clips' augmented variants (``name~m``, ``name~s0``) by a "~" anywhere in the name:
    # a user's ``take~2.bvh`` was never mined, and with every name holding one all variants were mined
    from a4mer.data.dataset import build_items
    from a4mer.train.loop import make_segmenter
    from a4mer.train.mining import mine_vocabulary

    cfg = replace(model.config, data=replace(model.config.data, datasets=()))
    items = build_items(toy13, cfg.data, make_segmenter(cfg), np.random.default_rng([cfg.seed, 7]), warn=None)
    plain = mine_vocabulary(model.net, items, cfg)
    for it in items:
        it.name = it.name.replace("clips/own/", "clips/own/take~")
    tilde = mine_vocabulary(model.net, items, cfg)
    assert np.array_equal(tilde.centroids, plain.centroids) and tilde.patterns == plain.patterns
    assert {e["clip"] for ex in tilde.examples for e in ex} == {
        e["clip"].replace("clips/own/", "clips/own/take~") for ex in plain.examples for e in ex}

    from a4mer.train.mining import original_items
    assert len(original_items(items)) == 12 and not any(it.name.endswith(("~m", "~s0")) for it in original_items(items))
