"""Helpers of the Blender tests: synthetic SMPL-family rigs (one per row of conventions.md §2),
test motions, evenly spaced segment dicts and pose snapshots."""
from __future__ import annotations

import numpy as np

import bpy
from a4mer.geometry import axis_angle_to_quat
from a4mer.motion import Motion
from a4mer.skeleton import SMPL, SMPLH, SMPLX
from a4mer.skeleton.smpl import SMPL_OFFICIAL_NAMES

#: the installed bpy has slotted actions (Blender 4.4+); False on the legacy action API (4.2, 4.3)
SLOTTED = "slots" in bpy.types.Action.bl_rna.properties


def first_slot_to_strip(strip) -> None:
    """Give an NLA strip its action's first slot (slotted actions only; a no-op on the legacy API)."""
    if SLOTTED:
        strip.action_slot = strip.action.slots[0]


RX90 = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # template (Y up) -> Z up


def smooth_motion(T: int = 60, fps: float = 30.0, seed: int = 0, joints: int = 24) -> Motion:
    """A smooth, non-trivial SMPL motion: every joint swings on its own sines, the root walks."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    aa = 0.5 * np.sin(t[:, None, None] * rng.uniform(1, 5, (1, 24, 3)) + rng.uniform(0, 6, (1, 24, 3)))
    aa[:, 0] = np.array([np.pi / 2, 0.0, 0.0]) + 0.3 * aa[:, 0]
    aa[:, 0, 2] += 0.8 * t  # turning
    trans = np.stack([0.6 * t, 0.2 * np.sin(t), 0.9 + 0.05 * np.sin(3 * t)], axis=1)
    return Motion(fps, trans, axis_angle_to_quat(aa), meta={"name": "smooth"})


def even_segments(num_frames: int, fps: float, atom_len: int = 7, seed: int = 0) -> dict:
    """A segment dict in the model's schema: atoms of ``atom_len`` frames, motifs grouping 2-4 atoms."""
    rng = np.random.default_rng(seed)
    atoms, s, k = [], 0, 0
    while s < num_frames:
        e = min(num_frames, s + atom_len)
        atoms.append({"start_frame": s, "end_frame": e, "start_t": s / fps, "end_t": e / fps, "code": int(k % 11)})
        s, k = e, k + 1
    motifs, i, m = [], 0, 0
    while i < len(atoms):
        j = min(len(atoms), i + int(rng.integers(2, 5)))
        a, b = atoms[i]["start_frame"], atoms[j - 1]["end_frame"]
        motifs.append({"start_frame": a, "end_frame": b, "start_t": a / fps, "end_t": b / fps,
                       "motif_id": int(m % 4), "atoms": list(range(i, j)), "confidence": 0.5})
        i, m = j, m + 1
    return {"schema_version": 1, "model_hash": "test", "vocab_hash": "test-vocab", "fps": fps,
            "duration": num_frames / fps, "atoms": atoms, "motifs": motifs}


# --- rigs --------------------------------------------------------------------------------------
def _template_positions(skel) -> np.ndarray:
    return skel.rest_positions()


