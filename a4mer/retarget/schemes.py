"""Automatic maps from mocap skeletons onto SMPL-24 (conventions.md §3) and user bone maps.

A scheme maps SMPL joint names to the source joint that carries the same bone (the source joint
sits where the SMPL joint sits and rotates the same limb). ``None`` means the scheme has no such
joint (its rotation is folded into the neighbours). Names are compared after
:func:`a4mer.skeleton.normalize_bone_name`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import A4merError, SkeletonError
from ..io._mocap import read_user_text
from ..skeleton import normalize_bone_name
from ..skeleton.smpl import SMPL_NAMES


def _sided(left: dict[str, str | None], right_from_left) -> dict[str, str | None]:
    out = dict(left)
    for k, v in left.items():
        if k.startswith("left_"):
            out["right_" + k[5:]] = None if v is None else right_from_left(v)
    return out


def _lr_prefix(v: str) -> str:   # LeftArm -> RightArm, lShldr -> rShldr, lfemur -> rfemur
    if v.startswith("Left"):
        return "Right" + v[4:]
    if v.startswith("left"):
        return "right" + v[4:]
    if v[:1] == "l":
        return "r" + v[1:]
    raise ValueError(v)


def _lr_suffix(v: str) -> str:   # UpperLeg_L -> UpperLeg_R
    return v[:-2] + "_R"


def _limbs(hip, knee, ankle, foot, collar, shoulder, elbow, wrist, hand=None):
    return {"left_hip": hip, "left_knee": knee, "left_ankle": ankle, "left_foot": foot,
            "left_collar": collar, "left_shoulder": shoulder, "left_elbow": elbow,
            "left_wrist": wrist, "left_hand": hand}


def _scheme(pelvis, spine, neck, head, limbs, flip=_lr_prefix) -> dict[str, str | None]:
    m = {"pelvis": pelvis, "spine1": spine[0], "spine2": spine[1], "spine3": spine[2],
         "neck": neck, "head": head}
    m.update(_sided(limbs, flip))
    return m


#: scheme name -> SMPL joint name -> source joint name (or None)
SCHEMES: dict[str, dict[str, str | None]] = {
    "hdm05-asf": _scheme("root", ("lowerback", "upperback", "thorax"), "lowerneck", "head",
                         _limbs("lfemur", "ltibia", "lfoot", "ltoes", "lclavicle", "lhumerus",
                                "lradius", "lwrist", "lhand")),
    "bandai": _scheme("Hips", ("Spine", None, "Chest"), "Neck", "Head",
                      _limbs("UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L", "Shoulder_L",
                             "UpperArm_L", "LowerArm_L", "Hand_L"), flip=_lr_suffix),
    "cmu-3dsmax": _scheme("Hips", ("lowerback", "Chest", "Chest2"), "lowerneck", "Head",
                          _limbs("LeftHip", "LeftKnee", "LeftAnkle", "LeftToe", "LeftCollar",
                                 "LeftShoulder", "LeftElbow", "LeftWrist")),
    "cmu-motionbuilder": _scheme("Hips", ("LowerBack", "Spine", "Spine1"), "Neck", "Head",
                                 _limbs("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
                                        "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand")),
    "cmu-daz": _scheme("hip", ("abdomen", None, "chest"), "neck", "head",
                       _limbs("lThigh", "lShin", "lFoot", None, "lCollar", "lShldr", "lForeArm",
                              "lHand")),
    "mixamo": _scheme("Hips", ("Spine", "Spine1", "Spine2"), "Neck", "Head",
                      _limbs("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftShoulder",
                             "LeftArm", "LeftForeArm", "LeftHand")),
    "lafan": _scheme("Hips", ("Spine", "Spine1", "Spine2"), "Neck", "Head",
                     _limbs("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToe", "LeftShoulder",
                            "LeftArm", "LeftForeArm", "LeftHand")),
    "smpl": {n: n for n in SMPL_NAMES},
}
#: SMPL joints a source may lack (their motion is folded into neighbours or taken from end sites)
OPTIONAL = frozenset({"spine2", "left_foot", "right_foot", "left_hand", "right_hand"})


@dataclass(frozen=True)
class BoneMap:
    """Resolved map: SMPL joint name -> source joint name (exact, as in the file)."""

    scheme: str
    joints: dict[str, str]

    def missing(self) -> list[str]:
        return [n for n in SMPL_NAMES if n not in self.joints]


def _resolve(scheme: dict[str, str | None], source_names: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    by_key: dict[str, str] = {}
    for n in source_names:
        by_key.setdefault(normalize_bone_name(n), n)
    joints, missing = {}, []
    for smpl_name, src in scheme.items():
        if src is None:
            continue
        hit = by_key.get(normalize_bone_name(src))
        if hit is not None:
            joints[smpl_name] = hit
        elif smpl_name not in OPTIONAL:
            missing.append(f"{smpl_name} ({src})")
    return joints, missing


def shared_prefix(names: tuple[str, ...] | list[str]) -> str:
    """The rig prefix every name starts with, up to its last ``_ - . :`` (``"Character1_"`` of Maya
    HumanIK's ``Character1_Hips``, ``Character1_LeftUpLeg``, ...), else the one every name but one starts
    with (HumanIK's ``Reference`` root above ``Character1_Hips``); "" when there is none."""
    def common(group: list[str]) -> str:
        c = os.path.commonprefix(group)
        cut = max(c.rfind(ch) for ch in "_-.:") + 1
        return c[:cut] if 0 < cut and all(len(n) > cut for n in group) else ""
    ordered = sorted(names)
    found = common(ordered) if len(ordered) > 1 else ""
    if found or len(ordered) < 3:
        return found
    # names sharing a prefix sort together: the one name without it sorts first or last
    return common(ordered[1:]) or common(ordered[:-1])


def detect_scheme(source_names: tuple[str, ...] | list[str]) -> BoneMap:
    """Pick the scheme whose required joints are all present, preferring the most matched joints.

    Names are tried as they are and, where they share a rig prefix (:func:`shared_prefix`), without it.
    Raises :class:`SkeletonError` naming, for the scheme that matched the most joints, the bones that were
    missing (or, where no name matched, a few of the names).
    """
    names = tuple(n for n in source_names if not n.endswith("_end"))
    prefix = shared_prefix(names)
    readings = [{n: n for n in names}] + ([{n[len(prefix):] if n.startswith(prefix) else n: n for n in names}]
                                          if prefix else [])
    best: tuple[int, str, dict[str, str]] | None = None
    closest: tuple[int, str, list[str]] | None = None
    for original in readings:
        for name, scheme in SCHEMES.items():
            joints, missing = _resolve(scheme, tuple(original))
            if missing:
                if closest is None or (-len(joints), len(missing)) < (-closest[0], len(closest[2])):
                    closest = (len(joints), name, missing)  # the most joints matched
                continue
            if best is None or len(joints) > best[0]:
                best = (len(joints), name, {k: original[v] for k, v in joints.items()})
    if best is None:
        assert closest is not None
        if closest[0] == 0:
            shown = ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")
            raise SkeletonError(f"unknown skeleton: none of its {len(names)} joint names ({shown}) matches a known "
                                f"naming scheme ({', '.join(SCHEMES)}); pass a bone map (--bone-map JSON)")
        raise SkeletonError(f"unknown skeleton: closest known scheme {closest[1]!r} lacks "
                            + ", ".join(closest[2]) + "; pass a bone map (--bone-map JSON)")
    return BoneMap(best[1], best[2])


def load_bone_map(path: str | os.PathLike, source_names: tuple[str, ...] | list[str]) -> BoneMap:
    """Read a user bone map: JSON object ``{"pelvis": "MyHips", "left_hip": "MyThigh_L", ...}``
    (SMPL joint names as keys, smplx-style or official). Every required SMPL body joint must be
    mapped, and every joint named must exist in the source (a typo is an error, also on an optional joint
    such as a foot or hand: leave such a joint out of the map instead), each for one SMPL joint only.
    Whether its left and right are swapped is told from the motion, by the retargeting
    (:func:`a4mer.retarget.solve.check_sides`)."""
    path = Path(path)
    try:
        raw = json.loads(read_user_text(path))
    except (OSError, ValueError, RecursionError) as e:
        raise A4merError(f"{path}: cannot read bone map ({e})") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise A4merError(f"{path}: a bone map is a JSON object of SMPL joint name -> source joint name")
    smpl_keys = {normalize_bone_name(n): n for n in SMPL_NAMES}
    scheme: dict[str, str | None] = {}
    for k, v in raw.items():
        smpl = smpl_keys.get(normalize_bone_name(k))
        if smpl is None:
            raise A4merError(f"{path}: {k!r} is not an SMPL joint name (expected e.g. 'left_hip')")
        scheme[smpl] = v
    for n in SMPL_NAMES:
        scheme.setdefault(n, None)
    names = tuple(n for n in source_names if not n.endswith("_end"))
    joints, _ = _resolve(scheme, names)
    wrong = [f"{k} -> {v!r}" for k, v in scheme.items() if v is not None and k not in joints]  # optional ones too
    if wrong:
        raise SkeletonError(f"{path}: bone map names joints the clip does not have: " + ", ".join(wrong)
                            + f" (the clip's joints: {', '.join(names[:40])}{' ...' if len(names) > 40 else ''})")
    unmapped = [n for n in SMPL_NAMES[:22] if scheme[n] is None and n not in OPTIONAL]
    if unmapped:
        raise SkeletonError(f"{path}: bone map incomplete: " + ", ".join(f"{n} (not mapped)" for n in unmapped))
    _check_one_joint_each(path, joints)
    return BoneMap("user", joints)


def _check_one_joint_each(path: object, joints: dict[str, str]) -> None:
    """SkeletonError naming the first two SMPL joints that a bone map ``joints`` (SMPL joint -> source joint)
    gives the same source joint: each SMPL joint rotates a bone of its own (a clavicle mapped as both
    ``left_collar`` and ``left_shoulder`` turned the upper arm 12-15 degrees off, silently)."""
    seen: dict[str, str] = {}
    for smpl, src in joints.items():
        if src in seen:
            hint = (" (left_collar is the clavicle, left_shoulder the upper arm)"
                    if {seen[src], smpl} <= {"left_collar", "left_shoulder", "right_collar", "right_shoulder"} else "")
            raise SkeletonError(f"{path}: bone map gives {seen[src]} and {smpl} the same joint {src!r}: each SMPL "
                                f"joint needs a source joint of its own{hint}")
        seen[src] = smpl
