"""Batch processing of many clips through Blender, without importing bpy here.

Each clip runs in its own worker process (``PY -m a4mer_blender.batch_worker`` with the bpy module,
or ``blender -b --python scripts/blender_batch.py``), which writes into a private temporary folder
inside the output folder; this process then draws the pictures and renames the finished files into
place (the ``.blend`` last), so an interrupted or failed clip leaves no ``<name>.*`` output and no
temporary file. A clip whose ``<name>.blend`` (and, with ``segment``, segment files) exist is
skipped unless ``force``.

Names: a clip's ``name`` comes from its own path only (the path below the folder argument it was found
in, parts joined by ``__``; the stem of a file given directly), so adding clips never renames one;
two inputs that would write the same outputs are refused before anything runs.

Sharding (``K/N``): clip ``name`` belongs to shard ``1 + (first 8 bytes of sha256(name), big-endian)
mod N``: disjoint, complete, independent of listing order and of where the folder is mounted, and
stable when clips are added.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import A4merError

#: suffixes a batch picks up in folders
INPUT_SUFFIXES = (".npz", ".bvh", ".amc", ".blend")
RESULT_TAG = "A4MER_RESULT "
#: separator between the clip name and the armature name when a .blend holds several SMPL armatures
OBJECT_SEP = "__"


@dataclass(frozen=True)
class ClipJob:
    """One input file and the ``name`` its outputs get (``<out>/<name>.blend`` ...)."""

    path: Path
    name: str


@dataclass(frozen=True)
class BatchOptions:
    """What to do with every clip. out: output folder. segment/fill_gaps/extend: the steps (extend =
    frames to add, 0 = none). jobs: worker processes at once. shard: (K, N) or None. force: redo
    finished clips. object: armature name in .blend inputs. python: worker interpreter (has bpy);
    blender: Blender executable (then ``blender -b`` runs the worker script; ``runner_python`` is the
    interpreter with torch that runs the model for it). fps: scene rate (None = the clip's own).
    source_fps, asf, keep_reference_frames: how clips are read (as ``a4mer segment`` reads them).
    timeout: seconds per clip (0 = none). gallery: also draw ``<name>.gallery.png``. exports: formats
    of :mod:`a4mer.export` also written per clip (``<name>.npz``, ``.bvh``, ``.babel.json``). checkpoint,
    vocab, device: the model."""

    out: Path
    segment: bool = False
    fill_gaps: bool = False
    extend: int = 0
    jobs: int = 1
    shard: tuple[int, int] | None = None
    force: bool = False
    object: str | None = None
    python: str = field(default_factory=lambda: sys.executable)
    blender: str | None = None
    blender_script: str | None = None
    runner_python: str | None = None
    fps: float | None = None
    source_fps: float | None = None
    asf: str | None = None
    keep_reference_frames: bool = False
    timeout: float = 0.0
    gallery: bool = False
    exports: tuple[str, ...] = ()
    checkpoint: str | None = None
    vocab: str | None = None
    device: str | None = None


@dataclass
class ClipResult:
    """Outcome of one clip: status "ok" | "failed" | "skipped", reason (failed), outputs written,
    notes from the worker (e.g. fill-gaps no-op), wall seconds."""

    input: str
    name: str
    status: str
    reason: str = ""
    outputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def short_reason(self) -> str:
        """``reason`` without a leading "<input path>: " (for lines that name the clip already)."""
        for p in (self.input, str(Path(self.input).resolve())):
            if self.reason.startswith(p + ": "):
                return self.reason[len(p) + 2:]
        return self.reason


# --- discovery and naming ----------------------------------------------------------------------
def discover(items: list[str | os.PathLike], exclude: Path | None = None,
             object: str | None = None) -> list[ClipJob]:
    """Clip jobs for files and folders (folders searched recursively for .npz/.bvh/.amc/.blend;
    hidden files and, when ``exclude`` lies inside a folder argument, files under ``exclude`` are
    skipped; files given directly are taken as they are, so a wrong one fails by name). A clip's name
    depends on its own path only, so that adding clips never renames (and re-shards) a finished one:
    its path below the folder argument, parts joined by ``__`` (``day1/walk.bvh`` -> ``day1__walk``),
    or the stem of a file given directly; see :func:`check_names` for the clashes refused."""
    from .api import find_clips
    jobs: list[ClipJob] = []
    seen: set[Path] = set()
    for item in items:
        p = Path(item)
        for f in find_clips(p, INPUT_SUFFIXES, exclude=exclude) if p.is_dir() else [p]:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                parts = f.relative_to(p).with_suffix("").parts if p.is_dir() else (f.stem,)
                jobs.append(ClipJob(f, safe_name(OBJECT_SEP.join(parts))))
    if not jobs:
        raise A4merError("no input clips (.npz/.bvh/.amc/.blend) found in " + ", ".join(map(str, items)))
    check_names(jobs, several_armatures=object is None)
    return jobs


def check_names(jobs: list[ClipJob], several_armatures: bool = True) -> None:
    """:class:`A4merError` naming both inputs when two jobs would write the same outputs: equal names
    (compared ignoring case, as macOS and Windows file systems do), or, with ``several_armatures``
    (no ``--object``), a clip named ``<blend>__<x>`` beside a .blend ``<blend>`` whose armatures each
    write ``<blend>__<armature>.*``."""
    first: dict[str, ClipJob] = {}
    for job in jobs:
        other = first.setdefault(job.name.casefold(), job)
        if other is not job:
            raise A4merError(f"{other.path} and {job.path} would both write {job.name}.*: rename or move one of "
                             "them (a clip is named by its path below the folder given: day1/walk.bvh -> day1__walk)")
    if several_armatures:
        for blend in (j for j in jobs if j.path.suffix.lower() == ".blend"):
            prefix = f"{blend.name}{OBJECT_SEP}".casefold()
            for job in jobs:
                if job.name.casefold().startswith(prefix):
                    raise A4merError(f"{job.path} writes {job.name}.*, which a .blend with several armatures, "
                                     f"{blend.path}, writes as {blend.name}{OBJECT_SEP}<armature>.*: rename one "
                                     "of them, or pass --object")


def safe_name(text: str) -> str:
    """``text`` usable as a file stem on every OS (keeps letters, digits, ``-_.``)."""
    out = re.sub(r"[^\w.\-]+", "_", text).strip("._") or "clip"
    return out[:150]


# --- sharding ----------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" (1 <= K <= N) -> (K, N)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise A4merError(f"--shard must look like K/N (e.g. 3/8), got {text!r}")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise A4merError(f"--shard {text}: need 1 <= K <= N")
    return k, n


def shard_of(name: str, n: int) -> int:
    """The shard (1..n) of clip ``name``: 1 + (the first 8 bytes of sha256(name), big-endian) mod n."""
    return 1 + int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % n


def select_shard(jobs: list[ClipJob], shard: tuple[int, int] | None) -> list[ClipJob]:
    """The jobs of shard ``(K, N)`` (all when None), in input order."""
    if shard is None:
        return list(jobs)
    k, n = shard
    return [j for j in jobs if shard_of(j.name, n) == k]


# --- gaps (used by the worker; numpy only) --------------------------------------------------------
def gap_runs(keyed: np.ndarray, first: int, last: int) -> list[tuple[int, int]]:
    """Missing stretches of a clip keyed at frames ``keyed`` (any order, integers) over ``first..last``:
    ``[(s, e)]`` pairs of keyed frames with unkeyed frames strictly between (s + 1 < e)."""
    k = np.unique(np.asarray(keyed, dtype=np.int64))
    k = k[(k >= first) & (k <= last)]
    return [(int(a), int(b)) for a, b in zip(k[:-1], k[1:]) if b - a > 1]


# --- outputs, skip / force ------------------------------------------------------------------------
def is_done(job: ClipJob, opts: BatchOptions) -> bool:
    """True when ``job``'s outputs from an earlier run are all there (the .blend is renamed last)."""
    out = opts.out
    if not (out / f"{job.name}.blend").is_file():
        return False
    from .export import SUFFIX
    for fmt in opts.exports:
        suffix = SUFFIX[fmt]
        if not (out / f"{job.name}{suffix}").is_file() and \
                not any(out.glob(f"{glob_escape(job.name)}{OBJECT_SEP}*{suffix}")):
            return False
    if not opts.segment:
        return True
    jsons = [out / f"{job.name}.segments.json"] if (out / f"{job.name}.segments.json").is_file() else \
        sorted(out.glob(f"{glob_escape(job.name)}{OBJECT_SEP}*.segments.json"))
    if not jsons:
        return False
    for js in jsons:
        stem = js.name[: -len(".segments.json")]
        if not (out / f"{stem}.timeline.png").is_file():
            return False
        if opts.gallery and not (out / f"{stem}.gallery.png").is_file():
            return False
    return True


def check_rate(value: float | None, option: str) -> None:
    """:class:`A4merError` naming ``option`` unless ``value`` is None or a positive frame rate."""
    if value is not None and not 0 < value < float("inf"):
        raise A4merError(f"{option} must be a positive frame rate, got {value:g}")


def check_not_input_folder(out: Path, inputs: list[Path], option: str = "--out") -> None:
    """Refuse an output folder that holds one of ``inputs``: a ``.blend`` is written under its own name
    there, over the input."""
    beside = next((p for p in inputs if Path(p).resolve().parent == out.resolve()), None)
    if beside is not None:
        raise A4merError(f"{option} {out}: the folder of the input {beside}; outputs there could overwrite inputs "
                         "(a .blend is written under its own name): choose another folder")


def prepare_out(out: Path, option: str = "--out", runs: bool = True) -> None:
    """Create ``out`` (and ``out/runs`` for the run summaries); :class:`A4merError` naming ``option``,
    the folder and the problem (a file in the way, no permission) before any clip runs."""
    for d in (out, out / "runs") if runs else (out,):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise A4merError(f"{option} {out}: {d} is a file, not a folder") from None
        except OSError as e:
            raise A4merError(f"{option} {out}: cannot create the folder {d} ({e.strerror or e})") from None
        if not os.access(d, os.W_OK | os.X_OK):
            raise A4merError(f"{option} {out}: the folder {d} is not writable")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40]


