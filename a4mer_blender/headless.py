"""Scripted use without a UI (``blender -b`` or the bpy module): import a clip, segment an armature.

With the bpy module (a4mer_blender importable)::

    python -c "import sys, a4mer_blender.headless as h; sys.exit(h.main(sys.argv[1:]))" \\
        CLIP.npz [--segments SEG.json] [--python WORKER_PY] [--save OUT.blend]

With a Blender binary and the extension installed (user repository)::

    blender -b --python-exit-code 1 --python-expr "import importlib, sys; \\
        sys.exit(importlib.import_module('bl_ext.user_default.a4mer_blender.headless').main())" \\
        -- CLIP.npz --segments SEG.json --save OUT.blend

(``main()`` with no argument reads the arguments after ``--``.) The model runs as the add-on's
preferences say (Run the model, Worker Python, checkpoint, vocabulary, device); ``--python`` runs it in
that worker interpreter instead.
"""
from __future__ import annotations

import argparse
import sys

from ._core import errors, wording


def segment_object(context, obj, segments: dict | None = None, settings=None) -> dict:
    """Add the A4Mer tracks to armature ``obj`` (from ``segments`` or by running the model with
    ``settings``, default: the add-on's preferences); the record. A segments file made for a clip of
    another length is applied cut to the action, with a warning on stderr (as the operator reports)."""
    from . import runner
    from ._core import strips
    from .bridge import armature, nla
    from .preferences import get_settings
    armature.check_time_map(context.scene)
    motion = armature.read_motion(obj, context.scene)
    if segments is None:
        segments = runner.run_sync(motion, settings or get_settings(context))
    record = nla.apply_segments(obj, context.scene, segments)
    warning = strips.duration_mismatch(segments, motion.num_frames, motion.fps)
    if warning:
        print(f"a4mer_blender: warning: {warning}", file=sys.stderr)
    return record


def main(argv: list[str] | None = None) -> int:
    import bpy
    from .operators.importer import import_motion
    from .operators.segment import load_segments_file
    argv = list(sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []) if argv is None else argv
    p = argparse.ArgumentParser(prog="a4mer_blender.headless")
    p.add_argument("clip")
    p.add_argument("--segments", help="segments JSON to apply instead of running the model")
    p.add_argument("--python", help="run the model in this worker interpreter (default: as the preferences say)")
    p.add_argument("--save", help="write the scene to this .blend")
    args = p.parse_args(argv)
    try:
        obj, _ = import_motion(bpy.context, args.clip, apply_to_selected=False)
        seg = load_segments_file(args.segments) if args.segments else None
        settings = None
        if args.python:
            from dataclasses import replace

            from .preferences import get_settings
            settings = replace(get_settings(bpy.context), mode="WORKER", python=args.python)
        record = segment_object(bpy.context, obj, seg, settings)
    except errors.A4merError as e:
        print(f"a4mer_blender: error: {e}", file=sys.stderr)
        return 1
    print(f"{wording.counted(len(record['tracks'][0]['strips']), 'atom')}, "
          f"{wording.counted(len(record['tracks'][1]['strips']), 'motif occurrence')}")
    if args.save:
        bpy.ops.wm.save_as_mainfile(filepath=args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
