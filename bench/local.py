"""What every benchmark does first: point the code at a DynamoDB endpoint and give it a fresh
table built from template.yaml."""

from __future__ import annotations

import os
from typing import Any

from devtools.template import create_table

TABLE = "loyalty-bench"


def use_endpoint(endpoint_url: str) -> None:
    """The handlers and services read these, as they would on Lambda."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint_url,
            "TABLE_NAME": TABLE,
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            # The business metrics would print an EMF line per record into the figures.
            "POWERTOOLS_METRICS_NAMESPACE": "LoyaltyBench",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "bench"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "bench"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        }
    )


def fresh_table(client: Any) -> None:
    if TABLE in client.list_tables()["TableNames"]:
        client.delete_table(TableName=TABLE)
    create_table(client, TABLE)
