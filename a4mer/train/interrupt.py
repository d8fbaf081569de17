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


class HoldInterrupt:
    """Context manager: a Ctrl-C (SIGINT) arriving inside the block is held until the block ends and
    then raised as :class:`KeyboardInterrupt`, so the block (an optimiser step and its bookkeeping)
    runs whole. Acts only in the main thread while SIGINT has Python's default handler (elsewhere
    it does nothing); a KeyboardInterrupt raised by code inside the block passes through at once."""

    def __enter__(self) -> "HoldInterrupt":
        self.held = False
        self.active = (threading.current_thread() is threading.main_thread()
                       and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if self.active:
            signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum: int, frame: object) -> None:
        self.held = True

    def __exit__(self, kind: type | None, value: BaseException | None, tb: object) -> bool:
        if self.active:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.held and kind is None:
            raise KeyboardInterrupt
        return False
