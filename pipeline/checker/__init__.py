"""Consistency checkers for recorded histories (see ``docs/checking.md``).

Clients record operations into a :class:`pipeline.checker.history.History`; at the end
of a multi-node or chaos test, :func:`check_all` (or one checker) says whether
what they saw is possible for a correct system, and :func:`assert_valid` turns
a violation into a test failure with the smallest excerpt, an explanation, the
saved history and the command that replays it.
"""

from pipeline.checker.auctions import RULES, AuctionModel, Bid, Outcome, check_auctions
from pipeline.checker.events import EventModel, check_events, topic_matches
from pipeline.checker.linearizable import RegisterModel, check_key, check_linearizable
from pipeline.checker.lost_writes import check_no_lost_writes
from pipeline.checker.money import MoneyModel, check_money
from pipeline.checker.report import assert_valid, format_report, format_result
from pipeline.checker.result import CheckReport, CheckResult
from pipeline.checker.run import CHECKERS, check_all

__all__ = [
    "CheckResult",
    "CheckReport",
    "check_all",
    "assert_valid",
    "format_report",
    "format_result",
    "CHECKERS",
    "RegisterModel",
    "check_linearizable",
    "check_key",
    "check_no_lost_writes",
    "AuctionModel",
    "Bid",
    "Outcome",
    "RULES",
    "check_auctions",
    "MoneyModel",
    "check_money",
    "EventModel",
    "check_events",
    "topic_matches",
]
