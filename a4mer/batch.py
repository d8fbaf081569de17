"""Batch processing of many clips through Blender, without importing bpy here.

Clips run in worker processes (``PY -m a4mer_blender.batch_worker --serve`` with the bpy module, or
``blender -b --python scripts/blender_batch.py -- --serve``), each running clip after clip (:class:`Worker`);
a clip's worker writes into a private temporary folder
inside the output folder; this process then draws the pictures and renames the finished files into
place (the ``.blend`` last), so an interrupted or failed clip leaves no ``<name>.*`` output and no
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

import hashlib
import itertools
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .errors import A4merError
from .processes import TEXT_PIPES, child_env, kill_tree, own_group

#: suffixes a batch picks up in folders
INPUT_SUFFIXES = (".npz", ".bvh", ".amc", ".blend")
RESULT_TAG = "A4MER_RESULT "
#: separator between the clip name and the armature name when a .blend holds several SMPL armatures
OBJECT_SEP = "__"


@dataclass(frozen=True)
class ClipJob:
    """One input file and the ``name`` its outputs get (``<out>/<name>.blend`` ...). ``taken``: the
    ``(name, path)`` of the batch's other inputs named ``<name>__...``, which a .blend with several
    armatures may not write as ``<name>__<armature>.*`` (its worker refuses such an armature)."""

    path: Path
    name: str
    taken: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BatchOptions:
    """What to do with every clip. out: output folder. segment/fill_gaps/extend: the steps (extend =
    frames to add, 0 = none). jobs: worker processes at once. shard: (K, N) or None. force: redo
    finished clips. object: armature name in .blend inputs. python: worker interpreter (has bpy);
    blender: Blender executable (then ``blender -b`` runs the worker script; ``runner_python`` is the
    interpreter with torch that runs the model for it). fps: scene rate (None = the clip's own).
    source_fps, asf, keep_reference_frames, bone_map, scale, up, twist: how clips are read
    (:class:`a4mer.api.LoadOptions`, as ``a4mer segment`` reads them).
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
    bone_map: str | None = None
    scale: float | None = None
    up: str = "auto"
    twist: str = "rest"
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
    skipped; files given directly are taken as they are, so a wrong one fails by name).

    A clip's name depends on its own path and the folder argument it was found in only, so that adding
    clips never renames (and re-shards) a finished one: its path below the folder argument, parts
    joined by ``__`` (``day1/walk.bvh`` -> ``day1__walk``); when several folders are given, after that
    folder's own name (``a4mer batch day1 day2``: ``day1__walk``, ``day2__walk``); the stem of a file
    given directly. Two inputs with the same name are refused (:func:`check_names`). A .blend's job
    gets in ``taken`` the other inputs named ``<blend>__...``: its worker refuses an armature that
    would write one of those names (only a real clash fails, and only that .blend)."""
    from .api import find_clips
    folders = {Path(i).resolve() for i in items if Path(i).is_dir()}
    jobs: list[ClipJob] = []
    how: dict[Path, str] = {}
    seen: set[Path] = set()
    for item in items:
        p = Path(item)
        for f in find_clips(p, INPUT_SUFFIXES, exclude=exclude) if p.is_dir() else [p]:
            if f.resolve() in seen:
                continue
            seen.add(f.resolve())
            if not p.is_dir():
                parts, how[f] = (f.stem,), "a file given is named by its stem"
            elif len(folders) > 1:
                parts = (p.resolve().name or "root", *f.relative_to(p).with_suffix("").parts)
                how[f] = (f"with several folders given, a clip is named by its folder's name and its path below "
                          f"it: {p.resolve().name}/{f.relative_to(p).with_suffix('').as_posix()} -> {safe_name(OBJECT_SEP.join(parts))}")
            else:
                parts = f.relative_to(p).with_suffix("").parts
                how[f] = "a clip is named by its path below the folder given"
            jobs.append(ClipJob(f, safe_name(OBJECT_SEP.join(parts))))
    if not jobs:
        raise A4merError("no input clips (.npz/.bvh/.amc/.blend) found in " + ", ".join(map(str, items)))
    check_names(jobs, how)
    out = []
    for job in jobs:
        if job.path.suffix.lower() == ".blend":
            prefix = f"{job.name}{OBJECT_SEP}".casefold()
            taken = tuple((j.name, str(j.path.resolve())) for j in jobs if j.name.casefold().startswith(prefix))
            job = ClipJob(job.path, job.name, taken) if taken else job
        out.append(job)
    return out


def first_clash(named):
    """The first two items of ``named`` (``(name, item)`` pairs) whose names are equal ignoring case (as
    on macOS and Windows file systems): ``(first, second, name)``, or None."""
    first: dict[str, Any] = {}
    for name, item in named:
        key = name.casefold()
        if key in first:
            return first[key], item, name
        first[key] = item
    return None


def check_names(jobs: list[ClipJob], how: dict[Path, str] | None = None) -> None:
    """:class:`A4merError` naming both inputs (and, from ``how``, how each got its name) when two jobs
    would write the same outputs: equal names, compared ignoring case."""
    clash = first_clash((j.name, j) for j in jobs)
    if clash is not None:
        a, b, name = clash
        why = sorted({how[j.path] for j in (a, b) if how and j.path in how})
        names = f"{a.name}.* and {b.name}.*, one file on a case-blind disk" if a.name != b.name else f"{name}.*"
        raise A4merError(f"{a.path} and {b.path} would both write {names}: rename or move one of them"
                         + (f" ({'; '.join(why)})" if why else ""))


#: names Windows keeps for devices (``aux.blend`` is the AUX device, not a file)
_DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))})


def safe_name(text: str) -> str:
    """``text`` usable as a file stem on every OS: letters, digits and ``-_.`` kept (in their composed
    Unicode form: a name read from macOS as ``a`` + a combining mark is the same name as ``ä``), every
    other run of characters ``_``, a Windows device name (``aux``, ``com1``) given a trailing ``_``."""
    out = re.sub(r"[^\w.\-]+", "_", unicodedata.normalize("NFC", text)).strip("._") or "clip"
    out = out[:150]
    return f"{out}_" if out.split(".")[0].casefold() in _DEVICE_NAMES else out


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


# --- outputs, skip / force ------------------------------------------------------------------------
def is_done(job: ClipJob, opts: BatchOptions) -> bool:
    """True when ``job``'s outputs from an earlier run are all there (the .blend is renamed last)."""
    out = opts.out
    if not (out / f"{job.name}.blend").is_file():
        return False
    from .export import SUFFIX
    others = {n.casefold() for n, _ in job.taken}

    def armature_files(suffix: str) -> list[Path]:  # <name>__<armature><suffix>, not another input's
        return sorted(f for f in out.glob(f"{glob_escape(job.name)}{OBJECT_SEP}*{suffix}")
                      if f.name[: -len(suffix)].casefold() not in others)
    for fmt in opts.exports:
        suffix = SUFFIX[fmt]
        if not (out / f"{job.name}{suffix}").is_file() and not armature_files(suffix):
            return False
    if not opts.segment:
        return True
    jsons = [out / f"{job.name}.segments.json"] if (out / f"{job.name}.segments.json").is_file() else \
        armature_files(".segments.json")
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
    """:class:`A4merError` naming ``option`` unless ``value`` is None or a frame rate the readers take
    (``MIN_FPS`` to ``MAX_FPS``, the readers' own check: :func:`a4mer.io._mocap.source_fps`)."""
    from .conventions import MAX_FPS, MIN_FPS
    from .io._mocap import source_fps
    try:
        source_fps(value)
    except A4merError:
        raise A4merError(f"{option} must be a frame rate from {MIN_FPS:g} to {MAX_FPS:g} fps, got {value:g}") from None


