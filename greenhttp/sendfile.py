"""One sendfile(2) loop for the server (file responses) and the client (file uploads).

Shared because it is the same loop on both sides: ``os.sendfile`` on a non-blocking
socket, waiting for writability whenever the kernel's send buffer is full. Errors are
left raw (``socket.timeout`` when no byte could be sent for ``timeout`` seconds,
``OSError`` otherwise) because each side names them differently: the server's client
disconnected, the client's upstream is lost or too slow (errors.py, "Roles"). Catch
the timeout before ``OSError``: it is one.
"""

from __future__ import annotations

import os

from gevent.socket import wait_write


def send_file(out_fd: int, in_fd: int, offset: int, count: int, timeout: float | None) -> int:
    """Send ``count`` bytes of ``in_fd`` from ``offset`` to the socket ``out_fd``.

    Returns the bytes sent: fewer than ``count`` only if the file ended early. With an
    explicit offset sendfile(2) leaves the file position alone. ``timeout`` bounds each
    wait for progress, not the whole transfer, so a slow steady reader is fine.
    """
    sent_total = 0
    while count > 0:
        try:
            sent = os.sendfile(out_fd, in_fd, offset, count)
        except BlockingIOError:
            wait_write(out_fd, timeout=timeout)
            continue
        if sent == 0:
            break  # the file is shorter than promised: the caller sees the short count
        offset += sent
        count -= sent
        sent_total += sent
    return sent_total
