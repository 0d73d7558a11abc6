"""``greenhttp proxy`` as a separate process: argument checks, routes, the forward mode
with curl -x, a 502 log line, and 200 MiB each way through it in bounded memory."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import gevent
import pytest

import greenhttp
from greenhttp.cli.proxy import build_app, build_parser
from conftest import read_one_response

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def cli_app(*argv: str) -> Any:
    return build_app(build_parser().parse_args(list(argv)))


def test_arguments_are_checked():
    from greenhttp.cli.command import CLIError

    with pytest.raises(CLIError, match="no routes"):
        cli_app()
    with pytest.raises(CLIError, match="--forward needs at least one --allow"):
        cli_app("--forward")
    with pytest.raises(CLIError, match="add --forward"):
        cli_app("--allow", "example.com:443", "/=http://127.0.0.1:9")
    with pytest.raises(CLIError, match="PREFIX=URL"):
        cli_app("/api")
    with pytest.raises(CLIError, match="http:// or https://"):
        cli_app("/=ftp://x")
    with pytest.raises(CLIError, match="HOST:PORT"):
        cli_app("--forward", "--allow", "example.com")
    with pytest.raises(CLIError, match="USER:PASSWORD"):
        cli_app("--forward", "--allow", "*:*", "--auth", "nocolon")
    assert isinstance(cli_app("/=http://127.0.0.1:9"), greenhttp.ReverseProxy)
    forward = cli_app("--forward", "--allow", "*:443", "/=http://127.0.0.1:9")
    assert isinstance(forward, greenhttp.ForwardProxy) and isinstance(forward.app, greenhttp.ReverseProxy)


def test_upstream_settings_from_flags_then_environment_then_declarations(monkeypatch):
    from greenhttp.cli.command import CLIError
    from greenhttp.settings import default

    reverse = cli_app("/=http://127.0.0.1:9")
    assert (reverse.timeout.connect, reverse.timeout.read, reverse.pool.max_per_host) == (
        default("proxy_connect_timeout"), default("proxy_read_timeout"), default("proxy_max_per_host"))
    monkeypatch.setenv("GREENHTTP_PROXY_READ_TIMEOUT", "7.5")
    monkeypatch.setenv("GREENHTTP_PROXY_TUNNEL_IDLE_TIMEOUT", "12")
    forward = cli_app("--forward", "--allow", "*:*", "--connect-timeout", "2", "--max-per-host", "3")
    assert (forward.timeout.connect, forward.timeout.read, forward.timeout.write) == (2.0, 7.5, 7.5)
    assert forward.connect_timeout == 2.0 and forward.tunnel_idle_timeout == 12.0
    assert forward.pool.max_per_host == 3
    monkeypatch.setenv("GREENHTTP_PROXY_MAX_PER_HOST", "0")
    with pytest.raises(CLIError, match="GREENHTTP_PROXY_MAX_PER_HOST='0': must be a positive integer"):
        cli_app("/=http://127.0.0.1:9")


def run_cli(*argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "greenhttp", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_help_and_one_line_errors():
    shown = run_cli("proxy", "--help")
    assert shown.returncode == 0
    for flag in ("PREFIX=URL", "--forward", "--allow", "--auth", "--bind", "--port", "--no-access-log",
                 "--max-body-size", "--read-timeout"):
        assert flag in shown.stdout, flag
    failed = run_cli("proxy", "--forward")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        "greenhttp: error: --forward needs at least one --allow HOST:PORT (--allow '*:*' allows "
        "every destination, deliberately)"]


# -- a running proxy process ---------------------------------------------------------------------


def block(i: int) -> bytes:
    return hashlib.sha256(b"block %d" % i).digest() * 32768  # 1 MiB


def generated(size: int) -> Iterator[bytes]:
    for offset in range(0, size, MIB):
        yield block(offset // MIB)[:size - offset]


def digest_of(size: int) -> str:
    digest = hashlib.sha256()
    for piece in generated(size):
        digest.update(piece)
    return digest.hexdigest()


def upstream_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/download":
        size = int(environ["QUERY_STRING"])
        start_response("200 OK", [("Content-Length", str(size))])
        return generated(size)
    if path == "/upload":
        digest = hashlib.sha256()
        for chunk in environ["greenhttp.body"]:
            digest.update(chunk)
        data = f"{environ['greenhttp.body'].received} {digest.hexdigest()}".encode()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]
    data = f"{environ['REQUEST_METHOD']} {environ['REQUEST_URI']} via={environ.get('HTTP_VIA')}".encode()
    start_response("200 OK", [("Content-Length", str(len(data)))])
    return [data]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class ProxyProcess:
    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        self.url = url


@pytest.fixture(scope="module")
def upstream() -> Iterator[greenhttp.Server]:
    server = greenhttp.Server(upstream_app, port=0, access_log=False)
    server.start()
    yield server
    server.stop(timeout=1)


@pytest.fixture(scope="module")
def proxy_process(upstream) -> Iterator[ProxyProcess]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    up_port = upstream.address[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "greenhttp", "proxy", "-p", "0", "--no-access-log",
         "--forward", "--allow", f"127.0.0.1:{up_port}", "--auth", "u:p",
         f"/dead=http://127.0.0.1:{dead}", f"/=http://127.0.0.1:{up_port}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            process.kill()
            pytest.fail(f"greenhttp proxy did not start: {url!r} {process.stderr.read() if process.stderr else ''}")
        yield ProxyProcess(process, url)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_routes_and_the_forward_mode_with_curl(proxy_process, upstream):
    with greenhttp.Pool() as own:
        assert greenhttp.get(proxy_process.url + "/x?y=1", pool=own).content == b"GET /x?y=1 via=1.1 greenhttp"
    target = f"http://127.0.0.1:{upstream.address[1]}/fwd"
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "-x", proxy_process.url, "-U", "u:p", target],
                            capture_output=True, timeout=20)
    assert result.returncode == 0 and result.stdout == b"GET /fwd via=1.1 greenhttp", result
    denied = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy_process.url,
                             target], capture_output=True, timeout=20)
    assert denied.stdout == b"407"


def test_a_dead_upstream_is_a_502_and_one_log_line(proxy_process):
    with greenhttp.Pool() as own:
        response = greenhttp.get(proxy_process.url + "/dead/x", pool=own)
    assert response.status == 502
    stderr = proxy_process.process.stderr
    assert stderr is not None
    lines: list[str] = []
    with gevent.Timeout(5, AssertionError(f"no 502 line on stderr: {lines}")):
        while not lines or "502" not in lines[-1]:
            lines.append(stderr.readline())
    assert '"GET /dead/x"' in lines[-1] and "refused" in lines[-1], lines


def test_200_mib_each_way_in_bounded_memory(proxy_process):
    size = 200 * MIB + 7
    before = peak_rss_mib(proxy_process.process.pid)
    started = time.monotonic()
    with greenhttp.Pool() as own:
        digest = hashlib.sha256()
        with greenhttp.get(f"{proxy_process.url}/download?{size}", stream=True, pool=own, timeout=30) as response:
            for chunk in response.body:
                digest.update(chunk)
        assert response.body.received == size and digest.hexdigest() == digest_of(size)
        uploaded = greenhttp.post(proxy_process.url + "/upload", body=generated(size), pool=own, timeout=30)
        assert uploaded.content == f"{size} {digest_of(size)}".encode()
    elapsed = time.monotonic() - started
    peak = peak_rss_mib(proxy_process.process.pid)
    # The proxy holds about one 1 MiB chunk per direction; 400 MiB went through it.
    assert peak - before < 24 and peak < 80, f"proxy peak RSS {before:.0f} -> {peak:.0f} MiB"
    print(f"\n400 MiB through `greenhttp proxy` in {elapsed:.1f} s, proxy peak RSS {before:.0f} -> {peak:.0f} MiB")


# -- issue 14: upstream TLS options (--upstream-ca, --upstream-verify, --upstream-cert/-key) ---


def tls_origin(ca: Any, require_client_cert: bool) -> Any:
    """An HTTPS upstream on a trustme certificate; answers with the client certificate's
    subject (or "anonymous"), optionally refusing clients without one."""
    import ssl

    import gevent.server

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)

    def handle(sock: Any, address: Any) -> None:
        try:
            while sock.recv(65536).find(b"\r\n\r\n") < 0:
                pass
        except OSError:
            return
        peer = sock.getpeercert()
        who = dict(x[0] for x in peer["subject"]).get("commonName", "?") if peer else "anonymous"
        body = who.encode()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        sock.close()

    return gevent.server.StreamServer(("127.0.0.1", 0), handle, ssl_context=context)


def test_forward_proxy_upstream_tls_options_for_absolute_form_https(serve, ca, ca_file):
    # `greenhttp proxy --forward` hands --upstream-* to the requests it opens itself.
    origin = tls_origin(ca, require_client_cert=False)
    origin.start()
    allow = f"localhost:{origin.server_port}"
    target = f"https://localhost:{origin.server_port}/x"
    try:
        for argv, status in (([], 502), (["--upstream-ca", ca_file], 200)):
            with serve(cli_app("--forward", "--allow", allow, *argv)) as front:
                with socket.create_connection(front.address, timeout=5) as sock:
                    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {allow}\r\n"
                                 "Connection: close\r\n\r\n".encode())
                    head, _, body = read_one_response(sock)
                assert head.startswith(b"HTTP/1.1 %d" % status), (argv, head)
                if status == 200:
                    assert body == b"anonymous"
    finally:
        origin.stop()


def test_reverse_proxy_upstream_tls_options(serve, ca, ca_file, tmp_path):
    from greenhttp.cli.command import CLIError

    origin = tls_origin(ca, require_client_cert=False)
    origin.start()
    route = f"/=https://localhost:{origin.server_port}"
    try:
        for argv, status in (([], 502), (["--upstream-ca", ca_file], 200),
                             (["--upstream-verify", "off"], 200)):
            with serve(cli_app(route, *argv)) as front:
                r = greenhttp.get(front.url + "/x", pool=greenhttp.Pool())
                assert r.status == status, (argv, r.text)
                if status == 200:
                    assert r.text == "anonymous"
    finally:
        origin.stop()
    with pytest.raises(CLIError, match="no such file"):
        cli_app(route, "--upstream-ca", str(tmp_path / "missing.pem"))
    with pytest.raises(CLIError, match="contradict"):
        cli_app(route, "--upstream-ca", ca_file, "--upstream-verify", "off")
    with pytest.raises(CLIError, match="needs --upstream-cert"):
        cli_app(route, "--upstream-key", ca_file)


def test_reverse_proxy_presents_a_client_certificate(serve, ca, ca_file, tmp_path, monkeypatch):
    client_cert = ca.issue_cert("proxy-client.example", common_name="proxy-client.example")
    combined = tmp_path / "client.pem"
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(combined))
    cert_only, key_only = tmp_path / "cert.pem", tmp_path / "key.pem"
    client_cert.cert_chain_pems[0].write_to_path(str(cert_only))
    client_cert.private_key_pem.write_to_path(str(key_only))
    origin = tls_origin(ca, require_client_cert=True)
    origin.start()
    route = f"/=https://localhost:{origin.server_port}"
    try:
        with serve(cli_app(route, "--upstream-ca", ca_file)) as front:
            assert greenhttp.get(front.url + "/", pool=greenhttp.Pool()).status == 502
        with serve(cli_app(route, "--upstream-ca", ca_file, "--upstream-cert", str(combined))) as front:
            r = greenhttp.get(front.url + "/", pool=greenhttp.Pool())
            assert (r.status, r.text) == (200, "proxy-client.example")
        monkeypatch.setenv("GREENHTTP_PROXY_UPSTREAM_CA", ca_file)
        monkeypatch.setenv("GREENHTTP_PROXY_UPSTREAM_CERT", str(cert_only))
        with serve(cli_app(route, "--upstream-key", str(key_only))) as front:
            assert greenhttp.get(front.url + "/", pool=greenhttp.Pool()).text == "proxy-client.example"
    finally:
        origin.stop()
