"""``reports/chaos.xml``: what the gate reads (docs/pipeline.md, "What a stage reports").

* suite ``chaos``: one test case per scenario run (an error when the run
  itself broke), and the stage's properties: ``pipeline.trusted`` /
  ``pipeline.untrusted_reason``, per scenario its seed and replay command.
* suite ``chaos.<scenario>`` per scenario: one test case per criterion
  (``availability >= 0.8``), its message the measured value and the
  threshold; on failure the seed and the exact replay command, and for
  ``data_consistency`` the checkers' excerpt; ``metric.<scenario>.<name>``
  properties.  An untrusted scenario's criteria are *skipped* (not judged)
  with the reason, so the stage comes out ``unknown``, never ``pass``.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from pipeline.chaos.result import ScenarioResult, describe
from pipeline.report.threshold import number

__all__ = ["write_report"]


def _value(x: float) -> str:
    return number(round(x, 6)) if math.isfinite(x) else ("inf" if math.isinf(x) else "nan")


def _props(parent: ET.Element, items: list[tuple[str, str]]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in items:
        ET.SubElement(props, "property", name=name, value=value)


def _finish(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", _value(sum(float(c.get("time", "0")) for c in cases)))


def write_report(path: Path, results: list[ScenarioResult], *, injected: str = "") -> Path:
    root = ET.Element("testsuites", name="chaos")
    stage = ET.SubElement(root, "testsuite", name="chaos")
    untrusted = [r for r in results if not r.trusted and not r.error]
    props = [("pipeline.trusted", "false" if untrusted else "true")]
    if untrusted:
        props.append(("pipeline.untrusted_reason", "; ".join(f"{r.name}: {r.untrusted_reason}" for r in untrusted)))
    for r in results:
        props += [(f"chaos.{r.name}.seed", str(r.seed)), (f"chaos.{r.name}.replay", r.replay)]
        props.append((f"chaos.{r.name}.verdict", r.verdict))
    _props(stage, props)
    for r in results:
        case = ET.SubElement(stage, "testcase", classname="chaos", name=f"run {r.name}", time=_value(r.elapsed_s))
        if r.error:
            text = f"{r.error}\nseed {r.seed}; replay: {r.replay}"
            ET.SubElement(case, "error", message=r.error[:500], type="RunError").text = text
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(f"{k}: {v}" for k, v in sorted(r.files.items())) or None
    if injected:
        case = ET.SubElement(stage, "testcase", classname="chaos", name="no failure injected", time="0")
        ET.SubElement(case, "failure", message=injected, type="InjectedFailure").text = injected
    _finish(stage)
    for r in results:
        suite = ET.SubElement(root, "testsuite", name=f"chaos.{r.name}")
        items = [(f"metric.{r.name}.{k}", _value(v)) for k, v in sorted(r.metrics.items()) if not math.isnan(v)]
        if not r.trusted:
            items.append((f"chaos.{r.name}.untrusted_reason", r.untrusted_reason))
        _props(suite, items)
        for check in r.checks:
            case = ET.SubElement(suite, "testcase", classname=f"chaos.{r.name}", name=repr(check.threshold), time="0")
            message = describe(check)
            if r.error:
                ET.SubElement(case, "skipped", message=f"not judged: the run failed ({r.error[:200]})")
            elif not r.trusted:
                ET.SubElement(case, "skipped", message=f"not judged: {r.untrusted_reason[:400]}; {message}")
            elif not check.passed:
                full = f"{message}; seed {r.seed}; replay: {r.replay}"
                text = f"{r.scenario.label}: {full}"
                if check.threshold.metric == "data_consistency" and r.consistency:
                    text += "\n\n" + r.consistency
                ET.SubElement(case, "failure", message=full, type="CriterionNotMet").text = text
            else:
                ET.SubElement(case, "system-out").text = message
        _finish(suite)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
