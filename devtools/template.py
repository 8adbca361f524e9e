"""Read ``template.yaml`` (CloudFormation/SAM) and create its DynamoDB table locally.

The template is the single source of truth for the table: tests and benches build their table
from the one ``AWS::DynamoDB::Table`` resource's properties, so keys, GSIs and streams can't drift.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

# Short-form intrinsic functions, mapped to their long form ("!Ref" -> {"Ref": ...}).
_SHORT_TAGS = (
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Select",
    "Join",
    "FindInMap",
    "ImportValue",
    "Split",
    "GetAZs",
    "Base64",
    "Cidr",
    "Transform",
    "ToJsonString",
    "Length",
)
_BARE_NAMES = {"Ref", "Condition"}

# Table properties that create_table takes (others: PITR, SSE, TTL, tags, ... are ignored).
_CREATE_TABLE_KEYS = (
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
)
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


class TemplateError(ValueError):
    """template.yaml does not have what is expected."""


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that understands CloudFormation short-form tags."""


def _make_constructor(name: str) -> Any:
    key = name if name in _BARE_NAMES else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:  # pragma: no cover - yaml has no other node kinds
            raise TemplateError(f"unsupported node for !{name}")
        return {key: value}

    return construct


for _tag in _SHORT_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _make_constructor(_tag))


def load_template(template_path: str | Path | None = None) -> dict[str, Any]:
    """The template as plain data, short tags expanded to their long form."""
    path = Path(template_path) if template_path is not None else DEFAULT_TEMPLATE
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=CfnLoader)
    if not isinstance(data, dict):
        raise TemplateError(f"{path} is not a YAML mapping")
    return data


def table_resource(template_path: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the single ``AWS::DynamoDB::Table`` in the template."""
    resources = load_template(template_path).get("Resources") or {}
    tables = [
        (name, res)
        for name, res in resources.items()
        if isinstance(res, dict) and res.get("Type") == "AWS::DynamoDB::Table"
    ]
    if len(tables) != 1:
        names = [name for name, _ in tables]
        raise TemplateError(f"expected exactly one AWS::DynamoDB::Table, found {names}")
    return tables[0]


def table_definition(template_path: str | Path | None = None) -> dict[str, Any]:
    """The boto3 ``create_table`` keyword arguments (without TableName) for the template's table."""
    _, resource = table_resource(template_path)
    props: dict[str, Any] = resource.get("Properties") or {}
    definition: dict[str, Any] = {}
    for key in _CREATE_TABLE_KEYS:
        if key in props:
            definition[key] = props[key]
    for index_key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if index_key in definition:
            definition[index_key] = [
                {k: index[k] for k in _INDEX_KEYS if k in index} for index in definition[index_key]
            ]
    stream = definition.get("StreamSpecification")
    if stream is not None:
        definition["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    definition.setdefault("BillingMode", "PROVISIONED")
    if definition["BillingMode"] == "PAY_PER_REQUEST":
        definition.pop("ProvisionedThroughput", None)
    _check_no_intrinsics(definition)
    return definition


def time_to_live(template_path: str | Path | None = None) -> dict[str, Any] | None:
    """The table's ``TimeToLiveSpecification`` (AttributeName, Enabled), if any."""
    _, resource = table_resource(template_path)
    spec = (resource.get("Properties") or {}).get("TimeToLiveSpecification")
    if not spec:
        return None
    return {"AttributeName": spec["AttributeName"], "Enabled": bool(spec.get("Enabled", True))}


def _check_no_intrinsics(value: Any, where: str = "table") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" or str(key).startswith("Fn::"):
                raise TemplateError(f"{where} uses {key}; the local table needs literal values")
            _check_no_intrinsics(item, f"{where}.{key}")
    elif isinstance(value, list):
        for position, item in enumerate(value):
            _check_no_intrinsics(item, f"{where}[{position}]")


def create_table(
    client: Any, table_name: str, template_path: str | Path | None = None
) -> dict[str, Any]:
    """Create the template's table as ``table_name``, wait until ACTIVE, apply its TTL setting.

    ``client`` is a boto3 DynamoDB client. Returns the ``describe_table`` Table description.
    """
    client.create_table(TableName=table_name, **table_definition(template_path))
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    ttl = time_to_live(template_path)
    if ttl is not None and ttl["Enabled"]:
        # Some local engines don't take TTL; it is optional for tests.
        with contextlib.suppress(Exception):
            client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    description: dict[str, Any] = client.describe_table(TableName=table_name)["Table"]
    return description


def delete_table(client: Any, table_name: str) -> None:
    """Delete ``table_name`` if it exists (no wait: names are unique per test)."""
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_table(TableName=table_name)
