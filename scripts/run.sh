#!/usr/bin/env bash
# The README's run command: the whole service locally (no AWS account, no Docker), wired from
# template.yaml: DynamoDB Local, the HTTP API with local development tokens, the queues, the
# table's stream, the schedules, the member portal and operator console, and a seeded demo
# shop. Arguments go to `loyalty-local up` (--port, --endpoint-url, --no-seed, --members N, ...;
# see docs/local.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
# The hints it prints name the command line tool relative to where you are now.
export LOYALTY_LOCAL_CWD="$PWD"
cd "$ROOT"
exec "$ROOT/.venv/bin/loyalty-local" up "$@"
