"""``a4mer export INPUT --format npz|bvh|babel|timeline|gallery [-o OUT]``

INPUT is a clip (.npz/.bvh/.amc, any SMPL-family or retargeted skeleton) or a .blend (its SMPL
armature; ``--object`` picks one when there are several; read by a worker with the bpy module, so
this command never imports bpy). ``babel`` and the pictures need segments: ``--segments FILE``,
``--segment`` (run the model), or the A4Mer tracks stored on the armature.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import A4merError
from ..wording import counted
from ._common import add_load_arguments, load_clip, load_options, named_files

FORMATS = ("npz", "bvh", "babel", "timeline", "gallery")
SUFFIX = {"npz": ".npz", "bvh": ".bvh", "babel": ".babel.json", "timeline": ".timeline.png",
          "gallery": ".gallery.png"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="clip (.npz/.bvh/.amc) or .blend with an SMPL armature")
    p.add_argument("--format", required=True, choices=FORMATS, help="what to write")
    p.add_argument("-o", "--output", help="output file (default: ./<stem><suffix>, e.g. walk.bvh, walk.babel.json; "
                   "a file of that name there is never replaced: give -o to replace it)")
    p.add_argument("--segments", help="segments JSON of the clip (for babel / timeline / gallery)")
    p.add_argument("--segment", action="store_true", help="run the model to get the segments")
    p.add_argument("--object", help="armature of a .blend input")
    p.add_argument("--python", default=sys.executable, help="interpreter with bpy that reads a .blend")
    p.add_argument("--checkpoint", help="model bundle (with --segment)")
    p.add_argument("--vocab", help="motif vocabulary (with --segment)")
    p.add_argument("--device", default="cpu", help="torch device (with --segment)")
    add_load_arguments(p)


def read_blend(path: str | os.PathLike, object: str | None = None, python: str = sys.executable,
               blender: str | None = None, blender_script: str | None = None) -> list[dict[str, Any]]:
    """Motions (and stored A4Mer segments) of the SMPL armatures of a .blend, read by a worker.

    Returns one dict per armature: ``object``, ``motion`` (SMPL-24 Motion at the scene rate, Z-up),
    ``segments`` (the segments stored by the add-on as its tracks show them now, or None), ``motif_names``,
    ``stale_segments`` (the name of the earlier action the tracks were made for, or None) and
    ``segments_duration`` (seconds of the action that was segmented).
    """
    import tempfile
    from ..batch import BatchOptions, ClipJob, Worker, failure_reason, motion_file, safe_name, worker_args
    from ..io.amass import read_amass_npz
    path = Path(path)
    if not path.is_file():
        raise A4merError(f"{path}: file not found")
    with tempfile.TemporaryDirectory(prefix="a4mer-blend-") as tmp:
        opts = BatchOptions(out=Path(tmp), object=object, python=python, blender=blender,
                            blender_script=blender_script)
        argv = worker_args(ClipJob(path, safe_name(path.stem)), Path(tmp), opts)
        worker = Worker(opts)
        try:
            answer = worker.run([a for a in argv if a not in ("--no-pictures", "--motion-npz")] + ["--dump"], Path(tmp))
        except BaseException:  # Ctrl-C, SIGTERM: the worker (in its own session) is stopped at once
            worker.stop(kill=True)
            raise
        worker.stop()
        result = answer.result
        if result is None or result.get("error"):
            raise A4merError(failure_reason(answer, result, no_result="the .blend reader gave no result"))
        out = []
        for info in result.get("objects", []):
            stem = info["stem"]
            seg_path = Path(tmp) / f"{stem}.segments.json"
            seg = json.loads(seg_path.read_text(encoding="utf-8")) if seg_path.is_file() else None
            out.append({"object": info["object"], "stem": stem, "motion": read_amass_npz(Path(tmp) / motion_file(stem)),
                        "segments": seg, "motif_names": (seg or {}).get("motif_names") or {},
                        "stale_segments": info.get("stale_segments"),
                        "segments_duration": info.get("segments_duration")})
        return out


def _read_segments(path: str) -> dict:
    from ..io._mocap import read_user_text
    from ..strips import validate_segments
    try:
        seg = json.loads(read_user_text(path))
    except (OSError, ValueError, RecursionError) as e:
        raise A4merError(f"{path}: cannot read segments ({e})") from None
    validate_segments(seg, where=str(path))
    return seg


#: suffixes an ``-o`` of each format may end with (a .bvh name never holds an npz archive)
OUT_SUFFIXES = {"npz": (".npz",), "bvh": (".bvh",), "babel": (".json",), "timeline": (".png",), "gallery": (".png",)}


def _source(args: argparse.Namespace):
    """(stem, motion, segments or None, motif names) of the input."""
    src = Path(args.input)
    if src.suffix.lower() == ".blend":
        from .batch import check_worker
        check_worker(args)  # one line for a --python that is not there, not a traceback
        arms = read_blend(src, args.object, python=args.python)
        if len(arms) > 1:
            raise A4merError(f"{src}: several SMPL armatures ({', '.join(a['object'] for a in arms)}): "
                             "choose one with --object")
        a = arms[0]
        uses_tracks = args.format not in ("npz", "bvh") and not (args.segments or args.segment)
        if a["stale_segments"] and uses_tracks:
            raise A4merError(f"{src}: the A4Mer tracks of {a['object']!r} describe its earlier action "
                             f"{a['stale_segments']!r}, not the one it plays now: run Find Atoms and Motifs again "
                             "in Blender, or pass --segment")
        motion, made = a["motion"], a["segments_duration"]
        if uses_tracks and made is not None and abs(made - motion.duration) > 1.01 / motion.fps:
            print(f"a4mer export: note: {src}: the A4Mer tracks of {a['object']!r} were made for {made:.2f} s of its "
                  f"action, which lasts {motion.duration:.2f} s now: run Find Atoms and Motifs again in Blender, or "
                  "pass --segment", file=sys.stderr)
        return src.stem, _with_reading_flags(motion, args), a["segments"], a["motif_names"]
    opts = load_options(args, inputs=[args.input])
    return src.stem, load_clip(src, opts, "export"), None, {}


def _with_reading_flags(motion, args: argparse.Namespace):
    """A .blend's ``motion`` with the reading flags that act on it (``--floor``); a note for each that does
    not (a .blend holds the animation as keyed, at its scene rate: ``--source-fps``, ``--twist``, ...)."""
    opts = load_options(args, inputs=[args.input])  # notes for the flags of BVH/AMC clips
    if args.source_fps:
        print(f"a4mer: note: --source-fps has no effect here: a .blend plays at its scene rate "
              f"({motion.fps:g} fps)", file=sys.stderr)
    if not opts.floor:
        return motion
    from ..floor import put_on_floor
    return put_on_floor(motion)


def _check_segments_fit(seg_path: str, segments: dict, motion, clip: str) -> None:
    """:class:`A4merError` naming the segments file when it was made for a clip of another length."""
    from ..strips import duration_mismatch, segments_duration
    if duration_mismatch(segments, motion.num_frames, motion.fps, exact=True) is not None:
        raise A4merError(f"{seg_path}: these segments cover {segments_duration(segments):.2f} s but {clip} lasts "
                         f"{motion.duration:.2f} s: made for another clip? (segment it with --segment)")


def run(args: argparse.Namespace) -> int:
    from .. import export as ex
    from ..io.outputs import check_output

    # everything the user named is checked before a clip is read or a model runs
    named = args.output is not None
    out = check_output(args.output if named else Path(args.input).stem + SUFFIX[args.format],
                       [args.input, *named_files(args)], OUT_SUFFIXES[args.format] if named else (), replace=named)
    given = _read_segments(args.segments) if args.segments else None
    stem, motion, segments, names = _source(args)
    if given is not None:
        _check_segments_fit(args.segments, given, motion, args.input)
        segments = given
    elif args.segment:
        from .segment import load_model
        model = load_model(args)
        segments = model.segment(motion)
    if args.format in ("timeline", "gallery"):
        if segments is None:
            raise A4merError(f"a {args.format} picture needs segments: pass --segments FILE or --segment")
        from .. import plots  # pictures are written atomically: a failed write leaves nothing
        if args.format == "timeline":
            plots.timeline_png(segments, out, title=f"{stem}: {counted(len(segments['atoms']), 'atom')}, "
                               f"{counted(len(segments['motifs']), 'motif occurrence')}", motif_names=names or None)
        else:
            plots.motif_gallery_png(motion, segments, out, motif_names=names or None,
                                    title=f"{stem}: motif gallery (side view, light = early, dark = late)")
    else:
        ex.export(motion, out, args.format, segments=segments, motif_names=names or None, name=stem,
                  feat_p=str(args.input))
    print(f"{args.input} -> {out} ({args.format}, {motion.num_frames} frames at {motion.fps:g} fps)")
    return 0
