"""Values a container read recently, kept a while: what every request reads alike (the
program rules, the badge definitions, the leaderboard's board) costs one read per container
per period, not one per request. Ages are on the monotonic clock (`clock`, which a test may
replace: no test waits on time)."""

from __future__ import annotations

import time
from collections.abc import Callable


class RecentReads[K, V]:
    def __init__(self, max_age_seconds: float) -> None:
        self.max_age_seconds = max_age_seconds
        self.clock: Callable[[], float] = time.monotonic
        self._read: dict[K, tuple[V, float]] = {}

    def get(self, key: K, read: Callable[[], V]) -> V:
        """The value read for `key` less than `max_age_seconds` ago, or `read()` now."""
        found = self._read.get(key)
        if found is not None and self.clock() - found[1] < self.max_age_seconds:
            return found[0]
        value = read()
        self._read[key] = (value, self.clock())
        return value

    def forget(self, key: K | None = None) -> None:
        """Drop what was read for `key` (everything without one): the next get reads."""
        if key is None:
            self._read.clear()
        else:
            self._read.pop(key, None)
