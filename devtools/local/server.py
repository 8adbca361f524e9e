"""The local stack's HTTP server (stdlib, one thread per connection): the API at `/` as API
Gateway serves it, the static portal and operator console, and the `/local/` control
endpoints the `loyalty-local` command uses (docs/local.md)."""

from __future__ import annotations

import html
import json
import mimetypes
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.local.gateway import ApiRequest, ApiResponse
from devtools.local.tokens import is_loopback_name

if TYPE_CHECKING:
    from devtools.local.stack import LocalStack

MAX_LOCAL_BODY_BYTES = 200 * 1024 * 1024
STATIC_SITES = ("portal", "operator")
DOCS = {"/docs/openapi.json": "docs/openapi.json"}


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stack: LocalStack


def make_server(stack: LocalStack, host: str, port: int) -> LocalServer:
    server = LocalServer((host, port), Handler)
    server.stack = stack
    return server


class BadRequest(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every call.
    disable_nagle_algorithm = True
    server_version = "loyalty-local"
    _raw = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are logged by _finish

    # ---- plumbing ------------------------------------------------------------------------

    @property
    def stack(self) -> LocalStack:
        return self.server.stack

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _read_body(self) -> None:
        """Read the whole body first, whatever the route: an unread body would be taken for
        the next request on a kept-alive connection."""
        self._raw = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise BadRequest("chunked bodies are not supported; send a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise BadRequest("invalid Content-Length") from None
        if length > MAX_LOCAL_BODY_BYTES:
            self.close_connection = True
            raise BadRequest(f"the body is larger than {MAX_LOCAL_BODY_BYTES} bytes")
        self._raw = self.rfile.read(length) if length > 0 else b""

    def _body(self) -> bytes:
        return self._raw

    def _request(self, body: bytes) -> ApiRequest:
        return ApiRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        names = set()
        for name, value in response.headers:
            names.add(name.lower())
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _dispatch(self) -> None:
        began = time.perf_counter()
        path = urlsplit(self.path).path
        try:
            self._read_body()
            response = self._guard() or self._route(path)
        except BadRequest as error:
            response = ApiResponse.json(400, {"message": str(error)})
        except Exception as error:  # the stack keeps serving whatever happens
            self.stack.log(
                f"{self.command} {self.path}: {type(error).__name__}: {error}", error=True
            )
            response = ApiResponse.json(500, {"message": f"local stack error: {error}"})
        if path.startswith(("/local/", "/portal/", "/operator/")) or path == "/":
            origin = self.headers.get("Origin")
            response.headers.extend(self.stack.gateway.cors_headers(origin))
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            return
        self._log(path, response, (time.perf_counter() - began) * 1000)

    def _log(self, path: str, response: ApiResponse, ms: float) -> None:
        is_static = path.startswith(("/portal", "/operator", "/docs")) or path == "/"
        if (is_static or self.command == "OPTIONS") and not self.stack.verbose:
            return
        target = f" → {response.function}" if response.function else ""
        detail = f" ({response.error})" if response.error else ""
        self.stack.log(f"{self.command} {self.path} {response.status}{target} {ms:.0f} ms{detail}")

    # ---- routing -------------------------------------------------------------------------

    def _guard(self) -> ApiResponse | None:
        """On a loopback bind, only requests addressed to a loopback name: a page elsewhere
        that rebinds its DNS name to 127.0.0.1 must not reach the local tokens."""
        if self.stack.insecure_dev_tokens:
            return None
        host = urlsplit(f"//{self.headers.get('Host') or '127.0.0.1'}").hostname or ""
        if is_loopback_name(host):
            return None
        return ApiResponse.json(
            403, {"message": f"the local stack answers loopback names only, not {host!r}"}
        )

    def _route(self, path: str) -> ApiResponse:
        if (
            self.command == "OPTIONS"
            and self.headers.get("Origin")
            and self.headers.get("Access-Control-Request-Method")
        ):
            return self.stack.gateway.preflight(self._request(b""))
        if path == "/local" or path.startswith("/local/"):
            return self._local(path)
        if path == "/" and self.command in ("GET", "HEAD"):
            return self._index()
        for site in STATIC_SITES:
            if path == f"/{site}" and self.command in ("GET", "HEAD"):
                return ApiResponse(301, [("Location", f"/{site}/")])
            if path.startswith(f"/{site}/") and self.command in ("GET", "HEAD"):
                return self._static(site, path[len(site) + 2 :])
        if path in DOCS and self.command in ("GET", "HEAD"):
            return self._file(self.stack.wiring.root / DOCS[path])
        return self.stack.gateway.handle(self._request(self._body()))

    # ---- pages ---------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        host = self.headers.get("Host")
        base = f"http://{host}" if host else self.stack.base_url
        return {"apiBaseUrl": base, "local": True, "tokenUrl": base + "/local/token"}

    def _index(self) -> ApiResponse:
        rows = "".join(
            f"<tr><td><code>{html.escape(route.key)}</code></td><td>{html.escape(route.function)}</td></tr>"
            for route in self.stack.wiring.routes
        )
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Loyalty service (local)</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
td{{padding:.15rem .8rem .15rem 0}}code{{font-size:.9em}}</style></head>
<body><h1>Loyalty service, running locally</h1>
<ul>
<li><a href="/portal/">Member portal</a></li>
<li><a href="/operator/">Operator console</a></li>
<li><a href="/docs/openapi.json">OpenAPI document</a></li>
<li><a href="/local/status">Local stack status</a> (routes, queues, consumers, schedules)</li>
</ul>
<p>API tokens here are <strong>local development tokens</strong> (<code>POST /local/token</code>,
or <code>loyalty-local token alice</code>): accepted by this process only, never by the deployed
API.</p>
<h2>Routes (from template.yaml)</h2><table>{rows}</table></body></html>"""
        return ApiResponse(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())

    def _static(self, site: str, relative: str) -> ApiResponse:
        if relative == "config.json":
            return ApiResponse.json(200, self._config())
        root = (self.stack.web_root / site).resolve()
        target = (root / unquote(relative)).resolve()
        if not target.is_relative_to(root):
            return ApiResponse.json(404, {"message": "Not Found"})
        if target.is_dir():
            target = target / "index.html"
        return self._file(target)

    @staticmethod
    def _file(path: Path) -> ApiResponse:
        if not path.is_file():
            return ApiResponse.json(404, {"message": "Not Found"})
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix in (".js", ".mjs"):
            kind = "text/javascript"
        if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
            kind += "; charset=utf-8"
        return ApiResponse(
            200, [("Content-Type", kind), ("Cache-Control", "no-store")], path.read_bytes()
        )

    # ---- /local/ ---------------------------------------------------------------------------

    def _json_body(self) -> Any:
        raw = self._body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            raise BadRequest(f"the body is not JSON: {error}") from None

    def _local(self, path: str) -> ApiResponse:
        from devtools.local.stack import LocalStackError, NotFound

        stack = self.stack
        query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
        method = self.command if self.command != "HEAD" else "GET"
        if path == "/local/config.json" and method == "GET":
            return ApiResponse.json(200, self._config())
        if not stack._peer_may_use_dev_tokens(self.client_address[0]):
            return ApiResponse.json(
                403, {"message": "the local endpoints answer loopback clients only"}
            )
        try:
            return self._local_route(stack, method, path, query)
        except NotFound as error:
            return ApiResponse.json(404, {"message": str(error)})
        except (ValueError, KeyError, TypeError) as error:
            return ApiResponse.json(400, {"message": str(error)})
        except LocalStackError as error:
            return ApiResponse.json(409, {"message": str(error)})

    def _local_route(
        self, stack: LocalStack, method: str, path: str, query: dict[str, str]
    ) -> ApiResponse:
        if path in ("/local", "/local/") and method == "GET":
            return ApiResponse.json(200, {"endpoints": LOCAL_ENDPOINTS})
        if path == "/local/token" and method == "POST":
            return self._token(stack)
        if path == "/local/status" and method == "GET":
            return ApiResponse.json(200, stack.status())
        if path == "/local/orders" and method == "POST":
            return ApiResponse.json(200, stack.send_orders(_messages(self._json_body())))
        if path == "/local/queues" and method == "GET":
            return ApiResponse.json(200, {"queues": stack.queues()})
        match = re.fullmatch(r"/local/queues/([^/]+)(/messages)?", path)
        if match:
            name = unquote(match.group(1))
            if match.group(2) and method == "POST":
                return ApiResponse.json(200, stack.send(name, _messages(self._json_body())))
            if not match.group(2) and method == "GET":
                return ApiResponse.json(200, stack.queue_messages(name))
        if path == "/local/dlq" and method == "GET":
            return ApiResponse.json(200, stack.dead_letters())
        if path == "/local/dlq/redrive" and method == "POST":
            body = self._json_body() or {}
            return ApiResponse.json(200, stack.redrive(body.get("queue")))
        if path == "/local/schedules" and method == "GET":
            return ApiResponse.json(200, {"schedules": stack.schedules()})
        if path == "/local/jobs" and method == "POST":
            body = self._json_body() or {}
            if not isinstance(body, dict):
                raise ValueError('send {"now": "2027-03-01", "job": "all"}')
            runs = stack.run_jobs(body.get("job") or "all", body.get("now"))
            return ApiResponse.json(200, {"runs": runs})
        match = re.fullmatch(r"/local/members/([^/]+)", path)
        if match and method == "GET":
            return ApiResponse.json(200, stack.member(unquote(match.group(1))))
        if path == "/local/stream/export" and method == "GET":
            data = "".join(stack.export_stream()).encode()
            return ApiResponse(200, [("Content-Type", "application/x-ndjson")], data)
        if path == "/local/stream/replay" and method == "POST":
            records = _json_lines(self._body())
            return ApiResponse.json(200, stack.replay_stream(records, query.get("function")))
        if path == "/local/events" and method == "GET":
            limit = int(query.get("limit", "100"))
            events = stack.outbound_events(limit, query.get("type"))
            return ApiResponse.json(200, {"events": events, "total": stack.aws.events_total})
        return ApiResponse.json(404, {"message": "Not Found"})

    def _token(self, stack: LocalStack) -> ApiResponse:
        if not stack.dev_tokens_open:
            return ApiResponse.json(403, {"message": "local development tokens are disabled here"})
        body = self._json_body()
        if not isinstance(body, dict):
            raise ValueError('send {"sub": "alice", "scopes": []}')
        sub = body.get("sub")
        scopes = body.get("scopes") or []
        if not isinstance(sub, str) or not isinstance(scopes, list):
            raise ValueError("sub must be a string and scopes a list of strings")
        ttl = body.get("ttlSeconds")
        document = stack.token_document(sub, [str(s) for s in scopes], ttl_seconds=ttl)
        return ApiResponse.json(200, document)


def _messages(body: Any) -> list[Any]:
    """A message, a list of them, or an SQS event (`{"Records": [{"body": ...}]}`)."""
    if body is None:
        raise ValueError("send a message (a JSON object), a list of them, or an SQS event")
    if isinstance(body, dict) and isinstance(body.get("Records"), list):
        return [record.get("body", "") for record in body["Records"]]
    return body if isinstance(body, list) else [body]


def _json_lines(raw: bytes) -> list[dict[str, Any]]:
    text = raw.decode("utf-8").strip()
    if not text:
        return []
    records: list[dict[str, Any]]
    if text.startswith("["):
        records = json.loads(text)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not all(isinstance(record, dict) for record in records):
        raise ValueError("each line must be a stream record (a JSON object)")
    return records


LOCAL_ENDPOINTS = {
    "GET /local/config.json": "the static pages' configuration (API base URL, token URL)",
    "POST /local/token": 'a local development token: {"sub": "alice", "scopes": []}',
    "GET /local/status": "what is wired: routes, queues, consumers, schedules, invocations",
    "POST /local/orders": "order/refund messages (object, list, or SQS event) to the orders queue",
    "POST /local/queues/{queue}/messages": "messages to any template queue",
    "GET /local/queues": "the queues, their depth and consumer",
    "GET /local/queues/{queue}": "the messages waiting in a queue",
    "GET /local/dlq": "the dead-letter queues and their messages",
    "POST /local/dlq/redrive": 'move dead letters back to their queue: {"queue": optional}',
    "GET /local/schedules": "the schedules, by short name",
    "POST /local/jobs": 'run schedules: {"now": "2027-03-01", "job": "all"|name}',
    "GET /local/members/{memberId}": "a member, their whole activity and referrals",
    "GET /local/stream/export": "the table's stream records read so far (JSON lines)",
    "POST /local/stream/replay": "deliver exported records again (?function=Name for one)",
    "GET /local/events": "the outbound events put on the local bus (?limit=&type=)",
}
