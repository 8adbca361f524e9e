#!/usr/bin/env bash
# The README's run command: the service locally on DynamoDB Local (no AWS account, no Docker).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PYTHONPATH="$ROOT:$ROOT/layers/loyalty${PYTHONPATH:+:$PYTHONPATH}"
exec "$ROOT/.venv/bin/python" -m devtools.demo "$@"
