"""Unit tests for the REPL's pure parts: HTTPie item syntax, merging sticky items, request
building, curl export, URL navigation and body display."""

import io
import json
import shlex

import msgpack
import pytest

from greenhttp.repl.urls import join_url, normalize_url
from greenhttp.repl.format import Printer, kind_of, looks_binary
from greenhttp.repl.items import (
    ItemError,
    add_sticky,
    build_request,
    merge,
    parse_item,
    parse_items,
    split_item,
    to_curl,
)


@pytest.mark.parametrize("token, expected", [
    ("Accept:application/json", ("header", "Accept", "application/json")),
    ("X-Empty;", ("empty_header", "X-Empty", "")),
    ("q==search term", ("param", "q", "search term")),
    ("name=joe", ("field", "name", "joe")),
    ("n:=5", ("json", "n", "5")),  # ":=" beats ":" at the same position
    ("url:http://x/?a=b", ("header", "url", "http://x/?a=b")),  # leftmost separator wins
    ("q==a=b", ("param", "q", "a=b")),
    ("f@/tmp/x", ("file", "f", "/tmp/x")),
    ("bio=@/tmp/x", ("field_file", "bio", "/tmp/x")),
    ("obj:=@/tmp/x.json", ("json_file", "obj", "/tmp/x.json")),
    ("a\\=b=c", ("field", "a=b", "c")),  # an escaped separator is literal
    ("a\\:b:c", ("header", "a:b", "c")),
])
def test_split_item_precedence_and_escapes(token, expected):
    assert split_item(token) == expected


def test_plain_word_is_not_an_item():
    assert split_item("users") is None
    with pytest.raises(ItemError, match="not a request item"):
        parse_item("users")


def test_parse_values():
    assert parse_item("n:=[1, {\"a\": null}]").value == [1, {"a": None}]
    assert parse_item("Accept:  text/html ").value == "text/html"
    assert parse_item("X-Empty;").value == ""
    assert parse_item("flag:=true").value is True


@pytest.mark.parametrize("token, message", [
    ("n:=nope", "invalid JSON"),
    ("Bad Header:x", "invalid header name"),
    (":x", "invalid header name"),
    ("=x", "missing name"),
    ("f@/no/such/file", "no such file"),
    ("</no/such/file", "no such file"),
    ("x=@/no/such/file", "cannot read"),
])
def test_bad_items_are_one_line_errors(token, message):
    with pytest.raises(ItemError, match=message) as info:
        parse_item(token)
    assert "\n" not in str(info.value)


