"""Train and measure the paper's ablations with one small preset (a4mer.bench.ablations).

Every variant is trained from scratch on the same clips (an evenly spaced subset of the Bandai
datasets 1+2 and CMU dance training split, mirrored) for the same number of steps (``--steps``; else
the same wall-clock budget) (stage 1 only, then motif mining), then measured: HDM05 recognition (k-NN and frame head on atom tokens), 30-frame
in-betweening and 1 s extension (token probe, heads-benchmark protocols, test split of every data
set), mean motif length. Each result is written to ``docs/bench/ablation_<name>.json`` as soon as it
is measured (and committed with ``--commit``), so a run cut short keeps what it measured.

    nice -n 5 .venv/bin/python scripts/run_ablations.py --data PREPARED \\
        --work WORK/ablations --steps 1500 --minutes 15 [--only full,frame] [--skip-existing] [--commit]

With ``--steps`` (and a cap that is not reached) every variant gets the same amount of training whatever
else runs on the machine (seeded data order and initialisation); with a wall-clock budget a rerun gives
numbers within training noise, not bit-identical ones.
The claims table of docs/benchmarks.md is rebuilt by ``scripts/bench_recognition.py --claims``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from a4mer.bench.ablations import ABLATIONS, PRESET, TokenProbe, motif_lengths, motion_metrics, raw_featurizer, token_featurizer
from a4mer.bench.recognition import RecognitionConfig, load_hdm05, run_recognition
from a4mer.heads.recognition import HeadConfig
from a4mer.data.augment import mirror
from a4mer.data.dataset import ClipItem, select_rows
from a4mer.prepare import manifest_rows
from a4mer.features import frame_arrays, model_bounds
from a4mer.io import read_amass_npz
from a4mer.model import A4Mer
from a4mer.segment.atoms import AtomConfig
from a4mer.train.config import DataConfig, load_config
from a4mer.train.loop import train

REPO = Path(__file__).resolve().parent.parent
ORDER = ["full", "frame", "fixed", "no_split", "full_attention", "reconstruction"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pick_rows(data: Path, n: int) -> list[dict]:
    """``n`` evenly spaced training rows of the preset's data sets (sorted by path)."""
    rows = select_rows(manifest_rows(data), DataConfig(datasets=("bandai1", "bandai2", "cmu-dance")))
    if n and len(rows) > n:
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, n).round().astype(int)]
    return rows


def build_base(data: Path, rows: list[dict], fps: float) -> list[dict]:
    """Frame arrays of every clip and its mirror image, with kinematic atom bounds (model frames)."""
    base, t0 = [], time.time()
    for k, r in enumerate(rows):
        m = read_amass_npz(data / r["path"])
        for suffix, mv in (("", m), ("~m", mirror(m))):
            if mv.num_frames >= 2:
                base.append({"name": r["path"] + suffix, "arrays": frame_arrays(mv, fps), "num_frames": mv.num_frames,
                             "fps": mv.fps, "kinematic": model_bounds(mv, AtomConfig(), fps)[1]})
        if (k + 1) % 200 == 0:
            log(f"prepared {k + 1}/{len(rows)} clips ({time.time() - t0:.0f} s)")
    return base


def items_for(config, base: list[dict]) -> list[ClipItem]:
    """Training items of a variant: the shared frame arrays with the variant's segment bounds."""
    atoms, fps = config.model.atoms, config.data.fps
    out = []
    for b in base:
        bounds = b["kinematic"] if atoms.mode == "kinematic" else \
            model_bounds(SimpleNamespace(num_frames=b["num_frames"], fps=b["fps"]), atoms, fps)[1]
        out.append(ClipItem(b["name"], b["arrays"], bounds))
    return out


