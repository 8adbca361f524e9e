#!/usr/bin/env bash
# A long run of the ledger's stateful model test (tests/integration/test_ledger_model.py):
# random seeds, thousands of examples, then the figures (runs, steps, member checks).
# Usage: bash scripts/soak.sh [EXAMPLES] [STEPS]   (defaults 1000 and 50; a few hours at most)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
LEDGER_MODEL_EXAMPLES="${1:-1000}" LEDGER_MODEL_STEPS="${2:-50}" LEDGER_MODEL_RANDOM=1 \
  LEDGER_MODEL_REPORT="$report" \
  bash "$ROOT/scripts/test.sh" tests/integration/test_ledger_model.py -q -p no:cacheprovider
echo "==> soak figures (each line one state machine; violations: 0, or pytest would have failed)"
cat "$report"
