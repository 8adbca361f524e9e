"""Local development tokens: JWTs signed (HS256) with a random secret made by this process,
issued by `loyalty-local-dev`, expiring. Only the local stack that minted a token accepts
it; the deployed API's JWT authorizer checks your identity provider's issuer and keys, and
never sees these.

They are refused on a non-loopback address unless the stack was started with
`--insecure-dev-tokens` (anyone who can reach the port could mint an admin token)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from devtools.local.wiring import LOCAL_AUDIENCE, LOCAL_ISSUER

DEFAULT_TTL_SECONDS = 12 * 3600
MAX_TTL_SECONDS = 7 * 24 * 3600
WARNING = "local development token: not valid anywhere else"


class InvalidToken(Exception):
    """Not a token this process minted, or no longer valid."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DevTokens:
    def __init__(
        self,
        issuer: str = LOCAL_ISSUER,
        audience: str = LOCAL_AUDIENCE,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self._secret = secrets.token_bytes(32)

    def mint(
        self,
        sub: str,
        scopes: Iterable[str] = (),
        *,
        ttl_seconds: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A signed token and its claims. Scopes go in the space-separated `scope` claim, as
        Cognito and most identity providers put them in access tokens."""
        if not isinstance(sub, str) or not 1 <= len(sub) <= 128:
            raise ValueError("sub must be a string of 1 to 128 characters")
        scope_list = [str(scope) for scope in scopes]
        if any(not scope or " " in scope for scope in scope_list):
            raise ValueError("scopes must be non-empty strings without spaces")
        now = int(time.time())
        ttl = self.ttl_seconds if ttl_seconds is None else int(ttl_seconds)
        if not 1 <= ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
        claims: dict[str, Any] = dict(extra or {}) | {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            "token_use": "access",
            "scope": " ".join(scope_list),
        }
        header = {"alg": "HS256", "typ": "JWT", "kid": "loyalty-local-dev"}
        signing_input = (
            f"{_b64(json.dumps(header, separators=(',', ':')).encode())}."
            f"{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        )
        signature = hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256)
        return f"{signing_input}.{_b64(signature.digest())}", claims

    def verify(
        self,
        token: str,
        *,
        issuer: str | None = None,
        audiences: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """The token's claims, if this process minted it, it has not expired, and its issuer
        and audience are the authorizer's. Raises InvalidToken otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT")
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidToken("malformed JWT") from error
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise InvalidToken("unsupported signing algorithm")
        expected = hmac.new(
            self._secret, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256
        ).digest()
        if _b64(signature) != parts[2] or not hmac.compare_digest(expected, signature):
            raise InvalidToken("signature mismatch: not minted by this local stack")
        if not isinstance(claims, dict):
            raise InvalidToken("malformed claims")
        now = time.time()
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise InvalidToken("the token has expired")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + 60:
            raise InvalidToken("the token is not valid yet")
        if claims.get("iss") != (issuer or self.issuer):
            raise InvalidToken("the issuer is not the authorizer's")
        allowed = set(audiences or [self.audience])
        token_audience = claims.get("aud")
        given = set(token_audience if isinstance(token_audience, list) else [token_audience])
        if claims.get("client_id"):
            given.add(claims["client_id"])
        if not allowed & given:
            raise InvalidToken("the audience is not the authorizer's")
        return claims


def gateway_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as API Gateway's JWT authorizer passes them to the function: every value a
    string, arrays flattened as `[a b]`."""
    flat: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            flat[name] = "[" + " ".join(str(item) for item in value) + "]"
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        elif isinstance(value, dict):
            flat[name] = json.dumps(value, separators=(",", ":"))
        else:
            flat[name] = str(value)
    return flat


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    scope = claims.get("scope") or claims.get("scp") or ""
    if isinstance(scope, list):
        return [str(item) for item in scope]
    return str(scope).split()


def is_loopback(host: str) -> bool:
    """True for a loopback address, or a name that resolves only to loopback addresses."""
    host = host.strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(address).split("%", 1)[0]).is_loopback for address in addresses
    )


def is_loopback_name(host: str) -> bool:
    """A loopback address or `localhost`, without asking DNS (for Host and Origin headers)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
