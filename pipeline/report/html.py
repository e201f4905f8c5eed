"""``reports/index.html``: the whole run on one self-contained page.

No CDN, no web font, no external script: the style and a small self-check
script are inline, the fault timelines are inline SVG, and the plots the stages
drew are linked relatively (``performance/<pattern>/<pattern>.png``,
``chaos/<scenario>/*.png``), so the page works offline and inside a CI
artifact.  Every text that came from a report is escaped.

What it reads (everything optional except the verdict):

* the gate's verdict (stages, statuses, findings, thresholds, JUnit reports);
* ``multinode/<test>.json`` (:mod:`pipeline.testing.multinode_record`);
* ``performance/<pattern>/result.json`` and the PNGs beside it;
* ``chaos/<scenario>/`` (a result JSON and PNGs) once the chaos stage writes it;
  until then the chaos section says "not run".

Order: the verdict and its reasons; then, when anything failed, the failures
(so an injected failure is the first thing on the page); then one row per
stage, the thresholds, and one section per stage.

The inline script, on ``load``, checks every image (loaded, natural width > 0)
and every ``#`` link (its target exists) and writes the result as JSON into
``<pre id="selfcheck">``: what :mod:`pipeline.report.browser` reads back from
headless Chromium.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.report.gate import FAIL, UNKNOWN, WARN, Assessment, Finding, Verdict
from pipeline.report.junit import case_id
from pipeline.testing import multinode_record

__all__ = ["PAGE", "render", "write", "anchor"]

PAGE = "index.html"
TEXT_LIMIT = 20_000  # characters of one failure text shown (the JUnit file has all of it)
_FAILED = ("failed", "crashed", "timed out", "interrupted")


def e(value: Any) -> str:
    """Escaped text (for element content and attribute values alike)."""
    return html.escape("" if value is None else str(value), quote=True)


def anchor(*parts: str) -> str:
    """An element id made of ``parts`` (letters, digits, ``-`` and ``_`` only)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "-", p).strip("-") or "x" for p in parts)


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _link(reports: Path, relative: str | None, text: str | None = None) -> str:
    """A relative link to a file in the reports folder, or just the text when the file is not there."""
    if not relative:
        return e(text or "")
    shown = e(text if text is not None else relative)
    target = reports / relative
    if not target.exists():
        return f'<span class="muted" title="not in this report folder">{shown}</span>'
    return f'<a href="{e(Path(relative).as_posix())}">{shown}</a>'


# ---------------------------------------------------------------- reading


class _Inputs:
    """What the page shows besides the verdict, read once from the reports folder."""

    def __init__(self, reports: Path, verdict: Verdict) -> None:
        self.reports = reports
        named = _named_records(verdict)  # the judged report's own records, not older ones left in the folder
        self.multinode = multinode_record.load_all(reports, named or None)
        self.patterns = [
            (p.parent.name, data)
            for p in sorted(reports.glob("performance/*/result.json"))
            if (data := _json(p)) is not None
        ]
        self.chaos = sorted(p for p in reports.glob("chaos/*") if p.is_dir())

    def seeds(self) -> list[tuple[str, Any]]:
        seeds: list[tuple[str, Any]] = []
        for r in self.multinode:
            if r.get("seed") is not None:
                seeds.append((f"multinode {r.get('name')}", r["seed"]))
        for name, data in self.patterns:
            if data.get("seed") is not None:
                seeds.append((f"performance {name}", data["seed"]))
        for folder in self.chaos:
            result = _chaos_result(folder)
            if result and result.get("seed") is not None:
                seeds.append((f"chaos {folder.name}", result["seed"]))
        return seeds


def _named_records(verdict: Verdict) -> list[str]:
    """The multinode records the stage's JUnit names (``pipeline.multinode.record`` properties)."""
    names = []
    for a in verdict.assessments:
        if a.stage.name != "multinode" or a.report is None or a.report.problem:
            continue
        for flat in a.report.suites:
            for case in flat.cases:
                names += [p.value for p in case.properties() if p.name == multinode_record.PROPERTY and p.value]
    return names


