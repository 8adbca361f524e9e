"""The storefront API's routes, three ways that must agree:

- template.yaml: the `HttpApi` events of the functions (what API Gateway routes, with the
  JWT authorizer);
- the resolvers in functions/*/app.py (what the code answers), per function;
- `loyalty.api.auth.ROUTE_POLICIES` (who may call; a route without a policy is refused).

    python -m devtools.routes            list the routes (function, policy roles)
    python -m devtools.routes --check    exit 1, printing the differences, unless they agree
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from devtools.api import load_resolvers, resolver_modules, route_keys
from devtools.template import load_template

API_LOGICAL_ID = "LoyaltyApi"


def template_routes(template_path: str | Path | None = None) -> tuple[dict[str, str], list[str]]:
    """(route key -> CodeUri of the function it invokes, problems found on the way)."""
    resources: dict[str, Any] = load_template(template_path).get("Resources") or {}
    routes: dict[str, str] = {}
    problems: list[str] = []
    api = resources.get(API_LOGICAL_ID) or {}
    if api.get("Type") != "AWS::Serverless::HttpApi":
        problems.append(f"template: no AWS::Serverless::HttpApi named {API_LOGICAL_ID}")
    elif not ((api.get("Properties") or {}).get("Auth") or {}).get("DefaultAuthorizer"):
        problems.append(f"template: {API_LOGICAL_ID} has no DefaultAuthorizer")
    for name, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            where = f"template: {name}.Events.{event_name}"
            event_props = event.get("Properties") or {}
            key = f"{str(event_props.get('Method', '')).upper()} {event_props.get('Path', '')}"
            if event_props.get("ApiId") != {"Ref": API_LOGICAL_ID}:
                problems.append(f"{where} ({key}): ApiId is not !Ref {API_LOGICAL_ID}")
            authorizer = (event_props.get("Auth") or {}).get("Authorizer")
            if authorizer is not None:
                problems.append(f"{where} ({key}): overrides the default authorizer")
            if str(event_props.get("PayloadFormatVersion", "2.0")) != "2.0":
                problems.append(f"{where} ({key}): the resolvers need payload format 2.0")
            if key in routes:
                problems.append(f"{where}: {key} is declared twice")
            routes[key] = str(props.get("CodeUri", ""))
    return routes, problems


def _differences(label_a: str, a: set[str], label_b: str, b: set[str]) -> list[str]:
    lines = [f"in {label_a}, not in {label_b}: {key}" for key in sorted(a - b)]
    lines += [f"in {label_b}, not in {label_a}: {key}" for key in sorted(b - a)]
    return lines


def check() -> list[str]:
    """Every disagreement, as lines to print; empty when the three agree."""
    from loyalty.api.auth import ROUTE_POLICIES

    wired, problems = template_routes()
    modules = resolver_modules()
    resolvers = load_resolvers()
    served: dict[str, str] = {}
    for code_uri, resolver in resolvers.items():
        for key in route_keys(resolver):
            if key in served:
                problems.append(f"resolvers: {key} is served by {served[key]} and {code_uri}")
            served[key] = code_uri
    policies = set(ROUTE_POLICIES)
    problems += _differences("template.yaml", set(wired), "the resolvers", set(served))
    problems += _differences("template.yaml", set(wired), "ROUTE_POLICIES", policies)
    problems += _differences("the resolvers", set(served), "ROUTE_POLICIES", policies)
    for key in sorted(set(wired) & set(served)):
        if wired[key] != served[key]:
            problems.append(
                f"{key}: template.yaml sends it to {wired[key] or '?'}, "
                f"but {modules[served[key]]} serves it"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless all three agree")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        if problems:
            print("error: the API routes disagree:", *problems, sep="\n  ", file=sys.stderr)
            return 1
        print(
            f"API routes agree: {len(template_routes()[0])} routes in template.yaml, "
            "the resolvers and ROUTE_POLICIES"
        )
        return 0
    from loyalty.api.auth import ROUTE_POLICIES

    wired, _ = template_routes()
    for key in sorted(wired, key=lambda k: (k.split(" ", 1)[1], k)):
        policy = ROUTE_POLICIES.get(key)
        roles = ", ".join(sorted(policy.roles)) if policy else "NO POLICY"
        print(f"{key:45} {wired[key]:24} {roles}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
