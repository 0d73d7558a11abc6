"""``greenhttp APP`` as a production server: bind, then a master with worker processes.

Order matters and follows gunicorn: chdir and env first (the app may read them), bind
while still privileged (ports < 1024, /run), write the pid file, then the workers drop
privileges (--user/--group) before they import the app.

This module runs in the master, which imports neither gevent nor ``ssl`` (see
greenhttp.server.workers): the TLS settings are checked here, the context is built in
each worker after it patched, before it drops privileges.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from ..errors import CLIError


def _apply_env(config: Any) -> None:
    for item in config.env:  # each KEY=VALUE, checked by the setting's parser
        key, _, value = item.partition("=")
        os.environ[key] = value


def _privileges(config: Any, store: list[Any]) -> Callable[[], None] | None:
    """A function that drops to --user/--group; resolved now so typos fail at start."""
    if not config.user and not config.group:
        return None
    import grp
    import pwd

    uid = gid = None
    try:
        if config.user:
            entry = pwd.getpwuid(int(config.user)) if config.user.isdigit() else pwd.getpwnam(config.user)
            uid, gid = entry.pw_uid, entry.pw_gid
        if config.group:
            gid = int(config.group) if config.group.isdigit() else grp.getgrnam(config.group).gr_gid
    except KeyError as exc:
        raise CLIError(f"no such user or group: {exc.args[0]}") from None
    user_name = pwd.getpwuid(uid).pw_name if uid is not None else None

    def drop() -> None:
        shared = store[0]  # the master's progress store, if it holds one (it may start later)
        if shared is not None and shared.directory is not None:
            # Before dropping: the worker's user must reach the master's 0700 directory.
            os.chown(shared.directory, -1 if uid is None else uid, -1 if gid is None else gid)
            os.chown(shared.path, -1 if uid is None else uid, -1 if gid is None else gid)
        if gid is not None:
            if user_name is not None:
                os.initgroups(user_name, gid)
            else:
                os.setgroups([gid])
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
    return drop


def bind_listeners(config: Any) -> tuple[list[Any], list[Any]]:
    """(listening sockets, the specs they came from) per -b/-p/$PORT or systemd."""
    from ..server.binding import bind_all, default_port, parse_bind

    port = default_port(config.port_given)
    raw = [config.bind] if isinstance(config.bind, str) else list(config.bind)
    specs = [parse_bind(spec, port) for spec in raw]
    sockets = bind_all(specs, config.backlog, config.reuse_port)
    for spec, sock in zip(specs, sockets):
        if spec.kind == "unix" and config.unix_socket_mode is not None:
            os.chmod(spec.path, config.unix_socket_mode)
    return sockets, specs


def tls_factory(config: Any) -> Callable[[], Any] | None:
    """A function that builds the TLS context (None: plain HTTP), the settings checked
    now so a missing file or a bad policy is one line at start, not one per worker."""
    if not config.certfile:
        if config.keyfile:
            raise CLIError("--keyfile needs --certfile")
        return None
    from ..server.tls import check_settings, server_context

    args = (config.certfile, config.keyfile or None, config.ca_certs or None, config.cert_reqs)
    check_settings(*args)
    return lambda: server_context(*args)


def tls_context(config: Any) -> Any:
    """The TLS context itself, for a process that serves (--console): it has patched."""
    factory = tls_factory(config)
    return factory() if factory is not None else None


def _reload_watcher(app_spec: str) -> Callable[[Callable[[str], None]], None]:
    """--reload: the master watches, in a thread of its own (watchfiles blocks in Rust),
    and reloads as on SIGHUP, so a change that breaks the app keeps the old workers."""
    try:
        import watchfiles
    except ImportError:
        raise CLIError("--reload needs watchfiles: pip install 'greenhttp[reload]'") from None
    import threading

    roots = {os.getcwd()}
    target = app_spec.partition(":")[0]
    if target.endswith(".py"):
        roots.add(os.path.dirname(os.path.abspath(target)))

    def watch(notify: Callable[[str], None]) -> None:
        for changes in watchfiles.watch(*roots, watch_filter=watchfiles.PythonFilter(),
                                        debounce=200, step=50, rust_timeout=0):
            notify(", ".join(sorted(os.path.relpath(path) for _, path in changes)))

    def start(notify: Callable[[str], None]) -> None:
        # A daemon thread: it ends with the master. Workers forked meanwhile get no copy
        # of it (only the forking thread lives on in a child) and never touch watchfiles.
        threading.Thread(target=watch, args=(notify,), name="greenhttp-reload", daemon=True).start()

    return start


def _progress_store(config: Any) -> Any:
    """Tell greenhttp.progress which store its middleware uses by default in the workers
    (docs/guides/upload-progress.md): --progress-store, else, with several workers, a
    store held by this master (returned, to be closed at exit). With neither, nothing is
    imported: a plain app's server never loads greenhttp.progress, and its middleware, if
    any, keeps records in the worker's memory."""
    from ..server.workers import usable_cores

    if config.progress_store:
        from ..progress.stores import configure

        configure(config.progress_store)
        return None
    if (config.workers or usable_cores()) <= 1:
        return None
    return _start_shared_store()


