"""-b specs, unix sockets, fd:// and systemd socket activation, with the real command."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from cli_runner import CLI, ROOT, start
from greenhttp.errors import CLIError
from greenhttp.server.binding import BindSpec, parse_bind

GET = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("spec, expected", [
    ("127.0.0.1", BindSpec("tcp", "127.0.0.1", 9000)),
    ("127.0.0.1:8110", BindSpec("tcp", "127.0.0.1", 8110)),
    (":8110", BindSpec("tcp", "0.0.0.0", 8110)),
    ("[::1]:8110", BindSpec("tcp", "::1", 8110)),
    ("::1", BindSpec("tcp", "::1", 9000)),
    ("unix:/run/app.sock", BindSpec("unix", path="/run/app.sock")),
    ("fd://3", BindSpec("fd", fd=3)),
])
def test_parse_bind(spec, expected):
    assert parse_bind(spec, 9000) == expected


def test_parse_bind_refuses_nonsense():
    with pytest.raises(CLIError, match="port 'http' is not a number"):
        parse_bind("127.0.0.1:http", 80)


def fetch_unix(path: str) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(GET)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_tcp_ipv6_and_unix_listeners_at_once(tmp_path):
    path = str(tmp_path / "app.sock")
    server = start("examples/hello.py", "-b", "127.0.0.1:0", "-b", "[::1]:0", "-b", f"unix:{path}",
                   lines=3)
    try:
        assert server.urls[0].startswith("http://127.0.0.1:") and server.urls[1].startswith("http://[::1]:")
        assert server.urls[2] == f"unix:{path}"
        assert oct(os.stat(path).st_mode & 0o777) == "0o660"
        assert fetch_unix(path).startswith(b"HTTP/1.1 200")
        port6 = int(server.urls[1].rsplit(":", 1)[1])
        with socket.create_connection(("::1", port6)) as sock:
            sock.sendall(GET)
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        code, err = server.stop()
    assert code == 0 and not os.path.exists(path), err


def test_stale_unix_socket_is_replaced(tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a crashed server leaves
    server = start("examples/hello.py", "-b", f"unix:{path}")
    try:
        assert fetch_unix(path).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


def test_port_env_and_p_flag():
    env = dict(os.environ, PORT="0")
    server = start("examples/hello.py", env=env)
    try:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":8080")
    finally:
        server.stop()


def test_fd_and_systemd_socket_activation():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    def as_systemd_does() -> None:  # in the child: the socket as fd 3, LISTEN_PID = our pid
        os.dup2(fd, 3)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())

    proc = subprocess.Popen(CLI + ["examples/hello.py"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, pass_fds=(3,),
                            preexec_fn=as_systemd_does)
    try:
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(GET)
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0
    proc = subprocess.Popen(CLI + ["examples/hello.py", "-b", f"fd://{fd}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(fd,))
    try:
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        listener.close()
