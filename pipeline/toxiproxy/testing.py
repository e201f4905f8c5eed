"""Helpers for tests that push real bytes through a proxy.

Kept in the package (not a conftest) so any test suite -- this one, the link
and fault layers' -- can use the same echo server and deadline waits.
Everything binds 127.0.0.1 on ports the kernel picks.
"""

from __future__ import annotations

import socket
import threading
import time


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.005, message: str = "condition"):
    """Poll ``predicate`` until truthy (returned) or ``timeout`` (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def recv_exact(sock: socket.socket, n: int, timeout: float = 10.0) -> bytes:
    """Read exactly ``n`` bytes or fail (EOF or ``timeout``)."""
    sock.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_until_eof(sock: socket.socket, timeout: float = 10.0) -> tuple[bytes, int]:
    """Read until EOF; returns (data, number of recv calls that returned data)."""
    sock.settimeout(timeout)
    buf, reads = bytearray(), 0
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return bytes(buf), reads
        buf += chunk
        reads += 1


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> str:
    """Wait until the peer ends the connection: "eof" or "reset"; AssertionError otherwise."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return "eof"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        raise AssertionError(f"connection still open after {timeout}s") from None


class EchoServer:
    """Threaded TCP echo server that counts what it received and sent.

    ``close_after_reply=True`` closes each connection after echoing its first
    chunk (to observe how a close travels back through the proxy).
    """

    def __init__(self, close_after_reply: bool = False) -> None:
        self.close_after_reply = close_after_reply
        self.received = 0
        self.sent = 0
        self.accepted = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.port = self._sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._stopped = False
        t = threading.Thread(target=self._accept_loop, name="echo-accept", daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                if self._stopped:
                    conn.close()
                    return
                self.accepted += 1
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    break
                with self._lock:
                    self.received += len(data)
                conn.sendall(data)
                with self._lock:
                    self.sent += len(data)
                if self.close_after_reply:
                    break
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            conns = list(self._conns)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class ReplyOnEofServer:
    """Threaded TCP server that reads each connection to EOF, then sends ``reply``.

    What a request/half-close protocol does (``nc -N``, an HTTP/1.0 client
    that shuts down its side): through Toxiproxy the reply is lost, because
    the proxy closes both sockets when the client's FIN arrives.  ``requests``
    holds what each connection delivered before its EOF, in order.
    """

    def __init__(self, reply: bytes = b"reply") -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        t = threading.Thread(target=self._accept_loop, name="reply-on-eof-accept", daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        try:
            conn.settimeout(30)
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
            with self._lock:
                self.requests.append(bytes(buf))
            conn.sendall(self.reply)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> ReplyOnEofServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
