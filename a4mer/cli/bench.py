"""``a4mer bench --data DIR --out DIR``: heads benchmark (in-betweening, blocking, extension).

Loads every supported clip under DIR (or the clips of ``DIR/manifest.jsonl`` from
``a4mer data prepare``, optionally one split), resamples to 30 fps, runs the baselines and the learned
heads (when a heads file is found), and writes ``OUT/heads_bench.json``, ``OUT/heads_bench.md``,
plots ``OUT/heads_*.png`` and, with ``--doc``, the "## Heads I" section of that markdown file.
A clip's data set is the manifest's ``dataset`` field, else the name of the first sub-folder of DIR it
lies in (a clip directly in DIR: DIR's own name); ``--max-clips`` caps each data set (evenly chosen,
said on stderr and in the report as "N of M").
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import A4merError
from ..io.outputs import a4mer_json, check_folder, check_output
from ..processes import TEXT_PIPES, child_env


TASKS = ("inbetween", "blocking", "extension")

#: the baselines timed beside the learned methods: those the heads are measured against (gaps and
#: blocking: the cubic Hermite; extension: constant velocity)
TIMED_BASELINES = ("hermite", "constant_velocity")

#: frames a clip needs for the timed 60-frame gap (keys 29 and 90: 1 s of context on each side, at 30 fps)
TIMED_GAP_FRAMES = 2 * 30 + 60


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ._common import add_load_arguments
    p.add_argument("--data", help="folder of clips (npz/bvh/amc) or of a prepared dataset (not needed with --render-only)")
    p.add_argument("--out", required=True, help="folder for JSON, markdown and plots")
    p.add_argument("--split", default=None, help="with a manifest.jsonl: only clips of this split (e.g. test)")
    p.add_argument("--datasets", default=None, help="comma list of datasets to keep (manifest or sub-folder names)")
    p.add_argument("--max-clips", type=int, default=80,
                   help="at most this many clips per data set (default %(default)s, evenly chosen; a data set is a manifest's dataset "
                        "field or a sub-folder of --data)")
    p.add_argument("--windows-per-clip", type=int, default=8,
                   help="at most this many non-overlapping windows per clip and setting of in-betweening and "
                        "extension (more: more windows from long clips); blocking keys each clip's first 300 frames once")
    p.add_argument("--heads", default="auto", help="learned heads file (.safetensors), 'auto' (bundled) or 'none'")
    p.add_argument("--tokens", default="auto", help="token heads file (the token route: predicted A4Mer tokens, "
                   "decoded), 'auto' (bundled, when present) or 'none'")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma list of tasks ({', '.join(TASKS)})")
    p.add_argument("--doc", default=None, help="markdown file whose '## Heads I' section is (re)written")
    p.add_argument("--cold", action="store_true", help="also time `a4mer inbetween` / `a4mer extend` (for the tasks "
                   "asked, with their defaults: the shipped model and heads) from a cold start (fresh processes)")
    p.add_argument("--notes", default=None, help="markdown file appended to the section (the reading of the numbers; "
                   "--doc without --notes rewrites the section without them)")
    p.add_argument("--render-only", action="store_true",
                   help="do not measure: re-render OUT/heads_bench.json into markdown, plots and --doc")
    add_load_arguments(p, floor=False)


def _manifest(data: Path) -> list[dict] | None:
    """The rows of ``data/manifest.jsonl`` (None without one); a bad line is an error naming it."""
    from ..prepare import manifest_rows
    return manifest_rows(data) if (data / "manifest.jsonl").is_file() else None


def _entries(data: Path, split: str | None) -> list[tuple[Path, str]]:
    """(clip path, dataset name) of every clip: from manifest.jsonl when present, else a folder scan (a
    clip directly in ``data`` is in the data set named after the folder, ``.`` included)."""
    rows = _manifest(data)
    if rows is not None:
        return [(data / r["path"], r.get("dataset", "?")) for r in rows if not split or r.get("split") == split]
    if split:
        raise A4merError(f"{data}: --split needs a manifest.jsonl (made by 'a4mer data prepare')")
    from ._common import collect_inputs
    files = collect_inputs([str(data)])
    own = data.resolve().name
    return [(f, f.relative_to(data).parts[0] if len(f.relative_to(data).parts) > 1 else own) for f in files]


def load_clips(data: Path, split: str | None, datasets: set[str] | None, max_clips: int,
               fps: float = 30.0, options=None, entries=None, unreadable: list[str] | None = None
               ) -> tuple[list[tuple[str, str, "object"]], dict[str, int]]:
    """(name, dataset, Motion at ``fps``) for at most ``max_clips`` readable clips per dataset, evenly
    spread (a clip that cannot be read gives its place to the next one), and how many clips each dataset
    holds (a cut data set is a note on stderr: "80 of 120 clips").
    ``options``: :class:`a4mer.api.LoadOptions` of the BVH/AMC reading (``fps`` is set here);
    ``entries``: :func:`_entries` of ``data`` and ``split``, when read already. A clip that cannot be read
    is named on stderr and left out (``unreadable``, when given, gets its error line)."""
    from dataclasses import replace

    from ..api import LoadOptions, load_motion
    if max_clips < 1:
        raise A4merError(f"--max-clips must be at least 1, got {max_clips}")
    opts = replace(options or LoadOptions(), fps=fps)
    entries = _entries(data, split) if entries is None else entries
    by: dict[str, list[Path]] = {}
    for path, ds in entries:
        if datasets is None or ds in datasets:
            by.setdefault(ds, []).append(path)
    if not by:  # name what there is, so a typo in --split / --datasets is plain
        recs = _manifest(data) or []
        have = sorted({r.get("dataset", "?") for r in recs} if recs else {ds for _, ds in _entries(data, None)})
        splits = sorted({r.get("split", "?") for r in recs})
        raise A4merError(f"{data}: no clips" + (f" of split {split!r}" if split else "")
                         + (f" in data sets {', '.join(sorted(datasets))}" if datasets else "")
                         + f"; it holds data sets {', '.join(have) or 'none'}"
                         + (f" and splits {', '.join(splits)}" if splits else ""))
    clips, found = [], {}
    for ds, paths in sorted(by.items()):
        paths = sorted(paths)
        found[ds] = len(paths)
        if len(paths) > max_clips:
            print(f"a4mer bench: note: data set {ds}: {max_clips} of {len(paths)} clips (--max-clips {max_clips}, "
                  "evenly chosen)", file=sys.stderr)
            chosen = list(dict.fromkeys(np.linspace(0, len(paths) - 1, max_clips).round().astype(int).tolist()))
            paths = [paths[i] for i in chosen] + [p for i, p in enumerate(paths) if i not in set(chosen)]
        got = []
        for p in paths:
            if len(got) == max_clips:
                break
            try:
                m = load_motion(p, opts).body()
            except A4merError as e:
                print(f"a4mer bench: skipping {p}: {e}", file=sys.stderr)
                if unreadable is not None:
                    unreadable.append(str(e) if str(p) in str(e) else f"{p}: {e}")
                continue
            got.append((str(p.relative_to(data) if p.is_relative_to(data) else p), ds, m))
        clips += sorted(got, key=lambda c: c[0])
    if not clips:
        raise A4merError(f"{data}: no usable clips")
    return clips, found


def _l2p_stats(clips, context: int):
    from ..bench import metrics as M
    wins = []
    for _, _, m in clips:
        p, g = M.body_fk(m.rotations, m.root_translation)
        ref = min(context - 1, len(p) - 1)
        wins.append(M.canonicalize(p, g, ref)[0])
    return M.position_stats(wins)


def _learned(spec: str):
    if spec == "none":
        return []
    from ..heads.files import find_heads, load_heads
    path = find_heads() if spec == "auto" else Path(spec)
    if path is None:
        return []
    if not Path(path).is_file():
        raise A4merError(f"{spec}: heads file not found")
    from ..heads.inbetween import TASKS, LearnedHeads
    shipped = load_heads(path)
    shipped.name = "heads (shipped, gated)"
    if all(shipped.gates.values()):
        return [shipped]
    ungated = LearnedHeads(shipped.net, {t: True for t in TASKS}, shipped.meta, name="learned (ungated)")
    return [shipped, ungated]


def _token_route(spec: str):
    if spec == "none":
        return []
    from ..heads.token_heads import find_token_heads, load_token_heads
    path = find_token_heads() if spec == "auto" else Path(spec)
    if path is None:
        return []
    return [load_token_heads(path)]


def _too_short_for_gap(clip) -> str:
    return (f"the longest clip has {clip.num_frames} frames, a 60-frame gap with 1 s of context on each side "
            f"needs {TIMED_GAP_FRAMES}")


#: fresh processes per command timed from a cold start (the median is reported: one run can take
#: several times as long when the machine is busy or the disk cache cold)
COLD_RUNS = 3


def _cold_cli(clip, tasks=TASKS) -> tuple[dict, list[str]]:
    """Seconds (median of :data:`COLD_RUNS`) of ``a4mer inbetween`` (a 60-frame gap; for the inbetween
    task) and ``a4mer extend`` (90 frames; for the extension task) run as fresh processes with their
    defaults (the shipped model and heads) on the first 150 frames of ``clip``, and a note for each one
    not measured (the clip is too short for the gap; a run that failed, with its last line of stderr)."""
    import subprocess
    import tempfile
    from ..io.amass import write_amass_npz
    res, notes = {}, []
    with tempfile.TemporaryDirectory() as td:
        src = Path(td) / "clip.npz"
        write_amass_npz(clip.slice(0, min(clip.num_frames, 150)), src)
        runs = []
        if "inbetween" in tasks and clip.num_frames >= TIMED_GAP_FRAMES:
            runs.append(("cli_cold_inbetween_60_frames_s", ["inbetween", str(src), "--start", "29", "--end", "90",
                                                             "-o", str(Path(td) / "a.npz")]))
        elif "inbetween" in tasks:
            notes.append(f"cli_cold_inbetween_60_frames_s: not measured: {_too_short_for_gap(clip)}")
        if "extension" in tasks:
            runs.append(("cli_cold_extend_90_frames_s", ["extend", str(src), "--frames", "90", "-o",
                                                         str(Path(td) / "b.npz")]))
        for name, argv in runs:
            seconds = []
            for _ in range(COLD_RUNS):
                t0 = time.perf_counter()
                r = subprocess.run([sys.executable, "-m", "a4mer", *argv], capture_output=True, **TEXT_PIPES,
                                   env=child_env())
                if r.returncode != 0:
                    last = (r.stderr.strip().splitlines() or ["no message"])[-1]
                    notes.append(f"{name}: not measured: a4mer {argv[0]} exited {r.returncode}: {last}")
                    break
                seconds.append(time.perf_counter() - t0)
            else:
                res[name] = float(np.median(seconds))
    return res, notes


def _warm_speed(methods, clip, tasks=TASKS) -> tuple[dict, list[str]]:
    """Warm seconds (mean of 3) of a 60-frame gap and of 90 frames of extension: in a 150-frame clip,
    and in a 5-minute take (the clip repeated) where only the frames around the gap may be worked on;
    and blocking that take keyed every 8 frames; only for the benchmark's ``tasks``. Also a note for what
    the clip is too short for."""
    from ..motion import concatenate
    res, notes = {}, []
    if "inbetween" in tasks and clip.num_frames < TIMED_GAP_FRAMES:
        notes.append(f"warm 60-frame gap: not measured: {_too_short_for_gap(clip)}")
    c = clip.slice(0, min(clip.num_frames, 150))
    take = concatenate([c] * int(np.ceil(300 * c.fps / c.num_frames)))
    mid = (take.num_frames // c.num_frames // 2) * c.num_frames

    def timed(f) -> float:
        f()
        t0 = time.perf_counter()
        for _ in range(3):
            f()
        return (time.perf_counter() - t0) / 3

    for m in methods:
        if "inbetween" in tasks and "inbetween" in m.tasks and c.num_frames >= TIMED_GAP_FRAMES:
            res[f"warm_inbetween_60_frames_{m.name}_s"] = timed(lambda: m.fill_gap(c, 29, 90))
            res[f"warm_inbetween_60_frames_5_min_take_{m.name}_s"] = timed(lambda: m.fill_gap(take, mid + 29, mid + 90))
        if "blocking" in tasks and "blocking" in m.tasks:
            keys = np.arange(0, take.num_frames, 8)
            res[f"warm_blocking_keys_every_8_5_min_take_{m.name}_s"] = timed(lambda: m.fill_keys(take, keys))
        if "extension" in tasks and "extend" in m.tasks:
            ctx = c.slice(0, 30)
            res[f"warm_extend_90_frames_{m.name}_s"] = timed(lambda: m.extend(ctx, 90))
            res[f"warm_extend_90_frames_5_min_take_{m.name}_s"] = timed(lambda: m.extend(take, 90))
    return res, notes


def run(args: argparse.Namespace) -> int:
    from ..bench.extension import ExtensionConfig, run_extension
    from ..bench.inbetween import InbetweenConfig, run_blocking, run_gaps
    from ..bench.methods import baseline_methods

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise A4merError(f"--out {out}: not a folder (the results, report and plots go into a folder)")
    notes_md = _notes(args.notes)
    if args.render_only:
        src = out / "heads_bench.json"
        if not src.is_file():
            raise A4merError(f"{src}: no results to render (run without --render-only first)")
        try:
            saved = json.loads(src.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise A4merError(f"{src}: not a benchmark result ({e}); run without --render-only to measure again") from None
        _check_doc(args.doc, [src], args.notes, out)
        _check_outputs(out)
        return _render(saved, args, out, notes_md)
    if not args.data:
        raise A4merError("--data is needed (a folder of clips or of a prepared dataset), except with --render-only")
    data = Path(args.data)
    if not data.is_dir():
        raise A4merError(f"{data}: not a folder")
    if args.windows_per_clip < 1:
        raise A4merError(f"--windows-per-clip must be at least 1, got {args.windows_per_clip}")
    tasks = {t.strip() for t in args.tasks.split(",") if t.strip()}
    unknown = sorted(tasks - set(TASKS))
    if unknown or not tasks:
        raise A4merError(f"--tasks: unknown {', '.join(unknown) or 'empty list'}; choose from {', '.join(TASKS)}")
    ds = set(args.datasets.split(",")) if args.datasets else None
    t0 = time.perf_counter()
    from ._common import load_options
    entries = _entries(data, args.split)
    _check_doc(args.doc, [p for p, _ in entries], args.notes, out)
    opts = load_options(args, inputs=[p for p, _ in entries])
    check_folder(out, "--out")  # before minutes of measuring
    _check_outputs(out)
    learned = _learned(args.heads) + _token_route(args.tokens)  # a wrong file named before the clips are read
    unreadable: list[str] = []
    clips, found = load_clips(data, args.split, ds, args.max_clips, options=opts, entries=entries, unreadable=unreadable)
    methods = learned + baseline_methods()
    icfg = InbetweenConfig(windows_per_clip=args.windows_per_clip)
    ecfg = ExtensionConfig(windows_per_clip=args.windows_per_clip)
    counts = {}
    for _, d, _ in clips:
        counts[d] = counts.get(d, 0) + 1
    results: dict = {"meta": {"data": str(data), "split": args.split, "clips": len(clips), "datasets": counts,
                              "clips_found": found, "max_clips": args.max_clips,
                              "clip_names": [name for name, _, _ in clips], "unreadable": unreadable,
                              "methods": [m.name for m in methods], "windows_per_clip": args.windows_per_clip,
                              "notes": []}}
    for m in methods:
        if hasattr(m, "describe"):
            results["meta"]["notes"].append(m.describe())
    if "inbetween" in tasks:
        results["inbetween"] = run_gaps(clips, methods, icfg, _l2p_stats(clips, icfg.context))
    if "blocking" in tasks:
        results["blocking"] = run_blocking(clips, methods, icfg)
    if "extension" in tasks:
        results["extension"] = run_extension(clips, methods, ecfg)
    rows = [(task, k, row) for task in TASKS if task in results for k, row in results[task].items()]
    empty = [(task, k, row["min_clip_frames"]) for task, k, row in rows if not row.get("clips")]
    longest = max(c[2].num_frames for c in clips)
    if len(empty) == len(rows):
        raise A4merError(f"{data}: no window fits these clips (the longest has {longest} frames at 30 fps; the "
                         f"shortest window needs {min(n for _, _, n in empty)})")
    for task in dict.fromkeys(t for t, _, _ in empty):
        ks = [(k, n) for t, k, n in empty if t == task]
        print(f"a4mer bench: warning: {task} {', '.join(k for k, _ in ks)} frames: no clip is long enough (the longest "
              f"has {longest} frames at 30 fps; they need {', '.join(f'{n}+' for _, n in ks)})", file=sys.stderr)
    long = max(clips, key=lambda c: c[2].num_frames)[2]
    results["speed"], notes = _warm_speed(learned + [m for m in methods if m.name in TIMED_BASELINES], long, tasks)
    if args.cold:
        cold, cold_notes = _cold_cli(long, tasks)
        results["speed"].update(cold)
        notes += cold_notes
    for n in notes:
        print(f"a4mer bench: note: {n}", file=sys.stderr)
    if not args.cold:
        notes.append("CLI from a cold start: not measured (add --cold)")
    results["speed_notes"] = notes
    results["meta"]["bench_seconds"] = time.perf_counter() - t0
    results["meta"]["command"] = "a4mer bench " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if sys.argv[1:2] == ["bench"] else f"a4mer bench --data {args.data} --out {args.out}"
    _render(results, args, out, notes_md, save=True)
    if unreadable:  # as convert and data prepare do: the rest is measured, the exit code says a file failed
        print(f"a4mer bench: {len(unreadable)} clip(s) could not be read and are not in the numbers (named above)",
              file=sys.stderr)
        return 1
    return 0


def _notes(path: str | None) -> str:
    """The text of ``--notes`` (empty without it), read before anything is measured."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise A4merError(f"--notes {path}: cannot read it ({e.strerror if isinstance(e, OSError) else e})") from None


