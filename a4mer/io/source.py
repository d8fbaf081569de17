"""The :class:`SourceClip`: a parsed mocap file (BVH, ASF/AMC) before retargeting onto SMPL."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)
