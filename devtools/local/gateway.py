"""API Gateway (HTTP API, payload format 2.0) in front of the template's functions: route
matching, the JWT authorizer (with local development tokens), the event each function gets,
the response it gives back, CORS.

As on AWS: an unmatched route answers 404 `{"message":"Not Found"}`; no or an invalid token
401 `{"message":"Unauthorized"}`; missing route scopes 403 `{"message":"Forbidden"}`; a
function that raises (or answers something API Gateway cannot read) 502
`{"message":"Internal Server Error"}`."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.local.runtime import Invocation
from devtools.local.tokens import (
    DevTokens,
    InvalidToken,
    gateway_claims,
    is_loopback_name,
    token_scopes,
)
from devtools.local.wiring import CorsSpec, HttpApiSpec, RouteSpec

TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded))$"
)
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass
class ApiRequest:
    method: str
    target: str  # path and query, as on the request line
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ",".join(values) if values else None


@dataclass
class ApiResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    route: str | None = None
    function: str | None = None
    error: str | None = None

    @classmethod
    def json(cls, status: int, document: Any, **extra: Any) -> ApiResponse:
        data = json.dumps(document, separators=(",", ":")).encode()
        return cls(status, [("Content-Type", "application/json")], data, **extra)


@dataclass(frozen=True)
class _Compiled:
    route: RouteSpec
    segments: tuple[str, ...]
    rank: tuple[int, ...]  # lower is more specific


def _compile(route: RouteSpec) -> _Compiled:
    if route.path == "$default":
        return _Compiled(route, (), (9,))
    segments = tuple(route.path.strip("/").split("/")) if route.path != "/" else ()
    rank = tuple(
        2 if segment.endswith("+}") else 1 if segment.startswith("{") else 0 for segment in segments
    )
    return _Compiled(route, segments, rank)


def _match_segments(compiled: _Compiled, parts: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(compiled.segments):
        if segment.startswith("{") and segment.endswith("+}"):
            rest = parts[index:]
            if not rest:
                return None
            parameters[segment[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(parts):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            if parts[index] == "":
                return None
            parameters[segment[1:-1]] = parts[index]
        elif segment != parts[index]:
            return None
    return parameters if len(parts) == len(compiled.segments) else None


class Gateway:
    def __init__(
        self,
        routes: Iterable[RouteSpec],
        apis: dict[str, HttpApiSpec],
        tokens: DevTokens,
        invoke: Callable[[str, dict[str, Any]], Invocation],
        *,
        dev_tokens_allowed: Callable[[str], bool],
        local_origins: Iterable[str] = (),
    ) -> None:
        self.routes: list[_Compiled] = []
        seen: set[str] = set()
        self.duplicates: list[str] = []
        for route in routes:
            if route.key in seen:
                self.duplicates.append(route.key)
                continue
            seen.add(route.key)
            self.routes.append(_compile(route))
        self.apis = apis
        self.tokens = tokens
        self.invoke = invoke
        self.dev_tokens_allowed = dev_tokens_allowed
        self.local_origins = set(local_origins)

    # ---- routing -------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[RouteSpec, dict[str, str]] | None:
        parts = [unquote(part) for part in path.strip("/").split("/")] if path != "/" else []
        best: tuple[tuple[Any, ...], RouteSpec, dict[str, str]] | None = None
        for compiled in self.routes:
            route = compiled.route
            if route.method not in ("ANY", method.upper()):
                continue
            if route.path == "$default":
                parameters: dict[str, str] | None = {}
            else:
                parameters = _match_segments(compiled, parts)
            if parameters is None:
                continue
            key = (compiled.rank, route.method == "ANY")
            if best is None or key < best[0]:
                best = (key, route, parameters)
        return (best[1], best[2]) if best else None

    # ---- CORS ----------------------------------------------------------------------------

    def _cors(self) -> CorsSpec | None:
        for api in self.apis.values():
            if api.cors is not None:
                return api.cors
        return None

    def origin_allowed(self, origin: str | None) -> bool:
        if not origin:
            return False
        cors = self._cors()
        if origin in self.local_origins or (
            cors and ("*" in cors.allow_origins or origin in cors.allow_origins)
        ):
            return True
        return is_loopback_name(urlsplit(origin).hostname or "")

    def cors_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if not self.origin_allowed(origin):
            return []
        cors = self._cors()
        headers = [("Access-Control-Allow-Origin", str(origin)), ("Vary", "Origin")]
        if cors and cors.expose_headers:
            headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
        if cors and cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight(self, request: ApiRequest) -> ApiResponse:
        origin = request.header("origin")
        if not self.origin_allowed(origin):
            return ApiResponse(204, [("Vary", "Origin")])
        cors = self._cors()
        methods = cors.allow_methods if cors and cors.allow_methods else ("*",)
        allowed_headers = (
            cors.allow_headers
            if cors and cors.allow_headers
            else ("authorization", "content-type", "idempotency-key")
        )
        headers = [
            *self.cors_headers(origin),
            ("Access-Control-Allow-Methods", ",".join(methods)),
            ("Access-Control-Allow-Headers", ",".join(allowed_headers)),
        ]
        if cors and cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
        return ApiResponse(204, headers)

    # ---- requests ------------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        response = self._handle(request)
        response.headers.append(("apigw-requestid", uuid.uuid4().hex[:16]))
        response.headers.extend(self.cors_headers(request.header("origin")))
        return response

    def _handle(self, request: ApiRequest) -> ApiResponse:
        split = urlsplit(request.target)
        raw_path = split.path or "/"
        matched = self.match(request.method, raw_path)
        if matched is None:
            return ApiResponse.json(404, {"message": "Not Found"})
        route, parameters = matched
        if len(request.body) > MAX_BODY_BYTES:
            return ApiResponse.json(413, {"message": "Request Entity Too Large"}, route=route.key)
        authorizer: dict[str, Any] | None = None
        if route.authorizer is not None:
            outcome = self._authorize(route, request)
            if isinstance(outcome, ApiResponse):
                outcome.route = route.key
                return outcome
            authorizer = outcome
        # As API Gateway does, the function gets the path (and its parameters) decoded.
        path = unquote(split.path or "/")
        event = self.event(route, parameters, request, path, split.query, authorizer)
        invocation = self.invoke(route.function, event)
        if invocation.error is not None:
            return ApiResponse.json(
                502,
                {"message": "Internal Server Error"},
                route=route.key,
                function=route.function,
                error=str(invocation.error),
            )
        try:
            response = self.to_http(invocation.result)
        except (TypeError, ValueError, KeyError) as error:
            return ApiResponse.json(
                502,
                {"message": "Internal Server Error"},
                route=route.key,
                function=route.function,
                error=f"malformed function response: {error}",
            )
        response.route = route.key
        response.function = route.function
        return response

    def _authorize(self, route: RouteSpec, request: ApiRequest) -> dict[str, Any] | ApiResponse:
        api = self.apis.get(route.api)
        spec = api.authorizers.get(str(route.authorizer)) if api else None
        source = spec.identity_source if spec else "$request.header.Authorization"
        header = (
            source.rsplit(".", 1)[-1] if source.startswith("$request.header.") else "Authorization"
        )
        raw = (request.header(header) or "").strip()
        unauthorized = ApiResponse.json(401, {"message": "Unauthorized"})
        if not raw:
            unauthorized.headers.append(("www-authenticate", 'Bearer realm="loyalty-local"'))
            return unauthorized
        if not self.dev_tokens_allowed(request.source_ip):
            unauthorized.error = "local development tokens are refused from this address"
            return unauthorized
        token = raw[7:].strip() if raw[:7].lower() == "bearer " else raw
        try:
            claims = self.tokens.verify(
                token,
                issuer=spec.issuer if spec else None,
                audiences=spec.audience if spec else None,
            )
        except InvalidToken as error:
            unauthorized.headers.append(
                (
                    "www-authenticate",
                    f'Bearer error="invalid_token" error_description="{error}"',
                )
            )
            unauthorized.error = str(error)
            return unauthorized
        scopes = token_scopes(claims)
        if route.scopes and not set(route.scopes) & set(scopes):
            return ApiResponse.json(403, {"message": "Forbidden"})
        # API Gateway fills `scopes` only for routes that declare authorization scopes.
        return {
            "jwt": {"claims": gateway_claims(claims), "scopes": scopes if route.scopes else None}
        }

    def event(
        self,
        route: RouteSpec,
        parameters: dict[str, str],
        request: ApiRequest,
        raw_path: str,
        raw_query: str,
        authorizer: dict[str, Any] | None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers:
            key = name.lower()
            if key == "cookie":
                cookies.extend(part.strip() for part in value.split(";") if part.strip())
                continue
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        host = headers.get("host", "127.0.0.1")
        now = time.time()
        context: dict[str, Any] = {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if raw_query:
            query: dict[str, str] = {}
            for name, value in parse_qsl(raw_query, keep_blank_values=True):
                query[name] = f"{query[name]},{value}" if name in query else value
            event["queryStringParameters"] = query
        if parameters:
            event["pathParameters"] = parameters
        if request.body:
            media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            text: str | None = None
            if TEXT_TYPES.match(media_type) or not media_type:
                try:
                    text = request.body.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            if text is None:
                event["body"] = base64.b64encode(request.body).decode("ascii")
                event["isBase64Encoded"] = True
            else:
                event["body"] = text
        return event

    @staticmethod
    def to_http(result: Any) -> ApiResponse:
        """A payload 2.0 response: `{statusCode, headers, body, isBase64Encoded, cookies}`;
        anything else is taken as a 200 JSON body, as API Gateway infers it."""
        if isinstance(result, dict) and "statusCode" in result:
            status = int(result["statusCode"])
            if not 100 <= status <= 599:
                raise ValueError(f"statusCode {status}")
            headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers.extend((str(name), str(value)) for value in values)
            headers.extend(("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or [])
            body = result.get("body")
            if body is None:
                data = b""
            elif result.get("isBase64Encoded"):
                data = base64.b64decode(str(body))
            else:
                data = str(body).encode("utf-8")
            if not any(name.lower() == "content-type" for name, _ in headers) and data:
                headers.append(("Content-Type", "application/json"))
            return ApiResponse(status, headers, data)
        if result is None:
            return ApiResponse(200, [], b"")
        text = result if isinstance(result, str) else json.dumps(result)
        return ApiResponse(200, [("Content-Type", "application/json")], text.encode("utf-8"))
