"""What the functions emit: the EMF metric lines on stdout (Powertools Metrics prints them) and
the structured log lines of the Powertools logger, captured for assertions."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from loyalty import observability


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    dimensions: dict[str, str]
    namespace: str


def emf_points(text: str) -> list[MetricPoint]:
    """Every metric value in the EMF lines of `text` (other lines are ignored)."""
    points: list[MetricPoint] = []
    for line in text.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            names = [name for group in directive["Dimensions"] for name in group]
            dimensions = {name: str(blob[name]) for name in names}
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                for each in value if isinstance(value, list) else [value]:
                    points.append(
                        MetricPoint(metric["Name"], each, dimensions, directive["Namespace"])
                    )
    return points


def total(points: list[MetricPoint], name: str, **dimensions: str) -> float:
    """The sum of the metric's values whose dimensions include `dimensions`."""
    return sum(
        p.value
        for p in points
        if p.name == name and all(p.dimensions.get(k) == v for k, v in dimensions.items())
    )


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """`emitted()`: the metric points printed since the test began (or the last call)."""
    observability.discard()
    yield lambda: emf_points(capsys.readouterr().out)
    observability.discard()


class LogCapture:
    """The JSON log lines of the service's Powertools logger, read when asked."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    from functions.purchase_award import app  # every handler's Logger is the service's one

    capture = LogCapture()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(app.logger.registered_formatter)
    powertools = logging.getLogger(app.logger.name)
    powertools.addHandler(handler)
    try:
        yield capture
    finally:
        powertools.removeHandler(handler)
