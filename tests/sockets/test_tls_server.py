"""HTTPS served directly: --certfile/--keyfile, curl and greenhttp's client as clients."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import textwrap
import time

import pytest

from cli_runner import CLI, start, write_app

APP = textwrap.dedent('''
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/file":
            f = open(__file__, "rb")
            start_response("200 OK", [("Content-Type", "text/plain")])
            return environ["wsgi.file_wrapper"](f)
        if path == "/upload":
            n = len(environ["wsgi.input"].read())
            start_response("200 OK", [])
            return [b"got %d %s" % (n, environ["wsgi.url_scheme"].encode())]
        if path == "/stream":
            start_response("200 OK", [])
            return (b"chunk%d;" % i for i in range(3))
        start_response("200 OK", [])
        return [environ["wsgi.url_scheme"].encode()]
''')


@pytest.fixture
def https_files(ca, tmp_path):
    """(certificate chain, key) files for localhost and 127.0.0.1."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(cert_path), append=True)
    return str(cert_path), str(key_path)


@pytest.fixture
def https(https_files, ca_file, tmp_path):
    cert_path, key_path = https_files
    server = start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--certfile", cert_path,
                   "--keyfile", key_path, "--head-timeout", "1")
    yield server
    code, err = server.stop()
    assert code == 0, err


def curl(ca_file, *args):
    out = subprocess.run(["curl", "-sS", "--cacert", ca_file, *args], capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_curl_keep_alive_upload_stream_and_file(https, ca_file, tmp_path):
    assert https.url.startswith("https://127.0.0.1:")
    url = https.url
    # Two URLs on one curl run reuse the connection (keep-alive through TLS).
    assert curl(ca_file, url + "/", url + "/stream") == b"httpschunk0;chunk1;chunk2;"
    (tmp_path / "big").write_bytes(b"x" * 300_000)
    assert curl(ca_file, "-T", str(tmp_path / "big"), "-H", "Transfer-Encoding: chunked",
                url + "/upload") == b"got 300000 https"
    # wsgi.file_wrapper under TLS: plain writes, the bytes arrive encrypted and intact.
    assert curl(ca_file, url + "/file") == (tmp_path / "app.py").read_bytes()


def test_greenhttp_client_and_pipelining_and_alpn(https, ca_file):
    import greenhttp

    context = ssl.create_default_context(cafile=ca_file)
    with greenhttp.Client(verify=ca_file) as client:
        assert client.get(https.url + "/").content == b"https"
    context.set_alpn_protocols(["h2", "http/1.1"])
    port = int(https.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2 and data.endswith(b"0\r\n\r\n")


def test_silent_client_is_dropped_after_head_timeout(https, ca_file):
    port = int(https.url.rsplit(":", 1)[1])
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as raw:  # never starts a handshake
        raw.settimeout(5)
        assert raw.recv(10) == b""
    assert time.monotonic() - began < 3
    assert curl(ca_file, https.url + "/") == b"https"  # and others were served meanwhile


def _serve_with_client_certs(ca, ca_file, tmp_path, policy):
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    return start(write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--certfile", str(cert_path),
                 "--keyfile", str(key_path), "--ca-certs", ca_file, "--cert-reqs", policy)


@pytest.mark.parametrize("policy", ["required", "2", "optional"])
def test_cert_reqs_client_certificates(ca, ca_file, tmp_path, policy):
    import trustme

    client = ca.issue_cert("client@example.test")  # issued by the CA the server trusts
    client_pem = tmp_path / "client.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(client_pem))
    stranger = trustme.CA().issue_cert("stranger@example.test")  # a CA the server does not trust
    stranger_pem = tmp_path / "stranger.pem"
    stranger.private_key_and_cert_chain_pem.write_to_path(str(stranger_pem))
    server = _serve_with_client_certs(ca, ca_file, tmp_path, policy)
    try:
        assert curl(ca_file, "--cert", str(client_pem), server.url + "/") == b"https"
        bad = subprocess.run(["curl", "-sS", "--cacert", ca_file, "--cert", str(stranger_pem),
                              server.url + "/"], capture_output=True, timeout=10)
        assert bad.returncode != 0 and bad.stdout == b""  # an untrusted certificate never gets in
        anonymous = subprocess.run(["curl", "-sS", "--cacert", ca_file, server.url + "/"],
                                   capture_output=True, timeout=10)
        if policy == "optional":
            assert anonymous.returncode == 0 and anonymous.stdout == b"https"
        else:
            assert anonymous.returncode != 0 and anonymous.stdout == b""
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_cert_reqs_without_ca_certs_is_refused_at_start(ca, tmp_path):
    cert = ca.issue_cert("localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "both.pem"))
    result = subprocess.run([*CLI, write_app(tmp_path, APP), "-b", "127.0.0.1:0", "--certfile",
                             str(tmp_path / "both.pem"), "--cert-reqs", "required"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "greenhttp: error: --cert-reqs optional/required needs --ca-certs to verify clients against"]


def _mapped(pid: int, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` appear in the paths of the files ``pid`` has mapped (its .so)."""
    with open(f"/proc/{pid}/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    return {name for name in names if any(name in path for path in paths)}


def test_master_maps_no_gevent_nor_ssl_while_its_workers_serve_tls(https_files, ca_file,
                                                                   world_readable_dir):
    """The light master (greenhttp.server.workers): no gevent, greenlet or ssl loaded in it,
    with TLS, two workers (so a progress store in the master) and --user: the workers build
    the context from a root-only key before they drop privileges."""
    cert_path, key_path = https_files
    os.chmod(key_path, 0o600)
    app_dir = world_readable_dir  # the workers run as nobody and must read the app
    write_app(app_dir, APP)
    os.chmod(app_dir / "app.py", 0o644)
    server = start(str(app_dir / "app.py"), "-b", "127.0.0.1:0", "-w", "2", "--certfile", cert_path,
                   "--keyfile", key_path, "--user", "nobody")
    try:
        workers = server.wait_workers(2)
        assert curl(ca_file, server.url.replace("127.0.0.1", "localhost") + "/",
                    "--resolve", f"localhost:{server.url.rsplit(':', 1)[1]}:127.0.0.1") == b"https"
        watched = ("gevent", "greenlet", "_ssl")
        assert _mapped(workers[0], watched) == set(watched)  # the check sees them where they are
        assert _mapped(server.proc.pid, watched) == set()
    finally:
        code, err = server.stop()
    assert code == 0, err


def test_unreadable_certificate_is_one_line_at_start(https_files, tmp_path):
    cert_path, _ = https_files
    for args, message in [
        (["--certfile", str(tmp_path / "missing.pem")],
         f"greenhttp: error: cannot load certificate {str(tmp_path / 'missing.pem')!r}: "
         "[Errno 2] No such file or directory"),
        (["--certfile", cert_path, "--keyfile", cert_path],  # readable, but no key in it
         "greenhttp: error: cannot load certificate"),
    ]:
        result = subprocess.run([*CLI, write_app(tmp_path, APP), "-b", "127.0.0.1:0", *args],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 1 and result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(message), line
