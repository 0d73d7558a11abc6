"""Where to listen: ``-b`` specs, listening sockets, systemd socket activation.

A spec is what a gunicorn user types after ``-b``::

    HOST            127.0.0.1, localhost, 0.0.0.0 (port from -p, else $PORT, else 8080)
    HOST:PORT       127.0.0.1:8000, :8000 (all interfaces? no: an empty host is 0.0.0.0)
    [V6]:PORT       [::1]:8000, [::]:8000
    unix:PATH       unix:/run/app.sock (a stale socket file is replaced; removed on exit)
    fd://N          an already-listening socket inherited as file descriptor N

Sockets passed by systemd (``LISTEN_FDS``/``LISTEN_PID``, sd_listen_fds(3)) are used
instead of any spec, as gunicorn does.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import CLIError

#: sd_listen_fds(3): passed descriptors start at 3.
SD_LISTEN_FDS_START = 3


@dataclass(frozen=True)
class BindSpec:
    kind: str  # "tcp", "unix" or "fd"
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        if self.kind == "fd":
            return f"fd://{self.fd}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def default_port(port: int | None, environ: Mapping[str, str] | None = None) -> int:
    """-p if given, else $PORT (Heroku, Cloud Run, Fly set it), else 8080."""
    if port is not None:
        return port
    env = os.environ if environ is None else environ
    raw = env.get("PORT")
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise CLIError(f"PORT={raw!r} is not a port number") from None
        if 0 <= value <= 65535:
            return value
        raise CLIError(f"PORT={raw!r} is not a port number")
    return 8080


def parse_bind(spec: str, port: int) -> BindSpec:
    """One ``-b`` value; ``port`` is used when the spec names none."""
    spec = spec.strip()
    if spec.startswith("unix:"):
        path = spec[5:]
        if path.startswith("//"):
            path = path[2:]  # unix:///run/app.sock, as uvicorn and some docs spell it
        if not path:
            raise CLIError(f"bind {spec!r}: no socket path after 'unix:'")
        return BindSpec("unix", path=path)
    if spec.startswith("fd://"):
        try:
            return BindSpec("fd", fd=int(spec[5:]))
        except ValueError:
            raise CLIError(f"bind {spec!r}: expected fd://NUMBER") from None
    host, given_port = spec, ""
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise CLIError(f"bind {spec!r}: missing ']' after the IPv6 address")
        host, rest = spec[1:end], spec[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise CLIError(f"bind {spec!r}: expected [ADDRESS]:PORT")
            given_port = rest[1:]
    elif spec.count(":") == 1:
        host, given_port = spec.split(":")
    # More than one colon without brackets: a bare IPv6 address (::1), no port.
    if given_port:
        try:
            port = int(given_port)
        except ValueError:
            raise CLIError(f"bind {spec!r}: port {given_port!r} is not a number") from None
        if not 0 <= port <= 65535:
            raise CLIError(f"bind {spec!r}: port must be between 0 and 65535")
    return BindSpec("tcp", host=host or "0.0.0.0", port=port)


def _tcp_socket(spec: BindSpec, backlog: int, reuse_port: bool) -> socket.socket:
    infos = socket.getaddrinfo(spec.host, spec.port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                               0, socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # [::] means IPv6 only, as with nginx's ipv6only=on; bind 0.0.0.0 too for both.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _unix_socket(spec: BindSpec, backlog: int, mode: int | None) -> socket.socket:
    path = spec.path
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            # A socket file left by a crashed run: connecting tells live from stale.
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)
            else:
                raise OSError(98, "Address already in use")
            finally:
                probe.close()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if mode is not None:
            os.chmod(path, mode)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def create_listener(spec: BindSpec, backlog: int = 1024, *, reuse_port: bool = False,
                    unix_mode: int | None = 0o660) -> socket.socket:
    """A bound, listening socket for ``spec``. Raises OSError (address in use...)."""
    if spec.kind == "unix":
        return _unix_socket(spec, backlog, unix_mode)
    if spec.kind == "fd":
        return socket.socket(fileno=spec.fd)
    return _tcp_socket(spec, backlog, reuse_port)


def systemd_listeners(environ: Mapping[str, str] | None = None,
                      unset: bool = True) -> list[socket.socket]:
    """Sockets passed by systemd socket activation, or [] if none were passed to us."""
    env = os.environ if environ is None else environ
    try:
        if int(env.get("LISTEN_PID", "")) != os.getpid():
            return []
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    if unset and env is os.environ:
        # sd_listen_fds(unset_environment=1): children must not think the fds are theirs.
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
    return [socket.socket(fileno=fd) for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count)]


def describe(sock: socket.socket) -> str:
    """A URL-ish name for a listening socket, for the startup lines."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name if isinstance(name, str) else name.decode()}"
    host, port = name[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind_all(specs: Sequence[BindSpec], backlog: int, reuse_port: bool = False) -> list[socket.socket]:
    """Listen on every spec (or on what systemd passed); all or nothing."""
    activated = systemd_listeners()
    if activated:
        return activated
    sockets: list[socket.socket] = []
    try:
        for spec in specs:
            try:
                sockets.append(create_listener(spec, backlog, reuse_port=reuse_port))
            except OSError as exc:
                raise CLIError(f"cannot listen on {spec}: {exc.strerror or exc}") from None
    except BaseException:
        close_all(sockets, unlink=True)
        raise
    return sockets


def close_all(sockets: Sequence[socket.socket], unlink: bool = False) -> None:
    """Close listeners; with ``unlink`` also remove the unix socket files we created."""
    for sock in sockets:
        path = None
        if unlink and sock.family == socket.AF_UNIX:
            try:
                path = sock.getsockname()
            except OSError:
                path = None
        sock.close()
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass
