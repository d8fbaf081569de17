"""Uniform interface of everything the heads benchmark compares (numpy baselines and learned heads).

A method works on :class:`Motion` clips and returns whole clips:
``fill_gap(motion, s, e)`` (frames strictly between keys s and e generated), ``fill_keys(motion, keys)``
(every gap between sorted keys generated from the keys alone), ``extend(motion, n)`` (n frames
appended). A method may leave out a task by not listing it in ``tasks``.

Baselines: ``hermite`` (tangents = one-sided velocities from the neighbouring frames, as the issue
defines it), ``hermite2`` (the same with second-order one-sided velocities from two frames on each
side), ``hermite2_global`` (``hermite2`` with the body rotations half-way to the same curve through
the joints' global orientations: the heads' classical curve for 31-40 missing frames where a gap MLP
fades out), ``min_jerk`` (the least squared jerk plus a little squared acceleration through the keys
and the three frames on each side of the gap, rotations blended like ``hermite2_global``: the heads'
classical curve for gaps of up to 30 missing frames at up to 45 fps), ``bezier_auto`` (every kept frame is a key and tangents come from the neighbouring keys,
Catmull-Rom style: close to Blender's auto handles when the context is keyed on every frame),
``lerp_slerp``, ``zero_velocity``; blocking only: ``natural_spline`` (the natural cubic spline through
the keys: what the heads give for keys under 0.23 s apart); extension: ``zero_velocity``,
``constant_velocity``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..heads import baselines as BL
from ..motion import Motion


@dataclass(frozen=True)
class BaselineMethod:
    """A classical baseline. ``gap``: one of baselines.GAP_METHODS or None; ``ext``: one of
    baselines.EXTEND_METHODS or None; ``spline_keys``: blocking only, by the natural cubic spline
    through the keys."""

    name: str
    gap: str | None = None
    ext: str | None = None
    spline_keys: bool = False

    @property
    def tasks(self) -> tuple[str, ...]:
        if self.spline_keys:
            return ("blocking",)
        if self.gap in ("bezier_auto", "hermite2", "hermite2_global", "min_jerk"):  # same as "hermite" when only keys exist (blocking)
            return ("inbetween",)
        return (("inbetween", "blocking") if self.gap else ()) + (("extend",) if self.ext else ())

    def fill_gap(self, motion: Motion, s: int, e: int) -> Motion:
        if self.gap == "bezier_auto":
            keys = np.setdiff1d(np.arange(motion.num_frames), np.arange(s + 1, e))
            tr, q = BL.catmull_rom_keys(motion.root_translation, motion.rotations, keys, "hermite")
            return motion.with_(root_translation=tr, rotations=q)
        tr, q = BL.fill_gap(motion.root_translation, motion.rotations, s, e, self.gap, motion.fps)
        return motion.with_(root_translation=tr, rotations=q)

    def fill_keys(self, motion: Motion, keys: np.ndarray) -> Motion:
        if self.spline_keys:
            tr, q = BL.natural_spline_keys(motion.root_translation, motion.rotations, keys)
        else:
            tr, q = BL.catmull_rom_keys(motion.root_translation, motion.rotations, keys, self.gap)
        return motion.with_(root_translation=tr, rotations=q)

    def extend(self, motion: Motion, n: int) -> Motion:
        tr, q = BL.extend(motion.root_translation, motion.rotations, n, self.ext)
        return motion.with_(root_translation=np.concatenate([motion.root_translation, tr]),
                            rotations=np.concatenate([motion.rotations, q]))


def baseline_methods() -> list[BaselineMethod]:
    """The baselines of the heads benchmark, in report order."""
    return [BaselineMethod("hermite", gap="hermite"), BaselineMethod("hermite2", gap="hermite2"),
            BaselineMethod("hermite2_global", gap="hermite2_global"), BaselineMethod("min_jerk", gap="min_jerk"),
            BaselineMethod("bezier_auto", gap="bezier_auto"),
            BaselineMethod("natural_spline", spline_keys=True), BaselineMethod("lerp_slerp", gap="lerp_slerp"),
            BaselineMethod("zero_velocity", gap="zero_velocity", ext="zero_velocity"),
            BaselineMethod("constant_velocity", ext="constant_velocity"),
            BaselineMethod("damped_velocity", ext="damped_velocity")]
