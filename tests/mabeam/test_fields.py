"""Field validation: the error names the field and what is allowed."""

from __future__ import annotations

import math

import pytest

from mabeam.errors import BadRequest
from mabeam.fields import Fields, require_object


def _err(fn):
    with pytest.raises(BadRequest) as info:
        fn()
    return info.value


def test_missing_and_null_fields_are_missing():
    e = _err(lambda: Fields({}).text("name"))
    assert (e.code, e.field) == ("missing_field", "name")
    e = _err(lambda: Fields({"name": None}).text("name"))
    assert e.code == "missing_field"
    assert Fields({}).text("name", "dflt") == "dflt"


@pytest.mark.parametrize("value", [True, "1", math.inf, math.nan, [], {}, 0])
def test_numbers_reject_non_numbers(value):
    e = _err(lambda: Fields({"n": value}).number("n", gt=0))
    assert e.field == "n" and e.code == "invalid_field" and "> 0" in e.detail


def test_bounds_are_named_in_the_detail():
    e = _err(lambda: Fields({"n": 5}).number("n", lo=0, hi=1))
    assert ">= 0" in e.detail and "<= 1" in e.detail
    e = _err(lambda: Fields({"n": 2.5}).integer("n", lo=1))
    assert "integer" in e.detail
    assert Fields({"n": 3.0}).integer("n") == 3


def test_choice_lists_allowed_values():
    e = _err(lambda: Fields({"k": "z"}).choice("k", ("a", "b")))
    assert e.detail == "field 'k' must be one of 'a', 'b'"


def test_nested_names():
    task = Fields({"task": {"rounds": "x"}}).obj("task")
    e = _err(lambda: task.integer("rounds"))
    assert e.field == "task.rounds"
    items = Fields({"agents": [{"id": 1}]}).items("agents")
    assert _err(lambda: items[0].text("id")).field == "agents[0].id"


def test_text_lists():
    assert Fields({"l": ["a", "b"]}).text_list("l") == ["a", "b"]
    assert _err(lambda: Fields({"l": ["a", "a"]}).text_list("l")).field == "l"
    assert _err(lambda: Fields({"l": ["a", 3]}).text_list("l")).field == "l[1]"
    assert _err(lambda: Fields({"l": []}).text_list("l")).field == "l"


def test_number_maps():
    assert Fields({"m": {"cpu": 1}}).number_map("m") == {"cpu": 1}
    assert _err(lambda: Fields({"m": {"cpu": -1}}).number_map("m")).field == "m.cpu"
    assert _err(lambda: Fields({"m": {}}).number_map("m", min_len=1)).field == "m"


def test_require_object():
    assert _err(lambda: require_object([1])).code == "bad_json"
