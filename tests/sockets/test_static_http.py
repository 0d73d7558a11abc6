"""greenhttp.static.Files over real sockets: methods, types, ranges, preconditions,
precompressed siblings, directories, mounts. curl is the client where it has an opinion
(ranges, compression); requests or raw bytes elsewhere."""

import email.parser
import gzip
import json
import os
import subprocess
import time

import pytest
import requests

from conftest import raw_exchange
from greenhttp.static import Files, mount

BIG = bytes(range(256)) * 400  # 102,400 bytes, every offset recognisable


@pytest.fixture
def root(tmp_path):
    (tmp_path / "big.bin").write_bytes(BIG)
    (tmp_path / "hello.txt").write_bytes(b"hello, world\n")
    for name in ("a.mjs", "a.wasm", "a.webp", "a.avif", "a.woff2", "a.css"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "app.js").write_bytes(b"console.log('plain');\n" * 50)
    (tmp_path / "app.js.gz").write_bytes(gzip.compress((tmp_path / "app.js").read_bytes()))
    (tmp_path / "app.js.br").write_bytes(b"pretend-brotli-bytes")
    (tmp_path / "only.css").write_bytes(b"body{}")
    (tmp_path / "only.css.zst").write_bytes(b"pretend-zstd")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_bytes(b"<h1>site</h1>\n")
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "b.txt").write_bytes(b"bb")
    (tmp_path / "list" / "A.txt").write_bytes(b"a")
    (tmp_path / "list" / "<script>&.txt").write_bytes(b"x")
    (tmp_path / "list" / "zdir").mkdir()
    (tmp_path / "empty").write_bytes(b"")
    return tmp_path


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=20)


def head_and_body(output: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = output.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    headers[":status"] = lines[0].split()[1]
    return headers, body


# -- methods, types, HEAD ------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_405_with_allow(serve, root, method):
    with serve(Files(str(root))) as server:
        r = requests.request(method, server.url + "/hello.txt")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


def test_get_and_head(serve, root):
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/hello.txt")
        h = requests.head(server.url + "/hello.txt")
    assert r.status_code == 200 and r.content == b"hello, world\n"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Accept-Ranges"] == "bytes"
    etag = r.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    mtime = int(os.stat(root / "hello.txt").st_mtime)
    assert r.headers["Last-Modified"] == time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(mtime))
    assert h.status_code == 200 and h.content == b""
    assert h.headers["Content-Length"] == "13" and h.headers["ETag"] == etag


@pytest.mark.parametrize("name, ctype", [
    ("a.mjs", "text/javascript; charset=utf-8"), ("a.wasm", "application/wasm"),
    ("a.webp", "image/webp"), ("a.avif", "image/avif"), ("a.woff2", "font/woff2"),
    ("a.css", "text/css; charset=utf-8"), ("big.bin", "application/octet-stream"),
])
def test_content_types(serve, root, name, ctype):
    with serve(Files(str(root))) as server:
        assert requests.head(server.url + "/" + name).headers["Content-Type"] == ctype


def test_etag_changes_when_the_file_changes(serve, root):
    with serve(Files(str(root), cache_valid=0)) as server:
        first = requests.head(server.url + "/hello.txt").headers["ETag"]
        (root / "hello.txt").write_bytes(b"hello, there\n")  # same size, new mtime_ns
        second = requests.head(server.url + "/hello.txt").headers["ETag"]
        os.replace(root / "a.css", root / "hello.txt")
        third = requests.head(server.url + "/hello.txt").headers["ETag"]
    assert len({first, second, third}) == 3


# -- ranges (RFC 9110 §14) ------------------------------------------------------------------

@pytest.mark.parametrize("spec, start, end", [
    ("0-99", 0, 100), ("1000-", 1000, len(BIG)), ("-10", len(BIG) - 10, len(BIG)),
    ("102000-999999", 102000, len(BIG)),
])
def test_single_range_with_curl(serve, root, spec, start, end):
    with serve(Files(str(root))) as server:
        out = curl("-i", "-r", spec, server.url + "/big.bin")
    headers, body = head_and_body(out.stdout)
    assert headers[":status"] == "206"
    assert headers["content-range"] == f"bytes {start}-{end - 1}/{len(BIG)}"
    assert body == BIG[start:end]


def test_multipart_byteranges(serve, root):
    with serve(Files(str(root))) as server:
        out = curl("-i", "-r", "0-99,50000-50099,-5", server.url + "/big.bin")
    headers, body = head_and_body(out.stdout)
    assert headers[":status"] == "206"
    assert headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(headers["content-length"]) == len(body)
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + headers["content-type"].encode() + b"\r\n\r\n" + body)
    parts = [(p["Content-Range"], p.get_payload(decode=True)) for p in message.get_payload()]
    n = len(BIG)
    assert parts == [(f"bytes 0-99/{n}", BIG[:100]), (f"bytes 50000-50099/{n}", BIG[50000:50100]),
                     (f"bytes {n - 5}-{n - 1}/{n}", BIG[-5:])]
    assert all(p.get_content_type() == "application/octet-stream" for p in message.get_payload())


