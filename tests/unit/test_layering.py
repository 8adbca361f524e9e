"""The layers' boundaries, read from the source (AST): a handler parses its event, calls one
service and maps the answer; it never touches the store (no `loyalty.dal`, no AWS SDK, no
raw stream images or their attribute names). The domain is pure: no AWS SDK, no `loyalty.dal`
(nor the services that use it)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
DOMAIN = sorted((ROOT / "layers" / "loyalty" / "loyalty" / "domain").rglob("*.py"))

SDK = ("boto3", "botocore", "mypy_boto3_dynamodb")
# A stream record's images, as Lambda delivers them and as Powertools exposes them.
RAW_IMAGES = {"NewImage", "OldImage", "new_image", "old_image"}


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def raw_image_reads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Where the code names a stream image: `x.new_image`, `x["NewImage"]`, `get("OldImage")`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in RAW_IMAGES:
            yield node.lineno, node.attr
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in RAW_IMAGES
        ):
            yield node.lineno, node.value


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_are_handlers_and_domain_modules_to_check():
    assert len(HANDLERS) >= 8
    assert any(path.name == "ledger.py" for path in DOMAIN)


@pytest.mark.parametrize("path", HANDLERS, ids=relative)
def test_a_handler_imports_neither_the_store_nor_the_aws_sdk(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    offending = [
        f"line {line}: {module}"
        for line, module in imported_modules(tree)
        if within(module, ("loyalty.dal", *SDK))
    ]
    assert not offending, f"{relative(path)} reaches past the services: {offending}"


@pytest.mark.parametrize("path", HANDLERS, ids=relative)
def test_a_handler_reads_no_raw_stream_image(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    offending = [f"line {line}: {name}" for line, name in raw_image_reads(tree)]
    assert not offending, f"{relative(path)} reads stored items' attributes: {offending}"


@pytest.mark.parametrize("path", DOMAIN, ids=relative)
def test_the_domain_imports_neither_the_store_nor_the_aws_sdk(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    offending = [
        f"line {line}: {module}"
        for line, module in imported_modules(tree)
        if within(module, ("loyalty.dal", "loyalty.services", "loyalty.runtime", *SDK))
    ]
    assert not offending, f"{relative(path)} is no longer pure: {offending}"


def test_the_checks_catch_what_they_are_for():
    handler = ast.parse(
        "from loyalty.dal.keys import due_index_shards\n"
        "import boto3\n"
        "from loyalty import dal\n"
        "def f(record):\n"
        "    return record.dynamodb.new_image, record['dynamodb'].get('NewImage')\n"
    )
    modules = [m for _, m in imported_modules(handler) if within(m, ("loyalty.dal", *SDK))]
    assert modules == [
        "loyalty.dal.keys",
        "loyalty.dal.keys.due_index_shards",
        "boto3",
        "loyalty.dal",
    ]
    assert [name for _, name in raw_image_reads(handler)] == ["new_image", "NewImage"]
