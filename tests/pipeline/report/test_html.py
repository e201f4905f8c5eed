"""The HTML report (pipeline.report.html), read as HTML: what it shows and in which order.

``build_run`` makes a whole run's reports folder (stage JUnit files, a
multinode record, a performance pattern with its plot) and judges it; the
browser tests (test_html_browser.py) render the same pages in Chromium.
"""

from __future__ import annotations

import json
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.report import html
from pipeline.report.gate import Verdict, assess, judge
from pipeline.report.junit import read_report
from pipeline.report.threshold import parse_threshold
from pipeline.run import runner
from pipeline.run.config import Policy, Stage
from pipeline.run.stage import COMPLETED, SKIPPED, StageRun

POLICY = Policy("feature", (), flaky="warn", missing="warn")
META = {
    "mode": "pipeline",
    "branch_type": "feature",
    "branch": "refs/heads/feature/<x>",
    "started_at": "2026-12-02T06:00:00+00:00",
    "elapsed_s": 321.5,
}
INJECTED = "failure injected into stage 'unit' by PIPELINE_INJECT_FAILURE"
HOSTILE = "<script>alert('x')</script> & \"quotes\""
VIOLATION = (
    "history check failed (linearizable=INVALID, lost_writes=valid); history saved to "
    "reports/history/test_split.jsonl (replay: python -m pipeline.checker reports/history/test_split.jsonl)\n"
    "linearizable: INVALID: no order explains read of k1 = 'b' <after> write 'c'\n"
    "  +12.5ms c1 write k1 'c' ok\n  +13.0ms c2 read k1 -> 'b' ok"
)


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid RGB PNG (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def junit(name: str, cases: str, tests: int, failures: int = 0, properties: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
        f'tests="{tests}" failures="{failures}" errors="0" skipped="0" time="1.0">'
        f"<properties>{properties}</properties>{cases}</testsuite></testsuites>"
    )


def record(reports: Path, name: str, outcome: str, seed: int) -> None:
    run_dir = reports / "cluster" / f"run-{name}"
    run_dir.mkdir(parents=True)
    for node in ("n1", "n2", "n3"):
        (run_dir / f"{node}.log").write_text(f"{node} log\n")
    (run_dir / "faults.log").write_text("#1 partition\n")
    data = {
        "schema": 1,
        "test": f"suites/multinode/test_partitions.py::{name}",
        "name": name,
        "outcome": outcome,
        "seed": seed,
        "duration_s": 9.5,
        "clusters": [
            {
                "run_id": f"run-{name}",
                "size": 3,
                "seed": seed,
                "nodes": [{"name": n, "log": f"cluster/run-{name}/{n}.log"} for n in ("n1", "n2", "n3")],
                "run_dir": f"cluster/run-{name}",
                "faults": [
                    {
                        "id": 1,
                        "kind": "partition",
                        "description": "n1 | n2 n3 " + HOSTILE,
                        "nodes": [],
                        "start_s": 2.0,
                        "verified_s": 2.4,
                        "verification": "exchange failed on 4/4 links",
                        "end_s": 6.0,
                        "end_note": "healed by #2",
                    },
                    {
                        "id": 2,
                        "kind": "heal",
                        "description": "all links",
                        "nodes": [],
                        "start_s": 6.0,
                        "verified_s": 6.1,
                        "verification": "",
                        "end_s": 6.1,
                        "end_note": "instant",
                    },
                ],
                "fault_log": "#1 partition: n1 | n2 n3\n#2 heal",
                "elapsed_s": 9.0,
            }
        ],
        "operations": {"ok": 41, "fail": 7, "unknown": 2},
        "checks": [
            {"checker": "linearizable", "verdict": "INVALID" if outcome == "failed" else "valid", "explanation": ""},
            {"checker": "lost_writes", "verdict": "valid", "explanation": "nothing lost"},
        ],
        "history": None,
        "replay": [f"PIPELINE_SEED={seed} python -m nox -s multinode -- -k {name}"],
    }
    (reports / "multinode").mkdir(exist_ok=True)
    (reports / "multinode" / f"{name}.json").write_text(json.dumps(data))


def build_run(root: Path, *, failing: bool = False, performance: bool = True) -> tuple[Verdict, dict, Path]:
    """A judged run with its reports folder under ``root``: unit, service, multinode,
    performance (a pattern with a plot) and chaos (skipped).  ``failing``: the unit
    stage has an injected failure and a multinode test a checker violation."""
    reports = root / "reports"
    reports.mkdir(parents=True)
    unit_cases = '<testcase classname="tests.test_a" name="test_ok" time="0.1"/>'
    if failing:
        unit_cases += (
            '<testcase classname="tests.test_inject" name="test_no_failure_injected_into_this_stage" time="0.1">'
            f'<failure message="AssertionError: {INJECTED}">assert not True</failure></testcase>'
        )
    (reports / "unit.xml").write_text(junit("unit", unit_cases, 2 if failing else 1, int(failing)))
    (reports / "unit.log").write_text("unit log\n")
    (reports / "service.xml").write_text(junit("service", '<testcase classname="s" name="test_s" time="1"/>', 1))
    mn_cases = '<testcase classname="suites.multinode.test_ring" name="test_ring_ok" time="5"/>'
    if failing:
        mn_cases += (
            '<testcase classname="suites.multinode.test_partitions" name="test_split" time="9">'
            f'<failure message="{html.e(VIOLATION)}">{html.e(VIOLATION)}</failure></testcase>'
        )
    (reports / "multinode.xml").write_text(junit("multinode", mn_cases, 2 if failing else 1, int(failing)))
    record(reports, "test_ring_ok", "passed", 1234)
    if failing:
        record(reports, "test_split", "failed", 987654)
    if performance:
        props = '<property name="metric.p95_ms" value="120"/><property name="metric.throughput_ops" value="1500"/>'
        cases = '<testcase classname="performance" name="steady" time="25"/>'
        (reports / "performance.xml").write_text(junit("performance", cases, 1, properties=props))
        pattern = reports / "performance" / "steady"
        pattern.mkdir(parents=True)
        (pattern / "steady.png").write_bytes(png(40, 20))
        (pattern / "result.json").write_text(
            json.dumps(
                {
                    "pattern": "steady",
                    "verdict": "pass",
                    "trusted": True,
                    "metrics": {"p95_ms": 120.0, "throughput_ops": 1500.0, "avg_ms": 40.0},
                    "operations": {"place_bid": {"target_ops": 500.0, "achieved_ops": 498.5}},
                    "checks": [{"threshold": "p95_ms < 500", "measured": 120.0, "passed": True}],
                    "seed": 20261202,
                }
            )
        )

    def stage(name: str, *thresholds: str, budget: float = 300.0) -> Stage:
        return Stage(
            name, name, reports / f"{name}.xml", budget, thresholds=tuple(parse_threshold(t) for t in thresholds)
        )

    plan = [
        (stage("unit"), "required", 12.0),
        (stage("service"), "required", 30.0),
        (stage("multinode"), "required", 250.0),
        (stage("performance", "p95_ms < 500", "throughput_ops >= 1000", budget=60.0), "optional", 75.0),
    ]
    assessments = [
        assess(s, req, StageRun(s.name, COMPLETED, exit_code=0, elapsed_s=t), read_report(s.report), POLICY)
        for s, req, t in plan
    ]
    chaos = Stage("chaos", "chaos", reports / "chaos.xml", 1800.0)
    assessments.append(assess(chaos, "skip", StageRun("chaos", SKIPPED), None, POLICY))
    return judge(tuple(assessments)), dict(META), reports


class Page(HTMLParser):
    """The page as tags: ids in order, links, images, rows of the stage table."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.stage_rows: list[str] = []
        self.tags: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if a.get("src"):
            self.srcs.append(str(a["src"]))
        if tag == "tr" and "stage" in (a.get("class") or "").split():
            self.stage_rows.append(str(a.get("data-stage")))


@pytest.fixture
def passing(tmp_path):
    verdict, meta, reports = build_run(tmp_path)
    return verdict, html.write(verdict, meta, reports)


@pytest.fixture
def failing(tmp_path):
    verdict, meta, reports = build_run(tmp_path, failing=True)
    return verdict, html.write(verdict, meta, reports)


def test_passing_run_shows_verdict_facts_and_one_row_per_stage(passing):
    verdict, path = passing
    text = path.read_text()
    page = Page(text)
    assert verdict.verdict == "pass"
    assert 'data-verdict="pass"' in text and "Pipeline verdict: PASS" in text
    assert page.stage_rows == ["unit", "service", "multinode", "performance", "chaos"]
    for fact in ("feature", "2026-12-02T06:00:00+00:00", "321.5 s", "1234", "20261202"):
        assert fact in text
    assert "12.0 s / 300 s" in text and "75.0 s / 60 s" in text  # time against budget; over budget marked
    assert 'class="time over"' in text


def test_every_internal_link_has_its_target_and_every_file_link_exists(failing):
    _, path = failing
    page = Page(path.read_text())
    assert len(page.ids) == len(set(page.ids)), "ids are unique"
    anchors = [h for h in page.hrefs if h.startswith("#")]
    assert anchors and all(h[1:] in page.ids for h in anchors), set(anchors) - {f"#{i}" for i in page.ids}
    files = [h for h in page.hrefs + page.srcs if not h.startswith("#")]
    assert "cluster/run-test_split/n1.log" in files and "performance/steady/steady.png" in files
    assert all((path.parent / f).exists() for f in files)


def test_self_contained_no_external_resources(failing):
    _, path = failing
    text = path.read_text()
    page = Page(text)
    assert not [u for u in page.hrefs + page.srcs if "://" in u or u.startswith("//")]
    assert "link" not in page.tags and "@import" not in text and "url(" not in text


def test_everything_from_reports_is_escaped(failing):
    _, path = failing
    text = path.read_text()
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in text
    assert text.count("<script>") == 1  # the page's own self-check, nothing else


def test_failing_run_shows_failures_first_with_checker_excerpt_and_replay(failing):
    verdict, path = failing
    text = path.read_text()
    page = Page(text)
    assert verdict.verdict == "fail" and 'data-verdict="fail"' in text
    assert page.ids.index("failures") < page.ids.index("stages")
    failures = text[text.index('id="failures"') : text.index('id="stages"')]
    assert html.e(INJECTED) in failures and "tests.test_inject::test_no_failure_injected_into_this_stage" in failures
    assert "linearizable: INVALID" in failures and "+13.0ms c2 read k1 -&gt; &#x27;b&#x27; ok" in failures
    assert "python -m pipeline.checker reports/history/test_split.jsonl" in failures
    assert "PIPELINE_SEED=987654 python -m nox -s multinode -- -k test_split" in failures
    assert 'href="#mn-test_split"' in failures


def test_passing_run_puts_stages_before_an_empty_failures_section(passing):
    _, path = passing
    page = Page(path.read_text())
    assert page.ids.index("stages") < page.ids.index("failures")
    assert "No test failed" in path.read_text()


def test_multinode_tests_show_seed_size_faults_timeline_operations_checks_logs(failing):
    _, path = failing
    text = path.read_text()
    section = text[text.index('id="mn-test_split"') :]
    section = section[: section.index("</article>")]
    assert "seed <b>987654</b>" in section
    assert "<b>41</b> ok / <b>7</b> fail / <b>2</b> unknown" in section
    assert "3 nodes, 2 faults" in section
    assert "<svg" in section and "#1 partition" in section and "healed by #2" in section
    assert 'href="cluster/run-test_split/n2.log"' in section
    assert ">INVALID<" in section and ">valid<" in section


def test_performance_shows_plots_per_operation_tables_and_pattern_thresholds(passing):
    _, path = passing
    text = path.read_text()
    assert '<img src="performance/steady/steady.png"' in text
    assert "place_bid" in text and "498.5" in text and "achieved_ops" in text
    assert 'href="#pattern-steady">performance / steady</a>' in text


def test_chaos_is_not_run_until_it_leaves_results_then_shows_them(tmp_path):
    verdict, meta, reports = build_run(tmp_path)
    text = html.render(verdict, meta, reports)
    chaos = text[text.index('id="stage-chaos"') :]
    assert "not run" in chaos[:400] and "skipped by the feature policy" in chaos[:400]
    scenario = reports / "chaos" / "leader_flap"
    scenario.mkdir(parents=True)
    (scenario / "timeline.png").write_bytes(png())
    (scenario / "result.json").write_text(
        json.dumps({"verdict": "pass", "seed": 77, "checks": [{"threshold": "recovery_s < 10", "measured": 4.2}]})
    )
    text = html.render(verdict, meta, reports)
    assert '<img src="chaos/leader_flap/timeline.png"' in text
    assert "chaos / leader_flap" in text and "recovery_s &lt; 10" in text and ">77<" in text


def test_a_run_with_nothing_but_a_verdict_renders(tmp_path):
    verdict, meta, reports = build_run(tmp_path, performance=False)
    for folder in ("multinode",):
        for f in (reports / folder).glob("*"):
            f.unlink()
    text = html.render(verdict, {}, reports)
    assert "No per-test records" in text and "No pattern results" in text


def test_invoke_gate_writes_the_page(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "unit.xml").write_text(junit("unit", '<testcase classname="t" name="t1"/>', 1))
    (tmp_path / "pipeline.toml").write_text(
        '[pipeline]\nreports = "reports"\nnoxfile = "noxfile.py"\n[stages.unit]\n'
        '[policies.feature]\nrequired = ["unit"]\noptional = []\nskip = []\n'
    )
    out = _Out()
    code = runner.gate(runner.Options(config=str(tmp_path / "pipeline.toml")), out)
    page = tmp_path / "reports" / "index.html"
    assert code == 0 and page.is_file(), out.text
    assert "reports/index.html" in out.text
    assert Page(page.read_text()).stage_rows == ["unit"]


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


def test_multinode_record_and_closing_table(tmp_path):
    """What the multinode conftest writes per test, and the line per test ``nox -s multinode`` ends with."""
    from types import SimpleNamespace

    from pipeline.checker.history import History
    from pipeline.faults.log import FaultLog
    from pipeline.testing import multinode_record as records

    reports = tmp_path / "reports"
    (reports / "cluster" / "r1").mkdir(parents=True)
    (reports / "cluster" / "r1" / "n1.log").write_text("log\n")
    log = FaultLog(origin=1000.0)
    cut = log.new("partition", "n1 | n2 n3", seed=5)
    cut.started_at, cut.verified_at, cut.verification = 1002.0, 1002.5, "exchange failed"
    cut.ended_at, cut.end_note = 1006.0, "healed by #2"
    heal = log.new("heal", "all links", seed=6)
    heal.started_at = heal.ended_at = 1006.0
    handle = SimpleNamespace(
        run_id="r1",
        names=["n1", "n2", "n3"],
        seed=42,
        run_dir=reports / "cluster" / "r1",
        faults=SimpleNamespace(log=log),
        provider=SimpleNamespace(log_path=lambda name: reports / "cluster" / "r1" / f"{name}.log"),
    )
    history = History()
    history.record("c1", "write", "k", 1, status="ok")
    history.record("c1", "write", "k", 2, status="unknown")
    history.record("c2", "read", "k", status="fail")
    check = SimpleNamespace(results=[SimpleNamespace(checker="linearizable", verdict="valid", explanation="")])
    path = records.write(
        reports,
        "test_x[3]",
        test="suites/multinode/test_a.py::test_x[3]",
        outcome="passed",
        seed=42,
        clusters=[handle],
        history=history,
        check_reports=[check],
        duration_s=1.25,
    )
    assert path == reports / "multinode" / "test_x_3.json"
    (data,) = records.load_all(reports)
    assert data["operations"] == {"ok": 1, "fail": 1, "unknown": 1}
    (cluster,) = data["clusters"]
    assert cluster["size"] == 3 and cluster["nodes"][0] == {"name": "n1", "log": "cluster/r1/n1.log"}
    assert cluster["faults"][0]["start_s"] == 2.0 and cluster["faults"][0]["end_s"] == 6.0
    assert data["replay"] == ["PIPELINE_SEED=42 python -m nox -s multinode -- -k test_x"]
    ((line, ok),) = records.closing_lines([data])
    expected = "PASSED test_x[3] 3 nodes faults 1 (partition) ops 1 ok / 1 fail / 1 unknown checks linearizable=valid"
    assert ok and line.split() == f"{expected} seed=42".split()


def test_a_stage_the_policy_skipped_shows_no_failures_from_an_old_report(tmp_path):
    _, meta, reports = build_run(tmp_path)
    old = '<testcase classname="chaos" name="old"><failure message="from an earlier run">x</failure></testcase>'
    (reports / "chaos.xml").write_text(junit("chaos", old, 1, 1))
    chaos = Stage("chaos", "chaos", reports / "chaos.xml", 1800.0)
    skipped = assess(chaos, "skip", StageRun("chaos", SKIPPED), read_report(chaos.report), POLICY)
    verdict = judge((skipped,))
    text = html.render(verdict, meta, reports)
    assert "from an earlier run" not in text and "No test failed" in text


def test_multinode_shows_the_records_its_junit_names_not_older_ones(tmp_path):
    _, meta, reports = build_run(tmp_path)
    record(reports, "test_left_from_an_older_run", "failed", 5)
    prop = '<properties><property name="pipeline.multinode.record" value="multinode/test_ring_ok.json"/></properties>'
    case = f'<testcase classname="suites.multinode.test_ring" name="test_ring_ok" time="5">{prop}</testcase>'
    (reports / "multinode.xml").write_text(junit("multinode", case, 1))
    stage = Stage("multinode", "multinode", reports / "multinode.xml", 1200.0)
    run = StageRun("multinode", COMPLETED, exit_code=0, elapsed_s=5.0)
    verdict = judge((assess(stage, "required", run, read_report(stage.report), POLICY),))
    text = html.render(verdict, meta, reports)
    assert 'id="mn-test_ring_ok"' in text and "test_left_from_an_older_run" not in text
