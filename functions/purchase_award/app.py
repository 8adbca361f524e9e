"""Purchase award: SQS consumer of the order systems' messages.

Each record is parsed and handed to the ledger; a record that fails is reported in
`batchItemFailures` so SQS retries only it (and dead-letters it after maxReceiveCount),
never blocking the rest of the batch."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

# The services this function uses, loaded at init (runtime builds them lazily, so the
# function loads no other service): their import is part of the cold start, not a request.
import loyalty.services.orders  # noqa: F401
from loyalty import observability
from loyalty.domain.errors import InvalidMessage, OrderNotFound
from loyalty.domain.orders import parse_order_message
from loyalty.observability import observed
from loyalty.runtime import order_service

logger = Logger()
# A batch whose every record failed is still answered with batchItemFailures (not an
# invocation error), so the report is the same whatever the batch's mix.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    # The message (and, once parsed, its order or refund) on every log line of this record.
    logger.remove_keys(["order_id", "refund_id"])
    logger.append_keys(message_id=record.message_id)
    try:
        message = parse_order_message(record.body)
        logger.append_keys(order_id=message.order_id, refund_id=getattr(message, "refund_id", None))
        outcome = order_service().record(message)
    except InvalidMessage as error:
        observability.count(observability.INVALID_MESSAGES)
        # message_id also as the record's own field: the local stack reports failures by it.
        logger.warning("invalid order message", message_id=record.message_id, reason=str(error))
        _failed(record)
        raise
    except OrderNotFound as error:
        observability.count(observability.REFUNDS_BEFORE_ORDER)
        logger.warning(
            "refund before its order; will retry", message_id=record.message_id, reason=str(error)
        )
        _failed(record)
        raise
    except Exception:
        _failed(record)
        raise
    observability.order_recorded(outcome.status, outcome.points, one_request=outcome.one_request)
    if outcome.capped_amount:
        # The refunds of an order add up to more than it cost: the excess reverses nothing.
        logger.warning(
            "refund capped at what was left to refund",
            member_id=outcome.member_id,
            reference=outcome.reference,
            capped_amount=str(outcome.capped_amount),
        )
    if outcome.coupons_skipped:
        # The order earned its points; these codes were not marked used (and why).
        logger.warning(
            "coupon codes of the order not used",
            member_id=outcome.member_id,
            reference=outcome.reference,
            coupons=[f"{code}: {reason}" for code, reason in outcome.coupons_skipped],
        )
    logger.info(
        "order message recorded",
        status=outcome.status,
        member_id=outcome.member_id,
        reference=outcome.reference,
        points=outcome.points,
        enrolled=outcome.enrolled,
        expired_points=outcome.expired_points,
        coupons_used=list(outcome.coupons_used),
    )


def _failed(record: SQSRecord) -> None:
    """Counted as dead-lettered when this was the message's last receive (maxReceiveCount)."""
    receive_count = int(record.attributes.approximate_receive_count or 0)
    observability.message_failed("orders", receive_count)
    if receive_count >= observability.MAX_RECEIVE_COUNT:
        logger.error(
            "order message failed on its last receive: dead-lettered",
            message_id=record.message_id,
        )


@observed(logger)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
