"""Open the HTML report in headless Chromium: what it rendered, and a screenshot.

Chromium is run as a plain command (Debian's ``chromium``; ``$CHROMIUM`` names
another binary), with a throw-away profile, no network services and no sandbox
(CI containers run as root).  ``--dump-dom`` returns the DOM after the page's
``load`` event, when the page's own script (:mod:`pipeline.report.html`) has
written what it found into ``<pre id="selfcheck">``: the verdict, the number of
stage rows, every image (loaded, natural width) and every ``#`` link (target
present).  Relative links to files are checked here, on disk.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["find_chromium", "dump_dom", "screenshot", "check_page", "PageCheck", "BrowserError"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 90.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserError(RuntimeError):
    """Chromium is absent, failed or did not finish in time."""


def find_chromium() -> str | None:
    """The Chromium binary: ``$CHROMIUM`` if set, else the first of :data:`CANDIDATES` on PATH."""
    chosen = os.environ.get("CHROMIUM")
    if chosen:
        return shutil.which(chosen) or (chosen if Path(chosen).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(page: Path, *args: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    binary = find_chromium()
    if binary is None:
        raise BrowserError(f"no Chromium found (tried $CHROMIUM, {', '.join(CANDIDATES)})")
    with tempfile.TemporaryDirectory(prefix="pipeline-chromium-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(f"chromium did not finish within {timeout:g} s: {' '.join(command)}") from exc
    if done.returncode != 0:
        raise BrowserError(f"chromium exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


def dump_dom(page: Path) -> str:
    """The page's DOM as Chromium serialises it after ``load`` (scripts have run)."""
    return _run(page, "--dump-dom", "--virtual-time-budget=10000").stdout


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2000) -> Path:
    """A PNG of the page's first ``width`` x ``height`` pixels."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(page, f"--screenshot={png.resolve()}", f"--window-size={width},{height}", "--virtual-time-budget=10000")
    if not png.is_file() or png.stat().st_size == 0:
        raise BrowserError(f"chromium wrote no screenshot at {png}")
    return png


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))


@dataclass
class PageCheck:
    """What the browser rendered, and what is wrong with it (``problems`` empty: all good)."""

    verdict: str = ""
    stages: int = 0
    images: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # relative links to files, each found on disk
    text: str = ""  # the rendered DOM's text, tags stripped
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_page(page: Path) -> PageCheck:
    """Render ``page`` in Chromium and check it: the self-check ran, every image
    loaded with a natural width above 0, every ``#`` link resolves, every relative
    file link exists beside the page."""
    dom = dump_dom(page)
    found = re.search(r'<pre id="selfcheck" data-done="(\w+)"[^>]*>(.*?)</pre>', dom, re.S)
    result = PageCheck()
    if found is None or found.group(1) != "true":
        result.problems.append("the page's self-check did not run (no <pre id=selfcheck data-done=true>)")
        return result
    data = json.loads(html.unescape(found.group(2)))
    result.verdict = str(data.get("verdict", ""))
    result.stages = int(data.get("stages", 0))
    result.images = list(data.get("images", []))
    result.links = list(data.get("links", []))
    result.text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)))
    result.problems += [f"image not loaded: {i.get('src')}" for i in result.images if not i.get("ok")]
    result.problems += [f"link to a missing anchor: {a.get('href')}" for a in result.links if not a.get("ok")]
    parser = _Links()
    parser.feed(dom)
    for href in parser.hrefs:
        parts = urlsplit(href)
        if href.startswith("#") or parts.scheme or parts.netloc:
            if parts.scheme not in ("", "file") and not href.startswith("#"):
                result.problems.append(f"external link on a self-contained page: {href}")
            continue
        target = page.parent / unquote(parts.path)
        if target.exists():
            result.files.append(href)
        else:
            result.problems.append(f"link to a missing file: {href}")
    return result
