#!/usr/bin/env python
"""The measurements behind ``a4mer.floor.SOLE_HEIGHT``: where real floors put the feet.

    python scripts/measure_floor.py [DATA] [--every 3] [--cmu DIR]

For each clip, the ``FLOOR_PERCENTILE`` of :func:`a4mer.floor.contact_heights` (the lowest foot
joint standing still under an upright body), on the source skeleton as read (its floor is the
capture's z = 0; ankles and balls of the feet, no end sites) and on the clip retargeted onto SMPL
(joints 7, 8, 10, 11). Prints one markdown row per data set: the median over clips and the 10th-90th
percentile of clips, in cm. DATA is the project's data folder (default ``../shared/data``): Bandai
dataset-1 BVH and HDM05 AMC (every ``--every``-th clip); ``--cmu`` an unpacked ``cmu-dance.tar.xz``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from a4mer.api import load_motion
from a4mer.floor import FLOOR_PERCENTILE, contact_heights
from a4mer.io.asfamc import read_amc
from a4mer.io.bvh import read_bvh

#: data set -> (pelvis joint, foot joints) of its source skeleton
SOURCE_FEET = {"Bandai dataset-1": ("Hips", ("Foot_L", "Foot_R", "Toes_L", "Toes_R")),
               "HDM05": ("root", ("lfoot", "rfoot", "ltoes", "rtoes")),
               "CMU salsa": ("hip", ("lFoot", "rFoot")), "CMU indian + martial": ("hip", ("lFoot", "rFoot"))}


def levels(path: Path, pelvis: str, feet: tuple[str, ...], source_fps: float | None) -> tuple[float, float]:
    """(source, SMPL) contact level of one clip, metres."""
    src = read_bvh(path, fps=source_fps) if path.suffix == ".bvh" else read_amc(path)
    h_src = contact_heights(src.positions, src.fps, [src.names.index(n) for n in feet], src.names.index(pelvis))
    m = load_motion(path, source_fps=source_fps)
    h_smpl = contact_heights(m.joint_positions(), m.fps)
    return tuple(float(np.percentile(h, FLOOR_PERCENTILE)) if len(h) else np.nan for h in (h_src, h_smpl))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="?", default="../shared/data")
    p.add_argument("--every", type=int, default=3, help="HDM05: every N-th clip (default 3: 96 of 288)")
    p.add_argument("--cmu", help="an unpacked cmu-dance.tar.xz (bvh/<kind>/NN.bvh)")
    a = p.parse_args(argv)
    data = Path(a.data)
    sets = {"Bandai dataset-1": [(f, None) for f in sorted((data / "bandai-namco/dataset-1/bvh").glob("*.bvh"))],
            "HDM05": [(f, None) for f in sorted((data / "hdm05/amc").glob("*.amc"))[::a.every]]}
    if a.cmu:
        bvh = Path(a.cmu) / "bvh"
        sets["CMU salsa"] = [(f, 60.0) for f in sorted((bvh / "salsa").glob("*.bvh"))]  # the headers say 120
        sets["CMU indian + martial"] = [(f, None) for k in ("indian", "martial")
                                        for f in sorted((bvh / k).glob("*.bvh"))]
    print("| data set | clips | source skeleton (cm) | retargeted SMPL (cm) |\n|---|---|---|---|")
    for name, clips in sets.items():
        r = np.array([levels(f, *SOURCE_FEET[name], fps) for f, fps in clips]) * 100  # (n, 2) cm
        cell = [f"{np.nanmedian(c):.1f} ({np.nanpercentile(c, 10):.1f} – {np.nanpercentile(c, 90):.1f})" for c in r.T]
        print(f"| {name} | {len(r)} | {cell[0]} | {cell[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
