"""Log destinations for the serving command: --access-logfile, --error-logfile, --log-level,
--access-log-format, --log-config.

Error lines carry a timestamp, the process id and the level, as gunicorn's do, since
with workers several processes write to one stream. Access lines keep greenhttp's own
line unless ``--access-log-format`` asks for gunicorn's atoms.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..errors import CLIError

ERROR_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"


def _handler(target: str) -> logging.Handler:
    if target in ("-", ""):
        return logging.StreamHandler(sys.stderr)
    try:
        return logging.FileHandler(target, encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot open log file {target!r}: {exc.strerror or exc}") from None


def configure(config: Any) -> None:
    """Point greenhttp's loggers where the settings say."""
    if config.log_config:
        _load_config(config.log_config)
        return
    level = getattr(logging, config.log_level.upper())  # checked by the setting's parser
    error_handler = _handler(config.error_logfile)
    error_handler.setFormatter(logging.Formatter(ERROR_FORMAT, "%Y-%m-%d %H:%M:%S %z"))
    for name in ("greenhttp.error", "greenhttp.proxy"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [error_handler]
        logger.setLevel(level)
        logger.propagate = False
    access = logging.getLogger("greenhttp.access")
    access_handler = _handler(config.access_logfile)
    access_handler.setFormatter(logging.Formatter("%(message)s"))
    access.handlers[:] = [access_handler]
    access.setLevel(logging.INFO if config.access_log else logging.WARNING)
    access.propagate = False
    if config.access_log_format:
        from ..log import set_access_format

        set_access_format(config.access_log_format)


def _load_config(path: str) -> None:
    import json
    import logging.config  # only here: it imports socketserver, pickle, queue... for the master

    try:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(json.load(f))
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CLIError(f"--log-config {path!r}: {exc}") from None
