"""Runs the template's functions in this process, one invocation at a time, each with its own
environment (Globals + the function's, resolved to local values) and a Lambda context whose
remaining time counts down from the function's Timeout."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from devtools.local.wiring import FunctionSpec


class InvocationError(Exception):
    """The function raised (or could not be loaded): Lambda reports a function error."""

    def __init__(self, function: str, error: BaseException, trace: str) -> None:
        super().__init__(f"{function}: {type(error).__name__}: {error}")
        self.function = function
        self.error = error
        self.trace = trace


class LambdaContext:
    """What a handler gets as `context`, as on Lambda."""

    def __init__(self, spec: FunctionSpec, region: str) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self.region = region
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    total_ms: float = 0.0
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "averageMs": round(self.total_ms / self.invocations, 1) if self.invocations else None,
            "lastError": self.last_error,
        }


@dataclass
class Invocation:
    """One invocation's outcome: the result, or the error; the warnings its code logged."""

    function: str
    result: Any = None
    error: InvocationError | None = None
    duration_ms: float = 0.0
    warnings: list[dict[str, Any]] = field(default_factory=list)


class _Capture(logging.Handler):
    """Collects WARNING and above logged by the invocation's thread (Powertools loggers keep
    the extra keys, e.g. `reason`, on the record)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Attached to the service's logger and the root: a propagated record comes twice.
        if record.thread != self.thread or getattr(record, "_local_capture", None) is self:
            return
        record._local_capture = self
        extras = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
        }
        self.records.append({"level": record.levelname, "message": record.getMessage(), **extras})


_STANDARD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set, put back as it was afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


CLOCK_MODULE = "loyalty.services.clock"  # where the services read "now" (the domain layer)


@contextlib.contextmanager
def pinned_clock(clock: Callable[[], datetime] | None) -> Iterator[None]:
    """While a function runs: the services' `utc_now` is `clock` (nothing when None, or when
    the functions have no such module). Restored afterwards: the functions share the module
    with whatever else runs in this process."""
    module = sys.modules.get(CLOCK_MODULE) if clock is not None else None
    if module is None:
        yield
        return
    saved = getattr(module, "utc_now", None)
    if saved is None:
        yield
        return
    setattr(module, "utc_now", clock)  # noqa: B010 - the module is only known at run time
    try:
        yield
    finally:
        setattr(module, "utc_now", saved)  # noqa: B010


def _dotted_module(code_dir: Path, module: str) -> str | None:
    """`functions.members_api.app` when code_dir is a package reachable from sys.path (so the
    function shares its module with the tests and tools that import it that way)."""
    for entry in sys.path:
        try:
            base = Path(entry or ".").resolve()
            relative = code_dir.relative_to(base)
        except (OSError, ValueError):
            continue
        parts = relative.parts
        if not parts:
            continue
        if all(
            (base.joinpath(*parts[: i + 1]) / "__init__.py").is_file() for i in range(len(parts))
        ):
            return ".".join([*parts, module])
    return None


class Runtime:
    """The functions, loaded on first use, invoked one at a time (`lock`)."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        base_environment: Mapping[str, str],
        region: str,
        on_invoke: Callable[[Invocation], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.clock = clock  # when set, the functions' `loyalty.services.clock.utc_now`
        self.base_environment = dict(base_environment)
        self.region = region
        self.lock = threading.RLock()
        self.stats: dict[str, FunctionStats] = {name: FunctionStats() for name in functions}
        self.on_invoke = on_invoke
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._load_errors: dict[str, InvocationError] = {}

    def environment_of(self, logical_id: str) -> dict[str, str]:
        return self.base_environment | self.functions[logical_id].environment

    def _load(self, logical_id: str) -> Callable[..., Any]:
        if logical_id in self._handlers:
            return self._handlers[logical_id]
        spec = self.functions[logical_id]
        module_name, _, attribute = spec.handler.rpartition(".")
        module_name = module_name.replace("/", ".")
        for directory in spec.layer_dirs:
            if str(directory) not in sys.path:
                sys.path.insert(0, str(directory))
        try:
            with environment(self.environment_of(logical_id)):
                module = self._import(spec.code_dir, module_name, logical_id)
            handler: Callable[..., Any] = getattr(module, attribute)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            raise InvocationError(logical_id, error, traceback.format_exc()) from error
        self._handlers[logical_id] = handler
        return handler

    @staticmethod
    def _import(code_dir: Path, module_name: str, logical_id: str) -> ModuleType:
        dotted = _dotted_module(code_dir, module_name)
        if dotted is not None:
            return importlib.import_module(dotted)
        path = code_dir.joinpath(*module_name.split(".")).with_suffix(".py")
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
        unique = f"_loyalty_local_{logical_id}_{module_name.replace('.', '_')}_{digest}"
        if unique in sys.modules:
            return sys.modules[unique]
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"no module {module_name} in {code_dir}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(unique, None)
            raise
        return module

    def preload(self) -> dict[str, str]:
        """Import every function now; returns the ones that failed, with the error."""
        failed: dict[str, str] = {}
        with self.lock:
            for logical_id in self.functions:
                try:
                    self._load(logical_id)
                except InvocationError as error:
                    failed[logical_id] = f"{type(error.error).__name__}: {error.error}"
        return failed

    def invoke(self, logical_id: str, event: Any) -> Invocation:
        """Run the function with `event`; never raises for the function's own errors (they are
        in `Invocation.error`)."""
        spec = self.functions[logical_id]
        stats = self.stats[logical_id]
        outcome = Invocation(function=logical_id)
        with self.lock:
            began = time.perf_counter()
            capture = _Capture()
            root = logging.getLogger()
            try:
                handler = self._load(logical_id)
                context = LambdaContext(spec, self.region)
                environment_values = self.environment_of(logical_id)
                service = logging.getLogger(
                    environment_values.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
                )
                service.addHandler(capture)
                root.addHandler(capture)
                try:
                    with environment(environment_values), pinned_clock(self.clock):
                        outcome.result = handler(event, context)
                finally:
                    service.removeHandler(capture)
                    root.removeHandler(capture)
            except InvocationError as error:
                outcome.error = error
            except BaseException as error:
                if isinstance(error, KeyboardInterrupt | SystemExit):
                    raise
                outcome.error = InvocationError(logical_id, error, traceback.format_exc())
            outcome.duration_ms = (time.perf_counter() - began) * 1000
            outcome.warnings = capture.records
            stats.invocations += 1
            stats.total_ms += outcome.duration_ms
            if outcome.error is not None:
                stats.errors += 1
                stats.last_error = str(outcome.error)
        if self.on_invoke is not None:
            self.on_invoke(outcome)
        return outcome
