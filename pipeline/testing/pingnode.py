"""A tiny cluster node for testing the cluster and fault layer itself.

It knows nothing but its peers' addresses, which is exactly what a partition
test needs to observe from the *nodes'* point of view::

    python -m pipeline.testing.pingnode --name n1 --port 41000 --peers n2=127.0.0.1:41001,n3=127.0.0.1:41002

* ``GET /health`` -> ``200 {"status": "ok", "node": "n1"}``
* ``GET /ping``   -> ``200 {"node": "n1"}`` (what peers call)
* ``GET /peers[?timeout=0.3]`` -> tries ``GET /ping`` on every peer through its
  given address, all at once, each with a short timeout, and answers
  ``{"node", "reachable": [...], "unreachable": [...], "peers": {name: {"ok", "ms", "error"?}}}``.
  With link proxies the given addresses are the node's outgoing proxies, so a
  cut link shows up here as an unreachable peer.

Peers come from ``--peers`` or, if absent, ``$CLUSTER_PEERS``.  Standard
library only, so it starts in a few tens of milliseconds.  SIGTERM exits
cleanly (status 0).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def parse_peers(text: str) -> dict[str, tuple[str, int]]:
    """``n2=127.0.0.1:41001,n3=127.0.0.1:41002`` -> {"n2": ("127.0.0.1", 41001), ...}."""
    peers: dict[str, tuple[str, int]] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, addr = item.partition("=")
        host, colon, port = addr.rpartition(":")
        if not sep or not colon or not port.isdigit():
            raise ValueError(f"bad peer {item!r}: expected name=host:port")
        peers[name] = (host, int(port))
    return peers


def ping(address: tuple[str, int], timeout: float) -> dict:
    start = time.monotonic()
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request("GET", "/ping", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        ok = resp.status == 200
        result: dict[str, object] = {"ok": ok, "ms": round((time.monotonic() - start) * 1000, 2)}
        if ok:
            result["answered_by"] = json.loads(body).get("node")
        else:
            result["error"] = f"status {resp.status}"
        return result
    except TimeoutError:
        return {"ok": False, "ms": round((time.monotonic() - start) * 1000, 2), "error": "timeout"}
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return {"ok": False, "ms": round((time.monotonic() - start) * 1000, 2), "error": type(exc).__name__}
    finally:
        conn.close()


class Handler(BaseHTTPRequestHandler):
    server_version = "pingnode/1"
    protocol_version = "HTTP/1.1"
    server: Server  # always: main() builds the Server with this handler

    def log_message(self, fmt: str, *args: object) -> None:  # keep logs short: one line per request
        sys.stderr.write(f"{self.server.node_name} {self.command} {self.path} {args[1] if len(args) > 1 else ''}\n")

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        name = self.server.node_name
        if url.path == "/health":
            self._send(200, {"status": "ok", "node": name})
        elif url.path == "/ping":
            self._send(200, {"node": name})
        elif url.path == "/peers":
            query = parse_qs(url.query)
            try:
                timeout = float(query.get("timeout", ["0.3"])[0])
            except ValueError:
                self._send(400, {"error": "invalid_field", "field": "timeout", "detail": "must be a number"})
                return
            results: dict[str, dict] = {}
            threads = [
                threading.Thread(target=lambda n=n, a=a: results.__setitem__(n, ping(a, timeout)))
                for n, a in self.server.peers.items()
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self._send(
                200,
                {
                    "node": name,
                    "reachable": sorted(n for n, r in results.items() if r["ok"]),
                    "unreachable": sorted(n for n, r in results.items() if not r["ok"]),
                    "peers": results,
                },
            )
        else:
            self._send(404, {"error": "not_found", "detail": f"no route {url.path}"})


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    node_name: str  # set by main() before serving
    peers: dict[str, tuple[str, int]]

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        """A client that hangs up early (a health probe, a cut link) is normal here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.testing.pingnode")
    parser.add_argument("--name", default=os.environ.get("CLUSTER_NODE", "node"))
    parser.add_argument("--host", default=os.environ.get("CLUSTER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", "0")))
    parser.add_argument("--peers", default=None, help="name=host:port,... (default $CLUSTER_PEERS)")
    args = parser.parse_args(argv)
    peers = parse_peers(args.peers if args.peers is not None else os.environ.get("CLUSTER_PEERS", ""))

    server = Server((args.host, args.port), Handler)
    server.node_name = args.name
    server.peers = peers

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    print(
        f"{args.name} listening on {args.host}:{server.server_address[1]} peers={args.peers or ''}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