#: hidden working folders: ``.a4mer-<tmp|part>-<pid>@<host>-<label>-<random>``
_PRIVATE = re.compile(r"^\.a4mer-(?:tmp|part)-(\d+)@([A-Za-z0-9._]*)-")


def private_dir(parent: Path, kind: str, label: str = "") -> Path:
    """A new hidden folder in ``parent`` named after this process (pid and host), so that a later run
    can tell one left by a killed process (:func:`remove_dead_dirs`)."""
    return Path(tempfile.mkdtemp(prefix=f".a4mer-{kind}-{os.getpid()}@{_host()}-{label}-", dir=parent))


def remove_dead_dirs(parent: Path) -> list[str]:
    """Remove the hidden working folders in ``parent`` that a process of this host made and that
    process is gone (killed by SIGKILL, a crash, a power cut); folders of running processes, or of
    other hosts writing into the same shared folder, are left alone. Returns the names removed."""
    gone = []
    for d in parent.glob(".a4mer-*"):
        m = _PRIVATE.match(d.name)
        if not (m and d.is_dir() and m.group(2) == _host()) or _alive(int(m.group(1))):
            continue
        shutil.rmtree(d, ignore_errors=True)
        gone.append(d.name)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's process
        return True
    return True


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def worker_args(job: ClipJob, tmp: Path, opts: BatchOptions) -> list[str]:
    """Arguments of ``a4mer_blender.batch_worker`` for ``job`` writing into ``tmp``."""
    args = ["--input", str(job.path.resolve()), "--out-dir", str(tmp), "--name", job.name, "--no-pictures",
            "--motion-npz"]
    if opts.segment:
        args.append("--segment")
    if opts.fill_gaps:
        args.append("--fill-gaps")
    if opts.extend:
        args += ["--extend", str(int(opts.extend))]
    if opts.keep_reference_frames:
        args.append("--keep-reference-frames")
    asf = str(Path(opts.asf).resolve()) if opts.asf else None
    for flag, value in (("--object", opts.object), ("--fps", opts.fps), ("--source-fps", opts.source_fps),
                        ("--asf", asf), ("--checkpoint", opts.checkpoint),
                        ("--vocab", opts.vocab), ("--device", opts.device), ("--python", opts.runner_python)):
        if value:
            args += [flag, str(value)]
    return args


