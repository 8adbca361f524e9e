"""In-memory SQS queues and an EventBridge bus, behind a small endpoint that speaks the AWS
JSON protocol boto3 uses (SQS: `AmazonSQS.*`, JSON 1.0; EventBridge: `AWSEvents.*`, JSON 1.1).

The functions keep their real code: `boto3.client("sqs")` / `boto3.client("events")` reach
this endpoint through `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_EVENTBRIDGE`. Supported:
SendMessage, SendMessageBatch, GetQueueUrl, GetQueueAttributes, ListQueues, PurgeQueue and
PutEvents; anything else is refused with an error naming the operation (so a function that
starts using another call fails loudly, locally, instead of silently doing nothing).

The local stack (devtools.local.stack) drains the queues to their consumers; this module only
keeps messages and events."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.local.wiring import QueueSpec

MAX_EVENTS_KEPT = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Message:
    message_id: str
    body: str
    sent_at: int
    attributes: dict[str, Any] = field(default_factory=dict)  # MessageAttributes
    system: dict[str, str] = field(default_factory=dict)  # MessageGroupId, ...
    receive_count: int = 0
    first_received_at: int | None = None
    last_error: str | None = None
    dead_lettered_from: str | None = None  # the source queue, once in a dead-letter queue

    @property
    def md5(self) -> str:
        return hashlib.md5(self.body.encode("utf-8")).hexdigest()

    def summary(self) -> dict[str, Any]:
        body: Any = self.body
        with contextlib.suppress(ValueError):
            body = json.loads(self.body)
        return {
            "messageId": self.message_id,
            "body": body,
            "receiveCount": self.receive_count,
            "sentAt": _iso(self.sent_at),
            "lastError": self.last_error,
            "sourceQueue": self.dead_lettered_from,
        }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LocalQueue:
    """One queue: messages waiting, in order. Thread-safe."""

    def __init__(self, spec: QueueSpec) -> None:
        self.spec = spec
        self._messages: deque[Message] = deque()
        self._lock = threading.Lock()
        self.sent = 0

    def send(self, body: str, attributes: dict[str, Any] | None = None, **system: str) -> Message:
        message = Message(
            message_id=str(uuid.uuid4()),
            body=body,
            sent_at=now_ms(),
            attributes=dict(attributes or {}),
            system={k: v for k, v in system.items() if v},
        )
        self.put(message)
        self.sent += 1
        return message

    def put(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    def take(self, limit: int) -> list[Message]:
        with self._lock:
            batch = [self._messages.popleft() for _ in range(min(limit, len(self._messages)))]
        for message in batch:
            message.receive_count += 1
            if message.first_received_at is None:
                message.first_received_at = now_ms()
        return batch

    def take_all(self) -> list[Message]:
        with self._lock:
            batch = list(self._messages)
            self._messages.clear()
        return batch

    def peek(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)


@dataclass
class BusEvent:
    event_id: str
    bus: str
    source: str
    detail_type: str
    detail: Any
    time: str
    resources: list[str]

    def envelope(self, account: str, region: str) -> dict[str, Any]:
        """The event as an EventBridge target receives it."""
        return {
            "version": "0",
            "id": self.event_id,
            "detail-type": self.detail_type,
            "source": self.source,
            "account": account,
            "time": self.time,
            "region": region,
            "resources": self.resources,
            "detail": self.detail,
        }


class LocalAws:
    """The local queues (by logical id) and the outbound events, with the endpoint serving
    them. `on_event` is called for every event put on a bus (the stack routes it to the
    template's EventBridge rules)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.queues: dict[str, LocalQueue] = {}
        self.events: deque[BusEvent] = deque(maxlen=MAX_EVENTS_KEPT)
        self.events_total = 0
        self.on_event: Callable[[BusEvent], None] | None = None
        self._events_lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.local = self
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="loyalty-local-aws", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def add_queues(self, specs: Iterable[QueueSpec]) -> None:
        for spec in specs:
            self.queues.setdefault(spec.logical_id, LocalQueue(spec))

    def find_queue(self, reference: str) -> LocalQueue | None:
        """By logical id, name, URL or ARN (a URL's last path segment is the name)."""
        for queue in self.queues.values():
            spec = queue.spec
            if reference in (spec.logical_id, spec.name, spec.url, spec.arn):
                return queue
        name = reference.rstrip("/").rsplit("/", 1)[-1]
        for queue in self.queues.values():
            if queue.spec.name == name:
                return queue
        return None

    def put_event(self, entry: dict[str, Any]) -> BusEvent:
        detail_text = entry.get("Detail") or "{}"
        try:
            detail = json.loads(detail_text)
        except ValueError:
            detail = detail_text
        moment = entry.get("Time")
        if isinstance(moment, int | float):
            stamp = datetime.fromtimestamp(moment, UTC)
        else:
            stamp = datetime.now(UTC)
        event = BusEvent(
            event_id=str(uuid.uuid4()),
            bus=str(entry.get("EventBusName") or "default").rsplit("/", 1)[-1],
            source=str(entry.get("Source", "")),
            detail_type=str(entry.get("DetailType", "")),
            detail=detail,
            time=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            resources=list(entry.get("Resources") or []),
        )
        with self._events_lock:
            self.events.append(event)
            self.events_total += 1
        if self.on_event is not None:
            self.on_event(event)
        return event

    def recent_events(self) -> list[BusEvent]:
        with self._events_lock:
            return list(self.events)


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    local: LocalAws


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every call.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the stack logs what matters

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        target = self.headers.get("X-Amz-Target", "")
        service, _, operation = target.partition(".")
        json_version = "1.1" if service == "AWSEvents" else "1.0"
        try:
            request = json.loads(raw or b"{}")
            if service == "AmazonSQS":
                body = self._sqs(operation, request)
            elif service == "AWSEvents":
                body = self._events(operation, request)
            else:
                raise AwsError("UnknownOperationException", f"unknown target {target!r}")
            status = 200
        except AwsError as error:
            status, body = error.status, {"__type": error.code, "message": str(error)}
        except (ValueError, KeyError, TypeError) as error:
            status, body = 400, {"__type": "ValidationException", "message": str(error)}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", f"application/x-amz-json-{json_version}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    # ---- SQS ---------------------------------------------------------------------------------

    def _queue(self, request: dict[str, Any]) -> LocalQueue:
        url = str(request.get("QueueUrl", ""))
        queue = self.server.local.find_queue(url)
        if queue is None:
            raise AwsError(
                "com.amazonaws.sqs#QueueDoesNotExist",
                f"the local stack has no queue {url!r} (queues come from template.yaml)",
            )
        return queue

    def _sqs(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        local = self.server.local
        if operation == "SendMessage":
            queue = self._queue(request)
            message = queue.send(
                str(request["MessageBody"]),
                request.get("MessageAttributes"),
                MessageGroupId=request.get("MessageGroupId", ""),
                MessageDeduplicationId=request.get("MessageDeduplicationId", ""),
            )
            return {"MessageId": message.message_id, "MD5OfMessageBody": message.md5}
        if operation == "SendMessageBatch":
            queue = self._queue(request)
            successful = []
            for entry in request.get("Entries") or []:
                message = queue.send(
                    str(entry["MessageBody"]),
                    entry.get("MessageAttributes"),
                    MessageGroupId=entry.get("MessageGroupId", ""),
                    MessageDeduplicationId=entry.get("MessageDeduplicationId", ""),
                )
                successful.append(
                    {
                        "Id": entry["Id"],
                        "MessageId": message.message_id,
                        "MD5OfMessageBody": message.md5,
                    }
                )
            return {"Successful": successful, "Failed": []}
        if operation == "GetQueueUrl":
            found = local.find_queue(str(request.get("QueueName", "")))
            if found is None:
                raise AwsError("com.amazonaws.sqs#QueueDoesNotExist", "no such queue")
            return {"QueueUrl": found.spec.url}
        if operation == "GetQueueAttributes":
            queue = self._queue(request)
            return {
                "Attributes": {
                    "QueueArn": queue.spec.arn,
                    "ApproximateNumberOfMessages": str(len(queue)),
                    "ApproximateNumberOfMessagesNotVisible": "0",
                    "VisibilityTimeout": str(queue.spec.visibility_timeout),
                }
            }
        if operation == "ListQueues":
            prefix = str(request.get("QueueNamePrefix", ""))
            return {
                "QueueUrls": [
                    q.spec.url for q in local.queues.values() if q.spec.name.startswith(prefix)
                ]
            }
        if operation == "PurgeQueue":
            self._queue(request).take_all()
            return {}
        raise AwsError(
            "UnsupportedOperation", f"SQS {operation} is not available in the local stack"
        )

    # ---- EventBridge -------------------------------------------------------------------------

    def _events(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        if operation != "PutEvents":
            raise AwsError(
                "UnsupportedOperation", f"EventBridge {operation} is not available locally"
            )
        results = []
        for entry in request.get("Entries") or []:
            event = self.server.local.put_event(entry)
            results.append({"EventId": event.event_id})
        return {"FailedEntryCount": 0, "Entries": results}
