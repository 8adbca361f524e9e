"""The storefront API's resolvers, imported the way the dev tools need them (no AWS, no table).

Each API function's `app.py` defines a Powertools resolver named `app`; the template wires the
function's `HttpApi` events to it. `devtools.openapi` documents these resolvers and
`devtools.routes` checks them against the template and the authorization policies.
"""

from __future__ import annotations

import importlib
import os
import re

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver


def resolver_modules() -> dict[str, str]:
    """Module of each API function's handler, by the function's CodeUri, as template.yaml
    declares them (a function with HttpApi events; `Handler: app.handler` in
    `functions/x/` is the module `functions.x.app`)."""
    from devtools.template import load_template

    modules: dict[str, str] = {}
    for resource in (load_template().get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        events = (props.get("Events") or {}).values()
        if not any(event.get("Type") == "HttpApi" for event in events):
            continue
        code_uri = str(props.get("CodeUri", ""))
        handler_module = str(props.get("Handler", "")).rsplit(".", 1)[0]
        package = code_uri.strip("/").replace("/", ".")
        modules[code_uri] = f"{package}.{handler_module}"
    return modules


_PATH_PARAMETER = re.compile(r"<(\w+)>")


def load_resolvers() -> dict[str, APIGatewayHttpResolver]:
    """Every API function's resolver, by CodeUri. Importing needs nothing real: the table name
    and region are only read when a request is served."""
    os.environ["TABLE_NAME"] = "openapi"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    resolvers: dict[str, APIGatewayHttpResolver] = {}
    for code_uri, module_name in resolver_modules().items():
        resolver = getattr(importlib.import_module(module_name), "app", None)
        if not isinstance(resolver, APIGatewayHttpResolver):
            raise TypeError(f"{module_name}.app is not an APIGatewayHttpResolver")
        resolvers[code_uri] = resolver
    return resolvers


def route_keys(resolver: APIGatewayHttpResolver) -> set[str]:
    """The resolver's routes as API Gateway route keys: `GET /members/{memberId}`."""
    keys: set[str] = set()
    for route in [*resolver._static_routes, *resolver._dynamic_routes]:
        path = _PATH_PARAMETER.sub(r"{\1}", route.path)
        keys.add(f"{route.method.upper()} {path}")
    return keys