def build_rig(name: str, names: list[str], parents: list[int], heads: np.ndarray, *, bone_dir: str = "up",
              data_up: str = "Z", unit: float = 1.0, root: str | None = None, rotation_mode: str = "QUATERNION",
              object_rotation: tuple = (0.0, 0.0, 0.0), object_scale: float = 1.0, seed: int = 0):
    """An armature object.

    heads: (J, 3) metres in SMPL's template frame. data_up "Z": the armature data is Z-up (template
    rotated +90 deg about X); "Y": the data keeps the template frame (an FBX import, usually in an object
    rotated by ``object_rotation``). bone_dir "up": every bone points up with zero roll (MPI);
    "child": bones point at their first child with a random roll (BVH / FBX imports).
    unit: metres per armature unit (0.01 = a centimetre rig). root: name of an extra root bone at the origin.
    """
    rng = np.random.default_rng(seed)
    conv = RX90 if data_up == "Z" else np.eye(3)
    pos = heads @ conv.T / unit
    up = conv @ np.array([0.0, 1.0, 0.0])
    length = 0.08 / unit
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)  # as an importer leaves it (and a click): active and selected
    obj.rotation_euler = object_rotation
    obj.scale = (object_scale,) * 3
    bpy.ops.object.mode_set(mode="EDIT")
    made = []
    root_eb = None
    if root:
        root_eb = arm.edit_bones.new(root)
        root_eb.head, root_eb.tail, root_eb.roll = (0, 0, 0), tuple(up * length), 0.0
    children = {j: [c for c, p in enumerate(parents) if p == j] for j in range(len(names))}
    for j, n in enumerate(names):
        eb = arm.edit_bones.new(n)
        h = pos[j]
        if bone_dir == "up":
            d, roll = up * length, 0.0
        else:
            c = children[j]
            d = (pos[c[0]] - h) if c else (h - pos[parents[j]])
            d = d / np.linalg.norm(d) * max(length, 0.5 * np.linalg.norm(d))
            roll = float(rng.uniform(-np.pi, np.pi))
        eb.head, eb.tail, eb.roll = tuple(h), tuple(h + d), roll
        eb.parent = made[parents[j]] if parents[j] >= 0 else root_eb
        eb.use_connect = False
        made.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    for pb in obj.pose.bones:
        pb.rotation_mode = rotation_mode
    return obj


def _names_parents(skel, rename=None):
    names = [rename(n, j) if rename else n for j, n in enumerate(skel.names)]
    return names, list(skel.parents)


def _official(n: str, j: int) -> str:
    return SMPL_OFFICIAL_NAMES[j]


def _bvh_style(n: str, j: int) -> str:
    s = SMPL_OFFICIAL_NAMES[j]
    s = s.replace("L_", "Left_").replace("R_", "Right_")
    s = s[0] + s[1:].lower() if "_" not in s else s.split("_")[0] + "_" + s.split("_")[1].lower()
    return {"Left_hand": "left_palm", "Right_hand": "right_palm"}.get(s, s)


def _meshcapade_eyes(n: str, j: int) -> str:
    return {"left_eye_smplhf": "left_eye", "right_eye_smplhf": "right_eye"}.get(n, n)


#: row id -> (builder kwargs, family expected, metres per unit)
def make_row_rig(row: str):
    """One synthetic rig per row of conventions.md §2 (plus the centimetre / female variants)."""
    smpl_heads = _template_positions(SMPL)
    if row == "mpi_smplx":
        n, p = _names_parents(SMPLX)
        return build_rig("SMPLX-neutral", n, p, _template_positions(SMPLX), root="root"), "smplx"
    if row == "mpi_body_only":
        n, p = list(SMPL.names[:22]), list(SMPL.parents[:22])
        return build_rig("SMPLX-body", n, p, smpl_heads[:22], root="root"), "smpl"
    if row == "meshcapade_smplx":
        n, p = _names_parents(SMPLX, _meshcapade_eyes)
        return build_rig("SMPLX-mc", n, p, _template_positions(SMPLX), root="root"), "smplx"
    if row == "meshcapade_smplh_cm":
        n, p = _names_parents(SMPLH)
        return build_rig("SMPLH-cm", n, p, _template_positions(SMPLH), root="root", unit=0.01), "smplh"
    if row == "meshcapade_cm_scaled_object":
        n, p = _names_parents(SMPLX)
        return build_rig("SMPLX-cm-obj", n, p, _template_positions(SMPLX), root="root", unit=0.01,
                         object_scale=0.01), "smplx"
    if row == "official_smpl_axis_angle":
        n, p = _names_parents(SMPL, _official)
        return build_rig("SMPL-official", n, p, smpl_heads, root="root", rotation_mode="AXIS_ANGLE"), "smpl"
    if row in ("fbx_m_avg", "fbx_f_avg"):
        pre = "m_avg_" if row == "fbx_m_avg" else "f_avg_"
        n, p = _names_parents(SMPL, lambda n, j: pre + SMPL_OFFICIAL_NAMES[j])
        return build_rig(pre + "rig", n, p, smpl_heads, root=pre + "root", data_up="Y", bone_dir="child",
                         object_rotation=(np.pi / 2, 0.0, 0.0), rotation_mode="QUATERNION", seed=3), "smpl"
    if row == "bvh_smpl_cm_euler":
        n, p = _names_parents(SMPL, _bvh_style)
        return build_rig("smpl_bvh", n, p, smpl_heads, bone_dir="child", unit=0.01, rotation_mode="ZYX",
                         seed=5), "smpl"
    if row == "bvh_smplx_lower":
        n, p = list(SMPL.names[:22]) + ["left_palm", "right_palm"], list(SMPL.parents)
        return build_rig("smplx_bvh", n, p, smpl_heads, bone_dir="child", rotation_mode="XYZ", seed=7), "smpl"
    raise KeyError(row)


