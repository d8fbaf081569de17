"""Motion augmentation: left/right mirroring and playback-speed change (numpy, no torch)."""
from __future__ import annotations

from typing import Any


def mirror(motion: Any) -> Any:
    """The motion reflected through the world plane x = 0, with left and right swapped.

    The SMPL template's x axis is the body's left, so the reflection M = diag(-1, 1, 1) acts the same
    in the template and the world: every local rotation R becomes M R M (wxyz: (w, x, -y, -z)) taken
    from the mirror-partner joint, and the root translation's x is negated. With the (near-)symmetric
    SMPL rest skeleton, joint positions are reflected and swapped.
    """
    perm = motion.skeleton.mirror_index()
    rot = motion.rotations[:, perm].copy()  # (T, J, 4)
    rot[..., 2:] *= -1.0
    trans = motion.root_translation.copy()
    trans[:, 0] *= -1.0
    return motion.with_(rotations=rot, root_translation=trans, meta={"augment_mirror": True})


def change_speed(motion: Any, speed: float) -> Any:
    """The motion played ``speed`` times faster (resampled by time, same frame rate)."""
    from ..conventions import positive_number
    speed = positive_number(speed, "speed", most=None)
    if abs(speed - 1.0) < 1e-9:
        return motion
    fps = motion.fps
    return motion.resample(fps / speed).with_(fps=fps, meta={"augment_speed": float(speed)})
