"""``a4mer.bake_generated`` (the only way generated keys enter the user's action, undoable) and
``a4mer.remove_generated`` (drop the generated frames, the user's action active again)."""
from __future__ import annotations

import bpy

from .._core import errors, wording
from ..bridge import anim_compat, bake, generated, records


class _ResultOp:
    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is not None and generated.read_state(obj) is not None:
            return True
        unknown = generated.unrecorded_tracks(obj)
        if unknown and records.get(obj, generated.STATE_KEY):  # there, but not a record (edited by hand)
            cls.poll_message_set(f"A4Mer's record of the tracks {', '.join(unknown)} ({generated.STATE_KEY!r} in "
                                 "Custom Properties) is damaged: undo its edit, or make your action active again "
                                 "(Action editor) and delete those tracks in the NLA editor")
        elif unknown:  # a copy of an override, a character file's tracks, a deleted records text: say why
            cls.poll_message_set(f"A4Mer has no records of the tracks {', '.join(unknown)}: work on the rig they "
                                 "were made on (this one is a copy, or holds them from its library), or, if their "
                                 f"{records.HOLDER_NAME!r} text was deleted, make your action active again (Action editor) and delete "
                                 "those tracks in the NLA editor")
        return False

    def report_kept(self, kept: list[str]) -> None:
        """Say which strips of the user's (names) on the generated track were left where they are."""
        if kept:
            names = ", ".join(map(repr, kept[:5])) + (" ..." if len(kept) > 5 else "")
            self.report({"INFO"}, f"A4Mer: kept your strip(s) {names} on the {generated.GENERATED_TRACK!r} track")


class A4MER_OT_bake_generated(_ResultOp, bpy.types.Operator):
    """Write the generated frames into your action as keys and remove the A4Mer Generated track
    (your action becomes the active action again; Ctrl+Z undoes it)"""

    bl_idname = "a4mer.bake_generated"
    bl_label = "Bake into My Action"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        kept = [s.name for s in generated.foreign_strips(obj)]
        state = generated.read_state(obj) or {}
        ends = generated.extended_scenes(state, context.scene)
        try:
            generated.check_storable(obj)  # a linked rig (the library's own layer): nothing here would be saved
            n, keys, turned = bake.bake(obj)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        for scene, end in ends:
            keep_end(scene, end)
        self.report_kept(kept)
        action = obj.animation_data.action
        self.report({"INFO"}, f"A4Mer: baked {wording.counted(n, 'span')}, "
                              f"{wording.counted(keys, 'key')} added to {action.name}")
        if turned:
            names = "; ".join(turned[:4]) + (f"; and {len(turned) - 4} more" if len(turned) > 4 else "")
            self.report({"WARNING"}, f"A4Mer: {len(turned)} channel(s) with Linear extrapolation and a Linear end key "
                                     f"beside a baked span now extrapolate from the baked key beside it (Blender "
                                     f"draws that line from the neighbouring key): {names} (Ctrl+Z undoes the bake)")
        others = anim_compat.also_played_by(obj, action, bpy.data.objects)
        if others:
            names = ", ".join(map(repr, others[:5])) + (" ..." if len(others) > 5 else "")
            self.report({"WARNING"}, f"A4Mer: {names} play(s) {action.name!r} too and now show the baked frames "
                                     "(Ctrl+Z undoes the bake)")
        return {"FINISHED"}


def _extended_in(scene) -> list[tuple[object, dict, dict]]:
    """(object, state, its record of ``scene``'s end) of the rigs whose extension moved ``scene``'s end."""
    return [(o, st, end) for o in scene.objects if (st := generated.read_state(o)) is not None
            for found, end in generated.extended_scenes(st, scene) if found == scene]


def keep_end(scene, baked: dict) -> None:
    """After one rig's extension was baked (``baked``: its former record of ``scene``'s end,
    :func:`.generated.scene_ends`), its frames are the user's: the scene end that removing another rig's
    extension goes back to is at least the one it set."""
    if "scene_end_set" not in baked or scene is None:
        return
    for o, st, end in _extended_in(scene):
        if end["scene_end_before"] < baked["scene_end_set"]:
            end["scene_end_before"] = baked["scene_end_set"]
            generated.write_state(o, st)


def restore_scene_end(scene, removed: dict) -> None:
    """After one rig's generated frames went (``removed``: its former record, :func:`.generated.scene_ends`,
    of the end of ``scene``, one its extension moved, whichever scene is current), put that scene's end back
    where Extend found it, or to the last frame another rig's extension still shows: only while the end is
    the one Extend set (nobody changed it since). The earliest end before any extension passes to the rigs
    left, so removing the rigs in any order ends where the scene started."""
    if "scene_end_before" not in removed or scene is None:
        return
    rest = _extended_in(scene)
    if scene.frame_end != max([removed.get("scene_end_set", scene.frame_end)]
                              + [end["scene_end_set"] for *_, end in rest]):
        return
    base = min([removed["scene_end_before"]] + [end["scene_end_before"] for *_, end in rest])
    for o, st, end in rest:
        end["scene_end_before"] = base
        generated.write_state(o, st)
    scene.frame_end = max([base] + [end["scene_end_set"] for *_, end in rest])


class A4MER_OT_remove_generated(_ResultOp, bpy.types.Operator):
    """Remove the generated frames (A4Mer Generated track) and make your action active again, unchanged"""

    bl_idname = "a4mer.remove_generated"
    bl_label = "Remove Generated Frames"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        state = generated.read_state(obj) or {}
        ends = generated.extended_scenes(state, context.scene)
        src = generated.source_track(obj, state) if state else None
        other = obj.animation_data.action if obj.animation_data is not None else None
        kept = [s.name for s in generated.foreign_strips(obj)]
        mine = src.strips[0].action.name if src is not None else ""
        retimed = generated.source_retimed(src.strips[0]) if src is not None else None
        try:
            generated.check_storable(obj)
            n = bake.remove_result(obj)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        if src is not None and other is not None:  # the user's action could not become active again
            self.report({"WARNING"}, f"A4Mer: your action {mine!r} stays on the NLA track "
                                     f"{src.name!r}, because {other.name!r} is the active action")
        elif retimed is not None:
            self.report({"WARNING"}, f"A4Mer: your action {mine!r} stays on the NLA track {src.name!r} "
                                     f"as you placed it ({retimed}); make it active again yourself when you want")
        self.report_kept(kept)
        for scene, end in ends:
            restore_scene_end(scene, end)
        self.report({"INFO"}, f"A4Mer: removed {n} generated span(s)")
        return {"FINISHED"}


classes = (A4MER_OT_bake_generated, A4MER_OT_remove_generated)
