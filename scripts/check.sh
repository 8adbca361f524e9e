#!/usr/bin/env bash
# Static checks: ruff lint, ruff format check, mypy, and the links of every Markdown file
# (devtools/check_links.py: none broken, none leaving the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"

"$PY" -m ruff check .
"$PY" -m ruff format --check .
targets=(devtools bench)
[[ -d layers/loyalty/loyalty ]] && targets+=(layers/loyalty/loyalty)
for fn in functions/*/; do
  [[ -n "$(find "$fn" -name '*.py' -print -quit)" ]] && targets+=("${fn%/}")
done
"$PY" -m mypy "${targets[@]}"
"$PY" -m devtools.check_links
