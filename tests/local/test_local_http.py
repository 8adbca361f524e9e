"""The local HTTP API as API Gateway serves it: every route of template.yaml reaches its
function, unknown routes are 404, the JWT authorizer takes only this process's local tokens,
CORS, the static pages and the local endpoints."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.local.stack import LocalStack, LocalStackError
from devtools.local.tokens import DevTokens
from devtools.local.wiring import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalNames, Wiring
from devtools.template import DEFAULT_TEMPLATE
from tests.local.conftest import http

pytestmark = pytest.mark.integration

ADMIN = ("loyalty/admin",)
TEMPLATE_ROUTES = Wiring(DEFAULT_TEMPLATE, LocalNames(table_name="routes")).routes


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web")
    (root / "portal").mkdir()
    (root / "portal" / "index.html").write_text("<!doctype html><title>portal</title>")
    (root / "portal" / "app.js").write_text("console.log('portal')")
    return root  # no operator/: its pages answer 404


@pytest.fixture(scope="module")
def api(stack_factory: Any, web: Path) -> LocalStack:
    started: LocalStack = stack_factory(web_root=web)
    return started


def concrete(path: str) -> str:
    return re.sub(
        r"\{(\w+)\+?\}", lambda m: "free-shipping" if "reward" in m.group(1) else "ann", path
    )


@pytest.mark.parametrize("route", TEMPLATE_ROUTES, ids=lambda route: route.key)
def test_every_template_route_reaches_its_function(api: LocalStack, route: Any) -> None:
    before = api.runtime.stats[route.function].invocations
    body: dict[str, Any] | None = {} if route.method in ("POST", "PUT", "PATCH") else None
    answer = http(
        api.base_url + concrete(route.path),
        "GET" if route.method == "ANY" else route.method,
        body,
        token=api.mint_token("ops", ADMIN),
    )
    assert api.runtime.stats[route.function].invocations == before + 1, answer
    assert answer.body != {"message": "Not Found"}
    assert answer.status not in (401, 502), answer


def test_an_unknown_route_is_404_as_api_gateway_answers(api: LocalStack) -> None:
    token = api.mint_token("ops", ADMIN)
    for path, method in (("/nope", "GET"), ("/members/ann/nope", "GET"), ("/rewards", "DELETE")):
        answer = http(api.base_url + path, method, token=token)
        assert (answer.status, answer.body) == (404, {"message": "Not Found"}), path


def test_no_forged_or_expired_token_is_unauthorized(api: LocalStack) -> None:
    url = api.base_url + "/rewards"
    assert http(url).status == 401
    assert http(url).body == {"message": "Unauthorized"}
    foreign, _ = DevTokens(LOCAL_ISSUER, LOCAL_AUDIENCE).mint("ann")  # another process's secret
    assert http(url, token=foreign).status == 401
    good = api.mint_token("ann")
    header, claims, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert http(url, token=f"{header}.{claims}.{flipped}").status == 401
    assert http(url, token=f"{header}.{claims}.{signature[:-1]}").status == 401
    assert http(url, token="not-a-jwt").status == 401
    short = api.mint_token("ann", ttl_seconds=1)
    time.sleep(1.1)
    assert http(url, token=short).status == 401
    assert http(url, token=good).status == 200


def test_the_token_endpoint_mints_member_service_and_admin_tokens(api: LocalStack) -> None:
    answer = http(api.base_url + "/local/token", "POST", {"sub": "ann", "scopes": []})
    assert answer.status == 200
    assert answer.body["claims"]["iss"] == "loyalty-local-dev"
    assert "local development token" in answer.body["warning"]
    member = answer.body["token"]
    assert http(api.base_url + "/rewards", token=member).status == 200
    # a member may not read another member (the function's policy, from the claims)
    assert http(api.base_url + "/members/bea", token=member).status == 403
    admin = http(api.base_url + "/local/token", "POST", {"sub": "ops", "scopes": list(ADMIN)})
    assert admin.body["claims"]["scope"] == "loyalty/admin"
    assert http(api.base_url + "/local/token", "POST", {"scopes": []}).status == 400


def test_dev_tokens_are_refused_on_a_non_loopback_bind(dynamodb_endpoint: str) -> None:
    stack = LocalStack(endpoint_url=dynamodb_endpoint, host="0.0.0.0", seed=False, quiet=True)
    with pytest.raises(LocalStackError, match="not a loopback address"):
        stack.start()


def test_cors_preflight_and_origin_for_local_origins_only(api: LocalStack) -> None:
    preflight = http(
        api.base_url + "/members/ann",
        "OPTIONS",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"]
    answer = http(
        api.base_url + "/rewards",
        token=api.mint_token("ann"),
        headers={"Origin": api.base_url},
    )
    assert answer.headers["access-control-allow-origin"] == api.base_url
    foreign = http(
        api.base_url + "/rewards",
        token=api.mint_token("ann"),
        headers={"Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in foreign.headers


def test_config_static_pages_and_index(api: LocalStack) -> None:
    config = {
        "apiBaseUrl": api.base_url,
        "local": True,
        "tokenUrl": api.base_url + "/local/token",
    }
    for path in ("/local/config.json", "/portal/config.json", "/operator/config.json"):
        assert http(api.base_url + path).body == config, path
    portal = http(api.base_url + "/portal/")
    assert portal.status == 200 and "<title>portal</title>" in portal.body
    assert (
        http(api.base_url + "/portal/app.js").headers["content-type"].startswith("text/javascript")
    )
    assert http(api.base_url + "/portal/../../etc/passwd").status == 404
    assert http(api.base_url + "/operator/").status == 404  # no web/operator in this web root
    index = http(api.base_url + "/")
    assert index.status == 200 and "/portal/" in index.body and "/docs/openapi.json" in index.body
    assert http(api.base_url + "/docs/openapi.json").body["openapi"].startswith("3.")


def test_status_lists_what_the_template_wires(api: LocalStack) -> None:
    status = http(api.base_url + "/local/status").body
    assert {r["route"] for r in status["routes"]} == {r.key for r in TEMPLATE_ROUTES}
    assert {q["queue"] for q in status["queues"]} >= {"OrdersQueue", "OrdersDeadLetterQueue"}
    assert {s["name"] for s in status["schedules"]} >= {"expiry", "birthday", "tenure"}


def test_requests_addressed_to_another_host_name_are_refused(api: LocalStack) -> None:
    # DNS rebinding: a page at rebind.example resolving to 127.0.0.1 must not mint tokens
    for path in ("/local/token", "/rewards", "/portal/"):
        answer = http(api.base_url + path, headers={"Host": "rebind.example:8787"})
        assert answer.status == 403, path
    assert http(api.base_url + "/local/status", headers={"Host": "localhost"}).status == 200
