"""loyalty-local: run the whole service locally, and talk to it.

    loyalty-local up                         start everything, seed the demo shop, serve :8787
    loyalty-local token alice                a local development token for member alice
    loyalty-local order --member alice --amount 42.00
    loyalty-local order --refund --order-id o-1 --member alice --amount 10.00
    loyalty-local jobs --now 2027-03-01      run the daily jobs as on that day
    loyalty-local member alice               the member and their ledger
    loyalty-local stream export /tmp/s.jsonl / stream replay /tmp/s.jsonl
    loyalty-local dlq [--redrive]            dead-lettered messages
    loyalty-local import FILE --batch ID     members and balances from CSV/JSON Lines (--undo)

Every command but `up` talks to a running stack over HTTP: --url or --port when given, else
LOYALTY_LOCAL_URL, else the stack that `up` last started from this checkout (it writes its
address to .venv/loyalty-local.json while it runs), else http://127.0.0.1:8787. See
docs/local.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

DEFAULT_URL = "http://127.0.0.1:8787"
DEFAULT_PORT = 8787
CHUNK_MESSAGES = 100
CHUNK_RECORDS = 500
MEMBER_ID = re.compile(r"^[A-Za-z0-9\-_.@]{1,64}$")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
NOW_ENV = "LOYALTY_LOCAL_NOW"  # the default of `up --now`: the stack's pinned clock


class CliError(Exception):
    pass


# ---- where the running stack is --------------------------------------------------------------


def state_path() -> Path:
    """Where `up` writes the address of the stack it runs: in the checkout's virtualenv (one per
    clone, ignored by git), or LOYALTY_LOCAL_STATE."""
    override = os.environ.get("LOYALTY_LOCAL_STATE")
    return Path(override) if override else Path(sys.prefix) / "loyalty-local.json"


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_stack() -> dict[str, Any] | None:
    """The state `up` wrote, if its process still runs."""
    try:
        state = json.loads(state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("url"), str):
        return None
    return state if _alive(state.get("pid")) else None


def write_state(url: str) -> None:
    path = state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n", encoding="utf-8")
    except OSError:
        pass  # the hints carry --url when it matters; the state file is a convenience


def clear_state() -> None:
    """Remove the state file if it is this process's."""
    path = state_path()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(state, dict) and state.get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def resolve_url(args: argparse.Namespace) -> tuple[str, str]:
    """The stack's URL and where it came from (for the error when nothing answers)."""
    if getattr(args, "url", None):
        return args.url, "--url"
    if getattr(args, "port", None):
        return f"http://127.0.0.1:{args.port}", "--port"
    if os.environ.get("LOYALTY_LOCAL_URL"):
        return os.environ["LOYALTY_LOCAL_URL"], "LOYALTY_LOCAL_URL"
    state = running_stack()
    if state is not None:
        return state["url"], f"the stack started by `loyalty-local up` ({state_path()})"
    return DEFAULT_URL, "the default"


# ---- plain words -----------------------------------------------------------------------------

_FORMATS = {
    "email": "is not an email address (like name@shop.com)",
    "memberId": "is not a member id (1 to 64 letters, digits, '-', '_', '.' or '@')",
    "phone": "is not a phone number (digits, spaces, '+', '-', '.', brackets; 5 to 32 of them)",
    "referralCode": "is not a referral code (4 to 32 letters and digits)",
    "url": "is not a web address (http:// or https://)",
    "month": "is not a month (YYYY-MM)",
}
_PATTERN = re.compile(r"String should match pattern '.*'$")
_FIELD_PATTERN = re.compile(r"([A-Za-z0-9_.]+): String should match pattern '[^']*'")


def plain(field: str, problem: str) -> str:
    """A validation problem in words: the API's and the handlers' messages name the regular
    expression a value failed; a shop owner wants to know what is expected instead."""
    name = field.rsplit(".", 1)[-1]
    if _PATTERN.search(problem):
        return f"{name} {_FORMATS.get(name, 'is not in the expected format')}"
    return f"{name}: {problem}"


def plain_reason(text: str) -> str:
    """A handler's reason (`... memberId: String should match pattern '...'; ...`) in words."""
    return _FIELD_PATTERN.sub(lambda m: plain(m.group(1), "String should match pattern ''"), text)


# ---- HTTP ----------------------------------------------------------------------------------


