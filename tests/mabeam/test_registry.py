"""Registry: one holder per name, running agents only, cleanup when an agent dies."""

from __future__ import annotations

import pytest

from mabeam.errors import Conflict, NotFound


def test_register_lookup_unregister(run):
    run.agent("a1")
    entry = run("registry.register", name="svc", ref="a1", meta={"v": 1})
    assert entry["name"] == "svc" and entry["ref"] == "a1" and entry["meta"] == {"v": 1}
    assert run.state.registry.lookup("svc")["ref"] == "a1"
    assert run("registry.unregister", name="svc") == {"ok": True, "name": "svc"}
    with pytest.raises(NotFound):
        run.state.registry.lookup("svc")
    events = [e for e in run.state.events.events if e["topic"].startswith("registry.")]
    assert [e["topic"] for e in events] == ["registry.registered", "registry.unregistered"]
    assert events[1]["data"] == {"name": "svc", "ref": "a1", "reason": "unregister"}


def test_second_holder_gets_already_registered(run):
    run.agent("a1")
    run.agent("a2")
    run("registry.register", name="svc", ref="a1")
    with pytest.raises(Conflict) as info:
        run("registry.register", name="svc", ref="a2")
    assert info.value.code == "already_registered"
    assert run.state.registry.lookup("svc")["ref"] == "a1"


@pytest.mark.parametrize("setup", ["missing", "stopped"])
def test_ref_must_be_a_running_agent(run, setup):
    if setup == "stopped":
        run.agent("a1")
        run("agent.stop", id="a1")
    with pytest.raises(NotFound) as info:
        run("registry.register", name="svc", ref="a1")
    assert info.value.code == "unknown_agent" and info.value.field == "ref"
    assert run.state.registry.entries == {}


def test_unregister_unknown_name_is_not_found(run):
    with pytest.raises(NotFound) as info:
        run("registry.unregister", name="nope")
    assert info.value.code == "not_found"


@pytest.mark.parametrize("how", ["agent.stop", "agent.crash"])
def test_entries_of_a_down_agent_are_removed_with_reason(run, how):
    run.agent("a1")
    run.agent("a2")
    run("registry.register", name="x", ref="a1")
    run("registry.register", name="y", ref="a1")
    run("registry.register", name="z", ref="a2")
    run(how, id="a1")
    assert set(run.state.registry.entries) == {"z"}
    gone = [e["data"] for e in run.state.events.events if e["topic"] == "registry.unregistered"]
    assert gone == [
        {"name": "x", "ref": "a1", "reason": "agent_down"},
        {"name": "y", "ref": "a1", "reason": "agent_down"},
    ]
