"""What the functions tell CloudWatch about themselves: business metrics (Powertools Metrics,
CloudWatch embedded metric format), the X-Ray tracer, and the decorator every handler wears.

Metrics. One namespace (POWERTOOLS_METRICS_NAMESPACE, set in template.yaml's Globals) and the
`service` dimension; the only other dimensions are the low-cardinality ones named below
(`DIMENSIONS`): never a member id, an order id or any other value that grows with the data.
Handlers record from the outcomes the services return; nothing is sent until the handler
returns (or raises), then each set of dimensions becomes one EMF log line.

Tracing. `aws_xray_sdk` is imported only when tracing is on (POWERTOOLS_TRACE_DISABLED is not
true): a function deployed with EnableTracing=false never pays its import (docs/benchmarks.md).

The names of the metrics and their meaning are listed in docs/operations.md ("Metrics")."""

from __future__ import annotations

import contextvars
import functools
import importlib.util
import os
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# ---- names -----------------------------------------------------------------------------------
POINTS_AWARDED = "PointsAwarded"  # dimension source
POINTS_REDEEMED = "PointsRedeemed"
POINTS_REVERSED = "PointsReversed"
POINTS_EXPIRED = "PointsExpired"
POINTS_ADJUSTED = "PointsAdjusted"  # dimension direction (credit | debit); the absolute value
ORDERS_RECORDED = "OrdersRecorded"  # dimension outcome (awarded | reversed | closed)
# Of the orders awarded, those written in one request without reading the member first.
ORDERS_AWARDED_IN_ONE_REQUEST = "OrdersAwardedInOneRequest"
DUPLICATES_SEEN = "DuplicateMessages"
REFUNDS_BEFORE_ORDER = "RefundsBeforeOrder"
INVALID_MESSAGES = "InvalidMessages"
MESSAGES_DEAD_LETTERED = "MessagesDeadLettered"  # dimension queue (orders | job-work)
REDEMPTIONS = "Redemptions"
REDEMPTIONS_REFUSED = "RedemptionsRefused"  # dimension reason
JOB_MEMBERS_PROCESSED = "JobMembersProcessed"  # dimension job
JOB_MEMBERS_SET_ASIDE = "JobMembersSetAside"  # dimension job
JOB_CONTINUATIONS = "JobContinuations"  # dimension job
JOB_RUNS_QUEUED = "JobRunsQueued"  # dimension job
API_REQUESTS = "ApiRequests"  # dimensions route, status_class

# Every dimension a metric may carry besides `service`, with the values it may take (None:
# a fixed, code-defined set too long to list here: route keys of template.yaml, error classes).
DIMENSIONS: dict[str, frozenset[str] | None] = {
    "source": frozenset({"purchase", "review", "share", "birthday", "tenure", "referral"}),
    "direction": frozenset({"credit", "debit"}),
    "outcome": frozenset({"awarded", "reversed", "closed"}),
    "queue": frozenset({"orders", "job-work"}),
    "job": frozenset({"expiry", "birthday", "tenure", "coupons", "promotions"}),
    "reason": None,  # the refusal's error class (InsufficientPoints, TierTooLow, ...)
    "route": None,  # the API route key ("POST /members/{memberId}/redemptions")
    "status_class": frozenset({"2xx", "3xx", "4xx", "5xx"}),
}

# The queues' redrive policy in template.yaml (tests/unit/test_observability.py checks it):
# a message that fails on this receive goes to the dead-letter queue.
MAX_RECEIVE_COUNT = 5

PointSource = Literal["purchase", "review", "share", "birthday", "tenure", "referral", "badge"]

metrics = Metrics()
_logger = Logger(child=True)

