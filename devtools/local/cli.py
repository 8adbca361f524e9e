"""loyalty-local: run the whole service locally, and talk to it.

    loyalty-local up                         start everything, seed the demo shop, serve :8787
    loyalty-local token alice                a local development token for member alice
    loyalty-local order --member alice --amount 42.00
    loyalty-local order --refund --order-id o-1 --member alice --amount 10.00
    loyalty-local jobs --now 2027-03-01      run the daily jobs as on that day
    loyalty-local member alice               the member and their ledger
    loyalty-local stream export stream.jsonl / stream replay stream.jsonl
    loyalty-local dlq [--redrive]            dead-lettered messages

Every command but `up` talks to a running stack over HTTP (--url, default
http://127.0.0.1:8787, or LOYALTY_LOCAL_URL). See docs/local.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

DEFAULT_URL = "http://127.0.0.1:8787"
DEFAULT_PORT = 8787
CHUNK_MESSAGES = 100
CHUNK_RECORDS = 500
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
NOW_ENV = "LOYALTY_LOCAL_NOW"  # the default of `up --now`: the stack's pinned clock


class CliError(Exception):
    pass


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
            message = json.loads(text).get("message", text)
        except (ValueError, AttributeError):
            message = text
        raise CliError(f"{method} {path}: {error.code} {message}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise CliError(
            f"no local stack answers at {url} ({reason}). Start one with `bash scripts/run.sh` "
            "(or `loyalty-local up`), or pass --url."
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
        print(banner(stack, time.monotonic() - began), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping ...", file=sys.stderr)
    finally:
        stack.stop()
    return 0


def banner(stack: Any, seconds: float) -> str:
    base = stack.base_url
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
        '  TOKEN=$(.venv/bin/loyalty-local token alice); curl -H "Authorization: Bearer '
        f'$TOKEN" {base}/members/alice/activity',
        "  .venv/bin/loyalty-local order --member alice --amount 42.00",
        "  .venv/bin/loyalty-local jobs --now 2027-03-01",
        "  .venv/bin/loyalty-local member alice",
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


def _now(url: str) -> str:
    """The running stack's "now" (its clock may be pinned: `up --now`), else the wall clock."""
    try:
        now = request(url, "GET", "/local/status").get("now")
    except CliError:
        now = None
    return now if isinstance(now, str) else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_messages(args: argparse.Namespace) -> list[Any]:
    if args.file:
        text = _read_input(args.file)
        try:
            document = json.loads(text)
        except ValueError:
            # one message per line (JSON lines)
            document = [json.loads(line) for line in text.splitlines() if line.strip()]
        if isinstance(document, dict) and isinstance(document.get("Records"), list):
            return [record.get("body", "") for record in document["Records"]]
        return document if isinstance(document, list) else [document]
    if not args.member or not args.amount:
        raise CliError(
            "give --file, or --member and --amount (and --refund --order-id for a refund)"
        )
    if args.refund:
        if not args.order_id:
            raise CliError("a refund needs --order-id (the order it refunds)")
        return [
            {
                "type": "order.refunded",
                "orderId": args.order_id,
                "refundId": args.refund_id or f"r-{uuid.uuid4().hex[:10]}",
                "memberId": args.member,
                "occurredAt": args.at or _now(args.url),
                "currency": "USD",
                "amount": args.amount,
            }
        ]
    message: dict[str, Any] = {
        "type": "order.completed",
        "orderId": args.order_id or f"o-{uuid.uuid4().hex[:10]}",
        "memberId": args.member,
        "occurredAt": args.at or _now(args.url),
        "currency": "USD",
        "lines": [
            {
                "sku": args.sku,
                "category": args.category,
                "quantity": args.quantity,
                "unitPrice": args.amount,
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
                print(f"  {'':<14} {result['error']}")
        if failures:
            print(f"batchItemFailures of the first delivery: {len(failures)}")
    return 0 if all(r["status"] == "processed" for r in results) else 1


# ---- jobs ----------------------------------------------------------------------------------


def cmd_jobs(args: argparse.Namespace) -> int:
    jobs = args.job or ["all"]
    runs: list[dict[str, Any]] = []
    for job in jobs:
        document = request(args.url, "POST", "/local/jobs", {"now": args.now, "job": job})
        runs.extend(document["runs"])
    if args.json:
        _print_json({"runs": runs})
    else:
        for run in runs:
            status = "FAILED: " + run["error"] if run.get("error") else json.dumps(run["result"])
            print(f"{run['schedule']:<12} {run['time']}  {run['function']}: {status}")
            calls = ", ".join(
                f"{name} ×{count}"
                for name, count in run["invocations"].items()
                if name != run["function"]
            )
            if calls:
                print(f"{'':<12} then {calls}")
    return 1 if any(run.get("error") for run in runs) else 0


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


def cmd_stream(args: argparse.Namespace) -> int:
    if args.action == "export":
        data = request(args.url, "GET", "/local/stream/export", expect_json=False)
        count = data.count(b"\n")
        if args.file == "-":
            sys.stdout.write(data.decode("utf-8"))
        else:
            Path(args.file).write_bytes(data)
        print(f"{count} stream records exported to {args.file}", file=sys.stderr)
        return 0
    lines = [line for line in _read_input(args.file).splitlines() if line.strip()]
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
                    print(f"  {'':<14} {result['error']}")
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
                print(f"    last error: {message['lastError']}")
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
        command.add_argument(
            "--url",
            default=os.environ.get("LOYALTY_LOCAL_URL", DEFAULT_URL),
            help=f"the running stack (default {DEFAULT_URL}, or LOYALTY_LOCAL_URL)",
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
    stream.add_argument("file", help="JSON lines file ('-': stdout/stdin)")
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
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as error:
        print(f"loyalty-local: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
