"""Recognition end to end on real mocap with the shipped model: a head trained with ``a4mer label-train``
on a few HDM05 clips of one actor labels another actor's clip (AMC at its own 120 fps) through
``a4mer label``."""
from __future__ import annotations

import csv
import json

import pytest

from a4mer.api import load_motion
from a4mer.cli.main import main
from a4mer.model import DEFAULT_BUNDLE, A4Mer

from test_recognition import check_label_record

CLASSES = ("squat1Reps", "hopBothLegs1hops", "rotateArmsBothBackward1Reps")


@pytest.fixture(scope="module")
def model():
    if not DEFAULT_BUNDLE.is_file():
        pytest.skip(f"the default bundle {DEFAULT_BUNDLE} is missing")
    return A4Mer.load()


def _rows(data_root):
    path = data_root / "hdm05" / "labels.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with open(path) as f:
        return [r for r in csv.DictReader(f) if r["class_name"] in CLASSES]


def test_label_real_clip(model, data_root, tmp_path):
    rows = _rows(data_root)
    train = [r for c in CLASSES for r in [x for x in rows if x["actor"] == "bd" and x["class_name"] == c][:4]]
    test = next(r for r in rows if r["actor"] == "mm")
    assert len({r["class_name"] for r in train}) == 3
    # the user's path: a label CSV (absolute paths of AMC files; their ASF is found beside them) -> head
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("file,label\n" + "".join(f"{data_root / 'hdm05' / r['file']},{r['class_name']}\n"
                                                  for r in train))
    hpath = tmp_path / "head.safetensors"
    assert main(["label-train", *[str(data_root / "hdm05" / r["file"]) for r in train], "--labels", str(csv_path),
                 "-o", str(hpath), "--epochs", "30"]) == 0
    src = data_root / "hdm05" / test["file"]
    out = tmp_path / "t.labels.json"
    assert main(["label", str(src), "--head", str(hpath), "-o", str(out)]) == 0
    rec = json.loads(out.read_text())
    motion = load_motion(src)
    assert motion.fps == pytest.approx(120.0)
    assert rec["head_classes"] == sorted(CLASSES)
    check_label_record(rec, motion, rec["head_classes"])
    assert rec["model_hash"] == model.model_hash
    # atoms of the label file are the model's own segmentation of the clip
    seg = model.segment(motion)
    assert [(a["start_frame"], a["end_frame"]) for a in rec["atoms"]] == \
        [(a["start_frame"], a["end_frame"]) for a in seg["atoms"]]
