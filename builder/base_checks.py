"""A base agent's check and digest, kept per version of its file, so that building onto the same
base again reads it once (to copy it) rather than three times.

:func:`checked` answers what :func:`builder.bases.check_base` and :func:`builder.bases.base_sha256`
answer. The answer is kept under the file's identity: its path, device, inode, size, and
modification and change times. Writing to the file changes its change time, and a new file in
its place has another inode: a kept answer is then not used. Refusals are never kept.
"""

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sosqueue.platforms import Platform
from builder.bases import base_sha256, check_base
from builder.cache import cache_dir as builder_cache_dir, keep

log = logging.getLogger("sosqueue.builder")

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
#: Entries kept (one per version of a base file); writing a new one removes the oldest beyond these.
KEPT_ENTRIES = 32


@dataclass(frozen=True)
class CheckedBase:
    """A usable, unstamped base agent: its platform and its SHA-256 (lowercase hex; "" for a bundle)."""

    platform: Platform
    sha256: str


def cache_dir() -> Path:
    """Where checked bases are kept: ``base-checks`` in the user's cache folder for sosqueue."""
    return builder_cache_dir("base-checks")


def checked(base: Path, *, directory: Path | None = None) -> CheckedBase:
    """The base's platform and digest, from the kept answer for this very file when there is one.

    :raises BaseError: as :func:`~builder.bases.check_base` and :func:`~builder.bases.base_sha256`.
    """
    identity = _identity(base)
    if identity is None:  # a macOS bundle, or no file to stat: checked as it is, with its own errors
        return CheckedBase(check_base(base), base_sha256(base))
    entry = (directory or cache_dir()) / f"{hashlib.sha256(identity.encode()).hexdigest()}.json"
    kept = _read(entry, identity)
    if kept is not None:
        return kept
    found = CheckedBase(check_base(base), base_sha256(base))
    if _identity(base) == identity:  # not written to while it was read
        record = {"identity": identity, "platform": str(found.platform), "sha256": found.sha256}
        keep(entry, json.dumps(record).encode(), kept=KEPT_ENTRIES)
    return found


def _identity(base: Path) -> str | None:
    try:
        status = os.stat(base)
        path = base.resolve()
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return "\0".join(map(str, (path, status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns,
                               status.st_ctime_ns)))


def _read(entry: Path, identity: str) -> CheckedBase | None:
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        if data["identity"] == identity and _SHA256_HEX.fullmatch(data["sha256"]):
            return CheckedBase(Platform(data["platform"]), data["sha256"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.debug("the kept check %s is damaged (%s): checking the base again", entry, error)
    return None
