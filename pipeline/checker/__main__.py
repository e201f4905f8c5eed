"""Replay the checkers on a saved history: ``python -m pipeline.checker FILE.jsonl``.

Exit status: 0 valid, 1 a violation (or an inconclusive check), 2 bad usage.
``--config module:function`` names a function returning ``check_all`` keyword
arguments (custom models), for suites whose vocabulary is not the default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from pipeline.history import History
from pipeline.checker.report import format_report
from pipeline.checker.run import CHECKERS, check_all


def _config(spec: str) -> dict:
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise SystemExit(f"--config must be module:function, got {spec!r}")
    value = getattr(importlib.import_module(module), attr)
    value = value() if callable(value) else value
    if not isinstance(value, dict):
        raise SystemExit(f"--config {spec} must give a dict of check_all arguments, got {value!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.checker", description=__doc__.splitlines()[0])
    parser.add_argument("history", type=Path, help="a history saved with History.save (JSON lines)")
    parser.add_argument("--only", action="append", choices=CHECKERS, help="run just this checker (repeatable)")
    parser.add_argument("--config", help="module:function returning check_all keyword arguments")
    parser.add_argument("--max-steps", type=int, default=2_000_000, help="linearizability search budget per key")
    args = parser.parse_args(argv)
    try:
        history = History.load(args.history)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.history}: {exc}", file=sys.stderr)
        return 2
    options = _config(args.config) if args.config else {}
    options.setdefault("max_steps", args.max_steps)
    report = check_all(history, only=args.only, **options)
    print(f"{args.history}: {history!r}")
    print(format_report(report, history.t0_ns))
    return 0 if report.valid else 1


if __name__ == "__main__":
    sys.exit(main())
