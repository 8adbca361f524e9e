"""The table's stream as Lambda receives it: records read from DynamoDB Local's stream, filtered
with template.yaml's own FilterCriteria. The reading and the filtering live in
devtools/local/streams.py (the local stack delivers the stream the same way)."""

from __future__ import annotations

import functools
import os
from typing import Any

from devtools.local.streams import StreamReader as _StreamReader
from devtools.local.streams import admitted, lambda_record, load_patterns, matches
from devtools.template import load_template

__all__ = ["StreamReader", "delivered_to", "lambda_record", "matches", "stream_event"]


class StreamReader(_StreamReader):
    """Reads every record written to a table's stream (on the test's DynamoDB Local)."""

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name, endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])


def stream_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


@functools.cache
def template_filters(function: str) -> list[dict[str, Any]]:
    """A stream consumer's FilterCriteria patterns, from template.yaml (read once a session:
    the model tests deliver the stream at every step, and the template takes a while to
    parse)."""
    properties = load_template()["Resources"][function]["Properties"]
    (trigger,) = (e for e in properties["Events"].values() if e["Type"] == "DynamoDB")
    return load_patterns(trigger["Properties"].get("FilterCriteria"))


def delivered_to(function: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The stream event `function` receives: only the records its filter criteria admit."""
    patterns = template_filters(function)
    return stream_event([r for r in records if admitted(patterns, r)])
