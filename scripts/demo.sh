#!/usr/bin/env bash
# The README's main command: set up ./.venv, then the full demo on the example clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
CLIP=examples/bandai/dataset-1_walk_happy_002.bvh
.venv/bin/a4mer info "$CLIP"
.venv/bin/a4mer segment "$CLIP" -o out/example.segments.json
bash scripts/demo_full.sh