def default_blender_script() -> Path:
    """``scripts/blender_batch.py`` of this checkout."""
    return Path(__file__).resolve().parents[1] / "scripts" / "blender_batch.py"


def worker_command(job: ClipJob, tmp: Path, opts: BatchOptions) -> list[str]:
    """The full command line of one clip's worker."""
    args = worker_args(job, tmp, opts)
    if opts.blender:
        script = opts.blender_script or str(default_blender_script())
        return [opts.blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", script, "--", *args]
    return [opts.python, "-m", "a4mer_blender.batch_worker", *args]


def parse_result(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            try:
                return json.loads(line[len(RESULT_TAG):])
            except ValueError:
                return None
    return None


def failure_reason(proc: subprocess.CompletedProcess, result: dict | None) -> str:
    if result is not None and result.get("error"):
        return str(result["error"])
    rc = proc.returncode
    how = f"worker crashed (signal {-rc})" if rc < 0 else f"worker exited with code {rc}"
    tail = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()][-3:]
    return how + (": " + " | ".join(tail) if tail else "")


def _exports(tmp: Path, opts: BatchOptions) -> None:
    """``opts.exports`` of every armature the worker wrote (``<stem>.motion.npz`` + segments)."""
    from .export import SUFFIX, export
    from .io.amass import read_amass_npz
    for mf in sorted(tmp.glob("*.motion.npz")):
        stem = mf.name[: -len(".motion.npz")]
        js = tmp / f"{stem}.segments.json"
        seg = json.loads(js.read_text(encoding="utf-8")) if js.is_file() else None
        motion = read_amass_npz(mf)
        for fmt in opts.exports:
            export(motion, tmp / f"{stem}{SUFFIX[fmt]}", fmt, segments=seg,
                   motif_names=(seg or {}).get("motif_names") or None, name=stem, feat_p=f"{stem}.npz")


def _draw(tmp: Path, opts: BatchOptions) -> None:
    """Pictures of every segments file in ``tmp`` (timeline; gallery when asked), then the exports."""
    from .plots import motif_gallery_png, timeline_png
    if opts.exports:
        _exports(tmp, opts)
    for js in sorted(tmp.glob("*.segments.json")):
        stem = js.name[: -len(".segments.json")]
        seg = json.loads(js.read_text(encoding="utf-8"))
        names = seg.get("motif_names") or None
        timeline_png(seg, tmp / f"{stem}.timeline.png", title=f"{stem}: {len(seg['atoms'])} atoms, "
                     f"{len(seg['motifs'])} motif occurrences, {seg['duration']:.2f} s", motif_names=names)
        if opts.gallery:
            from .io.amass import read_amass_npz
            motion = read_amass_npz(tmp / f"{stem}.motion.npz")
            motif_gallery_png(motion, seg, tmp / f"{stem}.gallery.png", motif_names=names,
                              title=f"{stem}: motif gallery (side view, light = early, dark = late)")


def _commit(tmp: Path, out: Path) -> list[str]:
    """Rename the finished files of ``tmp`` into ``out`` (the .blend last); returns their names."""
    files = sorted((f for f in tmp.iterdir() if f.is_file() and not f.name.endswith(".motion.npz")
                    and not f.name.startswith(".")), key=lambda f: (f.suffix == ".blend", f.name))
    for f in files:
        os.replace(f, out / f.name)
    return [f.name for f in files]


def earlier_outputs(out: Path, name: str) -> set[str]:
    """Names of the files that earlier runs (``out/runs/*.json``) wrote for clip ``name``."""
    names: set[str] = set()
    for summ in sorted((out / "runs").glob("*.json")):
        try:
            clips = json.loads(summ.read_text(encoding="utf-8")).get("clips", [])
        except (OSError, ValueError, AttributeError):
            continue
        for c in clips:
            if isinstance(c, dict) and c.get("name") == name and c.get("status") == "ok":
                names.update(f for f in c.get("outputs", []) if isinstance(f, str) and Path(f).name == f)
    return names


def remove_stale(out: Path, name: str, written: list[str]) -> list[str]:
    """Delete what earlier runs wrote for clip ``name`` and this run did not rewrite (the exports or
    gallery of an earlier ``--export``/``--gallery`` run would otherwise sit beside a newer .blend they
    do not describe); returns the names removed. Only files a run summary lists are touched."""
    gone = []
    for f in sorted(earlier_outputs(out, name) - set(written)):
        try:
            (out / f).unlink()
            gone.append(f)
        except OSError:  # already gone, or not ours to remove: left as it is
            continue
    return gone


class _Procs:
    """Running worker processes (so an interrupt can stop them)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopping = False

    def kill_all(self) -> None:
        with self.lock:
            self.stopping = True
            for p in self.procs:
                _kill(p)


def _kill(proc: subprocess.Popen) -> None:
    """Kill worker ``proc`` and everything it started (its process group: Blender, the model
    subprocess of ``--runner-python``)."""
    if proc.poll() is None and hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            return
        except OSError:
            pass
    if proc.poll() is None:
        proc.kill()


def _worker_env(opts: BatchOptions, tmp: Path) -> dict[str, str]:
    """The worker's environment: BLAS threads shared out, and its temporary files (the add-on runner's
    job folders) inside the clip's own folder ``tmp``, so they go with it however the worker ends."""
    env = dict(os.environ)
    threads = max(1, (os.cpu_count() or 1) // max(1, opts.jobs))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(k, str(threads))
    (tmp / "tmp").mkdir()
    for k in ("TMPDIR", "TEMP", "TMP"):
        env[k] = str((tmp / "tmp").resolve())
    return env


def run_clip(job: ClipJob, opts: BatchOptions, procs: _Procs | None = None) -> ClipResult:
    """Process one clip in a worker; never raises for a bad clip (the result says why). A worker
    stopped by :meth:`_Procs.kill_all` raises KeyboardInterrupt (the clip did not finish)."""
    t0 = time.perf_counter()
    res = ClipResult(str(job.path), job.name, "failed")
    tmp = private_dir(opts.out, "tmp", job.name[:40])
    try:
        cmd = worker_command(job, tmp, opts)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_worker_env(opts, tmp), stdin=subprocess.DEVNULL, start_new_session=True)
        if procs is not None:
            with procs.lock:
                procs.procs.add(proc)
                if procs.stopping:
                    _kill(proc)
        try:
            out, err = proc.communicate(timeout=opts.timeout or None)
        except subprocess.TimeoutExpired:
            _kill(proc)
            proc.communicate()
            res.reason = f"timed out after {opts.timeout:g} s"
            return res
        finally:
            if procs is not None:
                with procs.lock:
                    procs.procs.discard(proc)
        if procs is not None and procs.stopping and proc.returncode != 0:
            raise KeyboardInterrupt
        cp = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        result = parse_result(out)
        if result is not None:
            res.notes = list(result.get("notes", []))
            res.objects = list(result.get("objects", []))
        if proc.returncode != 0 or result is None or result.get("error"):
            res.reason = failure_reason(cp, result) if (proc.returncode != 0 or result is not None) else \
                "worker gave no result line"
            return res
        _draw(tmp, opts)
        res.outputs = _commit(tmp, opts.out)
        gone = remove_stale(opts.out, job.name, res.outputs)
        if gone:
            res.notes.append(f"removed {len(gone)} output(s) of an earlier run not written this time: {', '.join(gone)}")
        res.status = "ok"
    except A4merError as e:
        res.reason = str(e)
    except Exception as e:  # a picture that cannot be drawn, a full disk ...: this clip fails, not the run
        res.reason = f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        res.seconds = round(time.perf_counter() - t0, 3)
    return res


