"""Every example runs and does what its docstring says; the guides show exactly their code.

WebTest where a request in, response out is the whole story; real sockets (in-process
servers, or `greenhttp examples/x.py -p 0` as a subprocess) where pacing, streaming,
memory or concurrency is the point.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import pathlib
import re
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import gevent
import msgpack
import pytest
import requests
import webtest

import greenhttp

from conftest import read_one_response

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GUIDES = ROOT / "docs" / "guides"


def load_example(name: str) -> Any:
    """Import examples/NAME.py as a fresh module (its module-level state is its own)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def cli(example: str, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`greenhttp examples/EXAMPLE.py -p 0` as a user runs it; yields (process, url)."""
    proc = subprocess.Popen([sys.executable, "-m", "greenhttp", str(EXAMPLES / f"{example}.py"),
                             "-p", "0", "--no-access-log", *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), f"no URL on stdout; stderr: {proc.stderr.read()}"
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def rss_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# -- msgpack_api.py ----------------------------------------------------------------------------

# --8<-- [start:webtest]
def test_msgpack_api_with_webtest():
    api = load_example("msgpack_api")
    client = webtest.TestApp(api.app)  # no server, no socket: WSGI calls in-process

    created = client.post_json("/notes", {"text": "hello", "tags": ["a"]}, status=201)
    assert created.json == {"id": 1, "text": "hello", "tags": ["a"]}
    assert created.headers["Location"] == "/notes/1"

    packed = client.post("/notes", msgpack.packb({"text": "packed"}), status=201,
                         content_type="application/msgpack", headers={"Accept": "application/msgpack"})
    assert msgpack.unpackb(packed.body) == {"id": 2, "text": "packed", "tags": []}

    assert [note["text"] for note in client.get("/notes").json] == ["hello", "packed"]
    bad = client.post("/notes", b"{oops", content_type="application/json", status=400)
    assert "not valid JSON" in bad.json["error"]
    client.post("/notes", b"text=hi", content_type="application/x-www-form-urlencoded", status=415)
    client.post_json("/notes", {"text": 5}, status=422)
    client.get("/notes", headers={"Accept": "text/html"}, status=406)
    client.get("/notes/99", status=404)
# --8<-- [end:webtest]


def test_msgpack_api_malformed_msgpack_is_400_never_500():
    client = webtest.TestApp(load_example("msgpack_api").app)
    for body in (b"\xc1", b"\x92\x01", b"\x81\x01\x02", b"\x91" * 50_000, b""):
        response = client.post("/notes", body, content_type="application/x-msgpack", status=400)
        assert response.json["error"].startswith("request body ")


# --8<-- [start:serve]
def test_msgpack_api_client_part_against_a_real_server(serve):
    api = load_example("msgpack_api")
    with serve(api.app) as server:  # a greenhttp Server on a free loopback port
        note = api.demo(server.url)  # greenhttp's client, over a real socket
        assert note == {"id": 1, "text": "bytes, not text", "tags": ["demo"]}
# --8<-- [end:serve]


def test_msgpack_api_client_as_a_program(serve):
    with serve(load_example("msgpack_api").app) as server:
        # `python examples/msgpack_api.py URL`, as the docstring says.
        result = subprocess.run([sys.executable, str(EXAMPLES / "msgpack_api.py"), server.url],
                                capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stderr
        assert "'id': 1" in result.stdout and "bytes, not text" in result.stdout


# -- upload_progress.py ----------------------------------------------------------------------

def test_upload_progress_example_counts_rise_during_a_paced_upload(serve):
    example = load_example("upload_progress")
    data = bytes(range(256)) * 1024  # 256 KiB in 8 pieces
    piece = len(data) // 8
    with serve(example.app) as server, socket.create_connection(server.address) as sock:
        page = greenhttp.get(server.url + "/")
        assert page.status == 200 and b'<progress id="bar"' in page.content
        sock.sendall(b"POST /upload?X-Progress-ID=ex1 HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(data))
        counts = []
        for offset in range(0, len(data), piece):
            sock.sendall(data[offset:offset + piece])
            gevent.sleep(0.15)  # the middleware writes at most every 0.1 s
            report = greenhttp.get(server.url + "/progress?X-Progress-ID=ex1").json()
            counts.append(report["received"])
            if offset + piece < len(data):
                assert report["state"] == "uploading" and report["total"] == len(data)
        _, _, body = read_one_response(sock)
        final = greenhttp.get(server.url + "/progress?X-Progress-ID=ex1").json()
    assert json.loads(body) == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert len(set(counts[:-1])) == len(counts) - 1 and counts == sorted(counts), counts
    assert final["state"] == "done" and final["received"] == len(data)


# -- events.py -------------------------------------------------------------------------------

def open_events(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address)
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.settimeout(5)
    return sock


def read_until(sock: socket.socket, needle: bytes, count: int = 1) -> bytes:
    data = b""
    while data.count(needle) < count:
        chunk = sock.recv(65536)
        assert chunk, f"stream ended early: {data!r}"
        data += chunk
    return data


def wait_for(condition, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        gevent.sleep(0.02)
    return condition()


def test_events_broadcast_and_clients_that_leave_are_dropped(serve):
    example = load_example("events")
    broadcaster = example.Broadcaster(interval=0.05)
    with serve(example.make_app(broadcaster)) as server:
        clients = [open_events(server.address) for _ in range(3)]
        for sock in clients:
            head = read_until(sock, b"event: tick", 2)
            assert b"text/event-stream" in head and b"Transfer-Encoding: chunked" in head
        assert broadcaster.clients == 3

        said = greenhttp.post(server.url + "/say", body="hello all").json()
        assert said == {"sent_to": 3}
        for sock in clients:
            assert b'"text": "hello all"' in read_until(sock, b"hello all")

        for sock in clients[:2]:
            sock.close()
        # The next sends to a departed client fail; its stream is abandoned and dropped.
        assert wait_for(lambda: broadcaster.clients == 1), broadcaster.clients
        assert greenhttp.get(server.url + "/stats").json() == {"clients": 1}
        read_until(clients[2], b"event: tick", 2)  # the one left still gets its events

        clients[2].close()
        assert wait_for(lambda: broadcaster.clients == 0)
        # Nothing left running: no ticker greenlet, no busy connection greenlet (idle ones
        # are the greenhttp client's pooled keep-alive connections from /say and /stats).
        assert wait_for(lambda: broadcaster.ticker is None)
        assert wait_for(lambda: server.stats()["busy"] == 0), server.stats()


def test_events_slow_client_is_cut_off_instead_of_stalling_the_others():
    example = load_example("events")
    broadcaster = example.Broadcaster(interval=3600)
    slow = broadcaster.subscribe()  # nobody reads it: its queue fills up
    for i in range(20):
        broadcaster.publish("message", i)
    assert broadcaster.clients == 0
    with pytest.raises(greenhttp.StreamClosed, match="too slow"):
        list(slow)
    broadcaster.ticker.kill()


# -- stream_download.py ----------------------------------------------------------------------

def test_stream_download_keeps_server_memory_flat():
    rows = 1_500_000  # ~51 MB of CSV
    example = load_example("stream_download")
    with cli("stream_download") as (proc, url):
        expected = "id,checksum,name,price\n" + "".join(example.row(n) for n in range(5000))
        assert requests.get(url + "/rows.csv?rows=5000").text == expected
        assert requests.get(url + "/rows-write.csv?rows=5000").text == expected  # write() path
        before = rss_kib(proc.pid)
        peak = before
        size = lines = 0
        tail = b""
        with requests.get(url + f"/rows.csv?rows={rows}", stream=True, timeout=30) as response:
            assert response.headers["Transfer-Encoding"] == "chunked"
            for i, chunk in enumerate(response.iter_content(256 * 1024)):
                size += len(chunk)
                lines += chunk.count(b"\n")
                tail = (tail + chunk)[-200:]
                if i % 20 == 0:
                    peak = max(peak, rss_kib(proc.pid))
        peak = max(peak, rss_kib(proc.pid))
    assert lines == rows + 1
    assert tail.endswith(example.row(rows - 1).encode())
    assert size > 50_000_000
    # Buffering the body would add its ~51 MB; streaming adds about one chunk.
    assert peak - before < 16 * 1024, f"server RSS grew {(peak - before) // 1024} MiB for a {size >> 20} MiB download"


# -- blocking.py ---------------------------------------------------------------------------

def timed_concurrently(urls: list[str]) -> tuple[float, list[dict]]:
    started = time.monotonic()
    jobs = [gevent.spawn(lambda u=u: requests.get(u, timeout=20).json()) for u in urls]
    gevent.joinall(jobs, raise_error=True)
    return time.monotonic() - started, [job.value for job in jobs]


def test_blocking_handlers_run_concurrently_under_the_cli():
    n = 20
    with cli("blocking") as (_, url):
        elapsed, results = timed_concurrently([url + "/sleep?seconds=0.5"] * n)
        assert all(0.45 <= r["slept"] < 1.5 for r in results)
        # Serially this takes n * 0.5 = 10 s.
        assert elapsed < 2.0, f"{n} requests sleeping 0.5 s took {elapsed:.2f} s"

        # Each /chain makes two blocking outbound calls (requests, then urllib) to /sleep.
        elapsed, results = timed_concurrently([url + "/chain?seconds=0.5"] * 10)
        assert all(r["requests"]["slept"] >= 0.45 and r["urllib"]["slept"] >= 0.45 for r in results)
        assert elapsed < 2.5, f"10 chained requests (1 s each) took {elapsed:.2f} s, serially 10 s"


# -- flask_app.py --------------------------------------------------------------------------

def test_flask_app_with_webtest():
    client = webtest.TestApp(load_example("flask_app").app)
    assert client.get("/").json == {"hello": "from Flask on greenhttp"}
    data = b"flask" * 1000
    assert client.post("/upload", data).json == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_flask_app_streams_a_chunked_upload_with_progress(serve):
    example = load_example("flask_app")
    piece = b"0123456789abcdef" * 4096  # 64 KiB
    digest = hashlib.sha256(piece * 128).hexdigest()
    seen = []

    def pieces():
        for i in range(128):  # 8 MiB, chunked: no Content-Length
            if i % 32 == 0:
                gevent.sleep(0.12)
                seen.append(greenhttp.get(server.url + "/progress?X-Progress-ID=fl").json())
            yield piece

    with serve(example.app) as server:
        response = greenhttp.post(server.url + "/upload?X-Progress-ID=fl", body=pieces())
        assert response.json() == {"size": len(piece) * 128, "sha256": digest}
        final = greenhttp.get(server.url + "/progress?X-Progress-ID=fl").json()
    received = [report["received"] for report in seen if report["state"] == "uploading"]
    assert len(received) >= 2 and received == sorted(received) and received[-1] > 0
    assert all(report["total"] is None for report in seen if report["state"] == "uploading")
    assert final["state"] == "done" and final["received"] == final["total"] == len(piece) * 128


# -- the guides show exactly what the examples run ------------------------------------------------

SNIPPET = re.compile(r"^<!-- snippet: (?P<path>[\w./-]+)#(?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)^```$",
                     re.S | re.M)


def region(path: str, name: str) -> str:
    """The lines between ``# --8<-- [start:NAME]`` and ``# --8<-- [end:NAME]`` (at any indent)."""
    lines = (ROOT / path).read_text().splitlines(keepends=True)
    marks = [line.strip() for line in lines]
    start, end = f"# --8<-- [start:{name}]", f"# --8<-- [end:{name}]"
    assert start in marks and end in marks, f"{path} has no region {name!r}"
    code = lines[marks.index(start) + 1:marks.index(end)]
    # Markers of regions nested inside this one are not shown.
    return "".join(line for line in code if not line.strip().startswith("# --8<-- ["))


def guide_snippets() -> list[tuple[str, str, str, str]]:
    found = []
    for guide in sorted(GUIDES.glob("*.md")):
        for match in SNIPPET.finditer(guide.read_text()):
            found.append((guide.name, match["path"], match["name"], match["code"]))
    return found


def test_guides_exist_for_each_scenario():
    names = {guide.name for guide in GUIDES.glob("*.md")}
    assert {"upload-progress.md", "streaming.md", "json-msgpack.md", "blocking-code.md",
            "testing-with-webtest.md"} <= names


@pytest.mark.parametrize("guide, path, name, code", guide_snippets())
def test_guide_snippet_matches_its_source(guide, path, name, code):
    assert code == region(path, name), (
        f"docs/guides/{guide}: the snippet {path}#{name} differs from the file; "
        "run `python tests/test_examples.py --write-snippets`")


def test_every_snippet_marker_is_followed_by_its_code_block():
    for guide in sorted(GUIDES.glob("*.md")):
        text = guide.read_text()
        assert text.count("<!-- snippet:") == len(SNIPPET.findall(text)), guide.name


def test_every_example_appears_in_a_guide():
    shown = {path for _, path, _, _ in guide_snippets()}
    examples = {f"examples/{p.name}" for p in EXAMPLES.glob("*.py") if p.name != "hello.py"}
    assert examples <= shown, f"examples no guide shows: {sorted(examples - shown)}"


def write_snippets() -> None:
    """Refresh every snippet in docs/guides from its source region."""
    for guide in sorted(GUIDES.glob("*.md")):
        text = guide.read_text()
        updated = SNIPPET.sub(lambda m: f"<!-- snippet: {m['path']}#{m['name']} -->\n```python\n"
                                        f"{region(m['path'], m['name'])}```", text)
        if updated != text:
            guide.write_text(updated)
            print(f"updated {guide.relative_to(ROOT)}")


if __name__ == "__main__" and "--write-snippets" in sys.argv:
    write_snippets()
