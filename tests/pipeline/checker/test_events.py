"""Event delivery: exactly once to covering subscribers, in one common order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.checker.events import check_events, topic_matches
from pipeline.checker.history import FAIL, OK, UNKNOWN, History

MS = 1_000_000


class Bus:
    def __init__(self) -> None:
        self.h = History()
        self.t = 0

    def _rec(self, client, f, key, value, status=OK):
        self.t += 2
        return self.h.record(client, f, key, value, status=status, invoke_ns=self.t * MS, complete_ns=(self.t + 1) * MS)

    def subscribe(self, sub, pattern, status=OK):
        return self._rec(sub, "subscribe", pattern, None, status)

    def unsubscribe(self, sub, pattern):
        return self._rec(sub, "unsubscribe", pattern, None)

    def publish(self, topic, eid, status=OK):
        return self._rec("pub", "publish", topic, eid, status)

    def deliver(self, sub, eid, topic="economics.bid"):
        return self._rec(sub, "deliver", topic, eid)


@pytest.mark.parametrize(
    "pattern,topic,expected",
    [
        ("economics.*", "economics.bid", True),
        ("economics.*", "economics.bid.placed", False),
        ("economics.**", "economics.bid.placed", True),
        ("economics.#", "economics", True),
        ("*.bid", "economics.bid", True),
        ("registry.*", "economics.bid", False),
        ("**", "anything.at.all", True),
    ],
)
def test_topic_patterns(pattern, topic, expected):
    assert topic_matches(pattern, topic) is expected


def test_everyone_gets_everything_once_in_one_order():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.subscribe("s2", "economics.**")
    b.subscribe("s3", "registry.*")
    for e in ("e1", "e2", "e3"):
        b.publish("economics.bid", e)
    for s in ("s1", "s2"):
        for e in ("e1", "e2", "e3"):
            b.deliver(s, e)
    r = check_events(b.h)
    assert r.valid, r.explanation
    assert r.stats == {"events": 3, "subscribers": 3, "deliveries": 6}


def test_duplicate_delivery():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.publish("economics.bid", "e1")
    d1 = b.deliver("s1", "e1")
    d2 = b.deliver("s1", "e1")
    r = check_events(b.h)
    assert not r.valid and "received event 'e1' 2 times" in r.explanation
    assert d1 in r.excerpt and d2 in r.excerpt


def test_reordered_delivery_between_two_subscribers():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.subscribe("s2", "economics.*")
    b.publish("economics.bid", "x")
    b.publish("economics.bid", "y")
    b.deliver("s1", "x")
    b.deliver("s1", "y")
    b.deliver("s2", "y")
    b.deliver("s2", "x")
    r = check_events(b.h)
    assert not r.valid and "disagree on the order" in r.explanation
    assert len(r.excerpt) == 4


def test_three_subscribers_with_no_common_order():
    # Pairwise each two agree on their common events, yet x<y<z<x: no one order.
    b = Bus()
    for e in ("x", "y", "z"):
        b.publish("t.a", e)  # before anyone subscribed: nobody is owed them
    for s in ("s1", "s2", "s3"):
        b.subscribe(s, "t.**")
    for sub, first, second in (("s1", "x", "y"), ("s2", "y", "z"), ("s3", "z", "x")):
        b.deliver(sub, first, "t.a")
        b.deliver(sub, second, "t.a")
    r = check_events(b.h)
    assert not r.valid and "no common order" in r.explanation
    assert len(r.excerpt) == 6


def test_unknown_publish_that_reached_one_subscriber_is_owed_to_all():
    b = Bus()
    b.subscribe("s1", "t.*")
    b.subscribe("s2", "t.*")
    b.publish("t.a", "x", status=UNKNOWN)
    b.deliver("s1", "x", "t.a")
    r = check_events(b.h)
    assert not r.valid and "never reached subscriber s2" in r.explanation
    assert "unknown outcome but delivered to others" in r.explanation


def test_lost_event_for_a_covering_subscriber():
    b = Bus()
    sub = b.subscribe("s1", "economics.*")
    b.subscribe("s2", "economics.*")
    pub = b.publish("economics.bid", "e1")
    b.deliver("s2", "e1")
    r = check_events(b.h)
    assert not r.valid and "never reached subscriber s1" in r.explanation
    assert set(r.excerpt) == {sub, pub}


def test_unsubscribed_or_late_subscribers_are_not_owed_events():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.unsubscribe("s1", "economics.*")
    b.publish("economics.bid", "e1")
    b.subscribe("s2", "economics.*")  # after the publish
    assert check_events(b.h).valid


def test_unknown_publish_may_vanish_but_not_be_duplicated():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.publish("economics.bid", "e1", status=UNKNOWN)
    assert check_events(b.h).valid
    b.deliver("s1", "e1")
    assert check_events(b.h).valid
    b.deliver("s1", "e1")
    assert not check_events(b.h).valid


def test_failed_or_unpublished_or_unsubscribed_deliveries():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.publish("economics.bid", "e1", status=FAIL)
    b.deliver("s1", "e1")
    assert "publish failed" in check_events(b.h).explanation
    c = Bus()
    c.subscribe("s1", "economics.*")
    c.deliver("s1", "ghost")
    assert "nobody published" in check_events(c.h).explanation
    d = Bus()
    d.subscribe("s1", "registry.*")
    d.publish("economics.bid", "e1")
    d.deliver("s1", "e1")
    assert "none of its subscriptions matches" in check_events(d.h).explanation


def test_delivery_before_publish():
    b = Bus()
    b.subscribe("s1", "economics.*")
    b.deliver("s1", "e1")
    b.publish("economics.bid", "e1")
    assert "before it was published" in check_events(b.h).explanation


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_simulated_total_order_broadcast_is_valid_and_a_swap_is_not(seed):
    rng = random.Random(seed)
    b = Bus()
    subs = [f"s{i}" for i in range(rng.randint(2, 4))]
    for s in subs:
        b.subscribe(s, "t.**")
    order = []
    for i in range(rng.randint(2, 12)):
        status = rng.choice([OK, OK, OK, UNKNOWN, FAIL])
        b.publish("t.x", f"e{i}", status=status)
        happened = status == OK or (status == UNKNOWN and rng.random() < 0.5)
        if happened:
            order.append(f"e{i}")
    for s in subs:  # every subscriber drains the one global order
        for e in order:
            b.deliver(s, e, "t.x")
    assert check_events(b.h).valid
    if len(order) >= 2:
        swapped = Bus()
        for s in subs:
            swapped.subscribe(s, "t.**")
        swapped.h = History.from_ops([o for o in b.h.ops() if o.f != "deliver"])
        i = rng.randrange(len(order) - 1)
        for n, s in enumerate(subs):
            seq = list(order)
            if n == 0:
                seq[i], seq[i + 1] = seq[i + 1], seq[i]
            for e in seq:
                swapped.h.record(s, "deliver", "t.x", e)
        r = check_events(swapped.h)
        assert not r.valid and "order" in r.explanation
