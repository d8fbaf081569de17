"""Keeping generated frames on the floor the input stands on (numpy only).

Floating: the extension's base coasts the root along its last velocity and the learned correction
knows no floor, so over seconds a continuation can float: a jog's feet 10-25 cm above the floor
from the second second on. Where the input's feet touch the floor regularly, each new frame's root
is lowered so that within ``FLOOR_WINDOW_S`` of it the lowest foot comes down to the floor (a jump
shorter than that window keeps its flight), never below it; the shift is smoothed and fades in
over ``FLOOR_RAMP_S`` from the last input frame (before that the continuation is left as it is:
over the first second the lowering cost accuracy on HDM05) (:func:`floor_shift`).

Sinking: a long gap's curve, a blocking span or an extension can also go through the floor (a
bend down to the floor kept going down: 20-40 cm below it on real HDM05 takes). Every generated
span is lifted where a body joint goes more than ``FLOOR_LIFT_TOLERANCE`` below the lowest joint of
the known frames around it, when those rest on a floor and at least two body parts go that low
(one limb alone is that limb's pose, not a sinking body) (:func:`floor_lift`). The tolerance leaves
real motion that goes a little lower than its context (kneeling, lying down) alone; a 2-3 cm
tolerance cost HDM05 2 s gaps 3 % of accuracy, 5 cm 1.7 % (the HDM05 lie-downs themselves go up
to 17 cm below their standing floor on the SMPL skeleton).
"""
from __future__ import annotations

import numpy as np

from ..bench.metrics import FOOT_JOINTS, body_fk
from .baselines import smoothstep

FLOOR_WINDOW_S = 0.5  # a grounded character's lowest foot reaches the floor within +- this of any frame
FLOOR_RAMP_S = 1.5    # the lowering fades in over this from the seam
FLOOR_TOLERANCE = 0.02  # metres above the floor that still count as touching it
GROUNDED_SHARE = 0.25  # the input is grounded when its lowest foot is near the floor this often
FLOOR_LIFT_TOLERANCE = 0.05  # metres generated joints may go below the lowest joint of their context
FLOOR_LIFT_SPREAD_S = 0.1  # a lift covers each dip this long on each side
FLOOR_CONTEXT_S = 1.0  # seconds of known frames on each side of a gap that show its floor


def lowest_foot(trans: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Height ``(T,)`` m of the lowest foot joint (ankles, toes) of each frame of ``trans (T, 3)``,
    ``rot (T, J, 4)``."""
    return body_fk(rot, trans)[0][:, list(FOOT_JOINTS), 2].min(-1)


def floor_shift(ctx_t: np.ndarray, ctx_q: np.ndarray, new_t: np.ndarray, new_q: np.ndarray, fps: float
                ) -> np.ndarray:
    """Vertical root shift ``(n,)`` m (zero or negative) for the generated frames ``new_t (n, 3)``,
    ``new_q (n, J, 4)`` after the input's last frames ``ctx_t (c, 3)``, ``ctx_q (c, J, 4)`` at ``fps``;
    zeros when the input's feet do not stand on a floor (a flight, lying down, no contacts)."""
    n = len(new_t)
    ctx_low = lowest_foot(ctx_t, ctx_q)
    floor = float(np.percentile(ctx_low, 5))
    if n == 0 or np.mean(ctx_low < floor + 0.05) < GROUNDED_SHARE:
        return np.zeros(n)
    low = lowest_foot(new_t, new_q) - floor
    w = max(1, int(round(FLOOR_WINDOW_S * fps)))
    pad = np.concatenate([np.full(w, np.inf), low, np.full(w, np.inf)])
    reach = np.lib.stride_tricks.sliding_window_view(pad, 2 * w + 1).min(-1)  # lowest foot within +-w
    shift = np.where(reach > FLOOR_TOLERANCE, FLOOR_TOLERANCE - reach, 0.0)  # down to the floor ...
    shift = np.maximum(shift, np.minimum(0.0, -low))  # ... never below it
    k = max(1, int(round(0.1 * fps)))  # smoothed over +-0.1 s
    ker = np.exp(-0.5 * (np.arange(-2 * k, 2 * k + 1) / k) ** 2)
    shift = np.convolve(np.pad(shift, 2 * k, mode="edge"), ker / ker.sum(), mode="valid")
    ramp = np.arange(1, n + 1) / max(1.0, FLOOR_RAMP_S * fps)
    return shift * smoothstep(ramp)


#: SMPL body joints (0-21) by body part: left leg, right leg, trunk and head, left arm, right arm
BODY_PARTS = ((1, 4, 7, 10), (2, 5, 8, 11), (0, 3, 6, 9, 12, 15), (13, 16, 18, 20), (14, 17, 19, 21))


def joint_heights(trans: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Heights ``(T, 22)`` m of the SMPL body joints of each frame of ``trans (T, 3)``, ``rot (T, J, 4)``."""
    return body_fk(rot, trans)[0][..., 2]


def floor_lift(ctx_h: np.ndarray, gen_h: np.ndarray, fps: float, end_key: bool = True,
               tolerance: float = FLOOR_LIFT_TOLERANCE) -> np.ndarray:
    """Upward root shift ``(n,)`` m (zero or positive) that keeps generated frames at ``fps`` from
    going through the floor their context rests on; ``ctx_h (c, 22)``, ``gen_h (n, 22)``: body joint
    heights (:func:`joint_heights`) of the context (a gap: the known frames around it; an extension:
    the last input frames) and of the generated frames.

    The floor is the lowest joint of the context; zeros when the context does not rest on it (its
    lowest joint is near that height in under ``GROUNDED_SHARE`` of its frames: a flight). The body
    is lifted where a joint goes more than ``tolerance`` below the floor, but only when at least two
    body parts (``BODY_PARTS``) do somewhere in the span: the body sank. One part alone through the
    floor (a kick's foot) is that limb's pose, and lifting the body for it floated the rest (a CMU
    martial arts kick: 52 -> 88 mm). The shift covers each dip with ``FLOOR_LIFT_SPREAD_S`` on each
    side, is smooth, and fades out within 0.1 s of the frames the generated ones meet: the key
    before them and, when ``end_key`` (a gap), the key after them."""
    n = len(gen_h)
    if n == 0:
        return np.zeros(0)
    ctx_low = ctx_h.min(-1)
    floor = float(ctx_low.min())
    if np.mean(ctx_low < floor + 0.05) < GROUNDED_SHARE:
        return np.zeros(n)
    below = floor - tolerance
    if sum(gen_h[:, list(part)].min() < below for part in BODY_PARTS) < 2:
        return np.zeros(n)
    deficit = np.maximum(0.0, below - gen_h.min(-1))
    w = max(1, int(round(FLOOR_LIFT_SPREAD_S * fps)))
    pad = np.pad(deficit, w)
    cover = np.lib.stride_tricks.sliding_window_view(pad, 2 * w + 1).max(-1)  # (n,)
    k = max(1, w // 2)
    ker = np.exp(-0.5 * (np.arange(-2 * k, 2 * k + 1) / k) ** 2)
    lift = np.convolve(np.pad(cover, 2 * k, mode="edge"), ker / ker.sum(), mode="valid")
    i = np.arange(1, n + 1, dtype=float)
    r = max(1.0, min(0.1 * fps, (n + 1) / 4.0))
    return lift * smoothstep(i / r) * (smoothstep((n + 1 - i) / r) if end_key else 1.0)
