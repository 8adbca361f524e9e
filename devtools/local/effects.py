"""What a run of the daily jobs did, in a shop owner's words: read from the table's stream
records the run produced (every committed change is there, whatever the function answered).

- points granted (`earn` entries) by reason: birthday bonus, tenure milestone, ...
- points expired (`expire` entries)
- expiry warnings recorded (`expiryWarning` items; the `points.expiring` event goes to members
  who opted in to marketing)
- points released from the return-window hold (the profile's `pendingPoints` going down)
- promotions started (`promotion` items)
- coupons warned about and expired (the `coupon` item's `couponWarnedAt`, and its status going
  from `issued` to `expired`)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REASONS = {
    "birthday-bonus": "the birthday bonus",
    "purchase": "purchase points",
}


def _value(image: dict[str, Any], name: str) -> Any:
    typed = image.get(name)
    if not isinstance(typed, dict) or not typed:
        return None
    kind, value = next(iter(typed.items()))
    if kind == "N":
        try:
            return int(value)
        except ValueError:
            return float(value)
    return value


@dataclass
class Tally:
    members: set[str] = field(default_factory=set)
    points: int = 0

    def add(self, member: str | None, points: int) -> None:
        if member:
            self.members.add(member)
        self.points += points

    def as_dict(self) -> dict[str, int]:
        return {"members": len(self.members), "points": self.points}


@dataclass
class JobEffects:
    granted: dict[str, Tally] = field(default_factory=dict)
    expired: Tally = field(default_factory=Tally)
    warnings: Tally = field(default_factory=Tally)
    released: Tally = field(default_factory=Tally)
    warning_count: int = 0
    promotions: list[str] = field(default_factory=list)
    coupons_warned: int = 0
    coupons_expired: int = 0

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            change = record.get("dynamodb") or {}
            new = change.get("NewImage") or {}
            old = change.get("OldImage") or {}
            kind = _value(new, "itemType")
            member = _value(new, "memberId")
            if record.get("eventName") == "INSERT" and kind == "entry":
                points = _value(new, "points") or 0
                entry_type = _value(new, "entryType")
                if entry_type == "earn":
                    reason = str(_value(new, "reason") or "other")
                    self.granted.setdefault(reason, Tally()).add(member, points)
                elif entry_type == "expire":
                    self.expired.add(member, -points)
            elif record.get("eventName") == "INSERT" and kind == "expiryWarning":
                self.warning_count += 1
                self.warnings.add(member, _value(new, "points") or 0)
            elif record.get("eventName") == "INSERT" and kind == "promotion":
                self.promotions.append(str(_value(new, "name") or _value(new, "promotionId")))
            elif record.get("eventName") == "MODIFY" and kind == "coupon":
                if _value(new, "couponWarnedAt") and not _value(old, "couponWarnedAt"):
                    self.coupons_warned += 1
                if _value(old, "couponStatus") == "issued" and (
                    _value(new, "couponStatus") == "expired"
                ):
                    self.coupons_expired += 1
            elif record.get("eventName") == "MODIFY" and kind == "member":
                before = _value(old, "pendingPoints") or 0
                after = _value(new, "pendingPoints") or 0
                if after < before:
                    self.released.add(member, before - after)

    def summary(self) -> dict[str, Any]:
        return {
            "granted": {reason: tally.as_dict() for reason, tally in self.granted.items()},
            "expired": self.expired.as_dict(),
            "warnings": {**self.warnings.as_dict(), "count": self.warning_count},
            "released": self.released.as_dict(),
            "promotions": list(self.promotions),
            "coupons": {"warned": self.coupons_warned, "expired": self.coupons_expired},
        }


def _members(count: int) -> str:
    return f"{count:,} member" + ("" if count == 1 else "s")


def _coupons(count: int) -> str:
    return f"{count:,} coupon" + ("" if count == 1 else "s")


def _reason(reason: str) -> str:
    if reason in REASONS:
        return REASONS[reason]
    if reason.startswith("tenure-milestone-"):
        return f"the milestone of {reason.removeprefix('tenure-milestone-')} months as a member"
    if reason.startswith("order-milestone-"):
        return f"the milestone of {reason.removeprefix('order-milestone-')} orders"
    return reason.replace("-", " ")


def describe(summary: dict[str, Any]) -> list[str]:
    """The run's effects as sentences; one saying nothing was due when nothing happened."""
    lines = []
    for reason, tally in (summary.get("granted") or {}).items():
        lines.append(
            f"{_members(tally['members'])} granted {_reason(reason)}: "
            f"{tally['points']:,} points in all"
        )
    expired = summary.get("expired") or {}
    if expired.get("points"):
        lines.append(f"{expired['points']:,} points expired, from {_members(expired['members'])}")
    warnings = summary.get("warnings") or {}
    if warnings.get("count"):
        lines.append(
            f"{_members(warnings['members'])} warned that {warnings['points']:,} points expire "
            f"soon ({warnings['count']:,} warnings, one per earning; sent as points.expiring "
            "to those who opted in to marketing)"
        )
    released = summary.get("released") or {}
    if released.get("points"):
        lines.append(
            f"{released['points']:,} points released from the return-window hold, for "
            f"{_members(released['members'])}"
        )
    for name in summary.get("promotions") or []:
        lines.append(f"promotion started: {name}")
    coupons = summary.get("coupons") or {}
    if coupons.get("warned"):
        lines.append(
            f"{_coupons(coupons['warned'])} warned about, 7 days before they expire (sent as "
            "coupon.expiring to those who opted in to marketing)"
        )
    if coupons.get("expired"):
        lines.append(f"{_coupons(coupons['expired'])} expired unused (their points stay spent)")
    return lines or ["nothing was due"]
