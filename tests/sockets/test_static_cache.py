"""The per-path cache of greenhttp.static (cache.py): what changes within the validity
window, what never does (a file the walk did not check, a path outside the root), and
that the window ends. Real sockets, real files, a short window to keep it quick."""

import os
import time

from conftest import raw_exchange
from greenhttp.static import Files

SECRET = b"TOP-SECRET-outside-the-root"
WINDOW = 0.3
BIG = b"b" * 100_000  # above SMALL_BODY: not cached in memory, reopened per request


def get(server, path: bytes) -> bytes:
    return raw_exchange(server.address, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


def test_small_file_served_from_memory_within_the_window_only(serve, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"first")
    with serve(Files(str(tmp_path), cache_valid=WINDOW)) as server:
        assert get(server, b"/a.txt").endswith(b"\r\n\r\nfirst")
        os.unlink(tmp_path / "a.txt")
        # Within the window the checked content is still served (the documented window) ...
        assert get(server, b"/a.txt").endswith(b"\r\n\r\nfirst")
        time.sleep(WINDOW + 0.05)
        # ... and never after it: the next request walks the path again.
        assert get(server, b"/a.txt").startswith(b"HTTP/1.1 404")


def test_symlink_out_never_served(serve, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "small.txt").write_bytes(b"small")
    (root / "big.bin").write_bytes(BIG)
    with serve(Files(str(root), cache_valid=WINDOW)) as server:
        assert get(server, b"/small.txt").endswith(b"small")
        assert get(server, b"/big.bin").endswith(BIG)
        for name in ("small.txt", "big.bin"):
            os.unlink(root / name)
            os.symlink(tmp_path / "secret.txt", root / name)
        inside = [get(server, b"/small.txt"), get(server, b"/big.bin")]
        time.sleep(WINDOW + 0.05)
        after = [get(server, b"/small.txt"), get(server, b"/big.bin")]
    assert inside[0].endswith(b"small")  # the content checked before the change
    assert inside[1].startswith(b"HTTP/1.1 404")  # reopened: not the checked inode
    assert all(r.startswith(b"HTTP/1.1 404") and SECRET not in r for r in after)


def test_big_file_replaced_within_the_window_is_walked_again(serve, tmp_path):
    (tmp_path / "big.bin").write_bytes(BIG)
    with serve(Files(str(tmp_path), cache_valid=60)) as server:
        first = get(server, b"/big.bin")
        (tmp_path / "new.bin").write_bytes(b"n" * 100_000)
        os.replace(tmp_path / "new.bin", tmp_path / "big.bin")  # a new inode
        second = get(server, b"/big.bin")
    assert first.endswith(BIG) and second.endswith(b"n" * 100_000)


def test_cached_answers_match_uncached_ones(serve, tmp_path):
    # Every kind of answer, twice through the cache, equals the answer with no cache.
    import gzip
    (tmp_path / "app.js").write_bytes(b"console.log(1);\n" * 40)
    (tmp_path / "app.js.gz").write_bytes(gzip.compress((tmp_path / "app.js").read_bytes()))
    (tmp_path / "big.bin").write_bytes(BIG)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "index.html").write_bytes(b"<p>index</p>")
    requests_ = [b"GET /app.js HTTP/1.1\r\nHost: x\r\n",
                 b"GET /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n",
                 b"HEAD /app.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n",
                 b"GET /app.js HTTP/1.1\r\nHost: x\r\nRange: bytes=3-9\r\n",
                 b"GET /app.js HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,500-600\r\n",
                 b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-20000,90000-\r\n",
                 b"GET /big.bin HTTP/1.1\r\nHost: x\r\n",
                 b"GET /d/ HTTP/1.1\r\nHost: x\r\n",
                 b"GET /d HTTP/1.1\r\nHost: x\r\n"]

    def answers(app):
        with serve(app) as server:
            return [[raw_exchange(server.address, r + b"Connection: close\r\n\r\n") for r in requests_]
                    for _ in range(2)]

    cached, uncached = answers(Files(str(tmp_path))), answers(Files(str(tmp_path), cache_valid=0))

    def strip(response):  # Date and the multipart boundary differ between any two answers
        lines = [line for line in response.split(b"\r\n") if not line.startswith(b"Date:")]
        out = b"\r\n".join(lines)
        if b"boundary=" in out:
            boundary = out.split(b"boundary=")[1].split(b"\r\n")[0]
            out = out.replace(boundary, b"B")
        return out

    for first, second in (cached, uncached):
        assert [strip(r) for r in first] == [strip(r) for r in second]
    assert [strip(r) for r in cached[1]] == [strip(r) for r in uncached[1]]
