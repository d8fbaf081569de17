"""Batch processing of many clips through Blender, without importing bpy here.

Clips run in worker processes (``PY -m a4mer_blender.batch_worker --serve`` with the bpy module, or
``blender -b --python scripts/blender_batch.py -- --serve``), each running clip after clip
(:class:`~a4mer.batch.workers.Worker`); a clip's worker writes into a private temporary folder
(:mod:`~a4mer.batch.workdirs`) inside the output folder; this process then draws the pictures and renames
the finished files into place (the ``.blend`` last), so an interrupted or failed clip leaves no ``<name>.*`` output and no
temporary file. A clip whose ``<name>.blend`` (and, with ``segment``, segment files) exist is
skipped unless ``force``.

Names: a clip's ``name`` comes from its own path only (the path below the folder argument it was found
in, parts joined by ``__``, after that folder's own name when several folders are given; the stem of a
file given directly), so adding clips never renames one; two inputs with the same name are refused
before anything runs, and a .blend armature's ``<blend>__<armature>`` outputs or a clip that would
overwrite another input's files fail that clip only (:func:`discover`, :func:`foreign_outputs`).

Sharding (``K/N``): clip ``name`` belongs to shard ``1 + (first 8 bytes of sha256(name), big-endian)
mod N``: disjoint, complete, independent of listing order and of where the folder is mounted, and
stable when clips are added.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

from ..errors import A4merError
from ..wording import counted
from .jobs import (INPUT_SUFFIXES, MOTION_SUFFIX, OBJECT_SEP, BatchOptions, ClipJob, ClipResult, check_names,
                   check_not_input_folder, check_rate, discover, first_clash, is_done, motion_file, parse_shard,
                   prepare_out, safe_name, select_shard, shard_of)
from .runs import (RunSummaries, earlier_outputs, foreign_outputs, latest_inputs, remove_stale, same_input, summary,
                   write_summary)
from .workdirs import LOCK_NAME, hold_dir, let_go, private_dir, release_dir, remove_dead_dirs
from .workers import (READY_TAG, RESULT_TAG, Worker, _Procs, default_blender_script, failure_reason, parse_result,
                      worker_args, worker_command)

__all__ = ["INPUT_SUFFIXES", "MOTION_SUFFIX", "OBJECT_SEP", "BatchOptions", "ClipJob", "ClipResult", "check_names",
           "check_not_input_folder", "check_rate", "discover", "first_clash", "is_done", "motion_file", "parse_shard",
           "prepare_out", "safe_name", "select_shard", "shard_of", "RunSummaries", "earlier_outputs", "foreign_outputs", "remove_stale",
           "summary", "write_summary", "LOCK_NAME", "hold_dir", "let_go", "private_dir", "release_dir",
           "remove_dead_dirs", "READY_TAG", "RESULT_TAG", "Worker", "default_blender_script", "failure_reason",
           "parse_result", "worker_args", "worker_command", "Terminated", "run_batch", "run_clip", "STOP_SIGNALS"]

def _exports(tmp: Path, opts: BatchOptions) -> None:
    """``opts.exports`` of every armature the worker wrote (:func:`motion_file` + segments)."""
    from ..export import SUFFIX, export
    from ..io.amass import read_amass_npz
    for mf in sorted(tmp.glob(motion_file("*"))):
        stem = mf.name[1: -len(MOTION_SUFFIX)]
        js = tmp / f"{stem}.segments.json"
        seg = json.loads(js.read_text(encoding="utf-8")) if js.is_file() else None
        motion = read_amass_npz(mf)
        for fmt in opts.exports:
            export(motion, tmp / f"{stem}{SUFFIX[fmt]}", fmt, segments=seg,
                   motif_names=(seg or {}).get("motif_names") or None, name=stem, feat_p=f"{stem}.npz")


def _draw(tmp: Path, opts: BatchOptions) -> None:
    """Pictures of every segments file in ``tmp`` (timeline; gallery when asked), then the exports."""
    from ..plots import motif_gallery_png, timeline_png
    if opts.exports:
        _exports(tmp, opts)
    for js in sorted(tmp.glob("*.segments.json")):
        stem = js.name[: -len(".segments.json")]
        seg = json.loads(js.read_text(encoding="utf-8"))
        names = seg.get("motif_names") or None
        timeline_png(seg, tmp / f"{stem}.timeline.png", title=f"{stem}: {counted(len(seg['atoms']), 'atom')}, "
                     f"{counted(len(seg['motifs']), 'motif occurrence')}, {seg['duration']:.2f} s", motif_names=names)
        if opts.gallery:
            from ..io.amass import read_amass_npz
            motion = read_amass_npz(tmp / motion_file(stem))
            motif_gallery_png(motion, seg, tmp / f"{stem}.gallery.png", motif_names=names,
                              title=f"{stem}: motif gallery (side view, light = early, dark = late)")


def _commit(tmp: Path, out: Path) -> list[str]:
    """Rename the finished files of ``tmp`` into ``out`` (the .blend last); returns their names."""
    files = sorted(_commit_files(tmp), key=lambda f: (f.endswith(".blend"), f))
    for f in files:
        os.replace(tmp / f, out / f)
    return files


def _commit_files(tmp: Path) -> list[str]:
    """The finished files of ``tmp`` (not hidden ones: the motion npz the pictures were drawn from)."""
    return sorted(f.name for f in tmp.iterdir() if f.is_file() and not f.name.startswith("."))


def run_clip(job: ClipJob, opts: BatchOptions, worker: Worker, runs: RunSummaries) -> ClipResult:
    """Process one clip in ``worker``; never raises for a bad clip (the result says why). A clip whose
    worker was stopped by :meth:`_Procs.kill_all` raises KeyboardInterrupt (it did not finish). ``runs``:
    the earlier runs' summaries of ``opts.out``."""
    t0 = time.perf_counter()
    res = ClipResult(str(job.path), job.name, "failed")
    try:  # a full disk or a path too long (Windows) fails this clip, not the run
        tmp = private_dir(opts.out, "tmp", job.name[:40])
    except OSError as e:
        res.reason = f"cannot make its working folder in {opts.out} ({e.strerror or e})"
        return res
    try:
        try:
            (tmp / "tmp").mkdir()
        except OSError as e:
            res.reason = f"cannot make its working folder in {opts.out} ({e.strerror or e})"
            return res
        answer = worker.run(worker_args(job, tmp, opts), tmp / "tmp", opts.timeout)
        if answer.timed_out:
            res.reason = f"timed out after {opts.timeout:g} s"
            return res
        if worker.procs.stopping and answer.result is None:
            raise KeyboardInterrupt
        result = answer.result
        if result is not None:
            res.notes = list(result.get("notes", []))
            res.objects = list(result.get("objects", []))
        if result is None or result.get("error"):
            res.reason = failure_reason(answer, result)
            return res
        _draw(tmp, opts)
        clash = foreign_outputs(runs, job.name, _commit_files(tmp))
        if clash:
            f, (n, src) = next(iter(clash.items()))
            res.reason = (f"would overwrite {f}, which an earlier run wrote for {n} ({src}): rename or move one "
                          "of them (or remove that file, if it is no longer wanted)")
            return res
        res.outputs = _commit(tmp, opts.out)
        gone = remove_stale(runs, job.name, res.outputs)
        if gone:
            res.notes.append(f"removed {len(gone)} output(s) of an earlier run not written this time: {', '.join(gone)}")
        res.status = "ok"
    except A4merError as e:
        res.reason = str(e)
    except Exception as e:  # a picture that cannot be drawn, a full disk ...: this clip fails, not the run
        if worker.procs.stopping:  # a worker killed as the request went out: the clip did not finish
            raise KeyboardInterrupt from None
        res.reason = f"{type(e).__name__}: {e}"
    finally:
        release_dir(tmp)
        res.seconds = round(time.perf_counter() - t0, 3)
    return res


