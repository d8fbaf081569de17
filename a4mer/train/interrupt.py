"""Ctrl-C during training: optimiser steps are never cut in half, and the run ends with a checkpoint
at its last completed step (see :func:`a4mer.train.loop.train`)."""
from __future__ import annotations

import signal
import threading
from pathlib import Path


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or another KeyboardInterrupt) stopped :func:`~a4mer.train.loop.train`.

    ``out``: the run folder; ``step``: the last completed optimiser step (of ``total``); ``saved``:
    True when a checkpoint at ``step`` was written to ``out`` (``resume=True`` / ``--resume``
    continues from it; False before the first step and on ranks > 0); ``rank``: this process's rank.
    """

    def __init__(self, out: Path, step: int, total: int, saved: bool, rank: int = 0):
        self.out, self.step, self.total, self.saved, self.rank = Path(out), step, total, saved, rank
        where = f"checkpoint at step {step} of {total} saved in {out}" if saved else "nothing saved"
        super().__init__(f"training interrupted: {where}")


def raise_interrupt(signum: int, frame: object) -> None:
    """A signal handler that treats its signal as Ctrl-C (``a4mer train`` installs it for SIGTERM, what
    a scheduler sends to stop a job): raises :class:`KeyboardInterrupt`, held by :class:`HoldInterrupt`
    like SIGINT. Works where SIGINT is ignored (a job started in the background)."""
    raise KeyboardInterrupt


class HoldInterrupt:
    """Context manager: a Ctrl-C (SIGINT), or a signal handled by :func:`raise_interrupt`, arriving inside
    the block is held until the block ends and then raised as :class:`KeyboardInterrupt`, so the block
    (an optimiser step and its bookkeeping) runs whole. Acts only in the main thread, on the signals
    whose handler raises (Python's default SIGINT handler, :func:`raise_interrupt`); a KeyboardInterrupt
    raised by code inside the block passes through at once."""

    def __enter__(self) -> "HoldInterrupt":
        self.held = False
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handler = signal.getsignal(sig)
                if handler is signal.default_int_handler or handler is raise_interrupt:
                    self.saved[sig] = handler
                    signal.signal(sig, self._hold)
        return self

    def _hold(self, signum: int, frame: object) -> None:
        self.held = True

    def __exit__(self, kind: type | None, value: BaseException | None, tb: object) -> bool:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        if self.held and kind is None:
            raise KeyboardInterrupt
        return False
