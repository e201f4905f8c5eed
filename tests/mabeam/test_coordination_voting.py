"""Consensus rules, decided as soon as the outcome is certain."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mabeam.coordination.voting import tally, verdict


def _verdict(rule, votes, voters, weights=None, threshold=0.5):
    ballot = {"voters": voters, "votes": votes, "weights": weights}
    return verdict(rule, threshold, tally(ballot), len(voters))


VOTERS = ["a", "b", "c", "d", "e"]


def test_majority_needs_more_than_half():
    assert _verdict("majority", {"a": "approve", "b": "approve"}, VOTERS) == "open"
    assert _verdict("majority", {"a": "approve", "b": "approve", "c": "approve"}, VOTERS) == "accepted"


@pytest.mark.parametrize(
    "votes, voters, expected",
    [
        ({"a": "approve", "b": "approve"}, 4, "open"),  # exactly half is not more than half
        ({"a": "approve", "b": "approve", "c": "approve"}, 4, "accepted"),
        ({"a": "approve", "b": "approve", "c": "reject", "d": "reject"}, 4, "rejected"),
        ({"a": "approve"}, 2, "open"),
        ({"a": "approve", "b": "approve"}, 2, "accepted"),
        ({"a": "approve", "b": "reject"}, 2, "rejected"),
        ({"a": "approve"}, 1, "accepted"),
        ({"a": "reject"}, 1, "rejected"),
        ({"a": "approve", "b": "approve"}, 3, "accepted"),
        ({"a": "reject", "b": "reject"}, 3, "rejected"),
    ],
)
def test_majority_boundaries(votes, voters, expected):
    """The half-way cases, pinned so a wrong majority rule fails every run, not 9 in 10."""
    assert _verdict("majority", votes, [chr(ord("a") + i) for i in range(voters)]) == expected


def test_majority_rejects_once_it_cannot_pass():
    assert _verdict("majority", {"a": "reject", "b": "reject"}, VOTERS) == "open"
    assert _verdict("majority", {"a": "reject", "b": "reject", "c": "reject"}, VOTERS) == "rejected"
    # even split of 4 voters: 2 approve cannot be a majority
    assert _verdict("majority", {"a": "reject", "b": "reject"}, VOTERS[:4]) == "rejected"


def test_unanimous():
    assert _verdict("unanimous", {"a": "reject"}, VOTERS) == "rejected"
    assert _verdict("unanimous", {v: "approve" for v in VOTERS[:4]}, VOTERS) == "open"
    assert _verdict("unanimous", {v: "approve" for v in VOTERS}, VOTERS) == "accepted"


def test_weighted_threshold():
    weights = {"a": 5, "b": 2, "c": 2, "d": 1}
    voters = list(weights)
    assert _verdict("weighted", {"a": "approve"}, voters, weights) == "open"  # 5 of 10 is not > half
    assert _verdict("weighted", {"a": "approve", "d": "approve"}, voters, weights) == "accepted"
    assert _verdict("weighted", {"a": "reject"}, voters, weights) == "rejected"  # at most 5 of 10
    assert _verdict("weighted", {"b": "approve", "c": "approve"}, voters, weights, threshold=0.3) == "accepted"


def test_weighted_threshold_one_means_all_the_weight():
    weights = {"a": 1, "b": 1}
    assert _verdict("weighted", {"a": "approve"}, ["a", "b"], weights, threshold=1) == "open"
    assert _verdict("weighted", {"a": "approve", "b": "approve"}, ["a", "b"], weights, threshold=1) == "accepted"


def test_tally_counts_and_weights():
    t = tally(
        {"voters": ["a", "b", "c"], "votes": {"a": "approve", "b": "reject"}, "weights": {"a": 2, "b": 3, "c": 4}}
    )
    assert t == {"approve": 1, "reject": 1, "approve_weight": 2, "reject_weight": 3, "total_weight": 9}


@given(
    st.lists(st.sampled_from(["approve", "reject", None]), min_size=1, max_size=7),
    st.sampled_from(["majority", "unanimous", "weighted"]),
    st.lists(st.integers(0, 5), min_size=7, max_size=7),
    st.sampled_from([0.25, 0.5, 0.75, 1.0]),
)
@example(["approve", "approve", None, None], "majority", [1] * 7, 0.5)  # half is not a majority
@example(["approve", "approve", "reject", "reject"], "majority", [1] * 7, 0.5)
@example(["approve", None], "majority", [1] * 7, 0.5)
@example(["approve", "reject", None], "weighted", [2, 1, 1, 0, 0, 0, 0], 0.5)  # 2 of 4 is not > half
@example(["approve", None], "weighted", [1, 1, 0, 0, 0, 0, 0], 1.0)
def test_decided_only_when_every_completion_agrees(votes, rule, raw_weights, threshold):
    """The verdict is final exactly when all ways of casting the missing votes agree."""
    voters = [f"v{i}" for i in range(len(votes))]
    weights = {v: w for v, w in zip(voters, raw_weights, strict=False)} if rule == "weighted" else None
    if weights is not None and sum(weights.values()) == 0:
        weights[voters[0]] = 1
    cast = {v: x for v, x in zip(voters, votes, strict=False) if x is not None}
    missing = [v for v in voters if v not in cast]
    outcomes = set()
    for fill in product(["approve", "reject"], repeat=len(missing)):
        full = dict(cast, **dict(zip(missing, fill, strict=False)))
        outcomes.add(_verdict(rule, full, voters, weights, threshold))
    assert "open" not in outcomes  # a complete vote is always decided
    now = _verdict(rule, cast, voters, weights, threshold)
    if len(outcomes) == 1:
        assert now == outcomes.pop()
    else:
        assert now == "open"


@pytest.mark.parametrize("rule", ["majority", "unanimous"])
def test_unweighted_rules_ignore_weights_none(rule):
    assert tally({"voters": ["a"], "votes": {}, "weights": None})["total_weight"] == 1
