"""SnapStart (template parameter EnableSnapStart): many environments are restored from one
snapshot, so nothing random the service makes may come from state held in memory (Python's
seeded `random` generator); every coupon code, referral code, redemption and audit id must come
from the OS (`secrets`, `uuid4`), which a restored environment reads afresh. And the restore hook
drops what the snapshot must not share (the DynamoDB client and its credentials, cached rules)."""

from __future__ import annotations

import ast
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.template import load_template
from loyalty import runtime
from loyalty.domain.ledger import new_referral_code
from loyalty.domain.operations import AuditRecord
from loyalty.domain.rewards import new_coupon_code, redemption_id_for
from loyalty.domain.rules import ProgramRules

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_CODE = [REPO_ROOT / "layers" / "loyalty" / "loyalty", REPO_ROOT / "functions"]
API_FUNCTIONS = ("MembersApiFunction", "RedemptionFunction", "AdminApiFunction")

RANDOM_VALUES: dict[str, Callable[[], str]] = {
    "coupon code": new_coupon_code,
    "referral code": new_referral_code,
    "redemption id without an Idempotency-Key": lambda: redemption_id_for("m-1", None),
    "audit id": lambda: (
        AuditRecord(
            actor="admin", action="x", target="y", reason="z", at=datetime(2026, 1, 1, tzinfo=UTC)
        ).audit_id
    ),
}


def _python_files() -> Iterator[Path]:
    for root in SERVICE_CODE:
        yield from (path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def test_no_service_code_uses_the_seeded_random_generator_or_time_based_uuids() -> None:
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path}:{node.lineno} import {alias.name}"
                    for alias in node.names
                    if alias.name in {"random", "numpy.random"}
                ]
            elif isinstance(node, ast.ImportFrom) and node.module in {"random", "numpy.random"}:
                offenders.append(f"{path}:{node.lineno} from {node.module} import ...")
            elif isinstance(node, ast.Attribute) and node.attr == "uuid1":
                offenders.append(f"{path}:{node.lineno} uuid1 (time and host based)")
    assert offenders == []


@pytest.mark.parametrize("kind", sorted(RANDOM_VALUES))
def test_every_random_value_comes_from_the_os(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make = RANDOM_VALUES[kind]
    assert make() != make()  # random at all
    # With the OS's randomness fixed, the value is fixed: nothing else (no in-memory generator
    # a snapshot would hand to every restored environment) goes into it.
    fixed: Callable[[int], bytes] = lambda size: b"\x2a" * size  # noqa: E731
    monkeypatch.setattr(os, "urandom", fixed)
    monkeypatch.setattr(random, "_urandom", fixed)  # what secrets.SystemRandom reads
    random.seed(1)
    first = make()
    random.seed(2)  # a different in-memory generator state changes nothing
    assert make() == first


def test_the_retry_jitter_comes_from_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    from loyalty.services import retry

    pauses: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", pauses.append)
    monkeypatch.setattr(random, "_urandom", lambda size: b"\x00" * size)
    for seed in (1, 2):
        random.seed(seed)
        list(retry.attempts(3))
    assert pauses[:2] == pauses[2:]


def test_after_restore_drops_the_client_and_the_cached_rules_and_boards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from loyalty.dal import leaderboard

    monkeypatch.setenv("TABLE_NAME", "snapstart-test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    runtime.before_snapshot()  # the client is built into the snapshot
    in_snapshot = runtime._repository("snapstart-test")
    rules_key, board_key = ("snapstart-test", ""), ("snapstart-test", "all")
    boards_read: list[str] = []

    def read_board() -> None:
        boards_read.append("all")

    runtime._rules_cache.get(rules_key, ProgramRules)
    leaderboard._boards_read.get(board_key, read_board)
    runtime.after_restore()
    # Nothing the snapshot read is kept: the next use reads again.
    restored = ProgramRules()
    assert runtime._rules_cache.get(rules_key, lambda: restored) is restored
    leaderboard._boards_read.get(board_key, read_board)
    assert boards_read == ["all", "all"]
    assert runtime._repository("snapstart-test") is not in_snapshot


def test_snapstart_is_a_template_option_for_the_api_functions_and_off_by_default() -> None:
    template = load_template()
    parameter = template["Parameters"]["EnableSnapStart"]
    assert parameter["Default"] == "false"
    assert template["Conditions"]["SnapStartEnabled"] == {
        "Fn::Equals": [{"Ref": "EnableSnapStart"}, "true"]
    }
    for name in API_FUNCTIONS:
        properties = template["Resources"][name]["Properties"]
        assert properties["AutoPublishAlias"] == "live"
        assert properties["SnapStart"] == {
            "Fn::If": [
                "SnapStartEnabled",
                {"ApplyOn": "PublishedVersions"},
                {"Ref": "AWS::NoValue"},
            ]
        }
