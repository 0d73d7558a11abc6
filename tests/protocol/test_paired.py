"""A ClientProtocol and a ServerProtocol talking to each other in memory (h11's
test_connection.py style): client.request_head -> server.receive_data -> events;
server.response_head -> client.receive_data -> events. Each half's framing is checked
by the other half's parser."""

import pytest

from greenhttp import protocol as p

DATE = "Thu, 01 Jan 2026 00:00:00 GMT"


def drain(proto) -> list:
    out = []
    while (event := proto.next_event()) is not p.NEED_DATA:
        out.append(event)
    return out


def body_of(events) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, p.Data))


def exchange(method, request_body=None, *, chunked=False, status=200, response_headers=(),
             response_body=b"", response_pieces=None, http_version="1.1"):
    """One request and its response through both halves; returns (server events,
    client events, client protocol)."""
    client, server = p.ClientProtocol(), p.ServerProtocol()
    length = None if chunked or request_body is None else len(request_body)
    head, writer = client.request_head(method, "/x?y=1", [("Host", "example")], length, chunked)
    if http_version == "1.0":
        head = head.replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    wire = head
    for piece in ([request_body[:3], request_body[3:]] if request_body else []):
        wire += writer.frame(piece)
    wire += writer.end()
    server.receive_data(wire)
    server_events = drain(server)
    request = server_events[0]
    head, framing = server.response_head(request, status, "Whatever", list(response_headers), DATE,
                                         "g", request.keep_alive)
    out = head
    for piece in (response_pieces if response_pieces is not None else [response_body]):
        out += framing.frame(piece)
    out += framing.end()
    client.receive_data(out)
    if not framing.keep_alive and not client.response_complete:
        client.receive_eof()  # the server closes to end a close-delimited body
    return server_events, drain(client), client, framing


def test_get():
    server_events, client_events, client, framing = exchange(
        "GET", response_headers=[("Content-Length", "2")], response_body=b"ok")
    request = server_events[0]
    assert (request.method, request.target, request.host) == ("GET", b"/x?y=1", b"example")
    assert not request.has_body and isinstance(server_events[1], p.EndOfMessage)
    assert client_events[0].status == 200 and client_events[0].reason == "Whatever"
    assert body_of(client_events) == b"ok" and client.response_complete and framing.keep_alive


def test_post_with_content_length():
    server_events, client_events, _, _ = exchange(
        "POST", b"hello world", response_headers=[("Content-Length", "3")], response_body=b"got")
    assert server_events[0].content_length == 11 and body_of(server_events) == b"hello world"
    assert body_of(client_events) == b"got"


def test_chunked_both_ways():
    server_events, client_events, _, framing = exchange(
        "PUT", b"streamed body", chunked=True, response_pieces=[b"a", b"", b"bc", b"def"])
    assert server_events[0].chunked and body_of(server_events) == b"streamed body"
    assert framing.chunked and client_events[0].chunked
    assert body_of(client_events) == b"abcdef" and isinstance(client_events[-1], p.EndOfMessage)


def test_head_has_no_body_but_keeps_its_length():
    _, client_events, client, framing = exchange(
        "HEAD", response_headers=[("Content-Length", "5")], response_body=b"hello")
    assert client_events[0].content_length == 5 and body_of(client_events) == b""
    assert framing.no_body and client.response_complete


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses(status):
    _, client_events, client, framing = exchange("GET", status=status, response_body=b"dropped")
    assert client_events[0].status == status and body_of(client_events) == b""
    assert framing.no_body and client.response_complete and framing.keep_alive


def test_close_delimited_for_http_1_0():
    server_events, client_events, client, framing = exchange(
        "GET", http_version="1.0", response_pieces=[b"until ", b"close"])
    assert server_events[0].http_version == "1.0"
    assert not framing.keep_alive and not client_events[0].keep_alive
    assert body_of(client_events) == b"until close" and client.response_complete



def test_request_heads_with_credentials_are_never_cached():
    # The client caches serialized request heads process-wide; a password or a session
    # cookie must not outlive its request there.
    from greenhttp.protocol import client as client_module

    client_module._heads.clear()
    proto = p.ClientProtocol()
    proto.request_head("GET", "/a", [("Host", "h"), ("Authorization", "Basic c2VjcmV0")], None, False)
    proto = p.ClientProtocol()
    proto.request_head("GET", "/a", [("Host", "h"), ("cookie", "session=s3cret")], None, False)
    assert not client_module._heads
    proto = p.ClientProtocol()
    head, _ = proto.request_head("GET", "/a", [("Host", "h")], None, False)
    assert list(client_module._heads.values()) == [head]
