"""Dataset preparation: every clip of ../shared/data -> SMPL npz at a common rate + manifest.

Layout written under ``out``: ``clips/<dataset>/<stem>.npz`` (AMASS-style SMPL-24), ``manifest.jsonl``
(one JSON object per clip: path, dataset, source, frames, fps, labels, split), ``errors.jsonl`` and
``_raw/`` where the ``.tar.xz`` archives are unpacked (never inside the read-only source).
Splits: HDM05 train actors bd, bk, dg / test mm, tr; Bandai holds out whole takes (dataset-1 take 2,
dataset-2 takes divisible by 10); CMU dance holds out the last clip of each kind.

Any other folder of clips (your own mocap library) is prepared as one data set, ``own``
(``PLAIN_DATASET``): every supported clip under it, labelled with its folder, one clip in
``PLAIN_HOLDOUT`` (by a hash of its path, so the split stays put when clips are added) held out as
``test``.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import tarfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .api import LoadOptions, load_motion
from .errors import A4merError
from .io.amass import write_amass_npz


@dataclass(frozen=True)
class ClipJob:
    """One clip to convert: source file, its true rate, dataset, labels, split, optional ASF."""

    source: str
    source_fps: float | None
    dataset: str
    labels: dict = field(default_factory=dict)
    split: str = "train"
    asf: str | None = None
    name: str | None = None  # output stem (default: from the source's name)


#: dataset names of ``--datasets`` (folder names accepted too) -> the name used in the manifest
DATASETS = {"hdm05": "hdm05", "bandai": "bandai", "bandai-namco": "bandai", "cmu-dance": "cmu-dance"}
LAYOUT = "hdm05/, bandai-namco/ and cmu-dance/, each with its labels.csv (the layout of ../shared/data)"
#: where the project's .tar.xz archives are unpacked, inside the output folder
RAW = "_raw"
#: the project's data folders (dataset name -> folder)
FOLDERS = {"hdm05": "hdm05", "bandai": "bandai-namco", "cmu-dance": "cmu-dance"}
#: an empty file in every output folder of data prepare, written before its clips (a hidden name)
OUTPUT_MARK = ".a4mer-prepared"
#: the manifest's data set name of a plain folder of clips, and one in how many of its clips is held out
PLAIN_DATASET = "own"
PLAIN_HOLDOUT = 10


def _missing(path: Path) -> A4merError:
    return A4merError(f"{path} not found: data prepare reads a folder holding {LAYOUT}; "
                      "--datasets picks some of them")


def _rows(csv_path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a data set's ``labels.csv`` (also re-saved by a spreadsheet with a BOM); A4merError
    naming the file when it lacks one of ``columns``."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise _missing(csv_path) from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise A4merError(f"{csv_path}: cannot read ({e})") from None
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        raise A4merError(f"{csv_path}: no column {', '.join(map(repr, missing))} (the data set's labels.csv has "
                         f"{', '.join(columns)})")
    return rows


def _unpack(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into ``dest`` once (a marker file records completion)."""
    marker = dest / ".unpacked"
    if not marker.exists():
        if not archive.is_file():
            raise _missing(archive)
        dest.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive, "r:xz") as tar:
                tar.extractall(dest, filter="data")
        except (tarfile.TarError, EOFError, OSError) as e:
            raise A4merError(f"{archive}: cannot unpack ({e})") from None
        marker.write_text(archive.name, encoding="utf-8")
    return dest


def dataset_names(spec: str) -> tuple[str, ...]:
    """``--datasets`` ("hdm05,bandai-namco") as manifest names; :class:`A4merError` for unknown ones."""
    names = [d.strip() for d in spec.split(",") if d.strip()]
    bad = [d for d in names if d not in DATASETS]
    if bad or not names:
        raise A4merError(f"--datasets: unknown {', '.join(map(repr, bad)) or 'empty list'}; "
                         f"choose from {', '.join(DATASETS)}")
    return tuple(dict.fromkeys(DATASETS[d] for d in names))


def hdm05_jobs(root: Path) -> Iterator[ClipJob]:
    for r in _rows(root / "labels.csv", ("file", "fps", "class_name", "actor", "take", "asf")):
        yield ClipJob(str(root / r["file"]), float(r["fps"]), "hdm05",
                      {"action": r["class_name"], "actor": r["actor"], "take": r["take"]},
                      "train" if r["actor"] in ("bd", "bk", "dg") else "test", str(root / r["asf"]))


def bandai_jobs(root: Path, raw: Path) -> Iterator[ClipJob]:
    ds2 = None
    for r in _rows(root / "labels.csv", ("file", "fps", "dataset", "take", "content", "style")):
        take = int(r["take"])
        if r["dataset"] == "1":
            path, name, test = root / r["file"], "bandai1", take == 2
        else:
            if ds2 is None:
                ds2 = _unpack(root / "dataset-2" / "dataset-2.tar.xz", raw / "bandai-namco" / "dataset-2")
            path, name, test = ds2 / Path(r["file"]).relative_to("dataset-2"), "bandai2", take % 10 == 0
        yield ClipJob(str(path), float(r["fps"]), name,
                      {"action": r["content"], "style": r["style"], "take": take}, "test" if test else "train")


