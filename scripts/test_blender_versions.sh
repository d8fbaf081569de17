#!/usr/bin/env bash
# The Blender suite (tests/blender) on Blender releases other than the pinned bpy 5.0.1: each in its own
# ./.venv-bpy/<version>, with a4mer installed editable and the same pins except bpy.
#   bash scripts/test_blender_versions.sh              # 4.2.0 (LTS, legacy actions), 4.4.0 (first slotted
#                                                      # actions), 4.5.15 (LTS)
#   bash scripts/test_blender_versions.sh 4.3.0 ...    # any bpy release on the package index
# A release the package index does not offer is reported as SKIPPED; any failing suite fails the script.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then set -- 4.2.0 4.4.0 4.5.15; fi
status=0
summary=()
for v in "$@"; do
  venv=".venv-bpy/$v"
  if ! "$venv/bin/python" -c "import a4mer, bpy, torch, pytest" 2>/dev/null; then
    rm -rf "$venv" && python3.11 -m venv "$venv"
    sed "s/^bpy==.*/bpy==$v/" constraints.txt > "$venv/constraints.txt"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$venv/constraints.txt" \
      -e ".[model,blender,dev]" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
    if ! "$venv/bin/python" -c "import a4mer, bpy, torch, pytest" 2>/dev/null; then
      summary+=("bpy $v: SKIPPED (could not be installed from the package index)")
      continue
    fi
  fi
  got=$("$venv/bin/python" -c "import bpy; print(bpy.app.version_string)")
  echo "== tests/blender on Blender $got"
  if "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/blender; then
    summary+=("bpy $v ($got): passed")
  else
    summary+=("bpy $v ($got): FAILED")
    status=1
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
