#!/usr/bin/env bash
# Run the test suite (unit + integration against DynamoDB Local). Arguments go to pytest.
# Without test paths (the whole suite, or e.g. `-m calendar`), the tests run on TEST_WORKERS
# pytest-xdist workers (default 2, one per core of the CI machine; each worker starts its own
# DynamoDB Local; a test file stays on one worker, so module-scoped stacks are started once).
# Given paths, -n, -p no:xdist, --pdb or TEST_WORKERS=0, they run in this one process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled
workers="${TEST_WORKERS:-2}"
for arg in "$@"; do
  case "$arg" in
  -n | -n* | --numprocesses* | no:xdist | --pdb | --trace) workers=0 ;;
  esac
  if [[ "$arg" != -* && -e "${arg%%::*}" ]]; then
    workers=0 # a path: a targeted run
  fi
done
parallel=()
if [[ "$workers" != 0 ]]; then
  parallel=(-n "$workers" --dist loadfile)
fi
exec "$ROOT/.venv/bin/python" -m pytest "${parallel[@]}" "$@"
