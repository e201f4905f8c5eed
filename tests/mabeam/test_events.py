"""The event log: ids as cursors, pattern queries, the newest-N window."""

from __future__ import annotations

from mabeam.events import EventLog
from mabeam.patterns import compile_pattern

ALL = compile_pattern("**")


def _fill(log: EventLog, topics: list[str]) -> None:
    for i, topic in enumerate(topics):
        log.append(topic, {"i": i}, 1.0 + i, "n1")


def test_ids_increase_by_one_in_append_order():
    log = EventLog()
    _fill(log, ["a.x", "b.y", "a.z"])
    assert [e["id"] for e in log.events] == [1, 2, 3]
    assert log.last_id == 3


def test_query_returns_events_after_cursor_and_next_cursor():
    log = EventLog()
    _fill(log, ["a.x", "b.y", "a.z", "b.w"])
    found, cursor = log.query(1, compile_pattern("a.*"), 100)
    assert [e["id"] for e in found] == [3]
    assert cursor == 4  # scanned past the non-matching tail: no rescan next time


def test_query_limit_stops_at_the_last_returned_event():
    log = EventLog()
    _fill(log, ["t.a"] * 10)
    found, cursor = log.query(0, ALL, 3)
    assert [e["id"] for e in found] == [1, 2, 3] and cursor == 3
    found, cursor = log.query(cursor, ALL, 3)
    assert [e["id"] for e in found] == [4, 5, 6]


def test_cursor_beyond_the_end_is_kept():
    log = EventLog()
    _fill(log, ["t.a"])
    assert log.query(50, ALL, 10) == ([], 50)


def test_only_the_newest_events_are_kept_and_old_cursors_resume_from_the_oldest():
    log = EventLog(keep=5)
    _fill(log, ["t.a"] * 12)
    assert [e["id"] for e in log.events] == [8, 9, 10, 11, 12]
    found, cursor = log.query(2, ALL, 100)
    assert [e["id"] for e in found] == [8, 9, 10, 11, 12]  # first id tells the gap
    assert cursor == 12


def test_publish_through_the_machine(run):
    event = run("events.publish", topic="app.hello", data={"x": 1})
    assert event == {"id": 1, "topic": "app.hello", "data": {"x": 1}, "time": run.now, "node": "n1"}
