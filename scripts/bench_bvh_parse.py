"""Benchmark: reading 10,000-frame BVH (and AMC) files, one core.

    python scripts/bench_bvh_parse.py [--frames 10000] [--repeat 5] [-o docs/bench/bvh_parse.json]

Cases (files made in a temporary folder):
- bandai: real Bandai dataset-1 frames (A4MER_DATA, default ../shared/data; else examples/bandai)
  repeated to N frames: 22 joints x 6 channels, 5 End Sites.
- cmu_mb_25: the cmu_motionbuilder scheme fixture (25 joints x 3 channels + root position, ZYX)
  repeated to N frames.
- hdm05_amc: the example HDM05 AMC repeated (frames renumbered) to N frames, with its ASF.
Reports the best CPU time and the best / median wall time of ``read_bvh`` / ``read_amc`` (parse +
forward kinematics) and the CPU time of the number parsing alone; prints a markdown table and
writes JSON. On a shared machine compare CPU times (wall time includes waiting for other work).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from a4mer.io import read_amc, read_bvh

REPO = Path(__file__).resolve().parents[1]


def _repeat_bvh(src: Path, frames: int, out: Path) -> Path:
    head, motion = src.read_text().split("MOTION", 1)
    lines = [ln for ln in motion.strip().splitlines() if ln.strip()]
    rows = lines[2:]
    rows = (rows * (frames // len(rows) + 1))[:frames]
    out.write_text(head + f"MOTION\nFrames: {frames}\n{lines[1]}\n" + "\n".join(rows) + "\n")
    return out


def _repeat_amc(src: Path, frames: int, out: Path) -> Path:
    text = src.read_text(encoding="latin-1")
    lines = text.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.strip().isdigit())
    blocks, cur = [], []
    for ln in lines[first:]:
        if ln.strip().isdigit():
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(ln)
    blocks.append(cur)
    body = []
    for i in range(frames):
        body.append(str(i + 1))
        body += blocks[i % len(blocks)]
    out.write_text("\n".join(lines[:first] + body) + "\n", encoding="latin-1")
    return out


def _time(fn, repeat: int) -> tuple[float, float, float]:
    """Best wall, median wall and best CPU (process) seconds of ``repeat`` calls. The CPU time is
    the number to compare on a shared machine: wall time grows with other processes' load."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), statistics.median(wall), min(cpu)


def _parse_only(path: Path) -> None:
    body = path.read_text().split("MOTION", 1)[1].splitlines()
    np.loadtxt(body[3:], ndmin=2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="BVH/AMC read benchmark")
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("-o", "--out", type=Path, default=REPO / "docs" / "bench" / "bvh_parse.json")
    args = ap.parse_args(argv)
    data = Path(os.environ.get("A4MER_DATA", REPO.parent / "shared" / "data"))
    bandai = data / "bandai-namco" / "dataset-1" / "bvh" / "dataset-1_walk_happy_002.bvh"
    if not bandai.is_file():
        bandai = REPO / "examples" / "bandai" / "dataset-1_walk_happy_002.bvh"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = [
            ("bandai", _repeat_bvh(bandai, args.frames, tmp / "bandai.bvh"), read_bvh),
            ("cmu_mb_25", _repeat_bvh(REPO / "tests" / "fixtures" / "bvh_schemes" / "cmu_motionbuilder.bvh",
                                      args.frames, tmp / "cmu.bvh"), read_bvh),
        ]
        (tmp / "amc").mkdir()
        (tmp / "asf").mkdir()
        (tmp / "asf" / "HDM_mm.asf").write_bytes((REPO / "examples" / "hdm05" / "asf" / "HDM_mm.asf").read_bytes())
        amc = _repeat_amc(REPO / "examples" / "hdm05" / "amc" / "HDM_mm_kickLFront1Reps_023_120.amc",
                          args.frames, tmp / "amc" / "HDM_mm_bench_120.amc")
        cases.append(("hdm05_amc", amc, read_amc))
        for name, path, reader in cases:
            clip = reader(path)
            best, med, cpu = _time(lambda: reader(path), args.repeat)
            row = {"case": name, "frames": clip.num_frames, "joints": len(clip.names),
                   "rotating_joints": int((~clip.end_site).sum()), "file_mb": round(path.stat().st_size / 2**20, 2),
                   "read_best_s": round(best, 4), "read_median_s": round(med, 4),
                   "read_cpu_best_s": round(cpu, 4)}
            if reader is read_bvh:
                row["channels"] = clip.meta["channels"]
                row["number_parse_cpu_s"] = round(_time(lambda: _parse_only(path), args.repeat)[2], 4)
            results.append(row)
    report = {"benchmark": "bvh_parse", "frames": args.frames, "repeat": args.repeat,
              "python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
              "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"load average (1 min) {report['load_average_1min']} on {os.cpu_count()} cores")
    print("| case | frames | joints (rotating) | channels | MB | read CPU s | read wall best / median s | numbers only CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['case']} | {r['frames']} | {r['joints']} ({r['rotating_joints']}) | {r.get('channels', '-')} | "
              f"{r['file_mb']} | {r['read_cpu_best_s']} | {r['read_best_s']} / {r['read_median_s']} | "
              f"{r.get('number_parse_cpu_s', '-')} |")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