def _check_doc(doc: str | None, inputs: list, notes: str | None, out: Path) -> None:
    """:class:`A4merError` unless ``--doc`` names a markdown file (``.md``) in an existing folder that is
    none of ``inputs`` (the clips) nor ``--notes`` and not the page written into ``out``: its "Heads I"
    section is rewritten in place."""
    if not doc:
        return
    if Path(doc).resolve() == (out / "heads_bench.md").resolve():
        raise A4merError(f"--doc {doc}: the page a4mer bench writes into --out itself (whole, each run); --doc names "
                         "another page whose 'Heads I' section is rewritten, e.g. docs/benchmarks.md")
    check_output(doc, inputs=[*inputs, *([notes] if notes else [])], suffixes=(".md",))


def _check_outputs(out: Path) -> None:
    """:class:`A4merError` when ``out`` holds a ``heads_bench.json``, ``heads_bench.md`` or plot
    (``heads_*.png``) that a4mer bench did not write (the user's own files are never replaced). A plot
    is a4mer's when it carries :data:`a4mer.bench.report.PLOT_MARK`, or, drawn before plots were marked,
    when it lies beside a result of a4mer bench."""
    from ..bench import report
    result = out / "heads_bench.json"
    ours_result = result.is_file() and a4mer_json("meta", "speed")(result)  # read once: the plots beside it too
    checks = [("heads_bench.json", lambda p: ours_result), ("heads_bench.md", _bench_page)]
    checks += [(name, lambda p: ours_result or report.is_our_plot(p)) for name in report.plot_names()]
    for name, ours in checks:
        p = out / name
        if p.is_dir() or (p.is_file() and not ours(p)):
            raise A4merError(f"{p}: exists already and is not a result of a4mer bench; move it away, or give "
                             "another --out")


