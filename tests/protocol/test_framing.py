"""The one set of body writers (greenhttp/protocol/framing.py), both directions."""

import pytest

from greenhttp import protocol as p
from greenhttp.errors import LocalProtocolError


def _writers():
    """A writer of each kind with a 3-byte promise where a promise exists, made the
    way the server and the client make them."""
    _, request_cl = p.ClientProtocol().request_head("POST", "/", [("Host", "x")], 3, False)
    _, request_chunked = p.ClientProtocol().request_head("POST", "/", [("Host", "x")], None, True)
    _, request_none = p.ClientProtocol().request_head("GET", "/", [("Host", "x")], None, False)
    return request_cl, request_chunked, request_none


def test_every_framing_comes_from_the_one_table():
    request_cl, request_chunked, request_none = _writers()
    assert type(request_cl) is p.WRITERS["content-length"]
    assert type(request_chunked) is p.WRITERS["chunked"]
    assert type(request_none) is p.WRITERS["content-length"] and request_none.content_length == 0
    assert type(p.response_writer(False, False, None, True)) is p.WRITERS["close"]
    assert type(p.response_writer(True, False, 5, True)) is p.WRITERS["none"]


def test_request_writer_refuses_too_many_and_too_few_bytes():
    request_cl, _, request_none = _writers()
    assert request_cl.frame(b"ab") == b"ab"
    with pytest.raises(LocalProtocolError):
        request_cl.frame(b"cd")
    assert not request_cl.keep_alive
    short = p.request_writer(False, 3)
    short.frame(b"a")
    with pytest.raises(LocalProtocolError):
        short.end()
    # No framing in the head means no body: a body would be the start of a next request.
    with pytest.raises(LocalProtocolError):
        request_none.frame(b"x")
    assert p.request_writer(False, None).end() == b""


def test_chunked_writer_both_directions():
    _, request_chunked, _ = _writers()
    response_chunked = p.response_writer(False, True, None, True)
    for writer in (request_chunked, response_chunked):
        assert writer.frame(b"") == b""  # a zero-size chunk would end the body
        assert writer.frame(memoryview(b"hello")) == b"5\r\nhello\r\n"
        assert writer.end() == b"0\r\n\r\n" and writer.sent == 5 and writer.keep_alive


def test_close_delimited_writer_never_keeps_the_connection():
    writer = p.response_writer(False, False, None, True)
    assert writer.frame(b"abc") == b"abc" and writer.end() == b"" and not writer.keep_alive
