"""pytest integration for test clusters.

Fixtures:

* ``cluster`` - a factory: ``cluster(node_count=3, topology="ring",
  command=[...], ...)`` takes the keyword arguments of
  :func:`pipeline.cluster.config.cluster_config` (or one ready
  ``ClusterConfig``), starts the cluster and returns its handle; every cluster
  it made is torn down when the test ends, pass or fail.
* ``cluster_manager`` - the :class:`ClusterManager` the factory uses
  (session-wide); override it in a ``conftest.py`` to change the provider or
  the Toxiproxy.
* ``eventually`` - :func:`pipeline.testing.eventually.eventually`, also importable from
  here: ``from pipeline.testing.pytest_plugin import eventually``.

When a test fails, its report gets, per cluster, the fault log (with the seed
to replay) and the tail of every node's log.  The sections are named
``Captured stdout cluster ...`` so they land in the terminal summary *and* in
JUnit's ``system-out``.

SIGTERM during a session that uses ``cluster`` ends it like Ctrl-C: the
current test stops, every cluster is torn down, the exit status is 143.

Options: ``--cluster-seed N`` (replay; same as ``PIPELINE_SEED=N``),
``--cluster-log-lines N`` (log lines per node in failure reports, default 30),
``--provider {local,containers}`` (where nodes run; default
``$PIPELINE_PROVIDER`` or ``local``, see :mod:`pipeline.cluster.select`) and
``--skip-without-docker``.  With ``--provider containers`` and no Docker
engine answering, the session stops before collecting with one line saying so
(exit 4); with ``--skip-without-docker`` every test that starts a cluster is
skipped instead, the reason in its report.

Enable it with ``-p pipeline.testing.pytest_plugin``, ``pytest_plugins =
["pipeline.testing.pytest_plugin"]`` in the root ``conftest.py``, or the
``pytest11`` entry point.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.testing.eventually import EventuallyTimeout, eventually

__all__ = ["eventually", "EventuallyTimeout", "cluster", "cluster_manager"]

# reruns reach JUnit whatever pytest-rerunfailures version lays them out (see the module)
pytest_plugins = ["pipeline.testing.reruns"]

_CLUSTERS = pytest.StashKey[list]()
_REPORTED = pytest.StashKey[bool]()
_SIGTERM = pytest.StashKey[Any]()
_PROVIDER = pytest.StashKey[str]()
_UNAVAILABLE = pytest.StashKey["str | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pipeline-cluster", "test clusters (pipeline.cluster)")
    group.addoption(
        "--cluster-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed for every cluster (replays fault choices; default $PIPELINE_SEED or random)",
    )
    group.addoption(
        "--cluster-log-lines",
        type=int,
        default=30,
        metavar="N",
        help="node log lines attached to a failing test's report (default 30)",
    )
    group.addoption(
        "--provider",
        default=None,
        metavar="NAME",
        help="where cluster nodes run: local (processes, the default) or containers (Docker, via testcontainers); "
        "default $PIPELINE_PROVIDER or local",
    )
    group.addoption(
        "--skip-without-docker",
        action="store_true",
        default=False,
        help="with --provider containers: skip the tests that start clusters when no Docker engine answers "
        "(default: stop with an error)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Resolve ``--provider`` once, before collection: a wrong name or an
    unreachable Docker engine is one line, not an error in every test."""
    from pipeline.cluster.select import ProviderChoiceError, provider_name, unavailable

    try:
        name = provider_name(config.getoption("provider", None))
    except ProviderChoiceError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_PROVIDER] = name
    reason = unavailable(name)
    if reason is not None and not config.getoption("skip_without_docker", False):
        raise pytest.UsageError(f"{reason} (--skip-without-docker skips the cluster tests instead)")
    config.stash[_UNAVAILABLE] = reason


def pytest_report_header(config: pytest.Config) -> str | None:
    name = config.stash.get(_PROVIDER, "local")
    reason = config.stash.get(_UNAVAILABLE, None)
    if reason is not None:
        return f"cluster provider: {name} - unavailable, cluster tests skipped: {reason}"
    return None if name == "local" else f"cluster provider: {name}"


