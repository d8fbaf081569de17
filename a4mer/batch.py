"""Batch processing of many clips through Blender, without importing bpy here.

Each clip runs in its own worker process (``PY -m a4mer_blender.batch_worker`` with the bpy module,
or ``blender -b --python scripts/blender_batch.py``), which writes into a private temporary folder
inside the output folder; this process then draws the pictures and renames the finished files into
place (the ``.blend`` last), so an interrupted or failed clip leaves no ``<name>.*`` output and no
temporary file. A clip whose ``<name>.blend`` (and, with ``segment``, segment files) exist is
skipped unless ``force``.

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
TMP_PREFIX = ".a4mer-tmp-"
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
def discover(items: list[str | os.PathLike], exclude: Path | None = None) -> list[ClipJob]:
    """Clip jobs for files and folders (folders searched recursively for .npz/.bvh/.amc/.blend;
    hidden files and, when ``exclude`` lies inside a folder argument, files under ``exclude`` are
    skipped; files given directly are taken as they are, so a wrong one fails by name). Names as
    ``a4mer convert`` names its outputs (:func:`a4mer.api.clip_names`): file stems; clips whose stems
    clash get their path from the folder they share (``sub__walk``) and, if still equal, the suffix
    (``walk_bvh``)."""
    from .api import clip_names, find_clips
    found: list[Path] = []
    seen: set[Path] = set()
    for item in items:
        p = Path(item)
        for f in find_clips(p, INPUT_SUFFIXES, exclude=exclude) if p.is_dir() else [p]:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                found.append(f)
    if not found:
        raise A4merError("no input clips (.npz/.bvh/.amc/.blend) found in " + ", ".join(map(str, items)))
    return [ClipJob(f, n) for f, n in zip(found, clip_names(found, clean=safe_name))]


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
    for flag, value in (("--object", opts.object), ("--fps", opts.fps), ("--checkpoint", opts.checkpoint),
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
                if p.poll() is None:
                    p.kill()


def _worker_env(opts: BatchOptions) -> dict[str, str]:
    env = dict(os.environ)
    threads = max(1, (os.cpu_count() or 1) // max(1, opts.jobs))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(k, str(threads))
    return env


def run_clip(job: ClipJob, opts: BatchOptions, procs: _Procs | None = None) -> ClipResult:
    """Process one clip in a worker; never raises for a bad clip (the result says why)."""
    t0 = time.perf_counter()
    res = ClipResult(str(job.path), job.name, "failed")
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{job.name[:40]}-", dir=opts.out))
    try:
        cmd = worker_command(job, tmp, opts)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_worker_env(opts), stdin=subprocess.DEVNULL)
        if procs is not None:
            with procs.lock:
                procs.procs.add(proc)
                if procs.stopping:
                    proc.kill()
        try:
            out, err = proc.communicate(timeout=opts.timeout or None)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            res.reason = f"timed out after {opts.timeout:g} s"
            return res
        finally:
            if procs is not None:
                with procs.lock:
                    procs.procs.discard(proc)
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


def run_batch(jobs: list[ClipJob], opts: BatchOptions, log: Callable[[str], None] = print,
              results: dict[int, ClipResult] | None = None) -> list[ClipResult]:
    """Run ``jobs`` with ``opts.jobs`` workers at once; results in input order. Finished clips are
    skipped unless ``opts.force``. Ctrl-C stops the workers (their temporary folders are removed);
    ``results`` (job index -> result) then holds the clips finished so far."""
    opts.out.mkdir(parents=True, exist_ok=True)
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
    try:
        futs = {pool.submit(run_clip, jobs[i], opts, procs): i for i in todo}
        for fut in as_completed(futs):
            results[futs[fut]] = fut.result()
            done_count += 1
            log(_line(done_count, n, results[futs[fut]]))
    except KeyboardInterrupt:
        procs.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
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

