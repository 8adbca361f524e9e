"""What most services are built on: one store, the rules in force and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from loyalty.services import clock as wall_clock

if TYPE_CHECKING:
    from loyalty.domain.rules import ProgramRules


class RulesService[StoreT]:
    """A service over `store`. The rules and the clock are read at each use: the rules may
    change under a warm container, and a test or a replay tool can pin the wall clock."""

    def __init__(
        self,
        store: StoreT,
        rules: Callable[[], ProgramRules],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock or (lambda: wall_clock.utc_now())