def _chaos_result(folder: Path) -> dict[str, Any] | None:
    for name in ("result.json", f"{folder.name}.json"):
        data = _json(folder / name)
        if data is not None:
            return data
    found = sorted(folder.glob("*.json"))
    return _json(found[0]) if found else None


def _failing_cases(a: Assessment) -> list[tuple[str, str, str, str]]:
    """``(test id, kind, message, text)`` of every failing test case in the stage's report."""
    report = a.report
    if report is None or report.problem:
        return []
    found = []
    for flat in report.suites:
        for case in flat.cases:
            if not (case.is_failure or case.is_error):
                continue
            for result in case.result:
                kind = "error" if result._elem.tag == "error" else "failure"
                found.append((case_id(case), kind, result.message or "", result.text or ""))
    return found


def _test_name(test_id: str) -> str:
    return test_id.rsplit("::", 1)[-1]


# ---------------------------------------------------------------- rendering


def render(verdict: Verdict, meta: dict[str, Any], reports: Path) -> str:
    """The page for ``verdict`` (with ``meta`` as the runner writes it), reading extras from ``reports``."""
    inputs = _Inputs(reports, verdict)
    body = [_header(verdict, meta, inputs)]
    failures = _failures(verdict, inputs)
    if failures:
        body.append(failures)
    body.append(_stage_table(verdict))
    body.append(_thresholds(verdict, inputs))
    if not failures:
        body.append(
            '<section id="failures"><h2>Failures</h2><p class="ok">No test failed and no threshold was missed.</p>'
            "</section>"
        )
    for a in verdict.assessments:
        body.append(_stage_section(a, inputs))
    if not any(a.stage.name == "chaos" for a in verdict.assessments):
        body.append(_chaos_section(None, inputs))
    return _PAGE.format(
        title=e(f"Pipeline {verdict.verdict.upper()} ({meta.get('branch_type')})"),
        style=_STYLE,
        body="\n".join(body),
        script=_SCRIPT,
    )


def write(verdict: Verdict, meta: dict[str, Any], reports: Path) -> Path:
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / PAGE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(verdict, meta, reports), encoding="utf-8")
    tmp.replace(path)
    return path


_MARK = {"pass": "✔", "fail": "✘", "unknown": "?"}


def _header(verdict: Verdict, meta: dict[str, Any], inputs: _Inputs) -> str:
    v = verdict.verdict
    reasons = sorted(verdict.findings, key=lambda f: {FAIL: 0, UNKNOWN: 1, WARN: 2}.get(f.severity, 3))
    items = "".join(_finding(f) for f in reasons) or '<li class="ok">every required stage passed</li>'
    elapsed = meta.get("elapsed_s")
    seeds = inputs.seeds()
    distinct = sorted({str(s) for _, s in seeds})
    seed_text = (
        ", ".join(e(s) for s in distinct[:8]) + (f" (+{len(distinct) - 8} more)" if len(distinct) > 8 else "")
        if distinct
        else "none recorded"
    )
    seed_title = e("; ".join(f"{where}: {s}" for where, s in seeds))
    facts = [
        ("branch type", e(meta.get("branch_type"))),
        ("ref", e(meta.get("branch") or "-")),
        ("mode", e(meta.get("mode"))),
        ("started", e(meta.get("started_at") or "-")),
        ("wall time", "-" if elapsed is None else f"{float(elapsed):.1f} s"),
        ("stage time", f"{sum(a.run.elapsed_s or 0.0 for a in verdict.assessments):.1f} s"),
        ("exit code", e(verdict.exit_code) + (" (interrupted)" if verdict.interrupted else "")),
        ("seeds", f'<span title="{seed_title}">{seed_text}</span>'),
    ]
    if meta.get("stages_selected"):
        facts.append(("stages selected", e(", ".join(meta["stages_selected"]))))
    dl = "".join(f"<div><dt>{k}</dt><dd>{val}</dd></div>" for k, val in facts)
    return (
        f'<header class="verdict-{e(v)}"><h1 id="verdict" data-verdict="{e(v)}">'
        f"{_MARK.get(v, '')} Pipeline verdict: {e(v.upper())}</h1>"
        f'<dl class="facts">{dl}</dl><h2 class="reasons-title">Reasons</h2><ul class="reasons">{items}</ul>'
        '<nav><a href="#stages">stages</a> · <a href="#thresholds">thresholds</a> · <a href="#failures">failures</a>'
        + "".join(f' · <a href="#{anchor("stage", a.stage.name)}">{e(a.stage.name)}</a>' for a in verdict.assessments)
        + "</nav></header>"
    )


