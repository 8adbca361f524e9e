"""loyalty-local as a new user meets it: the printed hints reach the stack they were printed by
(whatever --port), bad input and closed pipes end in a sentence rather than a traceback,
messages say what is expected in plain words, `jobs` says what it did, and `stream export`
writes where it is told."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devtools.local import cli
from devtools.local.cli import banner, main, plain, plain_reason
from devtools.local.effects import JobEffects, describe
from devtools.local.stack import LocalStack
from tests.local.conftest import http

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_ambient_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer's environment or running stack decides where these commands go."""
    monkeypatch.delenv("LOYALTY_LOCAL_URL", raising=False)
    state = tmp_path / "state.json"
    monkeypatch.setenv("LOYALTY_LOCAL_STATE", str(state))
    return state


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- the hints and --port -----------------------------------------------------------------


def test_the_printed_hints_work_as_pasted_on_another_port(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = urlsplit(seeded.base_url).port
    assert port != cli.DEFAULT_PORT  # the test stack runs on a free port
    monkeypatch.setenv("LOYALTY_LOCAL_CWD", str(ROOT))
    text = banner(seeded, 1.0)
    program = cli.cli_command()  # .venv/bin/loyalty-local from the checkout's root
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith(program)]
    assert len(commands) == 3, text
    assert all(command.endswith(f" --port {port}") for command in commands)
    assert f"token alice --port {port})" in text
    for command in commands:
        if " jobs " in command:
            continue  # runs every job for the shared stack: covered below on a stack of its own
        argv = shlex.split(command)[1:]
        code, out, err = run(capsys, *argv)
        assert code == 0, (command, out, err)


def test_a_non_default_port_is_named_in_the_hints_and_the_default_is_not() -> None:
    assert cli.client_flag("http://127.0.0.1:8787") == ""
    assert cli.client_flag("http://127.0.0.1:18787") == " --port 18787"
    assert cli.client_flag("http://localhost:18787") == " --url http://localhost:18787"


def test_every_command_takes_port(seeded: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    port = str(urlsplit(seeded.base_url).port)
    for argv in (
        ["token", "alice"],
        ["member", "alice"],
        ["dlq"],
        ["events", "--limit", "1"],
        ["status"],
        ["stream", "export", os.devnull],
    ):
        code, out, err = run(capsys, *argv, "--port", port)
        assert code == 0, (argv, out, err)


def test_without_url_or_port_the_cli_finds_the_stack_up_started(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str], _no_ambient_stack: Path
) -> None:
    cli.write_state(seeded.base_url)  # what `up` does once the stack answers
    assert json.loads(_no_ambient_stack.read_text())["url"] == seeded.base_url
    code, out, _ = run(capsys, "token", "alice")
    assert code == 0 and seeded.tokens.verify(out.strip())["sub"] == "alice"
    cli.clear_state()  # what `up` does when it stops
    assert not _no_ambient_stack.exists()


def test_a_stale_state_file_is_ignored_and_the_error_says_where_the_address_came_from(
    capsys: pytest.CaptureFixture[str], _no_ambient_stack: Path
) -> None:
    _no_ambient_stack.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 2**22 + 1}))
    args = cli.parser().parse_args(["status"])
    assert cli.resolve_url(args) == (cli.DEFAULT_URL, "the default")
    code, _, err = run(capsys, "status", "--port", "9")
    assert code == 1
    assert "no local stack answers at http://127.0.0.1:9" in err
    assert "The address came from --port" in err and "Traceback" not in err


# ---- no tracebacks ------------------------------------------------------------------------


def test_a_line_that_is_not_json_is_refused_by_number(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    messages = tmp_path / "orders.jsonl"
    good = {"type": "order.completed", "orderId": "u-o1", "memberId": "u-kim",
            "occurredAt": "2030-01-10T10:00:00Z", "currency": "USD", "lines": []}  # fmt: skip
    messages.write_text(json.dumps(good) + "\n\n{not json}\n")
    code, out, err = run(capsys, "order", "--file", str(messages), "--url", seeded.base_url)
    assert code == 1 and out == ""
    assert f"line 3 of {messages} is not JSON" in err and "nothing was sent" in err
    assert http(seeded.base_url + "/local/members/u-kim").status == 404  # nothing was sent
    replay = tmp_path / "stream.jsonl"
    replay.write_text("{}\nnot json\n")
    code, _, err = run(capsys, "stream", "replay", str(replay), "--url", seeded.base_url)
    assert code == 1 and "line 2" in err


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_quietly(
    seeded: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["member", "alice", "--url", seeded.base_url]) == 141
    monkeypatch.undo()
    assert "Traceback" not in capsys.readouterr().err


def test_a_closed_pipe_in_a_real_process_prints_no_traceback(seeded: LocalStack) -> None:
    # `loyalty-local stream export - | head -c 100`: far more than a pipe's buffer
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.local.cli", "stream", "export", "-",
         "--url", seeded.base_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers' / 'loyalty'}"},
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100)
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, 141), err
    assert "Traceback" not in err and "BrokenPipeError" not in err


