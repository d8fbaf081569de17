"""The modal job loop shared by Segment / Fill / Extend, driven with stand-in context objects
(modal operators need a window, which headless Blender has not)."""
from types import SimpleNamespace

import pytest

pytest.importorskip("bpy")
from a4mer_blender.operators._modal import ModalJobMixin  # noqa: E402


class FakeWM:
    def __init__(self):
        self.calls = []
        self.a4mer_status = ""
        self.a4mer_progress = 0.0

    def event_timer_add(self, step, window=None):
        self.calls.append("timer+")
        return "timer"

    def event_timer_remove(self, timer):
        self.calls.append("timer-")

    def progress_begin(self, a, b):
        self.calls.append("bar+")

    def progress_update(self, v):
        self.calls.append(f"bar={v}")

    def progress_end(self):
        self.calls.append("bar-")

    def modal_handler_add(self, op):
        self.calls.append("handler")


class FakeJob:
    def __init__(self, states):
        self.states = list(states)
        self.cancelled = self.cleaned = False

    def poll(self):
        return self.states.pop(0)

    def cancel(self):
        self.cancelled = True

    def cleanup(self):
        self.cleaned = True


class Op(ModalJobMixin):
    def __init__(self):
        self.reports, self.finished = [], None

    def report(self, kind, msg):
        self.reports.append((kind, msg))

    def finish(self, context, st):
        self.finished = st.result
        return {"FINISHED"}


def _ctx():
    return SimpleNamespace(window_manager=FakeWM(), window=None, workspace=None, area=None)


def _st(p, done=False, result=None):
    return SimpleNamespace(progress=p, message="working", done=done, error=None, result=result)


def test_progress_then_finish_and_cleanup():
    ctx, op = _ctx(), Op()
    job = FakeJob([_st(0.5), _st(1.0, True, "RESULT")])
    assert op.begin_modal(ctx, job, "starting") == {"RUNNING_MODAL"}
    timer = SimpleNamespace(type="TIMER")
    assert op.modal(ctx, SimpleNamespace(type="MOUSEMOVE")) == {"PASS_THROUGH"}
    assert op.modal(ctx, timer) == {"PASS_THROUGH"} and ctx.window_manager.a4mer_progress == 0.5
    assert op.modal(ctx, timer) == {"FINISHED"}
    assert op.finished == "RESULT" and job.cleaned and not job.cancelled
    assert ctx.window_manager.calls[-2:] == ["timer-", "bar-"] and ctx.window_manager.a4mer_status == ""


def test_escape_cancels_without_finishing():
    ctx, op = _ctx(), Op()
    job = FakeJob([_st(0.2)])
    op.begin_modal(ctx, job, "starting")
    assert op.modal(ctx, SimpleNamespace(type="ESC")) == {"CANCELLED"}
    assert job.cancelled and job.cleaned and op.finished is None
    assert op.reports and "cancelled" in op.reports[0][1]
