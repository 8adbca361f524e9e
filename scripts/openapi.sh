#!/usr/bin/env bash
# Generate docs/openapi.json from the API resolvers; --check fails if it is out of date.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PYTHONPATH="$ROOT:$ROOT/layers/loyalty${PYTHONPATH:+:$PYTHONPATH}"
exec "$ROOT/.venv/bin/python" -m devtools.openapi "$@"
