"""The one place where domain errors become HTTP responses, and the resolver every API
function uses: Powertools' HTTP API resolver with pydantic validation, errors as JSON with a
`message`, and authorization checked before any route runs."""

from __future__ import annotations

import base64
import binascii
import json
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import observability
from loyalty.api.auth import Caller, Forbidden, RouteNotFound, Unauthorized, authorize
from loyalty.api.models import ErrorBody
from loyalty.domain import errors
from loyalty.domain.rewards import REWARD_ID_PATTERN
from loyalty.domain.validation import BADGE_ID_PATTERN, MEMBER_ID_PATTERN

logger = Logger(child=True)


class BadRequest(errors.LoyaltyError):
    """A malformed parameter (an unknown cursor...) or body."""


class UnsupportedMediaType(errors.LoyaltyError):
    """A body that is not JSON."""


class InvalidBody(errors.LoyaltyError):
    """A JSON body that is not the route's documented object (an array, a string, null...)."""


class InvalidMemberId(errors.LoyaltyError):
    """A path memberId (or rewardId) outside the contract's alphabet and length."""


# Most specific first: the first class the error is an instance of decides.
ERROR_STATUS: tuple[tuple[type[Exception], HTTPStatus], ...] = (
    (Unauthorized, HTTPStatus.UNAUTHORIZED),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (RouteNotFound, HTTPStatus.NOT_FOUND),
    (BadRequest, HTTPStatus.BAD_REQUEST),
    (UnsupportedMediaType, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (InvalidMemberId, HTTPStatus.UNPROCESSABLE_ENTITY),
    (InvalidBody, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.MemberNotFound, HTTPStatus.NOT_FOUND),
    (errors.RewardNotFound, HTTPStatus.NOT_FOUND),
    (errors.CouponNotFound, HTTPStatus.NOT_FOUND),
    (errors.CouponUnavailable, HTTPStatus.CONFLICT),
    (errors.InsufficientPoints, HTTPStatus.CONFLICT),
    (errors.TierTooLow, HTTPStatus.CONFLICT),
    (errors.OutOfStock, HTTPStatus.CONFLICT),
    (errors.AlreadyRewarded, HTTPStatus.CONFLICT),
    (errors.LimitReached, HTTPStatus.CONFLICT),
    (errors.EmailTaken, HTTPStatus.CONFLICT),
    (errors.VersionConflict, HTTPStatus.CONFLICT),
    (errors.MemberErased, HTTPStatus.CONFLICT),
    (errors.ReferralRefused, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.IdempotencyKeyReused, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.InvalidMessage, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.ConcurrentUpdate, HTTPStatus.SERVICE_UNAVAILABLE),
    (errors.StoreBusy, HTTPStatus.SERVICE_UNAVAILABLE),
)


_DESCRIPTIONS = {
    400: "Malformed request (not JSON, bad parameter)",
    401: "No valid token",
    403: "Not allowed for this token",
    404: "Unknown member or route",
    409: "Conflicts with the member's state",
    415: "The body is not application/json",
    422: "Invalid request",
    503: "Busy (a concurrent update, or a throttled read or write); retry after Retry-After",
}


def documented(
    success: tuple[int, str] | None = None, *statuses: int
) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses of a route: its success (200 unless said; its body from the route's
    return annotation) and its error statuses, each with the `ErrorBody` schema (422 always:
    any request can fail validation; 503 always: any request reads the table, and a read
    can be throttled)."""
    code, description = success or (200, "OK")
    responses: dict[int, OpenAPIResponse] = {code: {"description": description}}
    for status in sorted({*(statuses or (400, 401, 403, 404)), 422, 503}):
        responses[status] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return responses


def error_response(
    status: HTTPStatus, message: str, details: list[dict[str, str]] | None = None
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"message": message}
    if details:
        body["errors"] = details
    headers = {"Retry-After": "1"} if status == HTTPStatus.SERVICE_UNAVAILABLE else None
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=headers,
    )


def status_of(error: Exception) -> HTTPStatus:
    for error_class, status in ERROR_STATUS:
        if isinstance(error, error_class):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _validation_details(error: RequestValidationError) -> list[dict[str, str]]:
    details = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        details.append({"field": ".".join(location) or "body", "problem": str(item.get("msg"))})
    return details


def make_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _invalid(error: RequestValidationError) -> Response[dict[str, Any]]:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            return error_response(HTTPStatus.BAD_REQUEST, "the request body is not valid JSON")
        return error_response(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "the request is not valid",
            _validation_details(error),
        )

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def _unsupported(_: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the request body must be application/json"
        )

    @app.exception_handler(errors.LoyaltyError)  # type: ignore[untyped-decorator]
    def _domain(error: errors.LoyaltyError) -> Response[dict[str, Any]]:
        status = status_of(error)
        if status >= 500:
            logger.warning("request could not complete", error=type(error).__name__)
        return error_response(status, str(error) or status.phrase)

    @app.not_found
    def _not_found(_: Exception) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "no such route")

    return app


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    caller = app.context.get("caller")
    if not isinstance(caller, Caller):  # pragma: no cover - serve() always sets it
        raise Unauthorized("a valid bearer token is required")
    return caller


_MEMBER_ID = re.compile(MEMBER_ID_PATTERN)
_REWARD_ID = re.compile(REWARD_ID_PATTERN)
_BADGE_ID = re.compile(BADGE_ID_PATTERN)
# Methods whose routes all take a JSON object body (the documented request model).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PARAMETER = re.compile(r"\{(\w+)\+?\}")


def media_type(event: dict[str, Any]) -> str:
    """The body's media type, lower-cased without parameters (media types are
    case-insensitive); application/json when the request does not say."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return headers.get("content-type", "application/json").split(";")[0].strip().lower()


