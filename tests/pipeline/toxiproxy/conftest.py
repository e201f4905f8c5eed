"""Which Toxiproxy the tests in this folder talk to: embedded, or ``TOXIPROXY_URL``.

By default each module starts its own embedded server.  With ``TOXIPROXY_URL``
set (a Toxiproxy 2.x on this machine, e.g. ``toxiproxy-server -port 8474``),
every test that drives the API or pushes bytes runs against that server
instead, so one suite checks that the two are interchangeable.  The echo
servers and the proxies' listen addresses are on 127.0.0.1, hence "on this
machine".

Tests marked ``embedded_only("why")`` read the embedded server's internals or
start embedded servers of their own to compare them; they are skipped against
``TOXIPROXY_URL`` with that reason.  Each test deletes the proxies it created
and leaves the server's other proxies alone (``/reset`` tests do reset every
proxy on it: point ``TOXIPROXY_URL`` at a server kept for tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from pipeline.toxiproxy import EmbeddedToxiproxy, ToxiproxyClient

ENV_URL = "TOXIPROXY_URL"


def external_url() -> str | None:
    url = os.environ.get(ENV_URL, "").strip()
    if not url:
        return None
    return (url if "://" in url else "http://" + url).rstrip("/")


@dataclass
class Target:
    """The server under test: its API ``url``; ``embedded`` is None when it is ``TOXIPROXY_URL``."""

    url: str
    embedded: EmbeddedToxiproxy | None

    @property
    def kind(self) -> str:
        return "embedded" if self.embedded is not None else "external"

    def client(self, timeout: float = 5.0) -> ToxiproxyClient:
        return ToxiproxyClient(self.url, timeout=timeout)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "embedded_only(reason): needs the embedded Toxiproxy; skipped when TOXIPROXY_URL is set"
    )


def pytest_collection_modifyitems(config, items) -> None:
    url = external_url()
    if url is None:
        return
    for item in items:
        marker = item.get_closest_marker("embedded_only")
        if marker is not None:
            why = marker.args[0] if marker.args else "needs the embedded server"
            item.add_marker(pytest.mark.skip(reason=f"{ENV_URL}={url}: embedded only: {why}"))


@pytest.fixture(scope="module")
def target(request):
    """The Toxiproxy under test for this module (``SEED`` in the module seeds an embedded one)."""
    url = external_url()
    if url is not None:
        try:
            version = ToxiproxyClient(url, timeout=5).version()
        except Exception as exc:  # noqa: BLE001 - say which server is meant, then stop
            pytest.fail(f"{ENV_URL}={url} does not answer GET /version: {exc}", pytrace=False)
        if not version.startswith("2."):
            pytest.fail(f"{ENV_URL}={url} is Toxiproxy {version}; these tests are for 2.x", pytrace=False)
        yield Target(url, None)
        return
    server = EmbeddedToxiproxy(seed=getattr(request.module, "SEED", None)).start()
    try:
        yield Target(server.url, server)
    finally:
        server.stop()


@pytest.fixture
def fresh(target):
    """Per test: the names of proxies that existed before it; whatever it created is deleted after."""
    client = target.client()
    before = set(client.proxies())
    yield before
    for name in set(client.proxies()) - before:
        try:
            client.delete_proxy(name)
        except Exception:  # noqa: BLE001 - gone meanwhile, or stuck: nothing more to do
            pass
