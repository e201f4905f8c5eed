"""Reading stage JUnit reports and writing the merged ``reports/pipeline.xml``.

Reading (:func:`read_report`) accepts what real runners write (fixtures from
each are in ``tests/pipeline/data/runners/``): pytest xunit1 and xunit2, Maven
Surefire (a bare ``<testsuite>`` root, ``<flakyFailure>`` and
``<rerunFailure>``), nested ``<testsuite>`` elements (flattened), node's test
runner (``<testcase>`` directly under ``<testsuites>``), ctest (``status=
"notrun"`` is a failure, as ctest counts it, unless ctest skipped the test on
purpose; ``status="disabled"`` is skipped), jest and mocha.  Each *test* counts
once, however many elements it has.

One test, several elements.  pytest writes a test whose call failed and whose
teardown errored as two ``<testcase>`` elements with the same classname and
name, and pytest-rerunfailures 16.7 writes every attempt as its own element
(the earlier ones empty); in both cases the suite's ``tests`` attribute counts
the test once.  When a suite declares fewer tests than it has elements, the
elements of one test are folded into one, with every result and every output
kept, so the merged report loses nothing.  Earlier attempts become
Surefire-style ``<flakyFailure>`` (the test passed in the end: flaky) or
``<rerunFailure>`` (it failed) children.  pytest-rerunfailures 16.6 writes only
the last attempt; the toolkit's pytest plugin records the count as the
``pipeline.reruns`` property (:mod:`pipeline.testing.reruns`), read the same
way.  Surefire's own ``<flakyFailure>`` / ``<flakyError>`` are read as they are.

Metrics and trust, as JUnit properties (suite level, or test case level as
pytest's ``record_property`` writes them):

* ``metric.<name>`` = a number, e.g. ``metric.p95_ms`` = ``412.5``: a measured
  value that the stage's thresholds are checked against.
* ``pipeline.trusted`` = ``false``: the stage says its measurement cannot be
  trusted (the verdict becomes ``unknown``); ``pipeline.untrusted_reason`` says why.
"""

from __future__ import annotations

import copy
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestSuite, xunit2

METRIC_PREFIX = "metric."
TRUSTED = "pipeline.trusted"
UNTRUSTED_REASON = "pipeline.untrusted_reason"
RERUNS = "pipeline.reruns"  # written by pipeline.testing.reruns
TOP_LEVEL = "top-level"
_RESULT_TAGS = ("failure", "error", "skipped")
_OUTPUT_TAGS = ("system-out", "system-err")
_CTEST_DELIBERATE_SKIPS = ("SKIP_RETURN_CODE", "SKIP_REGULAR_EXPRESSION")
_FALSE = ("false", "0", "no")
_TRUE = ("true", "1", "yes")


@dataclass(frozen=True)
class Counts:
    tests: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    flaky: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return (self.tests, self.passed, self.failed, self.errors, self.skipped, self.flaky)


@dataclass(frozen=True)
class FlatSuite:
    """One leaf test suite: its path of names, its element (for attributes and
    properties) and its test cases after folding reruns."""

    names: tuple[str, ...]
    element: xunit2.TestSuite
    cases: tuple[xunit2.TestCase, ...]


@dataclass(frozen=True)
class StageReport:
    """What a stage's JUnit file says.  ``problem`` is set when it is missing,
    malformed or empty; then only ``path`` and ``problem`` mean anything."""

    path: Path
    problem: str | None = None
    counts: Counts = Counts()
    failed: tuple[str, ...] = ()
    flaky: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    bad_metrics: tuple[str, ...] = ()
    trusted: bool = True
    untrusted_reason: str = ""
    suites: tuple[FlatSuite, ...] = ()


def read_report(path: Path, shown: str | None = None) -> StageReport:
    """Read one stage's JUnit file; never raises for a missing or malformed file."""
    shown = shown or str(path)
    if not path.is_file():
        return StageReport(path, problem=f"no JUnit report at {shown}")
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        return StageReport(path, problem=f"malformed JUnit {shown}: {exc}")
    if root.tag not in ("testsuites", "testsuite"):
        return StageReport(
            path, problem=f"malformed JUnit {shown}: root element <{root.tag}> is not <testsuites> or <testsuite>"
        )
    try:
        # junitparser annotates fromroot as taking its own Element wrapper (it takes an ElementTree
        # element, as here) and returning the base JUnitXml (it builds ``cls()``: an xunit2.JUnitXml).
        xml = cast(xunit2.JUnitXml, xunit2.JUnitXml.fromroot(root))  # type: ignore[arg-type]
        return _summarise(path, shown, xml)
    except (JUnitXmlError, ValueError, TypeError) as exc:
        return StageReport(path, problem=f"malformed JUnit {shown}: {exc}")