def _line(i: int, n: int, r: ClipResult) -> str:
    if r.status == "ok":
        extra = f"; {'; '.join(r.notes)}" if r.notes else ""
        found = ", ".join(f"{o['object']}: {o['frames']} frames, {o['atoms']} atoms, {o['motifs']} motifs"
                          for o in r.objects if "atoms" in o)
        found = f" [{found}]" if found else ""
        return f"[{i}/{n}] ok      {r.name} ({r.input}) -> {len(r.outputs)} files, {r.seconds:.1f} s{found}{extra}"
    if r.status == "skipped":
        return f"[{i}/{n}] skipped {r.name} ({r.input}): finished earlier (--force redoes it)"
    return f"[{i}/{n}] FAILED  {r.name} ({r.input}): {r.short_reason()}"


class Terminated(KeyboardInterrupt):
    """SIGTERM (Slurm ``scancel`` or time limit, a farm manager stopping a task): stops a batch as
    Ctrl-C does."""


def _terminate(signum, frame):
    raise Terminated


def run_batch(jobs: list[ClipJob], opts: BatchOptions, log: Callable[[str], None] = print,
              results: dict[int, ClipResult] | None = None) -> list[ClipResult]:
    """Run ``jobs`` with ``opts.jobs`` workers at once; results in input order. Finished clips are
    skipped unless ``opts.force``. Ctrl-C (or SIGTERM, as :class:`Terminated`, when called from the
    main thread) stops the workers and everything they started (their temporary folders are removed);
    ``results`` (job index -> result) then holds every clip finished so far, those whose files were
    being committed at that moment included. Hidden working folders that killed earlier runs left
    in ``opts.out`` are removed first (:func:`remove_dead_dirs`)."""
    prepare_out(opts.out)
    remove_dead_dirs(opts.out)
    results = {} if results is None else results
    todo = []
    n = len(jobs)
    done_count = 0
    for i, job in enumerate(jobs):
        if not opts.force and is_done(job, opts):
            results[i] = ClipResult(str(job.path), job.name, "skipped")
            done_count += 1
            log(_line(done_count, n, results[i]))
        else:
            todo.append(i)
    procs = _Procs()
    pool = ThreadPoolExecutor(max_workers=max(1, opts.jobs))
    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    futs: dict = {}
    try:
        futs = {pool.submit(run_clip, jobs[i], opts, procs): i for i in todo}
        for fut in as_completed(futs):
            results[futs[fut]] = fut.result()
            done_count += 1
            log(_line(done_count, n, results[futs[fut]]))
    except KeyboardInterrupt:
        procs.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, i in futs.items():  # clips that finished while the interrupt came in
            if i not in results and fut.done() and not fut.cancelled() and fut.exception() is None:
                results[i] = fut.result()
                done_count += 1
                log(_line(done_count, n, results[i]))
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old)
    pool.shutdown(wait=True)
    return [results[i] for i in range(n)]


