"""N-panel (3D Viewport > Sidebar > Animation): run A4Mer and browse the motif library."""
from __future__ import annotations

import bpy

from ._core import gaps, strips, wording
from .bridge import armature, generated, nla


class A4MER_PT_motifs(bpy.types.Panel):
    bl_label = "A4Mer Motifs"
    bl_idname = "A4MER_PT_motifs"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Animation"

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        wm = context.window_manager
        row = layout.row(align=True)
        row.operator("a4mer.segment", icon="NLA")
        row.operator("a4mer.clear_segments", text="", icon="X")
        if wm.a4mer_status:
            layout.label(text=wm.a4mer_status)
            layout.prop(wm, "a4mer_progress", text="")
        record = nla.read_record(obj)
        if record is None:
            layout.label(text="No motifs yet: select an SMPL armature and run.")
            return
        motifs = strips.motif_summary(record)
        layout.label(text=f"{wording.counted(len(motifs), 'motif')} on {nla.segmented_action_name(obj, record)}")
        col = layout.column(align=True)
        for m in motifs:
            row = col.row(align=True)
            active = m["motif_id"] == obj.a4mer_active_motif
            row.label(text=m["name"], icon="RADIOBUT_ON" if active else "RADIOBUT_OFF")
            row.label(text=f"{m['count']}x  {m['duration']:.1f} s")
            op = row.operator("a4mer.motif_select", text="", icon="RESTRICT_SELECT_OFF")
            op.motif_id = m["motif_id"]
            for icon, d in (("TRIA_LEFT", -1), ("TRIA_RIGHT", 1)):
                op = row.operator("a4mer.motif_jump", text="", icon=icon)
                op.motif_id, op.direction = m["motif_id"], d
            op = row.operator("a4mer.motif_rename", text="", icon="GREASEPENCIL")
            op.motif_id = m["motif_id"]


class A4MER_PT_generate(bpy.types.Panel):
    """Fill gaps / extend, the generated spans with their quality read-out, bake or remove them."""

    bl_label = "A4Mer Generate"
    bl_idname = "A4MER_PT_generate"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Animation"

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        row = layout.row(align=True)
        row.operator("a4mer.fill_gaps", icon="KEYFRAME")
        row.operator("a4mer.extend", icon="FF")
        record = nla.read_record(obj) if obj is not None else None
        motifs = strips.motif_summary(record) if record is not None else []
        if motifs:
            col = layout.column(align=True)
            col.label(text="Extend with a motif:")
            for m in motifs:
                op = col.operator("a4mer.extend", text=f"Extend with {m['name']}", icon="FORWARD")
                op.motif = m["motif_id"]  # one occurrence's mean length, so it plays at its own speed
                op.frames = max(1, round(m["duration"] / max(1, m["count"]) * armature.scene_fps(context.scene)))
        spans = generated.spans(obj) if obj is not None else []
        if not spans:
            if obj is not None and generated.read_state(obj) is not None:  # the user deleted the generated strips
                layout.label(text="The generated frames were deleted; make your action active again:", icon="INFO")
                layout.operator("a4mer.remove_generated", icon="X")
                return
            layout.label(text="No generated frames (your keys are never changed).")
            return
        col = layout.column(align=True)
        col.label(text=f"{len(spans)} generated span(s) on the A4Mer Generated track:")
        for sp in spans:
            motif = f" [{sp['motif']['name']}]" if sp.get("motif") else ""
            col.label(text=f"{sp['kind']} {sp['shown'][0]}-{sp['shown'][1]}{motif}: {sp.get('method') or 'heads'}",
                      icon="NLA")
            col.label(text="    " + gaps.quality_line(sp.get("quality")))
            for w in (sp.get("quality") or {}).get("warnings", []):
                col.label(text="    " + w, icon="INFO")
        row = layout.row(align=True)
        row.operator("a4mer.bake_generated", icon="CHECKMARK")
        row.operator("a4mer.remove_generated", text="", icon="X")


classes = (A4MER_PT_motifs, A4MER_PT_generate)