# ---- plain words --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "says"),
    [
        ("-5.00", "--amount cannot be negative (got -5.00). To give money back, send a refund"),
        ("5.001", "has fractions of a cent"),
        ("five", "is not an amount of money; write dollars and cents, e.g. --amount 42.00"),
        ("NaN", "is not an amount of money"),
    ],
)
def test_amounts_are_explained_in_words(
    amount: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "order", "--member", "kim", "--amount", amount, "--port", "9")
    assert code == 1 and says in err
    assert "decimal string" not in err and "no local stack" not in err  # refused before sending


def test_amounts_in_dollars_are_written_with_cents() -> None:
    assert cli.money("42", refund=False) == "42.00"
    assert cli.money("$3.5", refund=False) == "3.50"
    assert cli.money("0", refund=False) == "0.00"
    with pytest.raises(cli.CliError, match="gives nothing back"):
        cli.money("0.00", refund=True)


def test_other_flags_are_explained_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "order", "--member", "kim smith", "--amount", "5", "--port", "9")
    assert code == 1 and "is not a member id: use 1 to 64 letters, digits" in err
    code, _, err = run(
        capsys, "order", "--member", "kim", "--amount", "5", "--at", "monday", "--port", "9"
    )
    assert code == 1 and "is not a date or time; write e.g. 2026-11-27" in err
    code, _, err = run(
        capsys, "order", "--member", "kim", "--amount", "5", "--quantity", "0", "--port", "9"
    )
    assert code == 1 and "--quantity is how many were bought" in err
    # A given time needs no stack (the url is asked only for the stack's "now").
    unused = "http://127.0.0.1:9"
    assert cli.occurred_at("2030-01-10", unused) == "2030-01-10T00:00:00Z"
    assert cli.occurred_at("2030-01-10T12:00:00+02:00", unused) == "2030-01-10T10:00:00Z"


def test_a_bad_email_is_explained_without_a_regular_expression(seeded: LocalStack) -> None:
    token = seeded.mint_token("u-lee")
    body = {"memberId": "u-lee", "name": "Lee", "email": "lee at shop"}
    answer = http(seeded.base_url + "/members", "POST", body, token=token)
    assert answer.status == 422
    (problem,) = answer.body["errors"]
    said = plain(problem["field"], problem["problem"])  # what the CLI shows of it
    assert said.startswith("email") and "pattern" not in said and "^" not in said
    expression = "String should match pattern '^[^@\\s]{1,64}@[A-Za-z0-9.]+$'"
    assert plain("body.email", expression) == "email is not an email address (like name@shop.com)"
    reason = "invalid order message: memberId: String should match pattern '^[A-Za-z0-9]+$'"
    assert plain_reason(reason) == (
        "invalid order message: memberId is not a member id "
        "(1 to 64 letters, digits, '-', '_', '.' or '@')"
    )


