"""Run every checker that applies to a history: the ``data_consistency`` criterion.

A multi-node suite records one history with whatever its clients did (registry
calls, bids, transfers, events) and wants one verdict.  :func:`check_all` runs
each checker whose operations appear in the history and returns a
:class:`CheckReport`; checkers with nothing to look at are left out rather than
reported as vacuous passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pipeline.checker.auctions import AuctionModel, check_auctions
from pipeline.checker.events import EventModel, check_events
from pipeline.checker.history import History, Op
from pipeline.checker.linearizable import RegisterModel, check_linearizable
from pipeline.checker.lost_writes import FINAL_READ, check_no_lost_writes
from pipeline.checker.money import MoneyModel, check_money
from pipeline.checker.result import CheckReport, CheckResult

__all__ = ["check_all", "CHECKERS"]

CHECKERS = ("linearizable", "lost_writes", "auctions", "money", "events")


def check_all(
    history: History | Iterable[Op],
    *,
    register: RegisterModel | None = None,
    auctions: AuctionModel | None = None,
    money: MoneyModel | None = None,
    events: EventModel | None = None,
    final_read: str = FINAL_READ,
    only: Iterable[str] | None = None,
    max_steps: int = 2_000_000,
    shrink_steps: int | None = None,
) -> CheckReport:
    """Every applicable checker's result; ``only`` restricts (and forces) the set.

    ``max_steps`` (and ``shrink_steps``, default ``max_steps``) are the
    linearizability checker's search and excerpt-shrinking budgets per key.
    """
    if not isinstance(history, History):
        history = History.from_ops(list(history))
    register = register or RegisterModel()
    auctions = auctions or AuctionModel()
    money = money or MoneyModel()
    events = events or EventModel()
    ops = history.ops()
    names = {o.f for o in ops}
    wanted = None if only is None else list(only)
    unknown = set(wanted or ()) - set(CHECKERS)
    if unknown:
        raise ValueError(f"unknown checker(s) {sorted(unknown)}; choose from {CHECKERS}")
    plan: list[tuple[str, bool, Callable[[], CheckResult]]] = [
        (
            "linearizable",
            bool(names & register.names()),
            lambda: check_linearizable(history, register, max_steps=max_steps, shrink_steps=shrink_steps),
        ),
        ("lost_writes", final_read in names, lambda: check_no_lost_writes(history, register, final_read=final_read)),
        ("auctions", bool(names & auctions.names()), lambda: check_auctions(history, auctions)),
        ("money", bool(names & money.names()), lambda: check_money(history, money)),
        ("events", bool(names & events.names()), lambda: check_events(history, events)),
    ]
    results = []
    for name, applies, run in plan:
        if (wanted is None and applies) or (wanted is not None and name in wanted):
            results.append(run())
    return CheckReport(tuple(results), history)
