"""Write tiny synthetic BVHs, one per naming scheme of conventions.md §3, with their true SMPL positions.

    python scripts/make_scheme_fixtures.py [-o tests/fixtures/bvh_schemes]

A procedural walking-like SMPL motion (32 frames, 30 fps; sines on hips, knees, ankles, spine,
arms; the root walks along -Y of the Z-up world while turning a little) is written through
``a4mer.io.bvh_write.write_bvh`` with each scheme's joint names, helper bones, units and Euler order.
Beside each ``<scheme>.bvh`` a ``<scheme>.json`` holds the bone map (SMPL joint -> BVH joint) and the
true world positions (Z-up, metres, 4 decimals) of the mapped SMPL joints, for retargeting tests.
Deterministic: no random numbers.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from a4mer.geometry import axis_angle_to_quat, axis_quat, quat_mul
from a4mer.io.bvh_write import write_bvh
from a4mer.motion import Motion
from a4mer.skeleton import SMPL

FRAMES, FPS = 32, 30.0
BODY = list(SMPL.names[:22])
_SIDES = ("left", "right")


def procedural_motion(frames: int = FRAMES, fps: float = FPS, spine2: bool = True) -> Motion:
    """A plausible walking-like SMPL-24 motion (Z-up world, facing and moving along -Y).

    spine2: False keeps spine2 at identity (for schemes without that joint).
    """
    t = np.arange(frames) / fps
    ph = 2 * np.pi * 0.9 * t                                               # (T,) gait phase
    s, c = np.sin(ph), np.cos(ph)
    aa = np.zeros((frames, 24, 3))                                          # axis-angle, template frame
    n = {name: i for i, name in enumerate(SMPL.names)}
    aa[:, n["left_hip"]] = np.stack([-0.45 * s, 0.05 + 0 * s, 0.04 + 0 * s], -1)
    aa[:, n["right_hip"]] = np.stack([0.45 * s, -0.05 + 0 * s, -0.04 + 0 * s], -1)
    aa[:, n["left_knee"], 0] = 0.1 + 0.35 * (1 - c)
    aa[:, n["right_knee"], 0] = 0.1 + 0.35 * (1 + c)
    aa[:, n["left_ankle"]] = np.stack([0.2 * np.sin(ph + 1), 0.05 + 0 * s, 0 * s], -1)
    aa[:, n["right_ankle"]] = np.stack([-0.2 * np.sin(ph + 1), -0.05 + 0 * s, 0 * s], -1)
    aa[:, n["left_foot"], 0] = 0.15 * np.maximum(s, 0)
    aa[:, n["right_foot"], 0] = 0.15 * np.maximum(-s, 0)
    aa[:, n["spine1"]] = np.stack([0.06 + 0 * s, 0.10 * s, 0.02 * c], -1)
    if spine2:
        aa[:, n["spine2"]] = np.stack([0.05 * c, 0.05 * s, 0 * s], -1)
    aa[:, n["spine3"]] = np.stack([0.03 + 0 * s, -0.08 * s, 0.02 * s], -1)
    aa[:, n["neck"], 0] = 0.1 * np.sin(2 * ph)
    aa[:, n["head"]] = np.stack([-0.05 + 0 * s, 0.15 * np.sin(ph / 2), 0 * s], -1)
    aa[:, n["left_collar"], 2] = 0.08 * s
    aa[:, n["right_collar"], 2] = 0.08 * s
    aa[:, n["left_wrist"]] = np.stack([0.1 * s, 0 * s, -0.1 + 0 * s], -1)
    aa[:, n["right_wrist"]] = np.stack([-0.1 * s, 0 * s, 0.1 + 0 * s], -1)
    aa[:, n["left_hand"], 2] = -0.1
    aa[:, n["right_hand"], 2] = 0.1
    rot = axis_angle_to_quat(aa)                                            # (T, 24, 4)
    # arms down from the T-pose (about the template Z), swinging opposite to the legs (about X)
    for side, sign in zip(_SIDES, (1.0, -1.0)):
        down = axis_quat("z", -sign * 1.2 + 0 * s)
        swing = axis_quat("x", sign * 0.4 * s)
        rot[:, n[f"{side}_shoulder"]] = quat_mul(down, swing)
        rot[:, n[f"{side}_elbow"]] = axis_quat("y", -sign * (0.35 + 0.2 * s))
    yaw = 0.25 * np.sin(ph / 2)
    upright = quat_mul(axis_quat("z", yaw), axis_quat("x", np.full(frames, np.pi / 2)))
    rot[:, 0] = quat_mul(upright, axis_quat("x", 0.05 + 0.02 * c))         # slight forward lean
    trans = np.stack([0.03 * s, -1.2 * t, 0.92 + 0.02 * np.cos(2 * ph)], -1)
    return Motion(fps, trans, rot, meta={"source": "procedural walk (scripts/make_scheme_fixtures.py)"})


def _pairs(*rows: str) -> list[str]:
    return [r for row in rows for r in row.split()]


# SMPL body joints 0-21 in SMPL order -> scheme names ("-" = the scheme has no such joint)
SCHEMES: dict[str, dict] = {
    "cmu_motionbuilder": dict(units="cmu", euler="ZYX", names=_pairs(
        "Hips LeftUpLeg RightUpLeg LowerBack LeftLeg RightLeg Spine LeftFoot RightFoot Spine1",
        "LeftToeBase RightToeBase Neck LeftShoulder RightShoulder Head LeftArm RightArm",
        "LeftForeArm RightForeArm LeftHand RightHand"),
        helpers={"LHipJoint": ("left_hip", 0.0), "RHipJoint": ("right_hip", 0.0), "Neck1": ("head", 0.5)}),
    "cmu_3dsmax": dict(units="cmu", euler="ZXY", names=_pairs(
        "Hips LeftHip RightHip lowerback LeftKnee RightKnee Chest LeftAnkle RightAnkle Chest2",
        "LeftToe RightToe lowerneck LeftCollar RightCollar Head LeftShoulder RightShoulder",
        "LeftElbow RightElbow LeftWrist RightWrist"),
        helpers={"LHipJoint": ("left_hip", 0.0), "RHipJoint": ("right_hip", 0.0), "Neck": ("head", 0.5)}),
    "cmu_daz": dict(units="cm", euler="ZXY", names=_pairs(
        "hip lThigh rThigh abdomen lShin rShin - lFoot rFoot chest - - neck lCollar rCollar head",
        "lShldr rShldr lForeArm rForeArm lHand rHand"),
        helpers={"lButtock": ("left_hip", 0.5), "rButtock": ("right_hip", 0.5)}),
    "mixamo": dict(units="cm", euler="ZXY", names=["mixamorig:" + x for x in _pairs(
        "Hips LeftUpLeg RightUpLeg Spine LeftLeg RightLeg Spine1 LeftFoot RightFoot Spine2",
        "LeftToeBase RightToeBase Neck LeftShoulder RightShoulder Head LeftArm RightArm",
        "LeftForeArm RightForeArm LeftHand RightHand")], helpers={}),
    "lafan": dict(units="cm", euler="ZYX", names=_pairs(
        "Hips LeftUpLeg RightUpLeg Spine LeftLeg RightLeg Spine1 LeftFoot RightFoot Spine2",
        "LeftToe RightToe Neck LeftShoulder RightShoulder Head LeftArm RightArm",
        "LeftForeArm RightForeArm LeftHand RightHand"), helpers={}),
    "smpl_names": dict(units="cm", euler="ZYX", names=_pairs(
        "Pelvis Left_hip Right_hip Spine1 Left_knee Right_knee Spine2 Left_ankle Right_ankle Spine3",
        "Left_foot Right_foot Neck Left_collar Right_collar Head Left_shoulder Right_shoulder",
        "Left_elbow Right_elbow Left_wrist Right_wrist Left_palm Right_palm"), helpers={}),
    "smplx_names": dict(units="m", euler="XYZ", names=list(SMPL.names), helpers={}),
}


def write_scheme(name: str, spec: dict, out: Path) -> dict:
    """Write ``<out>/<name>.bvh`` and ``<name>.json``; returns the JSON dict."""
    mapping = {SMPL.names[i]: b for i, b in enumerate(spec["names"]) if b != "-"}
    motion = procedural_motion(spine2="spine2" in mapping)
    bvh = out / f"{name}.bvh"
    write_bvh(motion, bvh, names=mapping, units=spec["units"], up="y", euler=spec["euler"],
              joint_subset=list(mapping), extra_helper_bones=spec["helpers"], precision=4)
    joints = [j for j in SMPL.names if j in mapping]
    pos = motion.joint_positions()[:, [SMPL.names.index(j) for j in joints]]   # (T, J, 3) Z-up metres
    info = {
        "scheme": name, "bvh": bvh.name, "fps": FPS, "frames": motion.num_frames, "up": "y",
        "units": spec["units"], "euler": spec["euler"], "bone_map": mapping,
        "helpers": {h: list(v) for h, v in spec["helpers"].items()},
        "note": "positions: true SMPL joint positions of the written motion, Z-up world, metres, 4 decimals; "
                "joints in `joints` order",
        "joints": joints, "positions": np.round(pos, 4).tolist(),
    }
    (out / f"{name}.json").write_text(json.dumps(info, separators=(",", ":")) + "\n", encoding="utf-8")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path,
                    default=Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bvh_schemes")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in SCHEMES.items():
        write_scheme(name, spec, args.out)
        sizes = [(args.out / f"{name}.{e}").stat().st_size for e in ("bvh", "json")]
        print(f"{name:18s} bvh {sizes[0] / 1024:5.1f} KB  json {sizes[1] / 1024:5.1f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
