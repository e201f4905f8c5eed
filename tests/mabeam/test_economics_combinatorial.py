"""Winner determination: exact, checked against brute force."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam.economics.combinatorial import best_packing

ITEMS = ["a", "b", "c", "d", "e"]


def _brute(bids):
    """Every non-overlapping subset; best total, ties to the earliest differing bid."""
    best_key, best = None, []
    for size in range(len(bids) + 1):
        for subset in combinations(range(len(bids)), size):
            used = [item for i in subset for item in bids[i][0]]
            if len(used) != len(set(used)):
                continue
            total = round(sum(bids[i][1] for i in subset), 9)
            membership = tuple(i in subset for i in range(len(bids)))
            key = (total, membership)
            if best_key is None or key > best_key:
                best_key, best = key, list(subset)
    return best


bundles = st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True)
bid_lists = st.lists(st.tuples(bundles, st.integers(1, 20)), max_size=8)


@settings(max_examples=300)
@given(bid_lists)
def test_matches_brute_force_including_tie_breaks(bids):
    assert best_packing(ITEMS, bids) == _brute(bids)


@given(bid_lists)
def test_winners_never_overlap(bids):
    chosen = best_packing(ITEMS, bids)
    used = [item for i in chosen for item in bids[i][0]]
    assert len(used) == len(set(used))


def test_two_small_bundles_beat_one_big_bundle():
    bids = [(["a", "b"], 65 - 25), (["c"], 25), (["a"], 30), (["b", "c"], 40)]
    assert best_packing(["a", "b", "c"], bids) == [2, 3]


def test_tie_goes_to_the_earliest_bid():
    assert best_packing(["a"], [(["a"], 10), (["a"], 10)]) == [0]


def test_many_items_stay_tractable():
    items = [f"i{k}" for k in range(16)]
    bids = [([items[k], items[(k + 1) % 16]], 10 + k % 3) for k in range(16)]
    chosen = best_packing(items, bids)
    assert len(chosen) == 8
