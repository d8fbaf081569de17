#!/usr/bin/env python
"""Benchmark: the add-on's Fill / Extend / Find Atoms and Motifs on a long take (bpy module).

    python scripts/bench_blender_ops.py [--minutes 10] [--fps 120] [--skeleton smpl|smplh]
                                        [--baseline OLD.json] [--out docs/bench] [--name blender_ops]

Makes a smooth synthetic take (SMPL, or SMPL-H with the hands keyed at rest), imports it with the
add-on's importer (``a4mer.import_motion``: keys on every frame, as a mocap take comes in), deletes a
60-frame window of the body bones' keys in the middle, then times, as the acceptance test did: Fill of
that gap (twice: the first run also imports torch), Extend by 90 frames, Remove Generated Frames, Find
Atoms and Motifs. The heads and the model run in process (the preferences' default); their time
(``runner.run_heads_sync`` / ``runner.run_sync``) is reported apart, so ``addon_s`` is what the add-on
itself spends reading and writing Blender data. ``--baseline`` puts an earlier run's numbers (e.g. of
the code before a change, run with ``PYTHONPATH`` pointing at its ``a4mer_blender``) beside these in
the markdown. Saves ``<name>.json`` and ``<name>.md`` under ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _take(minutes: float, fps: float, skeleton: str, seed: int = 0):
    from a4mer.geometry import axis_angle_to_quat
    from a4mer.motion import Motion
    from a4mer.skeleton import SMPL, SMPLH
    skel = SMPLH if skeleton == "smplh" else SMPL
    T = int(round(minutes * 60 * fps))
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    aa = 0.4 * np.sin(t[:, None, None] * rng.uniform(1, 4, (1, 22, 3)) + rng.uniform(0, 6, (1, 22, 3)))
    aa[:, 0, 0] += np.pi / 2
    rot = np.zeros((T, skel.num_joints, 4))
    rot[..., 0] = 1.0
    rot[:, :22] = axis_angle_to_quat(aa)
    trans = np.stack([0.5 * np.sin(0.05 * t), 0.5 * np.cos(0.05 * t), 0.9 + 0.02 * np.sin(t)], 1)
    return Motion(fps, trans, rot, skeleton=skel, meta={"name": "long_take"})


def _cut(obj, action, first: int, last: int) -> None:
    """Delete the body bones' keys on frames first..last (bulk: the keys kept are written back)."""
    from a4mer_blender.bridge import anim_compat
    from a4mer.skeleton import SMPL
    body = {f'pose.bones["{n}"]' for n in SMPL.names[:22]}
    for fc in anim_compat.fcurves_of(obj, action):
        if fc.data_path.rsplit(".", 1)[0] not in body:
            continue
        kp = fc.keyframe_points
        n = len(kp)
        attrs = {a: np.empty(w * n, dt) for a, w, dt in (("co", 2, np.float32), ("handle_left", 2, np.float32),
                                                       ("handle_right", 2, np.float32), ("interpolation", 1, np.uint8),
                                                       ("handle_left_type", 1, np.uint8),
                                                       ("handle_right_type", 1, np.uint8))}
        for a, buf in attrs.items():
            kp.foreach_get(a, buf)
        x = attrs["co"][0::2]
        keep = (x < first) | (x > last)
        kp.clear()
        kp.add(int(keep.sum()))
        for a, buf in attrs.items():
            w = len(buf) // n
            kp.foreach_set(a, buf.reshape(n, w)[keep].ravel())
        fc.update()


