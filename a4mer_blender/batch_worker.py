"""One clip of ``a4mer batch``: import or open it, fill gaps, extend, segment, save the .blend.

    python -m a4mer_blender.batch_worker --input X --out-dir D [--segment] [--fill-gaps] [--extend N]
        [--object NAME] [--name STEM] [--fps F] [--source-fps F] [--asf ASF] [--keep-reference-frames]
        [--python PY] [--checkpoint C] [--vocab V] [--device D] [--taken STEM=PATH ...]
    blender -b --factory-startup --python-exit-code 1 --python scripts/blender_batch.py -- (same args)
    python -m a4mer_blender.batch_worker --serve    (a4mer batch: one clip per request line on stdin)

The add-on is registered and the work goes through the functions its operators use
(:func:`operators.importer.import_motion`, :func:`headless.segment_object`, the armature bridge).
Outputs: ``D/<stem>.blend`` and, with ``--segment``, ``D/<stem>.segments.json`` (+ timeline PNG
when matplotlib imports and not ``--no-pictures``); a .blend with several SMPL armatures gives
``<stem>__<armature>.segments.json`` each (an armature whose ``<stem>__<armature>`` is a ``--taken``
stem, which another input of the batch writes, is refused). Files are written into a hidden folder in ``D`` and renamed
at the end (.blend last). The last stdout line is ``A4MER_RESULT {json}`` (objects, outputs, notes,
or ``error``); exit code 1 on failure. The input file is never modified: ``D`` may not be the input's
folder.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path

from ._core import CORE, errors, gaps



def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="a4mer_blender.batch_worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="clip (.npz/.bvh/.amc) or .blend")
    p.add_argument("--out-dir", required=True, help="output folder")
    p.add_argument("--final-dir", help="where the outputs finally lie, when another process moves them there from "
                                       "--out-dir (a4mer batch): relative paths in the .blend are written for it")
    p.add_argument("--name", help="stem of the outputs (default: the input's stem)")
    p.add_argument("--segment", action="store_true")
    p.add_argument("--fill-gaps", action="store_true")
    p.add_argument("--extend", type=int, default=0)
    p.add_argument("--object", help="armature of a .blend input (default: every SMPL armature of its scene)")
    p.add_argument("--fps", type=float, help="scene rate for clip inputs (default: the clip's own)")
    p.add_argument("--source-fps", type=float, help="override the frame rate stated in the clip file")
    p.add_argument("--asf", help="ASF skeleton of an AMC clip (default: beside it or in ../asf/)")
    p.add_argument("--keep-reference-frames", action="store_true",
                   help="keep a BVH/AMC's lead-in when its frame 0 is the file's rest pose (dropped by default)")
    p.add_argument("--bone-map", help="JSON map SMPL joint -> source joint for unknown skeletons")
    p.add_argument("--scale", type=float, help="root translation factor (default: SMPL/source leg length)")
    p.add_argument("--up", default="auto", choices=("auto", "y", "z"), help="a BVH file's up axis")
    p.add_argument("--twist", default="rest", choices=("rest", "clip"), help="a BVH/AMC's joint twist")
    p.add_argument("--python", help="interpreter with torch + a4mer that runs the model (worker mode)")
    p.add_argument("--checkpoint", default="")
    p.add_argument("--vocab", default="")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-pictures", action="store_true", help="do not draw the timeline PNG here")
    p.add_argument("--motion-npz", action="store_true",
                   help="also write .<stem>.motion.npz (the final animation, for pictures drawn elsewhere)")
    p.add_argument("--taken", action="append", default=[], metavar="STEM=PATH",
                   help="an output stem that the input PATH of the same batch writes: an armature of a .blend "
                        "that would write it is refused (a4mer batch passes these)")
    p.add_argument("--dump", action="store_true",
                   help="read only: write .<stem>.motion.npz and the stored segments of each armature, no .blend")
    return p.parse_args(argv)


def _core(name: str):
    import importlib
    return importlib.import_module(f"{CORE}.{name}")


def _safe(text: str) -> str:
    return _core("batch").safe_name(text)


# --- scene ---------------------------------------------------------------------------------------
def enable_addon() -> None:
    """Register this add-on in the current session (after a factory reset). The package is imported
    already (``python -m``); stamping it as Blender does keeps ``enable`` from reloading it (and from
    printing "module changed on disk")."""
    import addon_utils
    pkg = sys.modules.get(__package__)
    if pkg is not None and not hasattr(pkg, "__time__"):
        pkg.__time__ = os.path.getmtime(pkg.__file__)
    addon_utils.enable(__package__, default_set=True, handle_error=None)


def set_preferences(args: argparse.Namespace) -> None:
    """The add-on's runner preferences from the worker's options (what its operators read)."""
    import bpy
    entry = bpy.context.preferences.addons.get(__package__)
    prefs = getattr(entry, "preferences", None)
    if prefs is None or not hasattr(prefs, "runner_mode"):
        return
    prefs.runner_mode = "WORKER" if args.python else "AUTO"
    prefs.worker_python = args.python or ""
    prefs.checkpoint_path = args.checkpoint or ""
    prefs.vocab_path = args.vocab or ""
    if args.device in ("auto", "cpu", "cuda", "mps"):
        prefs.device = args.device


def addon_generation() -> bool:
    """True when the add-on has its fill/extend/bake operators (add-on II): the batch then uses them."""
    import bpy
    return all(hasattr(bpy.types, n) for n in ("A4MER_OT_fill_gaps", "A4MER_OT_extend", "A4MER_OT_bake_generated"))


def _operator(obj, name: str, **kw) -> None:
    """Run ``bpy.ops.a4mer.<name>(**kw)`` on ``obj`` (made active); its error report as A4merError."""
    import bpy
    bpy.context.view_layer.objects.active = obj
    try:
        done = getattr(bpy.ops.a4mer, name)(**kw)
    except RuntimeError as e:
        raise errors.A4merError(f"{obj.name}: {str(e).strip().removeprefix('Error: ')}") from None
    if "FINISHED" not in done:
        raise errors.A4merError(f"{obj.name}: a4mer.{name} did not finish ({', '.join(done)})")


def _bake_if_generated(obj) -> None:
    from .bridge import generated
    if generated.read_state(obj) is not None:
        _operator(obj, "bake_generated")


def open_input(path: Path, fps: float | None, object_name: str | None, args: argparse.Namespace) -> list:
    """Load ``path`` into a fresh session; the SMPL armatures to process (with an action)."""
    import bpy
    from .bridge import armature, generated
    from .operators.importer import import_motion, load_clip
    bpy.ops.wm.read_factory_settings(use_empty=True)
    enable_addon()
    set_preferences(args)
    if path.suffix.lower() == ".blend":
        try:
            bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False, use_scripts=False)
        except RuntimeError as e:
            raise errors.MotionFileError(path, f"not a readable .blend file ({str(e).strip().splitlines()[-1]})") from None
        scene = bpy.context.scene
        if object_name:
            obj = scene.objects.get(object_name)
            if obj is None:
                arms = sorted(o.name for o in scene.objects if o.type == "ARMATURE")
                raise errors.A4merError(f"{path}: no object {object_name!r} in scene {scene.name!r} "
                                        f"(armatures: {', '.join(arms) or 'none'})")
            armature.detect_rig(obj)  # SkeletonError naming the missing bones
            objs = [obj]
        else:
            objs = [o for o in scene.objects if o.type == "ARMATURE" and armature.is_smpl_rig(o)]
        shown = [o.name for o in objs if generated.read_state(o) is not None]
        objs = [o for o in objs if o.animation_data is not None and o.animation_data.action is not None]
        if not objs and shown:
            verb = "shows" if len(shown) == 1 else "show"
            raise errors.A4merError(f"{path}: {', '.join(map(repr, shown))} {verb} A4Mer generated frames that "
                                    "were saved before baking: bake or remove them in Blender, then rerun")
        if not objs:
            raise errors.A4merError(f"{path}: no SMPL-like armature with an action in scene {scene.name!r}")
        return sorted(objs, key=lambda o: o.name)
    scene = bpy.context.scene
    clip = load_clip(str(path), args.source_fps, args.asf, args.keep_reference_frames, bone_map=args.bone_map,
                     scale=args.scale, up=args.up, twist=args.twist)
    armature.set_scene_fps(scene, fps or clip.fps)
    scene.frame_start = scene.frame_current = 1
    obj, _ = import_motion(bpy.context, str(path), apply_to_selected=False, source_fps=args.source_fps,
                           asf=args.asf, keep_reference_frames=args.keep_reference_frames, clip=clip)
    return [obj]


# --- steps ---------------------------------------------------------------------------------------
def keyed_frames(obj, action) -> list[int]:
    """Integer frames where a body bone of ``obj`` has a rotation or location key in ``action`` (the
    add-on's rule: :func:`bridge.body_channels.keyed_frames`)."""
    from .bridge import body_channels
    return body_channels.keyed_frames(obj, action).tolist()


class WorkerHeads:
    """The heads run by ``PY -m a4mer inbetween|extend`` in the worker interpreter (when this Python,
    e.g. Blender's own, has no torch); same answers as in process (npz in, npz out)."""

    def __init__(self, python: str):
        self.python = python
        self.name = f"heads via {python}"

    def _run(self, motion, verb: str, extra: list[str]):
        import subprocess
        amass = _core("io.amass")
        with tempfile.TemporaryDirectory(prefix="a4mer-heads-") as d:
            src, out = Path(d) / "in.npz", Path(d) / "out.npz"
            amass.write_amass_npz(motion, src)
            processes = _core("processes")
            proc = subprocess.run([self.python, "-m", "a4mer", verb, str(src), *extra, "-o", str(out)],
                                  capture_output=True, **processes.TEXT_PIPES, stdin=subprocess.DEVNULL,
                                  env=processes.child_env(drop_python_path=True))
            if proc.returncode != 0 or not out.is_file():
                tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                raise errors.A4merError(f"a4mer {verb} failed in {self.python}: {tail}")
            return amass.read_amass_npz(out)

    def inbetween(self, motion, start: int, end: int):
        return self._run(motion, "inbetween", ["--start", str(start), "--end", str(end)])

    def inbetween_keys(self, motion, keys):
        return self._run(motion, "inbetween", ["--key-frames", ",".join(str(int(k)) for k in keys)])

    def extend_clip(self, motion, n: int):
        return self._run(motion, "extend", ["--frames", str(n)])


def _heads(args: argparse.Namespace | None = None):
    """:func:`load_heads` for the worker's options (loaded once per process)."""
    return load_heads((args.checkpoint or "") if args is not None else "", (args.python or "") if args is not None else "")


@functools.lru_cache(maxsize=2)
def load_heads(checkpoint: str = "", python: str = ""):
    """The generation heads: those of the model bundle (``--checkpoint`` or the shipped one) when it
    loads here, else the packaged heads file, else the classical curves (what ``a4mer inbetween`` uses).
    Without torch here, the worker interpreter ``--python`` runs them."""
    try:
        heads = _core("heads.files")
    except ImportError as e:
        if python:
            return WorkerHeads(python)
        raise errors.A4merError(f"filling gaps and extending need torch ({e}): pass --python with an "
                                "interpreter that has torch and a4mer") from None
    try:
        model = _core("model").A4Mer.load(checkpoint or None)
    except (ImportError, errors.A4merError):
        return heads.default_heads()
    return heads.heads_for(model)


def fill_gaps(context, obj, args: argparse.Namespace | None = None) -> str:
    """Fill the real gaps of ``obj``'s action (runs of frames without any key) with the in-betweening
    head and key the action densely; the note says what happened (a no-op on dense mocap).

    One gap: ``inbetween(start, end)``; several: ``inbetween_keys`` on the keyed frames, so no gap is
    generated from another gap's interpolated frames. Gaps over 4 s are left as they are (listed)."""
    from .bridge import armature
    action = obj.animation_data.action
    f0, T = armature.action_frames(action, obj)
    keyed = keyed_frames(obj, action)
    fps = armature.scene_fps(context.scene)
    plan = gaps.plan_fill(keyed, (f0, f0 + T - 1), (f0, f0 + T - 1), fps)
    if plan is None:
        return f"{obj.name}: fill-gaps: no gaps (every frame {f0}..{f0 + T - 1} is keyed), nothing filled"
    fill = list(plan.gaps)
    skipped = "".join(f"; not filled: {s}..{e} ({why})" for s, e, why in plan.skipped)
    if not fill:
        return f"{obj.name}: fill-gaps: nothing filled{skipped}"
    if addon_generation():  # the add-on's own Fill Gaps (result layer), then baked into the action
        _operator(obj, "fill_gaps")
        _bake_if_generated(obj)
        after = set(keyed_frames(obj, obj.animation_data.action))
        done = [(s, e) for s, e in fill if all(f in after for f in range(s + 1, e))]
        rest = "".join(f"; not filled: {s}..{e}" for s, e in fill if (s, e) not in done)
        n = sum(e - s - 1 for s, e in done)
        return f"{obj.name}: fill-gaps: filled {len(done)} gap(s), {n} frames (a4mer.fill_gaps){skipped}{rest}"
    heads = _heads(args)
    motion = armature.read_motion(obj, context.scene)
    if len(fill) == 1:
        motion = heads.inbetween(motion, fill[0][0] - f0, fill[0][1] - f0)
    else:
        known = set(keyed) | {f for s, e, _ in plan.skipped for f in range(s + 1, e)}
        motion = heads.inbetween_keys(motion, sorted(f - f0 for f in known if f0 <= f < f0 + T))
    armature.write_motion(obj, motion, context.scene, action=action, frame_start=f0)
    n = sum(e - s - 1 for s, e in fill)
    return f"{obj.name}: fill-gaps: filled {len(fill)} gap(s), {n} frames ({heads.name}){skipped}"


def extend(context, obj, frames: int, args: argparse.Namespace | None = None) -> str:
    """Append ``frames`` generated frames to ``obj``'s action (extension head); the note."""
    from .bridge import armature
    action = obj.animation_data.action
    f0, T0 = armature.action_frames(action, obj)
    if addon_generation():  # the add-on's own Extend (result layer), then baked into the action
        _operator(obj, "extend", frames=int(frames))
        _bake_if_generated(obj)
        _, T = armature.action_frames(obj.animation_data.action, obj)
        if T != T0 + frames:
            raise errors.A4merError(f"{obj.name}: extend gave {T} frames, expected {T0 + frames}")
        context.scene.frame_end = max(context.scene.frame_end, f0 + T - 1)
        return f"{obj.name}: extended by {frames} frames to {T} (a4mer.extend)"
    motion = armature.read_motion(obj, context.scene)
    heads = _heads(args)
    longer = heads.extend_clip(motion, frames)
    armature.write_motion(obj, longer, context.scene, action=action, frame_start=f0)
    scene = context.scene
    scene.frame_end = max(scene.frame_end, f0 + longer.num_frames - 1)
    return f"{obj.name}: extended by {frames} frames to {longer.num_frames} ({heads.name})"


def runner_settings(args: argparse.Namespace):
    """Runner settings: an explicit ``--python`` runs the model there (worker), else AUTO."""
    from .runner import RunnerSettings
    return RunnerSettings(mode="WORKER" if args.python else "AUTO", python=args.python or "",
                          checkpoint=args.checkpoint, vocab=args.vocab, device=args.device)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8", newline="\n")


def _pictures(stage: Path, stem: str, segments: dict, notes: list[str]) -> None:
    try:
        plots = _core("plots")
        plots.timeline_png(segments, stage / f"{stem}.timeline.png", motif_names=segments.get("motif_names"))
    except (ImportError, errors.A4merError) as e:
        notes.append(f"{stem}: timeline not drawn ({e})")


def _process(args: argparse.Namespace, stage: Path) -> dict:
    import bpy
    from . import headless
    from .bridge import armature, nla, records
    src = Path(args.input)
    if not src.is_file():
        raise errors.MotionFileError(src, "file not found")
    if src.suffix.lower() not in (".npz", ".bvh", ".amc", ".blend"):
        raise errors.MotionFileError(src, f"unsupported file type {src.suffix!r}; a4mer batch reads .npz, .bvh, "
                                          ".amc (with its .asf) or .blend")
    name = _safe(args.name or src.stem)
    objs = open_input(src, args.fps, args.object, args)
    ctx = bpy.context
    several = len(objs) > 1
    notes, objects = [], []
    if args.fps and src.suffix.lower() == ".blend":
        notes.append(f"--fps {args.fps:g} not applied: a .blend keeps its scene rate "
                     f"({armature.scene_fps(ctx.scene):g} fps)")
    amass = _core("io.amass")
    sep = _core("batch").OBJECT_SEP
    stems = [f"{name}{sep}{_safe(o.name)}" if several else name for o in objs]
    taken = [tuple(t.split("=", 1)) for t in args.taken if "=" in t]  # other inputs' (stem, path), first
    clash = _core("batch").first_clash([*taken, *zip(stems, objs)])  # file-name cleaning or case makes equal
    if clash is not None:
        a, b, stem = clash
        if isinstance(a, str):
            raise errors.A4merError(f"{src}: the armature {b.name!r} would write {stem}.*, as the batch's input {a} "
                                    "does: rename one of them, or pass --object")
        raise errors.A4merError(f"{src}: the armatures {a.name!r} and {b.name!r} would both write {stem}.*: "
                                "rename one, or pass --object")
    for obj, stem in zip(objs, stems):
        info = {"object": obj.name, "stem": stem}
        dropped = int(obj.animation_data.action.get("a4mer_reference_frames_dropped", 0))
        if dropped and src.suffix.lower() != ".blend":
            notes.append(_core("io.source").reference_frames_note(src, dropped))
        if args.dump:
            armature.check_time_map(ctx.scene)  # the scene plays the action slower or faster than read here
            motion = armature.read_motion(obj, ctx.scene, whole=True)  # hands and face too, where the rig has them
            amass.write_amass_npz(motion, stage / _core("batch").motion_file(stem))
            rec = nla.read_record(obj)
            if rec is not None and not nla.describes(obj, rec, obj.animation_data.action):
                earlier = records.get(obj, nla.ACTION_KEY)  # made for the rig's earlier action: its name now
                info["stale_segments"] = earlier.name if earlier is not None else rec.get("action")
                rec = None
            if rec is not None:
                strips, f0, seg = _core("strips"), motion.meta["blender_frame_start"], rec["segments"]
                try:  # as the tracks show them: strips the animator deleted, moved or trimmed
                    strips.validate_segments(seg)
                    info["segments_duration"] = strips.segments_duration(seg)  # what was segmented
                    seg = strips.segments_as_shown(rec, f0, motion.num_frames, motion.fps)
                except errors.A4merError:  # a damaged record: written as it is, for the reader to name
                    pass
                made = strips.generated_motifs(rec, f0)
                _write_json(stage / f"{stem}.segments.json",
                            {**seg,
                             **({"motif_names": rec["motif_names"]} if rec.get("motif_names") else {}),
                             **({"generated_motifs": made} if made else {})})
            info.update(frames=motion.num_frames, fps=motion.fps, segments=rec is not None)
            objects.append(info)
            continue
        if args.fill_gaps:
            notes.append(fill_gaps(ctx, obj, args))
        if args.extend:
            notes.append(extend(ctx, obj, args.extend, args))
        f0, T = armature.action_frames(obj.animation_data.action, obj)
        info.update(action=obj.animation_data.action.name, frame_start=f0, frames=T)
        if args.segment:
            record = headless.segment_object(ctx, obj, None, runner_settings(args))
            seg = dict(record["segments"])
            if record.get("motif_names"):
                seg["motif_names"] = record["motif_names"]
            if dropped:  # how many of the file's own frames lie before the action's first (as a4mer segment says)
                seg["reference_frames_dropped"] = dropped
            _write_json(stage / f"{stem}.segments.json", seg)
            info.update(atoms=len(seg["atoms"]), motifs=len(seg["motifs"]))
            if not args.no_pictures:
                _pictures(stage, stem, seg, notes)
        if args.motion_npz:
            amass.write_amass_npz(armature.read_motion(obj, ctx.scene, whole=True),
                                  stage / _core("batch").motion_file(stem))
        objects.append(info)
    if not args.dump:
        save_copy(stage / f"{name}.blend", Path(args.final_dir or args.out_dir), notes)
    return {"input": str(src), "name": name, "objects": objects, "notes": notes}


def save_copy(path: Path, final_dir: Path, notes: list[str]) -> None:
    """Save the open session as a copy at ``path``, a working folder's file that is renamed into ``final_dir``
    afterwards: its relative paths (``//lib/props.blend``: linked libraries, images, sounds, caches of an
    input .blend) are written relative to ``final_dir``, so they find their files where the copy ends up
    (Blender's own remapping would make them relative to the working folder). Blender before 5.0 has no
    API to rewrite every path, so there they are written absolute, with a note."""
    import bpy
    source = Path(bpy.data.filepath).parent if bpy.data.filepath else None
    rebase = source is not None and hasattr(bpy.data, "file_path_foreach")
    if rebase:
        _rebase_paths(source, final_dir)
    elif source is not None and _has_relative_paths():
        bpy.ops.file.make_paths_absolute()
        notes.append(f"{path.name}: its relative file paths are written absolute (Blender {bpy.app.version_string} "
                     "cannot rewrite them for the output folder; 5.0 keeps them relative)")
    try:
        done = bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, compress=False, relative_remap=not rebase)
    finally:
        if rebase:
            _rebase_paths(final_dir, source)  # the session's paths as they were
    if "FINISHED" not in done:
        raise errors.A4merError(f"could not save {path.name}")


