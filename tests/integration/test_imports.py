"""Bulk import of members and balances (docs/import.md), through `loyalty-local import` with
--table against DynamoDB Local: the dry run, exactly-once on a re-run and after a kill, the
undo (debt when spent), the sample exports of two platforms."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from devtools.local import cli
from loyalty.dal.imports import DynamoImportRepository
from tests.support.api import Clock, all_activity, enroll, member, redeem
from tests.support.table import list_entries, list_lots

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "events" / "import"
NOW = "2026-12-10T12:00:00Z"

pytestmark = pytest.mark.calendar


def run_import(
    capsys: pytest.CaptureFixture[str],
    table: str,
    endpoint: str,
    path: Path,
    *extra: str,
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()  # the handlers' metric lines printed so far
    code = cli.main(
        [
            "import",
            str(path),
            "--table",
            table,
            "--endpoint-url",
            endpoint,
            "--now",
            NOW,
            "--json",
            *extra,
        ]
    )
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def importer(
    table_name: str, dynamodb_endpoint: str, capsys: pytest.CaptureFixture[str], clock: Clock
) -> Any:
    return lambda path, *extra: run_import(capsys, table_name, dynamodb_endpoint, path, *extra)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_dry_run_writes_nothing_and_names_every_invalid_row(importer, tmp_path, snapshot):
    path = write(
        tmp_path,
        "members.csv",
        "memberId,name,email,points,earnedAt,lifetimePoints\n"
        "c-1,Ada,ada@example.com,100,2026-11-01,\n"
        "c 2,Ben,ben@example.com,100,2026-11-01,\n"  # a space in the member id
        "c-3,Cy,not-an-email,100,2026-11-01,\n"
        "c-4,Di,di@example.com,-5,2026-11-01,\n"
        "c-5,Ed,ed@example.com,100,2027-01-01,\n"  # after the import
        "c-6,Flo,flo@example.com,500,2026-11-01,200\n"  # lifetime below the points
        "c-7,Gil,ada@example.com,100,2026-11-01,\n"  # c-1's email
        "c-8,Hal\n",
    )
    before = snapshot()
    code, report = importer(path, "--batch", "b-1", "--dry-run")
    assert snapshot() == before
    assert code == 1
    assert report["dry_run"] is True
    assert (report["rows"], report["imported"], report["members_created"]) == (8, 1, 1)
    assert report["points"] == 100
    reasons = {row["line"]: row["reason"] for row in report["invalid"]}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "memberId" in reasons[3]
    assert "email" in reasons[4]
    assert "points" in reasons[5]
    assert "after the time of the import" in reasons[6]
    assert "lifetimePoints" in reasons[7]
    assert reasons[8] == "email: belongs to another member"
    assert reasons[9] == "2 values for 6 columns"


def test_the_sample_file_lands_with_its_dates_tier_basis_and_profiles(importer, table_name):
    code, report = importer(SAMPLES / "members.csv", "--batch", "sample")
    assert code == 0, report
    assert (report["imported"], report["members_created"], report["invalid"]) == (4, 3, [])
    assert (report["points"], report["expired_on_arrival"]) == (1950, 300)

    ada = member("c-1001").body
    # 1200 earned 2026-03-15 (expires 2027-03-15) and 450 earned 2026-09-01; lifetime 5400
    # stands for the first row, the second row adds its 450.
    assert (ada["name"], ada["balance"], ada["tierPoints"], ada["tier"]) == (
        "Ada Quill",
        1650,
        5850,
        "Gold",
    )
    assert [(e["points"], e["expiresAt"][:10]) for e in ada["expiring"]] == [
        (1200, "2027-03-15"),
        (450, "2027-09-01"),
    ]
    # Earned 2025-06-01: older than the 12 months of expiry, expired on arrival.
    ben = member("c-1002").body
    assert (ben["balance"], ben["tierPoints"]) == (0, 300)
    assert sorted((e["type"], e["points"]) for e in all_activity("c-1002")) == [
        ("earn", 300),
        ("expire", -300),
    ]
    # Lifetime points only: the tier, no balance.
    chloe = member("c-1003").body
    assert (chloe["balance"], chloe["tierPoints"], chloe["tier"]) == (0, 7000, "Gold")
    entries = [e for e in all_activity("c-1001") if e["reason"] == "import"]
    assert sorted(e["reference"] for e in entries) == ["sample#1", "sample#4"]


def test_a_batch_run_again_lands_each_row_once(importer, table_name):
    first = importer(SAMPLES / "members.jsonl", "--batch", "again")[1]
    second = importer(SAMPLES / "members.jsonl", "--batch", "again")[1]
    assert (first["imported"], first["already_landed"]) == (2, 0)
    assert (second["imported"], second["already_landed"], second["members_created"]) == (0, 2, 0)
    assert member("c-2001").body["balance"] == 800
    assert member("c-2002").body["balance"] == 75
    # Another batch id is another import: the same rows land again.
    third = importer(SAMPLES / "members.jsonl", "--batch", "another")[1]
    assert (third["imported"], third["members_created"]) == (2, 0)
    assert member("c-2001").body["balance"] == 1600


def test_a_known_member_keeps_their_profile_and_gets_the_points(importer, tmp_path):
    assert enroll("c-9", name="Iris", email="iris@example.com").status == 201
    path = write(
        tmp_path,
        "m.jsonl",
        '{"memberId": "c-9", "name": "Someone Else", "email": "else@example.com", '
        '"points": 250, "earnedAt": "2026-12-01"}\n',
    )
    code, report = importer(path, "--batch", "known")
    assert code == 0 and report["members_created"] == 0
    view = member("c-9").body
    assert (view["name"], view["email"], view["balance"]) == ("Iris", "iris@example.com", 250)


def test_a_row_whose_email_belongs_to_another_member_is_refused_alone(importer, tmp_path):
    assert enroll("c-10", email="taken@example.com").status == 201
    path = write(
        tmp_path,
        "m.csv",
        "memberId,email,points,earnedAt\nc-11,Taken@Example.com,100,2026-12-01\n"
        "c-12,free@example.com,100,2026-12-01\n",
    )
    code, report = importer(path, "--batch", "emails")
    assert code == 1
    assert report["invalid"] == [
        {"number": 1, "line": 2, "reason": "email: belongs to another member"}
    ]
    assert member("c-11").status == 404
    assert member("c-12").body["balance"] == 100


@pytest.mark.parametrize(
    ("sample", "fmt", "balances"),
    [
        ("smile-customers.csv", "smile", {"304169228": 640, "304169229": 0, "304169230": 1250}),
        (
            "loyaltylion-customers.csv",
            "loyaltylion",
            {"1001": (500, 1200), "1002": (3200, 7300), "1003": (0, 0)},
        ),
    ],
)
def test_a_platform_export_imports_cleanly(importer, sample, fmt, balances):
    code, report = importer(SAMPLES / sample, "--batch", fmt, "--format", fmt)
    assert code == 0, report
    assert report["invalid"] == []
    assert report["members_created"] == len(balances)
    for member_id, expected in balances.items():
        view = member(member_id).body
        if isinstance(expected, tuple):
            assert (view["balance"], view["tierPoints"]) == expected, member_id
        else:
            assert view["balance"] == expected, member_id


def test_an_undo_takes_back_open_points_and_turns_spent_ones_into_debt(
    importer, tmp_path, table_name, clock
):
    path = write(
        tmp_path,
        "m.csv",
        "memberId,points,earnedAt,lifetimePoints\n"
        "u-1,1200,2026-11-01,6000\n"  # will spend 1000 of it
        "u-2,300,2026-11-01,\n"
        "u-3,300,2025-01-01,\n",  # expired on arrival: nothing left to take back
    )
    assert importer(path, "--batch", "oops")[0] == 0
    assert redeem("u-1", "discount-10", key="k-1").status == 201
    assert member("u-1").body["balance"] == 200

    code, undo = importer(path, "--batch", "oops", "--undo")
    assert code == 0
    assert (undo["undone"], undo["already_undone"]) == (3, 0)
    # u-1: 200 open points removed, 1000 spent become debt; u-2: 300 removed.
    assert (undo["points_removed"], undo["debt"]) == (500, 1000)
    assert undo["tier_basis_removed"] == 6000 + 300 + 300
    u1 = member("u-1").body
    assert (u1["balance"], u1["tierPoints"], u1["tier"], u1["expiring"]) == (
        -1000,
        0,
        "Bronze",
        [],
    )
    assert (member("u-2").body["balance"], member("u-3").body["balance"]) == (0, 0)
    repository = DynamoImportRepository(table_name)
    lots = list_lots(repository, "u-1")
    assert [(lot.points, lot.original_points) for lot in lots] == [(0, 1200)]
    reversal = [e for e in list_entries(repository, "u-1") if e.reason == "import-undone"]
    assert [(e.type, e.points, e.reference) for e in reversal] == [("reverse", -1200, "oops#1")]

    # Undone once: again changes nothing; the batch's rows do not land again either.
    again = importer(path, "--batch", "oops", "--undo")[1]
    assert (again["undone"], again["already_undone"]) == (0, 3)
    rerun = importer(path, "--batch", "oops")[1]
    assert (rerun["imported"], rerun["already_landed"]) == (0, 3)
    assert member("u-1").body["balance"] == -1000
    assert sorted(undo["members_created"]) == ["u-1", "u-2", "u-3"]


def test_an_undo_dry_run_reports_what_the_undo_then_does_for_a_member_with_several_rows(
    importer, tmp_path, snapshot
):
    """Each of u-1's rows is planned against the member as the rows before it would leave
    them: the second row's reversal adds to the debt the first one made."""
    path = write(
        tmp_path,
        "m.csv",
        "memberId,points,earnedAt\nu-1,600,2026-10-01\nu-1,600,2026-11-01\nu-2,300,2026-11-01\n",
    )
    assert importer(path, "--batch", "two")[0] == 0
    assert redeem("u-1", "discount-10", key="k-1").status == 201  # 1,000 points
    assert member("u-1").body["balance"] == 200
    before = snapshot()

    code, planned = importer(path, "--batch", "two", "--undo", "--dry-run")
    assert code == 0
    assert snapshot() == before
    code, undone = importer(path, "--batch", "two", "--undo")
    assert code == 0

    # u-1: the 200 open points removed, the 1,000 spent become debt; u-2: 300 removed.
    assert (undone["points_removed"], undone["debt"]) == (500, 1000)
    assert member("u-1").body["balance"] == -1000
    assert (planned["undone"], planned["points_removed"], planned["debt"]) == (3, 500, 1000)


