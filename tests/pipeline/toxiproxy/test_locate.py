"""locate(): TOXIPROXY_URL, then toxiproxy-server on PATH, then the embedded server."""

from __future__ import annotations

import os
import socket
import stat
import sys

import pytest

from pipeline.toxiproxy import (
    EmbeddedToxiproxy,
    ToxiproxyClient,
    ToxiproxyUnavailable,
    locate,
    spawn_embedded,
)
from pipeline.toxiproxy.testing import EchoServer, connect, recv_exact, wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists"; it is gone for our purposes once reaped
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _works(handle) -> None:
    c = handle.client()
    assert c.version().startswith("2.")
    with EchoServer() as echo:
        port = c.create_proxy("loc", echo.address).port
        with connect(port) as s:
            s.sendall(b"through")
            assert recv_exact(s, 7) == b"through"
        c.delete_proxy("loc")


@pytest.fixture
def bare_env(tmp_path):
    """An environment with no TOXIPROXY_URL and a PATH without toxiproxy-server."""
    empty = tmp_path / "emptybin"
    empty.mkdir()
    return {"PATH": str(empty)}


def test_env_url_is_used_as_external(bare_env):
    with EmbeddedToxiproxy() as running:
        env = dict(bare_env, TOXIPROXY_URL=running.url.removeprefix("http://"))
        with locate(env=env) as tp:
            assert tp.kind == "external"
            assert tp.url == running.url
            _works(tp)
        # close() on an external handle must not stop someone else's server
        assert tp.client().version().startswith("2.")


def test_env_url_that_does_not_answer_is_a_clear_error(bare_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    env = dict(bare_env, TOXIPROXY_URL=f"http://127.0.0.1:{dead}")
    with pytest.raises(ToxiproxyUnavailable, match="TOXIPROXY_URL"):
        locate(env=env, startup_timeout=2)


def test_binary_on_path_is_started_and_stopped(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    args_file = tmp_path / "args"
    fake = bindir / "toxiproxy-server"
    # Stands in for the real binary: records its flags, then becomes our server.
    fake.write_text(f'#!/bin/sh\necho "$@" > "{args_file}"\nexec "{sys.executable}" -m pipeline.toxiproxy "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with locate(env={"PATH": str(bindir)}, seed=5) as tp:
        assert tp.kind == "binary"
        args = args_file.read_text().split()
        assert args[:2] == ["-host", "127.0.0.1"] and args[2] == "-port"
        assert tp.url == f"http://127.0.0.1:{args[3]}"
        assert args[4:] == ["-seed", "5"]
        _works(tp)
        pid = tp.pid
        assert _alive(pid)
    wait_for(lambda: not _alive(pid), message="binary stopped by close()")


def test_binary_that_never_answers_fails_cleanly(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "toxiproxy-server"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToxiproxyUnavailable, match="exit code 3"):
        locate(env={"PATH": str(bindir)}, startup_timeout=5)


def test_embedded_subprocess_by_default(bare_env):
    with locate(env=bare_env, seed=11) as tp:
        assert tp.kind == "embedded"
        assert tp.seed == 11
        assert tp.pid is not None and tp.pid != os.getpid() and _alive(tp.pid)
        _works(tp)
        pid = tp.pid
    wait_for(lambda: not _alive(pid), message="embedded child stopped by close()")


def test_embedded_thread_mode(bare_env):
    with locate(env=bare_env, embedded="thread") as tp:
        assert tp.kind == "embedded" and tp.pid is None
        _works(tp)
        url = tp.url
    with pytest.raises(ToxiproxyUnavailable):  # close() stopped the in-process server
        ToxiproxyClient(url, timeout=1).version()


def test_embedded_child_exits_when_parent_goes_away():
    child = spawn_embedded(seed=3)
    assert child.seed == 3
    child.proc.stdin.close()  # what the OS does when the parent dies
    wait_for(lambda: child.proc.poll() is not None, timeout=10, message="child exit on stdin EOF")
    assert child.proc.returncode == 0
