"""A rotating log file in the user's log directory, so IT can see what happened."""

import logging
import os
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
        handler: logging.Handler = RotatingLog(log_file(), max_bytes=_MAX_BYTES, backups=_BACKUPS)
    except OSError:
        handler = logging.StreamHandler(sys.stderr)  # a read-only profile: log where we can
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    if verbose:
        root.addHandler(logging.StreamHandler(sys.stderr))


class RotatingLog(logging.FileHandler):
    """:class:`logging.handlers.RotatingFileHandler`'s rotation: before a record would take the file to
    ``max_bytes``, ``agent.log`` becomes ``agent.log.1`` (``.1`` becomes ``.2`` …, ``backups`` kept).

    Not the standard library's own: :mod:`logging.handlers` and :mod:`pickle`, which it imports,
    would be 0.4 MB of an idle agent's memory for these few lines.
    """

    def __init__(self, path: Path, *, max_bytes: int, backups: int):
        super().__init__(path, encoding="utf-8")
        self.max_bytes = max_bytes
        self.backups = backups

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._would_overflow(record):
                self._rotate()
        except Exception:
            self.handleError(record)
            return
        super().emit(record)

    def _would_overflow(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        size = len(f"{self.format(record)}{self.terminator}".encode(self.encoding, errors="replace"))
        return self.stream.tell() + size >= self.max_bytes

    def _rotate(self) -> None:
        self.stream.close()
        self.stream = None
        for index in range(self.backups - 1, 0, -1):
            older = f"{self.baseFilename}.{index}"
            if os.path.exists(older):
                os.replace(older, f"{self.baseFilename}.{index + 1}")
        if self.backups > 0:
            os.replace(self.baseFilename, f"{self.baseFilename}.1")
        self.stream = self._open()
