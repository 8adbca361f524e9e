"""loyalty-local's commands against a running stack (the seeded one), called as `main([...])`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.local.cli import main
from devtools.local.stack import LocalStack

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_token_prints_a_token_that_the_api_takes(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "token", "alice", "--url", seeded.base_url)
    assert code == 0 and "local development token" in err
    claims = seeded.tokens.verify(out.strip())
    assert claims["sub"] == "alice" and claims["scope"] == ""
    code, out, _ = run(
        capsys, "token", "ops", "--scope", "loyalty/admin", "--json", "--url", seeded.base_url
    )
    assert json.loads(out)["claims"]["scope"] == "loyalty/admin"


def test_order_and_refund_from_flags(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ("--url", seeded.base_url)
    code, out, _ = run(
        capsys, "order", "--member", "cli-kim", "--amount", "12.00", "--order-id", "cli-o1", *url
    )
    assert code == 0, out
    assert "processed" in out and "orderId=cli-o1" in out
    earned = seeded.member("cli-kim")["member"]["balance"]
    code, out, _ = run(
        capsys,
        "order", "--refund", "--order-id", "cli-o1", "--member", "cli-kim", "--amount", "2.00",
        *url,
    )  # fmt: skip
    assert code == 0, out
    # a sixth of the order refunded: a sixth of its purchase points reversed
    assert earned - seeded.member("cli-kim")["member"]["balance"] in (200, 400)


def test_order_from_a_file_with_bad_messages(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = Path(__file__).resolve().parents[2] / "events" / "sqs-batch-with-bad-messages.json"
    code, out, _ = run(capsys, "order", "--file", str(sample), "--json", "--url", seeded.base_url)
    report = json.loads(out)
    assert code == 1  # some messages did not go through
    statuses = [result["status"] for result in report["results"]]
    assert statuses[0] == "processed" and set(statuses[1:]) == {"dead-lettered"}
    assert len(report["batchItemFailures"]) == len(statuses) - 1
    code, out, _ = run(capsys, "dlq", "--url", seeded.base_url)
    assert code == 0 and "OrdersDeadLetterQueue" in out and "last error" in out


def test_jobs_with_now(seeded: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "jobs", "--now", "2027-06-15", "--job", "promotions", "--job", "tenure", "--json",
        "--url", seeded.base_url,
    )  # fmt: skip
    assert code == 0
    runs = json.loads(out)["runs"]
    assert [r["schedule"] for r in runs] == ["promotions", "tenure"]
    assert runs[1]["time"] == "2027-06-15T00:45:00Z"
    code, _, err = run(capsys, "jobs", "--job", "nope", "--url", seeded.base_url)
    assert code == 1 and "nope" in err


def test_member_shows_the_ledger(seeded: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "member", "alice", "--url", seeded.base_url)
    assert code == 0
    assert "alice — Alice Martin" in out
    assert "referral-referrer" in out and "purchase" in out
    code, _, err = run(capsys, "member", "nobody-here", "--url", seeded.base_url)
    assert code == 1 and "404" in err


def test_stream_export_and_replay(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "stream.jsonl"
    code, _, err = run(capsys, "stream", "export", str(target), "--url", seeded.base_url)
    assert code == 0 and "exported" in err
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert records and all(record["eventSource"] == "aws:dynamodb" for record in records)
    code, out, _ = run(
        capsys,
        "stream", "replay", str(target), "--function", "EventsPublisherFunction", "--json",
        "--url", seeded.base_url,
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["records"] == len(records)
    assert set(summary["delivered"]) == {"EventsPublisherFunction"}


def test_events_status_and_a_missing_stack(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "events", "--limit", "3", "--url", seeded.base_url)
    assert code == 0 and "published since start" in out
    code, out, _ = run(capsys, "status", "--url", seeded.base_url)
    assert code == 0 and "POST /members" in out and "OrdersQueue" in out
    code, _, err = run(capsys, "status", "--url", "http://127.0.0.1:9")
    assert code == 1 and "no local stack answers" in err


def test_up_refuses_a_non_loopback_host_without_the_flag(
    dynamodb_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "up", "--host", "0.0.0.0", "--endpoint-url", dynamodb_endpoint, "--no-seed"
    )
    assert code == 1 and "--insecure-dev-tokens" in err