def _finding(f: Finding) -> str:
    return (
        f'<li class="sev-{e(f.severity)}"><span class="tag">{e(f.severity)}</span> '
        f'<a href="#{anchor("stage", f.stage)}">{e(f.stage)}</a>: {e(f.message)}</li>'
    )


def _counts(a: Assessment) -> tuple[str, str, str]:
    report = a.report
    if report is None or report.problem or a.status == "skipped":
        return "-", "-", "-"
    c = report.counts
    return str(c.tests), str(c.failed + c.errors), str(c.flaky)


def _time_cell(a: Assessment) -> str:
    budget = a.stage.budget_s
    elapsed = a.run.elapsed_s
    if elapsed is None:
        return f'<span class="muted">- / {budget:g} s</span>'
    share = min(100.0, 100.0 * elapsed / budget) if budget else 0.0
    over = " over" if budget and elapsed > budget else ""
    return (
        f'<span class="time{over}">{elapsed:.1f} s / {budget:g} s</span>'
        f'<span class="bar" title="{share:.0f}% of the budget"><span style="width:{share:.1f}%"></span></span>'
    )


def _stage_table(verdict: Verdict) -> str:
    rows = []
    for a in verdict.assessments:
        tests, failed, flaky = _counts(a)
        rows.append(
            f'<tr class="stage status-{anchor(a.status)}" data-stage="{e(a.stage.name)}">'
            f'<td><a href="#{anchor("stage", a.stage.name)}">{e(a.stage.name)}</a></td>'
            f'<td>{e(a.requirement)}</td><td><span class="pill status-{anchor(a.status)}">{e(a.status)}</span></td>'
            f'<td class="n">{tests}</td><td class="n">{failed}</td><td class="n">{flaky}</td>'
            f"<td>{_time_cell(a)}</td><td>{e(a.reason)}</td></tr>"
        )
    return (
        '<section id="stages"><h2>Stages</h2><table class="stages"><thead><tr><th>stage</th><th>requirement</th>'
        "<th>status</th><th>tests</th><th>failures</th><th>flaky</th><th>time / budget</th><th>notes</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _check_rows(where: str, checks: Iterable[tuple[Any, Any, Any]]) -> list[str]:
    rows = []
    for threshold, measured, passed in checks:
        result = "not judged" if passed is None else "pass" if passed else "FAIL"
        cls = "muted" if passed is None else "ok" if passed else "bad"
        shown = "not reported" if measured is None else _num(measured, 4)
        rows.append(
            f'<tr><td>{where}</td><td><code>{e(threshold)}</code></td><td class="n">{e(shown)}</td>'
            f'<td class="{cls}">{result}</td></tr>'
        )
    return rows


def _thresholds(verdict: Verdict, inputs: _Inputs) -> str:
    rows = []
    for a in verdict.assessments:
        trusted = a.report is None or a.report.problem is not None or a.report.trusted
        rows += _check_rows(
            f'<a href="#{anchor("stage", a.stage.name)}">{e(a.stage.name)}</a>',
            ((repr(k.threshold), k.measured, k.passed if trusted else None) for k in a.checks),
        )
    for name, data in inputs.patterns:
        trusted = data.get("trusted", True) is not False
        rows += _check_rows(
            f'<a href="#{anchor("pattern", name)}">performance / {e(name)}</a>',
            (
                (c.get("threshold"), c.get("measured"), c.get("passed") if trusted else None)
                for c in data.get("checks", [])
                if isinstance(c, dict)
            ),
        )
    for folder in inputs.chaos:
        data = _chaos_result(folder) or {}
        rows += _check_rows(
            f'<a href="#{anchor("scenario", folder.name)}">chaos / {e(folder.name)}</a>',
            (
                (c.get("threshold"), c.get("measured"), c.get("passed"))
                for c in data.get("checks", [])
                if isinstance(c, dict)
            ),
        )
    table = (
        "<table><thead><tr><th>where</th><th>threshold</th><th>measured</th><th>result</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="muted">No stage of this run has thresholds.</p>'
    )
    return f'<section id="thresholds"><h2>Thresholds</h2>{table}</section>'


def _failures(verdict: Verdict, inputs: _Inputs) -> str:
    """The failures section, or "" when nothing failed."""
    by_name = {str(r.get("name")): r for r in inputs.multinode}
    parts = []
    for a in verdict.assessments:
        if a.status == "skipped":  # the policy skipped it: whatever an old report of it says was not judged
            continue
        cases = _failing_cases(a)
        stage_fails = [f for f in a.findings if f.severity == FAIL]
        if not cases and not stage_fails and a.status not in _FAILED:
            continue
        items = []
        for i, (test, kind, message, text) in enumerate(cases):
            record = by_name.get(_test_name(test)) if a.stage.name == "multinode" else None
            extra = ""
            if record is not None:
                extra = (
                    f'<p>seed {e(record.get("seed"))} · <a href="#{anchor("mn", str(record.get("name")))}">'
                    "the test's clusters, faults and checks</a></p>" + _replay(record)
                )
            headline = message.strip().splitlines()[0] if message.strip() else ""
            if len(headline) > 300:
                headline = headline[:300] + " ..."
            if not text.strip():  # the message is all there is: show it whole below the headline
                text = message if message.strip() != headline else ""
            shown = text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "\n... (cut; the JUnit file has it all)"
            items.append(
                f'<div class="failure" id="{anchor("failure", a.stage.name, str(i))}">'
                f'<h4><span class="tag">{e(kind)}</span> {e(test)}</h4>'
                f'<p class="message">{e(headline)}</p>{extra}'
                + (f"<pre>{e(shown)}</pre>" if shown.strip() else "")
                + "</div>"
            )
        if not cases:
            items.append(f'<p class="message">{e(a.reason or a.status)}</p>')
        log = _link(inputs.reports, f"{a.stage.name}.log", "stage log")
        parts.append(
            f'<div class="stage-failures"><h3><a href="#{anchor("stage", a.stage.name)}">{e(a.stage.name)}</a>: '
            f"{e(a.status)} ({log})</h3>{''.join(items)}</div>"
        )
    if not parts:
        return ""
    return f'<section id="failures" class="failures"><h2>Failures</h2>{"".join(parts)}</section>'


def _replay(record: dict[str, Any]) -> str:
    commands = record.get("replay") or []
    if not commands:
        return ""
    return '<div class="replay"><span>replay:</span>' + "".join(f"<pre>{e(c)}</pre>" for c in commands) + "</div>"


def _stage_section(a: Assessment, inputs: _Inputs) -> str:
    tests, failed, flaky = _counts(a)
    findings = "".join(_finding(f) for f in a.findings)
    files = " · ".join(
        _link(inputs.reports, name, label)
        for name, label in ((f"{a.stage.name}.xml", "JUnit report"), (f"{a.stage.name}.log", "stage log"))
        if (inputs.reports / name).exists()
    )
    head = (
        f'<section class="stage-section" id="{anchor("stage", a.stage.name)}">'
        f'<h2>{e(a.stage.name)} <span class="pill status-{anchor(a.status)}">{e(a.status)}</span></h2>'
        f"<p>{e(a.requirement)} · nox session <code>{e(a.stage.session)}</code> · tests {tests}, failures {failed},"
        f" flaky {flaky} · {_time_cell(a)}</p>"
        + (f"<p>{e(a.reason)}</p>" if a.reason else "")
        + (f'<ul class="reasons">{findings}</ul>' if findings else "")
        + (f"<p>{files}</p>" if files else "")
    )
    if a.report is not None and not a.report.problem and a.report.flaky:
        head += "<p>flaky: " + ", ".join(f"<code>{e(t)}</code>" for t in a.report.flaky) + "</p>"
    if a.stage.name == "multinode":
        head += _multinode(inputs)
    elif a.stage.name == "performance":
        head += _performance(a, inputs)
    elif a.stage.name == "chaos":
        return head + _chaos_body(a, inputs) + "</section>"
    return head + "</section>"


# ---------------------------------------------------------------- multinode


def _multinode(inputs: _Inputs) -> str:
    if not inputs.multinode:
        return '<p class="muted">No per-test records in multinode/ (the stage did not run here).</p>'
    rows = []
    for r in inputs.multinode:
        ops = r.get("operations", {})
        sizes = "+".join(str(c.get("size")) for c in r.get("clusters", [])) or "-"
        faults = [k for k in multinode_record.fault_kinds(r) if k not in multinode_record.RECOVERIES]
        verdicts = ", ".join(f"{c.get('checker')}={c.get('verdict')}" for c in r.get("checks", [])) or "-"
        rows.append(
            f'<tr class="outcome-{anchor(str(r.get("outcome")))}"><td><a href="#{anchor("mn", str(r.get("name")))}">'
            f'{e(r.get("name"))}</a></td><td>{e(r.get("outcome"))}</td><td class="n">{e(sizes)}</td>'
            f'<td class="n">{len(faults)}</td><td class="n">{e(ops.get("ok", 0))}</td>'
            f'<td class="n">{e(ops.get("fail", 0))}</td><td class="n">{e(ops.get("unknown", 0))}</td>'
            f"<td>{e(verdicts)}</td><td>{e(r.get('seed'))}</td></tr>"
        )
    table = (
        '<h3>Tests</h3><table class="multinode"><thead><tr><th>test</th><th>outcome</th><th>nodes</th><th>faults</th>'
        "<th>ok</th><th>fail</th><th>unknown</th><th>checkers</th><th>seed</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return table + "".join(_multinode_test(r, inputs.reports) for r in inputs.multinode)


def _multinode_test(r: dict[str, Any], reports: Path) -> str:
    ops = r.get("operations", {})
    checks = "".join(
        f'<tr><td>{e(c.get("checker"))}</td><td class="{"ok" if c.get("verdict") == "valid" else "bad"}">'
        f"{e(c.get('verdict'))}</td><td>{e(c.get('explanation'))}</td></tr>"
        for c in r.get("checks", [])
    )
    parts = [
        f'<article class="mn-test outcome-{anchor(str(r.get("outcome")))}" id="{anchor("mn", str(r.get("name")))}">',
        f'<h3>{e(r.get("name"))} <span class="pill">{e(r.get("outcome"))}</span></h3>',
        f"<p><code>{e(r.get('test'))}</code> · seed <b>{e(r.get('seed'))}</b> · {_num(r.get('duration_s'))} s · "
        f"operations <b>{e(ops.get('ok', 0))}</b> ok / <b>{e(ops.get('fail', 0))}</b> fail / "
        f"<b>{e(ops.get('unknown', 0))}</b> unknown"
        + (f" · history {_link(reports, r.get('history'))}" if r.get("history") else "")
        + "</p>",
        (
            "<table><thead><tr><th>checker</th><th>verdict</th><th>explanation</th></tr></thead>"
            f"<tbody>{checks}</tbody></table>"
            if checks
            else '<p class="muted">No checker ran (the test ended before its checks).</p>'
        ),
    ]
    for c in r.get("clusters", []):
        logs = " · ".join(_link(reports, n.get("log"), n.get("name")) for n in c.get("nodes", []))
        faults_log = "faults.log" if not c.get("run_dir") else f"{c['run_dir']}/faults.log"
        parts.append(
            f"<h4>cluster {e(c.get('run_id'))}: {e(c.get('size'))} nodes, {len(c.get('faults', []))} faults</h4>"
            f"<p>node logs: {logs or '-'} · {_link(reports, faults_log, 'fault log file')}</p>"
            + _timeline(c)
            + f"<details><summary>fault log</summary><pre>{e(c.get('fault_log', ''))}</pre></details>"
        )
    parts.append(_replay(r))
    parts.append("</article>")
    return "".join(parts)


_FAULT_COLOURS = ("#d9534f", "#f0ad4e", "#5bc0de", "#9b59b6", "#5cb85c", "#e67e22")


def _timeline(cluster: dict[str, Any]) -> str:
    """The cluster's faults as bars on a time axis (seconds after the cluster started), inline SVG."""
    faults = [f for f in cluster.get("faults", []) if isinstance(f.get("start_s"), int | float)]
    if not faults:
        return '<p class="muted">No fault injected in this cluster.</p>'
    end = max(
        [float(cluster.get("elapsed_s") or 0)]
        + [float(f["end_s"]) for f in faults if isinstance(f.get("end_s"), int | float)]
        + [float(f["start_s"]) + 1 for f in faults]
    )
    width, left, row, top = 900, 170, 22, 8
    scale = (width - left - 40) / max(end, 1e-9)
    kinds = list(dict.fromkeys(f.get("kind", "?") for f in faults))
    height = top + row * len(faults) + 30
    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="fault timeline of cluster {e(cluster.get("run_id"))}">'
    ]
    for i, f in enumerate(faults):
        y = top + i * row
        start = float(f["start_s"])
        stop = float(f["end_s"]) if isinstance(f.get("end_s"), int | float) else end
        colour = _FAULT_COLOURS[kinds.index(f.get("kind", "?")) % len(_FAULT_COLOURS)]
        label = f"#{f.get('id')} {f.get('kind')}"
        title = (
            f"{label}: {f.get('description')}; +{start:.2f}s to "
            + (f"+{stop:.2f}s ({f.get('end_note')})" if f.get("end_s") is not None else "the end (still active)")
            + (f"; verified: {f.get('verification')}" if f.get("verification") else "")
        )
        parts.append(
            f'<text x="4" y="{y + 15}" class="tl-label">{e(label[:26])}</text>'
            f'<rect x="{left + start * scale:.1f}" y="{y + 3}" width="{max(2.0, (stop - start) * scale):.1f}" '
            f'height="{row - 6}" rx="3" fill="{colour}"><title>{e(title)}</title></rect>'
        )
        if isinstance(f.get("verified_s"), int | float):
            x = left + float(f["verified_s"]) * scale
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 2}" y2="{y + row - 2}" class="tl-verified"/>')
    axis_y = top + row * len(faults) + 6
    parts.append(f'<line x1="{left}" x2="{width - 40}" y1="{axis_y}" y2="{axis_y}" class="tl-axis"/>')
    ticks = 6
    for t in range(ticks + 1):
        seconds = end * t / ticks
        x = left + seconds * scale
        shown = f"{seconds:.1f}" if end < 12 else f"{seconds:.0f}"
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" class="tl-tick" text-anchor="middle">{shown}s</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- performance and chaos


