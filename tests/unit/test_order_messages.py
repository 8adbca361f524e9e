import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty.domain.errors import InvalidMessage
from loyalty.domain.orders import OrderCompleted, OrderRefunded, parse_order_message

pytestmark = pytest.mark.calendar  # business dates: must hold on any day

ORDER = {
    "type": "order.completed",
    "orderId": "o-1001",
    "memberId": "c-42",
    "occurredAt": "2026-11-27T10:00:00Z",
    "currency": "USD",
    "lines": [{"sku": "SKU-1", "category": "shoes", "quantity": 2, "unitPrice": "19.99"}],
}
REFUND = {
    "type": "order.refunded",
    "orderId": "o-1001",
    "refundId": "r-1",
    "memberId": "c-42",
    "occurredAt": "2026-12-02T09:00:00Z",
    "currency": "USD",
    "amount": "19.99",
}


def test_a_completed_order_parses_with_exact_money():
    order = parse_order_message(json.dumps(ORDER))
    assert isinstance(order, OrderCompleted)
    assert order.eligible_amount == Decimal("39.98")
    assert order.occurred_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert order.referral_code is None


def test_a_refund_parses():
    refund = parse_order_message(json.dumps(REFUND))
    assert isinstance(refund, OrderRefunded)
    assert refund.amount == Decimal("19.99")


def test_an_eventbridge_envelope_is_unwrapped():
    wrapped = {"detail-type": "order.completed", "source": "shop", "detail": ORDER}
    assert parse_order_message(json.dumps(wrapped)) == parse_order_message(json.dumps(ORDER))


def test_offsets_are_normalised_to_utc():
    order = parse_order_message(json.dumps({**ORDER, "occurredAt": "2026-11-27T05:00:00-05:00"}))
    assert order.occurred_at == datetime(2026, 11, 27, 10, tzinfo=UTC)


def _line(**changes):
    return {**ORDER, "lines": [{**ORDER["lines"][0], **changes}]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({**ORDER, "currency": "EUR"}), "currency"),
        (json.dumps(_line(quantity=-2)), "lines.0.quantity"),
        (json.dumps(_line(quantity=0)), "lines.0.quantity"),
        (json.dumps(_line(quantity=1.5)), "lines.0.quantity"),
        (json.dumps(_line(unitPrice=19.99)), "lines.0.unitPrice"),  # a float: refused
        (json.dumps(_line(unitPrice="19.9")), "lines.0.unitPrice"),
        (json.dumps(_line(unitPrice="-1.00")), "lines.0.unitPrice"),
        (json.dumps({k: v for k, v in ORDER.items() if k != "memberId"}), "memberId"),
        (json.dumps({**ORDER, "memberId": "has space"}), "memberId"),
        (json.dumps({**ORDER, "memberId": "x" * 65}), "memberId"),
        (json.dumps({**ORDER, "occurredAt": "2026-11-27T10:00:00"}), "occurredAt"),
        (json.dumps({**ORDER, "occurredAt": "yesterday"}), "occurredAt"),
        (json.dumps({**ORDER, "type": "order.shipped"}), "type"),
        (json.dumps({**REFUND, "amount": "0.00"}), "amount"),
        (json.dumps({**REFUND, "amount": "-5.00"}), "amount"),
        (json.dumps({k: v for k, v in REFUND.items() if k != "refundId"}), "refundId"),
    ],
)
def test_invalid_messages_are_refused_with_the_field_at_fault(body, reason):
    with pytest.raises(InvalidMessage) as refused:
        parse_order_message(body)
    assert reason in str(refused.value)


def test_the_reason_never_echoes_field_values():
    secret = "jane.doe@example.com has a long name that should never be logged"
    with pytest.raises(InvalidMessage) as refused:
        parse_order_message(json.dumps({**ORDER, "memberId": secret}))
    assert "jane" not in str(refused.value)
