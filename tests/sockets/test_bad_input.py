"""Every row of docs/bad-input.md, sent over a real socket to a running server.

The rows live in the doc, not here: this module parses the doc's table (the request column is
a Python bytes expression), so the documented behaviour and the tested behaviour are one list.
For each row the client must get exactly one response with the documented status and
`Connection: close`, then end-of-file; the server must log the documented reason, and must
keep serving a keep-alive connection opened before the bad request and a fresh connection
opened after it.
"""

from __future__ import annotations

import ast
import logging
import pathlib
import re
import socket
import time
from dataclasses import dataclass
from typing import Any

import gevent
import pytest

from conftest import read_one_response

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bad-input.md"

# Rows that fail surface within this long: a silent server is a failure, not a hang.
REPLY_TIMEOUT = 2.0


@dataclass(frozen=True)
class Row:
    name: str
    request: bytes
    settings: tuple[tuple[str, int], ...]
    status: int
    logged: str


def _bytes_expression(source: str) -> bytes:
    """Evaluate a bytes expression built only from literals, `+` and `*`."""
    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (bytes, int)):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = value(node.left), value(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"not allowed in a request expression: {ast.dump(node)}")

    result = value(ast.parse(source, mode="eval").body)
    if not isinstance(result, bytes):
        raise ValueError(f"request expression is not bytes: {source}")
    return result


def _table(marker: str) -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}: begin -->\n(.*?)\n<!-- {marker}: end -->", text, re.S)
    assert match, f"docs/bad-input.md has no {marker} table"
    lines = match.group(1).splitlines()
    assert set(lines[1].replace("|", "")) <= set("-: "), "second table line must be the separator"
    rows = []
    for line in lines[2:]:
        assert line.startswith("|") and line.endswith("|"), line
        rows.append([cell.strip() for cell in line[1:-1].split("|")])
    return rows


def load_rows() -> list[Row]:
    rows = []
    for cells in _table("bad-input-rows"):
        assert len(cells) == 5, cells
        name, request, settings, response, logged = cells
        assert request.startswith("`") and request.endswith("`"), request
        parsed_settings: tuple[tuple[str, int], ...] = ()
        if settings != "-":
            pairs = [item.strip().strip("`").split("=") for item in settings.split(",")]
            parsed_settings = tuple((key.strip(), int(val)) for key, val in pairs)
        # Every row promises the same treatment; a row documenting anything else is an error.
        match = re.fullmatch(r"(\d{3}), Connection: close, closed", response)
        assert match, f"{name}: unexpected response cell {response!r}"
        rows.append(Row(name, _bytes_expression(request[1:-1]), parsed_settings,
                        int(match.group(1)), logged))
    return rows


ROWS = load_rows()


def app(environ, start_response):
    # Reads the whole body, like most apps would, so body faults surface while reading.
    environ["wsgi.input"].read()
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@dataclass
class Reply:
    raw: bytes
    ending: str  # "eof", "reset" or "timeout"


def send_raw(address: tuple[str, int], data: bytes) -> Reply:
    """Send ``data`` on a new connection; read until the server closes or REPLY_TIMEOUT."""
    with socket.create_connection(address, timeout=REPLY_TIMEOUT) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed early; the answer is still readable
        chunks = []
        deadline = time.monotonic() + REPLY_TIMEOUT
        ending = "timeout"
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                ending = "reset"
                break
            if not chunk:
                ending = "eof"
                break
            chunks.append(chunk)
        return Reply(b"".join(chunks), ending)


def check_reply(row: Row, reply: Reply) -> None:
    raw = reply.raw
    assert b"\r\n\r\n" in raw, f"{row.name}: no complete response ({reply.ending}): {raw!r}"
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].decode("latin-1")
    assert re.fullmatch(r"HTTP/1\.1 \d{3} .*", status_line), status_line
    fields = [line.decode("latin-1").partition(":") for line in lines[1:]]
    headers = [(name.strip().lower(), value.strip()) for name, _, value in fields]
    assert int(status_line.split()[1]) == row.status, (
        f"{row.name}: expected {row.status}, got {status_line!r}; body {body[:200]!r}")
    assert ("connection", "close") in [(n, v.lower()) for n, v in headers], (
        f"{row.name}: no `Connection: close` in {headers}")
    length = dict(headers).get("content-length")
    assert length is not None and int(length) == len(body), (
        f"{row.name}: exactly one response expected, got body {body!r} for Content-Length {length}")
    assert reply.ending == "eof", f"{row.name}: connection not closed cleanly ({reply.ending})"