_METRICS = ("throughput_ops", "avg_ms", "p50_ms", "p95_ms", "p99_ms", "error_rate", "requests", "failures")


def _images(reports: Path, folder: Path) -> str:
    pictures = sorted(folder.glob("*.png"))
    return "".join(
        f'<figure><img src="{e(p.relative_to(reports).as_posix())}" alt="{e(p.stem)}" loading="eager">'
        f"<figcaption>{e(p.name)}</figcaption></figure>"
        for p in pictures
    )


def _performance(a: Assessment, inputs: _Inputs) -> str:
    if not inputs.patterns:
        return f'<p class="muted">No pattern results in performance/ (stage {e(a.status)}).</p>'
    parts = []
    for name, data in inputs.patterns:
        folder = inputs.reports / "performance" / name
        metrics = data.get("metrics", {}) if isinstance(data.get("metrics"), dict) else {}
        metric_cells = "".join(
            f'<tr><td>{e(m)}</td><td class="n">{e(_num(metrics[m], 4))}</td></tr>' for m in _METRICS if m in metrics
        )
        ops = data.get("operations", {}) if isinstance(data.get("operations"), dict) else {}
        op_columns = sorted({k for v in ops.values() if isinstance(v, dict) for k in v})
        op_rows = "".join(
            f"<tr><td>{e(op)}</td>"
            + "".join(f'<td class="n">{e(_num(values.get(col), 4))}</td>' for col in op_columns)
            + "</tr>"
            for op, values in ops.items()
            if isinstance(values, dict)
        )
        trust = (
            ""
            if data.get("trusted", True) is not False
            else f'<p class="sev-unknown">measurement not trusted: {e(data.get("untrusted_reason"))}</p>'
        )
        locust = _link(inputs.reports, f"performance/{name}/report.html", "Locust's report")
        parts.append(
            f'<article class="pattern" id="{anchor("pattern", name)}"><h3>{e(name)} '
            f'<span class="pill">{e(data.get("verdict"))}</span></h3>{trust}'
            f"<p>seed {e(data.get('seed'))} · {locust}</p>"
            f'<div class="figures">{_images(inputs.reports, folder)}</div>'
            '<div class="tables"><table><thead><tr><th>metric</th><th>value</th></tr></thead>'
            f"<tbody>{metric_cells}</tbody></table>"
            + (
                "<table><thead><tr><th>operation</th>"
                + "".join(f"<th>{e(c)}</th>" for c in op_columns)
                + f"</tr></thead><tbody>{op_rows}</tbody></table>"
                if op_rows
                else ""
            )
            + "</div></article>"
        )
    return "".join(parts)


