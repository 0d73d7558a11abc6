"""`greenhttp repl` as a person uses it: a pseudo-terminal (pexpect) against a live greenhttp
server in a subprocess; and the one-shot verbs as scripts use them."""

import fcntl
import json
import os
import pathlib
import re
import shlex
import socket
import struct
import subprocess
import sys
import termios
import textwrap
import time

import pexpect
import pytest
from pexpect import fdpexpect

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "greenhttp"]

APP = textwrap.dedent('''
    import json, time
    import msgpack

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/json":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"hello": "world", "n": [1, 2]}).encode()]
        if path == "/msgpack":
            start_response("200 OK", [("Content-Type", "application/msgpack")])
            return [msgpack.packb({"packed": True, "blob": b"\\x00\\x01"})]
        if path == "/binary":
            start_response("200 OK", [("Content-Type", "image/png")])
            return [b"\\x89PNG\\r\\n\\x1a\\n" + bytes(range(256)) * 40]
        if path == "/stream":
            start_response("200 OK", [("Content-Type", "text/plain")])
            def ticks():
                for i in range(400):
                    yield f"tick {i}\\n".encode()
                    time.sleep(0.05)
            return ticks()
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            start_response(f"{code} Chosen", [("Content-Type", "text/plain")])
            return [b"status body\\n"]
        if path == "/gzip":
            import gzip
            data = gzip.compress("héllo gzip\\n".encode() * 100)
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                      ("Content-Encoding", "gzip"), ("Content-Length", str(len(data)))])
            return [data]
        if path == "/attachment":
            start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                      ("Content-Disposition", 'attachment; filename="../report.bin"')])
            return [bytes(range(256)) * 4]
        if path == "/basic":
            import base64
            good = "Basic " + base64.b64encode(b"joe:s3cret").decode()
            ok = environ.get("HTTP_AUTHORIZATION") == good
            start_response("200 OK" if ok else "401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"welcome\\n" if ok else b"who?\\n"]
        if path == "/slow":
            time.sleep(3)
        received = len(environ["wsgi.input"].read())
        echo = {"method": environ["REQUEST_METHOD"], "path": path,
                "query": environ.get("QUERY_STRING", ""), "received": received,
                "content_type": environ.get("CONTENT_TYPE", ""),
                "headers": {k[5:].replace("_", "-").title(): v
                            for k, v in environ.items() if k.startswith("HTTP_")}}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(echo).encode()]
''')

