"""Operator and privacy API. Admin scope: point adjustments, the rewards catalog, the program
rules, member lookup and the audit trail. A member (or an operator on their behalf): the
export and the erasure of their data. Each route: parse, one service call, map."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.badges
import loyalty.services.kpis
import loyalty.services.operations  # noqa: F401
from loyalty import observability
from loyalty.api.http import current_caller, documented, make_resolver, serve
from loyalty.api.models import (
    ActivityBody,
    AdjustmentBody,
    AdjustmentRequest,
    AdminRewardBody,
    AdminRewardList,
    AuditReason,
    AuditRecordBody,
    AuditTrail,
    BadgeIdPath,
    CouponBody,
    Email,
    ExportBody,
    ExportProfile,
    KpisBody,
    MemberIdPath,
    MemberSearchResult,
    MemberViewBody,
    ProgramPreviewBody,
    RewardIdPath,
    RewardUpsert,
)
from loyalty.domain.badges import Badge, BadgeDefinition
from loyalty.domain.errors import InvalidMessage
from loyalty.domain.program_preview import MAX_PREVIEW_DAYS, PreviewFigures
from loyalty.domain.rewards import Reward
from loyalty.domain.rules import ProgramRules
from loyalty.domain.validation import describe_validation_error
from loyalty.observability import observed
from loyalty.runtime import (
    badge_service,
    forget_badges,
    forget_rules,
    kpi_service,
    operator_service,
    privacy_service,
    program_service,
)

logger = Logger()
app = make_resolver()

# A month of the calendar: years 0001 to 9999 (there is no year 0), months 01 to 12.
MONTH_PATTERN = r"^(?:[1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])-(?:0[1-9]|1[0-2])$"

IdempotencyKey = Annotated[
    str,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Required. The same key with the same body returns the same adjustment.",
    ),
]
ChangeReason = Annotated[
    AuditReason | None,
    Header(
        alias="x-audit-reason",
        description="Why the change is made, for the audit trail (no personal data).",
    ),
]


class AdminBadgeList(BaseModel):
    items: list[Badge]


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _actor() -> str:
    return current_caller(app).subject


# ---- privacy (the member, or an operator on their behalf) ------------------------------------


@app.get("/members/<memberId>/export", responses=documented(None, 401, 403, 404), tags=["Privacy"])
def export_member(memberId: MemberIdPath) -> ExportBody:
    """Every personal field held about the member, and every ledger entry (GDPR/CCPA)."""
    export = privacy_service().export(memberId)
    return ExportBody(
        profile=ExportProfile.model_validate(export.profile),
        activity=[ActivityBody.model_validate(e, from_attributes=True) for e in export.activity],
        coupons=[CouponBody.of(c, c.status_at(export.at)) for c in export.coupons],
    )


@app.delete(
    "/members/<memberId>",
    responses=documented((204, "Erased"), 401, 403, 404, 503),
    tags=["Privacy"],
)
def erase_member(memberId: MemberIdPath) -> Response[None]:
    """Erase the member's personal data and close the account: the balance is forfeited
    with an `adjust` entry; the ledger stays, anonymised; afterwards the member is 404."""
    privacy_service().erase(memberId, actor=_actor())
    logger.info("member erased", member_id=memberId)
    return Response(status_code=204, body=None)


# ---- operators -------------------------------------------------------------------------------


@app.get("/admin/members", responses=documented(None, 401, 403), tags=["Operators"])
def find_members(email: Annotated[Email, Query()]) -> MemberSearchResult:
    """Look a member up by email (by id: GET /members/{memberId} with an admin token)."""
    views = operator_service().find_by_email(email)
    return MemberSearchResult(
        items=[MemberViewBody.model_validate(view, from_attributes=True) for view in views]
    )


@app.post(
    "/admin/members/<memberId>/adjustments",
    responses=documented((201, "Adjusted"), 400, 401, 403, 404, 409, 415, 422, 503),
    tags=["Operators"],
)
def adjust_points(
    memberId: MemberIdPath,
    request: Annotated[AdjustmentRequest, Body()],
    idempotency_key: IdempotencyKey,
) -> Response[AdjustmentBody]:
    """Add or take points (customer service), with a reason shown to the member; once per
    Idempotency-Key. 409 when it would take the balance below zero."""
    result = operator_service().adjust(
        memberId,
        request.points,
        request.reason,
        actor=_actor(),
        idempotency_key=idempotency_key,
        request_fingerprint=request.fingerprint(),
    )
    observability.points_adjusted(result.points)
    logger.info("points adjusted", member_id=memberId, points=result.points)
    return _json(201, AdjustmentBody.model_validate(result, from_attributes=True))


@app.get("/admin/rewards", responses=documented(None, 401, 403), tags=["Operators"])
def all_rewards() -> AdminRewardList:
    """The whole catalog, retired rewards included."""
    return AdminRewardList(
        items=[
            AdminRewardBody.model_validate(reward, from_attributes=True)
            for reward in operator_service().all_rewards()
        ]
    )


@app.put(
    "/admin/rewards/<rewardId>",
    responses={
        **documented((200, "Updated"), 400, 401, 403, 415, 422, 503),
        201: {
            "description": "Created",
            "content": {"application/json": {"model": AdminRewardBody}},
        },
    },
    tags=["Operators"],
)
def put_reward(
    rewardId: RewardIdPath,
    request: Annotated[RewardUpsert, Body()],
    reason: ChangeReason = None,
) -> Response[AdminRewardBody]:
    """Create or update a reward; `active: false` retires it (no longer listed or
    redeemable)."""
    try:
        reward = Reward.model_validate(
            {**request.model_dump(by_alias=True, exclude_unset=True), "rewardId": rewardId}
        )
    except ValidationError as error:
        raise InvalidMessage(
            f"the reward is not valid: {describe_validation_error(error)}"
        ) from None
    created = operator_service().save_reward(reward, actor=_actor(), reason=reason or "")
    body = AdminRewardBody.model_validate(reward, from_attributes=True)
    return _json(201 if created else 200, body)


@app.get("/admin/badges", responses=documented(None, 401, 403), tags=["Operators"])
def all_badges() -> AdminBadgeList:
    """Every badge and challenge definition, retired ones included (last)."""
    return AdminBadgeList(items=badge_service().all_badges())


@app.put(
    "/admin/badges/<badgeId>",
    responses={
        **documented((200, "Updated"), 400, 401, 403, 415, 422, 503),
        201: {"description": "Created", "content": {"application/json": {"model": Badge}}},
    },
    tags=["Operators"],
)
def put_badge(
    badgeId: BadgeIdPath,
    request: Annotated[BadgeDefinition, Body()],
    reason: ChangeReason = None,
) -> Response[Badge]:
    """Create or replace a badge (a challenge when it has a `window`); `active: false` retires
    it (no longer evaluated nor shown as open; members keep what they earned). Members earn
    it from their next counted activity on; past activity is not replayed."""
    badge = Badge.model_validate({**request.model_dump(by_alias=True), "badgeId": badgeId})
    created = badge_service().save_badge(badge, actor=_actor(), reason=reason or "")
    forget_badges()  # this container applies it at once; the others within a minute
    logger.info("badge saved", badge_id=badgeId, new_badge=created)
    return _json(201 if created else 200, badge)


@app.get("/admin/program", responses=documented(None, 401, 403), tags=["Operators"])
def get_program() -> ProgramRules:
    """The program rules document in force, with its `version`."""
    return program_service().current()


@app.put(
    "/admin/program",
    responses=documented(None, 400, 401, 403, 409, 415, 422, 503),
    tags=["Operators"],
)
def put_program(
    rules: Annotated[ProgramRules, Body()],
    reason: ChangeReason = None,
) -> ProgramRules:
    """Replace the whole rules document; it becomes the next `version`. Send back the
    `version` you edited to be refused (409) if someone changed it meanwhile. New earnings
    use it within a minute; past entries keep the version that produced them."""
    based_on = rules.version if "version" in rules.model_fields_set else None
    saved = program_service().update(rules, based_on=based_on, actor=_actor(), reason=reason or "")
    forget_rules()  # this container applies it at once; the others within a minute
    logger.info("program rules updated", version=saved.version)
    return saved


@app.post(
    "/admin/program/preview",
    responses=documented(None, 400, 401, 403, 415, 422),
    tags=["Operators"],
)
def preview_program(
    draft: Annotated[ProgramRules, Body()],
    days: Annotated[int, Query(ge=1, le=MAX_PREVIEW_DAYS)] = 30,
) -> ProgramPreviewBody:
    """What the draft rules would have changed: the orders of the last `days` days (the
    newest 5,000 at most) replayed under `draft`, per tier and in total, against what they
    were awarded. Validated as `PUT /admin/program` would; writes nothing."""
    preview = program_service().preview(draft, days=days)
    return ProgramPreviewBody.model_validate(
        {
            "start": preview.start,
            "end": preview.end,
            "draftVersion": preview.draft_version,
            "total": _figures(preview.total),
            "byTier": {tier: _figures(f) for tier, f in preview.by_tier.items()},
            "truncated": preview.truncated,
            "rulesVersions": list(preview.rules_versions),
        }
    )


def _figures(figures: PreviewFigures) -> dict[str, int]:
    return {
        "orders": figures.orders,
        "awarded": figures.awarded,
        "wouldAward": figures.would_award,
        "difference": figures.difference,
    }


@app.get("/admin/audit", responses=documented(None, 400, 401, 403), tags=["Operators"])
def audit_trail(
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditTrail:
    """A month's operator changes (YYYY-MM, this month by default), newest first."""
    when = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC) if month else None
    return AuditTrail(
        items=[
            AuditRecordBody.model_validate(item, by_alias=True)
            for item in operator_service().audit_trail(when, limit)
        ]
    )


@app.get("/admin/kpis", responses=documented(None, 401, 403), tags=["Operators"])
def kpis() -> KpisBody:
    """Members (by tier, enrollments per month, active in 30/90 days), points issued,
    redeemed, expired and outstanding, the redemption rate, the outstanding points by the
    month they expire in (the liability), and the last 90 days. Kept from the table's stream
    as the ledger changes (seconds behind); reading them costs one Query."""
    return KpisBody.model_validate(kpi_service().report(), from_attributes=True)


@observed(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
