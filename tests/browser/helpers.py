"""What the browser tests share: the system Chromium and how to launch it, the viewports, a
fresh page, a small JSON client to ask the API what a page should show, and axe-core (pinned in
tools/axe, installed with npm ci on first use) to check a page for accessibility violations."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

from devtools.dynamodb_local import npm_ci

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_DIR = REPO_ROOT / "tools" / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class Api:
    """The local stack's API with one caller's token: what the page should agree with."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = Request(
            f"{self.base_url}/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def member(self, member_id: str) -> dict[str, Any]:
        return dict(self.get(f"members/{quote(member_id)}"))

    def activity(self, member_id: str, limit: int, cursor: str | None = None) -> dict[str, Any]:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        return dict(self.get(f"members/{quote(member_id)}/activity?{urlencode(query)}"))

    def redeem(self, member_id: str, reward_id: str) -> tuple[int, Any]:
        return self.call(
            "POST",
            f"members/{quote(member_id)}/redemptions",
            {"rewardId": reward_id},
            {"Idempotency-Key": str(uuid.uuid4())},
        )


def new_page(browser: Any, viewport: dict[str, int]) -> Any:
    """A fresh context (no shared session storage) in en-US and UTC: the numbers and dates the
    tests compare are formatted the way an en-US member sees them."""
    context = browser.new_context(
        viewport=viewport, locale="en-US", timezone_id="UTC", device_scale_factor=1
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def ensure_axe() -> Path:
    """axe.min.js of the axe-core version tools/axe/package.json pins (npm ci when missing)."""
    wanted = json.loads((AXE_DIR / "package.json").read_text())["dependencies"]["axe-core"]
    installed = AXE_SCRIPT.parent / "package.json"
    if AXE_SCRIPT.exists() and json.loads(installed.read_text()).get("version") == wanted:
        return AXE_SCRIPT
    npm_ci(AXE_DIR, "axe-core (the browser tests' accessibility checks)")
    if not AXE_SCRIPT.exists():
        raise RuntimeError(f"npm ci in {AXE_DIR} installed no {AXE_SCRIPT.name}")
    return AXE_SCRIPT


def axe_violations(page: Any, script: Path) -> list[str]:
    """Run axe-core (WCAG 2.x A and AA rules and best practices) over the page as it is now;
    one line per violating node."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(path=str(script))
    violations = page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "wcag22aa", "best-practice"]},
            resultTypes: ["violations"],
        })).violations"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
        for v in violations
        for node in v["nodes"]
    ]
