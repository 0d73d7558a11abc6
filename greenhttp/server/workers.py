"""The master process: binds once, forks worker processes, keeps them alive.

gunicorn's arbiter, for greenlet workers. The master never serves a request and never
imports the app; each worker imports it after the fork, so a reload re-imports it.

Signals to the master::

    TERM, INT   every worker finishes its in-flight requests (graceful_timeout), exit 0
    HUP         graceful reload: a new generation starts and takes connections, then the
                old one stops; if the new app fails to import, the old workers go on
    TTIN, TTOU  one worker more / less
    USR1        reopen log files (master and workers)

Workers share the master's listening sockets (the kernel hands each accept to one of
the processes blocked on it); see docs/deploy.md for why not SO_REUSEPORT.

Fork and gevent: the master runs a hub (to wait for signals), so it forks with
:func:`gevent.os.fork_and_watch`, which calls :func:`gevent.reinit` in the child and
reports each child's exit through a libev child watcher (libev's default loop reaps
children on SIGCHLD itself, so a plain ``waitpid`` would miss exit statuses). The child
cancels the master's signal watchers, which libev carries across fork.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable

import gevent
import gevent.os
from gevent.event import Event

from ..log import error_logger
from .heartbeat import Heartbeat
from .worker import BOOT_ERROR, Worker

#: After SIGABRT, how long a stuck worker gets to log its line before SIGKILL.
ABORT_GRACE = 2.0
#: Respawn backoff for a worker that dies soon after starting: 0.1s doubling to 10s.
BACKOFF_MIN, BACKOFF_MAX, BOOT_WINDOW = 0.1, 10.0, 2.0


def usable_cores() -> int:
    """Cores this process may run on: taskset/cpuset aware, unlike os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class Child:
    pid: int
    slot: int
    generation: int
    started: float
    ready: bool = False
    stopping: bool = False
    aborted_at: float = 0.0


