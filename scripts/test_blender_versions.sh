#!/usr/bin/env bash
# The Blender suite (tests/blender) on Blender releases other than the pinned bpy 5.0.1: each in its own
# ./.venv-bpy/<version>, with a4mer installed editable and the same pins except bpy.
#   bash scripts/test_blender_versions.sh              # 4.2.0 (LTS, legacy actions), 4.4.0 (first slotted
#                                                      # actions), 4.5.15 (LTS)
#   bash scripts/test_blender_versions.sh 4.3.0 ...    # any bpy release on the package index
# A release the package index does not list is reported as SKIPPED. Anything else that goes wrong (no
# python3.11, a failed install, a different bpy than asked for, a failing suite) fails the script.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
if [ $# -eq 0 ]; then set -- 4.2.0 4.4.0 4.5.15; fi
status=0
summary=()
fail() { summary+=("bpy $1: FAILED ($2)"); status=1; }
for v in "$@"; do
  venv="$repo/.venv-bpy/$v"
  # run from / so that `import a4mer` can only come from the editable install
  ready() { (cd / && "$venv/bin/python" -c "import a4mer, bpy, torch, pytest; assert bpy.app.version_string.split()[0] == '$v'") 2>/dev/null; }
  if ! ready; then
    listed=$(python3.11 -m pip index versions bpy 2>/dev/null) || listed=""
    if [ -n "$listed" ] && ! grep -Eq "(^|[ ,])$v(,|$| )" <<<"$listed"; then
      summary+=("bpy $v: SKIPPED (the package index does not offer it)")
      continue
    fi
    rm -rf "$venv" && python3.11 -m venv "$venv" || { fail "$v" "no python3.11 venv"; continue; }
    sed "s/^bpy==.*/bpy==$v/" constraints.txt > "$venv/constraints.txt"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$venv/constraints.txt" \
      -e ".[model,blender,dev]" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
    if [ "${PIPESTATUS[0]}" -ne 0 ] || ! ready; then
      fail "$v" "could not install it with a4mer"
      continue
    fi
  fi
  echo "== tests/blender on Blender $v"
  if "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/blender; then
    summary+=("bpy $v: passed")
  else
    fail "$v" "tests/blender"
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