def _start_shared_store() -> Any:
    from ..progress.shared import SharedStoreServer
    from ..progress.stores import configure

    shared = SharedStoreServer().start()
    configure("", shared.path)
    return shared


def run(app_spec: str, config: Any, load_app: Callable[[str], Any]) -> int:
    """Bind, print where, run the master until it is told to stop. Each worker calls
    ``load_app(app_spec)`` after fork (and again on HUP)."""
    from ..server.binding import close_all, describe
    from ..server.workers import Arbiter
    from .logs import configure

    if config.chdir:
        try:
            os.chdir(config.chdir)
        except OSError as exc:
            raise CLIError(f"--chdir {config.chdir!r}: {exc.strerror or exc}") from None
    _apply_env(config)
    configure(config)
    make_tls = tls_factory(config)
    store = [_progress_store(config)]  # a list: TTIN may start the store later (grow)
    try:
        drop = _privileges(config, store)
        listeners, _ = bind_listeners(config)
    except BaseException:
        if store[0] is not None:
            store[0].close()
        raise
    scheme = "https" if make_tls is not None else "http"

    def announce() -> None:
        for sock in listeners:
            print(describe(sock).replace("http://", f"{scheme}://", 1), flush=True)
    if config.pid:
        with open(config.pid, "w") as f:
            f.write(f"{os.getpid()}\n")

    def load() -> Any:
        return load_app(app_spec)

    def prepare() -> None:  # in each worker, after the fork, patching and the TLS context
        from .. import static  # noqa: F401  # before dropping privileges, as the serving stack
        if store[0] is not None:
            store[0].abandon()  # the master's store connections, duplicated by fork
        if drop is not None:
            drop()

    def grow() -> bool:
        """TTIN past one worker: with no store yet, the master starts its own, so that
        every worker sees every upload's progress; True: replace the running worker,
        which keeps progress in its own memory. (Only now does the master load the
        store's modules: a server that never grows keeps its master small.)"""
        if config.progress_store or store[0] is not None:
            return False
        store[0] = _start_shared_store()
        return True

    def cleanup() -> None:
        if store[0] is not None:
            store[0].close()
        close_all(listeners, unlink=True)
        if config.pid:
            try:
                os.unlink(config.pid)
            except OSError:
                pass

    watch = _reload_watcher(app_spec) if config.reload else None
    arbiter = Arbiter(config, listeners, load, make_tls=make_tls, prepare=prepare, watch=watch,
                      on_exit=cleanup, on_ready=announce, on_grow=grow)
    sys.stdout.flush()
    return arbiter.run()

