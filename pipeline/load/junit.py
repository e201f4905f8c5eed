"""``reports/performance.xml``: what the gate reads (docs/pipeline.md, "What a
stage reports").

* suite ``performance``: one test case per pattern run (an error when the run
  itself broke: no cluster, Locust did not start, timed out) and the stage-level
  properties: ``metric.<name>`` (see :func:`pipeline.load.results.stage_metrics`),
  ``pipeline.trusted`` / ``pipeline.untrusted_reason``, the seed and the replay
  command, and the memory basis.
* suite ``performance.<pattern>`` per pattern: one test case per criterion
  (``p95_ms < 500``), its failure message the measured value and the
  threshold; ``metric.<pattern>.<name>`` properties.  A pattern whose
  measurement is not trusted has its criteria *skipped* (not judged), the
  reason in the message, so the stage can only come out ``unknown``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.load.results import PatternResult, describe, stage_metrics, unit_of
from pipeline.report.threshold import Threshold, number

__all__ = ["write_report"]


def _value(x: float) -> str:
    return number(round(x, 6)) if math.isfinite(x) else "nan"


def _props(parent: ET.Element, items: list[tuple[str, str]]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in items:
        ET.SubElement(props, "property", name=name, value=value)


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=name)


def _finish(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", _value(sum(float(c.get("time", "0")) for c in cases)))


def write_report(
    path: Path,
    results: list[PatternResult],
    stage_thresholds: tuple[Threshold, ...],
    *,
    seed: int,
    replay: str,
    extra: list[tuple[str, str]] | None = None,
    injected: str = "",
) -> Path:
    """Write the stage's JUnit file; returns its path."""
    root = ET.Element("testsuites", name="performance")
    stage = _suite(root, "performance")
    untrusted = [r for r in results if not r.trusted and not r.error]
    props: list[tuple[str, str]] = [
        (f"metric.{k}", _value(v))
        for k, v in sorted(stage_metrics(results, stage_thresholds).items())
        if math.isfinite(v)  # an unmeasured value is left out, not written as "nan" (the gate's unreadable)
    ]
    props.append(("pipeline.trusted", "false" if untrusted else "true"))
    if untrusted:
        props.append(("pipeline.untrusted_reason", "; ".join(r.untrusted_reason for r in untrusted)))
    props += [("performance.seed", str(seed)), ("performance.replay", replay)]
    bases = sorted({r.memory_basis for r in results if r.memory_basis})
    if bases:
        props.append(("performance.memory_basis", "; ".join(bases)))
    props += extra or []
    _props(stage, props)
    for r in results:
        case = ET.SubElement(
            stage, "testcase", classname="performance", name=f"run {r.name}", time=_value(r.duration_s)
        )
        if r.error:
            ET.SubElement(case, "error", message=r.error[:500], type="RunError").text = r.error
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{k}: {v}" for k, v in sorted(r.files.items())) or None
    if injected:  # PIPELINE_INJECT_FAILURE names this stage (docs/pipeline.md, "Making a stage fail")
        case = ET.SubElement(stage, "testcase", classname="performance", name="no failure injected", time="0")
        ET.SubElement(case, "failure", message=injected, type="InjectedFailure").text = injected
    _finish(stage)
    for r in results:
        suite = _suite(root, f"performance.{r.name}")
        items = [(f"metric.{r.name}.{k}", _value(v)) for k, v in sorted(r.metrics.items()) if math.isfinite(v)]
        items.append((f"performance.{r.name}.verdict", r.verdict))
        if not r.trusted:
            items.append((f"performance.{r.name}.untrusted_reason", r.untrusted_reason))
        items.append((f"performance.{r.name}.memory_basis", r.memory_basis))
        _props(suite, items)
        for check in r.checks:
            case = ET.SubElement(
                suite, "testcase", classname=f"performance.{r.name}", name=repr(check.threshold), time="0"
            )
            message = describe(check, unit_of(check.threshold.metric))
            if r.error:
                ET.SubElement(case, "skipped", message=f"not judged: the run failed ({r.error[:200]})")
            elif not r.trusted:
                ET.SubElement(case, "skipped", message=f"not judged: {r.untrusted_reason}; {message}")
            elif not check.passed:
                ET.SubElement(
                    case, "failure", message=message, type="ThresholdNotMet"
                ).text = f"{r.pattern.title}: {message}"
            else:
                out = ET.SubElement(case, "system-out")
                out.text = message
        _finish(suite)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
