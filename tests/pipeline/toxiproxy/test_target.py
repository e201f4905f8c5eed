"""The suite's choice of server: embedded by default, ``TOXIPROXY_URL`` when set (``conftest.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.toxiproxy import EmbeddedToxiproxy

from .conftest import external_url

ROOT = Path(__file__).resolve().parents[3]


def test_target_follows_toxiproxy_url(target):
    url = external_url()
    if url is not None:
        assert target.kind == "external" and target.embedded is None and target.url == url
    else:
        assert target.kind == "embedded" and target.embedded is not None and target.url == target.embedded.url
    assert target.client().version().startswith("2.")


def test_with_toxiproxy_url_the_tests_run_there_and_embedded_only_ones_skip(tmp_path):
    """Point TOXIPROXY_URL at a server of our own and run a slice of the suite against it."""
    with EmbeddedToxiproxy() as outside:
        env = dict(os.environ, TOXIPROXY_URL=outside.url.removeprefix("http://"))
        tests = Path(__file__).parent
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-rs",
                "-p",
                "no:cacheprovider",
                f"--junitxml={tmp_path / 'junit.xml'}",
                f"{tests / 'test_target.py'}::test_target_follows_toxiproxy_url",
                f"{tests / 'test_api.py'}::test_create_proxy_201_shape_and_real_port",
                f"{tests / 'test_api.py'}::test_names_that_no_url_can_reach_are_refused",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "2 passed, 4 skipped" in out, out
        assert f"TOXIPROXY_URL={outside.url}: embedded only: Toxiproxy accepts names with '/'" in out
        assert outside.server.proxies == {}  # what the tests made there, they deleted