def _line(i: int, n: int, r: ClipResult) -> str:
    if r.status == "ok":
        extra = f"; {'; '.join(r.notes)}" if r.notes else ""
        found = ", ".join(f"{o['object']}: {counted(o['frames'], 'frame')}, {counted(o['atoms'], 'atom')}, "
                          f"{counted(o['motifs'], 'motif')}"
                          for o in r.objects if "atoms" in o)
        found = f" [{found}]" if found else ""
        files = counted(len(r.outputs), "file")
        return f"[{i}/{n}] ok      {r.name} ({r.input}) -> {files}, {r.seconds:.1f} s{found}{extra}"
    if r.status == "skipped":
        return f"[{i}/{n}] skipped {r.name} ({r.input}): finished earlier (--force redoes it)"
    return f"[{i}/{n}] FAILED  {r.name} ({r.input}): {r.short_reason()}"


class Terminated(KeyboardInterrupt):
    """SIGTERM (Slurm ``scancel`` or time limit, a farm manager stopping a task), SIGHUP (the terminal
    closed, an ssh connection dropped), SIGBREAK (Windows: Ctrl-Break) or SIGPIPE (the reader of its output
    went away): stops a batch as Ctrl-C does. ``signum``: the signal."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def signame(self) -> str:
        return signal.Signals(self.signum).name


#: signals handled like Ctrl-C (the workers run in their own session: no signal of the terminal reaches them)
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGBREAK") if hasattr(signal, n))


def _terminate(signum, frame):
    raise Terminated(signum)


def _tell(log: Callable[[str], None], text: str) -> None:
    """``log(text)``; a reader that went away (``a4mer batch ... | head``: a closed pipe) stops the batch
    as SIGPIPE stops other programs, by :class:`Terminated`, so the clips finished so far get their summary
    (it ran on silently and wrote none)."""
    try:
        log(text)
    except BrokenPipeError:
        raise Terminated(getattr(signal, "SIGPIPE", signal.SIGTERM)) from None


def _say(log: Callable[[str], None], text: str) -> None:
    """``log(text)``, ignoring a terminal that is gone (after SIGHUP a write to it fails)."""
    try:
        log(text)
    except OSError:
        pass


def run_batch(jobs: list[ClipJob], opts: BatchOptions, log: Callable[[str], None] = print,
              results: dict[int, ClipResult] | None = None) -> list[ClipResult]:
    """Run ``jobs`` with ``opts.jobs`` workers at once; results in input order. Finished clips are
    skipped unless ``opts.force``. Ctrl-C (or SIGTERM, as :class:`Terminated`, when called from the
    main thread; SIGHUP too) stops the workers and everything they started (their temporary folders are removed);
    ``results`` (job index -> result) then holds every clip finished so far, those whose files were
    being committed at that moment included. Hidden working folders that killed earlier runs left
    in ``opts.out`` are removed first (:func:`remove_dead_dirs`)."""
    prepare_out(opts.out)
    remove_dead_dirs(opts.out)
    results = {} if results is None else results
    todo = []
    n = len(jobs)
    done_count = 0
    runs = RunSummaries(opts.out)
    latest = {} if opts.force else latest_inputs(runs)
    for i, job in enumerate(jobs):
        if not opts.force and is_done(job, opts):
            other = latest.get(job.name)
            if other is None or same_input(other, job.path):
                results[i] = ClipResult(str(job.path), job.name, "skipped")
            else:  # another take of that name: its files are not this clip's results
                results[i] = ClipResult(str(job.path), job.name, "failed", reason=(
                    f"{job.path}: {job.name}.* in {opts.out} were written for another input, {other}: give this run "
                    "another --out folder (or --force to replace them)"))
            done_count += 1
            _tell(log, _line(done_count, n, results[i]))
        else:
            todo.append(i)
    procs = _Procs()
    slots = max(1, opts.jobs)
    idle: queue.Queue[Worker] = queue.Queue()
    workers = [Worker(opts, procs) for _ in range(slots)]
    for w in workers:
        idle.put(w)

    def clip(i: int) -> ClipResult:  # on the next idle worker (one clip at a time each)
        worker = idle.get()
        try:
            return run_clip(jobs[i], opts, worker, runs)
        finally:
            idle.put(worker)

    pool = ThreadPoolExecutor(max_workers=slots)
    main_thread = threading.current_thread() is threading.main_thread()
    old = {s: signal.signal(s, _terminate) for s in STOP_SIGNALS} if main_thread else {}
    futs: dict = {}
    try:
        futs = {pool.submit(clip, i): i for i in todo}
        pending = set(futs)
        while pending:  # a timed wait: on Windows Ctrl-C does not interrupt an untimed one (Python < 3.14)
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=futs.get):
                results[futs[fut]] = fut.result()
                done_count += 1
                _tell(log, _line(done_count, n, results[futs[fut]]))
    except KeyboardInterrupt:
        procs.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, i in futs.items():  # clips that finished while the interrupt came in
            if i not in results and fut.done() and not fut.cancelled() and fut.exception() is None:
                results[i] = fut.result()
                done_count += 1
                _say(log, _line(done_count, n, results[i]))
        raise
    finally:
        pool.shutdown(wait=True)
        for w in workers:
            w.stop()
        for s, handler in old.items():
            signal.signal(s, handler)
    return [results[i] for i in range(n)]
