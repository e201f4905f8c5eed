"""Frozen values: equal exactly when the JSON values are, and printed as recorded."""

from __future__ import annotations

import orjson
import pytest

from pipeline.checker.values import freeze, show, thaw

DIFFERENT = [
    (1, True),
    (0, False),
    (1, "1"),
    (None, False),
    (None, 0),
    ([], {}),
    ([1], [True]),
    ({"a": 1}, {"a": True}),
    ({"a": 1}, ["{}", [["a", 1]]]),  # an array shaped like the old frozen form of an object
    ({"a": 1}, ("{}", (("a", 1),))),
    (True, ["bool", True]),  # ... or like the frozen form of a boolean
    ([1, 2], [2, 1]),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_values_of_different_json_types_or_contents_never_compare_equal(a, b):
    assert freeze(a) != freeze(b)
    assert len({freeze(a), freeze(b)}) == 2


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, 1.0),
        ([1, 2], (1, 2)),
        ({"a": 1, "b": [True]}, {"b": (True,), "a": 1.0}),
        ({1: "x"}, {"1": "x"}),  # JSON object keys are strings
        ({True: "x"}, {"true": "x"}),
        ({None: "x"}, {"null": "x"}),
    ],
)
def test_the_same_json_value_freezes_equal(a, b):
    assert freeze(a) == freeze(b) and hash(freeze(a)) == hash(freeze(b))


@pytest.mark.parametrize("value", [None, 0, 1, True, False, "a", 1.5, [], {}, [1, [True, None]], {"a": {"b": [1]}}])
def test_freezing_survives_a_json_round_trip_and_thaws_back(value):
    again = orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    assert freeze(again) == freeze(value)
    assert thaw(freeze(value)) == value and type(thaw(freeze(value))) is type(value)


def test_show_prints_the_recorded_value():
    assert show(freeze(None)) == "absent"
    assert show(freeze(True)) == "True" and show(freeze(1)) == "1"
    assert show(freeze(["{}", [["a", 1]]])) == "['{}', [['a', 1]]]"
    assert show(freeze({"a": [1, False]})) == "{'a': [1, False]}"
