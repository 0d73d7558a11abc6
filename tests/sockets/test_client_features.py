"""Issue 14: content codings, cookies, auth, response helpers, friendly errors (greenhttp's server)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from typing import Any
from urllib.parse import parse_qs

import brotli
import pytest
import zstandard

import greenhttp
from greenhttp.client.auth import Auth

# ~1.3 MB that compresses only ~2:1 (hex digests), so every coding sends many chunks.
PAYLOAD = b"".join(b"%d %s\n" % (i, hashlib.sha256(b"%d" % i).hexdigest().encode()) for i in range(20000))
CODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def coded_app(environ: dict, start_response: Any) -> Any:
    """/CODING?n=BYTES answers PAYLOAD (or n bytes of zeros) in that coding, in 8 KiB chunks."""
    coding = environ["PATH_INFO"].strip("/")
    query = parse_qs(environ["QUERY_STRING"])
    raw = b"\0" * int(query["n"][0]) if "n" in query else PAYLOAD
    data = CODERS[coding](raw) if coding in CODERS else raw
    headers = [("Content-Type", "text/plain"),
               ("X-Accept-Encoding", environ.get("HTTP_ACCEPT_ENCODING", ""))]
    if coding in CODERS:
        headers.append(("Content-Encoding", coding))
    start_response("200 OK", headers)  # no Content-Length: chunked, read as it streams
    return (data[i:i + 8192] for i in range(0, len(data), 8192))


@pytest.mark.parametrize("coding", sorted(CODERS))
def test_content_codings_are_decoded_as_the_body_streams(serve, pool, coding):
    with serve(coded_app) as server:
        response = greenhttp.get(f"{server.url}/{coding}", pool=pool)
        assert response.headers["x-accept-encoding"] == "gzip, deflate, br, zstd"
        assert response.content == PAYLOAD
        with greenhttp.get(f"{server.url}/{coding}", pool=pool, stream=True) as streamed:
            pieces = list(streamed.iter_bytes())
        assert len(pieces) > 1 and b"".join(pieces) == PAYLOAD


def test_decode_content_false_hands_over_the_bytes_as_sent(serve, pool):
    with serve(coded_app) as server:
        response = greenhttp.get(f"{server.url}/gzip", pool=pool, decode_content=False)
        assert response.headers["x-accept-encoding"] == ""  # raw mode asks for no coding
        assert gzip.decompress(response.content) == PAYLOAD


def test_a_decompression_bomb_is_refused(serve, pool):
    with serve(coded_app) as server:
        with pytest.raises(greenhttp.DecodeError, match="decompression bomb"):
            greenhttp.get(f"{server.url}/zstd?n={512 * 1024 * 1024}", pool=pool)
        # gzip cannot pass ~1032:1: a large run of zeros decodes fine, piece by piece.
        with greenhttp.get(f"{server.url}/gzip?n={64 * 1024 * 1024}", pool=pool, stream=True) as r:
            assert max(len(p) for p in r.iter_bytes()) <= 1024 * 1024


def test_json_nan_is_refused_before_sending(serve, pool):
    with pytest.raises(greenhttp.UsageError, match="JSON"):
        greenhttp.post("http://127.0.0.1:9/", json={"x": float("nan")}, pool=pool)


def cookie_app(environ: dict, start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/set":
        start_response("302 Found", [("Set-Cookie", "a=1; Path=/"), ("Location", "/show")])
        return [b""]
    body = json.dumps({"cookie": environ.get("HTTP_COOKIE", "")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_module_level_redirect_chain_keeps_its_cookies_and_cookies_argument(serve, pool):
    with serve(cookie_app) as server:
        assert greenhttp.get(server.url + "/set", pool=pool).json() == {"cookie": "a=1"}
        # ... but only within the call: the next module-level call starts empty.
        assert greenhttp.get(server.url + "/show", pool=pool).json() == {"cookie": ""}
        assert greenhttp.get(server.url + "/show", pool=pool, cookies={"b": "2"}).json() == {"cookie": "b=2"}
        with greenhttp.Client(pool=pool, cookies={"s": "x"}) as client:
            assert client.get(server.url + "/set").json() == {"cookie": "s=x; a=1"}
            assert client.get(server.url + "/show", cookies={"c": "3"}).json() == {"cookie": "s=x; c=3; a=1"}


def auth_app(environ: dict, start_response: Any) -> list[bytes]:
    given = environ.get("HTTP_AUTHORIZATION", "")
    if given not in ("Basic dTpw", "Bearer fresh"):
        start_response("401 Unauthorized", [("WWW-Authenticate", 'Bearer realm="x"')])
        return [b"no"]
    start_response("200 OK", [])
    return [given.encode()]


def test_basic_auth_and_an_auth_flow_object(serve, pool):
    class Refreshing(Auth):
        def __init__(self) -> None:
            self.token = "stale"

        def auth_flow(self, request):
            request.headers["Authorization"] = f"Bearer {self.token}"
            response = yield request
            if response.status == 401:
                self.token = "fresh"
                request.headers["Authorization"] = f"Bearer {self.token}"
                yield request

    with serve(auth_app) as server:
        assert greenhttp.get(server.url, auth=("u", "p"), pool=pool).text == "Basic dTpw"
        response = greenhttp.get(server.url, auth=Refreshing(), pool=pool)
        assert response.status == 200 and response.text == "Bearer fresh"
        assert response.request.headers["authorization"] == "Bearer fresh"
        signed = greenhttp.get(server.url, pool=pool,
                               auth=lambda r: (r.headers.__setitem__("Authorization", "Bearer fresh"), r)[1])
        assert signed.status == 200
        with pytest.raises(greenhttp.UsageError, match="auth="):
            greenhttp.get(server.url, auth=42, pool=pool)


def test_netrc_is_used_when_no_auth_is_given(serve, pool, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login u password p\n")
    os.chmod(netrc, 0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with serve(auth_app) as server:
        assert greenhttp.get(server.url, pool=pool).text == "Basic dTpw"
        with greenhttp.Client(pool=pool, trust_env=False) as client:
            assert client.get(server.url).status == 401


def lines_app(environ: dict, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Link", '<http://x/?page=2>; rel="next", <http://x/?page=9>; rel=last')])
    return iter([b"one\r\ntw", b"o\n", "thr\u00e9".encode()[:4], "thr\u00e9".encode()[4:] + b"e\r", b"\nfour"])


def test_response_helpers(serve, pool):
    with serve(lines_app) as server:
        seen: list[tuple[int, Any]] = []
        with greenhttp.get(server.url + "/x", pool=pool, stream=True,
                           download_progress=lambda got, total: seen.append((got, total))) as response:
            assert list(response.iter_lines()) == ["one", "two", "thr\u00e9e", "four"]
        assert seen and seen[-1][0] == len("one\r\ntwo\nthr\u00e9e\r\nfour".encode())
        assert response.links["next"]["url"] == "http://x/?page=2"
        assert response.links["last"]["url"] == "http://x/?page=9"
        assert response.request.method == "GET" and response.request.url == server.url + "/x"
        assert 0 < response.elapsed.total_seconds() < 5
        response = greenhttp.get(server.url, pool=pool)
        assert [len(p) for p in response.iter_bytes(5)][:3] == [5, 5, 5]


def test_requests_habits_get_the_greenhttp_name(serve, pool):
    with pytest.raises(greenhttp.UsageError, match="form="):
        greenhttp.post("http://127.0.0.1:9/", data={"a": 1})
    with pytest.raises(greenhttp.UsageError, match="follow_redirects="):
        greenhttp.get("http://127.0.0.1:9/", allow_redirects=False)
    with serve(lines_app) as server:
        response = greenhttp.get(server.url, pool=pool)
        with pytest.raises(AttributeError, match="status"):
            response.status_code