def _bench_page(path: Path) -> bool:
    """Whether ``path`` is a page a4mer bench wrote (it starts with the "## Heads I" heading)."""
    from ..bench.report import SECTION
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().rstrip("\n") == SECTION
    except (OSError, UnicodeDecodeError):
        return False


def _render(results: dict, args: argparse.Namespace, out: Path, notes: str, save: bool = False) -> int:
    """Write the markdown page and plots (and with ``save`` the JSON) of ``results`` into ``out`` as one
    set: made in a hidden folder there, then moved into place with the earlier run's plots that this
    one does not draw removed, so an interrupt or error leaves the earlier run's set whole (a new
    ``out`` it made is removed again), never a page beside another run's results; then ``--doc``."""
    import shutil
    import tempfile
    from ..bench import report
    doc = Path(args.doc) if args.doc else None
    cmd = results.get("meta", {}).get("command", f"a4mer bench --data {args.data} --out {args.out}")
    made_out = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise A4merError(f"--out {out}: cannot create the folder ({e.strerror or e})") from None
    try:
        with tempfile.TemporaryDirectory(prefix=".a4mer-bench-", dir=out) as tmp:
            drawn = [out / p.name for p in report.plot(results, Path(tmp))]

            def page(folder: Path) -> str:  # picture links relative to the page that shows them
                rel = [os.path.relpath(p.resolve(), folder.resolve()) for p in drawn]
                md = report.markdown(results, cmd, rel)
                return md.rstrip() + "\n\n" + notes + "\n" if notes else md

            md = page(out)
            (Path(tmp) / "heads_bench.md").write_text(md, encoding="utf-8")
            files = [p.name for p in drawn] + ["heads_bench.md"]
            if save:
                (Path(tmp) / "heads_bench.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                                            encoding="utf-8")
                files.append("heads_bench.json")
            for name in report.plot_names():
                if name not in files and (out / name).is_file():
                    (out / name).unlink()
            for name in files:
                os.replace(Path(tmp) / name, out / name)
    except BaseException as e:
        if made_out:
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(e, OSError):
            raise A4merError(f"--out {out}: cannot write the results ({e.strerror or e})") from None
        raise
    if doc:
        report.update_doc(doc, page(doc.parent))
    print(md)
    return 0
