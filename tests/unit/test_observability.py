"""The metrics module without AWS: EMF as Powertools prints it (namespace from
POWERTOOLS_METRICS_NAMESPACE), one line per set of dimensions, the dead-letter threshold equal to
the queues' redrive policy, and tracing that never imports aws_xray_sdk when it is off."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.template import load_template
from loyalty import observability
from tests.support.observability import total

REPO = Path(__file__).resolve().parents[2]
HANDLER_MODULES = sorted(
    f"functions.{path.parent.name}.app" for path in (REPO / "functions").glob("*/app.py")
)


def test_metrics_go_to_the_template_namespace_with_their_values(emitted, monkeypatch):
    observability.points_awarded(120, "review")
    observability.points_awarded(30, "review")
    observability.points_adjusted(-40)
    observability.points_adjusted(25)
    observability.redeemed(500)
    observability.order_recorded("duplicate", 0)
    observability.publish()
    points = emitted()
    namespace = load_template()["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    assert {point.namespace for point in points} == {namespace}
    assert total(points, "PointsAwarded", source="review") == 150
    assert total(points, "PointsAdjusted", direction="debit") == 40
    assert total(points, "PointsAdjusted", direction="credit") == 25
    assert total(points, "PointsRedeemed") == 500
    assert total(points, "Redemptions") == 1
    assert total(points, "DuplicateMessages") == 1
    assert all(point.dimensions["service"] == "loyalty" for point in points)


def test_nothing_counted_prints_nothing(emitted):
    observability.points_awarded(0, "purchase")
    observability.publish()
    assert emitted() == []


def test_a_message_is_dead_lettered_only_on_its_last_receive(emitted):
    for receive in range(1, observability.MAX_RECEIVE_COUNT + 1):
        observability.message_failed("orders", receive)
    observability.publish()
    assert total(emitted(), "MessagesDeadLettered", queue="orders") == 1


def test_the_dead_letter_threshold_is_the_queues_redrive_policy():
    resources = load_template()["Resources"]
    for queue in ("OrdersQueue", "JobWorkQueue"):
        redrive = resources[queue]["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == observability.MAX_RECEIVE_COUNT, queue


def test_only_declared_dimensions_are_accepted():
    with pytest.raises(ValueError):
        observability.count("PointsAwarded", 1, member_id="c-1")


@pytest.mark.parametrize(("status", "status_class"), [(200, "2xx"), (409, "4xx"), (503, "5xx")])
def test_api_requests_by_route_and_status_class(emitted, status, status_class):
    observability.api_request("GET /members/{memberId}", status)
    observability.publish()
    points = emitted()
    assert total(points, "ApiRequests", status_class=status_class) == 1
    assert {p.dimensions["route"] for p in points} == {"GET /members/{memberId}"}


def test_handlers_with_tracing_off_never_import_the_xray_sdk():
    script = (
        "import importlib, json, sys\n"
        f"for name in {HANDLER_MODULES!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('aws_xray_sdk'))))\n"
    )
    environment = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "loyalty-test",  # as in Lambda: only the flag turns it off
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "layers" / "loyalty")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    # Every handler was found (features add more: at least the eight of v1.1).
    assert len(HANDLER_MODULES) >= 8
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_tracing_follows_the_flag_as_powertools_does(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "loyalty-test")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not observability.tracing_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")
    assert observability.tracing_enabled()
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    assert not observability.tracing_enabled()


METRIC_NAMES = {
    value
    for name, value in vars(observability).items()
    if name.isupper() and isinstance(value, str) and name not in ("MAX_RECEIVE_COUNT",)
}


def _loyalty_metrics_of_the_dashboard() -> set[str]:
    resources = load_template()["Resources"]
    text = resources["LoyaltyDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    names: set[str] = set()
    for widget in body["widgets"]:
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], str) and metric[0] == "Loyalty":
                names.add(metric[1])
            elif isinstance(metric[0], dict):
                names.update(re.findall(r'MetricName="(\w+)"', metric[0]["expression"]))
    return names


def test_the_dashboard_and_alarms_use_the_metrics_the_code_emits():
    assert _loyalty_metrics_of_the_dashboard() <= METRIC_NAMES
    resources = load_template()["Resources"]
    for name, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        stats = [properties] + [
            q["MetricStat"]["Metric"] for q in properties.get("Metrics", []) if "MetricStat" in q
        ]
        for metric in stats:
            if metric.get("Namespace") != "Loyalty":
                continue
            assert metric["MetricName"] in METRIC_NAMES, name
            for dimension in metric["Dimensions"]:
                allowed = observability.DIMENSIONS.get(dimension["Name"])
                if dimension["Name"] == "service":
                    assert dimension["Value"] == os.environ["POWERTOOLS_SERVICE_NAME"]
                elif allowed is not None:
                    assert dimension["Value"] in allowed, name


def test_the_redemption_5xx_alarm_watches_the_redemption_route():
    from tests.support.api import REDEEM

    alarm = load_template()["Resources"]["Redemption5xxAlarm"]["Properties"]
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions["route"] == REDEEM.key
    assert dimensions["status_class"] == "5xx"


def test_metrics_disabled_prints_nothing(emitted, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    observability.points_awarded(10, "review")
    observability.redeemed(5)
    observability.publish()
    assert emitted() == []
