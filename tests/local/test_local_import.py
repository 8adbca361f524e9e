"""`loyalty-local import` against the running local stack: it finds the stack's table (and
clock) through /local/status, as the other commands find the stack (docs/import.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.local.cli import main
from devtools.local.stack import LocalStack

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "import"


def test_an_import_lands_in_the_stacks_table_and_the_member_shows_it(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = ("--url", seeded.base_url)
    sample = str(SAMPLES / "members.jsonl")
    code = main(["import", sample, "--batch", "local-1", *url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "batch local-1 into " + seeded.table_name in captured.out
    assert "imported                       2" in captured.out

    assert main(["member", "c-2001", "--json", *url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["member"]["name"], shown["member"]["balance"]) == ("Dana Reyes", 800)
    assert shown["member"]["tierPoints"] == 2100
    assert [e["reason"] for e in shown["activity"]] == ["import"]

    # Undone: the points are gone, the member stays.
    assert (
        main(["import", str(SAMPLES / "members.jsonl"), "--batch", "local-1", "--undo", *url]) == 0
    )
    assert "undone                         2" in capsys.readouterr().out
    assert main(["member", "c-2001", "--json", *url]) == 0
    assert json.loads(capsys.readouterr().out)["member"]["balance"] == 0


def test_a_file_it_cannot_read_is_one_sentence(
    seeded: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.csv"
    code = main(["import", str(missing), "--batch", "b", "--url", seeded.base_url])
    assert code == 2
    assert capsys.readouterr().err.startswith(f"loyalty-local: cannot read {missing}")
    code = main(["import", str(missing), "--batch", "bad id!", "--url", seeded.base_url])
    assert code == 2
    assert "--batch is 1-64 letters" in capsys.readouterr().err


def test_the_installed_command_finds_the_domain_layer_itself(
    seeded: LocalStack, tmp_path: Path
) -> None:
    """Regression: `loyalty-local import` as installed (the repository on the path, not the
    layer) failed with "No module named 'loyalty'" once it reached the service."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "devtools.local.cli", "import", str(SAMPLES / "members.csv")]
    command += ["--batch", "installed-1", "--dry-run", "--url", seeded.base_url]
    result = subprocess.run(
        command,
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "No module named" not in result.stderr
