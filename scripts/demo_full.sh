#!/usr/bin/env bash
# The full demo on the example clip, with the shipped model: a Blender shot whose keys have a hole,
# then one batch command that fills the gap, extends the clip by 1 s, finds atoms and motifs and
# writes the .blend, the segments JSON and the pictures; then BVH and BABEL exports of the result.
#   bash scripts/demo_full.sh            (outputs in out/demo/)
#   A4MER_CHECKPOINT=path bash scripts/demo_full.sh   (another model bundle or training folder)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/a4mer ] || bash scripts/setup.sh
PY=.venv/bin/python
A4MER=.venv/bin/a4mer
CLIP=examples/bandai/dataset-1_walk_happy_002.bvh
OUT=out/demo
MODEL=()
[ -n "${A4MER_CHECKPOINT:-}" ] && MODEL=(--checkpoint "$A4MER_CHECKPOINT")
mkdir -p "$OUT/in"

echo "== 1. a shot in Blender: the example walk on an SMPL armature, keys of frames 60-79 deleted"
"$PY" - "$CLIP" "$OUT/in/walk_shot.blend" <<'EOF'
import sys
import bpy
import addon_utils
clip, dst = sys.argv[1], sys.argv[2]
bpy.ops.wm.read_factory_settings(use_empty=True)
addon_utils.enable("a4mer_blender", default_set=True, handle_error=None)  # before importing its modules
from a4mer_blender.bridge import anim_compat
from a4mer_blender.operators.importer import import_motion
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base, scene.frame_start = 30, 1.0, 1
obj, action = import_motion(bpy.context, clip, apply_to_selected=False)
obj.name = "walker"
for fc in anim_compat.fcurves_of(obj, action):
    kp = fc.keyframe_points
    for i in reversed(range(len(kp))):
        if 60 <= kp[i].co[0] <= 79:
            kp.remove(kp[i])
bpy.ops.wm.save_as_mainfile(filepath=dst)
print(f"{dst}: {obj.name}, frames 1-{scene.frame_end}, keys missing on frames 60-79")
EOF

echo "== 2. batch: fill the gap, extend by 30 frames, segment; .blend + JSON + timeline + gallery"
"$A4MER" batch "$OUT/in" --out "$OUT" --segment --fill-gaps --extend 30 --gallery --force "${MODEL[@]}"

echo "== 3. exports of the result (the armature in the written .blend)"
"$A4MER" export "$OUT/walk_shot.blend" --format bvh -o "$OUT/walk_shot.bvh"
"$A4MER" export "$OUT/walk_shot.blend" --format babel -o "$OUT/walk_shot.babel.json"
"$A4MER" export "$OUT/walk_shot.blend" --format npz -o "$OUT/walk_shot.npz"

echo "== outputs"
ls -l "$OUT"
