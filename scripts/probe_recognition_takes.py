"""Recognition heads on single clips and on takes of several actions: the README's table.

    python scripts/probe_recognition_takes.py --train LIB --test TEST --out RESULT.json

LIB and TEST: folders of one sub-folder per label holding clips (e.g. HDM05 prepared with
``a4mer data prepare``: actors bd/bk/dg linked into LIB/<action>/, mm/tr into TEST/<action>/). Trains a
head with ``fit_label_head`` for each row (the shipped model) and scores clip and frame accuracy (frames
at the model's rate, decoded with ``decode_labels``) on the TEST clips and frame accuracy (``label_clip``)
on 30 takes of three TEST clips of different files joined end to end, each turned to a random heading and moved to where the last one ended: frames labelled as
``a4mer label`` labels them (a change of label costs ``SWITCH_PENALTY``) and, in brackets, each frame
on its own; with the label runs per take. Writes RESULT.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from a4mer.api import load_motion
from a4mer.geometry import axis_angle_to_quat, quat_mul
from a4mer.heads.recognition import (SWITCH_PENALTY, HeadConfig, clip_inputs, decode_labels, fit_label_head,
                                    label_clip)
from a4mer.model import A4Mer
from a4mer.motion import Motion

#: row name -> head config (the last row: heads as trained before joined takes and per-frame heading)
ROWS = {
    "pose,atom (default)": HeadConfig(inputs=("pose", "atom")),
    "atom,motif": HeadConfig(inputs=("atom", "motif")),
    "pose,atom,motif": HeadConfig(inputs=("pose", "atom", "motif")),
    "pose,atom on single clips, pose from the first heading": HeadConfig(
        inputs=("pose", "atom"), pose_heading="start", joined=0.0, time_offset_s=0.0),
}


def load_library(folder: str) -> list[tuple[str, Motion]]:
    """(label, motion) of every clip in ``folder/<label>/``."""
    return [(d.name, load_motion(f)) for d in sorted(Path(folder).iterdir()) if d.is_dir()
            for f in sorted(d.iterdir()) if f.suffix.lower() in (".npz", ".bvh", ".amc")]


def turned(m: Motion, yaw: float, start_xy: np.ndarray) -> Motion:
    """``m`` turned by ``yaw`` (rad) about the vertical, its root starting at ``start_xy``."""
    q = axis_angle_to_quat(np.array([0.0, 0.0, yaw]))
    rots = m.rotations.copy()
    rots[:, 0] = quat_mul(np.broadcast_to(q, rots[:, 0].shape), rots[:, 0])
    c, s = np.cos(yaw), np.sin(yaw)
    tr = m.root_translation @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    tr[:, :2] += start_xy - tr[0, :2]
    return Motion(m.fps, tr, rots)


def takes(clips: list[tuple[str, Motion]], n: int, k: int, seed: int) -> list[tuple[Motion, np.ndarray]]:
    """``n`` takes of ``k`` clips joined, with their per-frame labels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        parts, labels, at = [], [], np.zeros(2)
        for i in rng.choice(len(clips), k, replace=False):
            label, m = clips[i]
            parts.append(turned(m.body().resample(30.0), rng.uniform(-np.pi, np.pi), at))
            at = parts[-1].root_translation[-1, :2]
            labels.append(np.full(parts[-1].num_frames, label, dtype=object))
        out.append((Motion(30.0, np.concatenate([p.root_translation for p in parts]),
                           np.concatenate([p.rotations for p in parts])), np.concatenate(labels)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    model = A4Mer.load()
    train, test = load_library(a.train), load_library(a.test)
    joined = takes(test, 30, 3, seed=1)
    res = {}
    for name, cfg in ROWS.items():
        head, _ = fit_label_head(model, [(f"{lab}/{i}", m, lab) for i, (lab, m) in enumerate(train)], cfg)
        clips_ok = frames_ok = frames = 0
        for lab, m in test:
            p = head.predict(clip_inputs(model, m, head.config.inputs, head.config.pose_heading)["frames"])
            c = head.classes.index(lab)
            clips_ok += int(p.mean(0).argmax() == c)
            frames_ok, frames = frames_ok + int((decode_labels(p) == c).sum()), frames + len(p)
        res[name] = {"test_clips_pct": 100 * clips_ok / len(test), "test_frames_pct": 100 * frames_ok / frames}
        for key, penalty in (("", SWITCH_PENALTY), ("_per_frame", 0.0)):  # as `a4mer label`; each frame's arg-max
            take_ok = take_frames = runs = 0
            for m, truth in joined:
                rec = label_clip(model, head, m, penalty)
                got = np.array(head.classes, dtype=object)[rec["frame_labels"]]
                take_ok, take_frames, runs = take_ok + int((got == truth).sum()), take_frames + len(truth), \
                    runs + len(rec["runs"])
            res[name] |= {f"take_frames_pct{key}": 100 * take_ok / take_frames, f"runs_per_take{key}": runs / len(joined)}
        res[name]["seconds"] = round(time.time() - t0, 1)
        print(name, res[name], flush=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    true_runs = np.mean([1 + int((truth[1:] != truth[:-1]).sum()) for _, truth in joined])
    print(f"| head | test clips | their frames | frames of 3-clip takes | label runs per take ({true_runs:.1f} true) |\n"
          "|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {name} | {r['test_clips_pct']:.1f} % | {r['test_frames_pct']:.1f} % | {r['take_frames_pct']:.1f} % "
              f"({r['take_frames_pct_per_frame']:.1f} %) | {r['runs_per_take']:.1f} ({r['runs_per_take_per_frame']:.1f}) |")


if __name__ == "__main__":
    main()
