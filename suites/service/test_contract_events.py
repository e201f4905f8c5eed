"""Events contract (seed §3.2 "Events service maintains event contract
integrity"): a published event reaches subscribers, over long-poll ``GET
/events`` and over Server-Sent Events; ids are cursors that grow by one in log
order; patterns follow docs/api.md (``*`` one segment, ``**``/``#`` zero or more).

Every test publishes under its own random root topic, so other tests' events on
the shared node never match its patterns.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from suites.service.client import uid

pytestmark = pytest.mark.timeout(60)


def root() -> str:
    """A one-segment unique topic root (no dots: segments matter here)."""
    return uid("t").replace("-", "")


def publish(node, topic, data):
    return node.post("/events", {"topic": topic, "data": data}).expect(201)


def test_publish_answers_the_stored_event(node):
    topic = f"{root()}.contract.validation"
    data = {"message": "contract test", "nested": {"list": [1, 2.5, "x", None, True]}}
    event = publish(node, topic, data)
    assert isinstance(event["id"], int) and event["id"] > 0
    assert event["topic"] == topic and event["data"] == data
    assert event["node"] == "n1"
    assert isinstance(event["time"], (int, float)) and event["time"] > 0


def test_long_poll_subscriber_receives_an_event_published_after_it_waits(node, events):
    """Subscribe first, then publish: the waiting long-poll returns the event."""
    topic = f"{root()}.delivery"
    mark = events.head()
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(events.read, topic, mark, None, 20)
        published = publish(node, topic, {"n": 1})
        got, cursor = waiting.result(timeout=30)
    assert [e["id"] for e in got] == [published["id"]]
    assert got[0] == published
    assert cursor >= published["id"]


def test_long_poll_without_a_match_answers_empty(node, events):
    got, cursor = events.read(f"{root()}.nothing", after=events.head(), wait=0.2)
    assert got == []
    assert isinstance(cursor, int)


def test_ids_grow_by_one_in_log_order(node, events):
    topic = f"{root()}.order"
    first = publish(node, topic, 1)
    second = publish(node, topic, 2)
    assert second["id"] > first["id"]
    between = events.read("**", after=first["id"] - 1, limit=second["id"] - first["id"] + 1)[0]
    assert [e["id"] for e in between] == list(range(first["id"], second["id"] + 1))


def test_cursor_pages_through_matching_events_in_order(node, events):
    topic = f"{root()}.page"
    sent = [publish(node, topic, {"i": i})["id"] for i in range(5)]
    after, seen = sent[0] - 1, []
    for _ in range(5):
        page, cursor = events.read(topic, after=after, limit=2)
        assert len(page) <= 2
        seen.extend(e["id"] for e in page)
        if not page:
            break
        after = cursor
    assert seen == sent


class TestPatterns:
    """Pattern semantics of docs/api.md, over one set of published topics."""

    TOPICS = ["tick", "created", "auction", "auction.created", "auction.bid.placed", "other.created"]
    CASES = {
        "{r}.*": ["tick", "created", "auction"],
        "{r}.**": TOPICS,
        "{r}.#": TOPICS,
        "{r}.*.created": ["auction.created", "other.created"],
        "{r}.**.created": ["created", "auction.created", "other.created"],
        "{r}.auction.**": ["auction", "auction.created", "auction.bid.placed"],
        "{r}.auction": ["auction"],
        "{r}.auction.created": ["auction.created"],
        "{r}.*.*.placed": ["auction.bid.placed"],
        "{r}.tick.*": [],
        "*.tick": ["tick"],
        "**.placed": ["auction.bid.placed"],
    }

    @pytest.fixture(scope="class")
    @classmethod
    def published(cls, node):
        """Publish every topic once under a fresh root; shared by the cases."""
        r = root()
        mark = node.events.head()
        for suffix in cls.TOPICS:
            publish(node, f"{r}.{suffix}", {"suffix": suffix})
        return r, mark

    @pytest.mark.parametrize("pattern", list(CASES))
    def test_long_poll_pattern(self, node, published, pattern):
        r, mark = published
        got = node.events.read_all(pattern.format(r=r), after=mark)
        mine = [e["topic"] for e in got if e["topic"].split(".")[0] == r]
        assert mine == [f"{r}.{s}" for s in self.CASES[pattern]]

    @pytest.mark.parametrize("pattern", ["{r}.*", "{r}.**.created"])
    def test_sse_pattern(self, node, sse, published, pattern):
        r, mark = published
        expected = [f"{r}.{s}" for s in self.CASES[pattern]]
        stream = sse(pattern.format(r=r), after=mark)
        got = stream.collect(len(expected), timeout=10)
        assert [m.event for m in got] == expected


def test_sse_delivers_live_events_with_id_event_and_data_fields(node, events, sse):
    topic = f"{root()}.live"
    stream = sse(topic, after=events.head())
    assert stream.status == 200
    assert stream.content_type.startswith("text/event-stream")
    sent = [publish(node, topic, {"seq": i, "text": "line1\nline2"}) for i in range(3)]
    got = stream.collect(3, timeout=10)
    assert [m.id for m in got] == [str(e["id"]) for e in sent]
    assert [m.event for m in got] == [topic] * 3
    assert [m.json for m in got] == sent
    assert json.loads(got[0].data)["data"]["text"] == "line1\nline2"


def test_sse_resumes_after_last_event_id(node, sse):
    topic = f"{root()}.resume"
    first, second, third = (publish(node, topic, i) for i in range(3))
    resumed = sse(topic, last_event_id=first["id"])
    assert [m.json["id"] for m in resumed.collect(2)] == [second["id"], third["id"]]
    via_after = sse(topic, after=second["id"])
    assert via_after.next().json == third


def test_sse_delivers_each_event_once_to_every_subscriber(node, events, sse):
    topic = f"{root()}.fanout"
    mark = events.head()
    streams = [sse(topic, after=mark) for _ in range(3)]
    sent = [publish(node, topic, i)["id"] for i in range(4)]
    for stream in streams:
        assert [m.json["id"] for m in stream.collect(4)] == sent
    extra = publish(node, topic, "end")["id"]
    for stream in streams:
        assert stream.next().json["id"] == extra, "an event was delivered twice"