def test_an_import_killed_halfway_and_resumed_lands_every_row_once(
    table_name, dynamodb_endpoint, tmp_path
):
    rows = 1000
    path = write(
        tmp_path,
        "big.csv",
        "memberId,points,earnedAt\n"
        + "".join(f"k-{n % 450},{n + 1},2026-11-01T00:00:00Z\n" for n in range(rows)),
    )
    command = [
        sys.executable,
        "-m",
        "devtools.local.cli",
        "import",
        str(path),
        "--batch",
        "kill",
        "--table",
        table_name,
        "--endpoint-url",
        dynamodb_endpoint,
        "--now",
        NOW,
        "--json",
    ]
    environment = os.environ | {
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'layers/loyalty'}"
    }
    repository = DynamoImportRepository(table_name)
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, cwd=REPO_ROOT)
    deadline = time.monotonic() + 120
    while len(repository.landed_rows("kill")) < 100:
        assert process.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.5)  # a transaction sent just before the kill may still be committing
    landed_at_kill = len(repository.landed_rows("kill"))
    assert 100 <= landed_at_kill < rows

    resumed = subprocess.run(command, env=environment, capture_output=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["already_landed"] == landed_at_kill
    assert report["imported"] == rows - landed_at_kill
    assert len(repository.landed_rows("kill")) == rows
    # Every row's points exactly once: each member's balance is the sum of their rows.
    expected: dict[str, int] = {}
    for n in range(rows):
        expected[f"k-{n % 450}"] = expected.get(f"k-{n % 450}", 0) + n + 1
    for member_id in ("k-0", "k-1", "k-149", "k-150", "k-449"):
        entries = [e for e in list_entries(repository, member_id) if e.reason == "import"]
        state = repository.get_member(member_id)
        assert state is not None
        assert state.balance == sum(e.points for e in entries) == expected[member_id]
        assert len(entries) == len({e.reference for e in entries})
    total = sum(state.balance for state in repository.get_members(expected).values())
    assert total == sum(expected.values())
