#!/usr/bin/env bash
# The README's main command: set up ./.venv, then run a4mer on the example clip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
CLIP=examples/bandai/dataset-1_walk_happy_002.bvh
.venv/bin/a4mer info "$CLIP"
.venv/bin/a4mer convert "$CLIP" -o out/example.npz
if .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('a4mer.cli.segment') is None)"; then
  .venv/bin/a4mer segment out/example.npz -o out/example.segments.json
fi
