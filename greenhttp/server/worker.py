"""One worker process: the greenlet server on the listening sockets the master opened.

Runs in a child forked by :class:`greenhttp.server.workers.Arbiter`. It loads the app
itself (so a reload re-imports it), beats its heartbeat from the hub, recycles itself
after ``max_requests``, and on SIGABRT (the master's "you are stuck") names the request
its blocked code was serving before it dies.
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

from ..errors import AppLoadError, CLIError
from ..log import error_logger
# The serving stack is imported by the master, before fork: the pages are shared, and a
# worker that drops to --user need not be able to read the installation.
from .listener import Server
from .heartbeat import Heartbeat

#: Exit status of a worker whose app failed to import: the master must not respawn it
#: in a loop, and a reload that hits it keeps the old workers (gunicorn's WORKER_BOOT_ERROR).
BOOT_ERROR = 3


class Worker:
    def __init__(self, config: Any, listeners: list[Any], load_app: Callable[[], Any],
                 heartbeat: Heartbeat, slot: int, tls: Any = None,
                 prepare: Callable[[], None] | None = None) -> None:
        self.config = config
        self.listeners = listeners
        self.load_app = load_app
        self.heartbeat = heartbeat
        self.slot = slot
        self.tls = tls
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
            if self.prepare is not None:
                self.prepare()
            app = self.load_app()
        except (AppLoadError, CLIError) as exc:
            print(f"greenhttp: error: {exc}", file=sys.stderr, flush=True)
            return BOOT_ERROR
        except BaseException:
            traceback.print_exc()
            return BOOT_ERROR
        self.server = Server(app, self.config, listeners=self.listeners, tls=self.tls)
        self.server.worker = self
        self.server.start()
        gevent.signal_handler(signal.SIGTERM, self._stop, "SIGTERM")
        gevent.signal_handler(signal.SIGINT, self._stop, "SIGINT")
        gevent.signal_handler(signal.SIGQUIT, self._stop, "SIGQUIT")
        gevent.signal_handler(signal.SIGUSR1, _reopen_logs)
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


def _reopen_logs() -> None:
    """SIGUSR1: reopen log files (after logrotate moved them), as nginx and gunicorn do."""
    for name in ("", "greenhttp.access", "greenhttp.error", "greenhttp.proxy"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.FileHandler):
                handler.acquire()
                try:
                    handler.close()
                    handler.stream = handler._open()
                finally:
                    handler.release()
