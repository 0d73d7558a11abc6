"""The pure parts of greenhttp.static: ranges, preconditions, types, codings, path checks.
No server, no socket."""

import os
import subprocess
import sys
import time

import pytest

from greenhttp.static.conditional import evaluate, if_range_holds, make_etag, parse_http_date
from greenhttp.static.mimetypes import accepted_codings, content_type
from greenhttp.static.paths import Refused, request_segments
from greenhttp.static.ranges import UNSATISFIABLE, coalesce, parse_range, plan_ranges

SIZE = 10_000


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-99", [(0, 100)]),
    ("bytes=9900-", [(9900, 10000)]),                 # open range
    ("bytes=-100", [(9900, 10000)]),                  # suffix range
    ("bytes=-99999", [(0, 10000)]),                   # suffix longer than the file: all of it
    ("bytes=9990-20000", [(9990, 10000)]),            # last-pos past the end is clipped
    ("BYTES = 0-0", [(0, 1)]),                        # unit is case-insensitive
    ("bytes=0-0, ,5000-5000", [(0, 1), (5000, 5001)]),  # empty list elements ignored
    ("bytes=10000-", UNSATISFIABLE),
    ("bytes=-0", UNSATISFIABLE),
    ("bytes=20000-30000,10001-", UNSATISFIABLE),
    ("bytes=10000-,0-1", [(0, 2)]),                   # unsatisfiable members dropped
    ("items=0-1", None), ("bytes=1-0", None), ("bytes=a-b", None), ("bytes=", None),
    ("bytes=--1", None), ("0-1", None), ("bytes=0-1-2", None), ("bytes=١-٢", None),  # non-ASCII digits
])
def test_parse_range(header, expected):
    assert parse_range(header, SIZE) == expected


def test_overlapping_and_adjacent_ranges_coalesce():
    assert coalesce([(500, 600), (0, 100), (50, 200), (610, 700)]) == [(0, 200), (500, 700)]
    assert plan_ranges("bytes=0-499,100-199,200-299", SIZE) == [(0, 500)]


def test_ranges_never_cost_more_than_the_whole_file():
    # 2,000 one-byte ranges 5 bytes apart: coalesced into one (gap < MERGE_GAP), never
    # 2,000 parts; too many ranges or parts costing more than the file: plain 200.
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 10000, 5))
    assert plan_ranges(many, SIZE) is None  # > MAX_RANGES
    spread = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 10000, 100))  # 100 one-byte parts
    assert plan_ranges(spread, SIZE) is None  # 100 parts x ~120 bytes of part headers > 10,000
    assert plan_ranges("bytes=0-0,-1", SIZE) == [(0, 1), (9999, 10000)]
    assert plan_ranges("bytes=0-0", 0) is None  # empty file: the whole (empty) thing


ETAG = make_etag(1, 2, 3)
MTIME = 1_700_000_000
OLD = "Tue, 14 Nov 2023 22:13:19 GMT"    # MTIME - 1
EXACT = "Tue, 14 Nov 2023 22:13:20 GMT"  # MTIME
NEW = "Tue, 14 Nov 2023 22:13:21 GMT"


def test_etag_shape_and_http_dates():
    assert ETAG == '"1-2-3"' and make_etag(1, 2, 3, "br") == '"1-2-3-br"'
    assert parse_http_date(EXACT) == MTIME
    assert parse_http_date("Tuesday, 14-Nov-23 22:13:20 GMT") == MTIME  # RFC 850 form
    assert parse_http_date("yesterday") is None


@pytest.mark.parametrize("headers, expected", [
    ({}, None),
    ({"if-none-match": ETAG}, 304),
    ({"if-none-match": "W/" + ETAG}, 304),            # weak comparison for If-None-Match
    ({"if-none-match": '"other", ' + ETAG}, 304),
    ({"if-none-match": "*"}, 304),
    ({"if-none-match": '"other"'}, None),
    ({"if-modified-since": EXACT}, 304),
    ({"if-modified-since": OLD}, None),
    ({"if-modified-since": "garbage"}, None),         # invalid date: ignored
    ({"if-match": ETAG}, None),
    ({"if-match": "*"}, None),
    ({"if-match": '"other"'}, 412),
    ({"if-match": "W/" + ETAG}, 412),                 # strong comparison for If-Match
    ({"if-unmodified-since": OLD}, 412),
    ({"if-unmodified-since": EXACT}, None),
    # §13.2.2 order: step 1 (If-Match) before step 3 (If-None-Match) ...
    ({"if-match": '"other"', "if-none-match": ETAG}, 412),
    # ... If-Match present means If-Unmodified-Since is not evaluated (step 2) ...
    ({"if-match": ETAG, "if-unmodified-since": OLD}, None),
    # ... and If-None-Match present means If-Modified-Since is not (step 4).
    ({"if-none-match": '"other"', "if-modified-since": NEW}, None),
])
def test_preconditions_in_rfc_9110_order(headers, expected):
    assert evaluate("GET", headers, ETAG, MTIME) == expected


