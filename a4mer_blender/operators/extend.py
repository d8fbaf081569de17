"""``a4mer.extend``: N generated frames after the end of the active armature's animation (extension
head), on the "A4Mer Generated" NLA track; the user's keys are not changed."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty

from ..bridge import armature, generated
from .fill import GenerateBase, draw_motif, gaps


class A4MER_OT_extend(GenerateBase, bpy.types.Operator):
    """Continue the animation for N frames after its end with the extension model, on the "A4Mer
    Generated" NLA track (your keys are not changed)"""

    bl_idname = "a4mer.extend"
    bl_label = "Extend"
    bl_options = {"REGISTER", "UNDO"}

    kind = "extend"
    frames: IntProperty(name="Frames", default=30, soft_min=1, soft_max=600, options={"SKIP_SAVE"},
                        description="Number of frames to add after the end")
    set_scene_end: BoolProperty(name="Extend scene range", default=True, options={"SKIP_SAVE"},
                                description="Move the scene's end frame to the last generated frame")

    def plan(self, context, obj, rig, action):
        generated.check_not_cycling(obj, action, rig)
        return gaps.plan_extend(generated.content_range(obj, action, rig), self.frames,
                                armature.scene_fps(context.scene))

    def after(self, context, made, obj):
        if not made:
            return
        need = max(s["last"] for s in made)
        scene = context.scene
        if scene.frame_end > need:  # the preview past the strip is the action's end, the bake holds
            self.report({"WARNING"}, f"A4Mer: the scene runs to frame {scene.frame_end}, past the extension (up to "
                                     f"frame {need}): after it the preview shows your action's own end again, "
                                     "while baked keys would hold the extension's last pose; extend further, or "
                                     f"end the scene at {need}")
        if self.set_scene_end:
            state = generated.read_state(obj) if obj is not None else None
            # so Remove Generated can put this scene's end back (bake.restore_scene_end), in each scene extended
            if state is not None:
                end = generated.scene_end(state, scene)
                end.setdefault("scene_end_before", int(scene.frame_end))
                end["scene_end_set"] = max(int(need), int(end.get("scene_end_set", need)))  # shown up to
                end["scene"] = scene.name
                generated.write_state(obj, state)
            scene.frame_end = max(scene.frame_end, need)
        if scene.use_preview_range and scene.frame_preview_end < need:
            self.report({"WARNING"}, f"A4Mer: the preview range ends at frame {scene.frame_preview_end}: playback "
                                     f"does not reach the extension's end (frame {need})")

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "frames")
        draw_motif(col, context.active_object, self)
        col.prop(self, "set_scene_end")


classes = (A4MER_OT_extend,)
