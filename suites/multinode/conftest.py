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

``MABEAM_CLUSTER_CMD`` overrides the node command template (placeholders
``{name} {host} {port} {peers} {data_dir}``), e.g. to run these suites
against another build of the node.
"""

from __future__ import annotations

import os
import random
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from pipeline.checker.history import History
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


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The test's seed: ``--cluster-seed``, else ``$PIPELINE_SEED``, else fresh.
    Printed so a failing run says how to replay it."""
    chosen = request.config.getoption("cluster_seed", None)
    if chosen is None and os.environ.get("PIPELINE_SEED"):
        chosen = int(os.environ["PIPELINE_SEED"])
    if chosen is None:
        chosen = random.SystemRandom().randrange(2**31)
    print(f"seed={chosen} (replay with PIPELINE_SEED={chosen})")
    return int(chosen)


@pytest.fixture
def rng(seed: int) -> random.Random:
    """The test's own random choices (which nodes, which keys, which amounts)."""
    return random.Random(seed)


@pytest.fixture
def mabeam(cluster, seed: int, rng: random.Random):
    """Factory: ``mabeam(node_count, topology="mesh", member_grace_s=60,
    tick_ms=50)`` -> a ready :class:`MabeamCluster`.

    The member grace period defaults to a minute so a partition or a crash
    in a test does not also shrink the membership (that is what the
    progressive-failure test asks for explicitly with a short grace)."""
    made: list[MabeamCluster] = []

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
    yield recorded
    call = getattr(request.node, "_mn_report_call", None)
    if call is not None and call.failed and len(recorded) and not getattr(recorded, "saved", False):
        path = recorded.save(recorded.path)  # type: ignore[attr-defined]
        print(f"history saved to {path}")
