"""Domain errors. Each maps to one outcome at the edge (HTTP status, batch failure);
the mapping lives in one place per kind of edge."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loyalty.domain.ledger import MemberState


class LoyaltyError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidMessage(LoyaltyError):
    """A message or request that can never succeed as sent (bad JSON, missing fields...)."""


class DuplicateEvent(LoyaltyError):
    """The business event (order, refund, review...) has already changed the ledger."""


class ConcurrentUpdate(LoyaltyError):
    """Another writer changed the member between our read and our write; read again."""


class OrderNotFound(LoyaltyError):
    """A refund whose order has not been recorded (yet): retried, then dead-lettered."""


class MemberNotFound(LoyaltyError):
    """No member with that id."""


class InsufficientPoints(LoyaltyError):
    """The balance does not cover the points at the moment of the write."""


class AlreadyRewarded(LoyaltyError):
    """That review, share or other one-time event has already earned its points."""


class LimitReached(LoyaltyError):
    """A program limit (monthly share cap, referral cap) leaves nothing to award."""


class TierTooLow(LoyaltyError):
    """The reward needs a higher tier than the member's."""


class OutOfStock(LoyaltyError):
    """The reward has no stock left."""


class RewardNotFound(LoyaltyError):
    """No active reward with that id."""


class EmailTaken(LoyaltyError):
    """The email address belongs to another member."""


class ReferralRefused(LoyaltyError):
    """The referral code is unknown, the member's own, or given too late."""


class IdempotencyKeyReused(LoyaltyError):
    """The Idempotency-Key was used before with a different request."""


class VersionConflict(LoyaltyError):
    """A change based on a version of a document that is no longer the current one."""


class MemberErased(LoyaltyError):
    """The member's data was erased at their request: the account is closed."""


class NeedsRead(LoyaltyError):
    """An award planned without reading the member did not hold (the member's state could
    change it: unknown member, first order, milestone, tier boundary, expiry due time):
    nothing was written; plan with `member`, the profile as the refused transaction found
    it (None: no such member), as a read would have."""

    def __init__(self, message: str, member: MemberState | None) -> None:
        super().__init__(message)
        self.member = member


class StoreBusy(LoyaltyError):
    """The ledger's store refused the write for now (throttled, or a conflicting transaction
    in flight): nothing was written; the same request may succeed in a moment."""


class CouponNotFound(LoyaltyError):
    """No coupon has this code (or it belongs to another member than the one named)."""


class CouponUnavailable(LoyaltyError):
    """The coupon cannot be used or voided: already used (by another order), voided, or
    expired. `reason` says which."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