def _summarise(path: Path, shown: str, xml: xunit2.JUnitXml) -> StageReport:
    suites: list[FlatSuite] = []
    top = [xunit2.TestCase.fromelem(e) for e in xml._elem if e.tag == "testcase"]
    if top:  # node's test runner puts top-level tests straight under <testsuites>
        container = xunit2.TestSuite(xml._elem.get("name") or TOP_LEVEL)
        suites.append(FlatSuite((container.name or TOP_LEVEL,), container, tuple(_fold(xml._elem, top))))
    for suite in xml.iterchildren(xunit2.TestSuite):  # what iter(xml) does; typed as the base TestSuite
        _flatten(suite, (), suites)
    props: list[tuple[str, str]] = []
    counts = Counts()
    failed: list[str] = []
    flaky: list[str] = []
    for flat in suites:
        props += [(p.name, p.value) for p in flat.element.properties()]
        for case in flat.cases:
            props += [(p.name, p.value) for p in case.properties() if p.name != RERUNS]
            counts = counts + _classify(case)
            if case.is_failure or case.is_error:
                failed.append(case_id(case))
            if _flaky(case):
                flaky.append(case_id(case))
    if counts.tests == 0:
        return StageReport(path, problem=f"JUnit {shown} has no test cases")
    metrics: dict[str, float] = {}
    bad: list[str] = []
    trusted, reason = True, ""
    for name, value in props:
        name, value = name or "", (value or "").strip()
        if name.startswith(METRIC_PREFIX):
            try:
                number = float(value)
                if math.isnan(number):
                    raise ValueError(value)
                metrics[name[len(METRIC_PREFIX) :]] = number
            except ValueError:
                bad.append(f"{name}={value!r} is not a number")
        elif name == TRUSTED:
            if value.lower() in _FALSE:
                trusted = False
            elif value.lower() not in _TRUE:
                trusted, reason = False, reason or f"{TRUSTED}={value!r} is neither true nor false"
        elif name == UNTRUSTED_REASON and value:
            reason = value
    return StageReport(
        path,
        None,
        counts,
        tuple(failed),
        tuple(flaky),
        metrics,
        tuple(bad),
        trusted,
        reason if not trusted else "",
        tuple(suites),
    )


def _flatten(suite: xunit2.TestSuite, parents: tuple[str, ...], into: list[FlatSuite]) -> None:
    names = (*parents, suite.name or "")
    own = list(suite.iterchildren(xunit2.TestCase))
    if own:
        into.append(FlatSuite(names, suite, tuple(_fold(suite._elem, own))))
    for child in suite.iterchildren(xunit2.TestSuite):
        _flatten(child, names, into)


def _fold(container: ET.Element, cases: list[xunit2.TestCase]) -> list[xunit2.TestCase]:
    """One case per test (see the module doc): a suite that declares fewer tests
    than it has elements has tests written as several elements; fold them."""
    declared = container.get("tests")
    foldable = declared is not None and declared.isdigit() and int(declared) < len(cases)
    groups: dict[object, list[xunit2.TestCase]] = {}
    for i, case in enumerate(cases):
        key = (case.classname, case.name) if foldable else i
        groups.setdefault(key, []).append(case)
    return [_one_test(elements) for elements in groups.values()]


def _one_test(elements: list[xunit2.TestCase]) -> xunit2.TestCase:
    """The elements of one test as one case: every result and output kept,
    earlier attempts as flaky/rerun markers."""
    results = [r for e in elements for r in e._elem if r.tag in _RESULT_TAGS]
    if any(r.tag in ("failure", "error") for r in results):
        results = [r for r in results if r.tag != "skipped"]
    empty = sum(1 for e in elements if not any(r.tag in _RESULT_TAGS for r in e._elem))
    earlier = len(elements) - 1 if not results else empty
    case = xunit2.TestCase.fromelem(copy.deepcopy(elements[-1]._elem))
    for child in list(case._elem):
        if child.tag in _RESULT_TAGS or (len(elements) > 1 and child.tag in _OUTPUT_TAGS):
            case._elem.remove(child)
    seen_props = {(p.name, p.value) for p in case.properties()}
    for element in elements[:-1]:
        for p in element.properties():
            if (p.name, p.value) not in seen_props:
                seen_props.add((p.name, p.value))
                case.add_property(p.name, p.value)
    for result in results:
        case._elem.append(copy.deepcopy(result))
    if len(elements) > 1:
        for element in elements:
            for child in element._elem:
                if child.tag in _OUTPUT_TAGS:
                    case._elem.append(copy.deepcopy(child))
    _ctest_status(case)
    recorded = max((_int(p.value) for p in case.properties() if p.name == RERUNS), default=0)
    reruns = max(earlier, recorded)
    total = reruns + 1
    for i in range(1, total):
        if case.is_passed:
            case.add_interim_result(xunit2.FlakyFailure(f"attempt {i} of {total} failed; passed on rerun", "rerun"))
        elif not case.is_skipped:
            case.add_interim_result(xunit2.RerunFailure(f"attempt {i} of {total} failed", "rerun"))
    return case


