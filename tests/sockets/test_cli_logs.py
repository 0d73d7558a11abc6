"""Log settings of the serving command, end to end: --access-logfile, --error-logfile,
--log-level, --access-log-format, --log-config (json and ini), USR1 reopening, and the
one-line hints for gunicorn flags greenhttp does not take."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import time

from cli_runner import CLI, start, write_app
from conftest import raw_exchange

APP = textwrap.dedent('''
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
''')
GET = b"GET /x?y=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def request(server) -> bytes:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return raw_exchange((host, int(port)), GET)


def wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_access_and_error_logfiles_level_and_gunicorn_format(tmp_path):
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--access-logfile", str(access),
                   "--error-logfile", str(errors), "--log-level", "debug",
                   "--access-log-format", '%(h)s "%(r)s" %(s)s %(b)s %(m)s %(U)s %(q)s')
    try:
        assert request(server).endswith(b"ok")
        wait_for(lambda: access.exists() and access.read_text())
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert access.read_text() == '127.0.0.1 "GET /x?y=1 HTTP/1.1" 200 2 GET /x y=1\n'
    lines = errors.read_text().splitlines()
    # gunicorn's error line: [time] [pid] [LEVEL] message; debug lines only at --log-level debug.
    assert all(re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] ", line)
               for line in lines), lines
    assert any("[DEBUG]" in line for line in lines) and any("[INFO]" in line for line in lines)
    assert "GET /x" not in err  # nothing went to stderr instead


def test_log_level_warning_drops_info_lines(tmp_path):
    errors = tmp_path / "error.log"
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--error-logfile", str(errors),
                   "--log-level", "warning", "--no-access-log")
    try:
        assert request(server).endswith(b"ok")
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert "[INFO]" not in errors.read_text() and "[DEBUG]" not in errors.read_text()


def test_bad_log_level_is_one_line(tmp_path):
    result = subprocess.run([*CLI, write_app(tmp_path, APP), "--log-level", "loud"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "must be debug, info, warning, error or critical" in result.stderr


def _config_files(tmp_path, access):
    as_json = tmp_path / "log.json"
    as_json.write_text(json.dumps({
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"tagged": {"format": "JSON %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(access),
                              "formatter": "tagged"}},
        "loggers": {"greenhttp.access": {"handlers": ["file"], "level": "INFO",
                                         "propagate": False}},
    }))
    as_ini = tmp_path / "log.ini"
    as_ini.write_text(textwrap.dedent(f'''
        [loggers]
        keys=root,access
        [handlers]
        keys=file
        [formatters]
        keys=tagged
        [logger_root]
        handlers=
        [logger_access]
        qualname=greenhttp.access
        handlers=file
        level=INFO
        propagate=0
        [handler_file]
        class=FileHandler
        args=({str(access)!r},)
        formatter=tagged
        [formatter_tagged]
        format=INI %(message)s
    '''))
    return {"json": as_json, "ini": as_ini}


def test_log_config_json_and_ini(tmp_path):
    for kind in ("json", "ini"):
        access = tmp_path / f"{kind}-access.log"
        config = _config_files(tmp_path, access)[kind]
        server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--log-config", str(config))
        try:
            assert request(server).endswith(b"ok")
            wait_for(lambda: access.exists() and access.read_text())
        finally:
            code, err = server.stop()
        assert code == 0, err
        [line] = access.read_text().splitlines()
        assert line.startswith(f"{kind.upper()} 127.0.0.1:") and '"GET /x?y=1 HTTP/1.1" 200 2' in line


def test_bad_log_config_is_one_line(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    result = subprocess.run([*CLI, write_app(tmp_path, APP), "--log-config",
                             str(tmp_path / "broken.json")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("greenhttp: error: --log-config ")


def test_usr1_reopens_log_files_after_rotation(tmp_path):
    access = tmp_path / "access.log"
    rotated = tmp_path / "access.log.1"
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "-w", "2",
                   "--access-logfile", str(access))
    try:
        server.wait_workers(2)
        request(server)
        wait_for(lambda: access.read_text().count("\n") == 1)
        os.rename(access, rotated)  # what logrotate does, before it signals
        request(server)  # still written to the renamed file: the handler holds it open
        wait_for(lambda: rotated.read_text().count("\n") == 2)
        server.proc.send_signal(signal.SIGUSR1)
        wait_for(access.exists)  # the master reopened; give the workers their turn too
        time.sleep(0.5)
        for _ in range(4):  # both workers: each takes some of the connections
            request(server)
        wait_for(lambda: access.read_text().count("\n") == 4)
    finally:
        code, err = server.stop()
    assert code == 0, err
    assert rotated.read_text().count("\n") == 2 and access.read_text().count("\n") == 4


def test_gunicorn_flags_get_one_line_hints(tmp_path):
    app = write_app(tmp_path, APP)
    for flags, hint in [
        (["--worker-class", "gevent"], "--worker-class: greenhttp always uses gevent greenlets; drop the flag"),
        (["-k", "gevent"], "-k: greenhttp always uses gevent greenlets; drop the flag"),
        (["--keep-alive", "5"], "--keep-alive: use --keepalive-timeout SECONDS"),
        (["--limit-request-line", "4094"], "--limit-request-line: use --max-request-line BYTES"),
        (["--preload"], "--preload: workers import the app after fork so HUP re-imports it"),
    ]:
        result = subprocess.run([*CLI, app, *flags], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("greenhttp: error: unrecognized arguments: ") and hint in line, line