# (metric name, sorted dimension items) -> value, until the handler ends.
_pending: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Add `value` to the metric `name` with these dimensions (sent when the handler ends)."""
    for dimension in dimensions:
        if dimension not in DIMENSIONS:  # pragma: no cover - a programming error
            raise ValueError(f"undeclared metric dimension {dimension!r}")
    if value:
        key = (name, tuple(sorted(dimensions.items())))
        _pending[key] = _pending.get(key, 0) + value


def publish() -> None:
    """Send the metrics counted so far: the dimensionless ones as one EMF line, each other set
    of dimensions as one line of its own. Nothing when nothing was counted."""
    if not _pending:
        return
    pending = dict(_pending)
    _pending.clear()
    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED (single_metric does not check it)
        return
    for (name, dimensions), value in pending.items():
        if not dimensions:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            continue
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            for dimension, dimension_value in dimensions:
                metric.add_dimension(name=dimension, value=dimension_value)
    if metrics.metric_set:
        metrics.flush_metrics()


def discard() -> None:
    """Forget what was counted and not sent (tests)."""
    _pending.clear()
    metrics.clear_metrics()


# ---- outcomes --------------------------------------------------------------------------------


def points_awarded(points: int, source: PointSource) -> None:
    count(POINTS_AWARDED, max(points, 0), source=source)


def order_recorded(status: str, points: int, *, one_request: bool = False) -> None:
    """An order message applied (OrderService's outcome); `one_request`: awarded in one
    request, without reading the member."""
    if status == "duplicate":
        count(DUPLICATES_SEEN)
        return
    count(ORDERS_RECORDED, outcome=status)
    if status == "awarded":
        points_awarded(points, "purchase")
        if one_request:
            count(ORDERS_AWARDED_IN_ONE_REQUEST)
    elif status == "reversed":
        count(POINTS_REVERSED, abs(points))


def message_failed(queue: Literal["orders", "job-work"], receive_count: int) -> None:
    """A queue message failed: on its last receive it goes to the dead-letter queue."""
    if receive_count >= MAX_RECEIVE_COUNT:
        count(MESSAGES_DEAD_LETTERED, queue=queue)


def redeemed(points: int) -> None:
    count(REDEMPTIONS)
    count(POINTS_REDEEMED, points)


def redemption_refused(error: Exception) -> None:
    count(REDEMPTIONS_REFUSED, reason=type(error).__name__)


def points_adjusted(points: int) -> None:
    count(POINTS_ADJUSTED, abs(points), direction="credit" if points >= 0 else "debit")


def job_members(
    job: str, *, processed: int, points: int, set_aside: int = 0, continued: bool = False
) -> None:
    """A job's shard run (or one member set aside before, processed alone)."""
    count(JOB_MEMBERS_PROCESSED, processed, job=job)
    count(JOB_MEMBERS_SET_ASIDE, set_aside, job=job)
    count(JOB_CONTINUATIONS, 1 if continued else 0, job=job)
    if job == "expiry":
        count(POINTS_EXPIRED, points)
    elif job in ("birthday", "tenure"):
        points_awarded(points, job)  # type: ignore[arg-type]


def job_run_queued(job: str) -> None:
    count(JOB_RUNS_QUEUED, job=job)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def api_request(route: str, status: int) -> None:
    count(API_REQUESTS, route=route or "unknown", status_class=status_class(status))


# ---- tracing ---------------------------------------------------------------------------------


def tracing_enabled() -> bool:
    """As Powertools' Tracer decides: on in Lambda (not under `sam local`) unless
    POWERTOOLS_TRACE_DISABLED is true."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    return (
        disabled not in ("true", "1", "yes", "on")
        and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))
        and not os.environ.get("AWS_SAM_LOCAL")
    )


@functools.cache
def tracer() -> Any:
    """The Powertools tracer; built (and aws_xray_sdk imported) on first use only. None when the
    X-Ray SDK is not installed: the function runs untraced (Lambda's own segment still shows
    with EnableTracing=true) rather than failing to start."""
    if importlib.util.find_spec("aws_xray_sdk") is None:
        _logger.warning("tracing is on but aws_xray_sdk is not installed: no subsegments")
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()


# ---- the handler decorator -------------------------------------------------------------------

Handler = TypeVar("Handler", bound=Callable[..., Any])

# The handler running in this context ("functions.jobs.app.worker_handler"): the IAM test
# (tests/integration/test_iam_against_code.py) attributes each AWS call to its function.
running_handler: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "running_handler", default=None
)


def observed(
    logger: Logger, *, correlation_id_path: str | None = None
) -> Callable[[Handler], Handler]:
    """Every handler's decorator: the Lambda context (and the correlation id found at
    `correlation_id_path` in the event) on each log line, the X-Ray segment when tracing is on,
    the metrics counted during the invocation sent when it ends."""

    def decorate(handler: Handler) -> Handler:
        logged = logger.inject_lambda_context(
            correlation_id_path=correlation_id_path, clear_state=True
        )(handler)
        active = tracer() if tracing_enabled() else None
        traced = active.capture_lambda_handler(logged) if active is not None else logged

        name = f"{handler.__module__}.{handler.__name__}"

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            token = running_handler.set(name)
            try:
                return traced(event, context)
            finally:
                running_handler.reset(token)
                try:
                    publish()
                except Exception:  # metrics never fail the invocation
                    _logger.exception("metrics could not be published")

        return run  # type: ignore[return-value]

    return decorate
