"""Shared fixtures. The test process is monkey-patched first, as `greenhttp APP` is, so the
in-process server and blocking test clients (stdlib sockets, http.client, requests)
interleave on one hub over real loopback sockets."""

from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import weakref  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

import pytest  # noqa: E402

import greenhttp  # noqa: E402


@contextlib.contextmanager
def running(app: Callable, **settings: Any) -> Iterator[greenhttp.Server]:
    """A greenhttp Server for ``app`` on an ephemeral loopback port, stopped afterwards."""
    settings.setdefault("port", 0)
    settings.setdefault("access_log", False)
    server = greenhttp.Server(app, **settings)
    server.start()
    try:
        yield server
    finally:
        server.stop(timeout=1.0)


@pytest.fixture
def serve() -> Callable[..., Any]:
    """``with serve(app, **settings) as server:`` (server.url, server.address)."""
    return running


def read_response(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Read from ``sock`` until the peer closes (or ``timeout``)."""
    sock.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def raw_exchange(address: tuple[str, int], data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on a new connection, return everything until the server closes."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock, timeout)


_leftover: "weakref.WeakKeyDictionary[socket.socket, bytes]" = weakref.WeakKeyDictionary()


def read_one_response(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, dict[str, str], bytes]:
    """Read exactly one response (Content-Length, chunked, or bodiless), keeping any bytes
    after it for the next call on the same socket; returns (status line, headers, body)."""
    sock.settimeout(timeout)
    buf = _leftover.pop(sock, b"")

    def more() -> bytes:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed mid-response: {buf!r}")
        return data

    while b"\r\n\r\n" not in buf:
        buf += more()
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode().strip().lower()] = value.decode().strip()
    status = int(lines[0].split()[1])
    if status in (204, 304) or 100 <= status < 200:
        _leftover[sock] = rest
        return lines[0], headers, b""
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            rest += more()
        _leftover[sock] = rest[length:]
        return lines[0], headers, rest[:length]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += more()
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += more()
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                _leftover[sock] = rest
                return lines[0], headers, body
    return lines[0], headers, rest + read_response(sock, timeout)


@pytest.fixture
def pool() -> Iterator[greenhttp.Pool]:
    """A client connection pool of the test's own, closed afterwards."""
    with greenhttp.Pool() as pool:
        yield pool


@pytest.fixture(scope="module")
def ca() -> Any:
    """A throwaway certificate authority (trustme) for TLS tests."""
    import trustme

    return trustme.CA()


@pytest.fixture
def world_readable_dir() -> Iterator[pathlib.Path]:
    """A directory the `nobody` user can read, outside pytest's 0700 base directory
    (which every pytest session, including a concurrent one, resets to 0700)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="greenhttp-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ca_file(ca: Any, tmp_path: Any) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def tls_stream_server(ca: Any, handle: Callable[[Any, Any], None]) -> Any:
    """An (unstarted) gevent TLS server on an ephemeral loopback port, with a certificate
    for ``localhost`` issued by the trustme ``ca``; ``handle(sock, address)`` per client."""
    import ssl

    import gevent.server

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return gevent.server.StreamServer(("127.0.0.1", 0), handle, ssl_context=context)


def block(offset: int) -> bytes:
    """1 MiB of pseudo-random bytes for the MiB that starts at ``offset``."""
    import hashlib

    return hashlib.sha256(b"%d" % offset).digest() * 32768


def big_digest(size: int) -> str:
    """The sha256 of the first ``size`` bytes of ``block(0) + block(1 MiB) + ...``."""
    import hashlib

    digest = hashlib.sha256()
    for i in range(0, size, 1 << 20):
        digest.update(block(i)[:size - i])
    return digest.hexdigest()


class TLSOrigin:
    """An HTTPS server (gevent StreamServer + ssl, a trustme certificate for localhost):
    ``GET /big?N`` answers N pseudo-random bytes (``block``); anything else, the request
    line it got. Reads heads only: a request body is left unread."""

    def __init__(self, ca: Any) -> None:
        self.server = tls_stream_server(ca, self.handle)

    @property
    def port(self) -> int:
        return self.server.server_port

    def handle(self, sock: Any, address: Any) -> None:
        import ssl

        reader = sock.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                target = line.split()[1]
                if target.startswith(b"/big?"):
                    size = int(target[5:])
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
                    for i in range(0, size, 1 << 20):
                        sock.sendall(block(i)[:size - i])
                else:
                    body = line.strip()
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        except (OSError, ssl.SSLError):
            return

    def __enter__(self) -> "TLSOrigin":
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop(timeout=1)


@pytest.fixture(scope="module")
def httpbin() -> Iterator[str]:
    """httpbin under gunicorn (a foreign server), in a subprocess on a free port: its URL."""
    import os
    import re
    import subprocess
    import sys

    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    process = subprocess.Popen([gunicorn, "-b", "127.0.0.1:0", "-w", "1", "httpbin:app"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        url = None
        assert process.stderr is not None
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            match = re.search(r"Listening at: (http://\S+)", line)
            if match:
                url = match.group(1)
            elif not line and process.poll() is not None:
                break
        assert url, "gunicorn did not start"
        yield url
    finally:
        process.terminate()
        process.wait(10)


# -- layers --------------------------------------------------------------------------------

_LAYERS = ("protocol", "replay", "sockets", "interop")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Mark every test with the layer its folder names (tests/<layer>/test_*.py)."""
    for item in items:
        layer = item.path.parent.name
        if layer not in _LAYERS:
            raise pytest.UsageError(f"{item.path}: tests live in a layer folder, tests/{{{','.join(_LAYERS)}}}/")
        item.add_marker(getattr(pytest.mark, layer))


@contextlib.contextmanager
def websockets_peer(close_code: int, close_reason: str) -> Iterator[str]:
    """The `websockets` library's sync server, echoing, in its own process
    (tests/peers/websockets_server.py says why and what it answers). Yields
    ``host:port``."""
    script = pathlib.Path(__file__).parent / "peers" / "websockets_server.py"
    proc = subprocess.Popen([sys.executable, str(script), str(close_code), close_reason],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def raw_websocket(address: tuple[str, int], extra: bytes = b"", path: bytes = b"/ws") -> tuple[socket.socket, bytes]:
    """A WebSocket opened by hand on a plain socket (for crafted frames and silent peers):
    returns the socket and the bytes read past the 101's head."""
    sock = socket.create_connection(address)
    sock.settimeout(5)
    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, rest


def masked_frame(first_byte: int, payload: bytes) -> bytes:
    """One client frame (RFC 6455 §5.2), masked with a zero key so the payload goes as is."""
    n = len(payload)
    if n < 126:
        length = bytes([0x80 | n])
    elif n < 65536:
        length = bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        length = bytes([0x80 | 127]) + struct.pack("!Q", n)
    return bytes([first_byte]) + length + b"\0\0\0\0" + payload


def read_frame(sock: socket.socket, buffered: bytes = b"") -> tuple[bool, int, bytes, bytes]:
    """Read one WebSocket frame (RFC 6455 §5.2) as it is on the wire, unmasking a client's:
    returns FIN, opcode, payload and the bytes read past it (pass them to the next call)."""
    data = buffered
    while True:
        if len(data) >= 2:
            masked, n = data[1] & 0x80, data[1] & 0x7F
            offset = 2
            if n == 126 and len(data) >= 4:
                n, offset = struct.unpack("!H", data[2:4])[0], 4
            elif n == 127 and len(data) >= 10:
                n, offset = struct.unpack("!Q", data[2:10])[0], 10
            key_end = offset + (4 if masked else 0)
            if (data[1] & 0x7F) < 126 or offset > 2:
                if len(data) >= key_end + n:
                    payload = data[key_end:key_end + n]
                    if masked:
                        key = data[offset:key_end]
                        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
                    return bool(data[0] & 0x80), data[0] & 0x0F, payload, data[key_end + n:]
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed inside a frame: {data[:20]!r}")
        data += chunk


# -- headless Chromium (Debian's chromium + chromium-driver; tests/run.sh installs them) -----

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get install -y chromium chromium-driver (tests/run.sh does this as root)"


@pytest.fixture
def browser(tmp_path: pathlib.Path) -> Iterator[Any]:
    """A headless Chromium driven by selenium; given both paths it never downloads a driver."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        pytest.fail(f"the browser test needs {', '.join(missing)}: install Debian's packages with "
                    f"`{INSTALL}`", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    # Given both paths, selenium does not run Selenium Manager (which would try to download).
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