def commit(paths: list[Path], message: str) -> None:
    rel = " ".join(str(p.relative_to(REPO)) for p in paths)
    cmd = f'git add {rel} && git commit -q -m "{message}" -- {rel}'
    r = subprocess.run(["flock", "/tmp/a4mer-git.lock", "sh", "-c", cmd], cwd=REPO, capture_output=True, text=True)
    log(f"commit {rel}: rc={r.returncode} {r.stderr.strip()[:200]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="prepared dataset folder (manifest.jsonl + clips/)")
    p.add_argument("--work", required=True, help="folder for the training runs")
    p.add_argument("--out", default=str(REPO / "docs" / "bench"), help="folder of the result JSON files")
    p.add_argument("--minutes", type=float, default=6.0,
                   help="training wall clock per variant (with --steps: only a cap)")
    p.add_argument("--steps", type=int, default=0,
                   help="train every variant for exactly this many steps (learning-rate schedule over them; "
                        "equal training whatever else runs on the machine); 0 = the --minutes budget decides")
    p.add_argument("--clips", type=int, default=900, help="training clips (evenly spaced; each also mirrored)")
    p.add_argument("--probe-clips", type=int, default=300, help="training clips for the token probes")
    p.add_argument("--eval-clips", type=int, default=80, help="test clips per data set for the motion tasks")
    p.add_argument("--only", default=",".join(ORDER), help="comma list of variants, in order")
    p.add_argument("--skip-existing", action="store_true", help="skip variants whose JSON exists")
    p.add_argument("--commit", action="store_true", help="commit each result JSON when written")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reuse-runs", action="store_true",
                   help="measure a variant's existing run in --work (its bundle.safetensors) instead of training it "
                        "again, e.g. after the measurement changed (with --steps, retraining gives the same weights)")
    p.add_argument("--suffix", default="", help="appended to result and run names (e.g. _seed1 for a second seed)")
    p.add_argument("--wait-cmd", default=None,
                   help="shell command polled every 30 s after data preparation; training starts once it exits 0 "
                        "(e.g. to wait until another job has released the CPU)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    data, work, outdir = Path(a.data), Path(a.work), Path(a.out)
    names = [n.strip() for n in a.only.split(",") if n.strip()]
    bad = [n for n in names if n not in ABLATIONS]
    if bad:
        p.error(f"unknown variants {bad}; known: {list(ABLATIONS)}")
    if a.skip_existing:
        names = [n for n in names if not (outdir / f"ablation_{n}{a.suffix}.json").is_file()]
    if not names:
        log("nothing to do")
        return 0
    work.mkdir(parents=True, exist_ok=True)
    outdir.mkdir(parents=True, exist_ok=True)
    fps = DataConfig().fps
    rows = pick_rows(data, a.clips)
    base = build_base(data, rows, fps)
    lens = np.concatenate([np.diff(b["kinematic"]) for b in base if "~" not in b["name"]]) / fps
    mean_atom_s = float(lens.mean())
    log(f"{len(rows)} clips, {len(base)} items, mean kinematic atom {mean_atom_s:.3f} s")
    from a4mer.cli.bench import load_clips
    probe_rows = [rows[i] for i in np.linspace(0, len(rows) - 1, min(a.probe_clips, len(rows))).round().astype(int)]
    probe_train = [read_amass_npz(data / r["path"]).body() for r in probe_rows]
    eval_clips, _ = load_clips(data, "test", None, a.eval_clips)
    hdm = load_hdm05(data)
    ref_path = work / "reference.json"
    if ref_path.is_file():
        reference = json.loads(ref_path.read_text())
    else:
        from a4mer.bench.methods import baseline_methods
        raw = TokenProbe("raw_probe", raw_featurizer(fps))
        fit = raw.fit(probe_train, np.random.default_rng([a.seed, 5]))
        methods = [raw] + [b for b in baseline_methods() if b.name in ("hermite", "constant_velocity", "damped_velocity")]
        reference = {"raw_probe_fit": fit, **motion_metrics(eval_clips, methods)}
        ref_path.write_text(json.dumps(reference))
        log("reference (raw-feature probe, classical curves) measured")
    if a.wait_cmd:
        log(f"waiting for: {a.wait_cmd}")
        while subprocess.run(a.wait_cmd, shell=True, cwd=REPO).returncode != 0:
            time.sleep(30)
        log("wait condition met")
    for name in names:
        what, sets, paper = ABLATIONS[name]
        extra = [f"time_limit_s={a.minutes * 60}", f"seed={a.seed}", f"model.atoms.fixed_s={mean_atom_s:.4f}"]
        if a.steps:
            extra.append(f"optim.steps={a.steps}")
        config = load_config(sets=PRESET + sets + extra)
        run = work / f"{name}{a.suffix}"
        reuse = a.reuse_runs and (run / "bundle.safetensors").is_file() and (run / "train_log.json").is_file()
        t0 = time.time()
        if reuse:
            log(f"{name}: measuring the existing run {run}")
        else:
            log(f"{name}: training " + (f"{a.steps} steps (cap {a.minutes} min)" if a.steps else f"{a.minutes} min") + f" ({what})")
            train(None, config, run, items=items_for(config, base))
        tlog = json.loads((run / "train_log.json").read_text())
        train_s = tlog.get("seconds", time.time() - t0) if reuse else time.time() - t0
        model = A4Mer.load(run / "bundle.safetensors")
        log(f"{name}: trained {tlog['step']} steps in {train_s:.0f} s; measuring")
        t1 = time.time()
        rec = run_recognition(model, hdm, RecognitionConfig(head=HeadConfig(epochs=60), head_variants=()), head_inputs=("atom",))
        probe = TokenProbe("token_probe", token_featurizer(model))
        fit = probe.fit(probe_train, np.random.default_rng([a.seed, 5]))
        mm = motion_metrics(eval_clips, [probe])
        ml = motif_lengths(model, eval_clips)
        res = {"variant": name, "seed": a.seed, "what": what, "sets": sets, "paper_pred_interp_mpjpe_mm": list(paper),
               "budget": {"steps": a.steps, "cap_minutes": a.minutes} if a.steps else {"minutes": a.minutes},
               "command": f"python scripts/run_ablations.py --data {a.data} --work {a.work} --minutes {a.minutes:g} "
                          + (f"--steps {a.steps} " if a.steps else "") +
                          f"--clips {a.clips} --probe-clips {a.probe_clips} --eval-clips {a.eval_clips} --seed {a.seed} --only {name}"
                          + (f" --suffix {a.suffix}" if a.suffix else ""),
               "preset": PRESET + extra, "training": {"steps": tlog["step"], "seconds": round(train_s, 1),
                                                      "last": tlog["last"], "clips": len(rows), "items": len(base)},
               "model_hash": model.model_hash,
               "recognition": {"knn_top1": rec["knn"]["tokens"]["top1"], "knn_top3": rec["knn"]["tokens"]["top3"],
                               "raw_pose_knn_top1": rec["raw_pose_knn"]["top1"],
                               "raw_pose_centred_knn_top1": rec["raw_pose_variants"]["raw"]["top1"],
                               "raw_pose_knn_top3": rec["raw_pose_knn"]["top3"],
                               "knn_train_actor_cv_top1": rec["train_actor_cv_top1"]["tokens"],
                               "frame_head_frame_accuracy": rec["frame_head"]["frame_accuracy"],
                               "frame_head_clip_accuracy": rec["frame_head"]["clip_accuracy"],
                               "knn_correct": rec["knn"]["tokens"]["correct"], "test_clips": rec["test_clips"]},
               "inbetween_30_mpjpe_mm": mm["token_probe"]["inbetween_30_mpjpe_mm"],
               "extension_1s_mpjpe_mm": mm["token_probe"]["extension_1s_mpjpe_mm"],
               "motion": {"probe_fit": fit, "clips": mm["clips"], **mm["token_probe"]},
               "motifs": ml, "measure_seconds": round(time.time() - t1, 1),
               "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
        if name == "full":
            res["reference"] = reference
        path = outdir / f"ablation_{name}{a.suffix}.json"
        path.write_text(json.dumps(res, indent=1) + "\n")
        log(f"{name}: knn {res['recognition']['knn_top1']:.1f} / raw {res['recognition']['raw_pose_knn_top1']:.1f}, "
            f"inbetween {res['inbetween_30_mpjpe_mm']:.1f} mm, extension {res['extension_1s_mpjpe_mm']:.1f} mm, "
            f"motif {ml['mean_motif_s']:.2f} s -> {path}")
        if a.commit:
            commit([path], f"Ablation result: {name}{a.suffix} (seed {a.seed}, {tlog['step']} steps, "
                           + (f"{a.steps}-step preset)" if a.steps else f"{a.minutes:g} min preset)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
