"""Auctions: settled at most once, winner and price by the rules of their type."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.checker.auctions import AuctionModel, Bid, Outcome, check_auctions, english, vickrey
from pipeline.checker.history import FAIL, OK, UNKNOWN, History, Op

MS = 1_000_000


class Ops:
    def __init__(self) -> None:
        self.h = History()

    def __call__(self, client, f, key, value=None, *, at, to=None, status=OK, result=None, node=None):
        return self.h.record(
            client,
            f,
            key,
            value,
            status=status,
            result=result,
            node=node,
            invoke_ns=at * MS,
            complete_ns=(at if to is None else to) * MS,
        )

    def open(self, auction, kind, reserve=None, at=0):
        value = {"type": kind} if reserve is None else {"type": kind, "reserve": reserve}
        return self("seller", "open_auction", auction, value, at=at, to=at + 1)

    def bid(self, auction, bidder, amount, at, status=OK):
        return self(bidder, "bid", auction, {"bidder": bidder, "amount": amount}, at=at, to=at + 1, status=status)

    def close(self, auction, winner, price, at, status=OK):
        return self(
            "seller",
            "close",
            auction,
            at=at,
            to=at + 1,
            status=status,
            result={"winner": winner, "price": price} if status == OK else None,
        )


def test_english_highest_bid_wins_at_its_amount():
    o = Ops()
    o.open("a1", "english", reserve=10)
    o.bid("a1", "b1", 12, at=2)
    o.bid("a1", "b2", 15, at=4)
    o.bid("a1", "b3", 11, at=6, status=FAIL)
    o.close("a1", "b2", 15, at=10)
    r = check_auctions(o.h)
    assert r.valid, r.explanation
    assert r.stats == {"auctions": 1, "checked": 1}


def test_vickrey_pays_second_price_and_wrong_price_is_caught():
    o = Ops()
    o.open("v", "vickrey", reserve=10)
    b1 = o.bid("v", "b1", 50, at=2)
    b2 = o.bid("v", "b2", 40, at=3)
    o.bid("v", "b3", 20, at=4)
    close = o.close("v", "b1", 50, at=10)  # charged its own bid: wrong for vickrey
    r = check_auctions(o.h)
    assert not r.valid
    assert "b1 at 50" in r.explanation and "rules give b1 at 40" in r.explanation
    assert close in r.excerpt and b1 in r.excerpt and b2 in r.excerpt
    ok = Ops()
    ok.h = History.from_ops([x for x in o.h.ops() if x.f != "close"])
    ok.close("v", "b1", 40, at=10)
    assert check_auctions(ok.h).valid


def test_vickrey_lone_bid_pays_the_reserve():
    assert vickrey({"reserve": 10}, [Bid("b1", Decimal(30), Op(0, "b1", "bid"))]) == [Outcome("b1", Decimal(10))]
    assert vickrey({}, [Bid("b1", Decimal(30), Op(0, "b1", "bid"))]) == [Outcome("b1", Decimal(0))]


def test_sealed_bid_highest_pays_own():
    o = Ops()
    o.open("s", "sealed_bid")
    o.bid("s", "b1", 30, at=2)
    o.bid("s", "b2", 35, at=3)
    o.close("s", "b2", 35, at=10)
    assert check_auctions(o.h).valid


def test_below_reserve_means_no_winner():
    o = Ops()
    o.open("a", "english", reserve=100)
    o.bid("a", "b1", 50, at=2)
    o.close("a", None, None, at=10)
    assert check_auctions(o.h).valid
    o2 = Ops()
    o2.open("a", "english", reserve=10)
    o2.bid("a", "b1", 50, at=2)
    o2.close("a", None, None, at=10)  # an acceptable bid existed
    r = check_auctions(o2.h)
    assert not r.valid and "says no winner" in r.explanation


def test_unknown_bids_may_or_may_not_count():
    for winner, price in (("b1", 20), ("b2", 30)):
        o = Ops()
        o.open("a", "english")
        o.bid("a", "b1", 20, at=2)
        o.bid("a", "b2", 30, at=3, status=UNKNOWN)
        o.close("a", winner, price, at=10)
        assert check_auctions(o.h).valid, winner
    o = Ops()
    o.open("a", "english")
    o.bid("a", "b1", 20, at=2)
    o.bid("a", "b2", 30, at=3, status=UNKNOWN)
    o.close("a", "b3", 25, at=10)  # no subset gives this
    r = check_auctions(o.h)
    assert not r.valid and "no subset of the 1 unknown bid(s)" in r.explanation


def test_double_settlement_by_two_closes():
    o = Ops()
    o.open("a", "english")
    o.bid("a", "b1", 20, at=2)
    c1 = o.close("a", "b1", 20, at=10)
    c2 = o.close("a", "b1", 20, at=12)
    r = check_auctions(o.h)
    assert not r.valid and "closed with a winner 2 times" in r.explanation
    assert set(r.excerpt) == {c1, c2}


def test_double_settlement_in_the_final_transactions():
    o = Ops()
    o.open("a", "english")
    o.bid("a", "b1", 20, at=2)
    o.close("a", "b1", 20, at=10)
    entry = {"auction": "a", "winner": "b1", "price": 20}
    o("f", "final_settlements", None, at=20, to=21, result=[entry, entry], node="n2")
    r = check_auctions(o.h)
    assert not r.valid and "settled 2 times" in r.explanation and "n2" in r.explanation


def test_settlement_without_an_acknowledged_close_is_checked_against_rules():
    o = Ops()
    o.open("a", "english")
    o.bid("a", "b1", 20, at=2)
    o.bid("a", "b2", 25, at=3)
    o.close("a", None, None, at=10, status=UNKNOWN)
    o("f", "final_settlements", None, at=20, to=21, result=[{"auction": "a", "winner": "b1", "price": 20}], node="n1")
    r = check_auctions(o.h)
    assert not r.valid and "the settlement says b1 at 20" in r.explanation


def test_nodes_disagreeing_on_the_settlement():
    o = Ops()
    o.open("a", "english")
    o.bid("a", "b1", 20, at=2)
    o("f", "final_settlements", None, at=20, result=[{"auction": "a", "winner": "b1", "price": 20}], node="n1")
    o("f", "final_settlements", None, at=20, result=[{"auction": "a", "winner": "b1", "price": 21}], node="n2")
    r = check_auctions(o.h)
    assert not r.valid and "disagree" in r.explanation


def test_bid_accepted_after_the_close():
    o = Ops()
    o.open("a", "english")
    o.bid("a", "b1", 20, at=2)
    close = o.close("a", "b1", 20, at=10)
    late = o.bid("a", "b2", 99, at=30)
    r = check_auctions(o.h)
    assert not r.valid and "after the close" in r.explanation
    assert set(r.excerpt) == {close, late}


def test_ties_go_to_the_earlier_bid_when_real_time_orders_them():
    bids = [
        Bid("b1", Decimal(10), Op(0, "b1", "bid", invoke_ns=0, complete_ns=1)),
        Bid("b2", Decimal(10), Op(1, "b2", "bid", invoke_ns=5, complete_ns=6)),
    ]
    assert english({}, bids) == [Outcome("b1", Decimal(10))]
    concurrent = [
        Bid("b1", Decimal(10), Op(0, "b1", "bid", invoke_ns=0, complete_ns=9)),
        Bid("b2", Decimal(10), Op(1, "b2", "bid", invoke_ns=5, complete_ns=6)),
    ]
    assert set(english({}, concurrent)) == {Outcome("b1", Decimal(10)), Outcome("b2", Decimal(10))}


def test_pluggable_rule_and_missing_rule_note():
    def lowest(auction, bids):  # a reverse auction: the lowest offer wins
        best = min(bids, key=lambda b: b.amount)
        return [Outcome(best.bidder, best.amount)]

    o = Ops()
    o.open("r", "reverse")
    o.bid("r", "s1", 70, at=2)
    o.bid("r", "s2", 60, at=3)
    o.close("r", "s2", 60, at=10)
    default = check_auctions(o.h)
    assert default.valid and "no rule for type 'reverse'" in default.notes[0]
    assert check_auctions(o.h, AuctionModel(rules={"reverse": lowest})).valid
    o.close("r", "s1", 70, at=20)
    assert not check_auctions(o.h, AuctionModel(rules={"reverse": lowest})).valid


@pytest.mark.parametrize("kind", [["english"], {"name": "english"}, 7, None])
def test_an_open_whose_type_is_not_a_string_gets_the_missing_rule_note(kind):
    # a JSON list or object as the type used to crash the checker (TypeError: unhashable type)
    o = Ops()
    o("seller", "open_auction", "a", {"type": kind}, at=0, to=1)
    o.bid("a", "b1", 12, at=2)
    o.close("a", "b1", 12, at=10)
    r = check_auctions(o.h)
    assert r.valid and f"no rule for type {kind!r}" in r.notes[0]


def test_too_many_unknown_bids_is_inconclusive_not_invalid():
    o = Ops()
    o.open("a", "english")
    for i in range(6):
        o.bid("a", f"b{i}", 10 + i, at=2 + i, status=UNKNOWN)
    o.close("a", "zz", 1, at=20)
    r = check_auctions(o.h, AuctionModel(max_subsets=5))
    assert not r.valid and r.inconclusive
    assert not check_auctions(o.h).inconclusive


def test_malformed_bid_is_a_clear_error():
    o = Ops()
    o.open("a", "english")
    o("b1", "bid", "a", 10, at=1)
    o.close("a", "b1", 10, at=5)
    with pytest.raises(ValueError, match="bidder"):
        check_auctions(o.h)
