"""Nothing lost: every request (and every note to an open one) is written to disk before any
network I/O, then delivered.

Each submission or note is one JSON file named by its idempotency key, written atomically
(temporary file, fsync, rename). Delivery retries until the queue acknowledges it; the server's
idempotency makes a retry after a lost answer return the same request, never a second one, and
add a note once.
"""

import json
import os
import random
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.errors import StorageFailure

BACKOFF_START = 1.0
BACKOFF_CAP = 60.0


def new_key() -> str:
    """A new idempotency key: a random UUID (:mod:`uuid` imports :mod:`platform`: both only once one is needed)."""
    import uuid

    return str(uuid.uuid4())


@dataclass(frozen=True)
class Submission:
    body: dict
    source: str  # "module" (the module was opened) or "sos" (the desktop button)
    key: str = field(default_factory=new_key)
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Note:
    """What the customer adds to their open request ``code`` (a second SOS with a description).

    A note to a request still in the outbox names that :class:`Submission`'s key instead, and has
    no code until the request is delivered.
    """

    code: str
    customer_token: str
    text: str
    key: str = field(default_factory=new_key)
    created_at: float = field(default_factory=time.time)
    submission: str = ""


def temporary_name(path: Path) -> Path:
    """Where ``path``'s new content is written before it is renamed over it."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, never half."""
    temporary = temporary_name(path)
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise StorageFailure(
            f"Your request could not be saved in {path.parent} ({error.strerror or error}); "
            "free some disk space or ask your IT."
        ) from None


def _fsync_directory(directory: Path) -> None:
    if os.name == "posix":
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class Outbox:
    """A folder of items waiting for delivery: :class:`Submission` (or, with ``kind``, :class:`Note`)."""

    def __init__(self, directory: Path, *, kind: type = Submission):
        self.directory = directory
        self.rejected_directory = directory / "rejected"
        self.kind = kind

    def add(self, submission: Submission) -> Submission:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageFailure(f"Cannot create {self.directory} ({error.strerror}); ask your IT.") from None
        write_atomically(self._path(submission.key), json.dumps(asdict(submission)).encode())
        return submission

    def pending(self) -> list[Submission]:
        items = []
        for path in self.directory.glob("*.json") if self.directory.is_dir() else ():
            try:
                items.append(self.kind(**json.loads(path.read_text())))
            except (ValueError, TypeError, OSError):
                continue  # a foreign or unreadable file is left alone, never deleted
        return sorted(items, key=lambda item: item.created_at)

    def done(self, submission: Submission) -> None:
        self._path(submission.key).unlink(missing_ok=True)

    def reject(self, submission: Submission, reason: str) -> None:
        """Keep a submission the server refused for good, with the reason, for IT to look at."""
        self.rejected_directory.mkdir(parents=True, exist_ok=True)
        record = {**asdict(submission), "rejected": reason}
        write_atomically(self.rejected_directory / f"{submission.key}.json", json.dumps(record).encode())
        self.done(submission)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"


def backoff_delays(start: float = BACKOFF_START, cap: float = BACKOFF_CAP, *, jitter=random.uniform):
    """Exponential delays with ±20 % jitter: about 1, 2, 4 … seconds, capped.

    :param jitter: picks the factor between its two arguments (``random.uniform``).
    """
    delay = start
    while True:
        yield delay * jitter(0.8, 1.2)
        delay = min(delay * 2, cap)
