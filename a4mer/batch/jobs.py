"""What a batch runs: its clip jobs (found in folders, named from their paths, sharded), its options
and the result of each clip; the checks of the options and of the output folder."""
from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import A4merError

#: suffixes a batch picks up in folders
INPUT_SUFFIXES = (".npz", ".bvh", ".amc", ".blend")
#: separator between the clip name and the armature name when a .blend holds several SMPL armatures
OBJECT_SEP = "__"

MOTION_SUFFIX = ".motion.npz"


def motion_file(stem: str) -> str:
    """The name of the worker's npz of the final animation of ``stem`` (what exports and pictures are made
    from): hidden, so never the name of an output (``take.motion.bvh``'s npz export is ``take.motion.npz``)."""
    return f".{stem}{MOTION_SUFFIX}"


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
    from ..api import find_clips
    folders = {Path(i).resolve() for i in items if Path(i).is_dir()}
    found: list[tuple[int, int, ClipJob]] = []  # (argument index, order found, job)
    how: dict[Path, str] = {}
    seen: set[Path] = set()
    # folders first: a clip given both directly and in a folder given is named as the folder names it,
    # whatever the order of the arguments (its name would otherwise change with that order)
    for k, item in sorted(enumerate(items), key=lambda ki: not Path(ki[1]).is_dir()):
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
            found.append((k, len(found), ClipJob(f, safe_name(OBJECT_SEP.join(parts)))))
    jobs = [job for _, _, job in sorted(found, key=lambda t: t[:2])]  # in the order of the arguments
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


#: longest clip name in UTF-8 bytes: file systems allow 255 bytes per name, and a clip's files add up to
#: ``__<armature>`` (63 bytes) and ``.segments.json`` to it (150 characters of Japanese were 450 bytes)
NAME_BYTES = 150


def safe_name(text: str) -> str:
    """``text`` usable as a file stem on every OS: letters, digits and ``-_.`` kept (in their composed
    Unicode form: a name read from macOS as ``a`` + a combining mark is the same name as ``ä``), every
    other run of characters ``_``, a Windows device name (``aux``, ``com1``) given a trailing ``_``."""
    out = re.sub(r"[^\w.\-]+", "_", unicodedata.normalize("NFC", text)).strip("._") or "clip"
    out = out.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").rstrip("._") or "clip"  # see NAME_BYTES
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
    from ..export import SUFFIX
    others = {n.casefold() for n, _ in job.taken}

    def armature_files(suffix: str) -> list[Path]:  # <name>__<armature><suffix>, not another input's
        if job.path.suffix.lower() != ".blend":  # a clip's files are <name><suffix>: take__a's are not take's
            return []
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
    from ..conventions import MAX_FPS, MIN_FPS
    from ..io._mocap import source_fps
    try:
        source_fps(value)
    except A4merError:
        raise A4merError(f"{option} must be a frame rate from {MIN_FPS:g} to {MAX_FPS:g} fps, got {value:g}") from None


def check_not_input_folder(out: Path, inputs: list[Path], option: str = "--out") -> None:
    """Refuse an output folder that holds one of ``inputs``: a ``.blend`` is written under its own name
    there, over the input. Folders are compared by identity, so ``--out shots`` for the input folder
    ``Shots`` is refused where the file system ignores case (macOS, Windows)."""
    from ..io.outputs import SameFiles
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


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