@pytest.fixture(scope="session")
def cluster_manager(pytestconfig: pytest.Config) -> Any:
    """The manager the ``cluster`` factory starts clusters with: the provider of
    ``--provider`` (default local processes, shared Toxiproxy).  Override in a
    conftest for a provider of your own."""
    from pipeline.cluster import select

    name = pytestconfig.stash.get(_PROVIDER, "local")
    reason = pytestconfig.stash.get(_UNAVAILABLE, None)
    if reason is not None:
        pytest.skip(f"skipped without Docker (--skip-without-docker): {reason}")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        select.prepare(name)  # a first image build takes a minute or two: its progress is shown
    return select.manager(name)


@pytest.fixture
def cluster(request: pytest.FixtureRequest, cluster_manager: Any) -> Any:
    """Factory fixture: ``cluster(**cluster_config kwargs)`` or ``cluster(config)``."""
    from pipeline.cluster.config import ClusterConfig, cluster_config

    _exit_session_on_sigterm(request.config)
    created: list = []
    request.node.stash[_CLUSTERS] = created
    option_seed = request.config.getoption("cluster_seed", None)

    def make(config: ClusterConfig | None = None, /, *, seed: int | None = None, **kwargs: Any) -> Any:
        if config is None:
            config = cluster_config(**kwargs)
        elif kwargs:
            raise TypeError(
                f"cluster(config, ...): give a ClusterConfig or keyword arguments, not both "
                f"(got {', '.join(sorted(kwargs))})"
            )
        handle = cluster_manager.start(config, seed=seed if seed is not None else option_seed)
        created.append(handle)
        return handle

    yield make
    errors = []
    for handle in reversed(created):
        try:
            handle.close()
        except Exception as exc:  # noqa: BLE001 - close the others, then report
            errors.append(exc)
    if errors:
        raise errors[0]


def _exit_session_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (a CI timeout, ``kill``) ends the session like Ctrl-C does:
    ``pytest.exit`` stops after the current test and pytest still runs every
    fixture finalizer, so clusters are torn down.  (A plain ``SystemExit``
    would only fail the current test and let the session go on.)  Installed
    on first use of ``cluster``, only over the default disposition, and
    restored at the end of the session."""
    if config.stash.get(_SIGTERM, None) is not None or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return

    def on_sigterm(signum: int, frame: object) -> None:
        pytest.exit("SIGTERM: tearing down clusters and stopping", returncode=128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    config.stash[_SIGTERM] = previous or signal.SIG_DFL

    def restore() -> None:
        signal.signal(signal.SIGTERM, config.stash[_SIGTERM])

    config.add_cleanup(restore)


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    """``eventually(condition, timeout=5, ...)``: poll until true or fail with why."""
    return eventually


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or item.stash.get(_REPORTED, False):
        return
    clusters = item.stash.get(_CLUSTERS, [])
    if not clusters:
        return
    item.stash[_REPORTED] = True
    lines = item.config.getoption("cluster_log_lines", 30) or 30
    for handle in clusters:
        for title, text in _cluster_sections(handle, lines):
            # on this report for the terminal; on the item so the teardown
            # report, which is the one JUnit's system-out is written from, has it too
            report.sections.append((f"Captured stdout {title}", text))
            if report.when != "teardown":
                item.add_report_section(title, "stdout", text)


def _cluster_sections(handle: Any, lines: int) -> list[tuple[str, str]]:
    try:
        faults = handle.faults.log.format()
        tails = []
        for name, tail in handle.log_tails(lines).items():
            tails.append(f"--- {name} ({handle.provider.log_path(name) or 'in memory'}) ---")
            tails.append(tail or "(empty)")
    except Exception as exc:  # noqa: BLE001 - a report must never break the run
        return [(f"cluster {handle.run_id}", f"(could not read the cluster's state: {exc})\n")]
    sections = [(f"cluster {handle.run_id} faults (seed={handle.seed})", faults + "\n")]
    if tails:
        sections.append((f"cluster {handle.run_id} node logs", "\n".join(tails) + "\n"))
    return sections
