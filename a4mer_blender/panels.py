"""N-panel (3D Viewport > Sidebar > Animation): run A4Mer and browse the motif library."""
from __future__ import annotations

import bpy

from ._core import strips
from .bridge import nla


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
        layout.label(text=f"{len(motifs)} motifs on {record['action']}")
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


classes = (A4MER_PT_motifs,)