def _ctest_status(case: xunit2.TestCase) -> None:
    """ctest's ``status``: ``notrun`` is a failure unless ctest skipped the test
    on purpose (SKIP_RETURN_CODE, SKIP_REGULAR_EXPRESSION); ``disabled`` is
    skipped.  Rewritten as results, so the merged report says the same."""
    status = case._elem.get("status")
    if status == "disabled" and not case.result:
        case.result = [Skipped("disabled (ctest status=disabled)", "disabled")]
    elif status == "notrun":
        skips = [r for r in case._elem if r.tag == "skipped"]
        why = "; ".join(r.get("message") or "" for r in skips) or "not run"
        if not why.startswith(_CTEST_DELIBERATE_SKIPS) and not (case.is_failure or case.is_error):
            for r in skips:
                case._elem.remove(r)
            case._elem.insert(0, Failure(f"{why} (ctest status=notrun: ctest counts it as failed)", "notrun")._elem)


def _int(text: str | None) -> int:
    try:
        return max(0, int(text or "0"))
    except ValueError:
        return 0


def _classify(case: xunit2.TestCase) -> Counts:
    if case.is_error:
        return Counts(tests=1, errors=1)
    if case.is_failure:
        return Counts(tests=1, failed=1)
    if case.is_skipped:
        return Counts(tests=1, skipped=1)
    return Counts(tests=1, passed=1, flaky=1 if _flaky(case) else 0)


def _flaky(case: xunit2.TestCase) -> bool:
    """Passed in the end after failed attempts (``<flakyFailure>``, or ``<rerunFailure>`` on a pass)."""
    return not case.result and (case.is_flaky or case.is_rerun)


def case_id(case: xunit2.TestCase) -> str:
    return f"{case.classname}::{case.name}" if case.classname else (case.name or "?")


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class Case:
    """A test case the pipeline itself adds to the merged report (a stage's outcome,
    a threshold).  ``outcome``: ``passed``, ``failure``, ``error`` or ``skipped``."""

    classname: str
    name: str
    outcome: str = "passed"
    message: str = ""
    text: str = ""
    properties: tuple[tuple[str, str], ...] = ()


_RESULTS = {"failure": Failure, "error": Error, "skipped": Skipped}


def merged(
    stage_reports: list[tuple[str, StageReport | None]], cases: list[Case], properties: dict[str, str]
) -> JUnitXml:
    """The merged report: every stage's suites (named ``<stage>/<suite>``) and a
    ``pipeline`` suite holding ``cases`` and ``properties``."""
    xml = JUnitXml(name="pipeline")
    for stage, report in stage_reports:
        if report is None or report.problem:
            continue
        for flat in report.suites:
            xml.append(_copy_suite(stage, flat))
    own = TestSuite("pipeline")
    for key, value in properties.items():
        own.add_property(key, value)
    for spec in cases:
        case = xunit2.TestCase(spec.name, spec.classname)
        for key, value in spec.properties:
            case.add_property(key, value)
        if spec.outcome in _RESULTS:
            result = _RESULTS[spec.outcome](spec.message or None, spec.outcome)
            if spec.text:
                result.text = spec.text
            case.result = [result]
        own.append(case)
    xml.append(own)
    xml.update_statistics()
    return xml


def _copy_suite(stage: str, flat: FlatSuite) -> TestSuite:
    suite = TestSuite("/".join((stage, *(n for n in flat.names if n))))
    for attr in ("timestamp", "hostname"):
        if flat.element._elem.get(attr) is not None:
            suite._elem.set(attr, flat.element._elem.get(attr))
    suite.add_property("pipeline.run.stage", stage)
    for prop in flat.element.properties():
        suite.add_property(prop.name, prop.value)
    for child in flat.element._elem:
        if child.tag in ("system-out", "system-err"):
            suite._elem.append(copy.deepcopy(child))
    for case in flat.cases:
        suite._elem.append(copy.deepcopy(case._elem))
    suite.update_statistics()
    return suite


def write(xml: JUnitXml, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(xml._elem)
    ET.indent(tree)
    tmp = path.with_name(path.name + ".tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path


def write_skipped(path: Path, stage: str, names: list[str], reason: str) -> Path:
    """A stage report in which every case was skipped for ``reason`` (a stage that
    could not run here and was asked to skip rather than fail): the gate reads it
    as "all N tests were skipped", with the reason in each case."""
    suite = TestSuite(stage)
    suite.add_property("pipeline.skipped_reason", reason)
    for name in names or [stage]:
        case = xunit2.TestCase(name, stage)
        case.result = [Skipped(reason, "skipped")]
        suite.append(case)
    xml = JUnitXml(name=stage)
    xml.append(suite)
    xml.update_statistics()
    path.parent.mkdir(parents=True, exist_ok=True)
    xml.write(str(path))
    return path
