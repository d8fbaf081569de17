"""File > Import > A4Mer motion (.npz/.bvh/.amc): a new SMPL armature, or onto the selected SMPL rig."""
from __future__ import annotations

import importlib
from pathlib import Path

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from .._core import CORE, errors, floor
from ..bridge import armature, generated, nla


def load_clip(path: str, source_fps: float | None = None, asf: str | None = None,
              keep_reference_frames: bool = False, **reading):
    """Any supported clip as an SMPL Motion (``a4mer.api.load_motion``, part of the light core). ``reading``:
    more :class:`a4mer.api.LoadOptions` (``bone_map``, ``scale``, ``up``, ``twist``)."""
    api = importlib.import_module(f"{CORE}.api")
    return api.load_motion(path, source_fps=source_fps, asf=asf or None,
                           keep_reference_frames=keep_reference_frames, **reading)


def chosen_object(context):
    """The object an import applies its clip to: the active object while it is selected and visible (an
    active object the user deselected or hid is not one they chose), else None."""
    obj = context.active_object
    if obj is None or not obj.select_get() or not obj.visible_get():
        return None
    return obj


def import_motion(context, path: str, apply_to_selected: bool = True, source_fps: float | None = None,
                  asf: str | None = None, set_range: bool = True, on_floor: bool = False,
                  keep_reference_frames: bool = False, clip=None):
    """Load ``path``, resample it by time to the scene fps and key it; returns (object, action).
    ``keep_reference_frames``: keep a BVH/AMC's rest-pose lead-in (``a4mer.api.LoadOptions``).
    ``clip``: ``path`` already read by :func:`load_clip` with these options (not read again).
    ``on_floor``: first move the root vertically by one constant so the feet stand on z = 0
    (``a4mer.floor.put_on_floor``; the shift in metres is kept as ``action["a4mer_floor_shift_m"]``)."""
    scene = context.scene
    armature.check_time_map(scene)  # else the clip would play slower or faster than its own rate
    if clip is None:
        clip = load_clip(path, source_fps, asf, keep_reference_frames)
    motion = clip.resample(armature.scene_fps(scene))
    if on_floor:
        try:
            motion = floor.put_on_floor(motion)
        except errors.A4merError as e:
            raise errors.MotionFileError(path, str(e)) from None
    target = chosen_object(context)
    if apply_to_selected and target is not None and target.mode == "EDIT":
        target.update_from_editmode()  # the rest as edited: Blender updates the bones only on leaving Edit mode
    if apply_to_selected and target is not None and armature.is_smpl_rig(target):
        generated.check_storable(target)  # a linked rig would lose the clip on save
        nla.check_not_tweaking(target)
        if generated.read_state(target) is not None:
            raise errors.A4merError(f"{target.name!r} shows A4Mer generated frames: bake them into your action or "
                                    "remove them (Generate panel) before importing onto it")
    else:
        if context.object is not None and context.object.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        target = armature.create_smpl_armature(context, name=Path(path).stem[:50] or "SMPL", skeleton=motion.skeleton)
    try:
        action = armature.write_motion(target, motion, scene, name=Path(path).stem)
    except errors.A4merError as e:
        raise errors.A4merError(f"{Path(path).name} onto {target.name!r}: {e}") from None
    if on_floor:
        action["a4mer_floor_shift_m"] = motion.meta["floor_shift_m"]
    if motion.meta.get("reference_frames_dropped"):  # the file's T-pose lead-in (CMU Daz-friendly BVH)
        action["a4mer_reference_frames_dropped"] = int(motion.meta["reference_frames_dropped"])
    if motion.skeleton.name != "smpl":  # SMPL-H/X: the hand and face joints the rig has no bones for
        have = {n for n, _ in armature.detect_rig(target).extra_bone}
        missing = [n for n in motion.skeleton.names[22:] if n not in have]
        if missing:
            action["a4mer_joints_not_imported"] = missing
    if set_range:
        scene.frame_end = scene.frame_start + motion.num_frames - 1
    return target, action


class A4MER_OT_import_motion(bpy.types.Operator, ImportHelper):
    """Import a motion clip (AMASS npz, BVH, ASF/AMC) as an SMPL armature, resampled to the scene fps"""

    bl_idname = "a4mer.import_motion"
    bl_label = "Import A4Mer Motion"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default="*.npz;*.bvh;*.amc", options={"HIDDEN"})
    apply_to_selected: BoolProperty(name="Apply to selected SMPL rig", default=True,
                                    description="Key the motion onto the selected (active) SMPL-like armature "
                                                "instead of creating a new one")
    source_fps: FloatProperty(name="Source fps", default=0.0, soft_min=0.0,
                              description="Override the file's frame rate (0 = from the file)")
    asf: StringProperty(name="ASF skeleton", subtype="FILE_PATH", default="",
                        description="Skeleton file for an .amc (default: found next to it)")
    set_range: BoolProperty(name="Set scene range", default=True)
    put_on_floor: BoolProperty(name="Put on floor", default=False,
                               description="Move the clip up or down by one constant so its feet stand on the "
                                           "floor (z = 0); jumps keep their height")

    def execute(self, context):
        selected = chosen_object(context)
        old = nla.read_record(selected) if selected is not None else None
        try:
            obj, action = import_motion(context, self.filepath, self.apply_to_selected,
                                        self.source_fps or None, bpy.path.abspath(self.asf) if self.asf else None,
                                        self.set_range, self.put_on_floor)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        notes = [armature.detect_rig(obj).rest_pose_note()]
        if self.put_on_floor:
            notes.append(floor.describe_shift(action["a4mer_floor_shift_m"]))
        if "a4mer_reference_frames_dropped" in action:
            notes.append(f"dropped the file's {action['a4mer_reference_frames_dropped']} T-pose lead-in frames")
        if "a4mer_joints_not_imported" in action:
            missing = list(action["a4mer_joints_not_imported"])
            notes.append(f"{len(missing)} hand/face joints of the clip ({', '.join(missing[:3])}"
                         f"{', ...' if len(missing) > 3 else ''}) have no bone on {obj.name!r}: not imported")
        if self.apply_to_selected and selected is not None and selected is not obj:
            rig = next((o for o in (selected.parent, *(m.object for m in getattr(selected, "modifiers", ())
                                                        if m.type == "ARMATURE")) if o is not None
                        and o.type == "ARMATURE" and armature.is_smpl_rig(o)), None)
            notes.append(f"a new SMPL armature: the selected {selected.name!r} is not an SMPL-like rig"
                         + (f" (to key the clip onto its armature, select {rig.name!r})" if rig is not None else ""))
        notes = "; ".join(n for n in notes if n)
        self.report({"INFO"}, f"A4Mer: {action.name} on {obj.name}" + (f" ({notes})" if notes else ""))
        if obj is selected and old is not None and not nla.describes(obj, old, action):
            self.report({"WARNING"}, f"A4Mer: the atom and motif tracks on {obj.name!r} still describe its previous "
                                     f"action {old.get('action')!r}: run Find Atoms and Motifs again (or Remove "
                                     "A4Mer Tracks)")
        return {"FINISHED"}


def menu_func(self, context):
    self.layout.operator(A4MER_OT_import_motion.bl_idname, text="A4Mer motion (.npz/.bvh/.amc)")


classes = (A4MER_OT_import_motion,)
