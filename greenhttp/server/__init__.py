"""The server: a gevent loop that drives the protocol core, one greenlet per connection.

Owns the listener (``Server``, ``serve``), the per-connection loop (read, feed the
core, call the app, write what the core framed), the deadline reaper, the WSGI
adapter and ``Stream``. It may import ``greenhttp.protocol`` and the shared top-level
modules (body, headers, errors, settings, log), never the client or the proxy.
"""
