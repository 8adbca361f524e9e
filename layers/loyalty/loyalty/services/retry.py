"""Optimistic writes that lost a race are planned again after a short, jittered pause, so
contending writers spread out instead of colliding again."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

MAX_ATTEMPTS = 10


def attempts(limit: int = MAX_ATTEMPTS) -> Iterator[int]:
    for attempt in range(limit):
        if attempt:
            time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))
        yield attempt
