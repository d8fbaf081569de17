"""Pictures of what the model found (matplotlib, imported lazily: the light core imports without it).

- :func:`timeline_png`: atoms and motifs as coloured bars over time (seconds), motif ids/names written
  on their bars, at least 1200 px wide (wider for long clips).
- :func:`motif_gallery_png`: one panel per motif, stick-figure poses (side view) of one occurrence.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import A4merError
from .io.outputs import write_atomic
from .strips import motif_display_name, validate_segments
from .wording import counted

MIN_WIDTH_PX = 1200
DPI = 100


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the install
        raise A4merError(f"drawing pictures needs matplotlib (pip install matplotlib): {e}") from None
    return plt


def _colour(i: int, cmap: str = "tab20"):
    import matplotlib
    cm = matplotlib.colormaps[cmap]
    return cm((int(i) % cm.N) / max(cm.N - 1, 1)) if cm.N > 20 else cm(int(i) % cm.N)


def _save(fig, path: str | os.PathLike) -> Path:
    """Save ``fig`` as PNG atomically (temporary name, then rename)."""
    return write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))


def timeline_width_px(duration_s: float) -> int:
    """Picture width: 40 px per second, between 1600 and 8000 px (never under :data:`MIN_WIDTH_PX`)."""
    return int(min(8000, max(1600, 40 * duration_s)))


def timeline_png(segments: dict, path: str | os.PathLike, title: str = "", motif_names: dict | None = None
                 ) -> Path:
    """Draw ``segments`` (the canonical segments dict) as a two-row timeline PNG at ``path``.

    Row "atoms": one bar per atom coloured by its code; row "motifs": one bar per motif occurrence
    coloured by motif id with its name (``m<id>`` unless ``motif_names`` names it) written on the bar
    (vertically when the bar is narrow). x axis: seconds.
    """
    validate_segments(segments, where=str(path))
    plt = _plt()
    fps = float(segments["fps"])
    atoms, motifs = segments["atoms"], segments["motifs"]
    end_f = max([a["end_frame"] for a in atoms] + [m["end_frame"] for m in motifs] + [1])
    dur = max(float(segments.get("duration") or 0.0), end_f / fps)
    w_px = timeline_width_px(dur)
    fig, ax = plt.subplots(figsize=(w_px / DPI, 3.2), dpi=DPI)
    px_per_s = 0.92 * w_px / max(dur, 1e-6)
    for a in atoms:
        s, e = a["start_frame"] / fps, a["end_frame"] / fps
        ax.broken_barh([(s, e - s)], (1.55, 0.8), facecolors=_colour(a["code"], "tab20"), edgecolor="white", lw=0.6)
    for m in motifs:
        s, e = m["start_frame"] / fps, m["end_frame"] / fps
        mid = int(m["motif_id"])
        ax.broken_barh([(s, e - s)], (0.2, 1.2), facecolors=_colour(mid, "tab20b"), edgecolor="black", lw=0.8)
        label = motif_display_name(mid, motif_names)
        wide = (e - s) * px_per_s >= 9 * len(label) + 6
        ax.text(0.5 * (s + e), 0.8, label, ha="center", va="center", fontsize=10 if wide else 9, parse_math=False,
                rotation=0 if wide else 90, color="black", fontweight="bold", clip_on=True)
    ax.set_xlim(0, dur)
    ax.set_ylim(0, 2.5)
    ax.set_yticks([0.8, 1.95], ["motifs", "atoms"])
    ax.set_xlabel("time (s)")
    ax.set_title(title or f"{counted(len(atoms), 'atom')}, {counted(len(motifs), 'motif occurrence')}, "
                          f"{dur:.2f} s at {fps:g} fps",
                 fontsize=11, parse_math=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


# --- motif gallery ---------------------------------------------------------------------------------
def _side_view(pos: np.ndarray, skeleton: Any) -> np.ndarray:
    """(F, J, 2) side-view coordinates (forward, up) of ``pos (F, J, 3)`` Z-up metres: the heading of
    the first frame (hips' left-right axis) is turned so the body walks towards +x; root xy of frame 0
    at the origin."""
    li, ri = skeleton.index("left_hip"), skeleton.index("right_hip")
    lr = pos[0, li] - pos[0, ri]
    fwd = np.array([lr[1], -lr[0]])  # Z up: forward = left x up (an upright SMPL body faces -Y)
    n = np.linalg.norm(fwd)
    fwd = fwd / n if n > 1e-9 else np.array([1.0, 0.0])
    rel = pos[..., :2] - pos[0, 0, :2]
    return np.stack([rel @ fwd, pos[..., 2]], axis=-1)


def pick_occurrences(segments: dict, max_motifs: int = 12) -> list[dict]:
    """One occurrence per motif (the most confident, ties: the first), the most frequent motifs
    first (ties: lower id), at most ``max_motifs``."""
    by_id: dict[int, list[dict]] = {}
    for m in segments["motifs"]:
        by_id.setdefault(int(m["motif_id"]), []).append(m)
    order = sorted(by_id, key=lambda k: (-len(by_id[k]), k))[:max_motifs]
    return [max(by_id[k], key=lambda m: float(m.get("confidence", 1.0))) for k in order]


def motif_gallery_png(motion: Any, segments: dict, path: str | os.PathLike, poses: int = 5,
                      max_motifs: int = 12, motif_names: dict | None = None, title: str = "") -> Path:
    """One panel per motif (see :func:`pick_occurrences`): ``poses`` stick figures evenly spaced over
    one occurrence, side view, early poses light, late poses dark; left limbs blue, right red.

    ``motion``: the clip the segments index (SMPL family, Z-up metres; frames at ``segments['fps']``
    are placed by time when the rates differ).
    """
    validate_segments(segments, where=str(path))
    occ = pick_occurrences(segments, max_motifs)
    if not occ:
        raise A4merError(f"{path}: the segments have no motif occurrence to draw")
    plt = _plt()
    body = motion.body()
    skel = body.skeleton
    pos = body.joint_positions()  # (T, 24, 3)
    ratio = body.fps / float(segments["fps"])
    cols = min(4, len(occ))
    rows = int(np.ceil(len(occ) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(max(MIN_WIDTH_PX / DPI, 3.4 * cols), 3.0 * rows), dpi=DPI,
                             squeeze=False)
    side = ["left" if n.startswith("left") else "right" if n.startswith("right") else "mid" for n in skel.names]
    colours = {"left": (0.15, 0.35, 0.85), "right": (0.85, 0.2, 0.15), "mid": (0.1, 0.1, 0.1)}
    for k, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if k >= len(occ):
            continue
        m = occ[k]
        a = int(np.clip(round(m["start_frame"] * ratio), 0, body.num_frames - 1))
        b = int(np.clip(round(m["end_frame"] * ratio) - 1, a, body.num_frames - 1))
        frames = np.unique(np.linspace(a, b, poses).round().astype(int))
        xy = _side_view(pos[frames], skel)  # (F, J, 2)
        span = max(0.6, float(np.ptp(xy[..., 0])) if len(frames) > 1 else 0.6)
        shift = np.arange(len(frames)) * max(0.0, 0.7 - span / max(len(frames), 1))
        for i, f in enumerate(frames):
            alpha = 0.35 + 0.65 * (i + 1) / len(frames)
            p = xy[i] + np.array([shift[i], 0.0])
            for j, par in enumerate(skel.parents):
                if par >= 0:
                    ax.plot(p[[par, j], 0], p[[par, j], 1], color=colours[side[j]], alpha=alpha, lw=2,
                            solid_capstyle="round")
        ax.set_aspect("equal")
        ax.axhline(float(pos[:, :, 2].min()), color="0.7", lw=0.8)
        name = motif_display_name(m["motif_id"], motif_names)
        n_occ = sum(1 for x in segments["motifs"] if int(x["motif_id"]) == int(m["motif_id"]))
        ax.set_title(f"{name}  ({n_occ}x; shown {m['start_frame']}-{m['end_frame']})", fontsize=10, parse_math=False)
    fig.suptitle(title or "motif gallery (side view, light = early, dark = late)", fontsize=12, parse_math=False)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
