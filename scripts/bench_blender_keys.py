#!/usr/bin/env python
"""Benchmark: writing/reading SMPL animation keys in Blender (bpy module), bulk vs keyframe_insert.

    python scripts/bench_blender_keys.py [--frames 10000] [--insert-frames 1000] [--out docs/bench]
                                         [--merge-frames 14400 ...] [--merge-span 60] [--merge-at 0.05]
                                         [--blocking EVERY_N] [--only-merge] [--baseline OLD.json]
                                         [--name blender_keys]

Writes the motion onto a 24-bone MPI-convention SMPL armature (+ root) with the add-on's writer
(``keyframe_points.add`` + ``foreach_set``), reads it back, and in the same run keys the same values
with a ``pose_bone.keyframe_insert`` loop on ``--insert-frames`` frames (its time for ``--frames`` is
extrapolated linearly unless ``--insert-frames`` equals ``--frames``).

Then Bake's merge (``bake.merge_keys``, what Bake spends writing generated keys into the user's
curves): a take of each ``--merge-frames`` length keyed the same way (106 F-Curves, Blender's default
Continuous Acceleration smoothing), a ``--merge-span`` gap deleted from every curve at ``--merge-at``
(0..1) of the take, then keys on the gap's frames merged into every curve.

With ``--blocking EVERY_N`` the merge bench is an animator's blocking instead of one gap: each
``--merge-frames`` take is keyed on every ``EVERY_N``-th frame (and its last), Bezier with Blender's
automatic handles, then the add-on's own operators run as a user would: Fill Gaps (``a4mer.fill_gaps``,
the whole action; the heads run in process) and Bake into My Action (``a4mer.bake_generated``), which
merges every span into each curve (``bake.merge_keys``, once per curve). Reported: spans, keys before
and after, the Fill and Bake seconds (Fill's heads time and Bake's merge time apart).

``--baseline`` puts an earlier run's merge (or blocking) rows beside these (e.g. of the code before a
change: run with ``PYTHONPATH`` pointing at a copy of that ``a4mer_blender``). Prints a table and saves
``<name>.json`` and ``<name>.md`` under ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _motion(T: int, seed: int = 0):
    from a4mer.geometry import axis_angle_to_quat
    from a4mer.motion import Motion
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 30.0
    aa = 0.4 * np.sin(t[:, None, None] * rng.uniform(1, 4, (1, 24, 3)) + rng.uniform(0, 6, (1, 24, 3)))
    aa[:, 0, 0] += np.pi / 2
    return Motion(30.0, np.stack([0.5 * t, 0 * t, 0.9 + 0 * t], 1), axis_angle_to_quat(aa))


def _fresh():
    import bpy
    from a4mer_blender.bridge import armature
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = 30, 1
    return scene, armature.create_smpl_armature(bpy.context)


def bench_bulk(T: int) -> dict:
    import bpy
    from a4mer_blender.bridge import armature
    motion = _motion(T)
    scene, obj = _fresh()
    t0 = time.perf_counter()
    action = armature.write_motion(obj, motion, scene)
    write_s = time.perf_counter() - t0
    n_keys = sum(len(fc.keyframe_points) for fc in armature.anim_compat.fcurves_of(obj, action))
    t0 = time.perf_counter()
    back = armature.read_motion(obj, scene)
    read_s = time.perf_counter() - t0
    err = float(np.max(np.abs(np.abs(np.sum(back.rotations * motion.rotations, -1)) - 1)))
    del bpy
    return {"frames": T, "bones_keyed": 25, "keys": n_keys, "write_s": write_s, "read_s": read_s,
            "roundtrip_max_1_minus_dot": err}


def bench_insert(T: int) -> dict:
    """The same channels keyed with keyframe_insert, frame by frame (what add-ons usually do)."""
    import bpy
    from a4mer import rig as core_rig
    from a4mer_blender.bridge import armature
    motion = _motion(T)
    scene, obj = _fresh()
    r = armature.detect_rig(obj)
    loc, quat = core_rig.motion_to_rig(r, motion, armature._current_basis(obj, r), armature.world_matrix(obj))
    obj.animation_data_create()
    bones = [(r.names[b], b) for b in sorted({*r.smpl_bone, r.root_bone} - {-1})]
    pelvis = r.smpl_bone[0]
    t0 = time.perf_counter()
    for i in range(T):
        f = 1 + i
        for name, b in bones:
            pb = obj.pose.bones[name]
            pb.rotation_quaternion = quat[i, b]
            pb.keyframe_insert("rotation_quaternion", frame=f, group=name)
            if b == pelvis or b == r.root_bone:
                pb.location = loc[i, b]
                pb.keyframe_insert("location", frame=f, group=name)
    insert_s = time.perf_counter() - t0
    del bpy
    return {"frames": T, "insert_s": insert_s}


def bench_merge(T: int, span: int, at: float) -> dict:
    """Bake's merge of a ``span``-frame gap at ``at`` (0..1) of a ``T``-frame take into every F-Curve
    (``bake.merge_keys``; the values: the curve's straight line over the gap)."""
    import bpy
    import a4mer_blender
    from a4mer_blender.bridge import anim_compat, armature, bake
    scene, obj = _fresh()
    action = armature.write_motion(obj, _motion(T), scene)
    fcs = anim_compat.fcurves_of(obj, action)
    first = 1 + int(round((T - span) * at))
    frames = np.arange(first, first + span, dtype=np.float64)
    gaps = []
    for fc in fcs:  # the gap: the curve rewritten without its keys (one by one would cost n per key)
        kp = fc.keyframe_points
        co = np.empty(2 * len(kp), np.float32)
        kp.foreach_get("co", co)
        co = co.reshape(-1, 2)
        keep = (co[:, 0] < first) | (co[:, 0] >= first + span)
        kp.clear()
        kp.add(int(keep.sum()))
        kp.foreach_set("co", co[keep].ravel())
        kp.foreach_set("interpolation", np.full(int(keep.sum()), anim_compat.INTERPOLATION["LINEAR"], np.uint8))
        fc.update()
        gaps.append(np.interp(frames, co[keep, 0], co[keep, 1]))
    smoothing = fcs[0].auto_smoothing
    keys = sum(len(fc.keyframe_points) for fc in fcs)
    t0 = time.perf_counter()
    added = sum(bake.merge_keys(fc, frames, v) for fc, v in zip(fcs, gaps))
    merge_s = time.perf_counter() - t0
    ordered = all(np.all(np.diff(_frames_of(fc)) > 0) for fc in fcs)
    del bpy
    return {"frames": T, "span": span, "at": at, "gap_first": first, "fcurves": len(fcs), "keys_before": keys,
            "keys_added": added, "smoothing": smoothing, "merge_s": merge_s, "in_time_order": bool(ordered),
            "addon": str(Path(a4mer_blender.__file__).parent)}


def _blocked(fcs, every: int) -> int:
    """Every curve of ``fcs`` rekeyed on every ``every``-th frame from its first (and its last), Bezier with
    Blender's default automatic handles: an animator's blocking. Returns the keys kept."""
    from a4mer_blender.bridge import armature
    n = 0
    for fc in fcs:
        kp = fc.keyframe_points
        co = np.empty(2 * len(kp), np.float32)
        kp.foreach_get("co", co)
        co = co.reshape(-1, 2)  # (keys, 2): frame, value
        keep = ((co[:, 0] - co[0, 0]) % every == 0) | (co[:, 0] == co[-1, 0])
        kp.clear()
        armature.set_keys(fc, co[keep, 0], co[keep, 1], "BEZIER")
        n += int(keep.sum())
    return n


def bench_blocking(T: int, every: int) -> dict:
    """Fill then Bake with the add-on's operators on a ``T``-frame take keyed every ``every`` frames: the
    seconds of each (Fill's in-process heads run and Bake's ``bake.merge_keys`` calls timed apart), the
    spans filled and the keys before and after."""
    import addon_utils
    import bpy
    import a4mer_blender
    from a4mer_blender import runner
    from a4mer_blender.bridge import anim_compat, armature, bake, generated
    scene, obj = _fresh()
    addon_utils.enable("a4mer_blender", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["a4mer_blender"].preferences
    prefs.runner_mode, prefs.device = "IN_PROCESS", "cpu"
    action = armature.write_motion(obj, _motion(T), scene)
    fcs = anim_compat.fcurves_of(obj, action)
    keys_before = _blocked(fcs, every)
    scene.frame_end = T
    scene.use_preview_range = False
    spent = {"heads": 0.0, "merge": 0.0}

    def timed(fn, name):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t
        return wrapper
    heads_sync, merge_keys = runner.run_heads_sync, bake.merge_keys
    runner.run_heads_sync, bake.merge_keys = timed(heads_sync, "heads"), timed(merge_keys, "merge")
    try:
        t0 = time.perf_counter()
        assert bpy.ops.a4mer.fill_gaps() == {"FINISHED"}
        fill_s = time.perf_counter() - t0
        spans = len(generated.read_state(obj)["spans"])
        t0 = time.perf_counter()
        assert bpy.ops.a4mer.bake_generated() == {"FINISHED"}
        bake_s = time.perf_counter() - t0
    finally:
        runner.run_heads_sync, bake.merge_keys = heads_sync, merge_keys
    fcs = anim_compat.fcurves_of(obj, obj.animation_data.action)
    keys_after = sum(len(fc.keyframe_points) for fc in fcs)
    ordered = all(np.all(np.diff(_frames_of(fc)) > 0) for fc in fcs)
    smoothing = fcs[0].auto_smoothing
    addon_utils.disable("a4mer_blender", default_set=True, handle_error=None)
    del bpy
    return {"frames": T, "every": every, "fcurves": len(fcs), "keys_before": keys_before, "spans": spans,
            "keys_after": keys_after, "keys_added": keys_after - keys_before, "fill_s": fill_s,
            "fill_heads_s": spent["heads"], "bake_s": bake_s, "bake_merge_s": spent["merge"],
            "smoothing": smoothing, "in_time_order": bool(ordered), "addon": str(Path(a4mer_blender.__file__).parent)}


def _frames_of(fc) -> np.ndarray:
    co = np.empty(2 * len(fc.keyframe_points), np.float32)
    fc.keyframe_points.foreach_get("co", co)
    return co[0::2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="bulk key writing vs keyframe_insert in Blender")
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--insert-frames", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3, help="bulk write/read repeats (best time reported)")
    p.add_argument("--out", default=str(REPO / "docs" / "bench"))
    p.add_argument("--name", default="blender_keys", help="the output files' name (without .json/.md)")
    p.add_argument("--merge-frames", type=int, nargs="*", default=[14400],
                   help="take lengths (frames) for Bake's merge (14400: 2 minutes at 120 fps); none: no merge bench")
    p.add_argument("--merge-span", type=int, default=60, help="frames of the gap merged into every curve")
    p.add_argument("--merge-at", type=float, default=0.05, help="where the gap lies in the take (0..1)")
    p.add_argument("--blocking", type=int, default=0, metavar="EVERY_N",
                   help="the merge bench on a blocked take instead of one gap: each --merge-frames take keyed every "
                        "EVERY_N frames, then Fill Gaps and Bake into My Action (the add-on's operators)")
    p.add_argument("--only-merge", action="store_true", help="only the merge bench (no write/read, no keyframe_insert)")
    p.add_argument("--baseline", help="an earlier run's JSON: its merge rows go beside these in the markdown")
    args = p.parse_args(argv)
    if args.blocking < 0 or args.blocking == 1:
        p.error(f"--blocking takes the frames between keys (2 or more; 0: one gap), got {args.blocking}")
    import bpy
    earlier = json.loads(Path(args.baseline).read_text()) if args.baseline else {}
    if args.blocking:
        merge, blocking = [], [bench_blocking(T, args.blocking) for T in args.merge_frames]
        baseline = earlier.get("blocking", [])
        merge_md = _blocking_md(blocking, baseline, args.baseline)
    else:
        merge, blocking = [bench_merge(T, args.merge_span, args.merge_at) for T in args.merge_frames], []
        baseline = earlier.get("merge", [])
        merge_md = _merge_md(merge, baseline, args.baseline)
    if args.only_merge:
        result = {"bench": "blender_keys", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                  "blender": bpy.app.version_string, "python": platform.python_version(), "cpus": os.cpu_count(),
                  "machine": platform.machine(), "load_average_1m": os.getloadavg()[0],
                  "command": "python scripts/bench_blender_keys.py " + " ".join(argv or sys.argv[1:]),
                  "merge": merge, "blocking": blocking, "baseline": args.baseline,
                  f"baseline_{'blocking' if args.blocking else 'merge'}": baseline}
        title = "Bake of a blocked take" if args.blocking else "Bake's merge"
        md = "\n".join([f"# Blender keys: {title}", "",
                        f"{result['date']}, Blender (bpy) {result['blender']}, Python {result['python']}, "
                        f"{result['cpus']} CPUs (load average {result['load_average_1m']:.1f} at the end).",
                        f"Command: `{result['command']}`", "", *merge_md])
        _save(Path(args.out), args.name, result, md)
        return 0
    runs = [bench_bulk(args.frames) for _ in range(args.repeats)]
    bulk = min(runs, key=lambda r: r["write_s"])
    bulk["read_s"] = min(r["read_s"] for r in runs)
    ins = bench_insert(args.insert_frames)
    ins_full = ins["insert_s"] * args.frames / args.insert_frames
    result = {
        "bench": "blender_keys", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "blender": bpy.app.version_string, "python": platform.python_version(), "cpus": os.cpu_count(),
        "machine": platform.machine(), "load_average_1m": os.getloadavg()[0], "command": "python scripts/bench_blender_keys.py " + " ".join(argv or sys.argv[1:]),
        "bulk": bulk, "bulk_runs_write_s": [r["write_s"] for r in runs],
        "keyframe_insert": {**ins, "extrapolated_s_for_frames": ins_full,
                            "extrapolated": args.insert_frames != args.frames},
        "speedup": ins_full / bulk["write_s"],
        "target": "write 24 bones x 10,000 frames < 1 s",
        "target_met": bool(args.frames >= 10000 and bulk["write_s"] < 1.0),
        "merge": merge, "blocking": blocking, "baseline": args.baseline,
        f"baseline_{'blocking' if args.blocking else 'merge'}": baseline,
    }
    extra = " (extrapolated from %d frames)" % args.insert_frames if result["keyframe_insert"]["extrapolated"] else ""
    md = "\n".join([
        "# Blender key writing: bulk vs keyframe_insert",
        "",
        f"{result['date']}, Blender (bpy) {result['blender']}, Python {result['python']}, {result['cpus']} CPUs "
        f"(load average {result['load_average_1m']:.1f} at the end: the machine was shared).",
        f"Command: `{result['command']}`",
        "",
        "| method | frames | keys | time (s) |",
        "|---|---|---|---|",
        f"| add-on writer (keyframe_points.add + foreach_set, incl. pose math) | {bulk['frames']} | {bulk['keys']} | {bulk['write_s']:.3f} |",
        f"| add-on reader (foreach_get + pose math) | {bulk['frames']} | {bulk['keys']} | {bulk['read_s']:.3f} |",
        f"| keyframe_insert loop | {ins['frames']} | - | {ins['insert_s']:.3f} |",
        f"| keyframe_insert loop{extra} | {args.frames} | - | {ins_full:.1f} |",
        "",
        f"Speed-up of the bulk writer: {result['speedup']:.0f}x. Target (24 bones x 10,000 frames < 1 s): "
        f"{'met' if result['target_met'] else 'NOT met'}.",
        "",
        "The keyframe_insert time for all frames is a linear extrapolation and so a lower bound: each",
        "insert searches and grows the curve, and the loop's time grows faster than linearly with the",
        "number of frames (run with `--insert-frames 10000` to measure it in full; minutes).",
        "",
        *merge_md,
    ])
    _save(Path(args.out), args.name, result, md)
    return 0


def _merge_md(merge: list[dict], baseline: list[dict], baseline_name: str | None) -> list[str]:
    """The markdown of the merge rows (and the baseline's of the same take length, span and place)."""
    if not merge:
        return []
    base = {(b["frames"], b["span"], b["at"]): b for b in baseline}
    lines = ["## Bake's merge (bake.merge_keys)", "",
             "| frames | gap (frames, at) | F-Curves | keys | keys added | merge (s) | keys in time order |"
             + (" baseline (s) | speed-up |" if baseline else ""),
             "|---|---|---|---|---|---|---|" + ("---|---|" if baseline else "")]
    for m in merge:
        b = base.get((m["frames"], m["span"], m["at"]))
        row = (f"| {m['frames']} | {m['span']} at {m['at']:.0%} | {m['fcurves']} | {m['keys_before']} | "
               f"{m['keys_added']} | {m['merge_s']:.3f} | {'yes' if m['in_time_order'] else 'NO'} |")
        if baseline:
            row += f" {b['merge_s']:.3f} | {b['merge_s'] / m['merge_s']:.0f}x |" if b else " - | - |"
        lines.append(row)
    lines += ["", f"Smoothing of the curves: {merge[0]['smoothing']}; add-on: `{merge[0]['addon']}`."]
    if baseline:
        lines.append(f"Baseline: `{baseline_name}` (add-on `{baseline[0]['addon']}`).")
    return lines + [""]


def _blocking_md(rows: list[dict], baseline: list[dict], baseline_name: str | None) -> list[str]:
    """The markdown of the blocking rows (and the baseline's of the same take length and key spacing)."""
    if not rows:
        return []
    base = {(b["frames"], b["every"]): b for b in baseline}
    lines = ["## Blocking: Fill Gaps, then Bake into My Action", "",
             "| frames | keyed every | F-Curves | keys | spans | keys after Bake | Fill (s) | of it heads (s) "
             "| Bake (s) | of it merge (s) | keys in time order |" + (" baseline Bake (s) | speed-up |" if baseline else ""),
             "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if baseline else "")]
    for m in rows:
        b = base.get((m["frames"], m["every"]))
        row = (f"| {m['frames']} | {m['every']} | {m['fcurves']} | {m['keys_before']} | {m['spans']} | "
               f"{m['keys_after']} | {m['fill_s']:.2f} | {m['fill_heads_s']:.2f} | {m['bake_s']:.2f} | "
               f"{m['bake_merge_s']:.2f} | {'yes' if m['in_time_order'] else 'NO'} |")
        if baseline:
            row += f" {b['bake_s']:.2f} | {b['bake_s'] / m['bake_s']:.0f}x |" if b else " - | - |"
        lines.append(row)
    lines += ["", f"Smoothing of the curves: {rows[0]['smoothing']}; add-on: `{rows[0]['addon']}`. Fill: the whole",
              "action, the heads in process on the CPU (`of it heads`: the `a4mer inbetween` run); Bake: every span",
              "merged into the user's curves (`of it merge`: the `bake.merge_keys` calls, one per curve)."]
    if baseline:
        lines.append(f"Baseline: `{baseline_name}` (add-on `{baseline[0]['addon']}`).")
    return lines + [""]


def _save(out: Path, name: str, result: dict, md: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