def _rebase_paths(old_dir: Path, new_dir: Path) -> None:
    """Every relative path of the session's own data (not of linked data, which is relative to its library)
    made relative to ``new_dir`` instead of ``old_dir`` (Blender 5.0+); a path that cannot be relative to
    ``new_dir`` (another drive) is made absolute."""
    import bpy

    def visit(_id, path: str, _meta):
        if not path.startswith("//"):
            return None
        absolute = bpy.path.abspath(path, start=str(old_dir))
        try:
            return bpy.path.relpath(absolute, start=str(new_dir))
        except ValueError:  # Windows: another drive
            return absolute
    bpy.data.file_path_foreach(visit, flags={"SKIP_LINKED", "SKIP_MULTIFILE"})


def _has_relative_paths() -> bool:
    import bpy
    return any(p.startswith("//") for p in bpy.utils.blend_paths(absolute=False))


def commit(stage: Path, out_dir: Path) -> list[str]:
    """Rename the files of ``stage`` into ``out_dir``, the .blend last; their names (not the folder's lock)."""
    files = sorted((f for f in stage.iterdir() if f.is_file() and not f.name.endswith(".blend1")
                    and f.name != _core("batch").LOCK_NAME),
                   key=lambda f: (f.suffix == ".blend", f.name))
    for f in files:
        os.replace(f, out_dir / f.name)
    return [f.name for f in files]


