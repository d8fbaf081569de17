"""Stick figures of a source clip beside its SMPL retarget -> docs/retarget.png.

Usage: python scripts/plot_retarget.py [CLIP ...] [-o docs/retarget.png] [--frames 4]
Default clips: the example HDM05 AMC and Bandai BVH in examples/.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from a4mer.io.asfamc import read_amc  # noqa: E402
from a4mer.io.bvh import read_bvh  # noqa: E402
from a4mer.retarget import detect_scheme, retarget  # noqa: E402
from a4mer.skeleton import SMPL  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _draw(ax, pos, parents, color, offset):
    for j, p in enumerate(parents):
        # skip static helper roots far from the body (e.g. Bandai's joint_Root at the origin)
        if p >= 0 and np.linalg.norm(pos[j] - pos[p]) < 0.8:
            seg = pos[[p, j]] + offset
            ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=color, lw=1.6)


def plot(clips: list[Path], out: Path, n_frames: int) -> Path:
    fig = plt.figure(figsize=(4 * n_frames, 4.2 * len(clips)))
    for row, clip in enumerate(clips):
        src = read_bvh(clip) if clip.suffix == ".bvh" else read_amc(clip)
        res = retarget(src, detect_scheme(src.names))
        smpl = res.motion.joint_positions()
        frames = np.linspace(0, src.num_frames - 1, n_frames).astype(int)
        for k, f in enumerate(frames):
            ax = fig.add_subplot(len(clips), n_frames, row * n_frames + k + 1, projection="3d")
            s = src.positions[f] * res.scale
            centre = smpl[f, 0] * np.array([1, 1, 0])
            _draw(ax, s - centre, src.parents, "tab:gray", np.array([-0.6, 0, 0]))
            _draw(ax, smpl[f] - centre, SMPL.parents, "tab:red", np.array([0.6, 0, 0]))
            ax.set_xlim(-1.2, 1.2), ax.set_ylim(-1.2, 1.2), ax.set_zlim(0, 2.0)
            ax.set_box_aspect((2.4, 2.4, 2.0))
            ax.view_init(elev=10, azim=-90)
            ax.set_proj_type("ortho")
            ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
            ax.set_title(f"{clip.name[:28]}\nframe {f} (grey: source, red: SMPL)" if k == 0 else f"frame {f}", fontsize=8)
        mean_err = float(np.mean(list(res.bone_error_deg.values())))
        fig.text(0.01, 1 - (row + 0.5) / len(clips), f"bone direction error: median {res.median_error_deg:.1f}°, mean {mean_err:.1f}°",
                 rotation=90, va="center", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("clips", nargs="*", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "retarget.png")
    ap.add_argument("--frames", type=int, default=4)
    a = ap.parse_args()
    clips = a.clips or sorted((ROOT / "examples").rglob("*.amc"))[:1] + sorted((ROOT / "examples").rglob("*.bvh"))[:1]
    print(plot(clips, a.output, a.frames))


if __name__ == "__main__":
    main()