def cmu_dance_jobs(root: Path, raw: Path) -> Iterator[ClipJob]:
    base = _unpack(root / "cmu-dance.tar.xz", raw / "cmu-dance")
    rows = _rows(root / "labels.csv", ("file", "true_fps", "kind"))
    last = {}
    for r in rows:
        last[r["kind"]] = r["file"]
    for r in rows:
        yield ClipJob(str(base / r["file"]), float(r["true_fps"]), "cmu-dance", {"kind": r["kind"]},
                      "test" if last[r["kind"]] == r["file"] else "train")


def plain_jobs(root: Path, out: Path, source_fps: float | None = None) -> list[ClipJob]:
    """Every clip under ``root`` (a folder of your own clips; ``out`` and earlier outputs of ``a4mer data
    prepare`` inside it are skipped): data set
    ``own``, label ``folder`` = its folder below ``root`` (``loco/run``; a clip at the top: the name
    of ``root``, as ``a4mer label-train`` labels it), named by its path (``sub__walk``; names that
    clash, as ``walk/a.bvh`` and ``walk/a.npz``, or ``walk/b.bvh`` and ``walk__b.bvh``, as
    :func:`a4mer.api.distinct_names` makes them distinct). ``source_fps``: every clip's true rate (their
    headers' else)."""
    from .api import distinct_names, find_clips
    # -o inside (or equal to) the library, and earlier outputs of data prepare there (a manifest.jsonl, or the
    # mark of a run stopped before it wrote one, beside them): their npz copies of the library's clips would be
    # read in again, each clip twice, under other labels
    earlier = [m.parent for pattern in ("manifest.jsonl", OUTPUT_MARK) for m in Path(root).rglob(pattern)]
    made = [(d / sub).resolve() for d in (Path(out), *earlier) for sub in ("clips", RAW)]
    files = [f for f in find_clips(root, exclude=out) if not any(m in f.resolve().parents for m in made)]
    rels = [f.relative_to(root) for f in files]
    names = distinct_names(["__".join(r.with_suffix("").parts) for r in rels],
                           [Path(os.path.abspath(f)) for f in files])
    jobs = []
    for f, rel, name in zip(files, rels, names):
        held = zlib.crc32(rel.as_posix().encode()) % PLAIN_HOLDOUT == 0
        folder = rel.parent.as_posix() if rel.parent != Path(".") else Path(os.path.abspath(root)).name
        jobs.append(ClipJob(str(f), source_fps, PLAIN_DATASET, {"folder": folder}, "test" if held else "train",
                            name=name))
    return jobs


def is_project_layout(data_root: Path) -> bool:
    """True when ``data_root`` holds one of the project's data folders with its labels.csv; a library of
    one's own that merely has a folder of such a name (``hdm05/``), or a ``labels.csv`` of its own at the
    top (``a4mer label-train --labels``), is a plain folder."""
    return any((data_root / f / "labels.csv").is_file() for f in FOLDERS.values())


def project_folder(data_root: Path) -> str | None:
    """The data set (``hdm05``, ...) when ``data_root`` is itself one of the project's data folders
    (``.../hdm05`` with its labels.csv), else None."""
    name = Path(os.path.abspath(data_root)).name
    return next((d for d, f in FOLDERS.items() if f == name and (data_root / "labels.csv").is_file()), None)


def all_jobs(data_root: Path, out: Path, datasets: tuple[str, ...]) -> list[ClipJob]:
    raw = out / RAW
    jobs: list[ClipJob] = []
    if "hdm05" in datasets:
        jobs += hdm05_jobs(data_root / "hdm05")
    if "bandai" in datasets:
        jobs += bandai_jobs(data_root / "bandai-namco", raw)
    if "cmu-dance" in datasets:
        jobs += cmu_dance_jobs(data_root / "cmu-dance", raw)
    return jobs


def _stem(job: ClipJob) -> str:
    if job.name:
        return job.name
    p = Path(job.source)
    return f"{p.parent.name}_{p.stem}" if job.dataset == "cmu-dance" else p.stem


def convert_job(job: ClipJob, out: Path, fps: float, twist: str = "rest") -> dict:
    """Convert one clip (a BVH/AMC read with ``twist``, see :class:`a4mer.api.LoadOptions`); returns its
    manifest record, or ``{"error": ...}``."""
    rel = Path("clips") / job.dataset / (_stem(job) + ".npz")
    try:
        motion = load_motion(job.source, fps=fps, source_fps=job.source_fps, asf=job.asf, twist=twist)
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        write_amass_npz(motion.body(), target)  # training data: the SMPL-24 body (hands of SMPL-H/X left out)
    except (A4merError, OSError) as e:
        return {"source": job.source, "error": str(e)}
    return {"path": rel.as_posix(), "dataset": job.dataset, "source": job.source,
            "frames": motion.num_frames, "fps": motion.fps, "labels": job.labels, "split": job.split,
            "twist": twist, "retarget_error_median_deg": motion.meta.get("retarget_error_median_deg")}