def test_file_items(tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x00" * 10)
    text = tmp_path / "bio.txt"
    text.write_text("hello")
    jfile = tmp_path / "v.json"
    jfile.write_text('{"k": [1]}')
    upload, alone, raw, bio, value = parse_items(
        [f"doc@{data}", f"@{data}", f"<{data}", f"bio=@{text}", f"v:=@{jfile}"])
    assert (upload.kind, upload.name, upload.value) == ("file", "doc", str(data))
    assert alone.name == "file"  # "@file" alone: the field is called "file"
    assert (raw.kind, raw.value) == ("body", str(data))
    assert bio.value == "hello"
    assert value.value == {"k": [1]}


def test_merge_replaces_sticky_by_name_and_keeps_repeats():
    sticky = parse_items(["Accept:a", "q==1", "name=x"])
    sticky = add_sticky(sticky, parse_item("accept:b"))  # header names ignore case
    assert [i.raw for i in sticky] == ["q==1", "name=x", "accept:b"]
    merged = merge(sticky, parse_items(["q==2", "q==3", "ACCEPT:c"]))
    assert [i.raw for i in merged] == ["name=x", "q==2", "q==3", "ACCEPT:c"]


def test_build_request_body_kinds(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("content")
    items = parse_items(["H:v", "q==1", "a=1", "b:=2"])
    spec = build_request("POST", "http://h/", items, "json")
    assert spec.headers == [("H", "v")] and spec.params == [("q", "1")]
    assert (spec.body_kind, spec.data) == ("json", {"a": "1", "b": 2})
    assert build_request("POST", "http://h/", items, "msgpack").body_kind == "msgpack"
    form = build_request("POST", "http://h/", items, "form")
    kwargs, opened = form.request_kwargs()
    assert kwargs["form"] == [("a", "1"), ("b", "2")] and not opened
    multi = build_request("POST", "http://h/", parse_items(["a=1", f"up@{path}"]))
    kwargs, opened = multi.request_kwargs()
    assert multi.body_kind == "multipart" and kwargs["files"][0][0] == "up"
    assert kwargs["files"][0][1][0] == "f.txt" and opened[0].read() == b"content"
    for f in opened:
        f.close()
    assert build_request("GET", "http://h/", parse_items(["H:v"])).body_kind is None
    with pytest.raises(ItemError, match="raw body"):
        build_request("POST", "http://h/", parse_items([f"<{path}", "a=1"]))
    with pytest.raises(ItemError, match="unknown body format"):
        build_request("POST", "http://h/", items, "xml")


def test_curl_export_round_trips_through_shell_words():
    spec = build_request("POST", "http://h:1/p", parse_items(["X-A:it's", "q==a b", "n:=1", "s=x"]))
    words = shlex.split(to_curl(spec, follow_redirects=False, timeout=5))
    assert words[:4] == ["curl", "-X", "POST", "--max-time"]
    assert "http://h:1/p?q=a+b" in words
    assert words[words.index("-H") + 1] == "X-A: it's"
    assert json.loads(words[words.index("--data-raw") + 1]) == {"n": 1, "s": "x"}
    assert "Content-Type: application/json" in words
    head = shlex.split(to_curl(build_request("HEAD", "http://h/", [])))
    assert head == ["curl", "-I", "-L", "http://h/"]
    packed = to_curl(build_request("POST", "http://h/", parse_items(["a:=1"]), "msgpack"))
    assert packed.startswith("printf '\\201\\241\\141\\001' | curl") and "@-" in packed


@pytest.mark.parametrize("current, target, expected", [
    ("http://h/api", "users", "http://h/api/users"),
    ("http://h/api/", "users/", "http://h/api/users/"),
    ("http://h/api/users", "..", "http://h/api"),
    ("http://h/api", "/", "http://h/"),
    ("http://h/api", "/x?a=1", "http://h/x?a=1"),
    ("http://h/api", "http://other:9/y", "http://other:9/y"),
    ("http://h/api", "", "http://h/api"),
    ("http://h/", "../..", "http://h/"),
])
def test_join_url(current, target, expected):
    assert join_url(current, target) == expected


def test_normalize_url_shorthands():
    assert normalize_url(":8080/x") == "http://localhost:8080/x"
    assert normalize_url("example.org") == "http://example.org/"
    assert normalize_url("https://h:1/a?b=c") == "https://h:1/a?b=c"


def test_body_display_without_color():
    out = io.StringIO()
    printer = Printer(out, color=False)
    printer.body_bytes(b'{"a":[1,2]}', "application/json")
    printer.body_bytes(msgpack.packb({"m": b"\x00\x01", "t": "x"}), "application/msgpack")
    printer.body_bytes(b"\x89PNG\x00" * 100, "image/png")
    printer.body_bytes(b"plain", "text/plain")
    text = out.getvalue()
    assert '{\n  "a": [\n    1,\n    2\n  ]\n}\n' in text
    assert '"m": "<2 bytes: 0001>"' in text and '"t": "x"' in text
    assert "[binary body: 500 B, image/png; not shown]" in text and "PNG" not in text
    assert text.endswith("plain\n")
    assert "\x1b[" not in text


def test_json_is_highlighted_with_color():
    out = io.StringIO()
    Printer(out, color=True).body_bytes(b'{"a":1}', "application/vnd.api+json")
    assert "\x1b[" in out.getvalue() and '"a"' in out.getvalue()


def test_kinds():
    assert kind_of("application/problem+json") == "json"
    assert kind_of("application/x-msgpack") == "msgpack"
    assert kind_of("text/event-stream") == "stream"
    assert kind_of("text/html") == "text"
    assert kind_of("image/png") == "binary"
    assert kind_of("") == "unknown"
    assert looks_binary(b"a\x00b") and not looks_binary("héllo".encode())


def test_serving_does_not_import_the_shell_libraries():
    import subprocess
    import sys

    code = ("import sys, greenhttp, greenhttp.cli.serve, greenhttp.cli.console, greenhttp.repl.shell; "
            "greenhttp.cli.serve.build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'prompt_toolkit', 'pygments', 'tqdm', 'ssl'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_repls_errors_are_the_users_input_in_the_one_tree():
    import greenhttp
    from greenhttp.errors import ReplError

    for cls in (ItemError, ReplError):
        assert issubclass(cls, greenhttp.UsageError) and issubclass(cls, ValueError)
        assert not issubclass(cls, (greenhttp.RequestError, greenhttp.UpstreamError))
    with pytest.raises(greenhttp.UsageError):
        normalize_url("ftp://x")
    with pytest.raises(ValueError):  # what callers parsing items always caught
        parse_item("not an item")
