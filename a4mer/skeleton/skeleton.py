"""The :class:`Skeleton` dataclass: joint names, parents and rest offsets of a kinematic tree."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import smpl


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A kinematic tree.

    name: family id (``"smpl"``, ``"smplh"``, ``"smplx"`` or a source name such as ``"bvh"``).
    names: (J,) joint names. parents: (J,) parent index, -1 for the root (parents precede children).
    offsets: (J, 3) metres, rest offset of each joint from its parent in the parent's rest frame;
    the root's entry is its absolute rest position.
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        off = np.array(self.offsets, dtype=np.float64)
        if off.shape != (len(self.names), 3) or len(self.parents) != len(self.names):
            raise ValueError(f"skeleton {self.name!r}: names {len(self.names)}, parents "
                             f"{len(self.parents)}, offsets {off.shape} disagree")
        for j, p in enumerate(self.parents):
            if not (-1 <= p < j) or (p == -1) != (j == 0):
                raise ValueError(f"skeleton {self.name!r}: parent of joint {j} is {p}; "
                                 "the root must be joint 0 and parents must precede children")
        off.setflags(write=False)
        object.__setattr__(self, "offsets", off)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of joint ``name`` (exact match); raises KeyError naming the skeleton."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"joint {name!r} is not in skeleton {self.name!r}") from None

    def children(self, j: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == j]

    def mirror_index(self) -> np.ndarray:
        """(J,) index of each joint's mirror partner (``left_*`` <-> ``right_*``; others map to themselves)."""
        index = {n: i for i, n in enumerate(self.names)}
        perm = np.arange(self.num_joints)
        for i, n in enumerate(self.names):
            for a, b in (("left_", "right_"), ("right_", "left_")):
                if n.startswith(a) and n.replace(a, b, 1) in index:
                    perm[i] = index[n.replace(a, b, 1)]
        return perm

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Skeleton) and self.name == other.name and self.names == other.names
                and self.parents == other.parents and np.array_equal(self.offsets, other.offsets))

    def __hash__(self) -> int:
        return hash((self.name, self.names, self.parents))

    def rest_positions(self) -> np.ndarray:
        """(J, 3) metres: joint positions of the rest pose (identity rotations) in the skeleton's frame."""
        pos = np.zeros((self.num_joints, 3))
        for j, p in enumerate(self.parents):
            pos[j] = self.offsets[j] if p < 0 else pos[p] + self.offsets[j]
        return pos


SMPL = Skeleton("smpl", smpl.SMPL_NAMES, smpl.SMPL_PARENTS, smpl.SMPL_OFFSETS)
SMPLH = Skeleton("smplh", smpl.SMPLH_NAMES, smpl.SMPLH_PARENTS, smpl.SMPLH_OFFSETS)
SMPLX = Skeleton("smplx", smpl.SMPLX_NAMES, smpl.SMPLX_PARENTS, smpl.SMPLX_OFFSETS)
SMPL_FAMILY = {"smpl": SMPL, "smplh": SMPLH, "smplx": SMPLX}


def smpl_family(name: str) -> Skeleton:
    """The SMPL-family skeleton ``"smpl"`` (24), ``"smplh"`` (52) or ``"smplx"`` (55)."""
    try:
        return SMPL_FAMILY[name]
    except KeyError:
        raise ValueError(f"unknown SMPL family {name!r}; expected one of {sorted(SMPL_FAMILY)}") from None
