"""Bone-name normalisation and SMPL rig matching (conventions.md §2)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .smpl import FINGERS, NUM_BODY_JOINTS, SMPLX_NAMES

#: rig prefixes: SMPL FBX (m_avg_/f_avg_), Mixamo without a namespace (mixamorig_, mixamorig2_)
_PREFIX = re.compile(r"^(?:mixamorig\d*_|m_avg_|f_avg_)", re.IGNORECASE)
_SPLIT = re.compile(r"[\s_.:\-]+|(?<=[a-z])(?=[A-Z])")
_SIDE = {"l": "left", "r": "right"}
# normalised aliases of SMPL-family joints in common rigs
_ALIASES = {"lefteye": "lefteyesmplhf", "righteye": "righteyesmplhf",
            "leftpalm": "lefthand", "rightpalm": "righthand", "root": "root"}


def normalize_bone_name(name: str) -> str:
    """Normalised key of a bone name: lower-case, no separators or rig prefixes, ``l/r`` -> ``left/right``.

    ``"L_Hip"``, ``"left_hip"``, ``"m_avg_L_Hip"``, ``"Left_hip"``, ``"LeftHip"`` and
    ``"mixamorig2:LeftHip"`` all give ``"lefthip"``; ``"Hand_L"`` gives ``"lefthand"``.
    """
    s = name.strip().rsplit(":", 1)[-1]  # a namespace ("mixamorig1:", "Character1:") is not the bone's
    s = _PREFIX.sub("", s)
    tokens = [t for t in _SPLIT.split(s) if t]
    tokens = [t.lower() for t in tokens]
    if len(tokens) > 1 and tokens[0] in _SIDE:
        tokens[0] = _SIDE[tokens[0]]
    if len(tokens) > 1 and tokens[-1] in _SIDE:
        tokens = [_SIDE[tokens[-1]]] + tokens[:-1]
    key = "".join(tokens)
    return _ALIASES.get(key, key)


_SMPL_KEYS = {normalize_bone_name(n): i for i, n in enumerate(SMPLX_NAMES)}


@dataclass(frozen=True)
class RigMatch:
    """Result of matching a rig's bone names against the SMPL family.

    bones: SMPL-X joint name -> the rig's bone name, for every joint found.
    missing_body: SMPL body joints (0-21) not found (empty = SMPL-like).
    family: ``"smpl"``, ``"smplh"`` or ``"smplx"`` judged from the extra joints present.
    """

    bones: dict[str, str]
    missing_body: tuple[str, ...]
    family: str
    root_bone: str | None

    @property
    def ok(self) -> bool:
        return not self.missing_body

    def describe_missing(self) -> str:
        return "missing SMPL body bones: " + ", ".join(self.missing_body)


def match_smpl_rig(bone_names: list[str] | tuple[str, ...]) -> RigMatch:
    """Match bone names to SMPL-family joints by normalised name (joints 0-21 decide).

    Unknown extra bones are ignored. ``family`` is ``smplx`` when a jaw/eye bone is present,
    ``smplh`` when any finger bone is present (a thumb alone too), else ``smpl``.
    """
    bones: dict[str, str] = {}
    root = None
    for b in bone_names:
        key = normalize_bone_name(b)
        if key in ("root", "avgroot"):
            root = b
            continue
        idx = _SMPL_KEYS.get(key)
        if idx is not None and SMPLX_NAMES[idx] not in bones:
            bones[SMPLX_NAMES[idx]] = b
    # SMPL's own hand joints (22/23) are called left_hand/right_hand
    for side in ("left", "right"):
        for b in bone_names:
            if normalize_bone_name(b) == f"{side}hand":
                bones.setdefault(f"{side}_hand", b)
    missing = tuple(n for n in SMPLX_NAMES[:NUM_BODY_JOINTS] if n not in bones)
    if "jaw" in bones or "left_eye_smplhf" in bones:
        family = "smplx"
    elif any(k.startswith(tuple(f"{side}_{f}" for side in ("left", "right") for f in FINGERS)) for k in bones):
        family = "smplh"
    else:
        family = "smpl"
    return RigMatch(bones=bones, missing_body=missing, family=family, root_bone=root)