# CSI sequences, charset selection, keypad modes, carriage returns and backspaces: what a
# terminal would interpret rather than show.
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\r|\x08")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = tmp_path_factory.mktemp("app") / "app.py"
    app.write_text(APP)
    proc = subprocess.Popen(CLI + [str(app), "-p", "0", "--no-access-log"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://"), proc.stderr.read()
    yield url
    proc.kill()
    proc.wait(10)


class Terminal:
    """A program on a pseudo-terminal, read as a person would see it (escapes removed).

    The pty is made with os.openpty() and the program started with subprocess, which
    gevent handles (conftest monkey-patches this process, and ptyprocess's fork-based
    spawn then hangs reading its exec-error pipe); pexpect's fdspawn does the talking.
    """

    def __init__(self, args, env=None, cwd=ROOT, rows=50, columns=160):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

        def controlling_tty():
            # A new session whose controlling terminal is the pty: Ctrl-C typed there
            # (the ^C byte) becomes SIGINT for the program, as in a real terminal.
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(args, cwd=str(cwd), env=env, stdin=slave, stdout=slave,
                                     stderr=slave,
                                     preexec_fn=controlling_tty, close_fds=True)
        os.close(slave)
        self.child = fdpexpect.fdspawn(master, encoding="utf-8", timeout=10)
        self.master = master
        self.raw = ""
        self.pos = 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        try:
            os.close(self.master)
        except OSError:
            pass

    def text(self):
        return ANSI.sub("", self.raw)

    def _read(self):
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=0.05)
        except pexpect.TIMEOUT:
            pass
        except (pexpect.EOF, OSError):
            time.sleep(0.05)  # the program ended: nothing more will come

    def expect(self, pattern, timeout=10):
        """The next match of ``pattern`` after the previous one."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.text(), self.pos)
            if match:
                self.pos = match.end()
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in: {self.text()[self.pos:][-2000:]!r}")
            self._read()

    def send_line(self, line):
        self.child.send(line + "\r")

    def send_intr(self):
        self.child.send("\x03")

    def wait_exit(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read()
        status = self.proc.wait(1)
        self.kill()
        return status


class Repl(Terminal):
    def __init__(self, url, history, extra_env=None):
        env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "GREENHTTP_REPL_HISTORY": str(history),
               "TERM": "xterm-256color", **(extra_env or {})}
        env.pop("NO_COLOR", None)
        super().__init__(CLI + ["repl", url], env=env)
        self.url = url
        self.prompt()

    def prompt(self):
        # The prompt is the current URL; the typed line is echoed after it.
        return self.expect(re.escape(self.url) + r"[^\s>]*> ")

    def run(self, line, pattern, timeout=10):
        """Type ``line``; return the output up to ``pattern`` (and wait for the next prompt)."""
        start = self.pos
        self.send_line(line)
        match = self.expect(pattern, timeout)
        output = self.text()[start:match.end()]
        self.prompt()
        return output

    def exit(self):
        self.child.send("\x04")  # Ctrl-D
        return self.wait_exit()


@pytest.fixture
def repl(server, tmp_path):
    shells = []

    def start(**kwargs):
        shell = Repl(server, tmp_path / "history", **kwargs)
        shells.append(shell)
        return shell

    yield start
    for shell in shells:
        shell.kill()


def echoed(output):
    """The echo app's JSON answer inside a chunk of terminal output."""
    body = output[output.index("\n{") + 1:]
    return json.loads(body[:body.index("\n}\n") + 2])


TIMING = r"\((?:\d{3} [^\n]*connection|stopped[^\n]*)\)\n"


def test_navigation_sticky_items_and_completion(repl, server):
    shell = repl()
    shell.run("X-Token:abc", "")
    shell.run("cd api", "")
    out = shell.run("get users q==1", TIMING)
    assert "HTTP/1.1 200 OK" in out
    echo = echoed(out)
    assert echo["path"] == "/api/users" and echo["query"] == "q=1"
    assert echo["headers"]["X-Token"] == "abc"
    # Sticky items are overridden per request, and stay after it.
    echo = echoed(shell.run("get users X-Token:other", TIMING))
    assert echo["headers"]["X-Token"] == "other"
    shell.run("cd ..", "")
    echo = echoed(shell.run("post n:=5 name=joe", TIMING))
    assert echo["method"] == "POST" and echo["path"] == "/" and echo["headers"]["X-Token"] == "abc"
    assert echo["content_type"] == "application/json"
    env = shell.run("env", r"set verify on\n")
    assert f"cd {server}/" in env and "X-Token:abc" in env
    shell.run("rm X-Token", "")
    assert "X-Token" not in echoed(shell.run("get /api", TIMING))["headers"]
    # Completion: a command, a path seen before, a header name typed before.
    for keys in ("ge\t", " /api/us\t", " X-To\t"):
        shell.child.send(keys)
        time.sleep(0.3)  # completion runs between keystrokes, as when a person types
    echo = echoed(shell.run("abc", TIMING))
    assert echo["path"] == "/api/users" and echo["headers"]["X-Token"] == "abc"
    assert shell.exit() == 0


def test_json_msgpack_binary_and_text_display(repl):
    shell = repl()
    start = len(shell.raw)
    out = shell.run("get /json", TIMING)
    assert '{\n  "hello": "world",\n  "n": [\n    1,\n    2\n  ]\n}' in out
    assert re.search(r"\x1b\[[0-9;]*m\"hello\"", shell.raw[start:]), "JSON keys are not highlighted"
    out = shell.run("get /msgpack", TIMING)
    assert "[msgpack, shown as JSON]" in out and '"packed": true' in out
    assert '"blob": "<2 bytes: 0001>"' in out
    out = shell.run("get /binary", TIMING)
    assert "[binary body: 10.0 KiB, image/png; not shown]" in out and "PNG" not in out
    out = shell.run("get /status/404", TIMING)
    assert "HTTP/1.1 404 Chosen" in out and "status body" in out
    assert re.search(r"\(404 Chosen in [\d.]+ ms \(head [\d.]+ ms\), 12 B", out)
    out = shell.run("head /json", TIMING)
    assert "Content-Type: application/json" in out and "hello" not in out


def test_upload_shows_progress(repl, tmp_path):
    data = tmp_path / "upload.bin"
    data.write_bytes(os.urandom(3_000_000))
    shell = repl()
    out = shell.run(f"post /upload @{data}", TIMING)
    assert re.search(r"upload: 100%\|[^\n]*\| 2\.86M/2\.86M", out), out
    echo = echoed(out)
    assert echo["content_type"].startswith("multipart/form-data") and echo["received"] > 3_000_000
    out = shell.run(f"put /raw <{data}", TIMING)
    assert "upload: 100%" in out and echoed(out)["received"] == 3_000_000


def test_ctrl_c_stops_a_stream_and_keeps_the_session(repl):
    shell = repl()
    shell.send_line("get /stream")
    shell.expect("Transfer-Encoding: chunked")
    shell.expect(r"tick 3\n")  # chunks show up as they arrive
    shell.send_intr()
    shell.expect(r"\(stopped by Ctrl-C after \d+ B in [\d.]+ ms; the connection was closed\)")
    shell.prompt()
    seen = shell.text().count("tick ")
    time.sleep(0.4)
    shell._read()
    assert shell.text().count("tick ") == seen, "the stream went on after Ctrl-C"
    assert "Traceback" not in shell.text() and "KeyboardInterrupt" not in shell.text()
    out = shell.run("get /json", TIMING)
    assert '"hello": "world"' in out
    assert shell.proc.poll() is None


def test_one_pool_reuses_connections_across_commands(repl):
    shell = repl()
    first = shell.run("get /json", TIMING)
    assert "new connection" in first
    for _ in range(3):
        assert "reused connection" in shell.run("get /json", TIMING)
    out = shell.run("stats", r"pool: [^\n]*\n[^\n]*in use\n")
    assert "requests: 4, connections opened: 1, requests on a reused connection: 3" in out
    assert "pool: 1 open, 1 idle, 0 in use, 0 waiting" in out


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_errors_print_one_line_and_keep_the_prompt(repl):
    shell = repl()
    out = shell.run("bogus", r"error: [^\n]*\n")
    assert "error: unknown command 'bogus' (type 'help')" in out
    assert "invalid JSON in 'n:=nope'" in shell.run("post n:=nope", r"error: [^\n]*\n")
    assert "no such file" in shell.run("post @/no/such/file", r"error: [^\n]*\n")
    port = closed_port()
    out = shell.run(f"get http://127.0.0.1:{port}/", r"error: [^\n]*\n")
    assert re.search(rf"error: cannot connect to 127\.0\.0\.1:{port}: .*refused", out)
    shell.run("set timeout 0.3", "")
    assert "error: read timeout: no response bytes for 0.3 s" in shell.run("get /slow", r"error: [^\n]*\n")
    assert "unknown option" in shell.run("set colour on", r"error: [^\n]*\n")
    shell.run("set timeout 10", "")
    assert '"hello": "world"' in shell.run("get /json", TIMING)
    assert "Traceback" not in shell.text()


def test_history_survives_a_restart(repl, tmp_path):
    shell = repl()
    shell.run("get /echo marker==1", TIMING)
    assert shell.exit() == 0
    shell = repl()
    out = shell.run("history", r"\d+  history\n")
    assert re.search(r"\d+  get /echo marker==1\n", out)
    shell.child.send("\x1b[A\x1b[A")  # up twice: past "history" to the request
    shell.expect(r"get /echo marker==1")
    out = shell.run("", TIMING)
    assert echoed(out)["query"] == "marker=1"
    assert "get /echo marker==1" in (tmp_path / "history").read_text()


def test_save_load_and_curl(repl, server, tmp_path):
    saved = tmp_path / "session.txt"
    shell = repl()
    shell.run("cd /api", "")
    shell.run("X-A:1 q==2", "")
    shell.run("set format form", "")
    shell.run(f"save {saved}", r"saved to")
    shell.run("rm *", "")
    shell.run("cd /", "")
    shell.run("set format json", "")
    shell.run(f"load {saved}", r"loaded")
    env = shell.run("env", r"set verify on\n")
    assert f"cd {server}/api" in env and "X-A:1" in env and "q==2" in env and "set format form" in env
    echo = echoed(shell.run("post items name=joe", TIMING))
    assert echo["content_type"] == "application/x-www-form-urlencoded"
    assert echo["query"] == "q=2" and echo["headers"]["X-A"] == "1"
    command = shell.run("curl", r"curl [^\n]*\n").strip().splitlines()[-1]
    # The printed command sends the same request (curl from Debian, as in test_cli.py).
    result = subprocess.run(["bash", "-c", command + " -s"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    again = json.loads(result.stdout)
    assert again["path"] == "/api/items" and again["query"] == "q=2" and again["headers"]["X-A"] == "1"
    assert again["content_type"] == "application/x-www-form-urlencoded" and again["method"] == "POST"


# -- one-shot mode ---------------------------------------------------------------------------


def oneshot(*args, timeout=20):
    return subprocess.run(CLI + list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_oneshot_output_and_exit_statuses(server):
    result = oneshot("post", server + "/echo", "X-A:1", "q==z", "n:=3", "--print", "hb")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("HTTP/1.1 200 OK\n")
    assert '"query": "q=z"' in result.stdout and "\x1b[" not in result.stdout  # no colour into a pipe
    body = oneshot("get", server + "/json", "-b")
    assert json.loads(body.stdout) == {"hello": "world", "n": [1, 2]}
    # HTTPie's rule: into a pipe the default is the body alone; --print h the head alone.
    piped = oneshot("get", server + "/json")
    assert json.loads(piped.stdout) == {"hello": "world", "n": [1, 2]}
    head_only = oneshot("get", server + "/json", "--print", "h")
    assert head_only.stdout.startswith("HTTP/1.1 200 OK\n") and '"hello"' not in head_only.stdout
    wrong = oneshot("get", server + "/json", "--print", "x")
    assert wrong.returncode != 0 and wrong.stderr.count("\n") == 1 and "H, h and b" in wrong.stderr
    assert oneshot("get", server + "/status/404").returncode == 0
    assert oneshot("get", server + "/status/404", "--check-status").returncode == 4
    assert oneshot("get", server + "/status/503", "--check-status").returncode == 5
    refused = oneshot("get", f"http://127.0.0.1:{closed_port()}/")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "greenhttp: error: cannot connect" in refused.stderr
    slow = oneshot("get", server + "/slow", "--timeout", "0.3")
    assert slow.returncode == 2 and "read timeout" in slow.stderr
    bad = oneshot("post", server + "/echo", "n:=nope")
    assert bad.returncode == 1 and "invalid JSON" in bad.stderr and bad.stderr.count("\n") == 1
    curl = oneshot("put", server + "/x", "a=1", "--curl")
    assert shlex.split(curl.stdout)[:3] == ["curl", "-X", "PUT"]


def oneshot_bytes(*args, cwd=ROOT, timeout=20):
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, timeout=timeout)


BINARY = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def test_oneshot_binary_body_into_a_pipe_is_the_bytes(server):
    result = oneshot_bytes("get", server + "/binary", "-b")
    assert result.returncode == 0, result.stderr
    assert result.stdout == BINARY  # not "[binary body: ...; not shown]"
    assert oneshot_bytes("get", server + "/binary").stdout == BINARY  # a pipe: the body alone
    with_head = oneshot_bytes("get", server + "/binary", "--print", "hb")
    head, _, body = with_head.stdout.partition(b"\n\n")
    assert head.startswith(b"HTTP/1.1 200 OK\n") and body == BINARY
    assert b"\x1b[" not in with_head.stderr  # no progress bar or colour when stderr is a pipe


def test_oneshot_gzip_body_is_decoded(server):
    result = oneshot_bytes("get", server + "/gzip", "-b")
    assert result.stdout == "héllo gzip\n".encode() * 100
    assert "\ufffd".encode() not in result.stdout


def test_oneshot_output_and_download_save_bytes(server, tmp_path):
    target = tmp_path / "saved.png"
    result = oneshot_bytes("get", server + "/binary", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == BINARY
    assert result.stdout.startswith(b"HTTP/1.1 200 OK") and BINARY not in result.stdout
    assert b"saved 10.0 KiB to" in result.stderr and b"it/s" not in result.stderr  # no tqdm in a pipe
    gz = tmp_path / "text.txt"
    oneshot_bytes("get", server + "/gzip", "-o", str(gz), "-b")
    assert gz.read_bytes() == "héllo gzip\n".encode() * 100
    # -d: named from Content-Disposition (its path stripped), never overwriting.
    for expected in ("report.bin", "report-1.bin"):
        result = oneshot_bytes("get", server + "/attachment", "-d", "-b", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / expected).read_bytes() == bytes(range(256)) * 4
    assert not (tmp_path.parent / "report.bin").exists()


def test_oneshot_auth_and_verbose(server, httpbin):
    assert oneshot("get", server + "/basic", "-b").stdout == "who?\n"
    result = oneshot("get", server + "/basic", "-a", "joe:s3cret", "-v")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("GET /basic HTTP/1.1\nHost: 127.0.0.1:")
    assert "Authorization: Basic am9lOnMzY3JldA==" in result.stdout and "welcome" in result.stdout
    assert "\nHTTP/1.1 200 OK\n" in result.stdout
    digest = oneshot("get", httpbin + "/digest-auth/auth/u/pw/SHA-256", "-a", "u:pw",
                     "--auth-type", "digest", "--check-status", "-v")
    assert digest.returncode == 0, digest.stdout + digest.stderr
    assert '{"authenticated":true,"user":"u"}' in digest.stdout
    assert digest.stdout.count("GET /digest-auth/auth/u/pw/SHA-256 HTTP/1.1") == 2  # 401, then answered
    assert "Authorization: Digest username=\"u\"" in digest.stdout
    wrong = oneshot("get", httpbin + "/basic-auth/u/pw", "-a", "u:nope", "--check-status")
    assert wrong.returncode == 4


def test_oneshot_raw_body_content_type_from_the_extension(server, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"x" * 100)
    echo = json.loads(oneshot("post", server + "/echo", f"<{photo}", "-b").stdout)
    assert echo["content_type"] == "image/jpeg" and echo["received"] == 103
    explicit = json.loads(oneshot("post", server + "/echo", f"<{photo}", "Content-Type:x/y", "-b").stdout)
    assert explicit["content_type"] == "x/y"