def _chaos_section(a: Assessment | None, inputs: _Inputs) -> str:
    return (
        f'<section class="stage-section" id="{anchor("stage", "chaos")}"><h2>chaos</h2>'
        + _chaos_body(a, inputs)
        + "</section>"
    )


def _chaos_body(a: Assessment | None, inputs: _Inputs) -> str:
    if not inputs.chaos:
        why = f" ({e(a.reason or a.status)})" if a is not None else " (not configured in this run)"
        return f'<p class="not-run">not run{why}: no chaos results in this report folder yet.</p>'
    parts = []
    for folder in inputs.chaos:
        data = _chaos_result(folder) or {}
        scalars = "".join(
            f"<tr><td>{e(k)}</td><td>{e(_num(v, 4))}</td></tr>"
            for k, v in data.items()
            if isinstance(v, str | int | float | bool) or v is None
        )
        parts.append(
            f'<article class="scenario" id="{anchor("scenario", folder.name)}"><h3>{e(folder.name)}</h3>'
            f'<div class="figures">{_images(inputs.reports, folder)}</div>'
            + (f"<table><tbody>{scalars}</tbody></table>" if scalars else "")
            + "</article>"
        )
    return "".join(parts)


_STYLE = """
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--unk:#6639ba;--mut:#6e7781;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
margin:0;color:#1f2328;background:#fff}main{max-width:1200px;margin:0 auto;padding:0 16px 48px}
header{padding:16px 20px;border-radius:0 0 8px 8px;color:#fff}header a{color:#fff}
.verdict-pass{background:var(--ok)}.verdict-fail{background:var(--bad)}.verdict-unknown{background:var(--unk)}
h1{margin:0 0 8px;font-size:26px}h2{border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}
.facts{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0}.facts div{display:flex;gap:6px}.facts dt{opacity:.8}
.facts dd{margin:0;font-weight:600}.reasons-title{border:0;font-size:15px;margin:12px 0 2px}
header .reasons{margin:0;padding-left:20px}header .reasons .ok{color:#fff}header nav{margin-top:8px;font-size:13px}
table{border-collapse:collapse;margin:8px 0;width:100%}th,td{border:1px solid var(--line);padding:4px 8px;
text-align:left;vertical-align:top}th{background:var(--bg)}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;padding:0 8px;border-radius:10px;background:var(--bg);border:1px solid var(--line);
font-size:12px;font-weight:600;color:#1f2328}
.status-passed{color:var(--ok)}.status-failed,.status-crashed,.status-timed-out,.status-interrupted{color:var(--bad)}
.status-flaky,.status-missing{color:var(--warn)}.status-unknown{color:var(--unk)}.status-skipped,.status-not-run{color:var(--mut)}
.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}.muted,.not-run{color:var(--mut)}
.sev-fail .tag{background:var(--bad)}.sev-warn .tag{background:var(--warn)}.sev-unknown .tag{background:var(--unk)}
.tag{display:inline-block;color:#fff;background:var(--mut);border-radius:3px;padding:0 5px;font-size:12px}
header .sev-fail .tag,header .sev-warn .tag,header .sev-unknown .tag{border:1px solid #fff}
.time.over{color:var(--bad);font-weight:600}.bar{display:inline-block;width:60px;height:6px;background:var(--bg);
border:1px solid var(--line);margin-left:6px;vertical-align:middle}
.bar span{display:block;height:100%;background:#0969da}
.failures .failure{border-left:4px solid var(--bad);padding:2px 12px;margin:10px 0;background:#fff8f8}
.message{font-weight:600;white-space:pre-wrap}pre{background:var(--bg);padding:8px;overflow:auto;max-height:480px;
font-size:12px;white-space:pre-wrap;word-break:break-word}.replay pre{max-height:none;margin:4px 0}
.mn-test,.pattern,.scenario{border:1px solid var(--line);border-radius:6px;padding:4px 14px;margin:14px 0}
.outcome-failed,.outcome-error{border-left:4px solid var(--bad)}
.figures{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;max-width:100%}figure img{max-width:100%;
border:1px solid var(--line)}figcaption{font-size:12px;color:var(--mut)}
.tables{display:flex;gap:16px;flex-wrap:wrap}.tables table{width:auto}
.timeline{max-width:900px;background:var(--bg);border:1px solid var(--line)}.tl-label,.tl-tick{font-size:11px;
fill:#1f2328}.tl-axis{stroke:#57606a}.tl-verified{stroke:#1f2328;stroke-width:2}
#selfcheck{display:none}
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var result = {verdict: "", stages: 0, images: [], links: []};
  var v = document.getElementById("verdict");
  result.verdict = v ? v.getAttribute("data-verdict") : "";
  result.stages = document.querySelectorAll("#stages tbody tr.stage").length;
  document.querySelectorAll("img").forEach(function (img) {
    result.images.push({src: img.getAttribute("src"), ok: img.complete && img.naturalWidth > 0,
                        width: img.naturalWidth});
  });
  document.querySelectorAll('a[href^="#"]').forEach(function (a) {
    var id = decodeURIComponent(a.getAttribute("href").slice(1));
    result.links.push({href: a.getAttribute("href"), ok: id === "" || !!document.getElementById(id)});
  });
  var out = document.getElementById("selfcheck");
  out.textContent = JSON.stringify(result);
  out.setAttribute("data-done", "true");
});
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{style}</style></head>
<body><main>
{body}
<pre id="selfcheck" data-done="false"></pre>
</main><script>{script}</script></body></html>
"""
