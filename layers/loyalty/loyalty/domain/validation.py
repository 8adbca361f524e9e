"""Validated values the order messages, the program rules and the API share (member ids, the
shops' ids, money), and a validation error described without its input: apart from the
order messages' models (`orders`), which only the function that records orders needs."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints, ValidationError

from loyalty.domain.calendar import utc

MEMBER_ID_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"
# A badge's id, as the operator names it (the API checks paths against it too).
BADGE_ID_PATTERN = r"^[a-z0-9][a-z0-9\-_.]{0,63}$"
_MONEY = re.compile(r"^\d{1,10}\.\d{2}$")

MemberId = Annotated[str, StringConstraints(pattern=MEMBER_ID_PATTERN)]
# Order, refund and SKU ids are the shop's own; printable, bounded, no control characters.
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
]


def _money(value: object) -> Decimal:
    # Money arrives as a decimal string with two decimals; never a JSON number (floats lose cents).
    if not isinstance(value, str) or not _MONEY.match(value):
        raise ValueError('must be a decimal string with two decimals, e.g. "12.34"')
    return Decimal(value)


Money = Annotated[Decimal, BeforeValidator(_money)]
UtcDatetime = Annotated[datetime, AfterValidator(utc)]

# The order messages' discriminator tags: a location's first part, not a field.
_MESSAGE_TYPES = {"order.completed", "order.refunded"}


def describe_validation_error(error: ValidationError) -> str:
    """Field paths and reasons only: the input values may hold personal data."""
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = [str(part) for part in item["loc"]]
        if location and location[0] in _MESSAGE_TYPES:
            location = location[1:]  # the discriminator's tag, not a field
        problems.append(f"{'.'.join(location) or 'body'}: {item['msg']}")
    return "; ".join(problems)