def check_logged(row: Row, records: list[logging.LogRecord]) -> None:
    wanted = f"bad request ({row.status}): "
    lines = [r.getMessage() for r in records if r.name == "greenhttp.error"]
    matching = [line for line in lines if wanted in line]
    assert len(matching) == 1, f"{row.name}: expected one `{wanted}...` line, got {lines}"
    assert row.logged in matching[0], f"{row.name}: {row.logged!r} not in {matching[0]!r}"


def get(sock: socket.socket, path: str) -> None:
    """One keep-alive GET on ``sock``; assert it is answered normally."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    status_line, headers, body = read_one_response(sock, timeout=REPLY_TIMEOUT)
    assert status_line == b"HTTP/1.1 200 OK", status_line
    assert body == path.encode()
    assert headers.get("connection") != "close"


def fresh_get(address: tuple[str, int], path: str) -> None:
    with socket.create_connection(address, timeout=REPLY_TIMEOUT) as sock:
        get(sock, path)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_row_gets_its_status_and_a_closed_connection_and_others_are_served(serve, caplog, row):
    caplog.set_level(logging.INFO, logger="greenhttp.error")
    with serve(app, **dict(row.settings)) as server:
        with socket.create_connection(server.address, timeout=REPLY_TIMEOUT) as before:
            get(before, "/before")
            reply = send_raw(server.address, row.request)
            # The server keeps serving everyone else: an older keep-alive connection, a new one.
            get(before, "/before-again")
            fresh_get(server.address, "/after")
        check_reply(row, reply)
        check_logged(row, caplog.records)


def test_all_rows_at_once_while_a_keep_alive_client_is_served(serve):
    """Every row concurrently on one server per settings group, with a steady client alongside."""
    groups: dict[tuple[tuple[str, int], ...], list[Row]] = {}
    for row in ROWS:
        groups.setdefault(row.settings, []).append(row)
    failures = []
    for settings, rows in groups.items():
        with serve(app, **dict(settings)) as server:
            with socket.create_connection(server.address, timeout=REPLY_TIMEOUT) as steady:
                get(steady, "/steady-0")
                jobs = [gevent.spawn(send_raw, server.address, row.request) for row in rows]
                served = 0
                while not all(job.ready() for job in jobs):
                    served += 1
                    get(steady, f"/steady-{served}")
                    gevent.sleep(0.005)
                gevent.joinall(jobs, raise_error=True)
                get(steady, "/steady-last")
            fresh_get(server.address, "/after")
        for row, job in zip(rows, jobs):
            try:
                check_reply(row, job.value)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_doc_table_covers_the_required_inputs():
    statuses = {row.status for row in ROWS}
    assert {400, 413, 414, 417, 431, 501, 505} <= statuses
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names)), "row names must be unique (they are test ids)"
    requests = [row.request for row in ROWS]
    assert len(requests) == len(set(requests)), "two rows send the same bytes"
    text = " ".join(names).lower()
    for required in ["content-length with chunked", "duplicate content-length", "`3, 3`", "`+3`",
                     "chunked not last", "`gzip`", "transfer-encoding on http/1.0", "cr inside",
                     "lf inside", "nul inside", "obs-fold", "whitespace before the colon",
                     "`0x5`", "`+5`", "`-5`", "`6_0`", "overflowing", "not followed by crlf",
                     "duplicate host", "missing host", "`http/2.0`", "unknown method",
                     "max_request_line", "max_header_size", "max_header_count", "max_head_size",
                     "content-length over max_body_size", "chunked body growing past max_body_size",
                     "`expect: something-else`", "request line"]:
        assert required in text, f"docs/bad-input.md lacks a row for {required!r}"


def test_limits_table_matches_the_declared_settings():
    from greenhttp.settings import SETTINGS_BY_NAME

    documented = {cells[0].strip("`"): cells for cells in _table("limits")}
    expected = ["max_request_line", "max_header_size", "max_header_count", "max_head_size",
                "max_body_size", "head_timeout", "keepalive_timeout", "body_timeout", "drain_limit"]
    assert sorted(documented) == sorted(expected)
    for name in expected:
        default = SETTINGS_BY_NAME[name].default
        assert documented[name][1].startswith(f"`{default}`"), (
            f"docs/bad-input.md gives {name} default {documented[name][1]!r}, the code {default!r}")