def _check(args: argparse.Namespace) -> Path:
    """The options checked and the output folder made, before anything is read: :class:`A4merError`
    naming the option and the problem (the input's own folder, where its .blend would be overwritten,
    included)."""
    batch = _core("batch")
    batch.check_rate(args.fps, "--fps")
    batch.check_rate(args.source_fps, "--source-fps")
    if args.extend < 0:
        raise errors.A4merError(f"--extend must be >= 0, got {args.extend}")
    out_dir = Path(args.out_dir)
    batch.check_not_input_folder(out_dir, [Path(args.input)], "--out-dir")
    batch.prepare_out(out_dir, "--out-dir", runs=False)
    batch.hold_dir(out_dir)  # a batch's working folder: in use while this worker runs, even if the batch died
    batch.remove_dead_dirs(out_dir)
    return out_dir


def run(argv: list[str]) -> tuple[int, dict]:
    """Process the clip of ``argv`` (the worker's arguments); the exit code and the result (with ``error``
    on failure; ``unexpected`` too when it was not an A4merError: a bug or a Blender failure, after which
    this process's state is not trusted for another clip)."""
    args = parse_args(argv)
    result: dict = {"input": args.input}
    code = 0
    stage = out_dir = None
    try:
        out_dir = _check(args)
        stage = _core("batch").private_dir(out_dir, "part")
        result = _process(args, stage)
        result["outputs"] = commit(stage, out_dir)
    except errors.A4merError as e:
        result["error"] = str(e)
        code = 1
    except Exception as e:  # a bug or a Blender failure: named, with the traceback on stderr
        traceback.print_exc()
        result.update(error=f"{type(e).__name__}: {e}", unexpected=True)
        code = 1
    finally:
        if stage is not None:
            _core("batch").release_dir(stage)
        if out_dir is not None:
            _core("batch").let_go(out_dir)
    return code, result


