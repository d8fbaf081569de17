"""Prepared clips (``a4mer data prepare`` output: manifest.jsonl + clips/) as training items.

Each clip becomes one or more *variants* (original, mirrored, playback-speed changed); each variant
holds frame arrays at the model rate and its segment boundaries. Windows of whole segments are
sampled from them with an explicit generator.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import A4merError
from ..features import frame_arrays
from ..prepare import manifest_rows
from ..jepa.masking import MaskConfig, draw_mask, draw_motif_mask
from .augment import change_speed, mirror
from .windows import Batch, collate


@dataclass(frozen=True)
class DataConfig:
    """fps: model frame rate; window_s: window length (s); max_segments: segments per window;
    datasets: manifest ``dataset`` values used (empty = all); split: manifest split used;
    mirror: add a mirrored variant of every clip; speed_variants: extra variants per clip at a random
    playback speed in ``speed_range`` (each mirrored with probability 1/2); max_clips: 0 = all."""

    fps: float = 10.0
    window_s: float = 10.0
    max_segments: int = 32
    datasets: tuple[str, ...] = ("bandai1", "bandai2", "cmu-dance")
    split: str = "train"
    mirror: bool = True
    speed_variants: int = 1
    speed_range: tuple[float, float] = (0.7, 1.4)
    max_clips: int = 0
    mask: MaskConfig = field(default_factory=MaskConfig)

    @property
    def window_frames(self) -> int:
        return int(round(self.window_s * self.fps))


@dataclass
class ClipItem:
    """One clip variant: ``arrays`` (frame arrays at the model rate), ``bounds`` (S+1,) segment
    boundaries in model frames, ``groups`` (S,) motif index per segment (stage 2) or None."""

    name: str
    arrays: dict[str, np.ndarray]
    bounds: np.ndarray
    groups: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.bounds[-1])


def select_rows(rows: list[dict[str, Any]], config: DataConfig) -> list[dict[str, Any]]:
    """Manifest rows of the configured datasets and split, in a fixed (sorted by path) order."""
    out = [r for r in rows if (not config.datasets or r.get("dataset") in config.datasets)
           and (not config.split or r.get("split", "train") == config.split)]
    out.sort(key=lambda r: r["path"])
    return out[:config.max_clips] if config.max_clips else out


def make_item(name: str, motion: Any, segmenter: Callable[[Any], np.ndarray], fps: float) -> ClipItem:
    """A :class:`ClipItem` of ``motion``; ``segmenter(motion) -> (S+1,)`` bounds in model frames."""
    return ClipItem(name, frame_arrays(motion, fps), segmenter(motion))


#: largest share of the selected clips a run may skip as unreadable or corrupt: more (or all of them)
#: refuses the run before training, as the model would learn from much less than the data asked for.
#: One bad clip is always skipped (with fewer than ten clips it is more than the share), unless it is
#: the only one
MAX_SKIPPED_SHARE = 0.10


def _warn(message: str) -> None:
    print(f"a4mer: warning: {message}", file=sys.stderr, flush=True)


def clip_items(path: Path, name: str, config: DataConfig, segmenter: Callable[[Any], np.ndarray],
               rng: np.random.Generator) -> list[ClipItem]:
    """The items of one prepared clip ``path`` (AMASS npz): original, mirrored and speed variants
    (``config``), named ``name`` + a ``~`` suffix. :class:`A4merError` (naming the file) when the clip
    cannot be read, holds NaN/implausible values, or gives non-finite features."""
    from ..io import read_amass_npz

    motion = read_amass_npz(path)
    variants = [("", motion)]
    if config.mirror:
        variants.append(("~m", mirror(motion)))
    for v in range(config.speed_variants):
        s = float(rng.uniform(*config.speed_range))
        mv = change_speed(mirror(motion) if rng.random() < 0.5 else motion, s)
        variants.append((f"~s{v}", mv))
    items = [make_item(name + suffix, m, segmenter, config.fps) for suffix, m in variants if m.num_frames >= 2]
    for it in items:
        if not all(np.isfinite(a).all() for a in it.arrays.values()):
            raise A4merError(f"{path}: non-finite pose features (corrupt values)")
    return items


def check_skipped(root: Path, skipped: list[str], total: int) -> None:
    """Refuse the run (:class:`A4merError`) when every one of the ``total`` selected clips, or more
    than one and more than :data:`MAX_SKIPPED_SHARE` of them, failed to load; ``skipped``: one problem
    per failed clip."""
    if not skipped:
        return
    if len(skipped) == total:
        raise A4merError(f"{root}: none of the {total} selected clips could be read (first: {skipped[0]})")
    if len(skipped) > max(1.0, MAX_SKIPPED_SHARE * total):
        raise A4merError(f"{root}: {len(skipped)} of {total} selected clips could not be read "
                         f"({100 * len(skipped) / total:.0f} %, more than the {100 * MAX_SKIPPED_SHARE:.0f} % a run "
                         f"may skip; first: {skipped[0]}); fix them or drop their lines from manifest.jsonl")


def build_items(root: str | Path, config: DataConfig, segmenter: Callable[[Any], np.ndarray],
                rng: np.random.Generator, progress: Callable[[int, int], None] | None = None,
                warn: Callable[[str], None] | None = _warn) -> list[ClipItem]:
    """Load the selected clips of a prepared dataset and make their augmented variants.

    A clip that cannot be used (truncated or unreadable npz, NaN values, missing file) is skipped with
    one ``warn`` line naming the file and the problem, as if the manifest did not list it (it draws
    nothing from ``rng``); a last ``warn`` line counts them. Every clip failing, or more than one and
    more than :data:`MAX_SKIPPED_SHARE` of them, is an :class:`A4merError` (raised after loading, before
    any training). ``warn=None``: no lines."""
    root = Path(root)
    manifest = manifest_rows(root)
    rows = select_rows(manifest, config)
    if not rows:
        have = sorted({str(r.get("dataset")) for r in manifest})
        splits = sorted({str(r.get("split", "train")) for r in select_rows(manifest, replace(config, split=None))})
        hint = ("--set data.datasets=[] takes every data set" if not splits else
                f"those data sets hold the splits {splits}: --set data.split=... chooses one")
        raise A4merError(f"{root}: no clips for datasets {list(config.datasets)} split {config.split!r} (the "
                         f"manifest holds {have}; {hint})")
    warn = warn or (lambda message: None)
    items: list[ClipItem] = []
    skipped: list[str] = []
    for k, row in enumerate(rows):
        path, state = root / row["path"], rng.bit_generator.state
        try:
            items += clip_items(path, row["path"], config, segmenter, rng)
        except (A4merError, OSError, ValueError) as e:
            rng.bit_generator.state = state  # a skipped clip draws nothing: as if the manifest did not list it
            skipped.append(str(e) if str(path) in str(e) else f"{path}: {e}")
            warn(f"skipping clip {skipped[-1]}")
        if progress:
            progress(k + 1, len(rows))
    check_skipped(root, skipped, len(rows))
    if skipped:
        warn(f"skipped {len(skipped)} of {len(rows)} clips (named above); "
             f"training on the other {len(rows) - len(skipped)}")
    return items


class WindowSampler:
    """Random windows of whole segments (clips drawn in proportion to their length).

    Windows start at a random segment (a random motif start when the items have ``groups``) and take
    the following segments while they fit in ``window_frames`` and ``max_segments``. Masks are
    drawn here from the same generator.
    """

    def __init__(self, items: list[ClipItem], config: DataConfig, rng: np.random.Generator):
        if not items:
            raise A4merError("no training clips")
        self.items, self.config, self.rng = items, config, rng
        w = np.array([max(1, it.num_frames) for it in items], dtype=np.float64)
        self.p = w / w.sum()

    def _window(self, item: ClipItem) -> tuple[int, int]:
        bounds, S = item.bounds, len(item.bounds) - 1
        W, Smax = self.config.window_frames, self.config.max_segments
        if item.groups is None:
            starts = np.arange(S)
        else:
            starts = np.nonzero(np.r_[True, item.groups[1:] != item.groups[:-1]])[0]
        i = int(starts[self.rng.integers(len(starts))])
        j = i + 1
        while j < S and j + 1 - i <= Smax and bounds[j + 1] - bounds[i] <= W:
            j += 1
        if item.groups is not None and j < S:  # end at a motif boundary when one fits
            ok = [k for k in range(i + 1, j + 1) if item.groups[k] != item.groups[k - 1]]
            j = ok[-1] if ok else j
        return i, j

    def _fits(self, item: ClipItem, i: int, j: int) -> bool:
        return item.bounds[j] - item.bounds[i] <= self.config.window_frames

    def next_batch(self, batch_size: int) -> Batch:
        """A :class:`Batch` of ``batch_size`` windows with masks (motif-level when ``groups``)."""
        idx = self.rng.choice(len(self.items), size=batch_size, p=self.p)
        arrays, bounds, spans, masks, groups = [], [], [], [], []
        for k in idx:
            item = self.items[int(k)]
            i, j = self._window(item)
            b = item.bounds
            if not self._fits(item, i, j):  # one over-long segment: crop it to the window length
                b = b.copy()
                b[j] = b[i] + self.config.window_frames
            arrays.append(item.arrays)
            bounds.append(b)
            spans.append((i, j))
            if item.groups is None:
                masks.append(draw_mask(j - i, self.config.mask, self.rng))
            else:
                g = item.groups[i:j]
                masks.append(draw_motif_mask(g, self.config.mask, self.rng))
                groups.append(g)
        return collate(arrays, bounds, spans, self.config.fps, masks, groups if groups else None)

