"""Speed of parsing + retargeting a 10,000-frame BVH (and an AMC) on this machine, and of filling one
gap in a long take from the command line (``a4mer inbetween``, a fresh process each time).

Usage: python scripts/bench_io.py [--data ../shared/data] [--out docs/bench] [--long-minutes 10]
Writes docs/bench/io.json and docs/bench/io.md (the table is copied into docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from a4mer.api import load_motion

ROOT = Path(__file__).resolve().parents[1]


def long_bvh(src: Path, frames: int, dest: Path) -> Path:
    """A BVH with ``frames`` frames made by repeating the MOTION rows of a real clip."""
    text = src.read_text()
    head, motion = text.split("MOTION", 1)
    lines = motion.strip().splitlines()
    rows = [ln for ln in lines[2:] if ln.strip()]
    body = [rows[i % len(rows)] for i in range(frames)]
    dest.write_text(head + "MOTION\n" + f"Frames: {frames}\n" + lines[1] + "\n" + "\n".join(body) + "\n")
    return dest


def timed(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cli_fill_s(clip: Path, start: int, end: int, out: Path, repeat: int = 3) -> float:
    """Median wall seconds of ``a4mer inbetween CLIP --start START --end END`` in a fresh process."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "a4mer", "inbetween", str(clip), "--start", str(start), "--end", str(end),
                        "-o", str(out)], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("A4MER_DATA", ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    ap.add_argument("--long-minutes", type=float, default=10.0, help="length of the take one gap is filled in")
    a = ap.parse_args()
    bandai = sorted((a.data / "bandai-namco" / "dataset-1" / "bvh").glob("*walk_normal*.bvh"))[0]
    amc = sorted((a.data / "hdm05" / "amc").glob("HDM_mm_kick*.amc"))[0]
    with tempfile.TemporaryDirectory() as tmp:
        big = long_bvh(bandai, 10_000, Path(tmp) / "long.bvh")
        t_bvh = timed(lambda: load_motion(big))
        n_long = int(round(a.long_minutes * 60 * 30))  # Bandai is 30 fps
        take = long_bvh(bandai, n_long, Path(tmp) / "take.bvh")
        mid = n_long // 2
        t_fill = cli_fill_s(take, mid, mid + 46, Path(tmp) / "filled.npz")
    t_amc = timed(lambda: load_motion(amc))
    n_amc = load_motion(amc).num_frames
    res = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
           "bvh_10000_frames_parse_retarget_s": round(t_bvh, 4), "bvh_source": bandai.name,
           "amc_parse_retarget_s": round(t_amc, 4), "amc_frames": n_amc, "amc_source": amc.name,
           "cli_fill_45_frame_gap_s": round(t_fill, 3), "cli_fill_take_frames": n_long,
           "command": f"python scripts/bench_io.py --long-minutes {a.long_minutes:g}"}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "io.json").write_text(json.dumps(res, indent=2) + "\n")
    md = ("| task | time (best of 5) |\n|---|---|\n"
          f"| parse + retarget 10,000-frame Bandai BVH | {t_bvh:.3f} s |\n"
          f"| parse + retarget {n_amc}-frame HDM05 AMC | {t_amc:.3f} s |\n"
          f"| `a4mer inbetween` of one 45-frame gap in a {a.long_minutes:g}-minute BVH ({n_long:,} frames), "
          f"fresh process, median of 3 | {t_fill:.2f} s |\n")
    (a.out / "io.md").write_text(md)
    print(json.dumps(res, indent=2))
    print(md)


if __name__ == "__main__":
    main()
