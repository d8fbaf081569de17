"""``a4mer.fill_gaps``: fill the keyframe gaps of the active armature with the in-betweening head, on
the non-destructive result layer (:mod:`..bridge.generated`). Also the base shared with ``a4mer.extend``:
plan (host-free, :mod:`a4mer.gaps`) -> run the heads through the runner (in process or worker, the
same files either way) -> apply to the scene only once the result is complete."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, IntProperty

from .. import runner
from .._core import errors, gaps, strips
from ..bridge import armature, body_channels, generated, motif_marks, nla
from ..preferences import get_settings
from ._modal import ModalJobMixin, data_id, find_object



def motif_choice(obj, motif_id: int) -> dict | None:
    """``{"id", "name"}`` of motif ``motif_id`` of the object's motif library (None for -1);
    :class:`A4merError` when the library has no such motif."""
    if motif_id == -1:
        return None
    if motif_id < 0:
        raise errors.A4merError(f"motif must be a motif id of the library, or -1 for none; got {motif_id}")
    record = nla.read_record(obj)
    lib = {m["motif_id"]: m for m in strips.motif_summary(record)} if record is not None else {}
    if motif_id not in lib:
        have = ", ".join(f"{m['motif_id']} ({m['name']})" for m in lib.values()) or "none: run Find Atoms and Motifs"
        raise errors.A4merError(f"{obj.name!r} has no motif {motif_id} in its motif library (motifs: {have})")
    return {"id": int(motif_id), "name": lib[motif_id]["name"]}


def draw_motif(layout, obj, op) -> None:
    """The motif field of a dialog with the object's motif library listed under it."""
    layout.prop(op, "motif")
    record = nla.read_record(obj) if obj is not None else None
    lib = strips.motif_summary(record) if record is not None else []
    text = ", ".join(f"{m['motif_id']} = {m['name']}" for m in lib[:8]) + (" ..." if len(lib) > 8 else "")
    layout.label(text=f"Motifs: {text}" if lib else "No motif library (Find Atoms and Motifs first)")


class Request:
    """A planned generation: the plan, the clip sent to the heads, the target and the motif."""

    def __init__(self, obj, rig, action, plan, motion, motif):
        self.obj_name, self.obj_id, self.action_id = obj.name, data_id(obj), data_id(action)
        self.keys = body_channels.keys_fingerprint(obj, action)
        self.rig, self.plan, self.motion, self.motif = rig, plan, motion, motif

    def args(self) -> list[str]:
        return list(self.plan.args) + (["--motif", str(self.motif["id"])] if self.motif else [])


def apply(context, request: Request, result, kind: str) -> list[dict]:
    """Put ``result`` (:class:`runner.HeadsResult`) on the result layer of the requested armature."""
    obj = find_object(request.obj_id)
    if obj is None:
        raise errors.A4merError(f"the armature {request.obj_name!r} was removed while the model ran")
    action = generated.user_action(obj)
    if data_id(action) != request.action_id:
        raise errors.A4merError("the armature's action changed while the model ran; nothing was changed")
    generated.check_replacing(obj)  # the blend type or influence may have changed while the model ran
    armature.check_time_map(context.scene)  # so may the scene's time remapping
    plan, out = request.plan, result.motion
    need = plan.last + plan.frames - plan.first + 1 if kind == "extend" else plan.num_frames
    if out.num_frames < need:
        raise errors.A4merError(f"the heads returned {out.num_frames} frames, expected {need}")
    idx = plan.to_clip(plan.generated_frames())
    gen = out.with_(root_translation=out.root_translation[idx], rotations=out.rotations[idx])
    # the keys as they are now (after the model ran), read once for the check and the channels; the cache
    # ends before apply_result, which deletes and makes actions (a freed curve's address may be reused)
    with armature.keys_read_once():
        if body_channels.keys_fingerprint(obj, action) != request.keys:
            raise errors.A4merError(f"the keys or modifiers of {action.name!r} changed while the model ran; nothing "
                                    "was changed: run it again")
        chans = body_channels.generated_channels(obj, context.scene, request.rig, action, gen, list(plan.spans))
    reports = gaps.span_reports(result.quality, plan.first, plan.spans)
    method = next((r.get("method", "") for r in reports if r), "")
    made = generated.apply_result(obj, context.scene, kind, list(plan.spans), chans, reports, method, request.motif)
    for sp in made:
        if sp["motif"]:  # only where the heads played the motif
            motif_marks.mark_motif(obj, sp["motif"], sp)
    return made


