"""Issue 9, "said once": each shared definition lives in one place and everyone uses it."""

from __future__ import annotations

import pathlib
import re

import greenhttp
from greenhttp.protocol.status import STATUS_REASONS, reason, status_line

PACKAGE = pathlib.Path(greenhttp.__file__).parent


def _sources() -> dict[str, str]:
    return {str(path.relative_to(PACKAGE)): path.read_text() for path in PACKAGE.rglob("*.py")}


def test_reason_phrases_come_from_the_one_table() -> None:
    assert reason(413) == "Content Too Large"  # RFC 9110, not the stdlib's older name
    assert reason(416) == "Range Not Satisfiable"
    assert reason(451) == "Unavailable For Legal Reasons"  # absent from the table: the stdlib's
    assert reason(599) == "Unknown"
    assert status_line(404) == greenhttp.status_line(404) == "404 Not Found"
    # No private copy: no other reason table, no HTTPStatus phrases, no literal status lines.
    literal = re.compile(r"""["'](HTTP/1\.1 )?[1-5]\d\d (%s)["']""" % "|".join(map(re.escape, STATUS_REASONS.values())))
    for name, source in _sources().items():
        if name == "protocol/status.py":
            continue
        assert not re.search(r"(?<!STATUS)_REASONS\b", source) and ".phrase" not in source, name
        assert not literal.search(source), (name, literal.search(source))


def test_hop_by_hop_and_framing_sets_are_the_protocols() -> None:
    from greenhttp import protocol
    from greenhttp.client import send as session
    from greenhttp.proxy import headers as proxy_headers

    assert proxy_headers.HOP_BY_HOP is protocol.HOP_BY_HOP
    assert session._FRAMING == protocol.FRAMING_FIELDS | protocol.CONNECTION_FIELDS
    # The proxy's own rule on top: every Proxy-* field, and what Connection names.
    assert proxy_headers.is_hop_by_hop("proxy-anything")
    assert proxy_headers.is_hop_by_hop("x-private", {"x-private"})
    assert not proxy_headers.is_hop_by_hop("content-type")
    for name in protocol.HOP_BY_HOP:
        assert proxy_headers.is_hop_by_hop(name)
    # No module spells one of these sets out again.
    spelled = re.compile(r"frozenset\(\{\s*\"(content-length|connection|keep-alive|transfer-encoding)\"")
    for name, source in _sources().items():
        if name != "protocol/fields.py":
            assert not spelled.search(source), name


def test_environ_keys_and_field_names_map_once() -> None:
    from greenhttp.headers import Headers, environ_key, field_name

    for name in ("X-Forwarded-For", "Content-Type", "Content-Length", "If-None-Match", "Te"):
        key = environ_key(name)
        assert key is not None and field_name(key) == name
    assert environ_key("content-type") == "CONTENT_TYPE"
    assert environ_key("x-forwarded-for") == "HTTP_X_FORWARDED_FOR"
    assert environ_key("X_Forwarded_For") is None  # would collide with X-Forwarded-For
    assert field_name("wsgi.input") is None and field_name("REQUEST_METHOD") is None
    environ = {"HTTP_ACCEPT": "*/*", "CONTENT_TYPE": "", "CONTENT_LENGTH": "3",
               "wsgi.input": object(), "HTTP_X_EMPTY": ""}
    assert Headers.from_environ(environ).items() == [("Accept", "*/*"), ("Content-Length", "3"),
                                                     ("X-Empty", "")]
    # Nobody else spells the mapping out.
    for name, source in _sources().items():
        if name != "headers.py":
            assert '.upper().replace("-", "_")' not in source, name


def test_one_sendfile_loop() -> None:
    users = sorted(name for name, source in _sources().items() if "os.sendfile(" in source)
    assert users == ["sendfile.py"]
    callers = sorted(name for name, source in _sources().items() if re.search(r"(?<![._])send_file\(", source))
    assert callers == ["client/transport.py", "sendfile.py", "server/output.py"]


def test_one_kind_of_bounded_cache() -> None:
    # functools.lru_cache everywhere, except the core's per-header probes, which say why.
    hand_rolled = re.compile(r"if len\(_?\w+\) < \d+:")
    hot = {"protocol/fields.py", "protocol/response.py", "server/wsgi.py"}
    for name, source in _sources().items():
        if hand_rolled.search(source):
            assert name in hot, name
            assert "Hot path" in source or "hot path" in source, name


def test_one_body_over_a_foreign_wsgi_input() -> None:
    """Body.from_environ: what resources and the proxy read under another WSGI server."""
    import io

    from greenhttp import Body

    environ: dict = {"wsgi.input": io.BytesIO(b"hello world"), "CONTENT_LENGTH": "5"}
    body = Body.from_environ(environ)
    assert body.read() == b"hello" and body.length == 5
    assert Body.from_environ(environ) is body is environ["greenhttp.body"]  # shared
    assert Body.from_environ({"wsgi.input": io.BytesIO(b"x")}).read() == b""  # no length: PEP 3333
    terminated = {"wsgi.input": io.BytesIO(b"all of it"), "wsgi.input_terminated": True}
    assert Body.from_environ(terminated).read() == b"all of it"
    empty = Body.from_environ({"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "0"})
    assert empty.complete and not empty.received
    own = Body.from_bytes(b"ours")
    assert Body.from_environ({"greenhttp.body": own, "CONTENT_LENGTH": "99"}) is own
    # Nobody else builds one.
    for name, source in _sources().items():
        if name != "body.py":
            assert not re.search(r'stream\.read\(min\(', source), name
