"""The client against a foreign server: httpbin under gunicorn (a subprocess on a free port)."""

from __future__ import annotations

import pytest

import greenhttp


@pytest.mark.parametrize("coding", ["gzip", "deflate", "brotli"])
def test_httpbin_content_codings(httpbin, pool, coding):
    answer = greenhttp.get(f"{httpbin}/{coding}", pool=pool).json()
    assert answer.get("gzipped") or answer.get("deflated") or answer.get("brotli")


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_httpbin_digest_auth(httpbin, pool, algorithm):
    auth = greenhttp.DigestAuth("user", "passwd")
    url = f"{httpbin}/digest-auth/auth/user/passwd/{algorithm}"
    response = greenhttp.get(url, auth=auth, pool=pool)
    assert response.status == 200 and response.json() == {"authenticated": True, "user": "user"}
    # The remembered challenge answers the next request at once, with the nonce count up.
    again = greenhttp.get(url, auth=auth, pool=pool)
    assert again.status == 200 and "nc=00000002" in again.request.headers["authorization"]
    wrong = greenhttp.get(url, auth=greenhttp.DigestAuth("user", "nope"), pool=pool)
    assert wrong.status == 401


def test_httpbin_digest_stale_nonce_is_answered_again(httpbin, pool):
    # stale_after=1: the second use of a nonce gets 401 with stale=TRUE.
    auth = greenhttp.DigestAuth("user", "passwd")
    url = f"{httpbin}/digest-auth/auth/user/passwd/MD5/1"
    assert greenhttp.get(url, auth=auth, pool=pool).status == 200
    assert greenhttp.get(url, auth=auth, pool=pool).status == 200


def test_httpbin_cookies_follow_the_redirect_chain(httpbin, pool):
    answer = greenhttp.get(f"{httpbin}/cookies/set?a=1", pool=pool).json()
    assert answer == {"cookies": {"a": "1"}}
    assert greenhttp.get(f"{httpbin}/cookies", pool=pool, cookies={"b": "2"}).json() == {"cookies": {"b": "2"}}


def test_httpbin_basic_auth_links_and_stream_lines(httpbin, pool):
    assert greenhttp.get(f"{httpbin}/basic-auth/u/p", auth=("u", "p"), pool=pool).status == 200
    with greenhttp.get(f"{httpbin}/stream/5", pool=pool, stream=True) as response:
        lines = list(response.iter_lines())
    assert len(lines) == 5 and all(line.startswith("{") for line in lines)
