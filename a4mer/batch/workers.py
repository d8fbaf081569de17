"""The worker processes of a batch (Blender with the add-on): their command line, the one-line JSON
request and result of each clip, and :class:`Worker`, a process that runs clip after clip."""
from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..processes import IN_BATCH_WORKER, TEMP_VARS, TEXT_PIPES, child_env, kill_tree, own_group
from .jobs import BatchOptions, ClipJob
from .workdirs import private_dir, release_dir

RESULT_TAG = "A4MER_RESULT "
#: what a serving worker prints once it has started (Python, Blender, the add-on) and reads requests
READY_TAG = "A4MER_READY"
#: seconds a worker may take to start (a cold Blender + torch on a farm node), counted apart from ``--timeout``
STARTUP_S = 600.0


def worker_args(job: ClipJob, tmp: Path, opts: BatchOptions) -> list[str]:
    """Arguments of ``a4mer_blender.batch_worker`` for ``job`` writing into ``tmp``. The clip is named by its
    own absolute path, not a link's target: it is read as ``a4mer segment`` reads it (an AMC's ASF found
    beside the link) and its armature and action are named after it."""
    args = ["--input", os.path.abspath(job.path), "--out-dir", str(tmp), "--final-dir", str(opts.out.resolve()),
            *_option("--name", job.name), "--no-pictures", "--motion-npz"]
    if opts.segment:
        args.append("--segment")
    if opts.fill_gaps:
        args.append("--fill-gaps")
    if opts.extend:
        args += ["--extend", str(int(opts.extend))]
    if opts.keep_reference_frames:
        args.append("--keep-reference-frames")
    for name, path in job.taken:
        args += _option("--taken", f"{name}={path}")
    asf = str(Path(opts.asf).resolve()) if opts.asf else None
    bone_map = str(Path(opts.bone_map).resolve()) if opts.bone_map else None
    for flag, value in (("--object", opts.object), ("--fps", opts.fps), ("--source-fps", opts.source_fps),
                        ("--asf", asf), ("--bone-map", bone_map), ("--scale", opts.scale),
                        ("--up", opts.up if opts.up != "auto" else None),
                        ("--twist", opts.twist if opts.twist != "rest" else None), ("--checkpoint", opts.checkpoint),
                        ("--vocab", opts.vocab), ("--device", opts.device), ("--python", opts.runner_python)):
        if value:
            args += _option(flag, str(value))
    return args


def _option(flag: str, value: str) -> list[str]:
    """``[flag, value]``, or ``[flag=value]`` for a value that starts with ``-`` (a clip named ``-walk.bvh``:
    argparse took its name for an option and the worker failed)."""
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


def default_blender_script() -> Path:
    """``scripts/blender_batch.py`` of this checkout."""
    return Path(__file__).resolve().parents[2] / "scripts" / "blender_batch.py"


