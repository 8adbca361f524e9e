#!/usr/bin/env bash
# Run the AWS SAM CLI from its own venv (.venv-sam), from the repo root: scripts/sam.sh build ...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/_python.sh
source "$ROOT/scripts/_python.sh"

make_venv "$ROOT/.venv-sam" "$ROOT/requirements-sam.txt"
export SAM_CLI_TELEMETRY=0
export PATH="$ROOT/.venv-sam/bin:$PATH"
if [[ "${1:-}" != "build" ]]; then
  exec "$ROOT/.venv-sam/bin/sam" "$@"
fi
"$ROOT/.venv-sam/bin/sam" "$@"
# Lambda's file system is read-only: without .pyc files every cold start compiles the layer
# (pydantic, Powertools) from source, ~1.5 s more (bench/bench_orders.py). unchecked-hash .pyc
# are used as they are, whatever the zip does to source mtimes. Same 3.13 bytecode on any arch.
if [[ -d "$ROOT/.aws-sam/build" ]]; then
  "$ROOT/.venv-sam/bin/python" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
    "$ROOT/.aws-sam/build" >/dev/null
  echo "precompiled bytecode in .aws-sam/build (unchecked-hash .pyc)"
fi
