"""The builder's folder in the user's cache (``platformdirs``): what it keeps between builds.

Every entry is written in one step (a temporary file renamed over it) but without fsync: each
reader checks what it reads, so a torn entry is made again rather than used, and losing one only
costs the next build the work it saved.
"""

import logging
import os
import tempfile
from pathlib import Path

import platformdirs

log = logging.getLogger("sosqueue.builder")


def cache_dir(*parts: str) -> Path:
    """``parts`` inside the user's cache folder for sosqueue (nothing is created)."""
    return Path(platformdirs.user_cache_dir("sosqueue", appauthor=False), *parts)


def keep(entry: Path, data: bytes, *, kept: int) -> None:
    """Write ``data`` to ``entry``, then remove the oldest entries of its folder beyond ``kept``."""
    staging = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=entry.parent, prefix=f".{entry.name}.")
        staging = Path(name)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(staging, entry)
        _prune(entry.parent, entry.suffix, kept)
    except OSError as error:
        if staging is not None:
            staging.unlink(missing_ok=True)
        log.debug("cannot keep %s (%s)", entry, error)


def _prune(folder: Path, suffix: str, kept: int) -> None:
    entries = sorted(folder.glob(f"*{suffix}"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for old in entries[kept:]:
        old.unlink(missing_ok=True)