class Arbiter:
    def __init__(self, config: Any, listeners: list[Any], load_app: Callable[[], Any], *,
                 tls: Any = None, prepare: Callable[[], None] | None = None,
                 watch: Callable[[], Any] | None = None,
                 on_exit: Callable[[], None] | None = None,
                 on_ready: Callable[[], None] | None = None) -> None:
        self.config = config
        self.listeners = listeners
        self.load_app = load_app
        self.tls = tls
        self.prepare = prepare
        self.watch = watch
        self.on_exit = on_exit
        #: called once, when the first worker serves: the URL line means "ready".
        self.on_ready = on_ready
        self.target = config.workers or usable_cores()
        self.children: dict[int, Child] = {}
        self.heartbeat = Heartbeat()
        self.generation = 0
        self.reloading = False
        self.ever_ready = False
        self.backoff = 0.0
        self.next_spawn = 0.0
        self._signals: list[int] = []
        self._wake = Event()
        self._handles: list[Any] = []
        self._exited: list[tuple[int, int]] = []

    # -- the loop ------------------------------------------------------------------

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTTIN,
                    signal.SIGTTOU, signal.SIGUSR1):
            self._handles.append(gevent.signal_handler(sig, self._queue_signal, int(sig)))
        error_logger.debug("master %d: starting %d worker(s)", os.getpid(), self.target)
        changes = self.watch() if self.watch is not None else None
        try:
            while True:
                self._wake.wait(0.25)
                self._wake.clear()
                status = self._reap()
                if status is not None:
                    return status
                while self._signals:
                    signum = self._signals.pop(0)
                    if signum in (signal.SIGTERM, signal.SIGINT):
                        error_logger.info("master %d: %s received, stopping gracefully (grace %ss)",
                                          os.getpid(), signal.Signals(signum).name,
                                          self.config.graceful_timeout)
                        return self._stop_all()
                    self._handle_signal(signum)
                if changes is not None and changes.ready():
                    error_logger.info("master %d: %s changed, reloading", os.getpid(),
                                      changes.value or "a source file")
                    self._start_reload()
                    changes = self.watch() if self.watch is not None else None
                self._check_heartbeats()
                self._progress_reload()
                self._maintain()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def _queue_signal(self, signum: int) -> None:
        self._signals.append(signum)
        self._wake.set()

    def _handle_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            error_logger.info("master %d: SIGHUP received, reloading", os.getpid())
            self._start_reload()
        elif signum == signal.SIGTTIN:
            self.target += 1
            error_logger.info("master %d: SIGTTIN, now %d worker(s)", os.getpid(), self.target)
        elif signum == signal.SIGTTOU:
            if self.target > 1:
                self.target -= 1
                error_logger.info("master %d: SIGTTOU, now %d worker(s)", os.getpid(), self.target)
                current = sorted(self._current(), key=lambda c: c.started)
                if len(current) > self.target:
                    self._terminate(current[0])
        elif signum == signal.SIGUSR1:
            from .worker import _reopen_logs

            _reopen_logs()
            for child in self.children.values():
                _kill(child.pid, signal.SIGUSR1)

    # -- workers -------------------------------------------------------------------

    def _current(self) -> list[Child]:
        return [c for c in self.children.values()
                if c.generation == self.generation and not c.stopping]

    def _maintain(self) -> None:
        now = time.monotonic()
        if now < self.next_spawn:
            return
        while len(self._current()) < self.target:
            self._spawn()
        for child in self._current()[self.target:]:
            self._terminate(child)

    def _spawn(self) -> None:
        slot = self.heartbeat.take()
        pid = gevent.os.fork_and_watch(callback=self._child_exited)
        if pid == 0:  # the worker
            status = 1
            try:
                for handle in self._handles:
                    handle.cancel()
                for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGTTIN,
                               signal.SIGTTOU, signal.SIGUSR1):
                    signal.signal(signum, signal.SIG_DFL)
                worker = Worker(self.config, self.listeners, self.load_app, self.heartbeat, slot,
                                tls=self.tls, prepare=self.prepare)
                status = worker.run()
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(status)
        self.children[pid] = Child(pid, slot, self.generation, time.monotonic())
        error_logger.debug("master %d: worker %d started", os.getpid(), pid)

    def _terminate(self, child: Child) -> None:
        child.stopping = True
        _kill(child.pid, signal.SIGTERM)

    def _child_exited(self, watcher: Any) -> None:
        self._exited.append((watcher.rpid, watcher.rstatus))
        self._wake.set()

    def _reap(self) -> int | None:
        """Collect dead workers; returns an exit status if the master must give up."""
        while self._exited:
            pid, status = self._exited.pop(0)
            child = self.children.pop(pid, None)
            if child is None:
                continue
            self.heartbeat.release(child.slot)
            code = os.waitstatus_to_exitcode(status)
            if child.stopping:
                continue
            if code == BOOT_ERROR:
                if self.reloading and child.generation == self.generation:
                    self._abandon_reload()
                    continue
                if not self.ever_ready:  # the worker said why, in one line or a traceback
                    error_logger.debug("master %d: the app failed to load, exiting", os.getpid())
                    self._stop_all()
                    return 1
            error_logger.warning("master %d: worker %d exited (%s), starting another",
                                 os.getpid(), pid, _describe(code))
            if time.monotonic() - child.started < BOOT_WINDOW:
                self.backoff = min(max(self.backoff * 2, BACKOFF_MIN), BACKOFF_MAX)
                self.next_spawn = time.monotonic() + self.backoff
            else:
                self.backoff = 0.0
        return None

    def _check_heartbeats(self) -> None:
        now = time.monotonic()
        for child in list(self.children.values()):
            beat, ready = self.heartbeat.read(child.slot)
            if ready and not child.ready:
                child.ready = True
                if not self.ever_ready:
                    self.ever_ready = True
                    if self.on_ready is not None:
                        self.on_ready()
            if child.aborted_at:
                if now - child.aborted_at > ABORT_GRACE:
                    _kill(child.pid, signal.SIGKILL)
                continue
            # Booting workers get a timeout too: an import that hangs is just as stuck.
            if now - beat > self.config.timeout:
                error_logger.critical("WORKER TIMEOUT (pid:%d): no heartbeat for %.1fs, restarting it",
                                      child.pid, now - beat)
                child.aborted_at = now
                _kill(child.pid, signal.SIGABRT)

    # -- reload ---------------------------------------------------------------------

    def _start_reload(self) -> None:
        if self.reloading:
            # Reload during a reload: drop the half-started generation, start afresh.
            for child in self._current():
                self._terminate(child)
        self.generation += 1
        self.reloading = True
        self.next_spawn = 0.0

    def _progress_reload(self) -> None:
        if not self.reloading:
            return
        current = self._current()
        if len(current) < self.target or not all(c.ready for c in current):
            return
        for child in list(self.children.values()):
            if child.generation != self.generation and not child.stopping:
                self._terminate(child)
        self.reloading = False
        error_logger.info("master %d: reload done, %d new worker(s) serving",
                          os.getpid(), len(current))

    def _abandon_reload(self) -> None:
        error_logger.error("master %d: reload failed: the new app did not load (see above); "
                           "the old workers keep serving", os.getpid())
        for child in self._current():
            self._terminate(child)
        self.reloading = False
        self.generation -= 1

    def _stop_all(self) -> int:
        for child in self.children.values():
            child.stopping = True
            _kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.graceful_timeout + 1.0
        while self.children and time.monotonic() < deadline:
            self._reap()
            gevent.sleep(0.05)
        for child in list(self.children.values()):
            _kill(child.pid, signal.SIGKILL)
        while self.children:
            self._reap()
            gevent.sleep(0.02)
        return 0


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
