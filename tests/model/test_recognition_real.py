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
    # the head trained on 12 clips of actor bd labels other performers' clips right (all 28 clips of
    # these classes by mm and tr are, with the default pose + atom head; one per class is checked)
    for c in CLASSES:
        r = next(x for x in rows if x["actor"] == "tr" and x["class_name"] == c)
        assert main(["label", str(data_root / "hdm05" / r["file"]), "--head", str(hpath), "-o", str(out)]) == 0
        assert json.loads(out.read_text())["clip"]["label"] == c, r["file"]


def test_hdm05_inputs_stay_in_range(model, data_root):
    """HDM05 moves joints that the shipped model's training data held constant (spine2): their
    normalised inputs used to reach hundreds of standard deviations and swamped the tokens (k-NN
    top-1 on actors mm/tr 50 % before, 75 % after). They are now held at the training mean."""
    import numpy as np
    import torch

    from a4mer.features import frame_arrays, window_features

    rows = _rows(data_root)
    r = next(x for x in rows if x["actor"] == "bd" and x["class_name"] == "hopBothLegs1hops")
    motion = load_motion(data_root / "hdm05" / r["file"]).body()
    arrays = frame_arrays(motion, model.fps)
    raw = window_features(arrays, 0, len(arrays["yaw"]), model.fps)
    stage = model.net.stage1
    naive = (raw - stage.feat_mean.numpy()) / stage.feat_std.numpy()
    held = (stage.feat_std <= 1.01e-3).numpy()
    assert np.abs(naive[:, held]).max() > 100  # the hazard is real on this clip
    x = stage.normalize(torch.from_numpy(raw)).numpy()
    assert held.any() and np.all(x[:, held] == 0)
    assert np.abs(x).max() < 30 and np.allclose(x[:, ~held], naive[:, ~held], atol=1e-4)


def test_a_take_of_three_actions_is_not_broken_into_flickering_runs(model, data_root):
    """Three of another actor's clips joined end to end: each frame's own arg-max broke the take into runs of
    a frame or two of another label inside an action; decoded with a cost per change of label, the take
    has no more runs than actions, and as many frames are right."""
    import numpy as np

    from a4mer.heads.recognition import fit_label_head, label_clip
    from a4mer.motion import Motion
    rows = _rows(data_root)
    train = [(r["file"], data_root / "hdm05" / r["file"], r["class_name"]) for c in CLASSES
             for r in [x for x in rows if x["actor"] == "bd" and x["class_name"] == c][:4]]
    head, _ = fit_label_head(model, train)
    parts = [load_motion(data_root / "hdm05" / next(x for x in rows if x["actor"] == "mm" and x["class_name"] == c)
                         ["file"]).body().resample(30.0) for c in CLASSES]
    moved = [parts[0].root_translation]
    for p in parts[1:]:  # each clip starts where the last one ended
        moved.append(p.root_translation + np.r_[moved[-1][-1, :2] - p.root_translation[0, :2], 0.0])
    take = Motion(30.0, np.concatenate(moved), np.concatenate([p.rotations for p in parts]))
    truth = np.concatenate([np.full(p.num_frames, head.classes.index(c)) for p, c in zip(parts, CLASSES)])
    per_frame, decoded = label_clip(model, head, take, 0.0), label_clip(model, head, take)
    check_label_record(decoded, take, head.classes)
    assert decoded["switch_penalty"] > per_frame["switch_penalty"] == 0
    assert len(decoded["runs"]) <= len(CLASSES) < len(per_frame["runs"]), (decoded["runs"], per_frame["runs"])
    right = [float(np.mean(np.array(r["frame_labels"]) == truth)) for r in (per_frame, decoded)]
    assert right[1] >= right[0] > 0.7, right