def parse_body(event: dict[str, Any]) -> Any:
    """The JSON body, parsed once, strictly: only application/json (415 otherwise), UTF-8,
    and not so deeply nested that parsing it would exhaust the stack (400). None without a
    body."""
    raw = event.get("body")
    if not raw:
        return None
    if media_type(event) != "application/json":
        raise UnsupportedMediaType("the request body must be application/json")
    try:
        data = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except (binascii.Error, UnicodeDecodeError):
        raise BadRequest("the request body is not valid UTF-8 JSON") from None
    except json.JSONDecodeError:
        raise BadRequest("the request body is not valid JSON") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None


def path_parameters(event: dict[str, Any]) -> dict[str, str]:
    """The path parameters, decoded. API Gateway hands them over decoded; one still
    percent-encoded (`pat%40shop.io`) is decoded here, once: no member id may contain `%`,
    so decoding never turns a valid id into another one."""
    given = event.get("pathParameters") or {}
    return {str(k): unquote(str(v)) if "%" in str(v) else str(v) for k, v in given.items()}


def _route_path(route_key: str, parameters: dict[str, str]) -> str | None:
    """The request path rebuilt from the route key and the decoded parameters: the path the
    resolver routes on, so every route reads the very id that was authorized."""
    _, _, template = route_key.partition(" ")
    if not template.startswith("/"):
        return None
    try:
        return _PARAMETER.sub(lambda match: parameters[match.group(1)], template)
    except KeyError:
        return None


def screen(event: dict[str, Any]) -> tuple[Caller, dict[str, Any]]:
    """Everything checked before a route runs: the caller and the route's policy, then the
    body (a JSON object where the route takes one) and the path's member id. Returns the
    caller and the event the route is resolved with: decoded path parameters and the body
    as the JSON it was checked as."""
    parameters = path_parameters(event)
    routed = dict(event)
    if parameters:
        routed["pathParameters"] = parameters
    parsed: list[Any] = []

    def body() -> Any:
        if not parsed:
            parsed.append(parse_body(event))
        return parsed[0]

    caller = authorize(routed, body)
    document = body()
    member_id = parameters.get("memberId")
    if member_id is not None and not _MEMBER_ID.match(member_id):
        raise InvalidMemberId("memberId must be 1-64 characters of A-Z a-z 0-9 - _ . @")
    reward_id = parameters.get("rewardId")
    if reward_id is not None and not _REWARD_ID.match(reward_id):
        raise InvalidMemberId(
            "rewardId must be 1-64 characters of a-z 0-9 - _ . (a letter or digit first)"
        )
    badge_id = parameters.get("badgeId")
    if badge_id is not None and not _BADGE_ID.match(badge_id):
        raise InvalidMemberId(
            "badgeId must be 1-64 characters of a-z 0-9 - _ . (a letter or digit first)"
        )
    method = str((event.get("requestContext") or {}).get("http", {}).get("method") or "")
    method = method.upper() or str(event.get("routeKey") or "").partition(" ")[0]
    if method in _BODY_METHODS and not isinstance(document, dict):
        raise InvalidBody("the request body must be a JSON object")
    path = _route_path(str(event.get("routeKey") or ""), parameters)
    if path is not None:
        routed["rawPath"] = path
    if event.get("body"):
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        routed["headers"] = headers | {"content-type": "application/json"}
        routed["body"] = json.dumps(document)
        routed["isBase64Encoded"] = False
    return caller, routed


def serve(
    app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext
) -> dict[str, Any]:
    """Screen, then route. A refusal is answered here, before validation or any route
    runs, so it changes nothing. Every request is counted by route and status class."""
    route = str(event.get("routeKey") or "")
    status = HTTPStatus.INTERNAL_SERVER_ERROR.value  # unless an answer says otherwise
    try:
        try:
            caller, routed = screen(event)
        except errors.LoyaltyError as refusal:
            refused = status_of(refusal)
            logger.info("request refused", status=refused.value, route=route)
            response = error_response(refused, str(refusal))
            status = response.status_code
            return {
                "statusCode": response.status_code,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": _json(response.body),
            }
        app.append_context(caller=caller)  # type: ignore[no-untyped-call]
        try:
            answer = app.resolve(routed, context)
        finally:
            app.clear_context()  # type: ignore[no-untyped-call]
        status = int(answer.get("statusCode") or status)
        return answer
    finally:
        observability.api_request(route, status)


def _json(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))