def request(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    expect_json: bool = True,
) -> Any:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": content_type} if data is not None else {}
    call = urllib.request.Request(url.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(call, timeout=3600) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
            message = str(document.get("message", text))
            problems = [
                plain(str(item.get("field", "")), str(item.get("problem", "")))
                for item in document.get("errors") or []
                if isinstance(item, dict)
            ]
        except (ValueError, AttributeError):
            message, problems = text, []
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise CliError(f"{method} {path}: {error.code} {message}{detail}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise CliError(
            f"no local stack answers at {url} ({reason}). Start one with `bash scripts/run.sh` "
            "(or `loyalty-local up`); if it runs on another port, pass --port or --url."
        ) from None
    if not expect_json:
        return payload
    return json.loads(payload) if payload else None


# ---- output helpers ------------------------------------------------------------------------


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=False))


def _points(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _read_input(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    path = Path(name)
    if not path.is_file():
        raise CliError(f"no file {name}")
    return path.read_text(encoding="utf-8")


def _progress(total: int, label: str, quiet: bool) -> Any:
    from devtools.local.progress import Progress

    return Progress(total, label, enabled=not quiet and total > 1)


# ---- up ------------------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace) -> int:
    from devtools.local.stack import LocalStack

    os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    began = time.monotonic()
    stack = LocalStack(
        endpoint_url=args.endpoint_url,
        table_name=args.table,
        host=args.host,
        port=args.port,
        seed=not args.no_seed,
        members=args.members,
        template_path=args.template,
        insecure_dev_tokens=args.insecure_dev_tokens,
        log_level=args.log_level,
        verbose=args.verbose,
        quiet=args.quiet,
        now=args.now,
    )

    def stop(signum: int, frame: Any) -> NoReturn:
        raise KeyboardInterrupt

    # Before starting: a SIGTERM during the start still stops DynamoDB Local.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main_thread else None
    try:
        return _run_up(args, stack, began)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run_up(args: argparse.Namespace, stack: Any, began: float) -> int:
    from devtools.dynamodb_local import DynamoDBLocalError
    from devtools.local.stack import LocalStackError

    engine = {None: "DynamoDB Local", "aws": "AWS DynamoDB"}.get(
        args.endpoint_url, f"the DynamoDB at {args.endpoint_url}"
    )
    print(f"starting the loyalty service locally on {engine} ...", file=sys.stderr)
    if stack.clock.pinned:
        print(f"the stack's clock is pinned: it starts at {args.now}", file=sys.stderr)
    try:
        stack.start()
    except OSError as error:
        if error.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
            raise CliError(
                f"port {args.port} on {args.host} is in use (another `loyalty-local up`?); "
                "pass --port"
            ) from None
        raise
    except (LocalStackError, DynamoDBLocalError) as error:
        raise CliError(str(error)) from None
    except KeyboardInterrupt:
        print("\nstopped before it was up", file=sys.stderr)
        return 130
    try:
        write_state(stack.base_url)
        print(banner(stack, time.monotonic() - began), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping ...", file=sys.stderr)
    finally:
        clear_state()
        stack.stop()
    return 0


def cli_command() -> str:
    """How to run this command from the directory the user started `up` in (scripts/run.sh
    passes it as LOYALTY_LOCAL_CWD): `.venv/bin/loyalty-local` from the checkout's root."""
    executable = Path(sys.prefix) / "bin" / "loyalty-local"
    if not executable.exists():
        return "loyalty-local"
    start = os.environ.get("LOYALTY_LOCAL_CWD") or os.getcwd()
    try:
        relative = os.path.relpath(executable, start)
    except ValueError:
        return str(executable)
    return relative if not relative.startswith("..") else str(executable)


def client_flag(base_url: str) -> str:
    """What a pasted command needs to reach this stack: nothing at the default address,
    `--port` on 127.0.0.1, `--url` elsewhere. (Without it the command would find this stack
    through the state file too, but not while a second stack runs from the same checkout.)"""
    base = base_url.rstrip("/")
    if base == DEFAULT_URL:
        return ""
    parts = urlsplit(base)
    if parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port and not parts.path:
        return f" --port {parts.port}"
    return f" --url {base}"


def banner(stack: Any, seconds: float) -> str:
    base = stack.base_url
    cli, flag = cli_command(), client_flag(base)
    member = stack.mint_token("alice")
    service = stack.mint_token("storefront-backend", ["loyalty/service"])
    wiring = stack.wiring
    functions = {route.function for route in wiring.routes}
    seed = stack.seed_summary or {}
    lines = [
        "",
        f"Loyalty service up in {seconds:.1f} s (table {stack.table_name} on "
        f"{stack.dynamodb_endpoint or 'AWS'}), wired from {stack.template_path.name}:",
        "  ("
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stack.timings.items())
        + ")",
        f"  {len(wiring.routes)} HTTP routes on {len(functions)} functions, "
        f"{len(wiring.queue_consumers)} queue consumers, {len(wiring.stream_consumers)} stream "
        f"consumers, {len(wiring.schedules)} schedules",
    ]
    if seed.get("demo") == "seeded":
        lines.append(
            f"  demo shop seeded: {seed['members']} members (alice, bob, carol, dave, erin, "
            f"frank), {seed['orders']} orders around Black Friday, a referral, a refund, "
            f"a redemption"
        )
    if seed.get("syntheticMembers"):
        lines.append(f"  plus {seed['syntheticMembers']} synthetic members (m-...)")
    lines += [
        "",
        f"  API               {base}/",
        f"  member portal     {stack.portal_url}",
        f"  operator console  {stack.operator_url}",
        f"  OpenAPI           {base}/docs/openapi.json",
        f"  local endpoints   {base}/local/  (docs/local.md)",
        "",
        "Local development tokens (HMAC-signed by this process; no other API accepts them):",
        f'  curl -H "Authorization: Bearer {member}" \\',
        f"       {base}/members/alice",
        f'  curl -H "Authorization: Bearer {service}" \\',
        f"       {base}/rewards",
        "",
        "Or with the command-line tool (another terminal):",
        f'  TOKEN=$({cli} token alice{flag}); curl -H "Authorization: Bearer '
        f'$TOKEN" {base}/members/alice/activity',
        f"  {cli} order --member alice --amount 42.00{flag}",
        f"  {cli} jobs --now 2027-03-01{flag}",
        f"  {cli} member alice{flag}",
        "",
        "Ctrl-C to stop.",
    ]
    return "\n".join(lines)


# ---- token ---------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"sub": args.sub, "scopes": args.scope or []}
    if args.ttl:
        body["ttlSeconds"] = args.ttl
    document = request(args.url, "POST", "/local/token", body)
    if args.json:
        _print_json(document)
    else:
        print(document["token"])
        print(f"({document['warning']})", file=sys.stderr)
    return 0


# ---- order ---------------------------------------------------------------------------------


def _now(url: str | None) -> str:
    """The running stack's "now" at `url` (its clock may be pinned: `up --now`), else the
    wall clock."""
    now: Any = None
    if url:
        try:
            now = request(url, "GET", "/local/status").get("now")
        except CliError:
            now = None
    return now if isinstance(now, str) else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_lines(text: str, name: str) -> list[Any]:
    """One JSON document per non-blank line; a line that is not JSON is refused by number."""
    documents = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(json.loads(line))
        except ValueError as error:
            where = "standard input" if name == "-" else name
            raise CliError(
                f"line {number} of {where} is not JSON ({getattr(error, 'msg', error)}); "
                "nothing was sent. Give one JSON object per line, a JSON list, or one object."
            ) from None
    return documents


def money(text: str, *, refund: bool) -> str:
    """--amount as the order message wants it (dollars and cents: "42.00"), or a plain refusal."""
    hint = "write dollars and cents, e.g. --amount 42.00"
    try:
        value = Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        raise CliError(f"--amount {text!r} is not an amount of money; {hint}") from None
    if not value.is_finite():
        raise CliError(f"--amount {text!r} is not an amount of money; {hint}")
    if value < 0:
        raise CliError(
            f"--amount cannot be negative (got {text}). To give money back, send a refund: "
            "order --refund --order-id ID --member ID --amount 5.00"
        )
    if refund and value == 0:
        raise CliError("a refund of 0.00 gives nothing back; --amount is the money refunded")
    if value != value.quantize(Decimal("0.01")):
        raise CliError(f"--amount {text} has fractions of a cent; {hint}")
    if value >= Decimal("10000000000"):
        raise CliError(f"--amount {text} is more than the service accepts for one price")
    return f"{value:.2f}"


def member_id(text: str) -> str:
    if not MEMBER_ID.match(text):
        raise CliError(
            f"--member {text!r} is not a member id: use 1 to 64 letters, digits, '-', '_', '.' "
            "or '@' (the shop's customer id)"
        )
    return text


def occurred_at(text: str | None, url: str | None = None) -> str:
    if not text:
        return _now(url)
    try:
        moment = (
            datetime.fromisoformat(text)
            if "T" in text or " " in text.strip()
            else datetime.combine(date.fromisoformat(text), datetime.min.time())
        )
    except ValueError:
        raise CliError(
            f"--at {text!r} is not a date or time; write e.g. 2026-11-27 or 2026-11-27T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_messages(args: argparse.Namespace) -> list[Any]:
    if args.file:
        text = _read_input(args.file)
        try:
            document = json.loads(text)
        except ValueError:
            document = json_lines(text, args.file)  # one message per line (JSON lines)
        if isinstance(document, dict) and isinstance(document.get("Records"), list):
            return [record.get("body", "") for record in document["Records"]]
        return document if isinstance(document, list) else [document]
    if not args.member or not args.amount:
        raise CliError(
            "give --file, or --member and --amount (and --refund --order-id for a refund)"
        )
    member = member_id(args.member)
    amount = money(args.amount, refund=args.refund)
    at = occurred_at(args.at, args.url)
    if args.refund:
        if not args.order_id:
            raise CliError("a refund needs --order-id (the order it refunds)")
        return [
            {
                "type": "order.refunded",
                "orderId": args.order_id,
                "refundId": args.refund_id or f"r-{uuid.uuid4().hex[:10]}",
                "memberId": member,
                "occurredAt": at,
                "currency": "USD",
                "amount": amount,
            }
        ]
    if args.quantity < 1:
        raise CliError(f"--quantity is how many were bought: 1 or more (got {args.quantity})")
    message: dict[str, Any] = {
        "type": "order.completed",
        "orderId": args.order_id or f"o-{uuid.uuid4().hex[:10]}",
        "memberId": member,
        "occurredAt": at,
        "currency": "USD",
        "lines": [
            {
                "sku": args.sku,
                "category": args.category,
                "quantity": args.quantity,
                "unitPrice": amount,
            }
        ],
    }
    if args.referral_code:
        message["referralCode"] = args.referral_code
    return [message]


def cmd_order(args: argparse.Namespace) -> int:
    messages = order_messages(args)
    path = "/local/orders" if not args.queue else f"/local/queues/{args.queue}/messages"
    reports = []
    with _progress(len(messages), "sending", args.json or len(messages) <= CHUNK_MESSAGES) as bar:
        for start in range(0, len(messages), CHUNK_MESSAGES):
            chunk = messages[start : start + CHUNK_MESSAGES]
            reports.append(request(args.url, "POST", path, chunk))
            bar.advance(len(chunk))
    results = [result for report in reports for result in report["results"]]
    failures = [failure for report in reports for failure in report["batchItemFailures"]]
    if args.json:
        _print_json(
            {
                "queue": reports[0]["queue"] if reports else None,
                "consumer": reports[0]["consumer"] if reports else None,
                "results": results,
                "batchItemFailures": failures,
            }
        )
    else:
        first = reports[0] if reports else {}
        print(f"{first.get('queue')} → {first.get('consumer') or '(no consumer: kept)'}")
        for result in results:
            line = f"  {result['status']:<14} {result['summary']}  (attempts {result['attempts']})"
            if result.get("deadLetterQueue"):
                line += f" → {result['deadLetterQueue']}"
            print(line)
            if result.get("error") and result["status"] != "processed":
                print(f"  {'':<14} {plain_reason(str(result['error']))}")
        if failures:
            print(f"batchItemFailures of the first delivery: {len(failures)}")
    return 0 if all(r["status"] == "processed" for r in results) else 1


# ---- jobs ----------------------------------------------------------------------------------


def cmd_jobs(args: argparse.Namespace) -> int:
    jobs = args.job or ["all"]
    dead_before = _dead_letters(args.url)
    runs: list[dict[str, Any]] = []
    for job in jobs:
        document = request(args.url, "POST", "/local/jobs", {"now": args.now, "job": job})
        runs.extend(document["runs"])
    if args.json:
        _print_json({"runs": runs})
        return 1 if any(run.get("error") for run in runs) else 0
    from devtools.local.effects import describe

    for run in runs:
        print(f"{run['schedule']} job, as on {run['time']}:")
        if run.get("error"):
            print(f"  FAILED: {run['error']}")
        for line in describe(run.get("effects") or {}):
            print(f"  {line}")
    dead = _dead_letters(args.url) - dead_before
    if dead > 0:
        print(f"{dead} message(s) failed and went to a dead-letter queue: loyalty-local dlq")
    return 1 if any(run.get("error") for run in runs) or dead > 0 else 0


def _dead_letters(url: str) -> int:
    document = request(url, "GET", "/local/dlq")
    return sum(len(queue["messages"]) for queue in document["queues"])


# ---- member --------------------------------------------------------------------------------


def cmd_member(args: argparse.Namespace) -> int:
    document = request(args.url, "GET", f"/local/members/{quote(args.member_id, safe='')}")
    if args.json:
        _print_json(document)
        return 0
    member = document["member"]
    contact = f" <{member['email']}>" if member.get("email") else ""
    print(f"{member['memberId']} — {member.get('name') or '(no profile)'}{contact}")
    next_tier = member.get("nextTier")
    progress = f", {_points(next_tier['pointsNeeded'])} to {next_tier['name']}" if next_tier else ""
    print(
        f"  {member['tier']} ({_points(member['tierPoints'])} tier points{progress})   "
        f"balance {_points(member['balance'])}   pending {_points(member.get('pendingPoints', 0))}"
    )
    enrolled = str(member.get("enrolledAt", ""))[:10]
    print(f"  enrolled {enrolled}   referral code {member.get('referralCode') or '-'}")
    referrals = document.get("referrals")
    if referrals:
        print(
            f"  referrals: {referrals['completed']} completed, {referrals['pending']} pending, "
            f"{_points(referrals['pointsEarned'])} points earned"
        )
    for expiring in member.get("expiring") or []:
        print(f"  {_points(expiring['points']):>8} points expire {str(expiring['expiresAt'])[:10]}")
    activity = document["activity"]
    print(f"\n  {'date':<17} {'type':<7} {'points':>8}  {'reason':<26} reference")
    for entry in activity:
        when = str(entry["occurredAt"]).replace("T", " ")[:16]
        print(
            f"  {when:<17} {entry['type']:<7} {entry['points']:>+8,}  {entry['reason']:<26} "
            f"{entry['reference']}"
        )
    print(f"  ({len(activity)} entries)")
    return 0


# ---- stream --------------------------------------------------------------------------------


def export_target(name: str | None) -> Path | None:
    """Where `stream export` writes: the file it is given (relative to the current directory),
    `stream-export.jsonl` in a directory it is given, or standard output (no name, or `-`)."""
    if name in (None, "-"):
        return None
    target = Path(name).expanduser()
    if target.is_dir():
        target = target / "stream-export.jsonl"
    if not target.parent.is_dir():
        raise CliError(f"cannot write {target}: no directory {target.parent}")
    return target.resolve()


def cmd_stream(args: argparse.Namespace) -> int:
    if args.action == "export":
        target = export_target(args.file)
        data = request(args.url, "GET", "/local/stream/export", expect_json=False)
        count = data.count(b"\n")
        if target is None:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
            print(f"{count} stream records written to standard output", file=sys.stderr)
            return 0
        try:
            target.write_bytes(data)
        except OSError as error:
            raise CliError(f"cannot write {target}: {error.strerror or error}") from None
        print(f"{count} stream records exported to {target}", file=sys.stderr)
        return 0
    if args.file is None:
        raise CliError("stream replay needs the file to replay (or '-' for standard input)")
    lines = [line for line in _read_input(args.file).splitlines() if line.strip()]
    json_lines("\n".join(lines), args.file)  # refuse a broken file before sending any of it
    path = "/local/stream/replay"
    if args.function:
        path += f"?function={quote(args.function)}"
    delivered: dict[str, int] = {}
    invocations: dict[str, int] = {}
    with _progress(len(lines), "replaying", args.json or len(lines) <= CHUNK_RECORDS) as bar:
        for start in range(0, len(lines), CHUNK_RECORDS):
            chunk = lines[start : start + CHUNK_RECORDS]
            report = request(args.url, "POST", path, raw="\n".join(chunk).encode(),
                             content_type="application/x-ndjson")  # fmt: skip
            for name, count in report["delivered"].items():
                delivered[name] = delivered.get(name, 0) + count
            for name, count in report["invocations"].items():
                invocations[name] = invocations.get(name, 0) + count
            bar.advance(len(chunk))
    summary = {"records": len(lines), "delivered": delivered, "invocations": invocations}
    if args.json:
        _print_json(summary)
    else:
        print(f"{len(lines)} records replayed")
        for name, count in delivered.items():
            print(f"  {name}: {count} admitted by its filter criteria")
    return 0


# ---- dlq, events, status -------------------------------------------------------------------


def cmd_dlq(args: argparse.Namespace) -> int:
    if args.redrive:
        report = request(args.url, "POST", "/local/dlq/redrive", {"queue": args.queue})
        if args.json:
            _print_json(report)
        else:
            print(f"{report['redriven']} message(s) redriven")
            for result in report["results"]:
                print(f"  {result['status']:<14} {result['summary']}")
                if result.get("error") and result["status"] != "processed":
                    print(f"  {'':<14} {plain_reason(str(result['error']))}")
        return 0 if all(r["status"] == "processed" for r in report["results"]) else 1
    document = request(args.url, "GET", "/local/dlq")
    if args.json:
        _print_json(document)
        return 0
    for queue in document["queues"]:
        if args.queue and args.queue != queue["queue"]:
            continue
        sources = ", ".join(queue["sources"])
        print(f"{queue['queue']} (from {sources}): {len(queue['messages'])} message(s)")
        for message in queue["messages"]:
            body = message["body"]
            text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
            print(f"  {message['messageId']}  received {message['receiveCount']}x  {text[:100]}")
            if message.get("lastError"):
                print(f"    last error: {plain_reason(str(message['lastError']))}")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    query = f"?limit={args.limit}" + (f"&type={quote(args.type)}" if args.type else "")
    document = request(args.url, "GET", f"/local/events{query}")
    if args.json:
        _print_json(document)
        return 0
    for event in document["events"]:
        detail = json.dumps(event["detail"], separators=(",", ":"))
        print(f"{event['time']}  {event['detail-type']:<24} {detail[:110]}")
    print(f"({len(document['events'])} shown, {document['total']} published since start)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    document = request(args.url, "GET", "/local/status")
    if args.json:
        _print_json(document)
        return 0
    print(f"{document['baseUrl']}  table {document['table']} on {document['dynamodbEndpoint']}")
    print("routes:")
    for route in document["routes"]:
        print(f"  {route['route']:<48} {route['function']}")
    print("queues:")
    for queue in document["queues"]:
        consumer = queue["consumer"] or (
            "(dead-letter queue)" if queue["isDeadLetterQueue"] else "-"
        )
        print(f"  {queue['queue']:<28} {queue['messages']:>5} waiting  {consumer}")
    print("stream consumers:")
    for consumer in document["streamConsumers"]:
        print(f"  {consumer['function']}")
    print("schedules:")
    for schedule in document["schedules"]:
        print(f"  {schedule['name']:<14} {schedule['expression']:<24} {schedule['function']}")
    return 0


# ---- parser --------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="loyalty-local",
        description="Run the loyalty service locally (wired from template.yaml) and talk to it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See docs/local.md.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def client(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        where = command.add_mutually_exclusive_group()
        where.add_argument(
            "--url",
            help="the running stack (default: LOYALTY_LOCAL_URL, else the stack `up` started "
            f"from this checkout, else {DEFAULT_URL})",
        )
        where.add_argument(
            "--port", type=int, help="the running stack's port on 127.0.0.1 (as given to `up`)"
        )
        command.add_argument("--json", action="store_true", help="print the raw JSON answer")
        return command

    up = commands.add_parser("up", help="start the whole service locally and keep it running")
    up.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    up.add_argument(
        "--endpoint-url",
        default=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
        help="use this DynamoDB instead of starting DynamoDB Local; `aws` for the real "
        "DynamoDB of your credentials and region (default: DYNAMODB_ENDPOINT_URL, else "
        "embedded DynamoDB Local)",
    )
    up.add_argument("--table", default="loyalty-local", help="table name (default loyalty-local)")
    up.add_argument("--no-seed", action="store_true", help="do not seed the demo shop")
    up.add_argument("--members", type=int, default=0, metavar="N", help="seed N synthetic members")
    up.add_argument("--template", default=None, help="template (default: the repo's template.yaml)")
    up.add_argument(
        "--log-level",
        default="WARNING",
        help="the functions' POWERTOOLS_LOG_LEVEL (template's LogLevel; default WARNING)",
    )
    up.add_argument(
        "--now",
        default=os.environ.get(NOW_ENV) or None,
        metavar="INSTANT",
        help="pin the stack's clock: it starts at this instant (2026-12-10 or an ISO instant) "
        f"and runs on from there, whatever the date; seeding and the functions use it "
        f"(default: {NOW_ENV}, else the wall clock)",
    )
    up.add_argument("--verbose", action="store_true", help="log every invocation and request")
    up.add_argument("--quiet", action="store_true", help="log errors only")
    up.add_argument(
        "--insecure-dev-tokens",
        action="store_true",
        help="allow a non-loopback --host: anyone who can reach it can mint admin tokens",
    )
    up.set_defaults(handler=cmd_up)

    token = client("token", "mint a local development token")
    token.add_argument("sub", help="the subject: a member id, or e.g. storefront-backend")
    token.add_argument(
        "--scope",
        action="append",
        metavar="SCOPE",
        help="loyalty/service or loyalty/admin (repeatable); none: a member's token",
    )
    token.add_argument("--ttl", type=int, help="lifetime in seconds (default 12 h)")
    token.set_defaults(handler=cmd_token)

    order = client("order", "send an order (or a refund) to the orders queue")
    order.add_argument("--file", help="JSON message, list, SQS event or JSON lines ('-': stdin)")
    order.add_argument("--member", help="member id")
    order.add_argument("--amount", help='unit price (order) or refunded amount, e.g. "42.00"')
    order.add_argument("--refund", action="store_true", help="send an order.refunded")
    order.add_argument("--order-id", help="default: a new id (an order); required for a refund")
    order.add_argument("--refund-id", help="default: a new id")
    order.add_argument("--category", default="general")
    order.add_argument("--sku", default="SKU-LOCAL-1")
    order.add_argument("--quantity", type=int, default=1)
    order.add_argument("--at", help="occurredAt (ISO 8601, default now)")
    order.add_argument("--referral-code", help="a referral code on the order")
    order.add_argument("--queue", help="another template queue (logical id) instead of orders")
    order.set_defaults(handler=cmd_order)

    jobs = client("jobs", "run the daily jobs (the template's schedules) as on a given day")
    jobs.add_argument("--now", help="2027-03-01 (at each schedule's time of day) or an ISO instant")
    jobs.add_argument(
        "--job",
        action="append",
        help="expiry, birthday, tenure, promotions ... or all (default; repeatable)",
    )
    jobs.set_defaults(handler=cmd_jobs)

    member = client("member", "show a member with their ledger")
    member.add_argument("member_id")
    member.set_defaults(handler=cmd_member)

    stream = client("stream", "export the table's stream records, or replay them")
    stream.add_argument("action", choices=("export", "replay"))
    stream.add_argument(
        "file",
        nargs="?",
        help="export: the file to write (a directory: stream-export.jsonl in it; none or '-': "
        "standard output); replay: the JSON lines file to read ('-': standard input)",
    )
    stream.add_argument("--function", help="replay to this stream consumer only")
    stream.set_defaults(handler=cmd_stream)

    dlq = client("dlq", "show the dead-letter queues, or redrive them")
    dlq.add_argument("--redrive", action="store_true", help="move the messages back and retry")
    dlq.add_argument("--queue", help="one dead-letter queue (logical id)")
    dlq.set_defaults(handler=cmd_dlq)

    events = client("events", "the outbound events published to the local bus")
    events.add_argument("--limit", type=int, default=20)
    events.add_argument("--type", help="only this detail-type, e.g. points.earned")
    events.set_defaults(handler=cmd_events)

    status = client("status", "what the running stack wired from the template")
    status.set_defaults(handler=cmd_status)

    from devtools.local.importer import add_parser as add_import

    add_import(commands, client)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    source = None
    if args.command != "up":
        args.url, source = resolve_url(args)
    try:
        return int(args.handler(args))
    except CliError as error:
        message = str(error)
        if source and message.startswith("no local stack answers"):
            message += f" (The address came from {source}.)"
        print(f"loyalty-local: {message}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`loyalty-local member alice | head`): stop quietly, and keep
        # Python from complaining when it flushes stdout on the way out.
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test's capture)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
