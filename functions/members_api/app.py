"""Storefront API (all routes but redemptions): enrollment, member view and profile,
activity, rewards catalog, the program's public rules, referrals, badges, and the service-only
review and share awards.
Each route: parse (validated by Powertools from the models), one service call, map."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

import loyalty.services.badges

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.leaderboard
import loyalty.services.members
import loyalty.services.rewards  # noqa: F401
from loyalty import observability
from loyalty.api.auth import Forbidden
from loyalty.api.http import BadRequest, current_caller, documented, make_resolver, serve
from loyalty.api.models import (
    ActivityBody,
    ActivityPage,
    AwardBody,
    CouponBody,
    EnrollRequest,
    LeaderboardBoardBody,
    LeaderboardRowBody,
    MemberBadgesBody,
    MemberIdPath,
    MemberViewBody,
    ProfileUpdate,
    PromotionsBody,
    PublicProgramBody,
    QuoteBody,
    QuotedLineBody,
    QuoteRequest,
    ReferralsBody,
    ReviewRequest,
    RewardBody,
    RewardList,
    ShareRequest,
    decode_cursor,
    encode_cursor,
)
from loyalty.domain.leaderboard import LeaderboardChange
from loyalty.domain.members import ProfileData, normalize_email
from loyalty.domain.quotes import CartLine
from loyalty.domain.rules import TierName
from loyalty.domain.validation import MEMBER_ID_PATTERN
from loyalty.observability import observed
from loyalty.runtime import badge_service, leaderboard_service, member_service, reward_service

logger = Logger()
app = make_resolver()


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _view_body(view: Any) -> dict[str, Any]:
    return MemberViewBody.model_validate(view, from_attributes=True).model_dump(
        mode="json", by_alias=True
    )


@app.post(
    "/members",
    responses={
        **documented((201, "Enrolled"), 400, 401, 403, 409, 415, 422, 503),
        200: {
            "description": "Already a member: profile updated, points unchanged",
            "content": {"application/json": {"model": MemberViewBody}},
        },
    },
    tags=["Members"],
)
def enroll(request: Annotated[EnrollRequest, Body()]) -> Response[MemberViewBody]:
    """Enroll a member (201), or update the profile of one already known (200, no points
    change; a member first enrolled by an order keeps every point)."""
    profile = ProfileData(
        name=request.name,
        email=normalize_email(request.email),
        phone=request.phone,
        birthday=request.birthday,
        marketing_consent=request.marketing_consent,
    )
    enrollment = member_service().enroll(request.member_id, profile, request.referral_code)
    return _json(201 if enrollment.created else 200, _view_body(enrollment.view))


@app.get("/members/<memberId>", responses=documented(None, 401, 403, 404), tags=["Members"])
def get_member(memberId: MemberIdPath) -> MemberViewBody:
    """Balance, tier and progress, points expiring next, referral code."""
    return MemberViewBody.model_validate(member_service().view(memberId), from_attributes=True)


@app.patch(
    "/members/<memberId>",
    responses=documented(None, 400, 401, 403, 404, 409, 415, 422, 503),
    tags=["Members"],
)
def update_member(
    memberId: MemberIdPath,
    changes: Annotated[ProfileUpdate, Body()],
) -> MemberViewBody:
    """Change name, email, phone, birthday, marketing consent or the leaderboard choice;
    `null` removes phone or birthday (and is refused for name and email, which cannot be
    removed). Opting in to the leaderboard needs a display name (given now or before)."""
    given = {name: getattr(changes, name) for name in changes.model_fields_set}
    if "email" in given and given["email"] is not None:
        given["email"] = normalize_email(given["email"])
    if changes.leaderboard is not None:
        choice = changes.leaderboard
        given["leaderboard"] = LeaderboardChange(
            opt_in=choice.opt_in,
            display_name=choice.display_name,
            clear_name="display_name" in choice.model_fields_set and choice.display_name is None,
        )
    view = member_service().update_profile(memberId, given)
    return MemberViewBody.model_validate(view, from_attributes=True)


@app.get(
    "/members/<memberId>/activity",
    responses=documented(None, 400, 401, 403, 404, 422),
    tags=["Members"],
)
def activity(
    memberId: MemberIdPath,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ActivityPage:
    """The ledger, newest first; pass `nextCursor` back as `cursor` for the next page."""
    after = None
    if cursor is not None:
        after = decode_cursor(cursor)
        if after is None:
            raise BadRequest("invalid cursor")
    entries, last = member_service().activity(memberId, limit, after)
    return ActivityPage(
        items=[ActivityBody.model_validate(e, from_attributes=True) for e in entries],
        next_cursor=encode_cursor(last) if last else None,
    )


@app.get(
    "/members/<memberId>/referrals", responses=documented(None, 401, 403, 404), tags=["Members"]
)
def referrals(memberId: MemberIdPath) -> ReferralsBody:
    """The member's referral code and the referrals made with it."""
    return ReferralsBody.model_validate(member_service().referrals(memberId), from_attributes=True)


@app.get("/members/<memberId>/badges", responses=documented(None, 401, 403, 404), tags=["Members"])
def badges(memberId: MemberIdPath) -> MemberBadgesBody:
    """The badges the member earned (newest first) and the open badges and challenges with
    their progress (`progress` of `target`)."""
    return MemberBadgesBody.model_validate(
        badge_service().member_badges(memberId), from_attributes=True
    )


