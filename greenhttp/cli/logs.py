"""Logging for the command: greenhttp's loggers, one line each, to stderr."""

from __future__ import annotations

import logging
import sys

def configure_logging(access_log: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("greenhttp.access", "greenhttp.error", "greenhttp.proxy"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if not access_log:
        logging.getLogger("greenhttp.access").setLevel(logging.WARNING)
