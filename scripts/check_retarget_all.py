"""Retarget every clip of the data sets and summarise the checks -> docs/bench/retarget_all_clips.json.

Usage: python scripts/check_retarget_all.py [--prepared PREPARED]
(--prepared: a folder made by `a4mer data prepare`, whose _raw/ holds the unpacked archives).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np

from a4mer.io.asfamc import read_amc
from a4mer.io.bvh import read_bvh
from a4mer.retarget import detect_scheme, retarget
from a4mer.retarget.check import check_retarget

ROOT = Path(__file__).resolve().parents[1]


def _check(src):
    bmap = detect_scheme(src.names)
    return check_retarget(src, bmap, retarget(src, bmap))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("A4MER_DATA", ROOT.parent / "shared" / "data")))
    ap.add_argument("--prepared", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "retarget_all_clips.json")
    a = ap.parse_args()
    h = a.data / "hdm05"
    rows = list(csv.DictReader(open(h / "labels.csv")))
    raw = a.prepared / "_raw"
    res = {"hdm05": [_check(read_amc(h / r["file"], asf=h / r["asf"])) for r in rows],
           "bandai1": [_check(read_bvh(p)) for p in sorted((a.data / "bandai-namco/dataset-1/bvh").glob("*.bvh"))],
           "bandai2": [_check(read_bvh(p)) for p in sorted((raw / "bandai-namco/dataset-2/bvh").glob("*.bvh"))],
           "cmu": [_check(read_bvh(p)) for p in sorted((raw / "cmu-dance").rglob("*.bvh"))]}
    out = {}
    for k, v in res.items():
        lim = np.array([r["median_limb_deg"] for r in v])
        tr = np.array([r["travel_ratio"] for r in v])
        out[k] = {"clips": len(v), "limb_deg_max": float(lim.max()), "limb_deg_median": float(np.median(lim)),
                  "upright": int(sum(r["upright"] for r in v)), "travel_ratio_min": float(tr.min()),
                  "travel_ratio_max": float(tr.max())}
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
