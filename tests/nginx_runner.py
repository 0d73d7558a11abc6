"""nginx, a server not written here, for interop tests: a generated config in a temp dir,
run in the foreground on ephemeral loopback ports, stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        pytest.fail("nginx is not installed: the interop tests need it "
                    "(apt-get update -qq && apt-get install -y -qq nginx-light; tests/run.sh does this)")
    return found


def nginx_config(tmp: Path, servers: str, worker_connections: int = 512) -> str:
    """A whole nginx.conf around ``servers`` (one or more ``server { ... }`` blocks),
    with every path nginx writes kept inside ``tmp``."""
    # As root, nginx's workers switch to "nobody", who cannot read pytest's 0700 temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 10000;
    default_type application/octet-stream;
    types {{ text/plain txt; }}
{servers}
}}
"""


@contextlib.contextmanager
def running_nginx(tmp: Path, config: str, ports: list[int]) -> Iterator[subprocess.Popen]:
    """Start nginx with ``config``, wait until every port in ``ports`` accepts, stop it after."""
    binary = nginx_binary()
    conf = tmp / "nginx.conf"
    conf.write_text(config)
    process = subprocess.Popen([binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                        log = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
                        pytest.fail(f"nginx did not start: {output}\n{log}")
                    time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
