"""Dates for the tests, in one place: the faked wall clock of ``--fake-today`` and the services'
pinned clock, both carried into the processes the tests spawn.

- ``--fake-today=2026-12-24`` (tests/conftest.py) travels the whole test process to noon UTC of
  that day with time-machine (the clock keeps ticking) and exports ``FAKE_NOW_ENV``, so every
  spawned Python process that calls ``follow_the_parent()`` travels to the same instant.
  time-machine patches only its own process: DynamoDB Local (Java) keeps the real clock.
- A test that pins the services' clock (``tests.support.api.pin_clock``) passes the pinned
  instant to its spawned "Lambda instances" through ``SERVICES_NOW_ENV``
  (``tests.support.workers.lambda_environment``); ``follow_the_parent()`` pins
  ``loyalty.services.clock.utc_now`` to it there too.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from typing import Any

FAKE_NOW_ENV = "LOYALTY_TEST_FAKE_NOW"
SERVICES_NOW_ENV = "LOYALTY_TEST_SERVICES_NOW"

_traveller: Any = None


def parse_instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_now_of(day: str) -> datetime:
    """`2026-12-24` → noon UTC of that day (refuses anything but a calendar date)."""
    return datetime.combine(date.fromisoformat(day), time(12), UTC)


def travel(moment: datetime) -> None:
    """Travel this process's wall clock to `moment` (ticking) and tell spawned processes."""
    global _traveller
    import time_machine

    if _traveller is not None:
        _traveller.stop()
    _traveller = time_machine.travel(moment, tick=True)
    _traveller.start()
    os.environ[FAKE_NOW_ENV] = iso(moment)


def stop_travel() -> None:
    global _traveller
    if _traveller is not None:
        _traveller.stop()
        _traveller = None


def follow_the_parent() -> None:
    """In a spawned process: the parent's faked wall clock and pinned services' clock."""
    faked = os.environ.get(FAKE_NOW_ENV)
    if faked and _traveller is None:
        travel(parse_instant(faked))
    pinned = os.environ.get(SERVICES_NOW_ENV)
    if pinned:
        from loyalty.services import clock

        instant = parse_instant(pinned)
        setattr(clock, "utc_now", lambda: instant)  # noqa: B010 - what pin_clock does