class GenerateBase(ModalJobMixin):
    """Shared by fill and extend: execute with no arguments runs synchronously (scripts, headless);
    invoke shows the options dialog, then runs a modal job with progress and Esc-cancel. Either way the
    scene changes only after the heads' result is complete."""

    kind = "fill"
    motif: IntProperty(name="Motif", default=-1, soft_min=-1, options={"SKIP_SAVE"},
                       description="Generate this motif of the object's motif library (-1 = none)")
    interactive: BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"},
                              description="Set by invoke: run as a modal job with progress and Esc-cancel")

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return obj is not None and obj.type == "ARMATURE"

    def plan(self, context, obj, rig, action):  # -> GenerationPlan | None
        raise NotImplementedError

    def request(self, context) -> Request | None:
        with armature.keys_read_once():  # every key of a long take is read once, not by each reader
            return self._request(context)

    def _request(self, context) -> Request | None:
        obj = context.active_object
        generated.check_storable(obj)
        armature.check_time_map(context.scene)
        rig = armature.detect_rig(obj)
        action = generated.user_action(obj)
        generated.check_no_muted_channels(obj, action)
        generated.check_replacing(obj)
        if not len(body_channels.keyed_frames(obj, action, rig)):
            raise errors.A4merError(f"{action.name!r} has no rotation or location keys on {obj.name!r}'s body bones: "
                                    "nothing to fill or extend")
        plan = self.plan(context, obj, rig, action)
        if plan is None or not plan.spans:
            return None
        generated.check_free(obj, plan.spans)  # before the model runs
        motion = generated.read_layered_motion(obj, context.scene, plan.first, plan.last, plan.spans)
        return Request(obj, rig, action, plan, motion, motif_choice(obj, self.motif))

    def nothing(self, plan) -> str:
        return "A4Mer: nothing to generate"

    def summary(self, made: list[dict], plan) -> str:
        frames = sum(s["last"] - s["first"] + 1 for s in made)
        skipped = f"; left alone: {'; '.join(f'{s}..{e} ({why})' for s, e, why in plan.skipped)}" if plan.skipped else ""
        return f"A4Mer: generated {frames} frames in {len(made)} span(s) on the A4Mer Generated track{skipped}"

    def execute(self, context):
        if self.interactive and context.window is not None and not bpy.app.background:  # dialog OK, not redo
            self.interactive = False
            return self.start_modal(context)
        try:
            req = self.request(context)
            if req is None:
                self.report({"INFO"}, self._noop(context))
                return {"FINISHED"}
            wm = context.window_manager
            result = runner.run_heads_sync(req.motion, get_settings(context), req.plan.verb, req.args(),
                                           on_progress=lambda p, m: setattr(wm, "a4mer_progress", p))
            made = apply(context, req, result, self.kind)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.done(context, made, req)
        return {"FINISHED"}

    def _noop(self, context) -> str:
        obj = context.active_object
        try:
            rig = armature.detect_rig(obj)
            return self.nothing(self.plan(context, obj, rig, generated.user_action(obj)))
        except errors.A4merError as e:
            return str(e)

    def done(self, context, made: list[dict], request: Request) -> None:
        """Scene settings after the result (for the armature it was made for), then the summary and
        the heads' warnings (e.g. a motif played much faster than its own speed) as reports, so they
        show in the status bar too."""
        self.after(context, made, find_object(request.obj_id))
        others = [o.name for o in getattr(context, "selected_objects", []) or []
                  if o.type == "ARMATURE" and o != context.active_object]
        if others:
            self.report({"INFO"}, f"A4Mer works on the active armature only; left alone: {', '.join(others[:5])}")
        warns = dict.fromkeys(w for s in made for w in (s.get("quality") or {}).get("warnings", []))
        for w in warns:
            self.report({"WARNING"}, f"A4Mer: {w}")
        obj = find_object(request.obj_id)
        solo = [t.name for t in obj.animation_data.nla_tracks if t.is_solo] if obj is not None else []
        if solo:  # Blender then plays that track alone: neither the A4Mer tracks nor the action show
            self.report({"WARNING"}, f"A4Mer: your NLA track {solo[0]!r} is solo, so the generated frames do not "
                                     "play until you turn its solo (star) off")
        self.report({"INFO"}, self.summary(made, request.plan))

    def after(self, context, made: list[dict], obj) -> None:
        """Scene settings after a result was applied (extend widens the scene range)."""

    # --- interactive: options dialog, then modal with a progress bar, Esc cancels ------------------
    def invoke(self, context, event):
        try:
            armature.check_time_map(context.scene)  # before the dialog, whose fields would be in action frames
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.interactive = True
        return context.window_manager.invoke_props_dialog(self, width=320)

    def start_modal(self, context):
        """Start the heads job and poll it from a timer (the UI stays responsive; Esc cancels)."""
        try:
            self._req = self.request(context)
            if self._req is None:
                self.report({"INFO"}, self._noop(context))
                return {"FINISHED"}
            job = runner.HeadsJob(self._req.motion, get_settings(context), self._req.plan.verb,
                                  self._req.args()).start()
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        return self.begin_modal(context, job, "generating")

    def finish(self, context, st):
        try:
            if st.error:
                raise errors.A4merError(f"A4Mer: {st.error}")
            made = apply(context, self._req, st.result, self.kind)
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.done(context, made, self._req)
        return {"FINISHED"}


