"""Motif library actions: select the strips of a motif, jump between its occurrences, rename it."""
from __future__ import annotations

import bpy
from bpy.props import IntProperty, StringProperty

from .._core import errors, strips, wording
from ..bridge import generated, nla


def _motif(context, motif_id: int) -> dict | None:
    record = nla.read_record(context.active_object)
    if record is None:
        return None
    return next((m for m in strips.motif_summary(record) if m["motif_id"] == motif_id), None)


def _no_motif(context, motif_id: int | None, active: bool = False) -> str:
    """The message for a motif id (``active``: the active motif's) the active object's library lacks
    (None: no id given and no active motif), listing the ids it has."""
    record = nla.read_record(context.active_object)
    have = ", ".join(f"{m['motif_id']} ({m['name']})" for m in strips.motif_summary(record)) if record else ""
    if motif_id is None:
        what = "no motif given (motif_id) and none is active (select one in the motif library)"
    else:
        what = f"no motif {motif_id}{' (the active motif)' if active else ''} on this object"
    return f"A4Mer: {what} (its motifs: {have or 'none'})"


def _played(obj, m: dict) -> list[tuple[float, float]]:
    """Motif ``m``'s occurrences where they play: a generated one (with a motif) where its strip on the
    Generated track lies now, as the user may have moved it after its mark was made (a bake moves the
    mark there too); the others where their strips lie."""
    shown = {sp["id"]: sp["shown"] for sp in generated.spans(obj) if "id" in sp}
    record = nla.read_record(obj)
    span_of = {(e["frame_start"], e["frame_end"]): e["span"] for rt in record["tracks"] if rt.get("kind") == "motif"
               for e in rt["strips"] if int(e["key"]) == m["motif_id"] and e.get("span")}
    return [tuple(map(float, shown.get(span_of.get(o), o))) for o in m["occurrences"]]


class _MotifOp:
    motif_id: IntProperty(name="Motif", default=-1, min=-1, options={"SKIP_SAVE"},
                          description="The motif's id in the object's motif library (-1: the active motif, the "
                                      "one last selected or jumped to)")

    @classmethod
    def poll(cls, context):
        return nla.read_record(context.active_object) is not None

    def target(self, context) -> dict | None:
        """The motif to act on (its entry of the motif library: ``motif_id``, ``name``, ``occurrences``):
        ``motif_id`` when given, else the object's active motif; None (an error reported) when neither
        names a motif of the library."""
        given = self.motif_id >= 0
        motif_id = self.motif_id if given else context.active_object.a4mer_active_motif
        if motif_id < 0:
            self.report({"ERROR"}, _no_motif(context, None))
            return None
        m = _motif(context, motif_id)
        if m is None:
            self.report({"ERROR"}, _no_motif(context, motif_id, active=not given))
        return m


class A4MER_OT_motif_select(_MotifOp, bpy.types.Operator):
    """Select every strip of this motif in the A4Mer Motifs track"""

    bl_idname = "a4mer.motif_select"
    bl_label = "Select Motif"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        m = self.target(context)
        if m is None:
            return {"CANCELLED"}
        motif_id = m["motif_id"]
        n = nla.select_motif(context.active_object, motif_id)
        context.active_object.a4mer_active_motif = motif_id
        self.report({"INFO"}, f"A4Mer: {wording.counted(n, 'strip')} selected")
        return {"FINISHED"}


class A4MER_OT_motif_jump(_MotifOp, bpy.types.Operator):
    """Jump to the next (or previous) occurrence of this motif"""

    bl_idname = "a4mer.motif_jump"
    bl_label = "Jump to Motif"
    bl_options = {"REGISTER", "UNDO"}

    direction: IntProperty(name="Direction", default=1, min=-1, max=1)

    def execute(self, context):
        m = self.target(context)
        if m is None:
            return {"CANCELLED"}
        frame = strips.next_occurrence(_played(context.active_object, m), context.scene.frame_current,
                                       self.direction or 1)
        context.scene.frame_set(int(round(frame)))
        context.active_object.a4mer_active_motif = m["motif_id"]
        return {"FINISHED"}


class A4MER_OT_motif_rename(_MotifOp, bpy.types.Operator):
    """Rename this motif (stored on the object, shown on its strips)"""

    bl_idname = "a4mer.motif_rename"
    bl_label = "Rename Motif"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name", default="", description="The motif's new name (empty: its default name, m<id>)")

    def invoke(self, context, event):
        m = self.target(context)
        if m is None:
            return {"CANCELLED"}
        self.motif_id = m["motif_id"]  # the dialog renames the motif it shows, whatever becomes active meanwhile
        self.name = m["name"]
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        m = self.target(context)
        if m is None:
            return {"CANCELLED"}
        try:
            generated.check_storable(context.active_object)
            n = nla.rename_motif(context.active_object, m["motif_id"], self.name)
            shown = strips.motif_display_name(m["motif_id"], nla.read_record(context.active_object)["motif_names"])
            n += generated.rename_motif(context.active_object, m["motif_id"], shown)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        again = " again (its default name)" if not self.name.strip() else ""
        self.report({"INFO"}, f"A4Mer: motif {m['motif_id']} is called {shown!r}{again}: "
                              f"{wording.counted(n, 'strip')} renamed")
        return {"FINISHED"}


classes = (A4MER_OT_motif_select, A4MER_OT_motif_jump, A4MER_OT_motif_rename)
