"""Redemption: POST /members/{memberId}/redemptions. Spends points for a reward and issues a
coupon code; one read and one transaction; idempotent with the Idempotency-Key header."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty import observability
from loyalty.api.http import documented, make_resolver, serve
from loyalty.api.models import MemberIdPath, RedemptionBody, RedemptionRequest
from loyalty.domain.errors import LoyaltyError
from loyalty.observability import observed
from loyalty.runtime import reward_service

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


@observed(logger, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