def check_not_input_folder(out: Path, inputs: list[Path], option: str = "--out") -> None:
    """Refuse an output folder that holds one of ``inputs``: a ``.blend`` is written under its own name
    there, over the input. Folders are compared by identity, so ``--out shots`` for the input folder
    ``Shots`` is refused where the file system ignores case (macOS, Windows)."""
    from .io.outputs import SameFiles
    same = SameFiles([out])
    holding = {parent for parent in {Path(p).resolve().parent for p in inputs} if same.find(parent) is not None}
    beside = next((p for p in inputs if Path(p).resolve().parent in holding), None)
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
    """This host's name for working folder names: letters, digits and ``.`` kept; a name over 40
    characters is cut to 31 plus ``_`` and 8 hex digits of its hash (pods ``...-pool-0`` and ``-1`` differ)."""
    raw = socket.gethostname()
    name = re.sub(r"[^A-Za-z0-9.]", "_", raw)
    return name if len(name) <= 40 else f"{name[:31]}_{hashlib.sha256(raw.encode()).hexdigest()[:8]}"


#: hidden working folders: ``.a4mer-<tmp|part>-<pid>@<host>-<label>-<random>`` (pid: for people only)
_PRIVATE = re.compile(r"^\.a4mer-(?:tmp|part)-(\d+)@([A-Za-z0-9._]*)-")
#: the lock file of a working folder: held (shared) by every process that uses the folder
LOCK_NAME = ".a4mer-lock"
#: working folders this process holds: resolved path -> the lock file's descriptor
_HELD: dict[str, int] = {}
try:
    import fcntl
