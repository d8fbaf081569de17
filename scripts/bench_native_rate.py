"""Heads at the clip's own frame rate: gaps, blocking and extension against the classical curve there.

    python scripts/bench_native_rate.py --files "../shared/data/hdm05/amc/HDM_[mt][mr]_*.amc" \
        "../shared/data/bandai-namco/dataset-1/bvh/*_002.bvh" \
        "CMU dance test=PREPARED/_raw/cmu-dance/bvh/indian/15.bvh,PREPARED/_raw/cmu-dance/bvh/martial/10.bvh,..." \
        [--fps native,60,120] [--max-clips 120] [--json docs/bench/native_rate.json] [--md docs/benchmarks.md]

`a4mer bench` works at 30 fps; mocap often comes at 60-120 fps, where a gap of the same length in
seconds spans more frames and Blender's curves (cubic Hermite with neighbour-frame tangents, Catmull-Rom
through keys) are fitted to much denser data. This benchmark loads each clip with the CLIs' loader
(any supported format), optionally resamples it (``--fps``: "native" or a rate), and compares the
shipped heads with the classical curve *at that rate*: gaps of 0.1/0.25/0.5/1/2 s with 1 s of
context on each side (up to 4 windows per clip), keys every 1/6, 0.25, 0.5 and 1 s over the whole clip, and
1 s of extension after the clip minus its last second. MPJPE (mm) of SMPL joints 0-21 from FK on
the neutral skeleton, over the generated frames. Writes JSON and a markdown section
(``native-rate``) of ``--md``.
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from a4mer.bench.report import add_section_arguments, render_saved, write_section  # noqa: E402

GAPS_S = (0.1, 0.25, 0.5, 1.0, 2.0)
KEYS_S = (1 / 6, 0.25, 0.5, 1.0)


def _err(pred, true, frames) -> float:
    from a4mer.bench.metrics import body_fk, mpjpe_mm
    pp = body_fk(pred.rotations[:, :22], pred.root_translation)[0]
    tp = body_fk(true.rotations[:, :22], true.root_translation)[0]
    return float(mpjpe_mm(pp[frames], tp[frames]))


def measure(clips, heads) -> list[dict]:
    """Rows (task, span in s, frames at the clip rate, windows, heads mm, classical mm) for clips of one rate."""
    from a4mer.bench.methods import BaselineMethod
    herm, cv = BaselineMethod("hermite", gap="hermite"), BaselineMethod("cv", ext="constant_velocity")
    rows = []
    fps = clips[0].fps
    ctx = int(round(fps))
    for g_s in GAPS_S:
        g = int(round(g_s * fps))
        r = [[], []]
        for m in clips:
            L = 2 * ctx + g
            if m.num_frames < L:
                continue
            for a in np.linspace(0, m.num_frames - L, min(4, (m.num_frames - L) // ctx + 1)).astype(int):
                true = m.slice(a, a + L)
                s, e = ctx - 1, ctx + g
                frames = np.arange(s + 1, e)
                r[0].append(_err(heads.fill_gap(true, s, e), true, frames))
                r[1].append(_err(herm.fill_gap(true, s, e), true, frames))
        rows.append({"task": "gap", "span_s": g_s, "frames": g, "windows": len(r[0]), "heads_mm": _mean(r[0]),
                     "classical_mm": _mean(r[1]), "classical": "cubic Hermite"})
    for k_s in KEYS_S:
        n = int(round(k_s * fps))
        r = [[], []]
        for m in clips:
            keys = np.arange(0, m.num_frames, n)
            if len(keys) < 3:
                continue
            true = m.slice(0, int(keys[-1]) + 1)
            frames = np.setdiff1d(np.arange(keys[-1] + 1), keys)
            r[0].append(_err(heads.fill_keys(true, keys), true, frames))
            r[1].append(_err(herm.fill_keys(true, keys), true, frames))
        rows.append({"task": "blocking", "span_s": k_s, "frames": n, "windows": len(r[0]), "heads_mm": _mean(r[0]),
                     "classical_mm": _mean(r[1]), "classical": "Catmull-Rom"})
    r = [[], []]
    for m in clips:
        if m.num_frames < 2 * ctx:
            continue
        context, frames = m.slice(0, m.num_frames - ctx), np.arange(m.num_frames - ctx, m.num_frames)
        r[0].append(_err(heads.extend_clip(context, ctx), m, frames))
        r[1].append(_err(cv.extend(context, ctx), m, frames))
    rows.append({"task": "extend", "span_s": 1.0, "frames": ctx, "windows": len(r[0]), "heads_mm": _mean(r[0]),
                 "classical_mm": _mean(r[1]), "classical": "constant velocity"})
    for row in rows:
        row["fps"] = fps
        row["ratio"] = (row["heads_mm"] / row["classical_mm"]) if row["windows"] else None
    return rows


def _label(source: str) -> str:
    """Table label of a ``--files`` entry: its ``NAME=`` prefix, else the file names of its patterns."""
    name, _, pats = source.rpartition("=")
    return name or ",".join(Path(p).name for p in pats.split(","))


def _files(source: str) -> list[str]:
    """Files of a ``--files`` entry ``[NAME=]PATTERN[,PATTERN...]``, sorted."""
    return sorted({f for part in source.rpartition("=")[2].split(",") for f in glob.glob(part)})


def _mean(x: list[float]) -> float | None:
    return float(np.mean(x)) if x else None


def render(res: dict) -> str:
    out = ["## Heads at the clip's own frame rate", "",
           f"Clips: {res['clips']} files, at most --max-clips per source "
           f"({', '.join(_label(x) for x in res['patterns'])}); "
           "the shipped heads against the classical curve computed at the same rate (what Blender's curves give "
           "there). Gaps with 1 s of context on each side (up to 4 windows per clip), keys every N over the whole "
           "clip, 1 s of extension after the clip minus its last second. MPJPE mm over the generated frames.", "",
           "| clips | fps | task | span | frames | windows | heads mm | classical mm | × classical |",
           "|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        if not r["windows"]:
            continue
        what = {"gap": "gap", "blocking": "keys every", "extend": "extension"}[r["task"]]
        src = _label(r["source"])
        out.append(f"| {src} | {r['fps']:g} | {what} ({r['classical']}) | {r['span_s']:.3g} s | {r['frames']} | "
                   f"{r['windows']} | {r['heads_mm']:.1f} | {r['classical_mm']:.1f} | {r['ratio']:.2f} |")
    out += ["", f"Command: `{res['command']}` ({res['seconds']:.0f} s on 2 shared cores; JSON "
            "`docs/bench/native_rate.json`)."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", nargs="+", default=[],
                   help="one entry per source: [NAME=]PATTERN[,PATTERN...], glob patterns of clips (any "
                        "supported format); NAME labels the table rows")
    p.add_argument("--fps", default="native", help='comma-separated: "native" and/or rates to resample to')
    p.add_argument("--max-clips", type=int, default=60)
    add_section_arguments(p, ROOT / "docs", "native_rate")
    a = p.parse_args(argv)
    if a.render_only:
        render_saved(a, "native-rate", render)
        return 0
    if not a.files:
        p.error("--files is required (unless --render-only)")
    from a4mer.api import load_motion
    from a4mer.heads.files import default_heads
    warnings.simplefilter("ignore")
    t0 = time.time()
    heads = default_heads()
    rows, n = [], 0
    for pat in a.files:  # one source per entry
        files = _files(pat)[:a.max_clips]
        if not files:
            raise SystemExit(f"no file matches {pat}")
        n += len(files)
        clips = [load_motion(f) for f in files]
        done = set()
        for rate in a.fps.split(","):
            group = clips if rate == "native" else [m.resample(float(rate)) for m in clips]
            for fps in sorted({m.fps for m in group} - done):
                done.add(fps)
                rows += [{"source": pat, "clips": len(files), **r} for r in
                         measure([m for m in group if m.fps == fps], heads)]
                print(f"[{time.time() - t0:.0f} s] {pat} at {fps:g} fps done", flush=True)
    res = {"clips": n, "patterns": a.files, "rows": rows, "seconds": time.time() - t0,
           "command": "python scripts/bench_native_rate.py --files " + " ".join(f'"{x}"' for x in a.files) +
                      f" --fps {a.fps} --max-clips {a.max_clips}"}
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1))
    write_section(Path(a.md), "native-rate", render(res))
    print(render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
