"""``a4mer batch INPUTS... --out DIR [--segment] [--fill-gaps] [--extend N] [--jobs N] [--shard K/N] [--force]``

Every clip (.npz/.bvh/.amc, or every SMPL armature of a .blend) goes through the Blender add-on in a
worker process and gives ``<name>.blend`` (+ ``<name>.segments.json`` and ``<name>.timeline.png``
with ``--segment``); ``DIR/runs/<timestamp>.json`` summarises the run. Exit code 1 when any clip
failed. See docs/batch.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

from ..errors import A4merError
from ._common import add_load_arguments, load_options


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="clips (.npz/.bvh/.amc/.blend) or folders of clips")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--segment", action="store_true", help="find atoms and motifs (tracks, JSON, timeline PNG)")
    p.add_argument("--fill-gaps", action="store_true",
                   help="fill missing frames/keys (a no-op, reported, on dense mocap)")
    p.add_argument("--extend", type=int, default=0, metavar="N", help="add N generated frames at the end")
    p.add_argument("--jobs", type=int, default=1, help="clips processed at once (worker processes)")
    p.add_argument("--shard", help="K/N: process only shard K of N (farm tasks; disjoint, deterministic)")
    p.add_argument("--force", action="store_true", help="redo clips whose outputs exist")
    p.add_argument("--object", help="armature to process in .blend inputs (default: every SMPL armature)")
    p.add_argument("--gallery", action="store_true", help="also draw <name>.gallery.png (motif stick figures)")
    p.add_argument("--export", default="", metavar="FORMATS",
                   help="also write these exports per clip, comma-separated: npz,bvh,babel (babel needs --segment)")
    p.add_argument("--fps", type=float, help="scene frame rate (default: each clip's own rate)")
    add_load_arguments(p, floor=False)  # how clips are read, as the other commands read them
    p.add_argument("--timeout", type=float, default=0.0, help="seconds allowed per clip (0 = no limit); a worker's start-up is not counted")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter with the bpy module that runs each clip (default: this one)")
    p.add_argument("--blender", help="run each clip in this Blender executable (blender -b) instead of --python")
    p.add_argument("--blender-script", help="worker script for --blender (default: scripts/blender_batch.py)")
    p.add_argument("--runner-python",
                   help="interpreter with torch + a4mer that runs the model when the worker's Python lacks torch")
    p.add_argument("--checkpoint", help="model bundle or training folder (default: the shipped model)")
    p.add_argument("--vocab", help="motif vocabulary for the model")
    p.add_argument("--device", help="torch device of the model (cpu, cuda, auto)")
    p.add_argument("--dry-run", action="store_true", help="list the clips of this shard and exit")


def check_worker(args: argparse.Namespace) -> None:
    """Fail early (not once per clip) when the worker cannot start or torch cannot use ``--device`` where
    the model will run."""
    import os
    device = getattr(args, "device", None)
    if getattr(args, "blender", None):  # a4mer export reads a .blend with --python only
        args.blender = blender_binary(args.blender)
        if not (Path(args.blender).is_file() and os.access(args.blender, os.X_OK)):
            raise A4merError(f"--blender {args.blender}: not an executable file")
        worker = {"torch": False, "device": None}  # Blender's Python: not started just to ask
    else:
        own = args.python == sys.executable
        if not own:
            args.python = _interpreter(args.python, "--python")
        worker = probe_interpreter(args.python, device)
        if not worker["bpy"] and own:
            blender = " or --blender PATH" if hasattr(args, "blender") else ""
            raise A4merError(f"{sys.executable} has no bpy module (pip install 'a4mer[blender]'), or pass "
                             f"--python PY (an interpreter with bpy){blender}")
        if not worker["bpy"]:
            raise A4merError(f"--python {args.python}: this interpreter has no bpy module or no a4mer add-on "
                             "(pip install 'a4mer[blender]' there)")
    runner = getattr(args, "runner_python", None)
    if device and not worker["torch"] and runner:  # the worker runs the model in --runner-python
        args.runner_python = _interpreter(runner, "--runner-python")
        worker = probe_interpreter(args.runner_python, device)
    if worker["device"]:
        raise A4merError(f"--device: {worker['device']}")


def _interpreter(python: str, flag: str) -> str:
    """The executable ``python`` names (a path, or a name on PATH), else an error naming ``flag``."""
    import os
    import shutil
    found = python if Path(python).exists() else shutil.which(python)
    if found is None:
        raise A4merError(f"{flag} {python}: no such interpreter")
    if not (Path(found).is_file() and os.access(found, os.X_OK)):
        raise A4merError(f"{flag} {python}: not an executable file")
    return found


#: run by an interpreter: does it have bpy with the add-on, torch, and can torch use the device argv[1]?
_PROBE = """import importlib.util as u, json, sys
r = {"bpy": bool(u.find_spec("bpy") and u.find_spec("a4mer_blender")), "torch": bool(u.find_spec("torch")),
     "device": None}
if r["torch"] and len(sys.argv) > 1:
    try:
        from a4mer.model import resolve_device
        resolve_device(sys.argv[1])
    except ImportError:
        r["torch"] = False
    except Exception as e:
        r["device"] = str(e)
