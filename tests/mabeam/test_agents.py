"""Agents: lifecycle and the events other domains react to."""

from __future__ import annotations

import pytest

from mabeam.errors import Conflict, NotFound


def test_start_stop_crash(run):
    agent = run.agent("a1")
    assert agent["status"] == "running" and agent["node"] == "n1" and agent["started_at"] == run.now
    assert run("agent.stop", id="a1")["status"] == "stopped"
    run.agent("a2")
    assert run("agent.crash", id="a2")["status"] == "crashed"
    assert run.topics("coordination.agent.") == [
        "coordination.agent.started",
        "coordination.agent.stopped",
        "coordination.agent.started",
        "coordination.agent.crashed",
    ]


def test_duplicate_id_is_already_exists(run):
    run.agent("a1")
    with pytest.raises(Conflict) as info:
        run.agent("a1")
    assert info.value.code == "already_exists"


def test_unknown_agent_is_not_found(run):
    with pytest.raises(NotFound):
        run("agent.stop", id="ghost")


def test_a_down_agent_cannot_go_down_again(run):
    run.agent("a1")
    run("agent.crash", id="a1")
    with pytest.raises(Conflict) as info:
        run("agent.stop", id="a1")
    assert info.value.code == "not_running"
    assert run.state.agents.by_id["a1"]["status"] == "crashed"
