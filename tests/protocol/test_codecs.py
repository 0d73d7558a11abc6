"""read_body / respond / negotiate: JSON and msgpack by Content-Type and Accept; 400/406/413/415."""

from __future__ import annotations

import io
import json
import random
import socket

import msgpack
import pytest
import webtest

import greenhttp
from greenhttp import MalformedBody, UnsupportedMediaType
from greenhttp.codecs import JSON, MSGPACK, X_MSGPACK, decode_json, decode_msgpack

from conftest import read_one_response


def environ_for(body: bytes, content_type: str | None, accept: str | None = None, **extra) -> dict:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body))}
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if accept is not None:
        environ["HTTP_ACCEPT"] = accept
    environ.update(extra)
    return environ


# -- negotiate ---------------------------------------------------------------------------

@pytest.mark.parametrize("accept, expected", [
    (None, JSON),
    ("", JSON),
    ("*/*", JSON),
    ("application/*", JSON),
    ("application/json", JSON),
    ("application/msgpack", MSGPACK),
    ("application/x-msgpack", X_MSGPACK),
    ("Application/MsgPack", MSGPACK),
    ("application/json;q=0.5, application/msgpack", MSGPACK),
    ("application/msgpack;q=0.1, */*;q=0.5", JSON),
    ("*/*;q=0.8, application/json;q=0", MSGPACK),  # the specific range beats the wildcard
    ("text/html", None),
    ("text/html, application/xhtml+xml;q=0.9", None),
    ("application/json;q=0", None),
    ("application/json;q=bogus", None),
    ("garbage, application/msgpack", MSGPACK),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),  # a browser
])
def test_negotiate(accept, expected):
    assert greenhttp.negotiate(accept) == expected


# -- read_body -----------------------------------------------------------------------------

@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"a": [1, 2.5, "\xc3\xa9"]}'),
    ("application/json; charset=utf-8", b'{"a": [1, 2.5, "\xc3\xa9"]}'),
    ("application/problem+json", b'{"a": [1, 2.5, "\xc3\xa9"]}'),
    ("application/msgpack", msgpack.packb({"a": [1, 2.5, "é"]})),
    ("application/x-msgpack", msgpack.packb({"a": [1, 2.5, "é"]})),
])
def test_read_body_by_content_type(content_type, body):
    assert greenhttp.read_body(environ_for(body, content_type)) == {"a": [1, 2.5, "é"]}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml",
                                          "multipart/form-data; boundary=x"])
def test_other_content_types_are_415(content_type):
    with pytest.raises(UnsupportedMediaType) as info:
        greenhttp.read_body(environ_for(b"{}", content_type))
    assert info.value.status_hint == 415
    assert "application/json or application/msgpack" in str(info.value)


@pytest.mark.parametrize("content_type, body, message", [
    (JSON, b"", "empty"),
    (JSON, b"{bad", "not valid JSON"),
    (JSON, b'{"a": NaN}', "NaN is not valid JSON"),
    (JSON, b"\xff\xfe\xfa", "not valid JSON"),
    (JSON, b"[" * 100_000, "nested too deeply"),
    (MSGPACK, b"", "empty"),
    (MSGPACK, b"\xc1", "reserved type byte"),
    (MSGPACK, b"\x92\x01", "incomplete"),
    (MSGPACK, b"\x01\x02", "extra bytes"),
    (MSGPACK, b"\x81\x92\x01\x02\x01", "map key"),
    (MSGPACK, b"\xa2\xff\xfe", "not valid msgpack"),
    (MSGPACK, b"\x91" * 100_000, "nested too deeply"),
])
def test_malformed_bodies_are_400_with_a_short_message(content_type, body, message):
    with pytest.raises(MalformedBody) as info:
        greenhttp.read_body(environ_for(body, content_type))
    assert info.value.status_hint == 400
    assert isinstance(info.value, greenhttp.DecodeError) and isinstance(info.value, greenhttp.BadRequest)
    assert message in str(info.value) and len(str(info.value)) < 200


def test_random_bytes_never_raise_anything_but_malformed_body():
    rng = random.Random(5)
    seeds = [msgpack.packb({"k": [1, "v", b"b", 2.5, None, {"n": True}]}), b'{"k": [1, "v", null]}']
    for i in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):  # flip, cut or insert bytes
            op, pos = rng.randrange(3), rng.randrange(len(data) + 1)
            if op == 0 and pos < len(data):
                data[pos] = rng.randrange(256)
            elif op == 1:
                del data[pos:]
            else:
                data[pos:pos] = bytes([rng.randrange(256)])
        for decode in (decode_json, decode_msgpack):
            try:
                decode(bytes(data))
            except MalformedBody:
                pass


