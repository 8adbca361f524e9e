#!/usr/bin/env bash
# Fuzz the API against its document: schemathesis (requirements-fuzz.txt, in .venv-fuzz) runs
# docs/openapi.json against the local stack (every route served by its real handler, on a
# fresh table on a free port), once with each kind of token (admin, service, member), all
# checks, coverage + fuzzing + stateful phases, a fixed seed and a bounded number of examples.
# Zero failures; the few exclusions, each with its reason, are in devtools/schemathesis.toml.
# Arguments go to `schemathesis run` (e.g. --max-examples 5).
#   FUZZ_EXAMPLES (default 100), FUZZ_SEED (default 11), FUZZ_PORT (default: a free port).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
# shellcheck source=scripts/_python.sh
source "$ROOT/scripts/_python.sh"
make_venv "$ROOT/.venv-fuzz" "$ROOT/requirements-fuzz.txt"

port="${FUZZ_PORT:-$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
stack_pid=""
cleanup() {
  if [[ -n "$stack_pid" ]] && kill -0 "$stack_pid" 2>/dev/null; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> local stack on $base (log: $work/stack.log)"
export AWS_ACCOUNT_ID_ENDPOINT_MODE=disabled
.venv/bin/loyalty-local up --port "$port" --table "loyalty-fuzz-$$" --quiet >"$work/stack.log" 2>&1 &
stack_pid=$!
# A local development token from the stack's token endpoint (empty until the stack answers).
token() { # sub [scope]
  .venv/bin/python - "$base" "$@" <<'PY' 2>/dev/null || true
import json, sys, urllib.request
base, sub, *scopes = sys.argv[1:]
request = urllib.request.Request(
    base + "/local/token",
    data=json.dumps({"sub": sub, "scopes": scopes, "ttlSeconds": 7200}).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(request, timeout=10) as response:
    print(json.load(response)["token"])
PY
}

for _ in $(seq 1 300); do
  [[ -n "$(token alice)" ]] && break
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    cat "$work/stack.log" >&2
    echo "error: the local stack did not start" >&2
    exit 1
  fi
  sleep 1
done
if [[ -z "$(token alice)" ]]; then
  cat "$work/stack.log" >&2
  echo "error: the local stack does not answer at $base" >&2
  exit 1
fi

# The checks devtools/schemathesis.toml turns off (with its reasons there): `--checks all` on
# the command line would turn them on again.
excluded="$(.venv/bin/python -c '
import tomllib
checks = tomllib.load(open("devtools/schemathesis.toml", "rb")).get("checks", {})
print(",".join(n for n, c in checks.items() if isinstance(c, dict) and c.get("enabled") is False))
')"

status=0
for caller in "admin ops-console loyalty/admin" "service storefront-backend loyalty/service" \
  "member alice"; do
  read -r kind sub scope <<<"$caller"
  echo "==> schemathesis with a $kind token ($sub)"
  started=$SECONDS
  config=devtools/schemathesis.toml
  if [[ "$kind" == member ]]; then
    # A member may act only on itself: every memberId is theirs (the admin and service runs
    # try any id).
    config="$work/member.toml"
    cat devtools/schemathesis.toml - >"$config" <<EOF_MEMBER

[parameters]
"path.memberId" = "$sub"
EOF_MEMBER
  fi
  if ! .venv-fuzz/bin/schemathesis --config-file "$config" run docs/openapi.json \
    --url "$base" \
    --header "Authorization: Bearer $(token "$sub" ${scope:+"$scope"})" \
    --checks all --exclude-checks "$excluded" \
    --phases coverage,fuzzing,stateful \
    --max-examples "${FUZZ_EXAMPLES:-100}" \
    --seed "${FUZZ_SEED:-11}" \
    --workers 1 \
    --no-color \
    --generation-database none \
    "$@"; then
    status=1
  fi
  echo "    ($kind: $((SECONDS - started)) s)"
done
if [[ "$status" != 0 ]]; then
  echo "error: schemathesis found failures (stack log: $work/stack.log)" >&2
  tail -50 "$work/stack.log" >&2 || true
fi
exit "$status"
