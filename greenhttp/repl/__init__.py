"""``greenhttp repl`` and the one-shot request verbs (``greenhttp get URL ...``).

Owns the interactive shell, the request-item parser and the response display. It may
import the client and the shared top-level modules; it is never imported when serving.
"""