def worker_command(opts: BatchOptions) -> list[str]:
    """The command line of a worker process that runs clips one after another (``--serve``: one request
    per line on its stdin, one result line each on its stdout; :class:`Worker`)."""
    if opts.blender:
        script = opts.blender_script or str(default_blender_script())
        return [opts.blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", script, "--", "--serve"]
    return [opts.python, "-m", "a4mer_blender.batch_worker", "--serve"]


def parse_result(line: str) -> dict | None:
    """The result of a worker's result line (None for any other line). The tag may follow other text on
    the line: Blender's C code buffers what it prints and may flush part of a line just before it."""
    at = line.find(RESULT_TAG)
    if at < 0:
        return None
    try:
        result = json.loads(line[at + len(RESULT_TAG):])
    except ValueError:
        return None
    return result if isinstance(result, dict) else None


def failure_reason(answer: "_Answer", result: dict | None, no_result: str = "worker gave no result line") -> str:
    """Why a clip failed: the worker's error, the problem that kept it from starting, its crash or
    exit code (with its last stderr lines), else ``no_result`` (it ended cleanly without a result)."""
    if result is not None and result.get("error"):
        return str(result["error"])
    if answer.problem:
        return answer.problem
    rc = answer.returncode or 0
    if rc == 0 and result is None:
        return no_result
    how = f"worker crashed (signal {-rc})" if rc < 0 else f"worker exited with code {rc}"
    tail = [ln for ln in (answer.stderr or "").strip().splitlines() if ln.strip()][-3:]
    return how + (": " + " | ".join(tail) if tail else "")


class _Procs:
    """Running worker processes (so an interrupt can stop them)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopping = False

    def add(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.add(proc)
            if self.stopping:
                kill_tree(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.discard(proc)

    def kill_all(self) -> None:
        with self.lock:
            self.stopping = True
            for p in self.procs:
                kill_tree(p)


def _worker_env(opts: BatchOptions, tmp: Path) -> dict[str, str]:
    """A worker's environment: BLAS threads shared out among the ``opts.jobs`` workers; its temporary
    files outside a clip in ``tmp`` (the Blender executable's own ``blender_*`` folder while it starts,
    which a Blender killed then leaves behind; each clip's go in the clip's working folder)."""
    env = child_env()
    threads = max(1, (os.cpu_count() or 1) // max(1, opts.jobs))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(k, str(threads))
    env.update(dict.fromkeys(TEMP_VARS, str(tmp)))
    env[IN_BATCH_WORKER] = "1"  # the model process of the add-on's runner stays in the group kill_tree stops
    return env


def _pump(stream, sink: Callable[[Any], None], end: bool) -> None:
    """Feed the lines of ``stream`` to ``sink`` (then None, when ``end``) until the process closes it."""
    try:
        for line in stream:
            sink(line.rstrip("\n"))
    except (OSError, ValueError):  # the pipe closed under the reader
        pass
    if end:
        sink(None)


#: clips one worker process runs before a fresh one replaces it (what a long batch may leak stays bounded)
CLIPS_PER_WORKER = 100


@dataclass
class _Answer:
    """What a worker did with one clip: its result line (None: none came), the worker's exit code (None:
    it still runs), the last lines of its stderr while it worked on the clip, whether it timed out, and a
    problem that kept the clip from beginning."""

    result: dict | None
    returncode: int | None
    stderr: str
    timed_out: bool = False
    problem: str = ""  # what went wrong before the clip began (the worker did not start)


class Worker:
    """One worker process that runs clips one after another, so Python, Blender, torch and the model start
    once per worker, not once per clip. It is started when a clip needs it and replaced by a fresh one
    after it crashed, timed out, hit an unexpected error (its state is not trusted then) or ran
    :data:`CLIPS_PER_WORKER` clips."""

    def __init__(self, opts: BatchOptions, procs: _Procs | None = None):
        self.opts, self.procs = opts, _Procs() if procs is None else procs
        self.proc: subprocess.Popen | None = None
        self.tmp: Path | None = None  # the process's temporary folder (a working folder in ``opts.out``)
        self.lines: queue.Queue = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=50)
        self.stderr_reader: threading.Thread | None = None
        self.served = 0
        self.ready = False
        self.requests = itertools.count(1)

    def _start(self) -> subprocess.Popen:
        self.lines, self.stderr, self.served, self.ready = queue.Queue(), deque(maxlen=50), 0, False  # its own
        self.tmp = private_dir(self.opts.out, "tmp", "worker")
        try:
            proc = subprocess.Popen(worker_command(self.opts), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, **TEXT_PIPES, env=_worker_env(self.opts, self.tmp),
                                    **own_group())
        except BaseException:
            self._release_tmp()
            raise
        self.procs.add(proc)
        threading.Thread(target=_pump, args=(proc.stdout, self.lines.put, True), daemon=True).start()
        self.stderr_reader = threading.Thread(target=_pump, args=(proc.stderr, self.stderr.append, False), daemon=True)
        self.stderr_reader.start()
        self.proc = proc
        return proc

    def _send(self, line: str) -> subprocess.Popen:
        """Send one request; to a fresh worker when there is none, the last one has ended, or it ends as
        the request is written (a fresh worker that ends before it reads the request is answered as one
        that ended while working on it)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
                return self.proc
            except (OSError, ValueError):
                pass
        self.stop()
        proc = self._start()
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        except (OSError, ValueError):  # it ended at once (a Blender missing a library): its exit code and
            pass                       # last words, read by run(), say why
        return proc

    def run(self, argv: list[str], tmpdir: Path, timeout: float = 0.0) -> _Answer:
        """Have the worker process one clip: ``argv``, the arguments of ``a4mer_blender.batch_worker``;
        ``tmpdir``, where what it starts for the clip writes its temporary files (so they go with the clip's
        working folder however the clip ends); waits at most ``timeout`` seconds (0: no limit). The request
        is one line of JSON, ASCII only whatever the worker's stdin encoding, with an id its result echoes."""
        request = next(self.requests)
        self.stderr.clear()
        proc = self._send(json.dumps({"id": request, "argv": argv, "tmpdir": str(Path(tmpdir).resolve())}))
        if not self.ready:  # a fresh worker: its start is not the clip's time
            started = time.monotonic() + max(STARTUP_S, timeout)
            while not self.ready:
                try:
                    line = self.lines.get(timeout=max(0.0, started - time.monotonic()))
                except queue.Empty:
                    self.stop(kill=True)
                    return _Answer(None, None, "", problem=f"the worker did not start within {max(STARTUP_S, timeout):g} s")
                if line is None:
                    return self._ended(proc)
                self.ready = line.startswith(READY_TAG)
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            try:
                line = self.lines.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop(kill=True)
                return _Answer(None, None, "", timed_out=True)
            if line is None:
                return self._ended(proc)
            result = parse_result(line)
            if result is not None and result.get("request") == request:
                self.served += 1
                if result.get("unexpected") or self.served >= CLIPS_PER_WORKER:
                    self.stop()
                return _Answer(result, None, "\n".join(self.stderr))

    def _ended(self, proc: subprocess.Popen) -> _Answer:
        """The answer of a worker that ended without answering: its exit code and last words."""
        rc = proc.wait()
        self.stderr_reader.join(5)
        self.stop()
        return _Answer(None, rc, "\n".join(self.stderr))

    def stop(self, kill: bool = False) -> None:
        """End the worker: its stdin closed (it ends after the clip in hand), or ``kill`` (everything it
        started too); waits for it, a worker that does not end in 30 s is killed. Its temporary folder goes."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if not kill:
            try:
                proc.stdin.close()
                proc.wait(30)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                kill = True
        if kill:
            kill_tree(proc)
            proc.wait()
        self.procs.discard(proc)
        self._release_tmp()

    def _release_tmp(self) -> None:
        tmp, self.tmp = self.tmp, None
        if tmp is not None:
            release_dir(tmp)
