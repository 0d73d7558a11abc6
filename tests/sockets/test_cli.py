"""The `greenhttp` command as a user runs it: a subprocess, real ports, curl as the client."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time

import gevent
import pytest
import requests

import cli_runner

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "greenhttp"]


def start(*args, cwd=ROOT, env=None):
    """``greenhttp ARGS -p 0``, once it prints its URL (cli_runner.start does the waiting)."""
    server = cli_runner.start(*args, "-p", "0", cwd=cwd, env=env)
    if not server.url.startswith("http://"):
        server.kill()
        raise AssertionError(f"no URL line; stdout={server.url!r}")
    return server


def run(*args, cwd=ROOT, timeout=20):
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def hello_server():
    server = start("examples/hello.py")
    yield server
    server.stop(sig=signal.SIGKILL)


def test_prints_url_and_serves_curl(hello_server):
    out = subprocess.run(["curl", "-sS", "-i", hello_server.url + "/?name=curl"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("HTTP/1.1 200 OK") and out.stdout.endswith("Hello, curl!\n")


COUNT_APP = textwrap.dedent('''
    def app(environ, start_response):
        body = environ["greenhttp.body"]
        size = sum(len(chunk) for chunk in body)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d %s" % (size, environ.get("HTTP_EXPECT", "-").encode())]
''')


def test_curl_keep_alive_chunked_upload_and_expect_continue(tmp_path):
    (tmp_path / "count.py").write_text(COUNT_APP)
    server = start(str(tmp_path / "count.py"))
    big = tmp_path / "big"
    big.write_bytes(b"b" * (2 * 1024 * 1024))
    try:
        # curl sends Expect: 100-continue for large bodies, waits for the 100, and reuses
        # the connection for the second URL.
        out = subprocess.run(["curl", "-sS", "-v", "--data-binary", f"@{big}", server.url + "/a", "--next",
                              "--data-binary", f"@{big}", server.url + "/b"],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "2097152 100-continue" * 2
        assert "< HTTP/1.1 100 Continue" in out.stderr
        assert "Re-using existing connection" in out.stderr or "Reusing existing" in out.stderr
        out = subprocess.run(["curl", "-sS", "-H", "Transfer-Encoding: chunked", "-H", "Expect:",
                              "--data-binary", f"@{big}", server.url], capture_output=True, text=True,
                             timeout=10)
        assert out.stdout == "2097152 -"
    finally:
        server.stop()


def test_access_log_line_per_request_escaped(tmp_path):
    server = start("examples/hello.py")
    try:
        with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as sock:
            sock.sendall(b'GET /q"uote\\back HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
            while sock.recv(4096):
                pass
    finally:
        code, err = server.stop()
    lines = [line for line in err.splitlines() if "HTTP/1.1" in line]
    assert len(lines) == 1
    assert '"GET /q\\"uote\\\\back HTTP/1.1" 200 14 ' in lines[0] and lines[0].startswith("127.0.0.1:")
    assert code == 0


def test_no_access_log():
    server = start("examples/hello.py", "--no-access-log")
    requests.get(server.url)
    code, err = server.stop()
    assert "GET /" not in err and code == 0


BLOCKING_APP = textwrap.dedent('''
    import socket
    import time

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/sleep":
            time.sleep(0.5)              # plain stdlib sleep: the app knows nothing of gevent
        else:
            port = int(environ["QUERY_STRING"])
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.recv(10)               # a blocking socket read the slow peer answers in 0.5 s
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]
''')


def test_blocking_app_code_is_served_concurrently(tmp_path):
    (tmp_path / "blocking_app.py").write_text(BLOCKING_APP)
    slow_peer = socket.socket()
    slow_peer.bind(("127.0.0.1", 0))
    slow_peer.listen(50)

    def answer_slowly():
        while True:
            conn, _ = slow_peer.accept()
            gevent.spawn(lambda c: (gevent.sleep(0.5), c.sendall(b"x"), c.close()), conn)

    acceptor = gevent.spawn(answer_slowly)
    server = start(str(tmp_path / "blocking_app.py"))
    try:
        n = 10
        started = time.monotonic()
        jobs = [gevent.spawn(requests.get, server.url + "/sleep") for _ in range(n)]
        jobs += [gevent.spawn(requests.get, server.url + f"/sock?{slow_peer.getsockname()[1]}")
                 for _ in range(n)]
        gevent.joinall(jobs, timeout=15)
        elapsed = time.monotonic() - started
        assert all(job.value is not None and job.value.text == "done" for job in jobs)
        # Serially this is 2 * 10 * 0.5 s = 10 s; concurrently about 0.5 s.
        assert elapsed < 3.0, f"{2 * n} blocking requests took {elapsed:.2f}s"
    finally:
        server.stop(sig=signal.SIGKILL)
        acceptor.kill()
        slow_peer.close()


def test_module_colon_name_form(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "web.py").write_text(textwrap.dedent('''
        def make(environ, start_response):
            start_response("200 OK", [])
            return [b"from module"]
        application = make
    '''))
    server = start("mypkg.web:make", cwd=tmp_path)
    try:
        assert requests.get(server.url).text == "from module"
    finally:
        server.stop()
    server = start("mypkg/web.py", cwd=tmp_path)  # falls back to `application`
    try:
        assert requests.get(server.url).text == "from module"
    finally:
        server.stop()


def test_sigterm_lets_in_flight_request_finish_then_exits_zero(tmp_path):
    (tmp_path / "slow.py").write_text(textwrap.dedent('''
        import pathlib, time
        def app(environ, start_response):
            pathlib.Path(__file__).with_name("in-app").touch()  # the request is in flight
            time.sleep(0.5)
            start_response("200 OK", [])
            return [b"finished"]
    '''))
    server = start(str(tmp_path / "slow.py"))
    job = gevent.spawn(requests.get, server.url)
    # SIGTERM once the app has the request (a fixed sleep raced a loaded machine).
    deadline = time.monotonic() + 5
    while not (tmp_path / "in-app").exists() and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert (tmp_path / "in-app").exists()
    server.proc.send_signal(signal.SIGTERM)
    response = job.get(timeout=5)
    assert response.text == "finished"
    code, err = server.stop()
    assert code == 0 and "SIGTERM" in err


def test_sigint_closes_idle_keep_alive_and_exits_zero():
    server = start("examples/hello.py")
    session = requests.Session()
    assert session.get(server.url).status_code == 200  # leaves an idle keep-alive connection
    started = time.monotonic()
    code, _ = server.stop(sig=signal.SIGINT)
    assert code == 0 and time.monotonic() - started < 3


@pytest.mark.parametrize("args, message", [
    (["nosuch.py"], "greenhttp: error: no such file: nosuch.py"),
    (["examples/hello.py:nope"], "greenhttp: error: examples/hello.py has no attribute nope"),
    (["no_such_module:app"], "greenhttp: error: no module named 'no_such_module'"),
    (["examples/hello.py", "-p", "http"], "greenhttp: error: argument -p/--port: invalid value 'http'"),
    (["examples/hello.py", "--keepalive-timeout", "-1"], "must be a positive number"),
    (["examples/hello.py", "-w", "banana"], "must be a positive integer or 'auto'"),
    ([], "the following arguments are required: APP"),
])
def test_bad_arguments_one_clear_line(args, message):
    result = run(*args)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_app_that_fails_to_import_shows_its_traceback(tmp_path):
    (tmp_path / "broken.py").write_text("import json\nraise RuntimeError('broken at import')\n")
    result = run(str(tmp_path / "broken.py"), "-p", "0")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: broken at import" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("greenhttp: error: failed to import")


def test_port_in_use_is_one_line():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        result = run("examples/hello.py", "-p", str(port))
    finally:
        holder.close()
    assert result.returncode == 1
    assert result.stderr.strip() == f"greenhttp: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_version_and_help():
    from greenhttp import __version__

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"greenhttp {__version__}"
    result = run("--help")
    assert result.returncode == 0 and "--max-body-size" in result.stdout


def test_settings_from_environment():
    env = dict(os.environ, GREENHTTP_MAX_REQUEST_LINE="20")
    server = start("examples/hello.py", env=env)
    try:
        assert requests.get(server.url + "/" + "a" * 40).status_code == 414
        assert requests.get(server.url + "/short").status_code == 200
    finally:
        server.stop()


def test_bin_launcher_runs_from_checkout():
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "greenhttp"), "--version"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0 and result.stdout.startswith("greenhttp ")


def test_module_form_app_that_raises_on_import(tmp_path):
    pkg = tmp_path / "badpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "web.py").write_text("import missing_dependency_xyz\n")
    result = run("badpkg.web:app", cwd=tmp_path)
    assert result.returncode == 1
    assert "ModuleNotFoundError" in result.stderr and "missing_dependency_xyz" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "greenhttp: error: failed to import badpkg.web:app (traceback above)"
    (pkg / "web.py").write_text("raise ValueError('config missing')\n")
    result = run("badpkg.web:app", cwd=tmp_path)
    assert "ValueError: config missing" in result.stderr and result.returncode == 1


# -- nothing that touches a socket is imported before gevent patches ------------------------------

# Runs greenhttp.cli.main(argv) with spies on greenhttp.server.patching.patch_gevent (where
# every patching process patches: a worker, or the process of a client verb) and on the
# worker's whole life (Arbiter._worker), and writes the modules loaded at each point as a
# JSON line to $PROBE_OUT: "at_patch" (patching starts), "worker_end" (a worker is done
# serving), "end" (main returned). The spies are tiny and import no gevent.
IMPORT_PROBE = textwrap.dedent('''
    import json, os, sys
    from greenhttp.server import patching, workers

    def record(what):
        with open(os.environ["PROBE_OUT"], "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "what": what, "modules": sorted(sys.modules)}) + "\\n")

    patch_gevent = patching.patch_gevent
    def spy():
        record("at_patch")
        patch_gevent()
    patching.patch_gevent = spy

    serve = workers.Arbiter._worker
    def serve_spy(self, slot):
        try:
            return serve(self, slot)
        finally:
            record("worker_end")
    workers.Arbiter._worker = serve_spy

    from greenhttp.cli import main
    status = main(sys.argv[1:])
    record("end")
    sys.exit(status)
''')

# Modules that must not exist before patching: greenhttp's client side (it opens sockets,
# and used to build module-level Clients), the proxy and REPL built on it, the serving
# stack, and modules that bind socket or ssl names at import. (The master's own modules,
# socket and greenhttp.server.workers/binding/heartbeat among them, are in a worker
# before it patches: they use socket.socket at call time, and the listeners they made are
# wrapped as gevent sockets by the worker.)
TOO_EARLY = ("greenhttp.client", "greenhttp.proxy", "greenhttp.repl", "greenhttp.progress",
             "greenhttp.server.listener", "greenhttp.server.connection", "greenhttp.server.worker",
             "greenhttp.server.wsgi", "greenhttp.server.tls", "greenhttp.protocol", "requests",
             "urllib3", "ssl", "http.client")
# Serving a plain app needs none of the client side at all.
NOT_FOR_SERVING = ("greenhttp.client", "greenhttp.proxy", "greenhttp.repl", "greenhttp.progress")
# The master serves nothing: no gevent, no patching, no serving stack, no ssl.
NOT_IN_MASTER = ("gevent", "greenlet", "ssl", "greenhttp.server.listener", "greenhttp.server.worker",
                 "greenhttp.protocol", "greenhttp.client", "greenhttp.proxy", "httptools")


def _matching(modules, prefixes):
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def _probe(tmp_path, *argv, request=None):
    """Run the CLI under IMPORT_PROBE; a serving verb gets ``-p 0``, ``request`` (raw bytes)
    once it listens, then SIGTERM. Returns {"what" (of the master/only process) or
    "worker:what": modules} and the process's pid."""
    import json

    serving = argv[0] != "get"
    out = tmp_path / "probe.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", IMPORT_PROBE, *argv, *(["-p", "0"] if serving else [])],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PROBE_OUT": str(out)})
    try:
        if serving:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://"), proc.stderr.read()
            if request is not None:
                with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock:
                    sock.sendall(request)
                    assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    seen = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        prefix = "" if record["pid"] == proc.pid else "worker:"
        seen[prefix + record["what"]] = record["modules"]
    return seen