def prepare(data_root: str | os.PathLike, out: str | os.PathLike, fps: float = 30.0, jobs: int = 2,
            datasets: tuple[str, ...] | None = None, progress=None, twist: str = "rest",
            source_fps: float | None = None) -> tuple[int, int]:
    """Convert every clip under ``data_root``; returns (converted, failed). Manifest order is stable.
    ``progress(done, total)`` is called as each clip is done (in manifest order).

    ``twist``: how BVH/AMC joint frames are mapped (``"rest"``, the default, as ``convert``,
    ``inbetween`` and ``extend`` read them: the heads train on that; the model's input calibrates
    twist on the clip whichever it is).

    ``datasets``: which of the project's data sets (default: all three where ``data_root`` has the
    project's layout, else ``data_root`` is a plain folder of clips, see :func:`plain_jobs`).
    ``source_fps``: the true rate of every clip of a plain folder (the project's data sets state theirs)."""
    data_root, out = Path(data_root), Path(out)
    if not data_root.is_dir():
        raise A4merError(f"{data_root}: no such data folder (expected one holding {LAYOUT}, or clips)")
    if out.exists() and not out.is_dir():
        raise A4merError(f"-o {out}: not a folder (the prepared clips go into a folder)")
    LoadOptions(twist=twist, source_fps=source_fps)  # an unknown twist or a bad rate: refused before anything
    if not (fps > 0 and jobs >= 1):
        raise A4merError(f"--fps must be positive and --jobs at least 1, got {fps:g} and {jobs}")
    single = project_folder(data_root)
    if single is not None:  # one of the project's folders given itself: its parent, that data set
        if datasets is not None and set(datasets) != {single}:
            raise A4merError(f"{data_root} is the {single} data set; --datasets {','.join(datasets)} names others "
                             f"(give the folder above it, {Path(os.path.abspath(data_root)).parent})")
        data_root, datasets = Path(os.path.abspath(data_root)).parent, (single,)
    if datasets is None and not is_project_layout(data_root):
        todo = plain_jobs(data_root, out, source_fps)
        if not todo:
            raise A4merError(f"{data_root}: no clips (.npz/.bvh/.amc) in it, and not the layout of {LAYOUT}")
    else:
        if source_fps is not None:
            raise A4merError("--source-fps is for a folder of your own clips: the project's data sets state each "
                             "clip's true rate in their labels.csv")
        datasets = datasets or tuple(FOLDERS)
        for d in datasets:  # the layout is checked before anything is made
            if not (data_root / FOLDERS[d] / "labels.csv").is_file():
                raise _missing(data_root / FOLDERS[d] / "labels.csv")
        todo = all_jobs(data_root, out, datasets)  # unpacks the archives into out/_raw
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / OUTPUT_MARK).touch()  # an output, also when this run stops before its manifest is written
        for f in ("manifest.jsonl", "errors.jsonl"):  # the clips are rewritten now: a run stopped half-way must not
            (out / f).unlink(missing_ok=True)       # leave a manifest describing the earlier ones
    except OSError as e:
        raise A4merError(f"-o {out}: cannot write there ({e.strerror or e})") from None
    pool = ProcessPoolExecutor(max_workers=max(1, min(jobs, 61 if os.name == "nt" else jobs)),  # Windows' limit
                               initializer=_die_with_parent)
    records = []
    try:
        for r in pool.map(convert_job, todo, [out] * len(todo), [fps] * len(todo), [twist] * len(todo),
                          chunksize=1):  # a stopped run finishes at most one clip per worker
            records.append(r)
            if progress:
                progress(len(records), len(todo))
    except BaseException:  # Ctrl-C, SIGTERM: the clips not started are dropped, not converted first
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    ok = [r for r in records if "error" not in r]
    bad = [r for r in records if "error" in r]
    _write_jsonl(out / "manifest.jsonl", ok)
    _write_jsonl(out / "errors.jsonl", bad)
    return len(ok), len(bad)


def _die_with_parent() -> None:
    """Worker initializer: SIGTERM kills a worker (the command's own handler, which turns it into Ctrl-C,
    is not for workers), and on Linux a worker is sent SIGTERM when the process that started it dies
    (killed with SIGKILL, its workers waited for work forever)."""
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    from .io.outputs import write_text_atomic
    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def manifest_rows(root: str | os.PathLike) -> list[dict]:
    """Rows of ``root/manifest.jsonl``, ``path`` as written (relative to ``root``); a clear error when
    the file is missing or a line is malformed."""
    path = Path(root) / "manifest.jsonl"
    if not path.is_file():
        raise A4merError(f"{path}: no manifest.jsonl here (prepare data with `a4mer data prepare`)")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row["path"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise A4merError(f"{path}:{n}: bad manifest line ({e})") from None
        rows.append(row)
    return rows


def read_manifest(root: str | os.PathLike) -> list[dict]:
    """Rows of ``root/manifest.jsonl`` with ``path`` made absolute (:func:`manifest_rows`)."""
    return [{**r, "path": str(Path(root) / r["path"])} for r in manifest_rows(root)]
