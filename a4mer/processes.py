"""Child processes (the batch's Blender workers, the add-on's model worker, ``export``'s .blend
reader) the same way on Linux, macOS and Windows: text pipes, environment, starting and stopping.

Blender writes UTF-8 on every platform, and a child Python told ``PYTHONUTF8=1`` does too, while a
Windows parent would decode a pipe in its ANSI code page (cp1252, cp932, ...): a clip named ``歩く``
then failed with UnicodeDecodeError and a worker's message was lost. So every pipe is read as UTF-8,
an undecodable byte replaced rather than failing.
"""
from __future__ import annotations

import os
import signal
import subprocess

#: keyword arguments of ``subprocess.run`` / ``Popen`` for a child's text output
TEXT_PIPES = {"encoding": "utf-8", "errors": "replace"}

#: Windows: no process groups, no SIGKILL; a tree is killed with taskkill
WINDOWS = os.name == "nt"
#: environment variables naming the temporary folder (POSIX; Windows)
TEMP_VARS = ("TMPDIR", "TEMP", "TMP")


def child_env(drop_python_path: bool = False) -> dict[str, str]:
    """The environment for a child process: this one's with ``PYTHONUTF8=1`` (a
    child Python writes UTF-8 whatever the Windows code page) and ``PYTHONSAFEPATH=1`` (a child
    ``python -m ...`` does not import from the current folder first: a ``json.py`` in the asset pack an
    animator ran ``a4mer batch .`` in was run); ``drop_python_path``: without
    ``PYTHONPATH`` / ``PYTHONHOME`` (Blender sets them for its own Python; another interpreter must not
    read its standard library from there)."""
    env = {k: v for k, v in os.environ.items() if not (drop_python_path and k in ("PYTHONPATH", "PYTHONHOME"))}
    env["PYTHONUTF8"] = "1"
    env["PYTHONSAFEPATH"] = "1"
    return env


def own_group() -> dict:
    """Keyword arguments of ``Popen`` that start a child in its own process group (session), so that
    :func:`kill_tree` reaches everything it starts and a terminal's Ctrl-C reaches only the parent,
    which stops its children itself."""
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


#: in the environment of ``a4mer batch``'s workers: what they start stays in their process group
IN_BATCH_WORKER = "A4MER_BATCH_WORKER"


def worker_group() -> dict:
    """:func:`own_group` for a worker of Blender's add-on: :func:`kill_tree` stops it with everything it
    started (a launcher's Python), and on Windows it opens no console window. Inside a worker of
    ``a4mer batch`` (:data:`IN_BATCH_WORKER` set) it stays in that worker's group instead, which the
    batch kills whole on a timeout or Ctrl-C (in a session of its own it outlived them by seconds)."""
    if WINDOWS:  # no console window either (Blender's add-on starting its worker Python); taskkill /T reaches it
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
    if os.environ.get(IN_BATCH_WORKER):
        return {}
    return own_group()


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` (started with :func:`own_group`) and everything it started (Blender, the model
    subprocess of a worker): its process group, or on Windows its process tree (``taskkill /T``)."""
    if proc.returncode is not None:  # reaped already: its pid may be another process's by now
        return
    try:  # also when the worker has ended but is not reaped: what it started may still hold its output pipe
        if WINDOWS:
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # the group is gone already (ProcessLookupError), or taskkill is missing
        pass
    if proc.poll() is None:
        proc.kill()
