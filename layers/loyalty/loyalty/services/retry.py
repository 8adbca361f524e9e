"""Optimistic writes that lost a race are planned again after a short, jittered pause, so
contending writers spread out instead of colliding again.

The jitter comes from the OS (`secrets`), not from `random`'s seeded generator: environments
restored from one SnapStart snapshot share that generator's state and would pause in step."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

MAX_ATTEMPTS = 10
_system_random = secrets.SystemRandom()


def attempts(limit: int = MAX_ATTEMPTS) -> Iterator[int]:
    for attempt in range(limit):
        if attempt:
            time.sleep(_system_random.uniform(0, min(0.2, 0.005 * 2**attempt)))
        yield attempt
