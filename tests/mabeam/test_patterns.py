"""Topic patterns: ``*`` one segment, ``**``/``#`` zero or more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.errors import BadRequest
from mabeam.patterns import matches, validate_topic


@pytest.mark.parametrize(
    "pattern, topic, expected",
    [
        ("economics.*", "economics.tick", True),
        ("economics.*", "economics.auction.created", False),
        ("economics.**", "economics.auction.created", True),
        ("economics.**", "economics", True),
        ("economics.#", "economics.auction.created", True),
        ("**", "anything.at.all", True),
        ("#", "x", True),
        ("*.auction.*", "economics.auction.created", True),
        ("*.auction.*", "economics.auction", False),
        ("a.**.z", "a.z", True),
        ("a.**.z", "a.b.c.z", True),
        ("a.**.z", "a.b.c.y", False),
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
        ("a.*.**", "a", False),
        ("a.*.**", "a.b", True),
        ("eco*", "economics", False),  # a partial wildcard is a literal segment
    ],
)
def test_documented_examples(pattern, topic, expected):
    assert matches(pattern, topic) is expected


segment = st.sampled_from(["a", "b", "c"])
topics = st.lists(segment, min_size=1, max_size=5)
patterns = st.lists(st.sampled_from(["a", "b", "*", "**", "#"]), min_size=1, max_size=5)


def _brute(pattern: list[str], topic: list[str]) -> bool:
    """An independent oracle: try every way of giving segments to wildcards."""
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head in ("**", "#"):
        return any(_brute(rest, topic[k:]) for k in range(len(topic) + 1))
    return bool(topic) and (head == "*" or head == topic[0]) and _brute(rest, topic[1:])


@given(patterns, topics)
def test_agrees_with_a_brute_force_oracle(pattern, topic):
    assert matches(".".join(pattern), ".".join(topic)) is _brute(pattern, topic)


@pytest.mark.parametrize("bad", ["", ".a", "a.", "a..b"])
def test_malformed_patterns_are_invalid_field(bad):
    with pytest.raises(BadRequest) as info:
        matches(bad, "a")
    assert info.value.field == "pattern" and info.value.code == "invalid_field"


@pytest.mark.parametrize("bad", ["a.*", "a.**", "#", "has space", "a\nb", "", 7])
def test_topics_must_be_concrete(bad):
    with pytest.raises(BadRequest) as info:
        validate_topic(bad)
    assert info.value.field == "topic"


def test_valid_topic_passes_through():
    assert validate_topic("economics.auction.created") == "economics.auction.created"
