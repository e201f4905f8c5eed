import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.report.threshold import (
    OPERATORS,
    PERFORMANCE_DEFAULTS,
    Check,
    Threshold,
    ThresholdError,
    above,
    at_least,
    at_most,
    below,
    check_all,
    make,
    parse_threshold,
)


@pytest.mark.parametrize(
    "text, metric, op, limit, shown",
    [
        ("p95_ms < 500", "p95_ms", "<", 500.0, "p95_ms < 500"),
        ("error_rate < 0.01", "error_rate", "<", 0.01, "error_rate < 0.01"),
        ("throughput_ops >= 1000", "throughput_ops", ">=", 1000.0, "throughput_ops >= 1000"),
        ("availability >= 0.8", "availability", ">=", 0.8, "availability >= 0.8"),
        ("p95_ms<=500", "p95_ms", "<=", 500.0, "p95_ms <= 500"),
        ("  avg_ms  >  -1.5 ", "avg_ms", ">", -1.5, "avg_ms > -1.5"),
        ("error_rate < 1%", "error_rate", "<", 0.01, "error_rate < 0.01"),
        ("http.req_failed != 0", "http.req_failed", "!=", 0.0, "http.req_failed != 0"),
        ("nodes == 3", "nodes", "==", 3.0, "nodes == 3"),
        ("x >= 1e3", "x", ">=", 1000.0, "x >= 1000"),
    ],
)
def test_parse_valid(text, metric, op, limit, shown):
    t = parse_threshold(text)
    assert (t.metric, t.op, t.limit) == (metric, op, limit)
    assert repr(t) == str(t) == shown


@pytest.mark.parametrize(
    "text, says",
    [
        ("p95_ms", "expected '<metric> <op> <number>'"),
        ("p95_ms < ", "expected '<metric> <op> <number>'"),
        ("< 500", "expected '<metric> <op> <number>'"),
        ("p95_ms <> 500", "expected '<metric> <op> <number>'"),
        ("p95_ms =< 500", "expected '<metric> <op> <number>'"),
        ("p95_ms < 500 ms", "expected '<metric> <op> <number>'"),
        ("p95_ms < fast", "'fast' is not a number"),
        ("p95_ms < nan", "bad limit nan"),
        ("p95_ms < inf", "bad limit inf"),
        ("9lives < 1", "bad metric name '9lives'"),
        ("p-95 < 1", "bad metric name 'p-95'"),
        ("", "expected '<metric> <op> <number>'"),
    ],
)
def test_parse_invalid_says_why(text, says):
    with pytest.raises(ThresholdError) as err:
        parse_threshold(text)
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_parse_rejects_non_strings():
    with pytest.raises(ThresholdError, match="is not a string"):
        parse_threshold(500)


def test_factories_read_like_the_spec():
    assert repr(below("p95_ms", 500)) == "p95_ms < 500"
    assert repr(at_most("avg_ms", 100)) == "avg_ms <= 100"
    assert repr(above("availability", 0.8)) == "availability > 0.8"
    assert repr(at_least("throughput_ops", 1000)) == "throughput_ops >= 1000"
    assert below("p95_ms", 500) == parse_threshold("p95_ms < 500")


def test_make_rejects_bad_parts():
    with pytest.raises(ThresholdError, match="bad operator"):
        make("x", "=>", 1)
    with pytest.raises(ThresholdError, match="bad limit"):
        make("x", "<", True)
    with pytest.raises(ThresholdError, match="bad metric name"):
        make("", "<", 1)


def test_thresholds_are_frozen_and_hashable():
    t = below("p95_ms", 500)
    with pytest.raises(AttributeError):
        t.limit = 1  # type: ignore[misc]
    assert {t, parse_threshold("p95_ms < 500")} == {t}


def test_check_against_measured_values():
    t = below("p95_ms", 500)
    passed, failed, edge = t.check({"p95_ms": 412.0}), t.check({"p95_ms": 612.0}), t.check({"p95_ms": 500.0})
    assert passed.passed and not failed.passed and not edge.passed
    assert failed.detail == "measured 612"
    assert repr(failed) == "p95_ms < 500: measured 612 -> FAIL"
    assert at_most("p95_ms", 500).check({"p95_ms": 500.0}).passed


def test_a_metric_not_reported_fails():
    check = at_least("throughput_ops", 1000).check({"p95_ms": 1.0})
    assert check.measured is None and not check.passed
    assert check.detail == "metric 'throughput_ops' not reported"


def test_nan_never_passes():
    assert not Check(below("x", 1), math.nan).passed
    assert not Check(Threshold("x", "!=", 1.0), math.nan).passed


def test_check_all_keeps_order():
    checks = check_all((below("a", 1), at_least("b", 2)), {"a": 0.5, "b": 1})
    assert [c.passed for c in checks] == [True, False]


def test_performance_defaults_are_the_seed_criteria():
    assert [repr(t) for t in PERFORMANCE_DEFAULTS] == [
        "avg_ms < 100",
        "p95_ms < 500",
        "error_rate < 0.01",
        "throughput_ops >= 1000",
        "memory_ratio < 0.8",
    ]


metric_names = st.from_regex(r"[a-z_][a-z0-9_.]{0,20}", fullmatch=True)
limits = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(metric_names, st.sampled_from(sorted(OPERATORS)), limits)
def test_repr_parses_back_to_the_same_threshold(metric, op, limit):
    t = make(metric, op, limit)
    again = parse_threshold(repr(t))
    assert again == t


@given(limits, limits)
def test_check_agrees_with_the_operator(limit, value):
    for op, fn in OPERATORS.items():
        assert make("m", op, limit).check({"m": value}).passed == fn(value, limit)
