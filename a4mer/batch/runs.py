"""Run summaries (``<out>/runs/<timestamp>.json``): what each run did, which files earlier runs wrote
for which clip (so none is overwritten by another clip's, and stale ones are removed)."""
from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import A4merError
from .jobs import BatchOptions, ClipResult

@dataclass(frozen=True)
class RunIndex:
    """What earlier runs finished, looked up by clip and by file. files: clip name -> the names of the
    files runs wrote for it; owners: file name (casefolded) -> ``(clip name, input)`` of each run that
    wrote it, in the order of the runs; inputs: clip name -> the input of the latest run that finished it."""

    files: dict[str, set[str]]
    owners: dict[str, list[tuple[str, str]]]
    inputs: dict[str, str]


class RunSummaries:
    """The clips that earlier runs (``out/runs/*.json``) finished. A summary is parsed once while its file
    is unchanged, and the index is rebuilt only when a summary changed: a batch asks for every clip it
    commits, and farm shards add summaries while it runs."""

    def __init__(self, out: Path):
        self.out = out
        self._lock = threading.Lock()
        self._parsed: dict[Path, tuple[tuple[int, int], list]] = {}  # summary -> ((mtime ns, size), clips)
        self._index: tuple[tuple, RunIndex] | None = None  # (the summaries' keys, index)

    def _summaries(self) -> list[tuple[Path, tuple[int, int], list]]:
        """``(path, (mtime ns, size), clips)`` of each summary in run order; clips: ``(clip name, input,
        output file names)`` of every clip the run finished."""
        found = []
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
            found.append((summ, *known))
        return found

    def index(self) -> RunIndex:
        """The :class:`RunIndex` of the summaries as they are now."""
        summaries = self._summaries()
        keys = tuple((summ, key) for summ, key, _ in summaries)
        with self._lock:
            if self._index is not None and self._index[0] == keys:
                return self._index[1]
        index = RunIndex({}, {}, {})
        for _, _, clips in summaries:
            for n, src, written in clips:
                index.files.setdefault(n, set()).update(written)
                for f in written:
                    index.owners.setdefault(f.casefold(), []).append((n, src))
                if isinstance(src, str):
                    index.inputs[n] = src
        with self._lock:
            self._index = (keys, index)
        return index

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
    return set(runs.index().files.get(name, ()))


def latest_inputs(runs: RunSummaries) -> dict[str, str]:
    """Clip name -> the input the latest run that finished it read."""
    return dict(runs.index().inputs)


def same_input(a: str | Path, b: str | Path) -> bool:
    """Whether two input paths name the same clip file: compared by file and folder name, so the same shoot
    mounted elsewhere is the same input, and day2/take001.bvh is not day1/take001.bvh."""
    return Path(a).parts[-2:] == Path(b).parts[-2:]


def foreign_outputs(runs: RunSummaries, name: str, files: list[str]) -> dict[str, tuple[str, str]]:
    """The files of ``files`` that exist in ``out`` and that an earlier run wrote for another clip
    (file -> (that clip's name, its input), the earliest such run's): committing them would overwrite
    another input's outputs (e.g. ``dance__solo.segments.json`` of the armature solo of ``dance.blend``,
    and the clip ``dance/solo.bvh`` added later)."""
    owners = runs.index().owners
    found: dict[str, tuple[str, str]] = {}
    for f in files:
        other = next(((str(n), str(src)) for n, src in owners.get(f.casefold(), ()) if n != name), None)
        if other is not None and (runs.out / f).is_file():
            found[f] = other
    return found


def remove_stale(runs: RunSummaries, name: str, written: list[str]) -> list[str]:
    """Delete what earlier runs wrote for clip ``name`` and this run did not rewrite (the exports or
    gallery of an earlier ``--export``/``--gallery`` run would otherwise sit beside a newer .blend they
    do not describe); returns the names removed. Only files a run summary lists are touched, and only
    while the latest run that wrote a file wrote it for ``name``: a file that a later run wrote for
    another clip (``dance__walker.segments.json`` of an armature of ``dance.blend``, removed and then
    written again by the clip ``dance/walker.bvh``) is that clip's."""
    index = runs.index()
    gone = []
    for f in sorted(index.files.get(name, set()) - set(written)):
        if index.owners[f.casefold()][-1][0] != name:
            continue
        try:
            (runs.out / f).unlink()
            gone.append(f)
        except OSError:  # already gone, or not ours to remove: left as it is
            continue
    return gone


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
    from ..io.outputs import file_mode
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