def test_body_over_the_limit_is_413_before_reading():
    environ = environ_for(b"x" * 100, JSON)
    with pytest.raises(greenhttp.BodyTooLarge) as info:
        greenhttp.read_body(environ, max_size=99)
    assert info.value.status_hint == 413
    assert environ["wsgi.input"].tell() == 0


def test_chunked_body_over_the_limit_is_413(serve):
    def app(environ, start_response):
        try:
            greenhttp.read_body(environ, max_size=1000)
        except greenhttp.ProtocolError as exc:
            return greenhttp.respond(environ, start_response, {"error": str(exc)}, exc.status_hint)
        return greenhttp.respond(environ, start_response, "unexpected")

    with serve(app) as server:
        chunks = [b"[" + b"1," * 400] + [b"1," * 400] * 3 + [b"1]"]
        response = greenhttp.post(server.url, body=iter(chunks), headers={"Content-Type": JSON})
        assert response.status == 413
        assert "1000-byte limit" in response.json()["error"]


# -- respond -------------------------------------------------------------------------------

def echo(environ, start_response):
    try:
        value = greenhttp.read_body(environ)
    except greenhttp.ProtocolError as exc:
        return greenhttp.respond(environ, start_response, {"error": str(exc)}, exc.status_hint)
    return greenhttp.respond(environ, start_response, {"got": value}, 201, [("X-Echo", "1")])


def test_respond_in_json_and_msgpack_with_webtest():
    client = webtest.TestApp(echo)
    response = client.post("/", json.dumps([1, "é"]), content_type=JSON, status=201)
    assert response.content_type == JSON and response.json == {"got": [1, "é"]}
    assert response.headers["Vary"] == "Accept" and response.headers["X-Echo"] == "1"
    assert response.headers["Content-Length"] == str(len(response.body))

    response = client.post("/", msgpack.packb({"b": b"\x00"}), content_type=MSGPACK,
                           headers={"Accept": "application/msgpack"}, status=201)
    assert response.content_type == MSGPACK
    assert msgpack.unpackb(response.body) == {"got": {"b": b"\x00"}}

    response = client.post("/", b"{}", content_type=JSON, headers={"Accept": X_MSGPACK}, status=201)
    assert response.content_type == X_MSGPACK


def test_respond_406_when_neither_is_acceptable_but_errors_still_go_out():
    client = webtest.TestApp(echo)
    response = client.post("/", b"[]", content_type=JSON, headers={"Accept": "text/html"}, status=406)
    assert response.content_type == "text/plain"
    assert b"application/json or application/msgpack" in response.body
    # An error is worth more than a 406: it goes out as JSON whatever the Accept header says.
    response = client.post("/", b"{bad", content_type=JSON, headers={"Accept": "text/html"}, status=400)
    assert response.content_type == JSON and "not valid JSON" in response.json["error"]


def test_respond_status_forms():
    seen = []

    def start_response(status, headers):
        seen.append(status)

    greenhttp.respond({}, start_response, {}, 201)
    greenhttp.respond({}, start_response, {}, "202 Accepted Later")
    greenhttp.respond({}, start_response, {}, 299)
    assert seen == ["201 Created", "202 Accepted Later", "299 Unknown"]


# -- over real sockets ---------------------------------------------------------------------

def test_malformed_bodies_over_a_real_socket_are_400_and_the_connection_stays_usable(serve):
    with serve(echo) as server, socket.create_connection(server.address) as sock:
        for content_type, body in ((JSON, b"{bad"), (MSGPACK, b"\xc1"), (MSGPACK, b"\x92\x01")):
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: " + content_type.encode()
                         + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            status, headers, payload = read_one_response(sock)
            assert status.startswith(b"HTTP/1.1 400"), status
            assert "not valid" in json.loads(payload)["error"]
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\n\r\n[]")
        status, _, payload = read_one_response(sock)
        assert status.startswith(b"HTTP/1.1 201") and json.loads(payload) == {"got": []}


def test_an_uncaught_read_body_error_is_still_400_or_415_never_500(serve):
    def careless(environ, start_response):
        value = greenhttp.read_body(environ)  # no try: the server answers the error itself
        return greenhttp.respond(environ, start_response, value)

    with serve(careless) as server:
        response = greenhttp.post(server.url, body=b"{bad", headers={"Content-Type": JSON})
        assert response.status == 400
        assert "not valid JSON" in response.text and len(response.content) < 200
        response = greenhttp.post(server.url, body=b"<a/>", headers={"Content-Type": "text/xml"})
        assert response.status == 415
        response = greenhttp.post(server.url, msgpack=[1, 2])
        assert response.status == 200 and response.json() == [1, 2]
