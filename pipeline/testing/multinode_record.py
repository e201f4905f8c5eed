"""One small JSON file per multi-node test, and the closing table built from them.

``reports/multinode/<test>.json`` says what a reader of the HTML report (and the
terminal's closing table) needs about one test, without opening its history:

* ``seed``, ``outcome``, ``duration_s``, the replay commands;
* per cluster: its size, run id, node names with their log files (paths
  relative to the reports folder), and its fault log: every fault with its kind,
  description and start / verified / end times in seconds after the cluster
  started;
* the operations the clients recorded: ``ok``, ``fail``, ``unknown``;
* each checker's verdict (``valid``, ``INVALID``, ``inconclusive``) and explanation.

Written by ``suites/multinode/conftest.py`` after each test's teardown, whatever
the outcome.  Everything is read defensively: a record never breaks a test.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["PROPERTY", "write", "load", "load_all", "closing_lines", "outcome_of", "record_name"]

SCHEMA = 1
PROPERTY = "pipeline.multinode.record"  # JUnit property: the record's path, relative to the reports folder
FOLDER = "multinode"
RECOVERIES = ("heal",)  # fault-log kinds that end faults rather than inject one


def record_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_") or "test"


def outcome_of(reports: Sequence[Any]) -> str:
    """``passed``, ``failed``, ``error`` (setup or teardown failed) or ``skipped`` from pytest's phase reports."""
    for report in reports:
        if report.failed:
            return "failed" if report.when == "call" else "error"
    if any(report.skipped for report in reports):
        return "skipped"
    return "passed"


def _relative(path: Any, reports: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(reports.resolve()).as_posix()
    except ValueError:
        return str(path)


def _cluster(handle: Any, reports: Path) -> dict[str, Any]:
    log = handle.faults.log
    origin = float(log.origin)

    def rel(t: float | None) -> float | None:
        return None if t is None else round(float(t) - origin, 3)

    nodes = []
    for name in handle.names:
        try:
            path = handle.provider.log_path(name)
        except Exception:  # noqa: BLE001 - a provider without log files
            path = None
        nodes.append({"name": name, "log": _relative(path, reports)})
    faults = [
        {
            "id": r.id,
            "kind": r.kind,
            "description": r.description,
            "nodes": list(r.nodes),
            "start_s": rel(r.started_at),
            "verified_s": rel(r.verified_at),
            "verification": r.verification,
            "end_s": rel(r.ended_at),
            "end_note": r.end_note,
        }
        for r in log
    ]
    return {
        "run_id": handle.run_id,
        "size": len(handle.names),
        "seed": handle.seed,
        "nodes": nodes,
        "run_dir": _relative(getattr(handle, "run_dir", None), reports),
        "faults": faults,
        "fault_log": log.format(),
        "elapsed_s": round(time.time() - origin, 3),
    }


def write(
    reports: Path,
    test_name: str,
    *,
    test: str,
    outcome: str,
    seed: int | None,
    clusters: Iterable[Any] = (),
    history: Any = None,
    check_reports: Iterable[Any] = (),
    duration_s: float = 0.0,
) -> Path:
    """Write ``<reports>/multinode/<test>.json`` and return its path."""
    name = record_name(test_name)
    ops = {"ok": 0, "fail": 0, "unknown": 0}
    history_file = None
    if history is not None:
        for op in history.ops():
            ops[op.status] = ops.get(op.status, 0) + 1
        saved = getattr(history, "path", None)
        if saved is not None and Path(saved).is_file():
            history_file = _relative(saved, reports)
    checks = [
        {"checker": r.checker, "verdict": r.verdict, "explanation": r.explanation}
        for report in check_reports
        for r in report.results
    ]
    selector = test_name.split("[", 1)[0]
    replay = [f"PIPELINE_SEED={seed} python -m nox -s multinode -- -k {shlex.quote(selector)}"] if seed else []
    if history_file:
        replay.append(f"python -m pipeline.checker {shlex.quote(str(Path(reports.name) / history_file))}")
    record = {
        "schema": SCHEMA,
        "test": test,
        "name": test_name,
        "outcome": outcome,
        "seed": seed,
        "duration_s": round(duration_s, 3),
        "clusters": [_cluster(handle, reports) for handle in clusters],
        "operations": ops,
        "checks": checks,
        "history": history_file,
        "replay": replay,
    }
    path = reports / FOLDER / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load(path: Path) -> dict[str, Any] | None:
    """A record, or None when it is missing or not a record."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def load_all(reports: Path, relative: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The records named (relative to ``reports``), else every record in ``reports/multinode/``."""
    paths = (
        [reports / r for r in dict.fromkeys(relative)]
        if relative is not None
        else sorted((reports / FOLDER).glob("*.json"))
    )
    return [r for r in (load(p) for p in paths) if r is not None]


def fault_kinds(record: dict[str, Any]) -> list[str]:
    return [f.get("kind", "?") for c in record.get("clusters", []) for f in c.get("faults", [])]


def closing_lines(records: Sequence[dict[str, Any]]) -> list[tuple[str, bool]]:
    """One aligned line per test: outcome, name, nodes, faults, operations, checker verdicts, seed."""
    rows = []
    for r in records:
        sizes = "+".join(str(c.get("size", "?")) for c in r.get("clusters", [])) or "-"
        kinds = [k for k in fault_kinds(r) if k not in RECOVERIES]
        counted: dict[str, int] = {}
        for kind in kinds:
            counted[kind] = counted.get(kind, 0) + 1
        faults = f"{len(kinds)}" + (
            " (" + ", ".join(f"{k}" + (f" x{n}" if n > 1 else "") for k, n in counted.items()) + ")" if kinds else ""
        )
        ops = r.get("operations", {})
        checks = ", ".join(f"{c['checker']}={c['verdict']}" for c in r.get("checks", [])) or "no checks"
        rows.append(
            (
                [
                    str(r.get("outcome", "?")).upper(),
                    str(r.get("name", "?")),
                    f"{sizes} nodes",
                    f"faults {faults}",
                    f"ops {ops.get('ok', 0)} ok / {ops.get('fail', 0)} fail / {ops.get('unknown', 0)} unknown",
                    f"checks {checks}",
                    f"seed={r.get('seed')}",
                ],
                r.get("outcome") in ("passed", "skipped"),
            )
        )
    if not rows:
        return []
    widths = [max(len(cells[i]) for cells, _ in rows) for i in range(len(rows[0][0]) - 1)]
    return [
        ("  ".join(cell.ljust(w) for cell, w in zip(cells[:-1], widths, strict=True)) + "  " + cells[-1], ok)
        for cells, ok in rows
    ]
