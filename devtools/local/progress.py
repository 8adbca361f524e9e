"""A small progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO, Self

WIDTH = 28


class Progress:
    def __init__(
        self, total: int, label: str, *, stream: IO[str] | None = None, enabled: bool = True
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.total > 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._began = time.monotonic()
        self._drawn_at = 0.0
        self._last_decile = -1

    def __enter__(self) -> Self:
        self._draw(force=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def advance(self, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        self._draw()

    def close(self) -> None:
        if not self.enabled:
            return
        self._draw(force=True)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
        self.enabled = False

    def line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(WIDTH * fraction)
        elapsed = time.monotonic() - self._began
        rate = self.done / elapsed if elapsed > 0 else 0.0
        remaining = (self.total - self.done) / rate if rate > 0 else 0.0
        eta = f"ETA {remaining:4.0f} s" if self.done < self.total else f"in {elapsed:.1f} s"
        bar = "#" * filled + "." * (WIDTH - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {fraction:4.0%} {rate:6.1f}/s {eta}"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self._tty:
            if force or now - self._drawn_at >= 0.1 or self.done == self.total:
                self.stream.write("\r" + self.line())
                self.stream.flush()
                self._drawn_at = now
            return
        decile = int(10 * self.done / self.total) if self.total else 10
        if force and self.done == 0 and self._last_decile < 0:
            self._last_decile = 0
            self.stream.write(self.line() + "\n")
        elif decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line() + "\n")
        self.stream.flush()
