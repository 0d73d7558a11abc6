"""Property-based fuzzing of ClientProtocol (hypothesis), as test_protocol_fuzz.py does for
the server: random bytes and random splits only ever raise ProtocolError subclasses, and a
valid response split anywhere parses the same."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenhttp import protocol as p
from greenhttp.errors import ProtocolError

RESPONSES = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello world",
    "chunked": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n4;ext=v\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"),
    "close": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    "no content": b"HTTP/1.1 204 No Content\r\nX-B: 2\r\n\r\n",
}


def parse(data: bytes, cuts: list[int], method: str = "GET") -> list:
    proto = p.ClientProtocol()
    proto.request_head(method, "/", [("Host", "h")], None, False)
    events: list = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        proto.receive_data(data[start:cut])
        while (event := proto.next_event()) is not p.NEED_DATA:
            events.append(event)
        start = cut
    if not proto.response_complete:
        proto.receive_eof()
        while (event := proto.next_event()) is not p.NEED_DATA:
            events.append(event)
    out: list = []
    body = b""
    for event in events:
        if isinstance(event, p.InformationalResponse):
            out.append(("interim", event.status))
        elif isinstance(event, p.ResponseHead):
            out.append(("head", event.status, event.reason, tuple(event.headers), event.keep_alive))
        elif isinstance(event, p.Data):
            body += event.data
        else:
            out.append(("end", body, tuple(event.trailers or ())))
    return out


EXPECTED = {name: parse(data, []) for name, data in RESPONSES.items()}


@pytest.mark.parametrize("name", sorted(RESPONSES))
@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=30))
def test_any_split_of_a_valid_response_gives_the_same_events(name, cuts):
    data = RESPONSES[name]
    assert parse(data, [cut for cut in cuts if cut <= len(data)]) == EXPECTED[name]


def test_expected_events_are_what_they_should_be():
    assert EXPECTED["length"][-1] == ("end", b"hello world", ())
    assert EXPECTED["chunked"][0] == ("interim", 100)
    assert EXPECTED["chunked"][-1] == ("end", b"abcdefg", ((b"X-Trailer", b"t"),))
    assert EXPECTED["close"][0][-1] is False and EXPECTED["close"][-1][1] == b"until the end"
    assert EXPECTED["no content"][-1] == ("end", b"", ())


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=10),
       st.sampled_from(["GET", "HEAD", "CONNECT", "POST"]))
def test_random_bytes_only_raise_protocol_errors(data, cuts, method):
    try:
        parse(data, [cut for cut in cuts if cut <= len(data)], method)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(RESPONSES)), st.integers(min_value=0, max_value=200), st.binary(max_size=20))
def test_corrupted_responses_only_raise_protocol_errors(name, at, junk):
    data = RESPONSES[name]
    at = min(at, len(data))
    try:
        parse(data[:at] + junk + data[at:], [at])
    except ProtocolError:
        pass
