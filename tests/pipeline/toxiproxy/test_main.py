"""``python -m pipeline.toxiproxy`` with bad input: one line naming the option or file, no traceback."""

from __future__ import annotations

import json
import socket

import pytest

from pipeline.toxiproxy.__main__ import main


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_port_out_of_range_is_a_usage_error(capsys, port):
    err = _usage_error(capsys, ["--port", port])
    assert f"--port: {port} is out of range; allowed: 0 (pick a free one) to 65535" in err


def test_unknown_log_level_names_the_allowed_ones(capsys):
    err = _usage_error(capsys, ["--port", "0", "--log-level", "bogus"])
    assert "--log-level" in err and "DEBUG" in err and "WARNING" in err


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read {path}: No such file or directory"),
        ("", "{path} is not valid JSON"),
        ("{garbage", "{path} is not valid JSON"),
    ],
)
def test_unreadable_config_file_is_a_usage_error(capsys, tmp_path, content, message):
    path = tmp_path / "proxies.json"
    if content is not None:
        path.write_text(content)
    err = _usage_error(capsys, ["--port", "0", "--config", str(path)])
    assert "--config: " + message.format(path=path) in err


@pytest.mark.parametrize(
    "body, message",
    [
        ({"a": 1}, "must be a JSON array of proxies"),
        ([{"name": "x"}], "missing required field: upstream at proxy 1"),
    ],
)
def test_config_with_wrong_content_exits_2_naming_the_file_and_field(capsys, tmp_path, body, message):
    path = tmp_path / "proxies.json"
    path.write_text(json.dumps(body))
    assert main(["--port", "0", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"error: --config {path}: " in captured.err and message in captured.err
    assert "Traceback" not in captured.err and "API on" not in captured.out


def test_port_in_use_exits_1_naming_the_address(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot listen on 127.0.0.1:{port}:" in err and "Address already in use" in err


def test_config_proxy_that_cannot_bind_exits_1_naming_the_file(capsys, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "proxies.json"
        path.write_text(json.dumps([{"name": "a", "listen": f"127.0.0.1:{port}", "upstream": "127.0.0.1:1"}]))
        assert main(["--port", "0", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"error: --config {path}: listen tcp 127.0.0.1:{port}: bind:" in err
