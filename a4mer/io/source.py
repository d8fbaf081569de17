"""The :class:`SourceClip`: a parsed mocap file (BVH, ASF/AMC) before retargeting onto SMPL."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import A4merError
from ..geometry import known_coords, lerp_at, quat_angle, quat_apply, quat_conj, quat_mul, rows_read, slerp_at


@dataclass(frozen=True, eq=False)
class SourceClip:
    """A source skeleton's animation, already converted to the Z-up world.

    path: the file it came from. format: ``"bvh"`` or ``"asf/amc"``.
    fps: frame rate (the header's, snapped to a standard rate, or the caller's override).
    names: (J,) joint names as in the file; end sites are extra joints named ``<parent>_end``.
    parents: (J,) parent indices (-1 for the root; parents precede children).
    end_site: (J,) bool, True for end-site joints (no rotation of their own).
    positions: (T, J, 3) world joint positions, Z-up, in metres (file units x ``unit_scale``).
    orientations: (T, J, 4) wxyz world orientation of each joint's frame (Z-up world).
      End sites carry their parent's orientation.
    rest_positions: (J, 3) joint positions of the file's rest pose (zero rotations), Z-up, metres.
    rest_orientations: (J, 4) wxyz world orientations of the joints' frames in that rest pose (None:
      unknown; retargeting then calibrates twist on the clip alone).
    unit_scale: metres per file unit assumed for ``positions`` (a guess for BVH; exact for ASF).
    source_up: ``"y"`` or ``"z"``: the file's up axis before conversion.
    meta: anything else worth keeping (header fps, file units ...).
    """

    path: str
    format: str
    fps: float
    names: tuple[str, ...]
    parents: tuple[int, ...]
    end_site: np.ndarray
    positions: np.ndarray
    orientations: np.ndarray
    rest_positions: np.ndarray
    unit_scale: float
    source_up: str
    meta: dict[str, Any] = field(default_factory=dict)
    rest_orientations: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)


#: frame 0 is a reference frame when its median joint sits within REFERENCE_REST_DEG of the file's
#: rest pose and a joint jumps more than REFERENCE_JUMP of the skeleton's height to frame 1; the
#: lead-in then lasts up to the last of its first REFERENCE_LEAD_FRAMES frames whose step is more than
#: REFERENCE_SETTLE times the take's median step (over the REFERENCE_TAKE_FRAMES after them) plus
#: REFERENCE_FLOOR body heights
REFERENCE_REST_DEG, REFERENCE_JUMP = 0.5, 0.1
REFERENCE_LEAD_FRAMES, REFERENCE_TAKE_FRAMES, REFERENCE_SETTLE, REFERENCE_FLOOR = 12, 30, 3.0, 0.002
#: a clip with fewer take frames after its first REFERENCE_LEAD_FRAMES loses its rest frame alone
REFERENCE_MIN_TAKE = 5


def reference_lead_in(src: SourceClip) -> int:
    """How many leading frames of ``src`` are a reference lead-in rather than the take: 0, or the
    file's rest pose on frame 0 and the frames that ease from it into the take. CMU's "Daz-friendly"
    BVH conversion puts a T-pose frame and a 7-frame ease before every take (the root still, the
    limbs moving 0.2-1 body heights in the first frame, 0.1-0.2 in the next four, then settling).

    Frame 0 is a reference when its median joint is at its rest rotation (:data:`REFERENCE_REST_DEG`;
    CMU 0.0 deg, a real first frame: Bandai 48-55, HDM05 13-17, CMU's frame 1 1.5-2.4) and frame 1
    jumps away from it (:data:`REFERENCE_JUMP` body heights; a take that starts by holding the rest
    pose moves off it smoothly). The lead-in then ends after the last of the first
    :data:`REFERENCE_LEAD_FRAMES` frames that still moves faster than the take itself (see the
    constants). The 43 CMU dance takes: 8 frames (30 takes), 5-7 where the take is fast from its
    start (12), 10 (1); no Bandai or HDM05 clip has a lead-in."""
    if src.num_frames < 2:
        return 0
    joints = [j for j, p in enumerate(src.parents) if p >= 0 and not src.end_site[j]]
    if not joints:
        return 0
    q = src.orientations[0]
    local = quat_mul(quat_conj(q[[src.parents[j] for j in joints]]), q[joints])  # (J', 4) from the rest
    rest_deg = float(np.median(np.degrees(quat_angle(local, np.array([1.0, 0.0, 0.0, 0.0])))))
    height = _body_height(src)
    if height <= 0:  # every joint on one point in the rest pose and on frame 0: nothing to measure by
        return 0
    n = REFERENCE_LEAD_FRAMES + REFERENCE_TAKE_FRAMES
    steps = np.linalg.norm(np.diff(src.positions[:n + 1], axis=0), axis=-1).max(axis=1) / height  # (<= n,)
    if not (rest_deg < REFERENCE_REST_DEG and steps[0] > REFERENCE_JUMP):
        return 0
    take = steps[REFERENCE_LEAD_FRAMES:]
    if len(take) < REFERENCE_MIN_TAKE:  # too short to tell an ease from the take: only the rest frame goes
        return 1
    limit = REFERENCE_SETTLE * float(np.median(take)) + REFERENCE_FLOOR
    moving = np.flatnonzero(steps[:REFERENCE_LEAD_FRAMES] > limit)
    return min(int(moving.max()) + 1 if len(moving) else 1, src.num_frames - 1)


def _body_height(src: SourceClip) -> float:
    """The skeleton's size in metres: the largest extent of its rest pose, or of frame 0 where the rest
    pose has every joint on one point (a rig whose OFFSETs are all zero, its joints placed by position
    channels); 0 when both are a point."""
    height = float(np.ptp(src.rest_positions, axis=0).max())
    return height if height > 0 else float(np.ptp(src.positions[0], axis=0).max())


def reference_frames_note(path, n: int) -> str:
    """What a command says when it left out a file's first ``n`` frames (:func:`drop_leading_frames`)."""
    return (f"{path}: the file's first {n} frames (its rest pose and the ease into the take) are left out: frame 0 "
            f"here is the file's frame {n} (--keep-reference-frames keeps them)")


def drop_leading_frames(src: SourceClip, n: int) -> SourceClip:
    """``src`` from frame ``n`` on; ``meta["reference_frames_dropped"]`` records ``n``."""
    return replace(src, positions=src.positions[n:], orientations=src.orientations[n:],
                   meta={**src.meta, "reference_frames_dropped": int(n)})


def interpolate_frames(src: SourceClip, known: np.ndarray) -> SourceClip:
    """``src`` with every frame where ``known (T,)`` is False replaced by the interpolation of the known
    frames around it: joint rotations relative to their parents slerped, the root position and each
    joint's offset in its parent's frame interpolated linearly (before the first / after the last known
    frame: that frame held). What the file holds on those frames then changes nothing read from it (the
    retargeting's clip calibrations, the floor): frames that are generated anyway (a gap to fill)."""
    known = np.asarray(known, dtype=bool)
    if known.shape != (src.num_frames,):
        raise A4merError(f"{src.path}: known frames mask of shape {known.shape}, expected ({src.num_frames},)")
    if not known.any():
        raise A4merError(f"{src.path}: no known frame to read the clip from")
    if known.all():
        return src
    idx, t = np.flatnonzero(known), np.flatnonzero(~known)
    at = known_coords(known)
    rows = rows_read(at, len(idx))  # only the known frames around the others: the rest is never read
    local = np.full((len(idx),) + src.orientations.shape[1:], np.nan)  # (Tk, J, 4); NaN where never read
    offset = np.full((len(idx),) + src.positions.shape[1:], np.nan)    # (Tk, J, 3)
    local[rows], offset[rows] = _parent_frame(src, idx[rows])
    local_t, offset_t = slerp_at(local, at), lerp_at(offset, at)  # (N, J, 4), (N, J, 3) on the frames t
    par = src.parents
    q_out, p_out = src.orientations.copy(), src.positions.copy()
    for j in range(len(par)):  # parents precede children
        if par[j] < 0:
            q_out[t, j], p_out[t, j] = local_t[:, j], offset_t[:, j]
        else:
            q_out[t, j] = quat_mul(q_out[t, par[j]], local_t[:, j])
            p_out[t, j] = p_out[t, par[j]] + quat_apply(q_out[t, par[j]], offset_t[:, j])
    return replace(src, positions=p_out, orientations=q_out)


def _parent_frame(src: SourceClip, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """On the ``frames (N,)`` of ``src``: each joint's rotation ``(N, J, 4)`` relative to its parent and its
    offset ``(N, J, 3)`` in the parent's frame (metres; the root's: its world orientation and position)."""
    par = np.array(src.parents)
    child = np.flatnonzero(par >= 0)
    q, pos = src.orientations[frames], src.positions[frames]  # (N, J, 4), (N, J, 3)
    local, offset = q.copy(), pos.copy()
    local[:, child] = quat_mul(quat_conj(q[:, par[child]]), q[:, child])
    offset[:, child] = quat_apply(quat_conj(q[:, par[child]]), pos[:, child] - pos[:, par[child]])
    return local, offset
