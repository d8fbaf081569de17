"""Throughput of ``a4mer batch``: clips per minute with ``--jobs 1`` and ``--jobs 2``.

    .venv/bin/python scripts/bench_batch.py [--clips N] [--source DIR_OR_FILES ...] [--frames F]
        [--checkpoint BUNDLE] [--jobs 1 2] [--repeat 3] [--out docs/bench/batch]

Clips: the first N .npz/.bvh/.amc files of ``--source`` (default: the prepared real clips under
$A4MER_PREPARED/clips when that variable names a prepared folder, else the example clips), each cut to at most F frames
and written as npz into a scratch folder. Each jobs setting runs ``a4mer batch --segment --force``
on the same clips, ``--repeat`` times interleaved, the median wall reported (the model when it loads, else the import + .blend only, said in the report).
Writes ``<out>.json`` and ``<out>.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _sources(items: list[str], n: int) -> list[Path]:
    from a4mer.batch import discover
    if not items:
        prepared = os.environ.get("A4MER_PREPARED")
        clips = Path(prepared) / "clips" if prepared else None
        items = [str(clips)] if clips is not None and clips.is_dir() else [str(REPO / "examples")]
    jobs = discover(items)
    jobs = [j for j in jobs if j.path.suffix.lower() != ".blend"]
    step = max(1, len(jobs) // n)  # spread over the datasets, deterministic
    return [j.path for j in jobs[::step][:n]]


def _model_ok(checkpoint: str | None) -> tuple[bool, str]:
    try:
        from a4mer.model import A4Mer
        m = A4Mer.load(checkpoint)
        return True, f"{checkpoint or 'shipped bundle'} (model {m.model_hash})"
    except Exception as e:  # no bundle yet, no torch ...
        return False, f"no model ({e})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--frames", type=int, default=300, help="cut each clip to at most this many frames")
    p.add_argument("--source", nargs="*", default=[])
    p.add_argument("--checkpoint")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=3, help="runs per jobs setting, interleaved (median reported)")
    p.add_argument("--out", default=str(REPO / "docs" / "bench" / "batch"))
    args = p.parse_args(argv)
    from a4mer.api import load_motion
    from a4mer.io import write_amass_npz

    seg_ok, model_text = _model_ok(args.checkpoint)
    scratch = Path(tempfile.mkdtemp(prefix="a4mer-bench-batch-"))
    try:
        clips_dir = scratch / "clips"
        clips_dir.mkdir()
        frames, seconds, used = [], [], []
        for i, src in enumerate(_sources(args.source, args.clips)):
            used.append(src.name)
            m = load_motion(src)
            m = m.slice(0, min(m.num_frames, args.frames))
            write_amass_npz(m, clips_dir / f"{i:03d}_{src.stem}.npz")
            frames.append(m.num_frames)
            seconds.append(m.duration)
        walls: dict[int, list[float]] = {j: [] for j in args.jobs}
        last: dict[int, dict] = {}
        for rep in range(args.repeat):  # interleaved (1, 2, 1, 2 ...): load from other jobs hits both alike
            for jobs in args.jobs:
                out = scratch / f"out_j{jobs}_{rep}"
                cmd = [sys.executable, "-m", "a4mer", "batch", str(clips_dir), "--out", str(out), "--jobs",
                       str(jobs), "--force"] + (["--segment"] if seg_ok else []) + (
                    ["--checkpoint", args.checkpoint] if args.checkpoint else [])
                t0 = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True)
                walls[jobs].append(time.perf_counter() - t0)
                summ = json.loads(next((out / "runs").glob("*.json")).read_text())
                last[jobs] = {"summ": summ, "rc": proc.returncode, "cmd": cmd}
                print(f"jobs={jobs} run {rep + 1}: {summ['counts']['ok']} clips in {walls[jobs][-1]:.1f} s", flush=True)
        runs = []
        for jobs in args.jobs:
            summ = last[jobs]["summ"]
            wall = sorted(walls[jobs])[len(walls[jobs]) // 2]
            per = sorted(c["seconds"] for c in summ["clips"] if c["status"] == "ok")
            runs.append({"jobs": jobs, "exit_code": last[jobs]["rc"], "wall_s": round(wall, 2),
                         "wall_s_all": [round(w, 2) for w in walls[jobs]],
                         "clips_ok": summ["counts"]["ok"], "clips_failed": summ["counts"]["failed"],
                         "clips_per_minute": round(60.0 * summ["counts"]["ok"] / wall, 2),
                         "clip_s_median": round(per[len(per) // 2], 2) if per else None,
                         "command": " ".join(["a4mer"] + last[jobs]["cmd"][3:])})
            print(f"jobs={jobs}: {runs[-1]['clips_ok']} clips, median wall {wall:.1f} s = "
                  f"{runs[-1]['clips_per_minute']:.2f} clips/min", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "segment": seg_ok,
              "model": model_text, "clips": len(frames), "frames_total": int(sum(frames)),
              "clip_seconds_total": round(sum(seconds), 2), "sources": used, "steps": "import, segment, .blend, JSON, timeline PNG"
              if seg_ok else "import, .blend", "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                       "python": platform.python_version(), "load_avg": load},
              "runs": runs, "reproduce": ("A4MER_PREPARED=PREPARED " if os.environ.get("A4MER_PREPARED") and not args.source else "")
              + "python scripts/bench_batch.py " + " ".join(argv or sys.argv[1:])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    lines = ["# a4mer batch throughput", "",
             f"{report['clips']} real clips ({report['frames_total']} frames, {report['clip_seconds_total']} s of "
             f"motion; {', '.join(used)}), steps: {report['steps']}; model: {model_text}.",
             f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, load average at the end "
             f"{', '.join(f'{x:.1f}' for x in load) if load else 'n/a'} (shared machine: other jobs ran too).", "",
             f"| --jobs | clips | wall (s), median of {args.repeat} | all runs (s) | clips / minute | "
             "median s per clip |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['jobs']} | {r['clips_ok']} | {r['wall_s']} | {', '.join(map(str, r['wall_s_all']))} | "
              f"{r['clips_per_minute']} | {r['clip_s_median']} |" for r in runs]
    lines += ["", "Each of the `--jobs` worker processes (bpy module) runs clip after clip: the Python + bpy + "
              "torch start and the model load are paid once per worker, not per clip.", "",
              f"Reproduce: `{report['reproduce']}`", ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
