"""`greenhttp APP --console`: a Python prompt in the serving process that does not block serving."""

import re
import signal
import subprocess
import sys
import urllib.request

from test_repl import ROOT, Terminal

CLI = [sys.executable, "-m", "greenhttp"]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def test_console_prompt_while_serving():
    term = Terminal(CLI + ["examples/hello.py", "-p", "0", "--no-access-log", "--console"])
    try:
        url = term.expect(r"http://127\.0\.0\.1:\d+").group(0)
        term.expect(r"In scope: app, server, stats")
        term.expect(r">>> ")
        # The prompt is waiting for input; the server must answer all the same.
        for name in ("a", "b", "c"):
            assert get(f"{url}/?name={name}") == (200, f"Hello, {name}!\n".encode())
        term.send_line("stats")
        term.expect(r"connections=\d+ busy=0 idle=\d+ requests=3\n>>> ")
        term.send_line('server.stats()["requests"], app.__name__, server.url == ' + repr(url))
        term.expect(r"\(3, 'app', True\)\n>>> ")
        term.send_line("1/0")  # a mistake at the prompt is a traceback there, nothing more
        term.expect(r"ZeroDivisionError: division by zero\n>>> ")
        term.send_line("gevent.sleep(0.1); print('slept')")
        term.expect(r"slept\n>>> ")
        assert get(f"{url}/?name=after") == (200, b"Hello, after!\n")
        term.child.send("\x04")  # Ctrl-D closes the console, not the server
        term.expect(r"console closed; still serving")
        assert get(f"{url}/?name=closed") == (200, b"Hello, closed!\n")
        term.proc.send_signal(signal.SIGTERM)
        assert term.wait_exit() == 0
    finally:
        term.kill()


def test_console_without_a_terminal_keeps_serving():
    proc = subprocess.Popen(CLI + ["examples/hello.py", "-p", "0", "--no-access-log", "--console"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), proc.stderr.read()
        assert get(url + "/?name=x") == (200, b"Hello, x!\n")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "console closed; still serving" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