def run(minutes: float, fps: float, skeleton: str) -> dict:
    import addon_utils
    import bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("a4mer_blender", default_set=True, handle_error=None)
    import a4mer_blender
    from a4mer_blender import runner
    from a4mer.io.amass import write_amass_npz
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(fps), 1.0
    heads = {"s": 0.0}

    def timed(fn):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                heads["s"] += time.perf_counter() - t
        return wrapper
    runner.run_heads_sync = timed(runner.run_heads_sync)
    runner.run_sync = timed(runner.run_sync)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "long_take.npz")
        motion = _take(minutes, fps, skeleton)
        write_amass_npz(motion, path)
        t = time.perf_counter()
        assert bpy.ops.a4mer.import_motion(filepath=path, apply_to_selected=False) == {"FINISHED"}
        import_s = time.perf_counter() - t
    obj = bpy.context.view_layer.objects.active
    action = obj.animation_data.action
    from a4mer_blender.bridge import anim_compat
    curves = anim_compat.fcurves_of(obj, action)
    mid = scene.frame_end // 2
    _cut(obj, action, mid + 1, mid + 60)
    steps = []

    def step(label, op, **kw):
        heads["s"] = 0.0
        t = time.perf_counter()
        result = op(**kw)
        total = time.perf_counter() - t
        assert result == {"FINISHED"}, (label, result)
        steps.append({"op": label, "total_s": round(total, 3), "heads_s": round(heads["s"], 3),
                      "addon_s": round(total - heads["s"], 3)})
        print(f"{label:32s} {total:7.2f} s  (heads/model {heads['s']:.2f} s, add-on {total - heads['s']:.2f} s)",
              flush=True)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = mid - 10, mid + 70
    step("fill 60 (1st, imports torch)", bpy.ops.a4mer.fill_gaps)
    step("remove generated", bpy.ops.a4mer.remove_generated)
    step("fill 60", bpy.ops.a4mer.fill_gaps)
    scene.use_preview_range = False
    step("extend 90", bpy.ops.a4mer.extend, frames=90)
    step("remove generated", bpy.ops.a4mer.remove_generated)
    step("find atoms and motifs", bpy.ops.a4mer.segment)
    return {"frames": int(motion.num_frames), "fps": fps, "skeleton": skeleton, "fcurves": len(curves),
            "keys": int(sum(len(fc.keyframe_points) for fc in curves)), "import_s": round(import_s, 3),
            "addon": str(Path(a4mer_blender.__file__).parent), "steps": steps}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="the add-on's operators on a long take")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--fps", type=float, default=120.0)
    p.add_argument("--skeleton", choices=("smpl", "smplh"), default="smpl")
    p.add_argument("--baseline", default="", help="an earlier run's JSON, shown beside this one")
    p.add_argument("--out", default=str(REPO / "docs" / "bench"))
    p.add_argument("--name", default="blender_ops")
    args = p.parse_args(argv)
    import bpy
    res = run(args.minutes, args.fps, args.skeleton)
    result = {"bench": "blender_ops", "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "blender": bpy.app.version_string, "python": platform.python_version(), "cpus": os.cpu_count(),
              "machine": platform.machine(), "load_average_1m": os.getloadavg()[0],
              "command": "python scripts/bench_blender_ops.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              **res}
    base = json.loads(Path(args.baseline).read_text()) if args.baseline else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps({**result, "baseline": base}, indent=1) + "\n")
    head = "| operator | total (s) | heads / model (s) | add-on (s) |"
    rule = "|---|---|---|---|"
    rows = []
    for i, s in enumerate(result["steps"]):
        b = base["steps"][i] if base is not None and i < len(base["steps"]) else None
        if b is not None:
            rows.append(f"| {s['op']} | {b['total_s']:.2f} -> {s['total_s']:.2f} | {b['heads_s']:.2f} -> "
                        f"{s['heads_s']:.2f} | {b['addon_s']:.2f} -> {s['addon_s']:.2f} |")
        else:
            rows.append(f"| {s['op']} | {s['total_s']:.2f} | {s['heads_s']:.2f} | {s['addon_s']:.2f} |")
    md = "\n".join([
        "# The add-on's operators on a long take",
        "",
        f"{result['date']}, Blender (bpy) {result['blender']}, Python {result['python']}, {result['cpus']} CPUs "
        f"(load average {result['load_average_1m']:.1f} at the end: the machine was shared).",
        f"Command: `{result['command']}`",
        "",
        f"A {result['frames'] / result['fps'] / 60:g}-minute {result['fps']:g} fps {result['skeleton'].upper()} take "
        f"({result['frames']} frames, {result['fcurves']} F-Curves, {result['keys']} keys, imported in "
        f"{result['import_s']:.1f} s), a 60-frame gap of the body bones in the middle.",
        *([f"Before -> after: the baseline is `{base['addon']}` ({base['date']})."] if base else []),
        "",
        head, rule, *rows,
        "",
        "heads / model: the in-process `a4mer inbetween|extend|segment` run (the heads' and the model's own",
        "time, the same for both); add-on: reading the action, planning, writing the generated layer.",
        "",
    ])
    (out / f"{args.name}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