def summary(results: list[ClipResult], opts: BatchOptions, started: datetime, argv: list[str] | None,
            total: int | None = None) -> dict[str, Any]:
    """The run summary written to ``<out>/runs/<timestamp>.json``."""
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}
    wall = (datetime.now(timezone.utc) - started).total_seconds()
    o = asdict(opts)
    o["out"] = str(opts.out)
    return {"schema_version": 1, "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"), "wall_seconds": round(wall, 3),
            "argv": argv, "options": o, "shard": list(opts.shard) if opts.shard else None,
            "clips_found": total if total is not None else len(results), "counts": counts,
            "clips_per_minute": round(60.0 * counts["ok"] / wall, 3) if wall > 0 else None,
            "clips": [asdict(r) for r in results]}


def write_summary(out: Path, data: dict[str, Any], started: datetime) -> Path:
    """``<out>/runs/<UTC timestamp>[-sKofN][-i].json``, created exclusively (farm tasks never clash)."""
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    stem = started.strftime("%Y%m%dT%H%M%SZ")
    if data.get("shard"):
        stem += f"-s{data['shard'][0]}of{data['shard'][1]}"
    text = json.dumps(data, indent=1) + "\n"
    for i in range(1000):
        path = runs / (stem + (f"-{i}" if i else "") + ".json")
        try:
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
            return path
        except FileExistsError:
            continue
    raise A4merError(f"{runs}: cannot create a run summary")

