"""Property-based fuzzing of the sans-I/O core (hypothesis): no input crashes it, and how
the bytes are split across reads never changes what comes out."""

from hypothesis import given, settings
from hypothesis import strategies as st

from greenhttp import protocol as p
from greenhttp.errors import ProtocolError

VALID_STREAM = (
    b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
    b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n4;ext=v\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"
    b"GET /d HTTP/1.0\r\n\r\n"
)


def drain(proto: p.ServerProtocol) -> list:
    events = []
    while (event := proto.next_event()) is not p.NEED_DATA:
        events.append(event)
    return events


def summarize(events: list) -> list:
    """Events as comparable values, with body data joined per message."""
    out: list = []
    body = b""
    for event in events:
        if isinstance(event, p.RequestHead):
            out.append(("head", event.method, event.target, event.http_version,
                        tuple(event.headers), event.content_length, event.chunked))
        elif isinstance(event, p.Data):
            body += event.data
        elif isinstance(event, p.EndOfMessage):
            out.append(("end", body, tuple(event.trailers or ())))
            body = b""
    return out


def feed_in_pieces(data: bytes, cuts: list[int]) -> list:
    proto = p.ServerProtocol()
    events: list = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        proto.receive_data(data[start:cut])
        events.extend(drain(proto))
        start = cut
    return summarize(events)


EXPECTED = feed_in_pieces(VALID_STREAM, [])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(VALID_STREAM)), max_size=40))
def test_any_split_of_a_valid_stream_gives_the_same_events(cuts):
    assert feed_in_pieces(VALID_STREAM, cuts) == EXPECTED


def test_expected_events_are_what_the_stream_says():
    assert [e[0] for e in EXPECTED] == ["head", "end"] * 4
    assert EXPECTED[3][1] == b"hello world" and EXPECTED[5] == ("end", b"abcdefg", ((b"X-Trailer", b"t"),))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0, max_value=300), max_size=10))
def test_arbitrary_bytes_only_raise_protocol_errors(data, cuts):
    proto = p.ServerProtocol(p.Limits(max_request_line=64, max_header_size=64, max_header_count=5,
                                      max_head_size=200, max_body_size=100))
    start = 0
    try:
        for cut in sorted(c for c in set(cuts) if c <= len(data)) + [len(data)]:
            proto.receive_data(data[start:cut])
            drain(proto)
            start = cut
    except ProtocolError as exc:
        assert 400 <= exc.status_hint <= 505


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"\r", b"\n", b"\x00", b" ", b":", b"\x7f", b"\t", b"0", b"x"]),
       st.integers(min_value=0, max_value=len(VALID_STREAM) - 1))
def test_one_corrupted_byte_is_either_parsed_or_refused(byte, position):
    data = VALID_STREAM[:position] + byte + VALID_STREAM[position + 1:]
    proto = p.ServerProtocol()
    try:
        proto.receive_data(data)
        drain(proto)
    except ProtocolError as exc:
        assert exc.status_hint in (400, 413, 414, 417, 431, 501, 505)
