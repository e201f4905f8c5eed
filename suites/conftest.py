"""Shared fixtures for suites that drive a real mabeam node over HTTP.

One node process serves the whole session (starting a node per test would cost
more than the tests).  Tests stay independent on that shared node because every
name, id and topic they use is unique (:func:`uid`), and they match events by
their own ids, never by position.

The node is a one-node cluster started by the toolkit's own ``ClusterManager``
(the ``cluster_manager`` fixture of ``pipeline.testing.pytest_plugin``): the same
launcher, teardown guarantees (parent-death signal, watchdog, run state for
``invoke cluster-clean``) and log folder (``reports/cluster/<run>/n1.log``) as
the multi-node suites, with no link proxies since there are no peers.
``MABEAM_NODE_CMD`` overrides the node command (a template with ``{port}`` and
``{name}``), e.g. to run the suites against another build.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from pathlib import Path

import pytest

from pipeline.cluster.config import cluster_config
from suites.service.client import Api, EventLog, SseStream, uid

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COMMAND = [sys.executable, "-m", "mabeam", "--node-id", "{name}", "--host", "{host}", "--port", "{port}"]


class Node(Api):
    """The API client of the session's node, with its process at hand."""

    def __init__(self, process) -> None:
        super().__init__(process.url, name=process.name)
        self.process = process  # the cluster's NodeHandle: is_running(), log_tail()
        self.events = EventLog(self)

    def sse(self, pattern: str = "**", **kwargs) -> SseStream:
        return SseStream(self, pattern, **kwargs)


@pytest.fixture(scope="session")
def node(cluster_manager):
    """A running ``mabeam`` node (``n1``) for the whole session."""
    override = os.environ.get("MABEAM_NODE_CMD")
    command = shlex.split(override) if override else DEFAULT_COMMAND
    # a node in a container listens on 0.0.0.0, which mabeam allows only with a secret of its own
    secret = secrets.token_hex(16)
    handle = cluster_manager.start(
        cluster_config(
            1,
            command=command,
            health_path="/health",
            link_proxies=False,
            cwd=str(ROOT),
            ready_timeout=30,
            env={"MABEAM_CLUSTER_SECRET": secret},
        )
    )
    client = Node(handle.node("n1"))
    try:
        yield client
    finally:
        client.close()
        handle.close()


@pytest.fixture
def new_id():
    """``new_id("agent")`` -> a unique id (see :func:`suites.service.client.uid`)."""
    return uid


@pytest.fixture
def events(node):
    """The node's event log (long-poll reader)."""
    return node.events


@pytest.fixture
def sse(node):
    """Factory of SSE subscriptions, all closed at the end of the test."""
    streams: list[SseStream] = []

    def open_stream(pattern: str = "**", **kwargs) -> SseStream:
        stream = node.sse(pattern, **kwargs)
        streams.append(stream)
        return stream

    yield open_stream
    for stream in streams:
        stream.close()


@pytest.fixture(autouse=True)
def _node_survives(request):
    """After every test that used the node: fail loudly, with the node's log
    tail, if the node process died during the test."""
    yield
    if "node" not in request.fixturenames:
        return
    process = request.getfixturevalue("node").process
    if not process.is_running():
        pytest.fail(
            f"the node died during this test (exit code {process.exit_code}); log tail:\n{process.log_tail()}",
            pytrace=False,
        )