def test_nothing_socket_bound_is_imported_before_patching_and_serving_imports_no_client(tmp_path):
    (tmp_path / "plain.py").write_text("def app(environ, start_response):\n"
                                       "    start_response('200 OK', [('Content-Length', '2')])\n"
                                       "    return [b'ok']\n")
    seen = _probe(tmp_path, str(tmp_path / "plain.py"), "--no-access-log",
                  request=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert "at_patch" not in seen, "the master patched"
    assert _matching(seen["end"], NOT_IN_MASTER) == []
    assert _matching(seen["worker:at_patch"], TOO_EARLY) == []
    assert _matching(seen["worker:worker_end"], NOT_FOR_SERVING) == []
    assert "greenhttp.server.listener" in seen["worker:worker_end"]  # the probe saw the serving modules


def test_proxy_master_imports_nothing_and_its_workers_patch_first(tmp_path):
    seen = _probe(tmp_path, "proxy", "/=http://127.0.0.1:9")
    assert "at_patch" not in seen and _matching(seen["end"], NOT_IN_MASTER) == []
    assert _matching(seen["worker:at_patch"], TOO_EARLY) == []
    assert "greenhttp.proxy" in seen["worker:worker_end"]


def test_client_verbs_are_imported_after_patching(tmp_path):
    seen = _probe(tmp_path, "get", "--curl", "http://127.0.0.1:9/")
    assert _matching(seen["at_patch"], TOO_EARLY) == []
    assert "greenhttp.repl" in seen["end"]
