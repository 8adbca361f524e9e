"""Cold import of every handler module with tracing off and on (figures, not a test).

Each import runs in a fresh interpreter (bytecode cache warm, as a layer built by `sam build`
ships it) with the environment of a Lambda function: tracing off is the template's default
(POWERTOOLS_TRACE_DISABLED=true, EnableTracing=false); tracing on builds the Powertools Tracer,
which imports the X-Ray SDK and patches botocore. Prints the median CPU time of the import
(process time: steadier than the wall clock on a shared machine) per handler, off and on runs
interleaved, and the difference.

    .venv/bin/python -m bench.cold_imports [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HANDLERS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/app.py"))

_PROBE = (
    "import importlib, sys, time\n"
    "began = time.process_time()\n"
    "importlib.import_module(sys.argv[1])\n"
    "elapsed = time.process_time() - began\n"
    "print(elapsed, 'aws_xray_sdk' in sys.modules)\n"
)


def import_seconds(module: str, *, tracing: bool) -> tuple[float, bool]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "loyalty")]),
        "AWS_LAMBDA_FUNCTION_NAME": "cold-import-bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "loyalty",
        "POWERTOOLS_METRICS_NAMESPACE": "Loyalty",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "TABLE_NAME": "bench",
    }
    environment.pop("AWS_SAM_LOCAL", None)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        env=environment,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, xray = result.stdout.split()
    return float(seconds), xray == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    arguments = parser.parse_args()
    for name in HANDLERS:  # warm the bytecode cache of everything the handlers import
        for tracing in (False, True):
            import_seconds(f"functions.{name}.app", tracing=tracing)
    print(f"cold import of each handler module, fresh process, median of {arguments.runs} (ms):")
    print(
        f"  {'handler':<22} {'tracing off':>11} {'tracing on':>11} {'difference':>11}  xray off/on"
    )
    for name in HANDLERS:
        module = f"functions.{name}.app"
        runs: dict[bool, list[tuple[float, bool]]] = {False: [], True: []}
        for _ in range(arguments.runs):
            for tracing in (False, True):
                runs[tracing].append(import_seconds(module, tracing=tracing))
        figures = {t: statistics.median(s for s, _ in r) * 1000 for t, r in runs.items()}
        loaded = {t: any(xray for _, xray in r) for t, r in runs.items()}
        print(
            f"  {name:<22} {figures[False]:>11.0f} {figures[True]:>11.0f} "
            f"{figures[True] - figures[False]:>+11.0f}  {loaded[False]!s:>5}/{loaded[True]!s}"
        )


if __name__ == "__main__":
    main()
