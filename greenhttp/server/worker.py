"""One worker process: the greenlet server on the listening sockets the master opened.

Runs in a child forked by :class:`greenhttp.server.workers.Arbiter`, imported only once
the child has monkey-patched (the master imports no gevent). It wraps the listening
sockets it inherited as gevent sockets, builds the TLS context, drops privileges, loads
the app itself (so a reload re-imports it), beats its heartbeat from the hub, recycles
itself after ``max_requests``, and on SIGABRT (the master's "you are stuck") names the
request its blocked code was serving before it dies.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import traceback
from typing import Any, Callable

import gevent
import gevent.socket

from ..errors import AppLoadError, CLIError
from ..log import error_logger, reopen_log_files
# The serving stack is imported here, before prepare() drops to --user: a worker that
# drops privileges need not be able to read the installation.
from .listener import Server
from .heartbeat import Heartbeat
from .workers import BOOT_ERROR


class Worker:
    def __init__(self, config: Any, listeners: list[Any], load_app: Callable[[], Any],
                 heartbeat: Heartbeat, slot: int, make_tls: Callable[[], Any] | None = None,
                 prepare: Callable[[], None] | None = None) -> None:
        self.config = config
        self.listeners = listeners
        self.load_app = load_app
        self.heartbeat = heartbeat
        self.slot = slot
        self.make_tls = make_tls
        self.prepare = prepare
        self.master_pid = os.getppid()
        self.server: Any = None
        self.stopping = False
        jitter = config.max_requests_jitter
        self.max_requests = config.max_requests + (random.randint(0, jitter) if jitter else 0)

    def run(self) -> int:
        """Serve until told to stop; returns the exit status."""
        signal.signal(signal.SIGABRT, self._on_abort)
        try:
            listeners = [_cooperative(sock) for sock in self.listeners]
            tls = self.make_tls() if self.make_tls is not None else None  # still privileged
            if self.prepare is not None:
                self.prepare()
            app = self.load_app()
        except (AppLoadError, CLIError) as exc:
            print(f"greenhttp: error: {exc}", file=sys.stderr, flush=True)
            return BOOT_ERROR
        except BaseException:
            traceback.print_exc()
            return BOOT_ERROR
        self.server = Server(app, self.config, listeners=listeners, tls=tls)
        self.server.worker = self
        self.server.start()
        gevent.signal_handler(signal.SIGTERM, self._stop, "SIGTERM")
        gevent.signal_handler(signal.SIGINT, self._stop, "SIGINT")
        gevent.signal_handler(signal.SIGQUIT, self._stop, "SIGQUIT")
        gevent.signal_handler(signal.SIGUSR1, reopen_log_files)
        # A HUP meant for the master (a terminal closing the whole group) must not kill us.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        gevent.spawn(self._beat)
        self.server.serve_forever()
        return 0

    def _stop(self, why: str) -> None:
        if self.server is not None and not self.server.closing and not self.stopping:
            error_logger.debug("worker %d: %s, stopping", os.getpid(), why)
            self.stopping = True
            # Server.stop closes the listeners first (the other workers, or the new
            # generation on a reload, take the queue) and serves every request already
            # received, with Connection: close, so nothing accepted is lost.
            gevent.spawn(self.server.stop)

    def _beat(self) -> None:
        # A beat per second at most, and four per timeout so a short --timeout still works.
        interval = min(1.0, self.config.timeout / 4)
        server = self.server
        while not server.closing:
            self.heartbeat.beat(self.slot)
            if os.getppid() != self.master_pid:
                error_logger.warning("worker %d: master is gone, stopping", os.getpid())
                self._stop("orphaned")
            elif self.max_requests and server.stats()["requests"] >= self.max_requests:
                error_logger.info("worker %d: served %d requests (max_requests), restarting",
                                  os.getpid(), self.max_requests)
                self._stop("max_requests")
            gevent.sleep(interval)

    def _on_abort(self, signum: int, frame: Any) -> None:
        """The master saw no heartbeat for --timeout seconds: say what we were doing, die.

        A Python signal handler runs between bytecodes, so it gets here even while
        CPU-bound app code holds the hub; ``frame`` is where that code is.
        """
        current = gevent.getcurrent()
        request = "no request (the hub itself was blocked)"
        server = self.server
        for conn in list(server.connections) if server is not None else ():
            head = getattr(conn, "_request", None)
            if conn.greenlet is current and head is not None:
                request = f"{head.method} {head.target.decode('latin-1')} from {conn.client}"
                break
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        error_logger.critical("WORKER TIMEOUT (pid:%d): hub blocked for over %ss while serving "
                              "%s\n%s", os.getpid(), self.config.timeout, request, stack)
        for handler in logging.getLogger("greenhttp.error").handlers:
            handler.flush()
        os._exit(1)


def _cooperative(sock: Any) -> Any:
    """The master's listening socket (a plain ``socket.socket``: it never patched) as a
    gevent socket on the same descriptor, so accept() yields to the hub."""
    if isinstance(sock, gevent.socket.socket):
        return sock
    return gevent.socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