def test_overlapping_ranges_coalesce_into_one(serve, root):
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/big.bin", headers={"Range": "bytes=0-999,500-1499,1400-1999"})
    assert r.status_code == 206 and r.headers["Content-Range"] == f"bytes 0-1999/{len(BIG)}"
    assert r.content == BIG[:2000]


def test_many_ranges_never_amplify(serve, root):
    # Apache Killer shape: many overlapping ranges. The answer is never bigger than the file.
    spec = "bytes=" + ",".join(f"{i}-{i + 50000}" for i in range(0, 99))
    too_many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, len(BIG), 1000))  # 103 > MAX_RANGES
    many_small = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, len(BIG), 1100))  # 94 parts
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/big.bin", headers={"Range": spec})
        r2 = requests.get(server.url + "/big.bin", headers={"Range": too_many})
        r3 = requests.get(server.url + "/big.bin", headers={"Range": many_small})
    assert r.status_code == 206 and len(r.content) == 50099
    assert r2.status_code == 200 and r2.content == BIG
    assert r3.status_code == 206 and r3.content.count(b"Content-Range") == 94
    assert len(r3.content) < len(BIG) / 5


def test_unsatisfiable_416(serve, root):
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/big.bin", headers={"Range": f"bytes={len(BIG)}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(BIG)}"


@pytest.mark.parametrize("header", ["bytes=5-1", "lines=0-1", "bytes=x"])
def test_invalid_range_ignored(serve, root, header):
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/big.bin", headers={"Range": header})
    assert r.status_code == 200 and r.content == BIG


def test_head_ignores_range_and_empty_file(serve, root):
    with serve(Files(str(root))) as server:
        h = requests.head(server.url + "/big.bin", headers={"Range": "bytes=0-1"})
        e = requests.get(server.url + "/empty", headers={"Range": "bytes=0-1"})
    assert h.status_code == 200 and h.headers["Content-Length"] == str(len(BIG))
    assert e.status_code == 200 and e.content == b""


def test_if_range(serve, root):
    with serve(Files(str(root))) as server:
        url = server.url + "/big.bin"
        meta = requests.head(url).headers
        same = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": meta["ETag"]})
        other = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"nope"'})
        date = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": meta["Last-Modified"]})
        old = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert same.status_code == 206 and same.content == BIG[:10]
    assert other.status_code == 200 and other.content == BIG
    assert date.status_code == 206
    assert old.status_code == 200


# -- preconditions (RFC 9110 §13) ---------------------------------------------------------

