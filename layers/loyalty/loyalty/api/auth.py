"""Who is calling, and may they: every route's policy in one table, checked before anything
else runs (so a refused request changes nothing and learns nothing).

Callers are identified by the JWT claims API Gateway's authorizer passes in
`requestContext.authorizer.jwt`: scopes decide the role (`loyalty/admin`, `loyalty/service`),
otherwise the token is a member's and `sub` is the member id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from loyalty.domain.errors import LoyaltyError

Role = Literal["member", "service", "admin"]
SERVICE_SCOPE = "loyalty/service"
ADMIN_SCOPE = "loyalty/admin"


class Unauthorized(LoyaltyError):
    """No valid token."""


class Forbidden(LoyaltyError):
    """A valid token that may not do this."""


class RouteNotFound(LoyaltyError):
    """No such route."""


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    role: Role


@dataclass(frozen=True, slots=True)
class Policy:
    """Roles allowed on a route. A member may act only on itself: the member id comes from
    the path (`{memberId}`) or, for enrollment, from the body."""

    roles: frozenset[Role]
    member_from: Literal["path", "body", "none"] = "path"


_ANYONE = Policy(frozenset({"member", "service", "admin"}), member_from="none")
_SELF = Policy(frozenset({"member", "service", "admin"}))
_SERVICE = Policy(frozenset({"service", "admin"}))
_CHECKOUT = Policy(frozenset({"service", "admin"}), member_from="none")
# The operator API: the admin scope only.
ADMIN_ONLY = Policy(frozenset({"admin"}), member_from="none")
# Privacy rights: the member themself, or an operator acting on their request (not the
# storefront's backend, which has no business reading or erasing a whole profile).
_SELF_OR_ADMIN = Policy(frozenset({"member", "admin"}))

ROUTE_POLICIES: dict[str, Policy] = {
    "POST /members": Policy(frozenset({"member", "service", "admin"}), member_from="body"),
    "GET /members/{memberId}": _SELF,
    "PATCH /members/{memberId}": _SELF,
    "GET /members/{memberId}/activity": _SELF,
    "GET /members/{memberId}/referrals": _SELF,
    "GET /members/{memberId}/badges": _SELF,
    "GET /rewards": _ANYONE,
    "GET /program": _ANYONE,
    "POST /members/{memberId}/redemptions": _SELF,
    "GET /members/{memberId}/coupons": _SELF,
    # The shop's checkout (its backend's service token), or an operator.
    "GET /coupons/{code}": _CHECKOUT,
    "POST /coupons/{code}/redemptions": _CHECKOUT,
    "POST /coupons/{code}/void": _CHECKOUT,
    "POST /members/{memberId}/reviews": _SERVICE,
    "POST /members/{memberId}/social-shares": _SERVICE,
    "GET /members/{memberId}/export": _SELF_OR_ADMIN,
    "DELETE /members/{memberId}": _SELF_OR_ADMIN,
    "GET /admin/members": ADMIN_ONLY,
    "POST /admin/members/{memberId}/adjustments": ADMIN_ONLY,
    "GET /admin/rewards": ADMIN_ONLY,
    "PUT /admin/rewards/{rewardId}": ADMIN_ONLY,
    "GET /admin/program": ADMIN_ONLY,
    "PUT /admin/program": ADMIN_ONLY,
    "POST /admin/program/preview": ADMIN_ONLY,
    "GET /admin/audit": ADMIN_ONLY,
    "GET /admin/kpis": ADMIN_ONLY,
    "GET /admin/badges": ADMIN_ONLY,
    "PUT /admin/badges/{badgeId}": ADMIN_ONLY,
    # Points preview for carts: the storefront's backend at checkout (any member, guests).
    "POST /quotes": Policy(frozenset({"service", "admin"}), member_from="none"),
    # Promotions as the caller's tier sees them (a member: their own; see members_api).
    "GET /promotions": _ANYONE,
    # The leaderboard shows display names of members who opted in, nothing personal.
    "GET /leaderboard": _ANYONE,
}


def _scopes(jwt: dict[str, Any]) -> set[str]:
    scopes = set(jwt.get("scopes") or [])
    claims = jwt.get("claims") or {}
    # Access tokens carry scopes in a space-separated `scope` claim (Cognito, Auth0) or in
    # `scp`; API Gateway fills `scopes` only for routes that declare authorization scopes.
    for claim in ("scope", "scp"):
        value = claims.get(claim)
        if isinstance(value, str):
            # API Gateway passes array claims flattened as "[a b]".
            scopes.update(value.strip("[]").replace(",", " ").split())
        elif isinstance(value, list):
            scopes.update(str(item) for item in value)
    return scopes


def caller_of(event: dict[str, Any]) -> Caller:
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims") or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("a valid bearer token is required")
    scopes = _scopes(jwt)
    if ADMIN_SCOPE in scopes:
        return Caller(subject, "admin")
    if SERVICE_SCOPE in scopes:
        return Caller(subject, "service")
    return Caller(subject, "member")


def authorize(event: dict[str, Any], body: Callable[[], Any]) -> Caller:
    """The caller, if the route's policy admits them; raises Unauthorized, Forbidden or
    RouteNotFound otherwise. Routes without a policy are refused (fail closed). `body`
    gives the parsed JSON body, the very document the route will act on."""
    route_key = event.get("routeKey") or ""
    policy = ROUTE_POLICIES.get(route_key)
    caller = caller_of(event)
    if policy is None:
        raise RouteNotFound(f"no route {route_key or 'for this request'}")
    if caller.role not in policy.roles:
        raise Forbidden("this token may not use this route")
    if caller.role == "member" and policy.member_from != "none":
        if policy.member_from == "path":
            target = (event.get("pathParameters") or {}).get("memberId")
        else:
            document = body()
            target = document.get("memberId") if isinstance(document, dict) else None
        # A body without a memberId is left to validation (it will be refused there).
        if target is not None and target != caller.subject:
            raise Forbidden("a member may act only on itself")
    return caller
