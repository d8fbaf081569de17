"""Putting a clip on the floor z = 0: one constant vertical shift of the root (numpy only).

Retargeted clips stand where their source stands (:func:`a4mer.retarget.solve.ankle_lift`), so this is
for captures that stand off their own floor (the CMU Indian and martial-arts takes: 5-13 cm under
it) and npz clips from elsewhere. :func:`put_on_floor` moves the root by one constant, never per
frame: jumps keep their flight, nothing else changes.

The floor is estimated as the heads' floor for generated frames is (:mod:`a4mer.heads.ground`): a
low percentile of the lowest foot joint, here only over frames where a foot joint stands still
under an upright body, so jumps, a few noisy frames and lying or sitting on the floor do not count.
"""
from __future__ import annotations

import numpy as np

from .errors import A4merError
from .motion import Motion
from .skeleton import SMPL

#: SMPL ankles (7, 8) and balls of the feet ("foot", 10, 11)
FOOT_JOINTS = (7, 8, 10, 11)
#: m/s: a foot joint slower than this may be standing on the floor
STILL_SPEED = 0.3
#: m: the pelvis at least this far above the lowest foot joint (standing, walking, squatting; not
#: lying or sitting on the floor, where the feet rest lower than under a standing body: HDM05's
#: lie-downs put their floor 8.3 cm under the same actor's other clips without it, 0.1 cm with it)
UPRIGHT_HEIGHT = 0.4
#: percentile of the still foot's height taken as its contact level (the heads' floor takes the 5th
#: too; the 2nd to the 20th differ by under 1 cm on Bandai, HDM05 and the CMU salsa takes)
FLOOR_PERCENTILE = 5
#: m: the height of the lowest foot joint (the ball of the foot) over the floor its sole stands on.
#: Measured with :func:`contact_heights` on the source skeletons of real floors at z = 0: Bandai's
#: ``Toes`` joints 4.2 cm (all 174 dataset-1 clips within 0.1 cm), HDM05's ``toes`` 2.1 cm (96
#: clips, 1.0-3.0 cm by actor); Bandai and the CMU salsa takes retargeted onto SMPL (the retarget keeps
#: the source's floor) 2.3 cm. 3 cm is within 1.2 cm of each (``scripts/measure_floor.py``;
#: docs/benchmarks.md, "Putting clips on the floor").
SOLE_HEIGHT = 0.03
#: seconds of still, upright foot contact a clip needs to be put on the floor (the HDM05 hops,
#: 0.7 s clips, stand 0.1-0.2 s; the top of a straight jump is still for about 0.06 s)
MIN_CONTACT_S = 0.1


def contact_heights(positions: np.ndarray, fps: float, feet=FOOT_JOINTS, pelvis: int = 0) -> np.ndarray:
    """Heights ``(n,)`` m of the lowest still foot joint in each frame of ``positions (T, J, 3)`` (Z up,
    metres, at ``fps``) where some joint of ``feet`` moves slower than ``STILL_SPEED`` and joint
    ``pelvis`` is at least ``UPRIGHT_HEIGHT`` above the lowest of ``feet``; empty for fewer than 2 frames."""
    pos = np.asarray(positions, dtype=np.float64)
    if len(pos) < 2:
        return np.zeros(0)
    p = pos[:, list(feet)]  # (T, F, 3)
    still = np.linalg.norm(np.gradient(p, axis=0), axis=-1) * fps < STILL_SPEED  # (T, F)
    h = p[..., 2]  # (T, F)
    upright = pos[:, pelvis, 2] - h.min(-1) >= UPRIGHT_HEIGHT  # (T,)
    low = np.where(still, h, np.inf).min(-1)  # (T,)
    return low[upright & np.isfinite(low)]


def floor_height(motion: Motion) -> float:
    """Height (m, Z up) of the floor the feet of ``motion`` (an SMPL-family skeleton) stand on: the
    ``FLOOR_PERCENTILE`` of :func:`contact_heights` of its foot joints less ``SOLE_HEIGHT``.

    Raises :class:`A4merError` when the clip has under ``MIN_CONTACT_S`` of still, upright foot
    contact (all in the air, lying down, too short): there is no floor to put it on."""
    if motion.skeleton.names[:22] != SMPL.names[:22]:
        raise A4merError(f"finding the floor needs an SMPL-family skeleton, not {motion.skeleton.name!r}")
    h = contact_heights(motion.joint_positions(), motion.fps)
    if len(h) < max(2, round(MIN_CONTACT_S * motion.fps)):
        raise A4merError(f"no floor to put the clip on: a foot stands still under an upright body in "
                         f"{len(h)} of {motion.num_frames} frames ({len(h) / motion.fps:.2f} s; needs "
                         f"{MIN_CONTACT_S:g} s)")
    return float(np.percentile(h, FLOOR_PERCENTILE)) - SOLE_HEIGHT


def put_on_floor(motion: Motion) -> Motion:
    """``motion`` with its root moved vertically by one constant so its feet stand on z = 0
    (:func:`floor_height`); ``meta["floor_shift_m"]`` holds the shift from the source (m, + is up; the sum
    when it is put on the floor again). Rotations and the root's x/y are unchanged; the input is not
    modified. Raises like :func:`floor_height`."""
    shift = -floor_height(motion)
    trans = motion.root_translation.copy()  # (T, 3) m
    trans[:, 2] += shift
    return motion.with_(root_translation=trans, meta={"floor_shift_m": motion.meta.get("floor_shift_m", 0.0) + shift})


def describe_shift(shift: float) -> str:
    """``"raised 8.7 cm onto the floor"`` for a shift of +0.087 m (``"lowered ..."`` below 0; ``"on the floor
    already"`` under 0.05 cm, which would read as 0.0 cm)."""
    if abs(shift) < 0.0005:
        return "on the floor already"
    return f"{'raised' if shift >= 0 else 'lowered'} {abs(shift) * 100:.1f} cm onto the floor"