class A4MER_OT_fill_gaps(GenerateBase, bpy.types.Operator):
    """Fill the gaps between keyed frames (preview range when enabled, else the whole action) with the
    in-betweening model, on the "A4Mer Generated" NLA track (your keys are not changed)"""

    bl_idname = "a4mer.fill_gaps"
    bl_label = "Fill Gaps"
    bl_options = {"REGISTER", "UNDO"}

    kind = "fill"
    use_custom_range: BoolProperty(name="Custom range", default=False, options={"SKIP_SAVE"},
                                   description="Fill the gaps in Start..End instead of the preview range / action "
                                               "(implied when Start or End is given)")
    frame_start: IntProperty(name="Start", default=1, options={"SKIP_SAVE"})
    frame_end: IntProperty(name="End", default=250, options={"SKIP_SAVE"})

    def frame_range(self, context, action) -> tuple[int, int]:
        """Start..End when given (or Custom range), else the preview range when enabled, else the action."""
        sc = context.scene
        f0, T = armature.action_frames(action, context.active_object)
        keys = (f0, f0 + T - 1)
        given = [self.properties.is_property_set(k) for k in ("frame_start", "frame_end")]
        custom = self.use_custom_range or any(given)
        preview = (sc.frame_preview_start, sc.frame_preview_end) if sc.use_preview_range else None
        if not custom:
            return gaps.resolve_range(keys, preview)
        try:  # the preview range fills in an end not given, unless it lies elsewhere
            default = gaps.resolve_range(keys, preview)
        except errors.A4merError:
            default = keys
        lo = self.frame_start if given[0] or self.use_custom_range else default[0]
        hi = self.frame_end if given[1] or self.use_custom_range else default[1]
        return gaps.resolve_range(keys, custom=(lo, hi))

    def plan(self, context, obj, rig, action):
        f0, T = armature.action_frames(action, obj)
        return gaps.plan_fill(body_channels.keyed_frames(obj, action, rig), (f0, f0 + T - 1),
                              self.frame_range(context, action), armature.scene_fps(context.scene))

    def nothing(self, plan) -> str:
        if plan is not None and plan.skipped:
            return "A4Mer: no gap filled; too long: " + "; ".join(f"{s}..{e} ({why})" for s, e, why in plan.skipped)
        return ("A4Mer: no gap between two keyed frames in the range: nothing to fill (frames after the last key "
                "are made with Extend)")

    def invoke(self, context, event):
        """The options dialog, Start/End pre-filled with the default range (preview range or action)."""
        try:
            armature.check_time_map(context.scene)
            lo, hi = self.frame_range(context, generated.user_action(context.active_object))
        except errors.A4merError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.frame_start, self.frame_end = lo, hi
        return super().invoke(context, event)

    def draw(self, context):
        col = self.layout.column()
        row = col.row(align=True)
        row.prop(self, "frame_start")
        row.prop(self, "frame_end")
        draw_motif(col, context.active_object, self)


classes = (A4MER_OT_fill_gaps,)