print("A4MER_PROBE " + json.dumps(r))
"""


def probe_interpreter(python: str, device: str | None) -> dict:
    """``{"bpy", "torch", "device"}`` of the interpreter ``python``: whether it has bpy with the add-on,
    and torch, and why torch cannot use ``device`` there (None when it can, or when nothing was asked).
    A child process: the answer is the one the worker will meet."""
    import subprocess

    from ..processes import TEXT_PIPES, child_env
    try:
        proc = subprocess.run([python, "-c", _PROBE, *([device] if device else [])], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=120, env=child_env(), **TEXT_PIPES)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise A4merError(f"{python}: cannot run this interpreter ({e})") from None
    if "A4MER_PROBE " not in proc.stdout:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise A4merError(f"{python}: cannot run this interpreter ({last})")
    return json.loads(proc.stdout.split("A4MER_PROBE ", 1)[1].splitlines()[0])


def blender_binary(path: str) -> str:
    """The Blender executable ``path`` means: Windows' ``blender-launcher.exe`` (the Start menu's Blender,
    which shows the worker's output in a hidden console, so the batch never got its result line) is
    ``blender.exe`` beside it; a macOS ``Blender.app`` folder is ``Blender.app/Contents/MacOS/Blender``."""
    p = Path(path)
    if p.name.lower() == "blender-launcher.exe" and (p.parent / "blender.exe").is_file():
        return str(p.parent / "blender.exe")
    if p.suffix.lower() == ".app" and (p / "Contents" / "MacOS" / "Blender").is_file():
        return str(p / "Contents" / "MacOS" / "Blender")
    return path


def run(args: argparse.Namespace) -> int:
    from ..batch import (BatchOptions, Terminated, check_not_input_folder, check_rate, discover, parse_shard,
                         prepare_out, run_batch, select_shard, summary, write_summary)

    if args.jobs < 1:
        raise A4merError("--jobs must be at least 1")
    if args.extend < 0:
        raise A4merError("--extend must be >= 0")
    check_rate(args.fps, "--fps")
    check_rate(args.source_fps, "--source-fps")
    load_options(args)  # a bad value (--scale 0, a --bone-map or --asf file that is not there) before any clip
    if not 0 <= args.timeout <= threading.TIMEOUT_MAX:  # nan, inf: every clip failed on it
        raise A4merError(f"--timeout must be a number of seconds >= 0 (0 = no limit), got {args.timeout:g}")
    exports = tuple(f for f in (x.strip() for x in args.export.split(",")) if f)
    bad = [f for f in exports if f not in ("npz", "bvh", "babel")]
    if bad:
        raise A4merError(f"--export: unknown format(s) {', '.join(bad)}; expected npz, bvh, babel")
    if "babel" in exports and not args.segment:
        raise A4merError("--export babel needs --segment (the labels are the motifs)")
    if args.gallery and not args.segment:
        raise A4merError("--gallery needs --segment (the pictures show the motifs it finds)")
    for flag, value in (("--checkpoint", args.checkpoint), ("--vocab", args.vocab)):
        if value and not Path(value).exists():  # once, not once per clip
            raise A4merError(f"{flag} {value}: no such file or folder")
    out = Path(args.out)
    shard = parse_shard(args.shard) if args.shard else None
    jobs_all = discover(args.inputs, exclude=out)
    check_not_input_folder(out, [j.path for j in jobs_all])
    jobs = select_shard(jobs_all, shard)
    opts = BatchOptions(out=out, segment=args.segment, fill_gaps=args.fill_gaps, extend=args.extend,
                        jobs=args.jobs, shard=shard, force=args.force, object=args.object, python=args.python,
                        blender=args.blender, blender_script=args.blender_script,
                        runner_python=args.runner_python, fps=args.fps, source_fps=args.source_fps, asf=args.asf,
                        keep_reference_frames=args.keep_reference_frames, bone_map=args.bone_map, scale=args.scale,
                        up=args.up, twist=args.twist, timeout=args.timeout,
                        gallery=args.gallery, exports=exports, checkpoint=args.checkpoint, vocab=args.vocab, device=args.device)
    check_worker(args)
    where = f"shard {shard[0]}/{shard[1]}: " if shard else ""
    if args.dry_run:
        for j in jobs:
            print(f"{j.name}\t{j.path}")
        print(f"{where}{len(jobs)} of {len(jobs_all)} clips", file=sys.stderr)
        return 0
    prepare_out(out)  # before the first line: a folder that cannot be written is one error
    print(f"a4mer batch: {where}{len(jobs)} of {len(jobs_all)} clips -> {out} ({args.jobs} at once)", flush=True)
    started = datetime.now(timezone.utc)
    finished: dict = {}
    try:
        results = run_batch(jobs, opts, log=lambda s: print(s, flush=True), results=finished)
    except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM or SIGHUP: the clips finished before it still get their summary
        data = summary([finished[i] for i in sorted(finished)], opts, started, list(sys.argv), total=len(jobs_all))
        term = isinstance(e, Terminated)
        data.update(interrupted=True, signal=e.signame if term else "SIGINT")
        path = write_summary(out, data, started)
        try:  # after SIGHUP the terminal may be gone
            print(f"a4mer batch: {f'terminated ({e.signame})' if term else 'interrupted'} after {len(finished)} "
                  f"of {len(jobs)} clips; summary {path}", file=sys.stderr)
        except OSError:
            pass
        if term:
            return 128 + e.signum
        raise
    data = summary(results, opts, started, list(sys.argv), total=len(jobs_all))
    path = write_summary(out, data, started)
    c = data["counts"]
    print(f"a4mer batch: {c['ok']} done, {c['skipped']} skipped, {c['failed']} failed; summary {path}")
    for r in results:
        if r.status == "failed":
            print(f"a4mer batch: failed: {r.input}: {r.short_reason()}", file=sys.stderr)
    return 1 if c["failed"] else 0
