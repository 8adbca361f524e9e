"""Redemption: POST /members/{memberId}/redemptions spends points for a reward and issues a
coupon code (one read and one transaction; idempotent with the Idempotency-Key header). And
the coupons: a member's list, and the checkout's check, use and void of a code."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.coupons
import loyalty.services.rewards  # noqa: F401
from loyalty import observability
from loyalty.api.http import documented, make_resolver, serve
from loyalty.api.models import (
    CouponBody,
    CouponCheckBody,
    CouponCodePath,
    CouponList,
    CouponUseRequest,
    CouponVoidBody,
    CouponVoidRequest,
    MemberId,
    MemberIdPath,
    RedemptionBody,
    RedemptionRequest,
)
from loyalty.domain.errors import LoyaltyError
from loyalty.observability import observed
from loyalty.runtime import coupon_service, reward_service

logger = Logger()
app = make_resolver()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional. The same key with the same body returns the same redemption.",
    ),
]


@app.post(
    "/members/<memberId>/redemptions",
    responses=documented(
        (201, "Redeemed: points spent, coupon issued"), 400, 401, 403, 404, 409, 415, 422, 503
    ),
    tags=["Rewards"],
)
def redeem(
    memberId: MemberIdPath,
    request: Annotated[RedemptionRequest, Body()],
    idempotency_key: IdempotencyKey = None,
) -> Response[RedemptionBody]:
    try:
        redemption = reward_service().redeem(
            memberId,
            request.reward_id,
            idempotency_key=idempotency_key,
            request_fingerprint=request.fingerprint(),
        )
    except LoyaltyError as refusal:
        observability.redemption_refused(refusal)
        raise
    observability.redeemed(redemption.points_spent)
    body = RedemptionBody.model_validate(redemption, from_attributes=True)
    logger.info(
        "redeemed",
        member_id=memberId,
        reward_id=redemption.reward_id,
        points=redemption.points_spent,
    )
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=body,
    )


@app.get(
    "/members/<memberId>/coupons",
    responses=documented(None, 400, 401, 403, 404),
    tags=["Rewards"],
)
def member_coupons(memberId: MemberIdPath) -> CouponList:
    """The member's coupons, newest first, each with its status now (one Query)."""
    coupons, now = coupon_service().for_member(memberId)
    return CouponList(items=[CouponBody.of(c, c.status_at(now)) for c in coupons])


@app.get(
    "/coupons/<code>",
    responses=documented(None, 400, 401, 403, 404),
    tags=["Coupons"],
)
def check_coupon(
    code: CouponCodePath,
    member_id: Annotated[
        MemberId | None,
        Query(
            alias="memberId",
            min_length=1,
            max_length=64,
            description="The member at the checkout: is it theirs?",
        ),
    ] = None,
) -> CouponCheckBody:
    """Whether a code can be used now, and why not (`reason`); what it gives (`kind`,
    `discountPercent`). One read; 404 for an unknown code."""
    checked = coupon_service().check(code.upper(), member_id)
    return CouponCheckBody.of(
        checked.coupon, checked.status, valid=checked.valid, reason=checked.reason
    )


@app.post(
    "/coupons/<code>/redemptions",
    responses=documented(None, 400, 401, 403, 404, 409, 415, 422, 503),
    tags=["Coupons"],
)
def use_coupon(code: CouponCodePath, request: Annotated[CouponUseRequest, Body()]) -> CouponBody:
    """Marks the coupon used by `orderId`, exactly once: the same order again answers the
    same; another order, or a voided or expired coupon, 409; another member's, 404."""
    use = coupon_service().use(code.upper(), order_id=request.order_id, member_id=request.member_id)
    logger.info(
        "coupon used", coupon_code=use.coupon.code, order_id=use.order_id, replayed=use.replayed
    )
    return CouponBody.of(use.coupon, "used")


@app.post(
    "/coupons/<code>/void",
    responses=documented(None, 400, 401, 403, 404, 409, 415, 422, 503),
    tags=["Coupons"],
)
def void_coupon(
    code: CouponCodePath, request: Annotated[CouponVoidRequest, Body()]
) -> CouponVoidBody:
    """Voids a coupon not yet used: its points go back to the member in the lots they came
    from, with their expiry dates; those whose lots expired since stay expired. Exactly
    once: voiding again answers the same."""
    coupon, returned, expired = coupon_service().void(code.upper())
    logger.info(
        "coupon voided",
        coupon_code=coupon.code,
        returned=returned,
        expired=expired,
        reason=request.reason,
    )
    return CouponVoidBody(
        coupon=CouponBody.of(coupon, "voided"),
        points_returned=returned,
        points_expired=expired,
    )


@observed(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
