"""HTTPS: the server's TLS context and the per-connection handshake.

The handshake runs in the connection's own greenlet, not in the accept loop, so one
slow or silent client cannot hold up accepting others; it is bounded by
``head_timeout``, the same budget a plaintext client has to send its request head.
Under TLS the connection sends through the SSL socket only (no raw fast path) and
``wsgi.file_wrapper`` falls back from sendfile(2) to plain writes, since the kernel
would send the file unencrypted.

``ssl`` is imported inside the functions: the master checks the settings with
:func:`check_settings` without it, since gevent warns in a worker that patches after
``ssl`` was imported; the worker builds the context (:func:`server_context`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import CLIError
from ..log import error_logger

if TYPE_CHECKING:
    import ssl

    from .listener import Server

#: --cert-reqs values, ssl.CERT_<NAME> (the setting's parser also takes gunicorn's 0/1/2).
CERT_REQS = ("none", "optional", "required")


def check_settings(certfile: str, keyfile: str | None = None, ca_certs: str | None = None,
                   cert_reqs: str = "none") -> str:
    """What can be said without ``ssl``: the policy's name (returned, lowercased), that it
    has a CA to verify against, that the files can be read. Raises CLIError."""
    name = str(cert_reqs).lower()
    if name not in CERT_REQS:
        raise CLIError(f"--cert-reqs {cert_reqs!r}: expected none, optional or required")
    if name != "none" and not ca_certs:
        raise CLIError("--cert-reqs optional/required needs --ca-certs to verify clients against")
    for path, what in ((certfile, "certificate"), (keyfile, "key"), (ca_certs, "--ca-certs")):
        if path:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise CLIError(f"cannot load {what} {path!r}: {exc}") from None
    return name


def server_context(certfile: str, keyfile: str | None = None, ca_certs: str | None = None,
                   cert_reqs: str = "none") -> "ssl.SSLContext":
    """A TLS server context: modern defaults (TLS 1.2+), ALPN http/1.1 only."""
    import ssl

    verify = getattr(ssl, f"CERT_{check_settings(certfile, keyfile, ca_certs, cert_reqs).upper()}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise CLIError(f"cannot load certificate {certfile!r}: {exc}") from None
    if ca_certs:
        try:
            context.load_verify_locations(ca_certs)
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(f"cannot load --ca-certs {ca_certs!r}: {exc}") from None
    context.verify_mode = verify
    # Announce only what we speak: an h2-capable client must not pick h2 (RFC 7301 §3.2).
    context.set_alpn_protocols(["http/1.1"])
    return context


def handshake(server: "Server", sock: Any, address: Any) -> Any:
    """Wrap an accepted socket and finish the handshake, or close it and return None."""
    import ssl

    try:
        tls_sock = server.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    except (OSError, ValueError) as exc:
        error_logger.info("%s: TLS setup failed: %s", address, exc)
        sock.close()
        return None
    tls_sock.settimeout(server.config.head_timeout)
    try:
        tls_sock.do_handshake()
    except (OSError, ssl.SSLError) as exc:  # socket.timeout is an OSError
        error_logger.info("%s: TLS handshake failed: %s", _peer(address), exc)
        tls_sock.close()
        return None
    tls_sock.settimeout(None)
    return tls_sock


def _peer(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address or "unix")