def _report(code: int, result: dict) -> None:
    print(_core("batch").RESULT_TAG + json.dumps(result), flush=True)
    if code:
        print(f"a4mer_blender.batch_worker: error: {result['error']}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _temporary_files_in(folder: str):
    """Temporary files of this process and of what it starts (the model worker) in ``folder`` meanwhile."""
    keys = _core("processes").TEMP_VARS
    before, tempdir = {k: os.environ.get(k) for k in keys}, tempfile.tempdir
    os.environ.update(dict.fromkeys(keys, folder))
    tempfile.tempdir = folder
    try:
        yield
    finally:
        tempfile.tempdir = tempdir
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def serve(lines) -> int:
    """Run the clips of ``lines`` (requests of :meth:`a4mer.batch.Worker.run`: JSON with ``id``,
    ``argv`` and ``tmpdir``) one after another, each answered with its result line (``request``: the
    id), until the input ends; 0. It first says it is ready (``A4MER_READY``: what came before is start-up,
    which the batch does not count against a clip's ``--timeout``). Each clip starts from a factory-fresh
    session (:func:`open_input`) and keeps its temporary files in its own ``tmpdir``; a request that is not
    one is answered with an error."""
    batch = _core("batch")
    # this process's temporary folder, a working folder of the batch: in use while it runs, even if the batch died
    batch.hold_dir(Path(tempfile.gettempdir()))
    print(batch.READY_TAG, flush=True)
    for line in lines:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            argv, tmpdir = [str(a) for a in req["argv"]], str(req["tmpdir"])
        except (ValueError, KeyError, TypeError) as e:
            _report(1, {"error": f"a4mer_blender.batch_worker --serve: not a request ({e}): {line.strip()[:200]}"})
            continue
        try:
            with _temporary_files_in(tmpdir):
                code, result = run(argv)
        except SystemExit as e:  # argparse: bad arguments
            code, result = 1, {"error": f"a4mer_blender.batch_worker: bad arguments (exit {e.code})"}
        _report(code, {**result, "request": req.get("id")})
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    if argv == ["--serve"]:
        return serve(sys.stdin)
    code, result = run(argv)
    _report(code, result)
    return code


if __name__ == "__main__":
    sys.exit(main())
