"""Modal running of a runner job: timer, progress bar, status text, Esc cancels (scene unchanged)."""
from __future__ import annotations


def data_id(block) -> int:
    """What tells an armature object or action from another while a job runs, whatever it is called: a
    rename meanwhile is no change, another one put in its place is (``session_uid`` also survives the
    undo steps that may reallocate the data)."""
    return int(block.session_uid)


def find_object(uid: int):
    """The object of ``data_id`` ``uid`` (renamed or not), or None where it was removed."""
    import bpy
    return next((o for o in bpy.data.objects if int(o.session_uid) == uid), None)


class ModalJobMixin:
    """For operators whose ``invoke`` starts a runner job (``poll()``, ``cancel()``, ``cleanup()``).

    ``begin_modal`` adds the timer and progress bar; ``modal`` polls the job, shows its progress and
    calls ``self.finish(context, state) -> {'FINISHED'} | {'CANCELLED'}`` once it is done. Esc cancels
    the job and leaves the scene as it was. The job's files are cleaned up in every case."""

    def begin_modal(self, context, job, message: str):
        self._job = job
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.progress_begin(0, 100)
        wm.a4mer_status = f"A4Mer: {message} (Esc cancels)"
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _end_modal(self, context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        wm.a4mer_status = ""
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def cancel(self, context) -> None:
        """Blender ends the operator (a file loaded, Blender closing) or :meth:`modal` gives up: the job is
        stopped, its files removed, the timer and progress bar taken away."""
        self._job.cancel()
        self._end_modal(context)
        self._job.cleanup()

    def modal(self, context, event):
        if event.type == "ESC":
            self.cancel(context)
            self.report({"WARNING"}, "A4Mer: cancelled, nothing changed")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            st = self._job.poll()
        except Exception as e:  # never leave the timer, the progress bar or the worker behind
            self.cancel(context)
            self.report({"ERROR"}, f"A4Mer: {type(e).__name__}: {e}")
            return {"CANCELLED"}
        wm = context.window_manager
        wm.progress_update(int(100 * st.progress))
        wm.a4mer_progress = st.progress
        wm.a4mer_status = f"A4Mer: {st.message} ({100 * st.progress:.0f} %) - Esc cancels"
        if context.workspace is not None:
            context.workspace.status_text_set(wm.a4mer_status)
        if context.area is not None:
            context.area.tag_redraw()
        if not st.done:
            return {"PASS_THROUGH"}
        self._end_modal(context)
        try:
            return self.finish(context, st)
        finally:
            self._job.cleanup()
