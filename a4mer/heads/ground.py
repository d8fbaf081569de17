"""Keeping an extension from floating off the floor the input stands on (numpy only).

The extension's base coasts the root along its last velocity and the learned correction knows no
floor, so over seconds a continuation can float: a jog's feet 10-25 cm above the floor from the
second second on. Where the input's feet touch the floor regularly, each new frame's root is
lowered so that within ``FLOOR_WINDOW_S`` of it the lowest foot comes down to the floor (a jump
shorter than that window keeps its flight), never below it; the shift is smoothed and fades in
over ``FLOOR_RAMP_S`` from the last input frame (before that the continuation is left as it is:
over the first second the lowering cost accuracy on HDM05). A continuation that sinks is left
alone: lifting the whole body also lifted motions that go down to the floor (a lie-down).

Sinking learned answers: where the learned answer of a gap of up to ``SINK_CHECK_MAX_S`` sinks the
body through the floor its context rests on (:func:`body_sink` over ``SINK_LIMIT``) and the classical
answer does not (by ``SINK_MARGIN``), the heads take the classical answer for that gap: the learned
correction was wrong there (at the bottom of an HDM05 squat it straightened the knees and put the
feet 20 cm under the floor). Longer gaps and blocking spans are not checked: there the classical
curve was further off than the sinking learned answer (7 of 10 switches worse, e.g. a 3.4 s Bandai
walk gap 245 -> 382 mm). Lifting the root instead was tried and dropped: a leg's pose is not fixed by
moving the body (squat bottoms were lifted above both keys, lying bodies off the floor).
"""
from __future__ import annotations

import numpy as np

from ..bench.metrics import FOOT_JOINTS, body_fk
from .baselines import smoothstep
from ..geometry import reproducible as rp

FLOOR_WINDOW_S = 0.5  # a grounded character's lowest foot reaches the floor within +- this of any frame
FLOOR_RAMP_S = 1.5    # the lowering fades in over this from the seam
FLOOR_TOLERANCE = 0.02  # metres above the floor that still count as touching it
GROUNDED_SHARE = 0.25  # the input is grounded when its lowest foot is near the floor this often
SINK_LIMIT = 0.08  # metres a learned answer's body may sink below its context's floor
SINK_MARGIN = 0.05  # metres less the classical answer must sink to be taken instead
SINK_CHECK_MAX_S = 1.0  # gaps up to this long are checked (beyond, the classical curve is far off too)
FLOOR_CONTEXT_S = 1.0  # seconds of known frames on each side of a span that show its floor
#: SMPL body joints (0-21) by body part: left leg, right leg, trunk and head, left arm, right arm
BODY_PARTS = ((1, 4, 7, 10), (2, 5, 8, 11), (0, 3, 6, 9, 12, 15), (13, 16, 18, 20), (14, 17, 19, 21))


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
    ker = rp.exp(-0.5 * (np.arange(-2 * k, 2 * k + 1) / k) ** 2)
    shift = np.convolve(np.pad(shift, 2 * k, mode="edge"), ker / ker.sum(), mode="valid")
    ramp = np.arange(1, n + 1) / max(1.0, FLOOR_RAMP_S * fps)
    return shift * smoothstep(ramp)


def joint_heights(trans: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Heights ``(T, 22)`` m of the SMPL body joints of each frame of ``trans (T, 3)``, ``rot (T, J, 4)``."""
    return body_fk(rot, trans)[0][..., 2]


def body_sink(ctx_h: np.ndarray, gen_h: np.ndarray) -> float:
    """How far (m) generated frames sink through the floor their context rests on: the depth of the
    second-deepest body part (``BODY_PARTS``; one limb alone through the floor is that limb's pose)
    of ``gen_h (n, 22)`` below the lowest joint of ``ctx_h (c, 22)`` (body joint heights,
    :func:`joint_heights`); 0 when the context does not rest on a floor (its lowest joint is near
    that height in under ``GROUNDED_SHARE`` of its frames: a flight) or nothing sinks."""
    low = ctx_h.min(-1)
    floor = float(low.min())
    if len(gen_h) == 0 or np.mean(low < floor + 0.05) < GROUNDED_SHARE:
        return 0.0
    depths = sorted(floor - float(gen_h[:, list(part)].min()) for part in BODY_PARTS)
    return max(0.0, depths[-2])
