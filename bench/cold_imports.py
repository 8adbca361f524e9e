"""Cold import of every handler module with tracing off and on, and against the libraries it
uses imported alone (figures, not a test).

Each import runs in a fresh interpreter (bytecode cache warm, as a layer built by `sam build`
ships it) with the environment of a Lambda function: tracing off is the template's default
(POWERTOOLS_TRACE_DISABLED=true, EnableTracing=false); tracing on builds the Powertools Tracer,
which imports the X-Ray SDK and patches botocore. Prints the median CPU time of the import
(process time: steadier than the wall clock on a shared machine) per handler, off and on runs
interleaved, and the difference. Then, per handler, the goal of docs/benchmarks.md: its import
(tracing off) against the import of exactly the third-party modules it loads (boto3, botocore,
pydantic, the Powertools modules it uses), alone in a fresh process: at most 1.1 times.

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

# Imports the handler, then names every third-party module it loaded (not the standard
# library's, not ours): the baseline imports exactly those.
_LIBRARIES_PROBE = (
    "import importlib, json, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "ours = ('loyalty', 'functions')\n"
    "print(json.dumps(sorted(m for m in sys.modules if not m.startswith('_') and\n"
    "    m.split('.')[0] not in sys.stdlib_module_names and m.split('.')[0] not in ours)))\n"
)
_BASELINE_PROBE = (
    "import importlib, json, sys, time\n"
    "modules = json.loads(sys.argv[1])\n"
    "began = time.process_time()\n"
    "for module in modules:\n"
    "    importlib.import_module(module)\n"
    "print(time.process_time() - began)\n"
)
GOAL_RATIO = 1.1

_PROBE = (
    "import importlib, sys, time\n"
    "began = time.process_time()\n"
    "importlib.import_module(sys.argv[1])\n"
    "elapsed = time.process_time() - began\n"
    "print(elapsed, 'aws_xray_sdk' in sys.modules)\n"
)


def lambda_environment(*, tracing: bool = False) -> dict[str, str]:
    """A function's environment as the template gives it, around this process's own."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "layers" / "loyalty")]),
        "AWS_LAMBDA_FUNCTION_NAME": "cold-import-bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "loyalty",
        "POWERTOOLS_METRICS_NAMESPACE": "Loyalty",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "TABLE_NAME": "bench",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as the template's Globals set it
        # The warm-up writes the bytecode cache even where the caller's environment says not
        # to: without it every run compiles our modules from source, which the layer's .pyc
        # (scripts/sam.sh) spare a cold start.
        "PYTHONDONTWRITEBYTECODE": "",
    }
    environment.pop("AWS_SAM_LOCAL", None)
    return environment


def _run(*arguments: str, tracing: bool = False) -> str:
    return subprocess.run(
        [sys.executable, "-c", *arguments],
        env=lambda_environment(tracing=tracing),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def import_seconds(module: str, *, tracing: bool) -> tuple[float, bool]:
    seconds, xray = _run(_PROBE, module, tracing=tracing).split()
    return float(seconds), xray == "True"


def libraries_of(module: str) -> str:
    """The third-party modules a handler's import loads, as a JSON list."""
    return _run(_LIBRARIES_PROBE, module).strip()


def libraries_seconds(libraries: str) -> float:
    return float(_run(_BASELINE_PROBE, libraries))


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
    print(
        f"\ngoal: a handler imports in <= {GOAL_RATIO} x the libraries it loads, imported alone "
        f"(tracing off, median of {arguments.runs}, ms); tracing off loads no X-Ray SDK:"
    )
    print(f"  {'handler':<22} {'handler':>8} {'libraries':>10} {'ratio':>6}  verdict")
    for name in HANDLERS:
        module = f"functions.{name}.app"
        libraries = libraries_of(module)
        handler_runs: list[float] = []
        library_runs: list[float] = []
        xray_off = False
        for _ in range(arguments.runs):
            seconds, xray = import_seconds(module, tracing=False)
            handler_runs.append(seconds)
            xray_off = xray_off or xray
            library_runs.append(libraries_seconds(libraries))
        handler_ms = statistics.median(handler_runs) * 1000
        libraries_ms = statistics.median(library_runs) * 1000
        ratio = handler_ms / libraries_ms
        met = ratio <= GOAL_RATIO and not xray_off
        print(
            f"  {name:<22} {handler_ms:>8.0f} {libraries_ms:>10.0f} {ratio:>6.2f}  "
            f"{'met' if met else 'not met'}{' (X-Ray SDK loaded)' if xray_off else ''}"
        )


if __name__ == "__main__":
    main()