def test_conditional_requests(serve, root):
    with serve(Files(str(root), cache_control="public, max-age=31536000, immutable")) as server:
        url = server.url + "/hello.txt"
        meta = requests.get(url).headers
        etag, lm = meta["ETag"], meta["Last-Modified"]
        inm = requests.get(url, headers={"If-None-Match": etag})
        ims = requests.get(url, headers={"If-Modified-Since": lm})
        inm_miss_ims_hit = requests.get(url, headers={"If-None-Match": '"x"', "If-Modified-Since": lm})
        im_fail = requests.get(url, headers={"If-Match": '"x"'})
        im_ok = requests.get(url, headers={"If-Match": etag})
        ius_fail = requests.get(url, headers={"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
        order = requests.get(url, headers={"If-Match": '"x"', "If-None-Match": etag})
    assert meta["Cache-Control"] == "public, max-age=31536000, immutable"
    assert inm.status_code == 304 and inm.content == b"" and inm.headers["ETag"] == etag
    assert inm.headers["Cache-Control"] == meta["Cache-Control"] and "Content-Type" not in inm.headers
    assert ims.status_code == 304
    assert inm_miss_ims_hit.status_code == 200  # If-None-Match present: If-Modified-Since ignored
    assert im_fail.status_code == 412 and im_ok.status_code == 200
    assert ius_fail.status_code == 412
    assert order.status_code == 412  # If-Match is step 1, If-None-Match step 3


# -- precompressed siblings ----------------------------------------------------------------

def test_gzip_sibling_with_curl_compressed(serve, root):
    with serve(Files(str(root))) as server:
        out = curl("-D", "-", "-o", "-", "-H", "Accept-Encoding: gzip", "--compressed", server.url + "/app.js")
    headers, body = head_and_body(out.stdout)
    assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert body == (root / "app.js").read_bytes()  # curl decoded it


def test_precompressed_negotiation(serve, root):
    with serve(Files(str(root))) as server:
        url = server.url + "/app.js"

        def get(ae, **kw):
            return requests.get(url, headers={"Accept-Encoding": ae, **kw}, stream=True)

        br = get("gzip, br")
        gz = get("gzip;q=1, br;q=0.5")
        none = get("br;q=0, gzip;q=0")
        plain = requests.get(url, headers={"Accept-Encoding": "identity"})
        zst_only = get("zstd", ).raw.read()
        only = requests.get(server.url + "/only.css", headers={"Accept-Encoding": "zstd"}, stream=True)
        br_range = get("br", Range="bytes=0-6")
        br_304 = get("br", **{"If-None-Match": br.headers["ETag"]})
        # stream=True: the answer is the pretend .br file, which requests would try to decode
        plain_304 = requests.get(url, headers={"Accept-Encoding": "br",
                                                "If-None-Match": plain.headers["ETag"]}, stream=True)
    assert br.headers["Content-Encoding"] == "br" and br.raw.read() == b"pretend-brotli-bytes"
    assert gz.headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in none.headers and none.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain.headers and plain.content == (root / "app.js").read_bytes()
    assert zst_only == (root / "app.js").read_bytes()  # no app.js.zst: identity
    assert only.headers["Content-Encoding"] == "zstd" and only.raw.read() == b"pretend-zstd"
    assert br.headers["ETag"] != plain.headers["ETag"] != gz.headers["ETag"]
    assert br_range.status_code == 206 and br_range.raw.read() == b"pretend"
    assert br_range.headers["Content-Range"] == "bytes 0-6/20"
    assert br_304.status_code == 304 and plain_304.status_code == 200


# -- directories ---------------------------------------------------------------------------

def test_index_and_trailing_slash_redirect(serve, root):
    with serve(Files(str(root))) as server:
        r = requests.get(server.url + "/site?x=1", allow_redirects=False)
        index = requests.get(server.url + "/site/")
        no_listing = requests.get(server.url + "/list/")
    assert r.status_code == 301 and r.headers["Location"] == "/site/?x=1"
    assert index.content == b"<h1>site</h1>\n" and index.headers["Content-Type"].startswith("text/html")
    assert no_listing.status_code == 404


def test_listing_html_escaped_sorted(serve, root):
    with serve(Files(str(root), listings=True)) as server:
        r = requests.get(server.url + "/list/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    text = r.text
    assert "<script>" not in text and "&lt;script&gt;&amp;.txt" in text
    assert 'href="%3Cscript%3E%26.txt"' in text
    order = [text.index(n) for n in ("zdir/", "&lt;script", "A.txt", "b.txt")]
    assert order == sorted(order)  # directories first, then by name, case-folded
    assert 'href="../"' in text


def test_listing_json(serve, root):
    with serve(Files(str(root), listings=True)) as server:
        r = requests.get(server.url + "/list/", headers={"Accept": "application/json"})
    assert r.headers["Content-Type"] == "application/json" and r.headers["Vary"] == "Accept"
    doc = r.json()
    assert doc["path"] == "/list/" and doc["truncated"] is False
    assert [(e["name"], e["type"], e["size"]) for e in doc["entries"]] == [
        ("zdir", "directory", None), ("<script>&.txt", "file", 1), ("A.txt", "file", 1), ("b.txt", "file", 2)]


# -- mounting beside an app ----------------------------------------------------------------

def _app(environ, start_response):
    body = json.dumps([environ["SCRIPT_NAME"], environ["PATH_INFO"]]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_mount_beside_app(serve, root):
    app = mount({"/static": Files(str(root)), "/static/site": Files(str(root / "site"))}, _app)
    with serve(app) as server:
        file = requests.get(server.url + "/static/hello.txt")
        nested = requests.get(server.url + "/static/site/index.html")
        other = requests.get(server.url + "/staticx/hello.txt")
        redirect = requests.get(server.url + "/static", allow_redirects=False)
        sub = requests.get(server.url + "/static/site", allow_redirects=False)
    assert file.content == b"hello, world\n"
    assert nested.content == b"<h1>site</h1>\n"
    assert other.json() == ["", "/staticx/hello.txt"]  # not a prefix match: the app's
    assert redirect.status_code == 301 and redirect.headers["Location"] == "/static/"
    assert sub.headers["Location"] == "/static/site/"


def test_mount_without_fallback_404(serve, root):
    with serve(mount({"/s": Files(str(root))})) as server:
        assert requests.get(server.url + "/elsewhere").status_code == 404
        assert requests.get(server.url + "/s/hello.txt").status_code == 200


def test_raw_head_has_no_body(serve, root):
    with serve(Files(str(root))) as server:
        response = raw_exchange(server.address, b"HEAD /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert response.endswith(b"\r\n\r\n") and b"Content-Length: 102400" in response


def test_vary_whenever_a_sibling_exists(serve, root):
    # RFC 9110 §12.5.5: the answer for /app.js depends on Accept-Encoding even when this
    # request sent none, so a shared cache must be told; a file without siblings cannot vary.
    def get(server, head):
        return raw_exchange(server.address, head + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    with serve(Files(str(root))) as server:
        bare = get(server, b"GET /app.js")
        head = get(server, b"HEAD /only.css")
        lone = raw_exchange(server.address, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n"
                                            b"Accept-Encoding: gzip, br\r\nConnection: close\r\n\r\n")
    assert b"\r\nVary: Accept-Encoding\r\n" in bare and b"Content-Encoding" not in bare
    assert b"\r\nVary: Accept-Encoding\r\n" in head
    assert b"Vary" not in lone
    with serve(Files(str(root), precompressed=False)) as server:
        assert b"Vary" not in get(server, b"GET /app.js")
