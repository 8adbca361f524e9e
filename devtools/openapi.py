"""Generate docs/openapi.json from the API functions' resolvers (the routes, their models and
responses as the code declares them), merged into one document for the whole API.

    python -m devtools.openapi            write docs/openapi.json
    python -m devtools.openapi --check    exit 1 if docs/openapi.json is not what it would be
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from devtools.api import load_resolvers

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "docs" / "openapi.json"
TITLE = "Loyalty service API"
DESCRIPTION = (
    "Storefront API of the loyalty service. Every route needs a bearer JWT from the "
    "deployment's issuer: a member token (`sub` is the memberId; it may act only on itself), "
    "a service token (scope `loyalty/service`) or an admin token (scope `loyalty/admin`). "
    "Errors are JSON with a `message`."
)
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from the issuer configured as the stack's JwtIssuer parameter.",
    }
}


class MergeError(ValueError):
    """Two resolvers declare the same operation, or differing schemas under one name."""


def project_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def build_document() -> dict[str, Any]:
    """The merged OpenAPI document, as plain JSON data."""
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

    version = project_version()
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    openapi_version = ""
    for code_uri, resolver in load_resolvers().items():
        schema = resolver.get_openapi_schema(title=TITLE, version=version).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        openapi_version = schema["openapi"]
        for path, item in schema.get("paths", {}).items():
            target = paths.setdefault(path, {})
            for method, operation in item.items():
                # A 204 has no body (the resolver documents the route's `None` as one).
                for status, response in operation.get("responses", {}).items():
                    if status == "204":
                        response.pop("content", None)
                if method in target:
                    raise MergeError(f"{method.upper()} {path} is declared twice ({code_uri})")
                target[method] = operation
        for kind, entries in schema.get("components", {}).items():
            merged = components.setdefault(kind, {})
            for name, entry in entries.items():
                if name in merged and merged[name] != entry:
                    raise MergeError(f"components.{kind}.{name} differs between resolvers")
                merged[name] = entry
    components["securitySchemes"] = SECURITY_SCHEMES
    document: dict[str, Any] = {
        "openapi": openapi_version,
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": components,
    }
    OpenAPI.model_validate(document)  # a well-formed OpenAPI 3.1 document, or raise
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the file differs from what would be generated",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    output: Path = args.output
    document = build_document()
    wanted = render(document)
    try:
        shown = output.relative_to(REPO_ROOT)
    except ValueError:
        shown = output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current == wanted:
            print(f"{shown} is up to date")
            return 0
        if current:
            diff = list(
                difflib.unified_diff(
                    current.splitlines(),
                    wanted.splitlines(),
                    f"{shown} (committed)",
                    f"{shown} (generated)",
                    lineterm="",
                )
            )
            print("\n".join(diff[:60]), file=sys.stderr)
            if len(diff) > 60:
                print(f"... {len(diff) - 60} more diff lines", file=sys.stderr)
        state = "is missing" if not current else "is out of date with the API code"
        print(
            f"error: {shown} {state}; regenerate it with `make openapi` "
            "(bash scripts/openapi.sh) and commit the result",
            file=sys.stderr,
        )
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(wanted, encoding="utf-8")
    print(f"wrote {shown} ({len(document['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
