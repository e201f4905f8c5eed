"""Auctions: settled at most once, to the winner the rules give, at the rules' price.

The checker knows auctions only through a small model: which op names open an
auction, place a bid, close it and read the settlements at the end, and one
*rule* function per auction type that says which outcomes the accepted bids
allow.  Recorded shapes (the suite's client maps its service's JSON to these):

* open:  ``key`` = auction id, ``value`` = ``{"type": "vickrey", "reserve": 10, ...}``
* bid:   ``key`` = auction id, ``value`` = ``{"bidder": "a1", "amount": 12}``;
  ok = accepted, fail = rejected (never counts), unknown = may or may not count
* close: ``key`` = auction id, ``result`` = ``{"winner": "a1" | None, "price": 11 | None}``
* final settlements (one read per node, after healing): ``key`` None,
  ``result`` = ``[{"auction": id, "winner": ..., "price": ...}, ...]``

Checks, per auction:

1. at most one acknowledged close names a winner, and each node's settlement
   list mentions the auction at most once; nodes agree on the settlement;
2. the outcome (from the close, else from the settlements) is one the rule
   allows for the accepted bids plus *some* subset of the unknown bids
   (searched smallest subsets first, up to ``max_subsets``; if the budget
   runs out before a match, the verdict is inconclusive, not invalid);
3. no bid is accepted after the auction's close was acknowledged.

Only bids invoked before the close completed can count; a bid accepted after
that is itself a violation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations
from typing import Any

from pipeline.checker.history import Op
from pipeline.checker.result import CheckResult
from pipeline.checker.values import number

__all__ = [
    "Bid",
    "Outcome",
    "AuctionModel",
    "RULES",
    "english",
    "sealed_bid",
    "vickrey",
    "dutch",
    "check_auctions",
    "NO_WINNER",
]

NAME = "auctions"


@dataclass(frozen=True)
class Bid:
    """An accepted (or possibly accepted) bid as a rule sees it."""

    bidder: str
    amount: Decimal
    op: Op = field(compare=False, repr=False)

    def __repr__(self) -> str:
        return f"Bid({self.bidder} {self.amount} #{self.op.index})"


@dataclass(frozen=True)
class Outcome:
    """Who wins and what they pay; ``winner`` None means the auction ends unsold."""

    winner: str | None
    price: Decimal | None

    def __repr__(self) -> str:
        return "Outcome(no winner)" if self.winner is None else f"Outcome({self.winner} pays {self.price})"

    def __str__(self) -> str:
        return "no winner" if self.winner is None else f"{self.winner} at {self.price}"


NO_WINNER = Outcome(None, None)
Rule = Callable[[Mapping[str, Any], Sequence[Bid]], Iterable[Outcome]]


def _reserve(auction: Mapping[str, Any]) -> Decimal:
    value = auction.get("reserve")
    return Decimal(0) if value is None else number(value)


def _top(bids: Sequence[Bid]) -> list[Bid]:
    """The highest bids, minus any that a tied bid definitely preceded (earliest wins ties)."""
    if not bids:
        return []
    best = max(b.amount for b in bids)
    tied = [b for b in bids if b.amount == best]
    return [b for b in tied if not any(o.op.precedes(b.op) for o in tied if o is not b)]


def english(auction: Mapping[str, Any], bids: Sequence[Bid]) -> list[Outcome]:
    """Highest bid at or above the reserve wins and pays its amount."""
    top = [b for b in _top(bids) if b.amount >= _reserve(auction)]
    return [Outcome(b.bidder, b.amount) for b in top] or [NO_WINNER]


def sealed_bid(auction: Mapping[str, Any], bids: Sequence[Bid]) -> list[Outcome]:
    """First-price sealed bid: the highest bid wins and pays its own amount."""
    return english(auction, bids)


def vickrey(auction: Mapping[str, Any], bids: Sequence[Bid]) -> list[Outcome]:
    """The highest bid wins and pays the second-highest bid, or the reserve if higher.

    The second price is the best of the *other bids* (the reference system's
    rule); a lone bid pays the reserve (0 without one).
    """
    reserve = _reserve(auction)
    out = []
    for best in _top([b for b in bids if b.amount >= reserve]):
        others = [b.amount for b in bids if b is not best]
        second = max(others) if others else reserve
        out.append(Outcome(best.bidder, max(second, reserve)))
    return out or [NO_WINNER]


def dutch(auction: Mapping[str, Any], bids: Sequence[Bid]) -> list[Outcome]:
    """The first accepted bid takes the item at its amount (any bid no other definitely preceded)."""
    first = [b for b in bids if not any(o.op.precedes(b.op) for o in bids if o is not b)]
    return [Outcome(b.bidder, b.amount) for b in first] or [NO_WINNER]


RULES: Mapping[str, Rule] = {
    "english": english,
    "sealed_bid": sealed_bid,
    "sealed": sealed_bid,
    "vickrey": vickrey,
    "dutch": dutch,
}


@dataclass(frozen=True)
class AuctionModel:
    """Op names and rules; pass your own ``rules`` for other auction types."""

    opens: frozenset[str] = frozenset({"open_auction", "create_auction"})
    bids: frozenset[str] = frozenset({"bid"})
    closes: frozenset[str] = frozenset({"close", "close_auction"})
    settlements: frozenset[str] = frozenset({"final_settlements"})
    rules: Mapping[str, Rule] = field(default_factory=lambda: dict(RULES))
    max_subsets: int = 4096

    def names(self) -> frozenset[str]:
        return self.opens | self.bids | self.closes | self.settlements

    def __repr__(self) -> str:
        return f"AuctionModel(rules={sorted(self.rules)}, max_subsets={self.max_subsets})"


def _outcome_of(data: Any, where: Op) -> Outcome:
    if not isinstance(data, Mapping):
        raise ValueError(f"expected {{'winner': ..., 'price': ...}}, got {data!r} in {where!r}")
    winner = data.get("winner")
    price = data.get("price")
    if winner is None:
        return NO_WINNER
    return Outcome(str(winner), None if price is None else number(price))


def _bid_of(op: Op) -> Bid:
    value = op.value
    if not isinstance(value, Mapping) or "bidder" not in value or "amount" not in value:
        raise ValueError(f"a bid's value must be {{'bidder': ..., 'amount': ...}}: {op!r}")
    return Bid(str(value["bidder"]), number(value["amount"]), op)


def _search_subsets(
    rule: Rule, auction: Mapping[str, Any], required: list[Bid], optional: list[Bid], observed: Outcome, budget: int
) -> tuple[bool | None, list[Bid] | None]:
    """(found, the subset of unknown bids that explains it) -- found None if the budget ran out."""
    tried = 0
    for size in range(len(optional) + 1):
        for subset in combinations(optional, size):
            tried += 1
            if tried > budget:
                return None, None
            if observed in set(rule(auction, required + list(subset))):
                return True, list(subset)
    return False, None


def check_auctions(history: Iterable[Op], model: AuctionModel | None = None) -> CheckResult:
    """Settled once, by the rules, from accepted bids."""
    model = model or AuctionModel()
    ops = list(history)
    opens: dict[Any, Op] = {}
    bids: dict[Any, list[Op]] = {}
    closes: dict[Any, list[Op]] = {}
    settle_reads: list[Op] = []
    for op in ops:
        if op.f in model.opens and not op.failed:
            opens.setdefault(op.key, op)
        elif op.f in model.bids:
            bids.setdefault(op.key, []).append(op)
        elif op.f in model.closes:
            closes.setdefault(op.key, []).append(op)
        elif op.f in model.settlements and op.ok:
            settle_reads.append(op)

    problems: list[tuple[str, tuple[Op, ...]]] = []
    notes: list[str] = []
    unsure: list[str] = []
    # settlements per auction per read
    settled: dict[Any, list[tuple[Op, Outcome]]] = {}
    for read in settle_reads:
        if not isinstance(read.result, list):
            raise ValueError(f"a settlements read must return a list: {read!r}")
        count: dict[Any, int] = {}
        for entry in read.result:
            auction = entry.get("auction")
            count[auction] = count.get(auction, 0) + 1
            settled.setdefault(auction, []).append((read, _outcome_of(entry, read)))
        for auction, n in count.items():
            if n > 1:
                problems.append(
                    (
                        f"Auction {auction!r} is settled {n} times in the settlements read "
                        f"from {read.node or read.client}; it must be settled at most once.",
                        (read, *closes.get(auction, ())),
                    )
                )

    auctions = sorted(set(opens) | set(bids) | set(closes) | set(settled), key=repr)
    checked = 0
    for auction in auctions:
        acked_closes = [c for c in closes.get(auction, []) if c.ok]
        with_winner = [c for c in acked_closes if _outcome_of(c.result, c).winner is not None]
        if len(with_winner) > 1:
            problems.append(
                (
                    f"Auction {auction!r} was closed with a winner {len(with_winner)} times "
                    f"("
                    + ", ".join(f"#{c.index}: {_outcome_of(c.result, c)}" for c in with_winner)
                    + "); an auction must be settled at most once.",
                    tuple(with_winner),
                )
            )
            continue
        observed: list[tuple[Outcome, Op]] = [(_outcome_of(c.result, c), c) for c in acked_closes]
        seen: dict[Outcome, Op] = {}
        for read, outcome in settled.get(auction, []):
            seen.setdefault(outcome, read)
        if len(seen) > 1:
            listing = "; ".join(f"{r.node or r.client}: {o}" for o, r in seen.items())
            problems.append(
                (f"Auction {auction!r}: the nodes' settlements disagree ({listing}).", tuple(seen.values()))
            )
            continue
        for outcome, read in seen.items():
            if acked_closes and outcome not in {o for o, _ in observed}:
                problems.append(
                    (
                        f"Auction {auction!r}: the close reported "
                        f"{observed[0][0]} but the settlement on {read.node or read.client} "
                        f"says {outcome}.",
                        (observed[0][1], read),
                    )
                )
                break
            if not acked_closes:
                observed.append((outcome, read))
        if not observed:
            continue
        outcome, witness = observed[0]
        open_op = opens.get(auction)
        if open_op is None or not isinstance(open_op.value, Mapping):
            notes.append(f"auction {auction!r}: no open op with its type; winner and price not checked")
            continue
        kind = open_op.value.get("type")
        rule = model.rules.get(kind) if isinstance(kind, str) else None  # a list/dict type is no rule's
        if rule is None:
            notes.append(f"auction {auction!r}: no rule for type {kind!r}; winner and price not checked")
            continue
        checked += 1
        close_end = min((c.end_ns for c in acked_closes), default=float("inf"))
        required: list[Bid] = []
        optional: list[Bid] = []
        late: list[Op] = []
        for b in bids.get(auction, []):
            if b.failed:
                continue
            if b.invoke_ns > close_end:
                if b.ok:
                    late.append(b)
                continue
            (required if b.ok else optional).append(_bid_of(b))
        if late:
            problems.append(
                (
                    f"Auction {auction!r}: bid #{late[0].index} was accepted although it was "
                    f"placed after the close #{acked_closes[0].index} had been acknowledged.",
                    (acked_closes[0], late[0]),
                )
            )
            continue
        found, subset = _search_subsets(rule, open_op.value, required, optional, outcome, model.max_subsets)
        if found:
            continue
        expected = ", ".join(str(o) for o in rule(open_op.value, required))
        terms = open_op.value.get("reserve")
        head = f"Auction {auction!r} ({kind}" + (f", reserve {terms}" if terms is not None else "") + ")"
        if found is None:
            unsure.append(
                f"{head}: {outcome} is not what the accepted bids give ({expected}) and the "
                f"{len(optional)} unknown bids have too many subsets to try them all."
            )
            continue
        ranked = sorted(required, key=lambda b: (-b.amount, b.op.index))
        accepted = ", ".join(f"{b.bidder} {b.amount}" for b in ranked[:5]) or "none"
        if len(ranked) > 5:
            accepted += f" and {len(ranked) - 5} lower"
        maybe = f"; no subset of the {len(optional)} unknown bid(s) changes that" if optional else ""
        # The top bids decide every built-in rule; the rest would only bury them.
        evidence = (
            open_op,
            witness,
            *(b.op for b in ranked[:3]),
            *(b.op for b in sorted(optional, key=lambda b: -b.amount)[:3]),
        )
        problems.append(
            (
                f"{head}: {'the close' if witness.f in model.closes else 'the settlement'} "
                f"says {outcome}, but the rules give {expected} from the accepted bids "
                f"[{accepted}]{maybe}.",
                evidence,
            )
        )
    stats = {"auctions": len(auctions), "checked": checked}
    if problems:
        (first, excerpt), rest = problems[0], problems[1:]
        if rest:
            notes.insert(0, f"{len(rest)} more problem(s), e.g.: " + rest[0][0])
        return CheckResult.violation(NAME, first, excerpt, notes=notes + unsure, stats=stats)
    if unsure:
        return CheckResult.unsure(NAME, unsure[0], notes=notes + unsure[1:], stats=stats)
    return CheckResult.ok(
        NAME,
        f"{len(auctions)} auctions settled at most once; {checked} checked against their rules.",
        notes=notes,
        stats=stats,
    )
