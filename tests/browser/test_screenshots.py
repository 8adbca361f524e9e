"""The README's screenshots: taken on every run (into a temporary folder) so the code that makes
them cannot rot; with UPDATE_SCREENSHOTS=1 they replace docs/screenshots."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.browser.screenshots import DEFAULT_OUT, SIZES, take

pytestmark = pytest.mark.integration

MAX_BYTES = 400 * 1024


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_screenshots_are_taken_at_their_sizes(browser: Any, stack: Any, tmp_path: Path) -> None:
    out = DEFAULT_OUT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    paths = take(browser, stack, out)

    for name, viewport in SIZES.items():
        width, height = png_size(paths[name])
        assert width == viewport["width"], name
        assert height >= viewport["height"], name
        assert paths[name].stat().st_size < MAX_BYTES, f"{name} is too big for the repository"
