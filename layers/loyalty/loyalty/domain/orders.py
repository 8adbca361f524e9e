"""Order messages from the shops' order systems (contract: "Order messages")."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from loyalty.domain.errors import InvalidMessage
from loyalty.domain.validation import (
    ExternalId,
    MemberId,
    Money,
    UtcDatetime,
    describe_validation_error,
)


class MessageModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class OrderLine(MessageModel):
    sku: ExternalId
    category: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    quantity: int = Field(ge=1, le=100_000, strict=True)
    unit_price: Money

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


CouponCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-]{0,63}$", to_upper=True)
]


class OrderCompleted(MessageModel):
    type: Literal["order.completed"]
    order_id: ExternalId
    member_id: MemberId
    occurred_at: UtcDatetime
    currency: Literal["USD"]
    lines: list[OrderLine] = Field(max_length=1000)
    referral_code: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    # The loyalty coupons used on the order: marked used in the same write as its points.
    coupon_codes: list[CouponCode] = Field(default_factory=list, max_length=10)

    @property
    def eligible_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


class OrderRefunded(MessageModel):
    type: Literal["order.refunded"]
    order_id: ExternalId
    refund_id: ExternalId
    member_id: MemberId
    occurred_at: UtcDatetime
    currency: Literal["USD"]
    amount: Money

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("a refund amount must be greater than 0.00")
        return value


OrderMessage = Annotated[OrderCompleted | OrderRefunded, Field(discriminator="type")]
_ORDER_MESSAGE: TypeAdapter[OrderCompleted | OrderRefunded] = TypeAdapter(OrderMessage)


def parse_order_message(body: str) -> OrderCompleted | OrderRefunded:
    """Parse an SQS body: the order itself, or an EventBridge envelope with it in `detail`.
    Raises InvalidMessage with a reason that carries no field values (no personal data)."""
    try:
        document: Any = json.loads(body, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidMessage(f"body is not JSON: {error.msg}") from None
    if isinstance(document, dict) and "detail" in document and "detail-type" in document:
        document = document["detail"]
    if not isinstance(document, dict):
        raise InvalidMessage("body must be a JSON object")
    try:
        return _ORDER_MESSAGE.validate_python(document)
    except ValidationError as error:
        raise InvalidMessage(describe_validation_error(error)) from None
