"""Consensus ballots through the machine: votes, errors, expiry, events."""

from __future__ import annotations

import pytest

from mabeam.errors import Conflict, NotFound


def _start(run, rule="majority", voters=("a", "b", "c"), **extra):
    return run(
        "consensus.start",
        id="c1",
        proposal={"p": 1},
        rule=rule,
        voters=list(voters),
        weights=extra.pop("weights", None),
        threshold=extra.pop("threshold", 0.5),
        timeout_s=30,
        **extra,
    )


def test_majority_decides_on_the_deciding_vote(run):
    assert _start(run)["status"] == "open"
    run("consensus.vote", id="c1", agent_id="a", vote="approve")
    status = run("consensus.vote", id="c1", agent_id="b", vote="approve")
    assert status["status"] == "accepted" and status["tally"]["approve"] == 2
    completed = [e for e in run.state.events.events if e["topic"] == "coordination.consensus.completed"]
    assert [e["data"] for e in completed] == [{"consensus_id": "c1", "result": "accepted"}]


def test_vote_errors(run):
    _start(run, rule="unanimous")
    with pytest.raises(NotFound) as info:
        run("consensus.vote", id="c1", agent_id="stranger", vote="approve")
    assert info.value.code == "unknown_agent"
    run("consensus.vote", id="c1", agent_id="a", vote="approve")
    with pytest.raises(Conflict) as info:
        run("consensus.vote", id="c1", agent_id="a", vote="reject")
    assert info.value.code == "already_voted"
    run("consensus.vote", id="c1", agent_id="b", vote="reject")
    with pytest.raises(Conflict) as info:
        run("consensus.vote", id="c1", agent_id="c", vote="approve")
    assert info.value.code == "closed"
    assert run.state.consensus.by_id["c1"]["status"] == "rejected"


def test_expiry(run):
    _start(run)
    run("consensus.vote", id="c1", agent_id="a", vote="approve")
    run.advance(29)
    assert run("consensus.expire", ids=["c1"]) == {"expired": []}
    run.advance(1)
    assert run("consensus.expire", ids=["c1"]) == {"expired": ["c1"]}
    assert run.state.consensus.by_id["c1"]["status"] == "expired"
    assert run.state.events.events[-1]["data"] == {"consensus_id": "c1", "result": "expired"}


def test_unknown_ballot(run):
    with pytest.raises(NotFound):
        run("consensus.vote", id="nope", agent_id="a", vote="approve")