def test_api_errors_reach_the_user_in_words(
    seeded: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.request

    token = seeded.mint_token("u-lee")
    original = urllib.request.Request

    def with_token(*args: Any, **kwargs: Any) -> urllib.request.Request:
        call = original(*args, **kwargs)
        call.add_header("Authorization", f"Bearer {token}")
        return call

    # cli.request with the member's token (the CLI itself calls only the /local/ routes)
    monkeypatch.setattr(cli.urllib.request, "Request", with_token)
    body = {"memberId": "u-lee", "name": "Lee", "email": "lee at shop"}
    with pytest.raises(cli.CliError) as refused:
        cli.request(seeded.base_url, "POST", "/members", body)
    message = str(refused.value)
    assert "422" in message and "email is not an email address" in message
    assert "pattern" not in message


# ---- jobs say what they did ---------------------------------------------------------------


def test_jobs_say_what_they_did(stack_factory: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stack: LocalStack = stack_factory()
    url = ("--url", stack.base_url)
    # two members' orders on fixed dates (their points expire 12 months later), one birthday
    for member, order_id in (("j-ann", "j-o1"), ("j-bo", "j-o2")):
        code, out, _ = run(
            capsys, "order", "--member", member, "--amount", "10.00", "--order-id", order_id,
            "--at", "2030-03-10T10:00:00Z", *url,
        )  # fmt: skip
        assert code == 0, out
    token = stack.mint_token("j-ann")
    enrolled = http(
        stack.base_url + "/members", "POST",
        {"memberId": "j-ann", "name": "Ann", "email": "ann@example.com", "birthday": "1990-05-04"},
        token=token,
    )  # fmt: skip
    assert enrolled.status in (200, 201), enrolled.body

    code, out, _ = run(capsys, "jobs", "--now", "2031-02-20", "--job", "expiry", *url)
    assert code == 0
    assert "expiry job, as on 2031-02-20T00:15:00Z:" in out
    # two earnings each (the order, the first-purchase bonus): 1,150 points a member
    assert "2 members warned that 2,300 points expire soon (4 warnings, one per earning" in out

    code, out, _ = run(capsys, "jobs", "--now", "2031-03-20", "--job", "expiry", *url)
    assert code == 0 and "2,300 points expired, from 2 members" in out

    code, out, _ = run(capsys, "jobs", "--now", "2031-05-02", "--job", "birthday", *url)
    assert code == 0 and "1 member granted the birthday bonus: 1,500 points in all" in out

    code, out, _ = run(capsys, "jobs", "--now", "2031-05-02", "--job", "birthday", *url)
    assert code == 0 and "nothing was due" in out  # once a year
    said = [line for line in out.splitlines() if not line.startswith("{")]  # not the logs
    assert said == ["birthday job, as on 2031-05-02T00:30:00Z:", "  nothing was due"]


def test_effects_from_stream_records() -> None:
    def record(event: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> Any:
        typed = {k: {"N": str(v)} if isinstance(v, int) else {"S": v} for k, v in new.items()}
        old_typed = {k: {"N": str(v)} for k, v in (old or {}).items()}
        return {"eventName": event, "dynamodb": {"NewImage": typed, "OldImage": old_typed}}

    effects = JobEffects()
    effects.add(
        [
            record("INSERT", {"itemType": "entry", "entryType": "earn", "memberId": "a",
                              "points": 200, "reason": "tenure-milestone-2"}),
            record("INSERT", {"itemType": "entry", "entryType": "expire", "memberId": "a",
                              "points": -40, "reason": "expiry"}),
            record("INSERT", {"itemType": "lot", "memberId": "a", "points": 200}),
            record("MODIFY", {"itemType": "member", "memberId": "b", "pendingPoints": 0},
                   {"pendingPoints": 300}),
            record("INSERT", {"itemType": "promotion", "name": "holidays"}),
        ]
    )  # fmt: skip
    assert describe(effects.summary()) == [
        "1 member granted the milestone of 2 months as a member: 200 points in all",
        "40 points expired, from 1 member",
        "300 points released from the return-window hold, for 1 member",
        "promotion started: holidays",
    ]
    assert describe(JobEffects().summary()) == ["nothing was due"]


def test_effects_of_the_coupons_job() -> None:
    def change(old: dict[str, str], new: dict[str, str], item_type: str = "coupon") -> Any:
        def typed(image: dict[str, str]) -> dict[str, Any]:
            return {k: {"S": v} for k, v in (image | {"itemType": item_type}).items()}

        return {"eventName": "MODIFY", "dynamodb": {"NewImage": typed(new), "OldImage": typed(old)}}

    issued = {"couponStatus": "issued"}
    warned = issued | {"couponWarnedAt": "2027-02-01T01:00:00Z"}
    effects = JobEffects()
    effects.add(
        [
            change(issued, warned),
            change(issued, warned, "redemption"),  # the copy: the same coupon, not counted
            change(warned, warned | {"couponStatus": "expired"}),
            change(issued, {"couponStatus": "expired"}),
            change(issued, {"couponStatus": "used"}),
        ]
    )
    assert describe(effects.summary()) == [
        "1 coupon warned about, 7 days before they expire (sent as coupon.expiring to those who "
        "opted in to marketing)",
        "2 coupons expired unused (their points stay spent)",
    ]


# ---- stream export ------------------------------------------------------------------------


def test_stream_export_writes_where_it_is_told(
    seeded: LocalStack,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    url = ("--url", seeded.base_url)
    code, out, err = run(capsys, "stream", "export", *url)  # no file: standard output
    assert code == 0 and out.startswith("{") and "written to standard output" in err
    assert not list(tmp_path.glob("*.jsonl"))
    code, _, err = run(capsys, "stream", "export", "here.jsonl", *url)
    assert code == 0 and (tmp_path / "here.jsonl").is_file()
    assert f"exported to {tmp_path / 'here.jsonl'}" in err
    (tmp_path / "out").mkdir()
    code, _, err = run(capsys, "stream", "export", "out", *url)
    assert code == 0 and (tmp_path / "out" / "stream-export.jsonl").is_file()
    code, _, err = run(capsys, "stream", "export", "missing/dir/x.jsonl", *url)
    assert code == 1 and "no directory" in err
