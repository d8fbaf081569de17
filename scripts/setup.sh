#!/usr/bin/env bash
# Create ./.venv (Python 3.11) with a4mer installed editable with all extras, pinned for these machines.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv
fi
# pip's own exit status decides (pipefail); the filter only hides a harmless note of this machine's pip config
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[model,blender,dev,smplx]" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
.venv/bin/python -c "import a4mer, numpy, torch, bpy, safetensors, scipy, matplotlib, tqdm, smplx, pytest, hypothesis" 
