"""Toxiproxy for the pipeline: an embedded Toxiproxy-2.x-compatible server, a
per-instance client, and a locator that picks which Toxiproxy a run talks to.

Why embedded: CI machines here have no Docker and no ``toxiproxy-server``
binary, yet the fault layer must speak Toxiproxy's HTTP API so the same code
runs against a real Toxiproxy whenever one is available.

Public API (what ``pipeline/cluster/links.py`` and ``pipeline/faults/network.py`` call)::

    from pipeline.toxiproxy import locate, ToxiproxyClient, ProxyExists, NotFound

    with locate() as tp:                 # TOXIPROXY_URL > toxiproxy-server on PATH > embedded
        tp.kind                          # "external" | "binary" | "embedded"
        tp.url                           # "http://127.0.0.1:PORT"
        c = tp.client()                  # ToxiproxyClient(tp.url, timeout=5.0)
        p = c.create_proxy("n1_to_n2", upstream="127.0.0.1:9001")   # listen defaults to 127.0.0.1:0
        p.listen, p.port                 # the real address the server bound
        c.add_toxic("n1_to_n2", "latency", stream="downstream", latency=100, jitter=10)
        c.update_toxic("n1_to_n2", "latency_downstream", latency=5)  # PATCH; live connections too
        c.remove_toxic("n1_to_n2", "latency_downstream")
        c.disable("n1_to_n2"); c.enable("n1_to_n2")   # disable closes live connections
        c.add_toxic("n1_to_n2", "timeout", timeout=0) # partition: blackhole; removing it closes
                                                      # the connections it blackholed
        c.reset()                        # re-enable all proxies, remove all toxics
        c.populate([{"name": ..., "listen": ..., "upstream": ...}])
        c.delete_proxy("n1_to_n2"); c.version()

    ToxiproxyClient(url="http://127.0.0.1:8474", timeout=5.0)
        .version() -> str
        .proxies() -> dict[str, ProxyInfo]
        .create_proxy(name, upstream, listen="127.0.0.1:0", enabled=True) -> ProxyInfo   # ProxyExists
        .get_proxy(name) -> ProxyInfo                                                    # NotFound
        .update_proxy(name, *, listen=None, upstream=None, enabled=None) -> ProxyInfo
        .enable(name) / .disable(name) -> ProxyInfo
        .delete_proxy(name) -> None
        .toxics(proxy) -> list[ToxicInfo]
        .get_toxic(proxy, toxic) -> ToxicInfo
        .add_toxic(proxy, type, *, stream="downstream", name=None, toxicity=1.0, **attributes)
              -> ToxicInfo                                                   # ToxicExists
        .update_toxic(proxy, toxic, *, toxicity=None, **attributes) -> ToxicInfo   # partial
        .remove_toxic(proxy, toxic) -> None
        .reset() -> None
        .populate(list_of_proxy_dicts) -> list[ProxyInfo]
    ProxyInfo(name, listen, upstream, enabled, toxics: tuple[ToxicInfo, ...]); .host, .port
    ToxicInfo(name, type, stream, toxicity, attributes: dict)
    Errors: ToxiproxyError(.message, .status, .field)
              > Conflict (409) > ProxyExists, ToxicExists
              > NotFound (404), BadRequest (400; .field e.g. "attributes.latency")
              > ToxiproxyUnavailable (refused / timed out / TOXIPROXY_URL dead)

    locate(*, url=None, embedded="subprocess"|"thread", seed=None, startup_timeout=15.0,
           env=None, log_path=None) -> ToxiproxyHandle
    ToxiproxyHandle: .url .kind .host .port .seed .pid .client(timeout=5.0) .close(); context manager
                     (close() stops only what locate started; also registered with atexit)

    EmbeddedToxiproxy(host="127.0.0.1", port=0, seed=None)    # in-process server
        .start() -> self (own event loop in a daemon thread)  .stop()  .url  .seed
        await .start_async() / await .stop_async()            (inside a running loop)
    spawn_embedded(host="127.0.0.1", port=0, seed=None) -> EmbeddedProcess(.url, .seed, .pid, .stop())
    Command line: python -m pipeline.toxiproxy --host 127.0.0.1 --port 8474 [--seed N] [--config F]
    Test helpers: pipeline.toxiproxy.testing (EchoServer, wait_for, recv_exact, closed_by_peer)

Toxics (Toxiproxy 2.x units): latency(latency, jitter ms), bandwidth(rate KB/s,
1 KB = 1000 B; 0 holds data), slow_close(delay ms), timeout(timeout ms; 0 =
blackhole until removed), reset_peer(timeout ms, RST on first data),
slicer(average_size, size_variation bytes, delay µs), limit_data(bytes), noop.
Toxicity is rolled per connection and direction from the seeded RNG, and again
on every update of the toxic (Toxiproxy restarts a toxic when it is updated).

Interchangeable with a real Toxiproxy 2.x wherever a client can tell: bodies
are read as its Go decoder reads them (``gojson``), a FIN from either side
closes both sockets (no half-close), toxics list upstream first.  Deliberate
differences, each refusing or containing something that would hurt users on
the real server: names with ``/`` (or ``.``/``..``) are refused, a negative
bandwidth rate and a slicer average_size < 1 are refused, an empty listen
host binds 127.0.0.1 rather than every interface, bodies over 64 MiB get a
JSON 413, and a refused PATCH changes nothing.
"""

from .client import (
    BadRequest,
    Conflict,
    NotFound,
    ProxyExists,
    ProxyInfo,
    ToxicExists,
    ToxicInfo,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyUnavailable,
)
from .embedded import EmbeddedProcess, EmbeddedToxiproxy, spawn_embedded
from .locate import ToxiproxyHandle, locate

__all__ = [
    "BadRequest",
    "Conflict",
    "EmbeddedProcess",
    "EmbeddedToxiproxy",
    "NotFound",
    "ProxyExists",
    "ProxyInfo",
    "ToxicExists",
    "ToxicInfo",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyHandle",
    "ToxiproxyUnavailable",
    "locate",
    "spawn_embedded",
]
