"""What each handler's import loads of our own code (a fresh interpreter per handler): a
function does not build the models and dataclasses of concerns it never uses, so its cold
start pays only for its own (bench/cold_imports.py measures it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cold_imports import lambda_environment

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))

# The order messages' models are the order-recording function's alone, and no function
# imports a bulk import's rows (the import runs as a local tool).
ORDERS = "loyalty.domain.orders"
NEVER_LOADED = {"loyalty.domain.imports", "loyalty.dal.imports"}
# Beyond those, the domain and store modules a handler must not load.
NOT_LOADED: dict[str, set[str]] = {
    "purchase_award": {
        "loyalty.domain.badges",
        "loyalty.domain.rewards",
        "loyalty.domain.kpis",
        "loyalty.domain.leaderboard",
        "loyalty.domain.operations",
        "loyalty.domain.members",
        "loyalty.domain.outbound",
        "loyalty.dal.badges",
        "loyalty.dal.rewards",
        "loyalty.dal.events_bus",
    },
    "redemption": {
        "loyalty.domain.badges",
        "loyalty.domain.kpis",
        "loyalty.domain.leaderboard",
        "loyalty.dal.events_bus",
    },
    "jobs": {"loyalty.domain.rewards", "loyalty.domain.badges", "loyalty.domain.kpis"},
    "kpi_projector": {
        "loyalty.domain.rewards",
        "loyalty.domain.badges",
        "loyalty.domain.leaderboard",
    },
    # Stream consumers that read no ledger entries do not load the KPIs' model of one.
    "badge_evaluator": {"loyalty.domain.kpis", "loyalty.domain.rewards"},
    "referral_completion": {"loyalty.domain.kpis", "loyalty.domain.badges"},
    "events_publisher": {"loyalty.domain.kpis", "loyalty.domain.badges"},
}

_PROBE = (
    "import importlib, json, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith('loyalty.'))))\n"
)


def loaded_by(handler: str) -> set[str]:
    """Our modules loaded by the handler's import, in a function's environment."""
    environment = lambda_environment()
    output = subprocess.run(
        [sys.executable, "-c", _PROBE, f"functions.{handler}.app"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(output))


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_loads_none_of_the_concerns_it_does_not_use(handler: str) -> None:
    loaded = loaded_by(handler)
    refused = NOT_LOADED.get(handler, set()) | NEVER_LOADED
    if handler != "purchase_award":
        refused |= {ORDERS}
    assert not loaded & refused, f"{handler} loads {sorted(loaded & refused)} at import"
    assert "loyalty.domain.ledger" in loaded  # the probe sees what a handler loads


def test_the_check_names_real_handlers_and_modules() -> None:
    assert set(NOT_LOADED) <= set(HANDLERS)
    for module in set().union(*NOT_LOADED.values(), NEVER_LOADED, {ORDERS}):
        assert (ROOT / "layers" / "loyalty" / Path(*module.split("."))).with_suffix(".py").exists()
