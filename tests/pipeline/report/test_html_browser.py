"""The HTML report rendered in a real browser (headless Chromium, pipeline.report.browser).

Chromium's ``--dump-dom`` returns the DOM after ``load``; the page's own script
has then written what it found into ``<pre id="selfcheck">``: the verdict, the
stage rows, every image with its natural width, every ``#`` link with whether
its target exists.  A screenshot is kept beside each page (``index.png``).

Skipped, saying why, when no Chromium is installed (``.ci/run`` installs
Debian's ``chromium``).
"""

from __future__ import annotations

import struct

import pytest

from pipeline.report import browser, html
from tests.pipeline.report.test_html import INJECTED, build_run

pytestmark = pytest.mark.skipif(
    browser.find_chromium() is None,
    reason="no Chromium installed (apt-get install -y chromium, or set $CHROMIUM): the browser test cannot run",
)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_passing_page_renders_verdict_stages_images_and_links(tmp_path):
    verdict, meta, reports = build_run(tmp_path)
    page = html.write(verdict, meta, reports)
    result = browser.check_page(page)
    assert result.ok, result.problems
    assert result.verdict == "pass" and "Pipeline verdict: PASS" in result.text
    assert result.stages == len(verdict.assessments) == 5
    assert result.images and all(i["ok"] and i["width"] > 0 for i in result.images), result.images
    assert {i["src"] for i in result.images} == {"performance/steady/steady.png"}
    assert len(result.links) > 10 and all(a["ok"] for a in result.links)
    assert "cluster/run-test_ring_ok/n1.log" in result.files
    shot = browser.screenshot(page, page.with_suffix(".png"))
    assert shot == reports / "index.png"
    assert png_size(shot.read_bytes()) == (1280, 2000)


def test_failing_page_shows_the_failure_first(tmp_path):
    verdict, meta, reports = build_run(tmp_path, failing=True)
    page = html.write(verdict, meta, reports)
    result = browser.check_page(page)
    assert result.ok, result.problems
    assert result.verdict == "fail" and "Pipeline verdict: FAIL" in result.text
    assert INJECTED in result.text and "linearizable: INVALID" in result.text
    # rendered order: the failures come before the stage table
    assert result.text.index(INJECTED) < result.text.index("time / budget")
    browser.screenshot(page, page.with_suffix(".png"))
    assert (reports / "index.png").stat().st_size > 0


def test_a_missing_image_and_a_dangling_link_are_found(tmp_path):
    verdict, meta, reports = build_run(tmp_path)
    page = html.write(verdict, meta, reports)
    (reports / "performance" / "steady" / "steady.png").write_bytes(b"not a png")
    page.write_text(page.read_text().replace('href="#stages"', 'href="#nowhere"', 1))
    (reports / "cluster" / "run-test_ring_ok" / "n1.log").unlink()
    result = browser.check_page(page)
    assert not result.ok
    assert "image not loaded: performance/steady/steady.png" in result.problems
    assert "link to a missing anchor: #nowhere" in result.problems
    assert "link to a missing file: cluster/run-test_ring_ok/n1.log" in result.problems
