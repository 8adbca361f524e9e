"""The benchmarks' goals (docs/benchmarks.md, "Goals") and the price list of the cost model.

Each benchmark prints its goals as `goal: <what> <figure> (goal <bound>): met | not met`, so
`make bench` reads as a checklist. Prices are AWS's on-demand list prices in us-east-1 as of
2026-11 (DynamoDB on-demand after its November 2024 cut, Lambda on arm64, SQS standard, HTTP
API); a shop in another region scales them by its region's prices."""

from __future__ import annotations

from dataclasses import dataclass

# USD
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1e6
SQS_PER_REQUEST = 0.40 / 1e6
HTTP_API_PER_REQUEST = 1.00 / 1e6
FUNCTION_MEMORY_GB = 0.5  # the template's MemorySize (512 MB)
MILLION = 1_000_000


def goal(what: str, figure: str, bound: str, met: bool) -> bool:
    print(f"goal: {what}: {figure} (goal {bound}): {'met' if met else 'not met'}")
    return met


@dataclass(frozen=True, slots=True)
class UnitCost:
    """What one operation costs, in units DynamoDB, Lambda and the queue bill."""

    write_units: float
    read_units: float
    lambda_seconds: float  # the function's duration per operation
    invocations: float  # Lambda invocations per operation (1/10 for SQS batches of 10)
    queue_requests: float = 0.0  # SQS receive and delete calls per operation
    api_requests: float = 0.0  # HTTP API requests per operation

    def per_million(self) -> dict[str, float]:
        return {
            "DynamoDB writes": self.write_units * DYNAMODB_PER_WRITE_UNIT * MILLION,
            "DynamoDB reads": self.read_units * DYNAMODB_PER_READ_UNIT * MILLION,
            "Lambda duration": self.lambda_seconds
            * FUNCTION_MEMORY_GB
            * LAMBDA_ARM_PER_GB_SECOND
            * MILLION,
            "Lambda requests": self.invocations * LAMBDA_PER_REQUEST * MILLION,
            "SQS": self.queue_requests * SQS_PER_REQUEST * MILLION,
            "HTTP API": self.api_requests * HTTP_API_PER_REQUEST * MILLION,
        }


def print_cost(label: str, cost: UnitCost) -> float:
    parts = {name: usd for name, usd in cost.per_million().items() if usd}
    total = sum(parts.values())
    print(
        f"cost per million {label}: ${total:,.2f} ("
        + ", ".join(f"{name} ${usd:,.2f}" for name, usd in parts.items())
        + ")"
    )
    return total
