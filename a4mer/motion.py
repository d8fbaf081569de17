"""The :class:`Motion` dataclass: an animated skeleton in the Z-up, metres world."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from .conventions import positive_number, snap_fps, whole_frames
from .errors import A4merError, BadValue
from .geometry import (forward_kinematics, known_coords, lerp_at, quat_normalize, quat_unflip, resample_count,
                       resample_times, slerp_at)
from .skeleton import SMPL, Skeleton

#: The most frames a resample may make (46 hours at 30 fps): beyond it a rate is surely wrong.
MAX_RESAMPLED_FRAMES = 5_000_000


@dataclass(frozen=True, eq=False)
class Motion:
    """A clip of skeletal animation.

    fps: frames per second of the samples.
    root_translation: (T, 3) metres, world position of joint 0 (the pelvis for SMPL) in the Z-up world.
    rotations: (T, J, 4) wxyz local joint rotations relative to the parent (joint 0: global
      orientation, mapping the skeleton's rest frame into the Z-up world).
    skeleton: the kinematic tree the rotations belong to (SMPL by default).
    meta: source metadata (``source``, ``source_format``, ``source_fps``, ``source_up``, errors ...);
      JSON-serialisable values only.
    Arrays are copied and made read-only, so the motion's frames never change after construction;
    ``meta`` is the Motion's own (shallow) copy of the dict given: change it with ``with_(meta=...)``.
    """

    fps: float
    root_translation: np.ndarray
    rotations: np.ndarray
    skeleton: Skeleton = SMPL
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fps = positive_number(self.fps)
        if not isinstance(self.meta, dict):
            raise A4merError(f"meta must be a dict, got {type(self.meta).__name__}")
        if not isinstance(self.skeleton, Skeleton):
            raise A4merError(f"skeleton must be a Skeleton (e.g. a4mer.skeleton.SMPL), got {type(self.skeleton).__name__}")
        trans = np.array(self.root_translation, dtype=np.float64)
        rot = np.array(self.rotations, dtype=np.float64)
        J = self.skeleton.num_joints
        if trans.ndim != 2 or trans.shape[1] != 3:
            raise A4merError(f"root_translation must be (T, 3), got {trans.shape}")
        if rot.ndim != 3 or rot.shape[1:] != (J, 4):
            raise A4merError(f"rotations must be (T, J={J}, 4), got {rot.shape}")
        if len(rot) != len(trans):  # one frame short was blamed on the rotations whichever it was
            raise A4merError(f"root_translation has {len(trans)} frames and rotations {len(rot)}: one row each "
                             "per frame")
        if len(trans) == 0:
            raise A4merError("motion has zero frames")
        if not (np.all(np.isfinite(trans)) and np.all(np.isfinite(rot))):
            bad = np.where(~(np.isfinite(trans).all(1) & np.isfinite(rot).reshape(len(rot), -1).all(1)))[0]
            raise A4merError(f"motion contains NaN/inf values (first bad frame {int(bad[0])})")
        # rows already unit length (to float rounding) are kept bit for bit, so a Motion rebuilt from
        # another Motion's arrays (slices, edits, generated frames appended) leaves its frames unchanged
        with np.errstate(over="ignore"):
            norms = np.linalg.norm(rot, axis=-1, keepdims=True)
        if not np.isfinite(norms).all():  # components near the float limit: the length overflows
            raise A4merError(f"rotations hold quaternions too long to normalise (components up to "
                             f"{np.abs(rot).max():.3g}): not unit quaternions")
        if (norms < 1e-6).any():
            f, j = (int(i[0]) for i in np.where(norms[..., 0] < 1e-6))
            raise A4merError(f"rotations hold a zero quaternion (frame {f}, joint {j} "
                             f"{self.skeleton.names[j]!r}): not a rotation")
        off = np.abs(norms - 1.0) > 1e-12
        if off.any():
            rot = np.where(off, quat_normalize(rot), rot)
        trans.setflags(write=False)
        rot.setflags(write=False)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "root_translation", trans)
        object.__setattr__(self, "rotations", rot)
        object.__setattr__(self, "meta", dict(self.meta))

    # --- basic properties ---------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return len(self.root_translation)

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def duration(self) -> float:
        """Seconds covered by the clip: ``num_frames / fps``."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    # --- kinematics ---------------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        """(T, J, 3) metres: world joint positions by forward kinematics on ``skeleton``."""
        return forward_kinematics(self.rotations, self.root_translation, self.skeleton.offsets,
                                  self.skeleton.parents)[0]

    def global_rotations(self) -> np.ndarray:
        """(T, J, 4) wxyz: world orientation of every joint."""
        return forward_kinematics(self.rotations, self.root_translation, self.skeleton.offsets,
                                  self.skeleton.parents)[1]

    # --- editing (each returns a new Motion) --------------------------------------------------
    def with_(self, **changes: Any) -> "Motion":
        """A copy with fields replaced (``meta`` is merged, not replaced)."""
        names = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise A4merError(f"Motion has no field {unknown[0]!r} (fields: {', '.join(names)})")
        if "meta" in changes:
            if not isinstance(changes["meta"], dict):
                raise A4merError(f"meta must be a dict, got {type(changes['meta']).__name__}")
            changes["meta"] = {**self.meta, **changes["meta"]}
        return replace(self, **changes)

    def slice(self, start: int, stop: int | None = None) -> "Motion":
        """Frames ``[start, stop)`` (Python slice semantics; must leave at least one frame)."""
        sl = slice(None if start is None else whole_frames(start, "start"),
                   None if stop is None else whole_frames(stop, "stop"))
        idx = range(self.num_frames)[sl]
        if len(idx) == 0:
            raise A4merError(f"slice [{start}:{stop}] of a {self.num_frames}-frame clip is empty")
        out = replace(self, root_translation=self.root_translation[sl], rotations=self.rotations[sl])
        if idx.start:  # frame 0 moves into the file: keep where it lies there
            out.meta["source_start_s"] = self.source_start_s + idx.start / self.fps
        return out

    @property
    def source_start_s(self) -> float:
        """Seconds of the source file before this clip's frame 0: a dropped rest-pose lead-in
        (``meta["reference_frames_dropped"]`` source frames) and the start of any :meth:`slice`."""
        if "source_start_s" in self.meta:
            return float(self.meta["source_start_s"])
        return self.meta.get("reference_frames_dropped", 0) / float(self.meta.get("source_fps", self.fps))

    def resample(self, fps: float) -> "Motion":
        """The same motion at ``fps`` frames per second, by time (lerp root, slerp rotations).

        The last frame lies at or before the source's last frame time, so the duration is at most one
        source frame shorter (see :func:`a4mer.geometry.resample_times`). Rates within 0.05 % of a standard
        rate are snapped first; a resample to the clip's own (snapped) rate returns it unchanged, as does
        one to a rate within :data:`SAME_RATE` of it (labelled ``fps``).
        """
        fps = snap_fps(fps, least=None)
        src = snap_fps(self.fps, least=None)
        if fps == src:
            return self if src == self.fps else replace(self, fps=src)
        if same_rate(src, fps):
            return replace(self, fps=fps)
        resampled_frame_count(self.num_frames, src, fps)  # refuses a resample too large to hold
        coords = resample_times(self.num_frames, src, fps)
        rot = quat_unflip(self.rotations)
        return replace(self, fps=fps, root_translation=lerp_at(self.root_translation, coords),
                       rotations=slerp_at(rot, coords), meta={**self.meta, "source_fps": self.meta.get("source_fps", src)})

    def between_known(self, known: np.ndarray) -> "Motion":
        """The motion with each frame where ``known (T,)`` is False (at least one True) replaced by the
        interpolation of the known frames around it (root lerp, rotations slerp; before the first / after
        the last known frame: held)."""
        known = np.asarray(known, dtype=bool)
        if known.shape != (self.num_frames,) or not known.any():
            raise BadValue(f"known frames: expected a ({self.num_frames},) mask with a True, got {known.shape}")
        idx, t, at = np.flatnonzero(known), np.flatnonzero(~known), known_coords(known)
        trans, rot = self.root_translation.copy(), self.rotations.copy()
        trans[t], rot[t] = lerp_at(trans[idx], at), slerp_at(rot[idx], at)
        return replace(self, root_translation=trans, rotations=rot)

    def body(self) -> "Motion":
        """The motion on the 24-joint SMPL skeleton (SMPL-H/X: body joints kept, hands identity)."""
        if self.skeleton == SMPL:
            return self
        if self.skeleton.names[:22] != SMPL.names[:22]:
            raise A4merError(f"skeleton {self.skeleton.name!r} is not an SMPL-family skeleton")
        rot = np.zeros((self.num_frames, 24, 4))
        rot[..., 0] = 1.0
        rot[:, :22] = self.rotations[:, :22]
        return replace(self, rotations=rot, skeleton=SMPL)


#: rates this close (relative) are one rate: a rate kept in float32, as Blender keeps a scene's fps_base
#: (100/3 fps reads back as 33.333333012), would otherwise be resampled, losing the clip's last frame
SAME_RATE = 1e-6


def same_rate(a: float, b: float) -> bool:
    """True when the frame rates ``a`` and ``b`` (fps) are one rate, within :data:`SAME_RATE`."""
    return abs(a - b) <= SAME_RATE * max(a, b)


def resampled_frame_count(num_frames: int, src_fps: float, fps: float) -> int:
    """How many frames :meth:`Motion.resample` makes of ``num_frames`` frames at ``src_fps`` resampled to
    ``fps`` (both snapped to standard rates first), without building them: ``len`` of
    :func:`a4mer.geometry.resample_times` (``num_frames`` when the rates are equal).

    Raises :class:`BadValue` when that is more than :data:`MAX_RESAMPLED_FRAMES` (a wrong frame rate),
    so nothing on the way to the model allocates gigabytes for one bad header."""
    src, dst = snap_fps(src_fps, least=None), snap_fps(fps, least=None)
    if same_rate(src, dst):
        return int(num_frames)
    n = (num_frames - 1) * dst / src + 1
    if n > MAX_RESAMPLED_FRAMES:
        raise BadValue(f"resampling {num_frames} frames at {src:g} fps to {dst:g} fps would make "
                       f"{n:,.0f} frames (at most {MAX_RESAMPLED_FRAMES:,}): check the frame rates")
    return resample_count(num_frames, src, dst)


def concatenate(motions: list[Motion]) -> Motion:
    """Clips one after another (same skeleton and fps required); meta of the first clip."""
    if isinstance(motions, Motion):
        raise A4merError("concatenate takes a list of Motions, got one Motion")
    motions = list(motions)
    if not motions:
        raise A4merError("nothing to concatenate")
    if not all(isinstance(m, Motion) for m in motions):
        raise A4merError("concatenate takes Motions, got " + ", ".join(sorted({type(m).__name__ for m in motions})))
    first = motions[0]
    for m in motions[1:]:
        if m.skeleton != first.skeleton:
            raise A4merError("cannot concatenate clips on different skeletons")
        if not same_rate(m.fps, first.fps):
            raise A4merError(f"cannot concatenate clips at {first.fps} and {m.fps} fps: resample first")
    return replace(first, root_translation=np.concatenate([m.root_translation for m in motions]),
                   rotations=np.concatenate([m.rotations for m in motions]))