except ImportError:  # Windows: folders are not locked, and none is ever removed as dead
    fcntl = None


def private_dir(parent: Path, kind: str, label: str = "") -> Path:
    """A new hidden working folder in ``parent``, in use (its lock file held) until :func:`release_dir`.
    Its name carries this host (and, for people, the process id), so that :func:`remove_dead_dirs` of a
    later run can remove it if its processes are killed."""
    d = Path(tempfile.mkdtemp(prefix=f".a4mer-{kind}-{os.getpid()}@{_host()}-{label}-", dir=parent))
    try:
        hold_dir(d, create=True)
    except OSError:  # no room for its lock file: no folder left that no run would ever remove
        shutil.rmtree(d, ignore_errors=True)
        raise
    return d


def hold_dir(d: Path, create: bool = False) -> int | None:
    """Take a shared lock on ``d``'s lock file (made, and marked with who made it, when ``create``), so
    that no :func:`remove_dead_dirs` removes ``d`` while this process (or a child given the descriptor)
    lives. The batch's worker holds the folder it writes into this way, so a worker left running by a
    killed batch keeps it. Returns the descriptor, or None (no lock file; no fcntl)."""
    if fcntl is None:
        return None
    key = str(Path(d).resolve())
    if key in _HELD:
        return _HELD[key]
    try:
        fd = os.open(Path(d) / LOCK_NAME, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
    except OSError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a remover is looking at it
    except OSError:  # a file system without locks (some network shares): the folder is not locked
        os.close(fd)
        return None
    if create:  # marked after locking: a remover that got in between sees an empty file and keeps the folder
        os.write(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode())
    _HELD[key] = fd
    return fd


def release_dir(d: Path) -> None:
    """Remove working folder ``d`` and release its lock (the lock file goes last, after the lock)."""
    fd = _HELD.pop(str(Path(d).resolve()), None)
    if fd is not None:
        _empty(Path(d))
        os.close(fd)
    shutil.rmtree(d, ignore_errors=True)


def let_go(d: Path) -> None:
    """Release this process's hold of ``d`` (:func:`hold_dir`), leaving the folder as it is."""
    fd = _HELD.pop(str(Path(d).resolve()), None)
    if fd is not None:
        os.close(fd)


def _empty(d: Path) -> None:
    """Remove everything in ``d`` but its lock file (an open file removed on NFS would stay as .nfsXXXX)."""
    for f in d.iterdir() if d.is_dir() else ():
        if f.name == LOCK_NAME:
            continue
        if f.is_dir() and not f.is_symlink():
            shutil.rmtree(f, ignore_errors=True)
        else:
            f.unlink(missing_ok=True)


def remove_dead_dirs(parent: Path) -> list[str]:
    """Remove the hidden working folders in ``parent`` that no process uses any more (killed by SIGKILL,
    a crash, a power cut): those made on this host whose lock file nobody holds (an exclusive lock can be
    taken). The lock, not the process id, decides, so a run in another pid namespace (a container) is
    seen alive; folders of other hosts (flock may not reach across hosts on a shared file system), folders
    without a lock file (older versions) and every folder where fcntl is missing are left alone. Returns
    the names removed."""
    gone: list[str] = []
    if fcntl is None:
        return gone
    for d in sorted(parent.glob(".a4mer-*")):
        m = _PRIVATE.match(d.name)
        if not (m and m.group(2) == _host() and d.is_dir()) or str(d.resolve()) in _HELD:
            continue
        try:
            fd = os.open(d / LOCK_NAME, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_size == 0:  # its maker is between making and locking it
                continue
            _empty(d)
        except OSError:  # held: in use
            continue
        finally:
            os.close(fd)
        shutil.rmtree(d, ignore_errors=True)
        gone.append(d.name)
    return gone


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def worker_args(job: ClipJob, tmp: Path, opts: BatchOptions) -> list[str]:
    """Arguments of ``a4mer_blender.batch_worker`` for ``job`` writing into ``tmp``."""
    args = ["--input", str(job.path.resolve()), "--out-dir", str(tmp), *_option("--name", job.name), "--no-pictures",
            "--motion-npz"]
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
    return Path(__file__).resolve().parents[1] / "scripts" / "blender_batch.py"


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


def failure_reason(answer: "_Answer", result: dict | None) -> str:
    if result is not None and result.get("error"):
        return str(result["error"])
    rc = answer.returncode or 0
    how = f"worker crashed (signal {-rc})" if rc < 0 else f"worker exited with code {rc}"
    tail = [ln for ln in (answer.stderr or "").strip().splitlines() if ln.strip()][-3:]
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
    files = sorted(_commit_files(tmp), key=lambda f: (f.endswith(".blend"), f))
    for f in files:
        os.replace(tmp / f, out / f)
    return files


class RunSummaries:
    """The clips that earlier runs (``out/runs/*.json``) finished. A summary is parsed once while its file
    is unchanged: a batch checks them for every clip, and farm shards add summaries while it runs."""

    def __init__(self, out: Path):
        self.out = out
        self._lock = threading.Lock()
        self._parsed: dict[Path, tuple[tuple[int, int], list]] = {}  # summary -> ((mtime ns, size), clips)

    def clips(self):
        """``(clip name, input, output file names)`` of every clip an earlier run finished."""
        for summ in sorted((self.out / "runs").glob("*.json")):
            try:
                st = summ.stat()
            except OSError:
                continue
            key = (st.st_mtime_ns, st.st_size)
            with self._lock:
                known = self._parsed.get(summ)
            if known is None or known[0] != key:
                known = (key, list(self._read(summ)))
                with self._lock:
                    self._parsed[summ] = known
            yield from known[1]

    @staticmethod
    def _read(summ: Path):
        try:
            clips = json.loads(summ.read_text(encoding="utf-8")).get("clips", [])
        except (OSError, ValueError, AttributeError):
            return
        for c in clips if isinstance(clips, list) else ():
            if isinstance(c, dict) and c.get("status") == "ok" and isinstance(c.get("outputs"), list):
                yield c.get("name"), c.get("input"), [f for f in c["outputs"] if isinstance(f, str) and Path(f).name == f]


def earlier_outputs(runs: RunSummaries, name: str) -> set[str]:
    """Names of the files that earlier runs wrote for clip ``name``."""
    return {f for n, _, files in runs.clips() if n == name for f in files}


def foreign_outputs(runs: RunSummaries, name: str, files: list[str]) -> dict[str, tuple[str, str]]:
    """The files of ``files`` that exist in ``out`` and that an earlier run wrote for another clip
    (file -> (that clip's name, its input)): committing them would overwrite another input's outputs
    (e.g. ``dance__solo.segments.json`` of the armature solo of ``dance.blend``, and the clip
    ``dance/solo.bvh`` added later)."""
    want = {f.casefold(): f for f in files}
    found: dict[str, tuple[str, str]] = {}
    out = runs.out
    for n, src, written in runs.clips():
        if n == name:
            continue
        for f in written:
            mine = want.get(f.casefold())
            if mine is not None and mine not in found and (out / f).is_file():
                found[mine] = (str(n), str(src))
    return found


def _commit_files(tmp: Path) -> list[str]:
    """The finished files of ``tmp`` (not the motion npz the pictures were drawn from, not hidden ones)."""
    return sorted(f.name for f in tmp.iterdir() if f.is_file() and not f.name.endswith(".motion.npz")
                  and not f.name.startswith("."))


def remove_stale(runs: RunSummaries, name: str, written: list[str]) -> list[str]:
    """Delete what earlier runs wrote for clip ``name`` and this run did not rewrite (the exports or
    gallery of an earlier ``--export``/``--gallery`` run would otherwise sit beside a newer .blend they
    do not describe); returns the names removed. Only files a run summary lists are touched."""
    gone = []
    for f in sorted(earlier_outputs(runs, name) - set(written)):
        try:
            (runs.out / f).unlink()
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


def _worker_env(opts: BatchOptions) -> dict[str, str]:
    """A worker's environment: BLAS threads shared out among the ``opts.jobs`` workers."""
    env = child_env()
    threads = max(1, (os.cpu_count() or 1) // max(1, opts.jobs))
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(k, str(threads))
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
    it still runs), the last lines of its stderr while it worked on the clip, whether it timed out."""

    result: dict | None
    returncode: int | None
    stderr: str
    timed_out: bool = False


class Worker:
    """One worker process that runs clips one after another, so Python, Blender, torch and the model start
    once per worker, not once per clip. It is started when a clip needs it and replaced by a fresh one
    after it crashed, timed out, hit an unexpected error (its state is not trusted then) or ran
    :data:`CLIPS_PER_WORKER` clips."""

    def __init__(self, opts: BatchOptions, procs: _Procs | None = None):
        self.opts, self.procs = opts, _Procs() if procs is None else procs
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=50)
        self.stderr_reader: threading.Thread | None = None
        self.served = 0
        self.requests = itertools.count(1)

    def _start(self) -> subprocess.Popen:
        self.lines, self.stderr, self.served = queue.Queue(), deque(maxlen=50), 0  # this process's own
        proc = subprocess.Popen(worker_command(self.opts), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, **TEXT_PIPES, env=_worker_env(self.opts), **own_group())
        self.procs.add(proc)
        threading.Thread(target=_pump, args=(proc.stdout, self.lines.put, True), daemon=True).start()
        self.stderr_reader = threading.Thread(target=_pump, args=(proc.stderr, self.stderr.append, False), daemon=True)
        self.stderr_reader.start()
        self.proc = proc
        return proc

    def _send(self, line: str) -> subprocess.Popen:
        """Send one request; to a fresh worker when there is none, the last one has ended, or it ends as
        the request is written."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
                return self.proc
            except (OSError, ValueError):
                pass
        self.stop()
        proc = self._start()
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        return proc

    def run(self, argv: list[str], tmpdir: Path, timeout: float = 0.0) -> _Answer:
        """Have the worker process one clip: ``argv``, the arguments of ``a4mer_blender.batch_worker``;
        ``tmpdir``, where what it starts for the clip writes its temporary files (so they go with the clip's
        working folder however the clip ends); waits at most ``timeout`` seconds (0: no limit). The request
        is one line of JSON, ASCII only whatever the worker's stdin encoding, with an id its result echoes."""
        request = next(self.requests)
        self.stderr.clear()
        proc = self._send(json.dumps({"id": request, "argv": argv, "tmpdir": str(Path(tmpdir).resolve())}))
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            try:
                line = self.lines.get(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop(kill=True)
                return _Answer(None, None, "", timed_out=True)
            if line is None:  # the worker ended without answering
                rc = proc.wait()
                self.stderr_reader.join(5)  # its last words
                self.stop()
                return _Answer(None, rc, "\n".join(self.stderr))
            result = parse_result(line)
            if result is not None and result.get("request") == request:
                self.served += 1
                if result.get("unexpected") or self.served >= CLIPS_PER_WORKER:
                    self.stop()
                return _Answer(result, None, "\n".join(self.stderr))

    def stop(self, kill: bool = False) -> None:
        """End the worker: its stdin closed (it ends after the clip in hand), or ``kill`` (everything it
        started too); waits for it, a worker that does not end in 30 s is killed."""
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
            res.reason = failure_reason(answer, result) if (answer.returncode or result is not None) else \
                "worker gave no result line"
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
        found = ", ".join(f"{o['object']}: {o['frames']} frames, {o['atoms']} atoms, {o['motifs']} motifs"
                          for o in r.objects if "atoms" in o)
        found = f" [{found}]" if found else ""
        return f"[{i}/{n}] ok      {r.name} ({r.input}) -> {len(r.outputs)} files, {r.seconds:.1f} s{found}{extra}"
    if r.status == "skipped":
        return f"[{i}/{n}] skipped {r.name} ({r.input}): finished earlier (--force redoes it)"
    return f"[{i}/{n}] FAILED  {r.name} ({r.input}): {r.short_reason()}"


class Terminated(KeyboardInterrupt):
    """SIGTERM (Slurm ``scancel`` or time limit, a farm manager stopping a task), SIGHUP (the terminal
    closed, an ssh connection dropped) or SIGBREAK (Windows: Ctrl-Break): stops a batch as Ctrl-C does. ``signum``: the signal."""

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
    for i, job in enumerate(jobs):
        if not opts.force and is_done(job, opts):
            results[i] = ClipResult(str(job.path), job.name, "skipped")
            done_count += 1
            log(_line(done_count, n, results[i]))
        else:
            todo.append(i)
    procs = _Procs()
    slots = max(1, opts.jobs)
    idle: queue.Queue[Worker] = queue.Queue()
    workers = [Worker(opts, procs) for _ in range(slots)]
    for w in workers:
        idle.put(w)
    runs = RunSummaries(opts.out)

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
                log(_line(done_count, n, results[futs[fut]]))
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
    """``<out>/runs/<UTC timestamp>[-sKofN][-i].json``, created exclusively (farm tasks never clash) and
    whole: written to a temporary file first, then linked under its name (a full disk left an empty
    summary under the final name, and a traceback)."""
    from .io.outputs import file_mode
    runs = out / "runs"
    stem = started.strftime("%Y%m%dT%H%M%SZ")
    if data.get("shard"):
        stem += f"-s{data['shard'][0]}of{data['shard'][1]}"
    text = json.dumps(data, indent=1) + "\n"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".summary-", suffix=".a4mer.part", dir=runs)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.chmod(tmp, file_mode())
            for i in range(1000):
                path = runs / (stem + (f"-{i}" if i else "") + ".json")
                try:
                    os.link(tmp, path)  # exclusive and atomic
                    return path
                except FileExistsError:
                    continue
                except OSError:  # no hard links here (exFAT, FAT32, some shares): created exclusively, then filled
                    try:
                        with open(path, "x", encoding="utf-8", newline="\n") as f:
                            f.write(text)
                        return path
                    except FileExistsError:
                        continue
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as e:
        raise A4merError(f"{runs}: cannot write the run summary ({e.strerror or e})") from None
    raise A4merError(f"{runs}: cannot create a run summary")