ROWS = ("mpi_smplx", "mpi_body_only", "meshcapade_smplx", "meshcapade_smplh_cm", "meshcapade_cm_scaled_object",
        "official_smpl_axis_angle", "fbx_m_avg", "fbx_f_avg", "bvh_smpl_cm_euler", "bvh_smplx_lower")


def key_mpi_amass(obj, motion: Motion, frame_start: int = 1) -> None:
    """Key ``motion`` the way the MPI add-on's AMASS import does, with keyframe_insert (independent of
    the add-on's writer): root at -90 deg about X, pelvis quaternion = global orientation, pelvis
    location = AMASS trans (pelvis minus its rest joint), body bones = SMPL local rotations."""
    from a4mer.skeleton.smpl import SMPL_OFFSETS
    obj.animation_data_create()
    root = obj.pose.bones["root"]
    root.rotation_mode = "QUATERNION"
    root.rotation_quaternion = (np.cos(-np.pi / 4), np.sin(-np.pi / 4), 0.0, 0.0)
    for i in range(motion.num_frames):
        f = frame_start + i
        root.keyframe_insert("rotation_quaternion", frame=f)
        for j, n in enumerate(SMPL.names[:22]):
            pb = obj.pose.bones[n]
            pb.rotation_quaternion = tuple(motion.rotations[i, j])
            pb.keyframe_insert("rotation_quaternion", frame=f)
        pel = obj.pose.bones["pelvis"]
        pel.location = tuple(motion.root_translation[i] - SMPL_OFFSETS[0])
        pel.keyframe_insert("location", frame=f)


def pose_snapshot(obj, frames) -> np.ndarray:
    """(F, B, 4, 4) evaluated ``pose_bone.matrix`` of every bone at each scene frame."""
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        out.append([[list(r) for r in pb.matrix] for pb in obj.pose.bones])
    return np.array(out, dtype=np.float64)


def world_heads(obj, frames) -> np.ndarray:
    """(F, B, 3) evaluated world head positions of every pose bone (rig units x object matrix)."""
    scene = bpy.context.scene
    out = []
    for f in frames:
        scene.frame_set(int(f))
        mw = np.array([list(r) for r in obj.matrix_world])
        out.append([(mw @ np.array([*pb.head, 1.0]))[:3] for pb in obj.pose.bones])
    return np.array(out)


def action_keys(obj) -> dict:
    """{(data_path, index): (n, 2) key array} of the object's active action (for exact comparisons)."""
    from a4mer_blender.bridge import anim_compat
    out = {}
    for fc in anim_compat.fcurves_of(obj, obj.animation_data.action):
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out[(fc.data_path, fc.array_index)] = co.reshape(-1, 2)
    return out
