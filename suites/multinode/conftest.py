"""Fixtures of the multi-node suites: a replicated mabeam cluster, a seed,
a history of client operations and the checks that end every test.

* ``seed`` -- one seed per test, printed, used for the cluster (fault
  choices) *and* every random choice of the test's clients.  Replay a run
  with ``PIPELINE_SEED=<seed>`` (or ``--cluster-seed``).
* ``mabeam`` -- ``mabeam(5, member_grace_s=60)`` starts a cluster-mode
  cluster through the toolkit's ``cluster`` fixture (local processes, one
  Toxiproxy proxy per directed link) and waits until it has one leader and
  every node reports ``normal``.  Torn down by the ``cluster`` fixture, pass
  or fail; on failure its fault log and node logs are attached to the report.
* ``history`` -- the test's :class:`~pipeline.checker.history.History`.  It is saved
  to ``reports/history/<test>.jsonl`` when checked, and also when the test
  fails before reaching its checks.

Every test also leaves ``reports/multinode/<test>.json`` (seed, cluster size,
fault log with times, operations ok / fail / unknown, each checker's verdict,
node logs, replay commands; :mod:`pipeline.testing.multinode_record`), named
in JUnit by the ``pipeline.multinode.record`` property.  The session ends with
one line per test (the closing table) built from those files.

``MABEAM_CLUSTER_CMD`` overrides the node command template (placeholders
``{name} {host} {port} {peers} {data_dir}``), e.g. to run these suites
against another build of the node.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.checker.history import History
from pipeline.testing import multinode_record as records
from suites.multinode import checks
from suites.multinode.cluster import MabeamCluster, node_command

ROOT = Path(__file__).resolve().parents[2]


def reports_dir() -> Path:
    return Path(os.environ.get("PIPELINE_REPORTS", ROOT / "reports"))


def history_path(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    return reports_dir() / "history" / f"{name}.jsonl"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Remember each phase's report on the item, so fixtures can tell in
    their teardown whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_mn_report_{report.when}", report)
    if report.when == "teardown":
        _write_record(item, report)


def _write_record(item: pytest.Item, report: pytest.TestReport) -> None:
    """``reports/multinode/<test>.json`` for this test; its path as a JUnit property."""
    phases = [getattr(item, f"_mn_report_{when}", None) for when in ("setup", "call", "teardown")]
    stash = item.stash
    kept: list = stash.get(_CHECKS, [])
    try:
        path = records.write(
            reports_dir(),
            item.name,
            test=item.nodeid,
            outcome=records.outcome_of([p for p in phases if p is not None]),
            seed=stash.get(_SEED, None),
            clusters=[c.handle for c in stash.get(_CLUSTERS, [])],
            history=stash.get(_HISTORY, None),
            check_reports=kept,
            duration_s=sum(p.duration for p in phases if p is not None),
        )
    except Exception as exc:  # noqa: BLE001 - the record must never change a test's outcome
        report.sections.append(("multinode record", f"could not write the test's record: {exc}\n"))
        return
    report.user_properties.append((records.PROPERTY, str(path.relative_to(reports_dir()))))


_SEED = pytest.StashKey[int]()
_CLUSTERS = pytest.StashKey[list]()
_HISTORY = pytest.StashKey[History]()
_CHECKS = pytest.StashKey[list]()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        _CLOSING.extend(str(value) for name, value in report.user_properties if name == records.PROPERTY)


_CLOSING: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The closing table: one line per multinode test (plain text unless on a colour terminal)."""
    loaded = records.load_all(reports_dir(), _CLOSING)
    if not loaded:
        return
    markup = bool(terminalreporter.hasmarkup and sys.stdout.isatty())
    terminalreporter.section("multinode: nodes, faults, operations, checkers, seed", sep="-", bold=markup)
    for line, ok in records.closing_lines(loaded):
        terminalreporter.write_line(line, **({"green": ok, "red": not ok} if markup else {}))


@pytest.fixture(autouse=True)
def _recorded_checks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every :class:`~pipeline.checker.CheckReport` the test's ``verify`` computes, for its record."""
    kept: list = []
    request.node.stash[_CHECKS] = kept
    original = checks.check_all

    def recording(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        kept.append(result)
        return result

    monkeypatch.setattr(checks, "check_all", recording)


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The test's seed: ``--cluster-seed``, else ``$PIPELINE_SEED``, else fresh.
    Printed so a failing run says how to replay it."""
    chosen = request.config.getoption("cluster_seed", None)
    if chosen is None and os.environ.get("PIPELINE_SEED"):
        try:
            chosen = int(os.environ["PIPELINE_SEED"])
        except ValueError:
            raise pytest.UsageError(
                f"PIPELINE_SEED: expected a whole number, got {os.environ['PIPELINE_SEED']!r}"
            ) from None
    if chosen is None:
        chosen = random.SystemRandom().randrange(2**31)
    print(f"seed={chosen} (replay with PIPELINE_SEED={chosen})")
    request.node.stash[_SEED] = int(chosen)
    return int(chosen)


@pytest.fixture
def rng(seed: int) -> random.Random:
    """The test's own random choices (which nodes, which keys, which amounts)."""
    return random.Random(seed)


@pytest.fixture
def mabeam(request: pytest.FixtureRequest, cluster, seed: int, rng: random.Random):
    """Factory: ``mabeam(node_count, topology="mesh", member_grace_s=60,
    tick_ms=50)`` -> a ready :class:`MabeamCluster`.

    The member grace period defaults to a minute so a partition or a crash
    in a test does not also shrink the membership (that is what the
    progressive-failure test asks for explicitly with a short grace)."""
    made: list[MabeamCluster] = []
    request.node.stash[_CLUSTERS] = made

    def start(
        node_count: int,
        topology: str = "mesh",
        *,
        member_grace_s: float = 60.0,
        tick_ms: int = 50,
        ready_timeout: float = 30.0,
    ) -> MabeamCluster:
        override = os.environ.get("MABEAM_CLUSTER_CMD")
        command = shlex.split(override) if override else node_command(tick_ms=tick_ms, member_grace_s=member_grace_s)
        secret = f"{rng.getrandbits(128):032x}"
        handle = cluster(
            node_count=node_count,
            topology=topology,
            command=command,
            cwd=str(ROOT),
            env={"MABEAM_CLUSTER_SECRET": secret},
            ready_timeout=ready_timeout,
            stop_timeout=5.0,
            seed=seed,
        )
        wrapped = MabeamCluster(handle)
        made.append(wrapped)
        wrapped.wait_ready(timeout=ready_timeout)
        return wrapped

    yield start
    for wrapped in made:
        wrapped.close()


@pytest.fixture
def history(request: pytest.FixtureRequest, seed: int):
    """The test's history; saved on failure (the checks save it themselves)."""
    recorded = History(meta={"test": request.node.nodeid, "seed": seed})
    recorded.path = history_path(request)  # type: ignore[attr-defined]
    request.node.stash[_HISTORY] = recorded
    yield recorded
    call = getattr(request.node, "_mn_report_call", None)
    if call is not None and call.failed and len(recorded) and not getattr(recorded, "saved", False):
        path = recorded.save(recorded.path)  # type: ignore[attr-defined]
        print(f"history saved to {path}")
