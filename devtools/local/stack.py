"""The whole service locally, wired from template.yaml: DynamoDB Local (or any endpoint), the
HTTP API on localhost with local development tokens, the SQS queues with their consumers
(partial batch failures, redrive to the dead-letter queue), the table's stream delivered to
its consumers (filter criteria honoured), EventBridge kept in memory, the schedules runnable
for any date, and a seeded demo shop.

    with LocalStack(seed=True) as stack:
        print(stack.portal_url)

Everything that invokes a function runs under one lock, then *settles*: the stream records
its writes made are delivered, the queues are drained to their consumers, until nothing is
left to do. So when an API call, an order or a job returns, its consequences (a referral
completed by a first order, the outbound events) are already there. See docs/local.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config

from devtools.dynamodb_local import DynamoDBLocal
from devtools.local.aws import BusEvent, LocalAws, LocalQueue, Message
from devtools.local.effects import JobEffects
from devtools.local.gateway import ApiRequest, ApiResponse, Gateway
from devtools.local.runtime import Invocation, Runtime
from devtools.local.streams import StreamReader, admitted, matches
from devtools.local.tokens import WARNING as TOKEN_WARNING
from devtools.local.tokens import DevTokens, is_loopback
from devtools.local.wiring import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    LocalNames,
    QueueConsumer,
    ScheduleSpec,
    StreamConsumer,
    Wiring,
)
from devtools.template import DEFAULT_TEMPLATE, create_table

REPO_ROOT = Path(__file__).resolve().parents[2]
AWS_ENDPOINT = "aws"  # endpoint_url="aws": the real DynamoDB of your AWS credentials and region
ORDERS_QUEUE = "OrdersQueue"
SERVICE_SCOPE = "loyalty/service"
ADMIN_SCOPE = "loyalty/admin"
# Locally, retries are immediate; these cap what AWS would retry for days.
LOCAL_QUEUE_RETRIES = 5  # a queue without a redrive policy: dropped (kept in "failed") after
LOCAL_STREAM_RETRIES = 10  # a stream consumer with MaximumRetryAttempts -1 (forever)
MAX_SETTLE_ROUNDS = 100_000


class LocalStackError(RuntimeError):
    """The local stack cannot start or cannot do what was asked."""


class NotFound(LocalStackError):
    """No such member, queue, schedule or function."""


def parse_now(
    value: str | datetime | date | None, schedule: ScheduleSpec | None = None
) -> datetime:
    """`2027-03-01` (the schedule's time of day on that date), an ISO instant, or now."""
    if value is None or value == "":
        return datetime.now(UTC).replace(microsecond=0)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        hour, minute = schedule.time_of_day if schedule else (0, 0)
        return datetime.combine(value, day_time(hour, minute), UTC)
    text = value.strip()
    if len(text) == 10:
        return parse_now(date.fromisoformat(text), schedule)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StackClock:
    """The stack's "now": the wall clock, or, pinned (`LocalStack(now=...)`, `up --now`,
    LOYALTY_LOCAL_NOW), that instant when the stack started, running on from there with the
    monotonic clock (never with the wall clock: a pinned stack is the same on any date). The
    functions' `loyalty.services.clock.utc_now` reads it, and the demo shop is seeded from it."""

    def __init__(self, start: str | datetime | date | None = None) -> None:
        self.start = None if start is None or start == "" else parse_now(start)
        self._began = time.monotonic()

    @property
    def pinned(self) -> bool:
        return self.start is not None

    def __call__(self) -> datetime:
        if self.start is None:
            return datetime.now(UTC)
        return self.start + timedelta(seconds=time.monotonic() - self._began)


class LocalStack:
    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        table_name: str = "loyalty-local",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: bool = True,
        quiet: bool = False,
        template_path: str | Path | None = None,
        members: int = 0,
        insecure_dev_tokens: bool = False,
        log_level: str | None = None,
        verbose: bool = False,
        region: str | None = None,
        web_root: str | Path | None = None,
        now: str | datetime | date | None = None,
    ) -> None:
        self.requested_endpoint = endpoint_url
        self.clock = StackClock(now)
        self.table_name = table_name
        self.host = host
        self.port = port
        self.seed = seed
        self.quiet = quiet
        self.verbose = verbose
        self.members = members
        self.insecure_dev_tokens = insecure_dev_tokens
        self.log_level = log_level
        self.template_path = Path(template_path or DEFAULT_TEMPLATE).resolve()
        self.region = (
            region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        )
        self.web_root = Path(web_root).resolve() if web_root else REPO_ROOT / "web"
        self.tokens = DevTokens(LOCAL_ISSUER, LOCAL_AUDIENCE)
        self.lock = threading.RLock()
        self.started_at: float | None = None
        self.ready_seconds: float | None = None
        self.seed_summary: dict[str, Any] | None = None
        self.timings: dict[str, float] = {}
        self.dynamodb_endpoint: str | None = None
        self.dynamodb_startup_seconds: float | None = None
        self.wiring: Wiring
        self.runtime: Runtime
        self.gateway: Gateway
        self.aws: LocalAws
        self._ddb: DynamoDBLocal | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._reader: StreamReader | None = None
        self._export: IO[str] | None = None
        self._effects: JobEffects | None = None  # what a job run changed, while one runs
        self._export_lock = threading.Lock()
        self._export_count = 0
        self._pending_events: list[BusEvent] = []
        self._outcomes: dict[str, dict[str, Any]] = {}
        self._failed: dict[str, list[Message]] = {}
        self._stream_failures = 0
        self._defer_stream = 0
        # The latest time each frequent schedule ran for (`jobs --now` may run it ahead).
        self._frequent_times: dict[str, datetime] = {}
        self._started = False
        self._log_lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------------------

    def now(self) -> datetime:
        """The stack's "now" (StackClock): what its functions read as the current time."""
        return self.clock()

    @property
    def is_aws(self) -> bool:
        return self.requested_endpoint == AWS_ENDPOINT

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise LocalStackError("the stack is not started")
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}"

    @property
    def portal_url(self) -> str:
        return self.base_url + "/portal/"

    @property
    def operator_url(self) -> str:
        return self.base_url + "/operator/"

    @property
    def dev_tokens_open(self) -> bool:
        return is_loopback(self.host) or self.insecure_dev_tokens

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        if self._started:
            return self
        if not is_loopback(self.host) and not self.insecure_dev_tokens:
            raise LocalStackError(
                f"refusing to serve local development tokens on {self.host!r}, which is not a "
                "loopback address: anyone who can reach it could mint an admin token. Bind "
                "127.0.0.1, or pass --insecure-dev-tokens if you really mean it."
            )
        self.started_at = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        self.ready_seconds = time.monotonic() - self.started_at
        return self

    def _start(self) -> None:
        from devtools.local.server import make_server

        mark = time.monotonic()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            self.timings[name] = round(now - mark, 2)
            mark = now

        # DynamoDB Local (a JVM) takes seconds to answer: launch it first, prepare everything
        # that needs only its address meanwhile, and wait for it just before the table.
        self._start_dynamodb()
        self.aws = LocalAws()
        self.aws.start()
        self.aws.on_event = self._on_bus_event
        self._server = make_server(self, self.host, self.port)
        base = self.base_url
        origin = f"{urlsplit(base).scheme}://{urlsplit(base).netloc}"
        parameters: dict[str, Any] = {
            "JwtIssuer": LOCAL_ISSUER,
            "JwtAudience": [LOCAL_AUDIENCE],
            "CorsAllowedOrigins": [origin],
        }
        if self.log_level:
            parameters["LogLevel"] = self.log_level.upper()
        self.wiring = Wiring(
            self.template_path,
            LocalNames(
                table_name=self.table_name,
                stack_name=self.table_name,
                region=self.region,
                queue_endpoint=self.aws.endpoint_url,
                parameters=parameters,
            ),
        )
        for warning in self.wiring.warnings:
            self.log(f"template: {warning}")
        self.aws.add_queues(self.wiring.queues.values())
        for queue, consumers in self._queue_consumers().items():
            if len(consumers) > 1:
                self.log(f"{queue} has {len(consumers)} consumers; locally the first takes all")
        for path in (self.wiring.root, *self._layer_dirs()):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        self.runtime = Runtime(
            self.wiring.functions,
            self._base_environment(),
            self.region,
            self._on_invoke,
            clock=self.clock if self.clock.pinned else None,
        )
        for function, error in self.runtime.preload().items():
            self.log(f"warning: {function} cannot be loaded ({error}); its invocations fail")
        lap("functions")
        if self._ddb is not None:
            self._ddb.wait_ready()
            self.dynamodb_startup_seconds = self._ddb.startup_seconds
        lap("dynamodb")
        self._ensure_table()
        lap("table")
        self._start_stream()
        self.gateway = Gateway(
            self.wiring.routes,
            self.wiring.apis,
            self.tokens,
            self._invoke_api,
            dev_tokens_allowed=self._peer_may_use_dev_tokens,
            local_origins=[origin],
        )
        for key in self.gateway.duplicates:
            self.log(f"template: route {key} is declared twice; the first one is served")
        for route in self.wiring.routes:
            if route.path.split("/")[1:2] in (["local"], ["portal"], ["operator"]):
                self.log(f"template: route {route.key} is shadowed by the local stack's own pages")
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="loyalty-local-http", daemon=True
        )
        self._server_thread.start()
        if self.seed or self.members:
            from devtools.local.seed import seed_demo, seed_members

            began = time.monotonic()
            summary: dict[str, Any] = {}
            if self.seed:
                summary |= seed_demo(self)
            if self.members:
                summary |= seed_members(self, self.members)
            summary["seconds"] = round(time.monotonic() - began, 2)
            self.seed_summary = summary
            lap("seed")

    def stop(self) -> None:
        if self._server is not None:
            if self._server_thread is not None:
                self._server.shutdown()
                self._server_thread.join(timeout=5)
                self._server_thread = None
            self._server.server_close()
            self._server = None
        aws = getattr(self, "aws", None)
        if aws is not None:
            aws.stop()
        if self._ddb is not None:
            self._ddb.stop()
            self._ddb = None
        if self._export is not None:
            self._export.close()
            self._export = None
        self._started = False

    def _start_dynamodb(self) -> None:
        if self.requested_endpoint and self.requested_endpoint != AWS_ENDPOINT:
            self.dynamodb_endpoint = self.requested_endpoint
            return
        if self.is_aws:
            self.dynamodb_endpoint = None
            return
        self._ddb = DynamoDBLocal(quick_start=True)
        self.dynamodb_endpoint = self._ddb.launch()  # answers later: see wait_ready()

    def _credentials(self) -> dict[str, str]:
        if self.is_aws:
            return {}
        # DynamoDB Local keeps one namespace per access key id (and region): use the caller's
        # key when set, so a table made by a test or another tool is the same table here.
        return {
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID") or "local",
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
        }

    def client(self, service: str) -> Any:
        """A boto3 client on the stack's DynamoDB (dynamodb, dynamodbstreams)."""
        credentials = self._credentials()
        arguments: dict[str, Any] = {
            "region_name": self.region,
            "config": Config(retries={"mode": "standard", "max_attempts": 5}),
        }
        if credentials:
            arguments |= {
                "endpoint_url": self.dynamodb_endpoint,
                "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
            }
        make: Any = boto3.client  # typed per service name; the name is a variable here
        return make(service, **arguments)

    def _base_environment(self) -> dict[str, str]:
        environment = self._credentials() | {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_ENDPOINT_URL_SQS": self.aws.endpoint_url,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.aws.endpoint_url,
            # The functions run in this process and share its stdout (the command line's
            # output): their metrics (EMF lines, loyalty/observability.py) stay out of it.
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
        if self.dynamodb_endpoint:
            environment["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint
            environment["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = self.dynamodb_endpoint
        return environment

    def _layer_dirs(self) -> list[Path]:
        dirs: list[Path] = []
        for spec in self.wiring.functions.values():
            dirs.extend(d for d in spec.layer_dirs if d not in dirs)
        return dirs

    def _ensure_table(self) -> None:
        client = self.client("dynamodb")
        try:
            client.describe_table(TableName=self.table_name)
            self.table_created = False
        except client.exceptions.ResourceNotFoundException:
            create_table(client, self.table_name, self.template_path)
            self.table_created = True

    def _start_stream(self) -> None:
        consumers = [c for c in self.wiring.stream_consumers if c.enabled]
        if not consumers:
            return
        self._export = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            "w+", prefix="loyalty-local-stream-", suffix=".jsonl", encoding="utf-8"
        )
        self._reader = StreamReader(
            self.table_name,
            dynamodb=self.client("dynamodb"),
            streams=self.client("dynamodbstreams"),
        )
        existing = self._reader.read()
        history = [c for c in consumers if c.starting_position == "TRIM_HORIZON"]
        if existing and history:
            # What the table held before: only for consumers that start at TRIM_HORIZON.
            with self.lock:
                self._record_export(existing)
                self._deliver_stream(existing, history)
                self.settle()

    # ---- logging -------------------------------------------------------------------------

    def log(self, message: str, *, error: bool = False) -> None:
        if self.quiet and not error:
            return
        with self._log_lock:
            print(f"[local] {message}", file=sys.stderr, flush=True)

    def _on_invoke(self, invocation: Invocation) -> None:
        if invocation.error is not None:
            self.log(
                f"{invocation.function} failed: {invocation.error}\n{invocation.error.trace}",
                error=True,
            )
        elif self.verbose:
            self.log(f"{invocation.function} ({invocation.duration_ms:.0f} ms)")

    # ---- tokens --------------------------------------------------------------------------

    def mint_token(
        self, sub: str, scopes: Iterable[str] = (), ttl_seconds: int | None = None
    ) -> str:
        """A local development token for `sub` (a member id, or a service/operator name with
        `loyalty/service` / `loyalty/admin`)."""
        if not self.dev_tokens_open:
            raise LocalStackError("local development tokens are refused on a non-loopback bind")
        token, _ = self.tokens.mint(sub, scopes, ttl_seconds=ttl_seconds)
        return token

    def token_document(
        self, sub: str, scopes: Iterable[str] = (), ttl_seconds: int | None = None
    ) -> dict[str, Any]:
        token, claims = self.tokens.mint(sub, scopes, ttl_seconds=ttl_seconds)
        return {"token": token, "claims": claims, "warning": TOKEN_WARNING}

    def _peer_may_use_dev_tokens(self, peer: str) -> bool:
        return self.insecure_dev_tokens or is_loopback(peer)

    # ---- invoking ------------------------------------------------------------------------

    def _invoke_api(self, function: str, event: dict[str, Any]) -> Invocation:
        with self.lock:
            invocation = self.runtime.invoke(function, event)
            self.settle()
            return invocation

    def call_api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        sub: str = "loyalty-local",
        scopes: Iterable[str] = (SERVICE_SCOPE,),
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request through the API (routing, authorizer, function), in-process."""
        bearer = token or self.tokens.mint(sub, scopes)[0]
        request_headers = [
            ("Host", urlsplit(self.base_url).netloc),
            ("Authorization", f"Bearer {bearer}"),
            ("User-Agent", "loyalty-local"),
        ]
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            request_headers.append(("Content-Type", "application/json"))
        request_headers.extend((headers or {}).items())
        response = self.gateway.handle(ApiRequest(method.upper(), path, request_headers, data))
        return response.status, _json_or_text(response)

    # ---- settling: stream, queues, bus ---------------------------------------------------

    @contextlib.contextmanager
    def stream_deferred(self) -> Iterator[None]:
        """Within: settling drains the queues but leaves the stream for the end, where its
        records are delivered in full batches (seeding makes many small calls)."""
        with self.lock:
            self._defer_stream += 1
            try:
                yield
            finally:
                self._defer_stream -= 1
            self.settle()

    def settle(self) -> None:
        """Deliver everything pending (stream records, queued messages, bus events) until
        nothing is left."""
        with self.lock:
            delivered = False
            for _ in range(MAX_SETTLE_ROUNDS):
                progressed = False
                if self._reader is not None and not self._defer_stream:
                    records = self._reader.read()
                    if records:
                        self._record_export(records)
                        if self._effects is not None:
                            self._effects.add(records)
                        self._deliver_stream(records)
                        progressed = delivered = True
                for queue_id, consumers in self._queue_consumers().items():
                    queue = self.aws.queues[queue_id]
                    if len(queue):
                        self._drain(consumers[0], queue)
                        progressed = True
                if self._pending_events:
                    events, self._pending_events = self._pending_events, []
                    self._route_events(events)
                    progressed = True
                if not progressed and delivered and self._effects is None:
                    # Once per settle (their own writes must not wake them again).
                    delivered = False
                    self._run_frequent_schedules()
                    continue
                if not progressed:
                    return
            self.log("settle: gave up after too many rounds (a consumer loops?)", error=True)

    def _run_frequent_schedules(self) -> None:
        """The schedules of every few minutes (ScheduleSpec.frequent), at the stack's now or
        the latest time they ran for, whichever is later."""
        for schedule in self.wiring.schedules:
            if schedule.enabled and schedule.frequent:
                moment = max(
                    self.now().replace(microsecond=0),
                    self._frequent_times.get(schedule.key, datetime.min.replace(tzinfo=UTC)),
                )
                self.runtime.invoke(schedule.function, self.scheduled_event(schedule, moment))

    def _queue_consumers(self) -> dict[str, list[QueueConsumer]]:
        consumers: dict[str, list[QueueConsumer]] = {}
        for consumer in self.wiring.queue_consumers:
            if consumer.enabled and consumer.function in self.wiring.functions:
                consumers.setdefault(consumer.queue, []).append(consumer)
        return consumers

    def _sqs_record(self, queue: LocalQueue, message: Message) -> dict[str, Any]:
        attributes = {
            "ApproximateReceiveCount": str(message.receive_count),
            "SentTimestamp": str(message.sent_at),
            "SenderId": self.wiring.names.account,
            "ApproximateFirstReceiveTimestamp": str(message.first_received_at or message.sent_at),
        } | message.system
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.attributes.items()
        }
        return {
            "messageId": message.message_id,
            "receiptHandle": hashlib.sha256(
                f"{message.message_id}:{message.receive_count}".encode()
            ).hexdigest(),
            "body": message.body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": queue.spec.arn,
            "awsRegion": self.region,
        }

    def _drain(self, consumer: QueueConsumer, queue: LocalQueue) -> None:
        while len(queue):
            batch = queue.take(consumer.batch_size)
            event = {"Records": [self._sqs_record(queue, message) for message in batch]}
            invocation = self.runtime.invoke(consumer.function, event)
            failed = self._failed_messages(consumer, invocation, batch)
            for message in batch:
                outcome = self._outcomes.setdefault(
                    message.message_id, {"queue": queue.spec.logical_id, "firstAttemptFailed": None}
                )
                if outcome["firstAttemptFailed"] is None:
                    outcome["firstAttemptFailed"] = message.message_id in failed
                outcome["attempts"] = message.receive_count
                if message.message_id not in failed:
                    outcome |= {"status": "processed", "error": None}
                    continue
                message.last_error = self._failure_reason(invocation, message)
                outcome["error"] = message.last_error
                self._retry_or_dead_letter(queue, message, outcome)

    @staticmethod
    def _failed_messages(
        consumer: QueueConsumer, invocation: Invocation, batch: list[Message]
    ) -> set[str]:
        everyone = {message.message_id for message in batch}
        if invocation.error is not None:
            return everyone
        result = invocation.result
        if not consumer.report_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        identifiers = {
            str(item.get("itemIdentifier") or "") if isinstance(item, dict) else ""
            for item in failures
        }
        if identifiers - everyone:  # an empty or unknown identifier fails the whole batch
            return everyone
        return identifiers

    @staticmethod
    def _failure_reason(invocation: Invocation, message: Message) -> str:
        if invocation.error is not None:
            return str(invocation.error)
        for record in invocation.warnings:
            if record.get("message_id") == message.message_id:
                reason = record.get("reason")
                return f"{record['message']}: {reason}" if reason else str(record["message"])
        return "reported in batchItemFailures"

    def _retry_or_dead_letter(
        self, queue: LocalQueue, message: Message, outcome: dict[str, Any]
    ) -> None:
        spec = queue.spec
        if spec.dead_letter and spec.max_receive_count:
            if message.receive_count >= spec.max_receive_count:
                message.dead_lettered_from = spec.logical_id
                self.aws.queues[spec.dead_letter].put(message)
                outcome |= {"status": "dead-lettered", "deadLetterQueue": spec.dead_letter}
                self.log(
                    f"{spec.logical_id}: message {message.message_id} moved to {spec.dead_letter}"
                    f" after {message.receive_count} receives ({message.last_error})"
                )
                return
        elif message.receive_count >= LOCAL_QUEUE_RETRIES:
            self._failed.setdefault(spec.logical_id, []).append(message)
            outcome["status"] = "failed"
            self.log(f"{spec.logical_id}: message {message.message_id} dropped after retries")
            return
        outcome["status"] = "retrying"
        queue.put(message)

    # ---- the stream ----------------------------------------------------------------------

    def _record_export(self, records: list[dict[str, Any]]) -> None:
        if self._export is None:
            return
        with self._export_lock:
            for record in records:
                self._export.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
            self._export.flush()
            self._export_count += len(records)

    def _stream_consumers(self, function: str | None = None) -> list[StreamConsumer]:
        consumers = [
            c
            for c in self.wiring.stream_consumers
            if c.enabled and c.function in self.wiring.functions
        ]
        if function is not None:
            consumers = [
                c for c in consumers if function in (c.function, f"{c.function}.{c.event}")
            ]
            if not consumers:
                raise NotFound(f"no stream consumer {function!r}")
        return consumers

    def _deliver_stream(
        self, records: list[dict[str, Any]], consumers: list[StreamConsumer] | None = None
    ) -> None:
        for consumer in consumers if consumers is not None else self._stream_consumers():
            selected = [record for record in records if admitted(consumer.patterns, record)]
            for start in range(0, len(selected), consumer.batch_size):
                self._stream_batch(consumer, selected[start : start + consumer.batch_size])

    def _stream_batch(self, consumer: StreamConsumer, batch: list[dict[str, Any]]) -> None:
        remaining = batch
        limit = consumer.max_retries if consumer.max_retries >= 0 else LOCAL_STREAM_RETRIES
        retries = 0
        while remaining:
            invocation = self.runtime.invoke(consumer.function, {"Records": remaining})
            failed_at = self._stream_failed_at(consumer, invocation, remaining)
            if failed_at is None:
                return
            remaining = remaining[failed_at:]
            retries += 1
            if retries > min(limit, LOCAL_STREAM_RETRIES):
                self._stream_gave_up(consumer, remaining, invocation, retries)
                return

    @staticmethod
    def _stream_failed_at(
        consumer: StreamConsumer, invocation: Invocation, records: list[dict[str, Any]]
    ) -> int | None:
        if invocation.error is not None:
            return 0
        result = invocation.result
        if not consumer.report_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures") or []
        if not failures:
            return None
        sequence = [record["dynamodb"].get("SequenceNumber") for record in records]
        positions = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if identifier not in sequence:
                return 0
            positions.append(sequence.index(identifier))
        return min(positions)

    def _stream_gave_up(
        self,
        consumer: StreamConsumer,
        records: list[dict[str, Any]],
        invocation: Invocation,
        attempts: int,
    ) -> None:
        self._stream_failures += 1
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        self.log(
            f"{consumer.function}: gave up on {len(records)} stream record(s) after {attempts} "
            f"attempts ({invocation.error or 'batchItemFailures'})",
            error=True,
        )
        if consumer.on_failure_queue is None:
            return
        spec = self.wiring.functions[consumer.function]
        document = {
            "requestContext": {
                "requestId": invocation.function,
                "functionArn": spec.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if invocation.error else "",
            },
            "version": "1.0",
            "timestamp": iso(datetime.now(UTC)),
            "DDBStreamBatchInfo": {
                "shardId": "local",
                "startSequenceNumber": first.get("SequenceNumber"),
                "endSequenceNumber": last.get("SequenceNumber"),
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(records),
                "streamArn": records[0].get("eventSourceARN"),
            },
        }
        self.aws.queues[consumer.on_failure_queue].send(json.dumps(document))

    def export_stream(self) -> Iterator[str]:
        """The stream records read so far, one JSON document per line."""
        if self._export is None:
            return
        with self._export_lock:
            self._export.flush()
            with open(self._export.name, encoding="utf-8") as handle:
                lines = handle.readlines()
        yield from lines

    def replay_stream(
        self, records: list[dict[str, Any]], function: str | None = None
    ) -> dict[str, Any]:
        """Deliver `records` (exported earlier) again to the stream consumers (or one), with
        their filter criteria; then settle."""
        for record in records:
            if not isinstance(record, dict) or "dynamodb" not in record:
                raise ValueError("every record must be a stream record with a 'dynamodb' key")
        with self.lock:
            consumers = self._stream_consumers(function)
            before = self._invocations()
            self._deliver_stream(records, consumers)
            self.settle()
            return {
                "records": len(records),
                "delivered": {
                    c.function: sum(1 for r in records if admitted(c.patterns, r))
                    for c in consumers
                },
                "invocations": self._delta(before),
            }

    # ---- the bus -------------------------------------------------------------------------

    def _on_bus_event(self, event: BusEvent) -> None:
        # Called from the local AWS endpoint's thread while a function holds the lock:
        # delivered at the next settle, never here.
        if self.wiring.rules:
            self._pending_events.append(event)

    def _route_events(self, events: list[BusEvent]) -> None:
        for event in events:
            envelope = event.envelope(self.wiring.names.account, self.region)
            for rule in self.wiring.rules:
                bus_names = {rule.bus, rule.bus.rsplit("/", 1)[-1]}
                if event.bus not in bus_names or not matches(rule.pattern, envelope):
                    continue
                for function in rule.functions:
                    self.runtime.invoke(function, envelope)
                for queue in rule.queues:
                    self.aws.queues[queue].send(json.dumps(envelope))

    def outbound_events(
        self, limit: int = 100, detail_type: str | None = None
    ) -> list[dict[str, Any]]:
        events = [
            {
                "id": event.event_id,
                "bus": event.bus,
                "source": event.source,
                "detail-type": event.detail_type,
                "time": event.time,
                "detail": event.detail,
            }
            for event in self.aws.recent_events()
            if detail_type is None or event.detail_type == detail_type
        ]
        return events[-limit:][::-1]

    # ---- queues --------------------------------------------------------------------------

    def send(self, queue: str, bodies: Iterable[Any]) -> dict[str, Any]:
        """Send messages to a template queue (objects are JSON-encoded, strings sent as they
        are) and let its consumer take them, as SQS would."""
        try:
            spec = self.wiring.queue(queue)
        except KeyError as error:
            raise NotFound(str(error)) from None
        local = self.aws.queues[spec.logical_id]
        texts = [body if isinstance(body, str) else json.dumps(body) for body in bodies]
        with self.lock:
            sent = [local.send(text) for text in texts]
            self.settle()
            results = []
            for message in sent:
                outcome = self._outcomes.get(message.message_id, {})
                results.append(
                    {
                        "messageId": message.message_id,
                        "status": outcome.get("status", "queued"),
                        "attempts": outcome.get("attempts", 0),
                        "error": outcome.get("error"),
                        "summary": _summary(message.body),
                        **(
                            {"deadLetterQueue": outcome["deadLetterQueue"]}
                            if "deadLetterQueue" in outcome
                            else {}
                        ),
                    }
                )
            return {
                "queue": spec.logical_id,
                "consumer": next(
                    (c.function for c in self.wiring.consumers_of(spec.logical_id)), None
                ),
                "results": results,
                "batchItemFailures": [
                    {"itemIdentifier": m.message_id}
                    for m in sent
                    if self._outcomes.get(m.message_id, {}).get("firstAttemptFailed")
                ],
            }

    def send_orders(self, bodies: Iterable[Any]) -> dict[str, Any]:
        return self.send(ORDERS_QUEUE, bodies)

    def queues(self) -> list[dict[str, Any]]:
        consumers = self._queue_consumers()
        rows = []
        for logical_id, queue in self.aws.queues.items():
            spec = queue.spec
            rows.append(
                {
                    "queue": logical_id,
                    "name": spec.name,
                    "url": spec.url,
                    "messages": len(queue),
                    "consumer": consumers[logical_id][0].function
                    if logical_id in consumers
                    else None,
                    "deadLetterQueue": spec.dead_letter,
                    "maxReceiveCount": spec.max_receive_count,
                    "isDeadLetterQueue": bool(self.wiring.sources_of(logical_id)),
                    "failed": len(self._failed.get(logical_id, [])),
                }
            )
        return rows

    def queue_messages(self, queue: str) -> dict[str, Any]:
        try:
            spec = self.wiring.queue(queue)
        except KeyError as error:
            raise NotFound(str(error)) from None
        local = self.aws.queues[spec.logical_id]
        return {
            "queue": spec.logical_id,
            "messages": [m.summary() for m in local.peek()],
            "failed": [m.summary() for m in self._failed.get(spec.logical_id, [])],
        }

    def dead_letters(self) -> dict[str, Any]:
        """Every dead-letter queue (a queue some RedrivePolicy targets) with its messages."""
        queues = []
        for logical_id, queue in self.aws.queues.items():
            sources = self.wiring.sources_of(logical_id)
            if sources:
                queues.append(
                    {
                        "queue": logical_id,
                        "sources": sources,
                        "messages": [m.summary() for m in queue.peek()],
                    }
                )
        return {"queues": queues, "total": sum(len(q["messages"]) for q in queues)}

    def redrive(self, queue: str | None = None) -> dict[str, Any]:
        """Move dead-lettered messages back to their source queues (all DLQs, or one) and let
        the consumers try again."""
        with self.lock:
            moved: list[Message] = []
            for logical_id, local in self.aws.queues.items():
                sources = self.wiring.sources_of(logical_id)
                if not sources or (
                    queue is not None and queue not in (logical_id, local.spec.name)
                ):
                    continue
                for message in local.take_all():
                    source = message.dead_lettered_from or sources[0]
                    message.receive_count = 0
                    message.last_error = None
                    message.dead_lettered_from = None
                    self._outcomes.pop(message.message_id, None)
                    self.aws.queues[source].put(message)
                    moved.append(message)
            self.settle()
            results = [
                {
                    "messageId": m.message_id,
                    "status": self._outcomes.get(m.message_id, {}).get("status", "queued"),
                    "error": self._outcomes.get(m.message_id, {}).get("error"),
                    "summary": _summary(m.body),
                }
                for m in moved
            ]
            return {"redriven": len(moved), "results": results}

    # ---- schedules -----------------------------------------------------------------------

    def scheduled_event(self, schedule: ScheduleSpec, moment: datetime) -> Any:
        if schedule.input is not None:
            text = (
                schedule.input.replace("<aws.scheduler.scheduled-time>", iso(moment))
                .replace("<aws.scheduler.schedule-arn>", schedule.arn)
                .replace("<aws.scheduler.execution-id>", f"local-{int(moment.timestamp())}")
                .replace("<aws.scheduler.attempt-number>", "1")
            )
            try:
                return json.loads(text)
            except ValueError:
                return text
        return {
            "version": "0",
            "id": hashlib.sha256(f"{schedule.key}:{iso(moment)}".encode()).hexdigest()[:32],
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler" if ":scheduler:" in schedule.arn else "aws.events",
            "account": self.wiring.names.account,
            "time": iso(moment),
            "region": self.region,
            "resources": [schedule.arn],
            "detail": {},
        }

    def schedules(self) -> list[dict[str, Any]]:
        return [
            {
                "name": s.short_name,
                "key": s.key,
                "function": s.function,
                "expression": s.expression,
                "timezone": s.timezone,
                "enabled": s.enabled,
            }
            for s in self.wiring.schedules
        ]

    def run_schedule(self, name: str, now: str | datetime | date | None = None) -> dict[str, Any]:
        try:
            schedule = self.wiring.schedule(name)
        except KeyError as error:
            raise NotFound(str(error).strip('"')) from None
        moment = parse_now(now if now else self.now().replace(microsecond=0), schedule)
        if schedule.frequent:
            self._frequent_times[schedule.key] = max(
                moment, self._frequent_times.get(schedule.key, moment)
            )
        with self.lock:
            self.settle()  # what came before is not this run's doing
            before = self._invocations()
            self._effects = effects = JobEffects()
            try:
                invocation = self.runtime.invoke(
                    schedule.function, self.scheduled_event(schedule, moment)
                )
                self.settle()
            finally:
                self._effects = None
            return {
                "schedule": schedule.short_name,
                "key": schedule.key,
                "function": schedule.function,
                "time": iso(moment),
                "result": invocation.result if invocation.error is None else None,
                "error": str(invocation.error) if invocation.error else None,
                "invocations": self._delta(before),
                "effects": effects.summary(),
            }

    def run_jobs(
        self, job: str | Iterable[str] = "all", now: str | datetime | date | None = None
    ) -> list[dict[str, Any]]:
        """`all` runs every enabled schedule in time-of-day order for that date."""
        if isinstance(job, str):
            names = (
                [s.short_name for s in self.wiring.schedules if s.enabled]
                if job == "all"
                else [job]
            )
        else:
            names = list(job)
        for name in names:  # refuse before running any
            try:
                self.wiring.schedule(name)
            except KeyError as error:
                raise NotFound(str(error).strip('"')) from None
        return [self.run_schedule(name, now) for name in names]

    def _invocations(self) -> dict[str, int]:
        return {name: stats.invocations for name, stats in self.runtime.stats.items()}

    def _delta(self, before: dict[str, int]) -> dict[str, int]:
        after = self._invocations()
        return {
            name: after[name] - before.get(name, 0)
            for name in after
            if after[name] != before.get(name, 0)
        }

    # ---- members -------------------------------------------------------------------------

    def member(self, member_id: str) -> dict[str, Any]:
        """The member view, every activity entry (newest first) and the referrals, read
        through the API with a service token."""
        token = self.tokens.mint("loyalty-local", [SERVICE_SCOPE])[0]
        path = f"/members/{quote(member_id, safe='')}"
        status, view = self.call_api("GET", path, token=token)
        if status == 404:
            raise NotFound((view or {}).get("message", f"no member {member_id!r}"))
        if status != 200:
            raise LocalStackError(f"GET {path} answered {status}: {view}")
        activity: list[dict[str, Any]] = []
        query = "limit=100"
        for _ in range(10_000):
            status, page = self.call_api("GET", f"{path}/activity?{query}", token=token)
            if status != 200:
                break
            activity.extend(page.get("items") or [])
            cursor = page.get("nextCursor")
            if not cursor:
                break
            query = f"limit=100&cursor={quote(cursor, safe='')}"
        status, referrals = self.call_api("GET", f"{path}/referrals", token=token)
        return {
            "member": view,
            "activity": activity,
            "referrals": referrals if status == 200 else None,
        }

    # ---- status --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "baseUrl": self.base_url,
            "portalUrl": self.portal_url,
            "operatorUrl": self.operator_url,
            "table": self.table_name,
            "dynamodbEndpoint": self.dynamodb_endpoint or "aws",
            "region": self.region,
            "template": str(self.template_path),
            "now": iso(self.now()),
            "clockPinned": self.clock.pinned,
            "readySeconds": round(self.ready_seconds, 2) if self.ready_seconds else None,
            "timings": self.timings,
            "seed": self.seed_summary,
            "routes": [
                {"route": r.key, "function": r.function, "auth": r.authorizer is not None}
                for r in self.wiring.routes
            ],
            "queues": self.queues(),
            "streamConsumers": [
                {
                    "function": c.function,
                    "batchSize": c.batch_size,
                    "filters": list(c.patterns),
                    "onFailure": c.on_failure_queue,
                }
                for c in self.wiring.stream_consumers
            ],
            "schedules": self.schedules(),
            "functions": {name: stats.as_dict() for name, stats in self.runtime.stats.items()},
            "streamRecords": self._export_count,
            "streamFailures": self._stream_failures,
            "outboundEvents": self.aws.events_total,
            "warnings": self.wiring.warnings,
        }


def _json_or_text(response: ApiResponse) -> Any:
    if not response.body:
        return None
    try:
        return json.loads(response.body)
    except ValueError:
        return response.body.decode("utf-8", errors="replace")


def _summary(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return "(not JSON)"
    if isinstance(document, dict) and isinstance(document.get("detail"), dict):
        document = document["detail"]
    if not isinstance(document, dict):
        return "(not an object)"
    fields = ("type", "orderId", "refundId", "memberId", "amount", "job", "shard", "now")
    return " ".join(f"{name}={document[name]}" for name in fields if name in document)
