"""Program rules for tests that need early access (opt-in: every tier has 0 hours by default)."""

from __future__ import annotations

from typing import Any

from loyalty.domain.rules import ProgramRules

SILVER_EARLY_HOURS = 24
GOLD_EARLY_HOURS = 48


def early_access_document(**changes: Any) -> dict[str, Any]:
    """The default rules document with Silver 24 h and Gold 48 h of early access."""
    document: dict[str, Any] = ProgramRules().model_dump(mode="json", by_alias=True)
    document.pop("version")
    document["tiers"][1]["earlyAccessHours"] = SILVER_EARLY_HOURS
    document["tiers"][2]["earlyAccessHours"] = GOLD_EARLY_HOURS
    document.update(changes)
    return document


def early_access_rules(**changes: Any) -> ProgramRules:
    return ProgramRules.model_validate(early_access_document(**changes))
