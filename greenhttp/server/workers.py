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

No gevent here: the master imports neither gevent nor the app and does not
monkey-patch (gunicorn's arbiter shape). It is a plain loop: ``select`` on a pipe that
``signal.set_wakeup_fd`` writes each signal's number into (SIGCHLD included, so a dead
worker wakes it), with a timeout for the heartbeat checks, and ``os.waitpid``. Each
worker, right after ``os.fork``, patches (greenhttp.server.patching), then imports the
serving stack, wraps the inherited listening sockets as gevent's and loads the app
(greenhttp.server.worker). Patching and gevent cost ~30 MiB; in the master they would be
held for nothing, and counted again in every worker through copy-on-write pages.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CLIError
from ..log import error_logger, reopen_log_files
from .heartbeat import Heartbeat

#: Exit status of a worker whose app failed to import: the master must not respawn it
#: in a loop, and a reload that hits it keeps the old workers (gunicorn's WORKER_BOOT_ERROR).
BOOT_ERROR = 3
#: What the master acts on; SIGCHLD only wakes it (a worker died: reap it now).
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTTIN,
           signal.SIGTTOU, signal.SIGUSR1)
#: Signals that stop the master. gunicorn users send QUIT for a quick stop; its default
#: action would end the master alone and leave the workers serving as orphans. Here it
#: stops like TERM: nothing received is dropped (in-flight requests get the grace).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
#: The longest the loop sleeps: heartbeat checks and respawn backoff need no signal.
TICK = 0.25

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
    """``load_app`` and ``make_tls`` run in each worker, after the fork (``make_tls``
    before ``prepare`` drops privileges, so a root-only key still loads). ``watch``, if
    given, is called once with a function to call (from any thread) with a description
    of each source change: the master then reloads as on SIGHUP."""

    def __init__(self, config: Any, listeners: list[Any], load_app: Callable[[], Any], *,
                 make_tls: Callable[[], Any] | None = None,
                 prepare: Callable[[], None] | None = None,
                 watch: Callable[[Callable[[str], None]], None] | None = None,
                 on_exit: Callable[[], None] | None = None,
                 on_ready: Callable[[], None] | None = None,
                 on_grow: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.listeners = listeners
        self.load_app = load_app
        self.make_tls = make_tls
        self.prepare = prepare
        self.watch = watch
        self.on_exit = on_exit
        #: called once, when the first worker serves: the URL line means "ready".
        self.on_ready = on_ready
        #: called on TTIN; True: the workers must be replaced (a reload) to pick up what
        #: it set up (the master's progress store, once there is more than one worker).
        self.on_grow = on_grow
        self.target = config.workers or usable_cores()
        self.children: dict[int, Child] = {}
        self.heartbeat = Heartbeat()
        self.generation = 0
        self.reloading = False
        self.ever_ready = False
        self.backoff = 0.0
        self.next_spawn = 0.0
        self._signals: list[int] = []
        self._changes: list[str] = []
        self._pipe: tuple[int, int] | None = None

    # -- the loop ------------------------------------------------------------------

    def run(self) -> int:
        self._pipe = os.pipe()
        for fd in self._pipe:
            os.set_blocking(fd, False)
        # The C-level handler writes the signal's number into the pipe, which wakes the
        # select below at once; the Python-level handler has nothing left to do.
        signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
        for sig in (*SIGNALS, signal.SIGCHLD):
            signal.signal(sig, _noop)
        error_logger.debug("master %d: starting %d worker(s)", os.getpid(), self.target)
        if self.watch is not None:
            self.watch(self._source_changed)
        try:
            while True:
                self._wait(TICK)
                status = self._reap()
                if status is not None:
                    return status
                while self._signals:
                    signum = self._signals.pop(0)
                    if signum in STOP_SIGNALS:
                        error_logger.info("master %d: %s received, stopping gracefully (grace %ss)",
                                          os.getpid(), signal.Signals(signum).name,
                                          self.config.graceful_timeout)
                        return self._stop_all()
                    self._handle_signal(signum)
                while self._changes:
                    error_logger.info("master %d: %s changed, reloading", os.getpid(),
                                      self._changes.pop(0) or "a source file")
                    self._start_reload()
                self._check_heartbeats()
                self._progress_reload()
                self._maintain()
        finally:
            signal.set_wakeup_fd(-1)
            for fd in self._pipe:
                os.close(fd)
            if self.on_exit is not None:
                self.on_exit()

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal arrives or ``timeout`` passes; queue the signals."""
        assert self._pipe is not None
        try:
            ready, _, _ = select.select([self._pipe[0]], [], [], timeout)
        except InterruptedError:  # pragma: no cover  (PEP 475 retries; kept for safety)
            ready = []
        if not ready:
            return
        try:
            data = os.read(self._pipe[0], 4096)
        except BlockingIOError:
            return
        for signum in data:
            if signum in SIGNALS:
                self._signals.append(signum)

    def _source_changed(self, description: str) -> None:
        """From the reload watcher's thread: queue, then wake the loop (0 is no signal)."""
        self._changes.append(description)
        if self._pipe is not None:
            try:
                os.write(self._pipe[1], b"\0")
            except OSError:  # full (the loop is awake anyway) or closed at exit
                pass

    def _handle_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            error_logger.info("master %d: SIGHUP received, reloading", os.getpid())
            self._start_reload()
        elif signum == signal.SIGTTIN:
            self.target += 1
            error_logger.info("master %d: SIGTTIN, now %d worker(s)", os.getpid(), self.target)
            if self.on_grow is not None and self.on_grow():
                error_logger.info("master %d: upload progress is now shared through the master; "
                                  "replacing the running worker(s) to use it", os.getpid())
                self._start_reload()
        elif signum == signal.SIGTTOU:
            if self.target > 1:
                self.target -= 1
                error_logger.info("master %d: SIGTTOU, now %d worker(s)", os.getpid(), self.target)
                current = sorted(self._current(), key=lambda c: c.started)
                if len(current) > self.target:
                    self._terminate(current[0])
        elif signum == signal.SIGUSR1:
            reopen_log_files()
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
        sys.stdout.flush()  # else the child's copy of the buffer is written twice
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                status = self._worker(slot)
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(status)
        self.children[pid] = Child(pid, slot, self.generation, time.monotonic())
        error_logger.debug("master %d: worker %d started", os.getpid(), pid)

    def _worker(self, slot: int) -> int:
        """In the child: drop the master's signal plumbing, patch, then serve."""
        signal.set_wakeup_fd(-1)
        for signum in (*SIGNALS, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
        from .patching import patch_gevent

        try:
            patch_gevent()  # before the serving stack, the TLS context and the app
        except CLIError as exc:
            print(f"greenhttp: error: {exc}", file=sys.stderr, flush=True)
            return BOOT_ERROR
        from .worker import Worker

        worker = Worker(self.config, self.listeners, self.load_app, self.heartbeat, slot,
                        make_tls=self.make_tls, prepare=self.prepare)
        return worker.run()

    def _terminate(self, child: Child) -> None:
        child.stopping = True
        _kill(child.pid, signal.SIGTERM)

    def _reap(self) -> int | None:
        """Collect dead workers; returns an exit status if the master must give up."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == 0:
                return None
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
            if self.children:
                self._wait(0.05)  # SIGCHLD ends it early; signals now are dropped
        for child in list(self.children.values()):
            _kill(child.pid, signal.SIGKILL)
        while self.children:
            self._reap()
            if self.children:
                self._wait(0.02)
        return 0


def _noop(signum: int, frame: Any) -> None:
    pass


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
