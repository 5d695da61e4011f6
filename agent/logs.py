"""A rotating log file in the user's log directory, so IT can see what happened."""

import logging
import logging.handlers
import sys
from pathlib import Path

from agent.paths import log_dir

_MAX_BYTES = 1024 * 1024
_BACKUPS = 3


def log_file() -> Path:
    return log_dir() / "agent.log"


def setup_logging(*, verbose: bool = False) -> None:
    root = logging.getLogger("sosqueue")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        log_dir().mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_file(), maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler(sys.stderr)  # a read-only profile: log where we can
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    if verbose:
        root.addHandler(logging.StreamHandler(sys.stderr))