def test_if_range():
    assert if_range_holds(ETAG, ETAG, MTIME)
    assert not if_range_holds('"other"', ETAG, MTIME)
    assert not if_range_holds("W/" + ETAG, ETAG, MTIME)  # weak never matches
    assert if_range_holds(EXACT, ETAG, MTIME)
    assert not if_range_holds(NEW, ETAG, MTIME)             # only an exact date matches
    assert not if_range_holds("garbage", ETAG, MTIME)


@pytest.mark.parametrize("name, expected", [
    ("a.mjs", "text/javascript; charset=utf-8"), ("a.js", "text/javascript; charset=utf-8"),
    ("a.wasm", "application/wasm"), ("a.webp", "image/webp"), ("a.avif", "image/avif"),
    ("a.woff2", "font/woff2"), ("a.css", "text/css; charset=utf-8"),
    ("a.HTML", "text/html; charset=utf-8"), ("a.json", "application/json; charset=utf-8"),
    ("a.svg", "image/svg+xml; charset=utf-8"), ("a.png", "image/png"),
    ("noext", "application/octet-stream"), ("a.unknownext", "application/octet-stream"),
])
def test_content_type(name, expected):
    assert content_type(name) == expected


@pytest.mark.parametrize("header, expected", [
    (None, []), ("", []),
    ("gzip, deflate, br, zstd", ["br", "zstd", "gzip"]),      # ties: server order
    ("gzip;q=1, br;q=0.5", ["gzip", "br"]),                   # client q-values first
    ("br;q=0, gzip", ["gzip"]),                               # q=0: not acceptable
    ("*", ["br", "zstd", "gzip"]), ("*;q=0.1, gzip;q=0", ["br", "zstd"]),
    ("x-gzip", ["gzip"]), ("gzip;q=abc", []), ("identity", []),
])
def test_accepted_codings(header, expected):
    assert accepted_codings(header) == expected


@pytest.mark.parametrize("path_info, raw", [
    ("/../etc/passwd", None), ("/a/../../b", None), ("/./a", None), ("/a\\..\\b", None),
    ("/a\x00.txt", None), ("/.git/config", None), ("/%2e%2e/x", None), ("/a%2F..%2Fb", None),
    ("/\xc0\xae\xc0\xae/x", None),   # overlong UTF-8 "..": not strict UTF-8
    ("/\xff", None), ("/a\x01b", None),
    ("/a/b", "/a%2fb"), ("/a\\b", "/a%5Cb"), ("/a", "/a%00"),
])
def test_request_segments_refuse(path_info, raw):
    with pytest.raises(Refused):
        request_segments(path_info, raw)


def test_request_segments_accept():
    assert request_segments("//a//b/", "//a//b/") == ["a", "b"]
    assert request_segments("/caf\xc3\xa9/x y") == ["café", "x y"]  # UTF-8 bytes as latin-1
    assert request_segments("/.well-known/x", allow_hidden=True) == [".well-known", "x"]
    assert request_segments("/100%/x", "/100%25/x") == ["100%", "x"]


def test_pure_modules_import_neither_socket_nor_gevent():
    code = ("import sys; import greenhttp.static.ranges, greenhttp.static.conditional, "
            "greenhttp.static.mimetypes, greenhttp.static.paths, greenhttp.static.listing, "
            "greenhttp.static.cache; "
            "print(sorted(m for m in ('socket', 'gevent', 'ssl') if m in sys.modules))")
    # Import the modules by file so greenhttp/__init__ (which does use gevent) stays out.
    loader = ("import importlib.util, sys, types, pathlib; root = pathlib.Path('greenhttp/static');"
              "pkg = types.ModuleType('greenhttp'); pkg.__path__ = ['greenhttp']; sys.modules['greenhttp'] = pkg;"
              "sub = types.ModuleType('greenhttp.static'); sub.__path__ = [str(root)];"
              "sys.modules['greenhttp.static'] = sub;")
    out = subprocess.run([sys.executable, "-c", loader + code], capture_output=True, text=True,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_http_date_forms():
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777
    assert parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT") is None
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 +0100") is None


def test_file_cache_is_bounded_by_entries_and_bytes(tmp_path):
    from greenhttp.static.cache import FileCache, Rep, Resource

    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    st = os.stat(path)

    def resource(body):
        return Resource({None: Rep(str(path), st, '"e"', None, "text/plain", [], [], body)}, time.monotonic())

    by_bytes = FileCache(max_entries=100, max_bytes=2500)
    for i in range(5):
        by_bytes.put(f"/{i}", resource(b"x" * 1000))
    assert len(by_bytes) == 2 and by_bytes.bytes == 2000
    assert by_bytes.get("/0") is None and by_bytes.get("/4") is not None  # least recent went
    by_bytes.put("/huge", resource(b"x" * 3000))  # larger than the whole budget: not kept
    assert by_bytes.get("/huge") is None and by_bytes.bytes == 2000
    by_entries = FileCache(max_entries=3)
    for i in range(10):
        by_entries.put(f"/{i}", resource(None))
    assert len(by_entries) == 3 and by_entries.get("/9") is not None and by_entries.get("/6") is None
    never = FileCache(valid=0)
    never.put("/a", resource(b"x"))
    assert len(never) == 0
    stale = FileCache(valid=0.01)
    stale.put("/a", resource(b"x"))
    time.sleep(0.02)
    assert stale.get("/a") is None and stale.bytes == 0
