"""``greenhttp APP --console``: a Python prompt inside the serving process.

The prompt is :class:`code.InteractiveConsole` running in its own greenlet. Its one
blocking call, reading a line, waits with gevent's ``select`` on the terminal's file
descriptor, so while the prompt waits for input the hub keeps accepting and serving
connections. (``input()`` would block the whole process; ``gevent.backdoor`` would
need a second terminal and a telnet client.) The descriptor stays in blocking mode:
``select`` says a line is ready, then one ``os.read`` takes it; setting a terminal
non-blocking would leak to the shell that started us, which shares it.

Code typed at the prompt runs in the serving process on the hub: ``time.sleep`` and
sockets are cooperative (the CLI monkey-patched them), a CPU-bound loop stalls
serving until it ends. Ctrl-C still stops the server gracefully, as without
``--console``; Ctrl-D closes the console and the server keeps serving.
"""

from __future__ import annotations

import code
import os
import sys
from typing import IO, Any

import gevent
from gevent import select as gselect

BANNER = """\
greenhttp console (Python {version}) in the serving process {pid}, serving {url}
In scope: app, server, stats (live counts; stats() gives a dict), gevent, greenhttp.
Ctrl-D closes the console and the server keeps serving; Ctrl-C stops the server."""


class LiveStats:
    """``stats`` shows the server's counts as of now; ``stats()`` returns them as a dict."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def __call__(self) -> dict[str, int]:
        return self._server.stats()

    def __repr__(self) -> str:
        counts = self._server.stats()
        return ("connections={connections} busy={busy} idle={idle} requests={requests}"
                .format(**counts))


class _LineReader:
    """Lines from a file descriptor, waiting cooperatively for each one."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def readline(self) -> str | None:
        while b"\n" not in self.buffer and not self.eof:
            gselect.select([self.fd], [], [])
            data = os.read(self.fd, 65536)
            if not data:
                self.eof = True
            self.buffer += data
        if not self.buffer:
            return None
        line, newline, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace")


class ServerConsole(code.InteractiveConsole):
    def __init__(self, namespace: dict[str, Any], stdin: IO[Any], stdout: IO[str]) -> None:
        super().__init__(namespace, filename="<greenhttp console>")
        self.reader = _LineReader(stdin.fileno())
        self.stdout = stdout

    def raw_input(self, prompt: str = "") -> str:
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.reader.readline()
        if line is None:
            raise EOFError
        return line

    def write(self, data: str) -> None:
        # Tracebacks and syntax errors: on the terminal the prompt is on, not the log.
        self.stdout.write(data)
        self.stdout.flush()


def namespace_for(server: Any, app: Any) -> dict[str, Any]:
    import greenhttp

    return {"__name__": "__console__", "__doc__": None, "app": app, "server": server,
            "stats": LiveStats(server), "gevent": gevent, "greenhttp": greenhttp}


def start_console(server: Any, app: Any, stdin: IO[Any] | None = None,
                  stdout: IO[str] | None = None) -> gevent.Greenlet:
    """Open the prompt in a greenlet and return it; serving goes on meanwhile."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    console = ServerConsole(namespace_for(server, app), stdin, stdout)
    banner = BANNER.format(version=sys.version.split()[0], pid=os.getpid(), url=server.url)

    def run() -> None:
        console.interact(banner=banner, exitmsg="console closed; still serving (Ctrl-C or SIGTERM stops)")

    return gevent.spawn(run)
