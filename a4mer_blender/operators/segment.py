"""``a4mer.segment``: run the model on the active armature's action and add the A4Mer NLA tracks."""
from __future__ import annotations

import json
from pathlib import Path

import bpy
from bpy.props import StringProperty

from .. import runner
from .._core import errors, strips, wording
from ..bridge import armature, body_channels, generated, nla
from ..preferences import get_settings
from ._modal import ModalJobMixin, data_id, find_object


def load_segments_file(path: str) -> dict:
    """A segments JSON (``<stem>.segments.json``) checked against the schema; A4merError naming the file."""
    p = Path(bpy.path.abspath(path))
    try:
        seg = json.loads(p.read_text(encoding="utf-8-sig"))  # Notepad may add a BOM
    except (OSError, ValueError, RecursionError) as e:
        raise errors.A4merError(f"{p}: cannot read segments ({e})") from None
    strips.validate_segments(seg, where=str(p))
    return seg


def _summary(record: dict) -> str:
    tracks = {t["kind"]: len(t["strips"]) for t in record["tracks"]}
    atoms, motifs = tracks.get("atom", 0), tracks.get("motif", 0)
    return f"A4Mer: {wording.counted(atoms, 'atom')}, {wording.counted(motifs, 'motif occurrence')}"


def _check_no_result_layer(obj) -> None:
    """Segments are strips of the active action: refuse clearly while generated frames are shown."""
    if generated.read_state(obj) is not None and not (obj.animation_data and obj.animation_data.action):
        raise errors.A4merError(f"{obj.name!r} shows generated frames (A4Mer Generated track): bake them into "
                                "your action or remove them (A4Mer Generate panel) before finding atoms and motifs")


def _read_clip(obj, scene):
    """The action to segment as a Motion; :class:`A4merError` while generated frames are shown or when
    fewer than two frames are keyed (nothing to cut)."""
    generated.check_storable(obj)
    armature.check_time_map(scene)
    _check_no_result_layer(obj)
    motion = armature.read_motion(obj, scene)
    n = len(body_channels.keyed_frames(obj, obj.animation_data.action))
    if n < 2:
        raise errors.A4merError(f"the action {obj.animation_data.action.name!r} of {obj.name!r} has "
                                f"{'no keys' if n == 0 else 'one keyed frame'} on the body bones: nothing to segment")
    return motion


class A4MER_OT_segment(ModalJobMixin, bpy.types.Operator):
    """Cut the active armature's action into atoms and motifs (adds the A4Mer NLA tracks;
    playback is unchanged)"""

    bl_idname = "a4mer.segment"
    bl_label = "Find Atoms and Motifs"
    bl_options = {"REGISTER", "UNDO"}

    segments_file: StringProperty(name="Segments file", subtype="FILE_PATH", default="", options={"SKIP_SAVE"},
                                  description="Use this segments JSON instead of running the model")

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE"

    def _segments(self, context, motion) -> dict:
        if self.segments_file:
            return load_segments_file(self.segments_file)
        wm = context.window_manager
        return runner.run_sync(motion, get_settings(context),
                               on_progress=lambda p, m: setattr(wm, "a4mer_progress", p))

    def execute(self, context):
        obj = context.active_object
        try:
            with armature.keys_read_once():  # nothing changes the keys before the tracks are added
                motion = _read_clip(obj, context.scene)
                segments = self._segments(context, motion)
                record = nla.apply_segments(obj, context.scene, segments)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        warning = strips.duration_mismatch(segments, motion.num_frames, motion.fps)
        if warning:
            self.report({"WARNING"}, f"A4Mer: {warning}")
        self.report({"INFO"}, _summary(record))
        return {"FINISHED"}

    # --- interactive: modal with a progress bar, Esc cancels ---------------------------------
    def invoke(self, context, event):
        if self.segments_file:
            return self.execute(context)
        obj = context.active_object
        try:
            with armature.keys_read_once():
                clip = _read_clip(obj, context.scene)
            job = runner.Job(clip, get_settings(context)).start()
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self._target = (data_id(obj), data_id(obj.animation_data.action))
        return self.begin_modal(context, job, "starting")

    def finish(self, context, st):
        obj = find_object(self._target[0])
        anim = obj.animation_data if obj is not None else None
        if st.error or anim is None or anim.action is None or data_id(anim.action) != self._target[1]:
            self.report({"ERROR"}, f"A4Mer: {st.error or 'the armature or its action changed while the model ran'}")
            return {"CANCELLED"}
        try:
            record = nla.apply_segments(obj, context.scene, st.result)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, _summary(record))
        return {"FINISHED"}


class A4MER_OT_clear_segments(bpy.types.Operator):
    """Remove the A4Mer NLA tracks and the stored segments of the active object (the action is untouched)"""

    bl_idname = "a4mer.clear_segments"
    bl_label = "Remove A4Mer Tracks"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return nla.read_record(context.active_object) is not None

    def execute(self, context):
        obj = context.active_object
        try:
            generated.check_storable(obj)
            nla.check_not_tweaking(obj)  # the tweaked strip may be one of ours: Blender would read it freed
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        n = nla.remove_tracks(obj)
        nla.forget(obj)
        self.report({"INFO"}, f"A4Mer: removed {n} tracks")
        return {"FINISHED"}


classes = (A4MER_OT_segment, A4MER_OT_clear_segments)