@app.get("/rewards", responses=documented(None, 401), tags=["Rewards"])
def rewards() -> RewardList:
    """The active rewards catalog."""
    items = [
        RewardBody.model_validate(r, from_attributes=True) for r in reward_service().list_rewards()
    ]
    return RewardList(items=items)


@app.get("/program", responses=documented(None, 401), tags=["Rewards"])
def program() -> PublicProgramBody:
    """The public part of the program rules in force: earning rates and bonuses, referral
    rewards, milestones, seasonal multipliers, tiers with their thresholds and benefits."""
    return PublicProgramBody.model_validate(member_service().program(), from_attributes=True)


@app.post(
    "/members/<memberId>/reviews",
    responses=documented((201, "Awarded"), 400, 401, 403, 404, 409, 415, 422, 503),
    tags=["Earning"],
)
def review(
    memberId: MemberIdPath,
    request: Annotated[ReviewRequest, Body()],
) -> Response[AwardBody]:
    """Award a product review (service token only): once per product per member."""
    award = member_service().award_review(memberId, request.product_id, request.review_id)
    observability.points_awarded(award.points_awarded, "review")
    body = AwardBody(points_awarded=award.points_awarded, balance=award.balance)
    return _json(201, body.model_dump(by_alias=True))


@app.post(
    "/members/<memberId>/social-shares",
    responses=documented((201, "Awarded"), 400, 401, 403, 404, 409, 415, 422, 503),
    tags=["Earning"],
)
def social_share(
    memberId: MemberIdPath,
    request: Annotated[ShareRequest, Body()],
) -> Response[AwardBody]:
    """Award a social share (service token only): once per URL, up to the monthly cap."""
    award = member_service().award_share(memberId, request.platform, request.url)
    observability.points_awarded(award.points_awarded, "share")
    body = AwardBody(points_awarded=award.points_awarded, balance=award.balance)
    return _json(201, body.model_dump(by_alias=True))


@app.post(
    "/quotes",
    responses=documented(None, 400, 401, 403, 404, 415, 422),
    tags=["Earning"],
)
def quote(request: Annotated[QuoteRequest, Body()]) -> QuoteBody:
    """What a cart would earn if ordered now (or `at`), line by line, for the member (service
    token): the award's arithmetic, the first-purchase bonus, the tier's member discount and
    free-shipping threshold. Writes nothing; an unknown member is quoted as a guest."""
    lines = [
        CartLine(line.sku, line.category, line.quantity, line.unit_price) for line in request.lines
    ]
    result = member_service().quote(request.member_id, lines, request.at)
    return QuoteBody(
        member_id=result.member_id,
        guest=result.guest,
        tier=result.tier,
        at=result.at,
        rules_version=result.rules_version,
        points_per_dollar=result.points_per_dollar,
        seasonal_multiplier=result.seasonal_multiplier,
        promotion=result.promotion,
        early_access=result.early_access,
        tier_multiplier=result.tier_multiplier,
        lines=[
            QuotedLineBody(
                sku=quoted.line.sku,
                category=quoted.line.category,
                quantity=quoted.line.quantity,
                unit_price=quoted.line.unit_price,
                amount=quoted.line.amount,
                category_multiplier=quoted.category_multiplier,
                seasonal_multiplier=result.seasonal_multiplier,
                tier_multiplier=result.tier_multiplier,
                points=quoted.points,
            )
            for quoted in result.lines
        ],
        purchase_points=result.purchase_points,
        first_purchase_bonus=result.first_purchase_bonus,
        milestone_points=result.milestone_points,
        total_points=result.total_points,
        member_discount_percent=result.member_discount_percent,
        free_shipping_threshold=result.free_shipping_threshold,
        coupons=[CouponBody.of(coupon, "active") for coupon in result.coupons],
    )


@app.get("/promotions", responses=documented(None, 400, 401, 403, 404, 422), tags=["Earning"])
def promotions(
    # Absent: None (a default is not validated), so the schema has no null (as ProfileUpdate).
    memberId: Annotated[
        str,  # noqa: RUF013
        Query(pattern=MEMBER_ID_PATTERN, min_length=1, max_length=64),
    ] = None,  # type: ignore[assignment]
    tier: Annotated[TierName, Query()] = None,  # type: ignore[assignment]
) -> PromotionsBody:
    """The seasonal promotions as the caller sees them: a member for their own tier (its
    early access opens a promotion before everyone); a service or admin token for the
    member `memberId` (its tier wins over a `tier` given too) or the `tier` given (Bronze, a
    guest's, without either)."""
    caller = current_caller(app)
    if caller.role == "member":
        if tier is not None or memberId not in (None, caller.subject):
            raise Forbidden("a member sees the promotions for their own tier only")
        memberId = caller.subject
    # With a memberId, the member's own tier decides (a `tier` given too is ignored).
    result = member_service().promotions(memberId, tier)
    return PromotionsBody.model_validate(result, from_attributes=True)


@app.get("/leaderboard", responses=documented(None, 400, 401, 422), tags=["Members"])
def leaderboard(
    period: Annotated[Literal["month", "all"], Query()] = "month",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> LeaderboardBoardBody:
    """The top members by points earned in the current month (`month`, the default) or all
    time (`all`), as last refreshed (every minute): only members who opted in, each under
    the display name they chose. Any authenticated caller."""
    board = leaderboard_service().board(period, limit)
    return LeaderboardBoardBody(
        period=board.period,
        period_start=board.period_start,
        refreshed_at=board.refreshed_at,
        items=[
            LeaderboardRowBody(rank=row.rank, display_name=row.display_name, points=row.points)
            for row in board.rows
        ],
    )


@observed(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
