#!/usr/bin/env bash
# Run the test suite (unit + integration against DynamoDB Local). Arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled
exec "$ROOT/.venv/bin/python" -m pytest "$@"
