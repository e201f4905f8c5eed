"""Replay the checkers on a saved history: ``python -m pipeline.checker FILE.jsonl``.

Exit status: 0 valid, 1 a violation (or an inconclusive check), 2 bad usage.
``--config module:function`` names a function returning ``check_all`` keyword
arguments (custom models), for suites whose vocabulary is not the default.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

from pipeline.checker.history import History
from pipeline.checker.report import format_report
from pipeline.checker.run import CHECKERS, check_all


class UsageError(Exception):
    """Bad command-line input: reported in one line with exit status 2."""


def _config(spec: str) -> dict:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise UsageError(f"--config must be module:function, got {spec!r}")
    try:
        value = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise UsageError(f"--config {spec}: cannot import {module!r}: {exc}") from None
    except AttributeError:
        raise UsageError(f"--config {spec}: module {module!r} has no {attr!r}") from None
    try:
        value = value() if callable(value) else value
    except TypeError as exc:
        raise UsageError(f"--config {spec}: calling it with no arguments failed: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--config {spec} must give a dict of check_all arguments, got {value!r}")
    allowed = [
        name
        for name, param in inspect.signature(check_all).parameters.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and name != "only"
    ]
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise UsageError(
            f"--config {spec}: unknown check_all argument(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.checker", description=__doc__.splitlines()[0])
    parser.add_argument("history", type=Path, help="a history saved with History.save (JSON lines)")
    parser.add_argument("--only", action="append", choices=CHECKERS, help="run just this checker (repeatable)")
    parser.add_argument("--config", help="module:function returning check_all keyword arguments")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=2_000_000,
        help="linearizability search budget per key (and for shrinking a failing key's excerpt)",
    )
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        parser.error(f"--max-steps: must be >= 1, got {args.max_steps}")
    try:
        history = History.load(args.history)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.history}: {exc}", file=sys.stderr)
        return 2
    try:
        options = _config(args.config) if args.config else {}
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    options.setdefault("max_steps", args.max_steps)
    report = check_all(history, only=args.only, **options)
    print(f"{args.history}: {history!r}")
    print(format_report(report, history.t0_ns))
    return 0 if report.valid else 1


if __name__ == "__main__":
    sys.exit(main())
