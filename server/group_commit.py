"""Group commit: the creations that queued meanwhile share one write transaction and one commit.

A commit costs an fsync (SQLite, synchronous=FULL) or a WAL flush (PostgreSQL) however little it
writes, so one commit per creation caps creations at the disk's flush rate. One writer thread per
process takes every job that has queued (up to ``MAX_BATCH``), runs them in one write transaction,
commits once, and only then answers each caller: an answered job is as durable as if it had
committed alone. An error of the commit itself goes to every caller of that batch.

A job that raises must lose only its own work. Savepoints would do that, at two statements (on
PostgreSQL two round trips) per job, for what is rare: so a batch first runs without any; if one
of its jobs raises, the whole transaction rolls back and the batch runs again with each job in its
own SAVEPOINT (a job that raises rolls back only itself, and its caller gets that error), and so do
the batches after it until one runs without an error. A job may therefore run more than once
before it is committed: it must be safe to run again (``server.creation._Filing`` takes a
PostgreSQL allowance once).

A job that refuses before it has written anything raises ``Declined``: its caller gets that
error, and the batch goes on without it (a caller over its allowance does not cost the others a
run with savepoints). Should the batch's commit fail, every job of it gets that failure, a
declined one too: on SQLite its refusal may have counted what the rollback took back.

A job may have a ``prepare(session)`` method: in a batch without savepoints, every job is prepared
before the first one runs, so that what each would do alone can be done for all of them at once
(the filings of ``server.creation`` take their callers' allowances in one round trip). A job must
also run unprepared (in a savepoint, alone); a job whose preparing raises (``Declined`` too) fails
as if it had run.

A job that raises ``Retry``, or that PostgreSQL picked as a deadlock's victim (batches of two
processes lock the same rows in another order), goes back into the queue, up to ``_RETRIES``
times.

One writer, also on PostgreSQL, where several could overlap their round trips: the event streams
(``server.api.routes.events``) pass on only events numbered above the last they sent, so the
events of one process must commit in the order of their numbers, which overlapping transactions
do not keep (one that drew lower numbers can commit later, and its events would be skipped).

The request events a job records (``session.info["events"]``) are set aside while the next job
runs: the commit hooks (``server.events``, ``server.notify.outbox``) fire on every savepoint's end
too, and must see each batch's events once, at its real commit.
"""

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

T = TypeVar("T")
Job = Callable[[Session], T]

MAX_BATCH = 64  # bounds how long one batch holds the write lock, and what one failed commit fails
_RETRIES = 3
_RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


class Declined(Exception):
    """Raised by a job that refuses before writing anything in the batch's session: its outcome,
    and no failure of the batch."""


class Retry(Exception):
    """Raised by a job that should run again in a later batch (what it met will be committed by then)."""


@dataclass(eq=False)
class _Queued:
    job: Job
    future: Future = field(default_factory=Future)
    retries: int = 0

    def start(self) -> bool:
        """Whether to run it: False when its caller went away before it first started."""
        return self.retries > 0 or self.future.set_running_or_notify_cancel()


class GroupCommit:
    """The writer thread of one ``Database``, started on the first job."""

    def __init__(self, write_session: Callable):
        self._write_session = write_session  # Database.write
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._trusting = True  # batches run without savepoints until one has a failing job

    def submit(self, job: Job) -> Future:
        """Queue ``job(session)``; the future holds its result once its batch has committed."""
        queued = _Queued(job)
        self._started()
        self._queue.put(queued)
        return queued.future

    def run(self, job: Job) -> T:
        """``job``'s result once committed, waiting in this thread."""
        return self.submit(job).result()

    async def run_async(self, job: Job) -> T:
        """``job``'s result once committed, waiting without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(job))

    def stop(self) -> None:
        """Commit what has queued, then end the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="sosqueue-group-commit", daemon=True)
                    self._thread.start()

    def _serve(self) -> None:
        while True:
            batch, stop = self._take()
            if batch:
                self._commit(batch)
            if stop:
                return

    def _take(self) -> tuple[list[_Queued], bool]:
        """The next batch: wait for one job, then take whatever else has queued."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                queued = self._queue.get_nowait()
            except queue.Empty:
                break
            if queued is None:
                return batch, True
            batch.append(queued)
        return batch, False

    def _commit(self, batch: list[_Queued]) -> None:
        batch = [queued for queued in batch if queued.start()]  # not those whose callers went away
        if not batch:
            return
        outcomes = self._all_or_nothing(batch) if self._trusting or len(batch) == 1 else None
        self._trusting = outcomes is not None
        if outcomes is None:  # a job of several failed: they all run again, each in a savepoint
            outcomes = self._each_in_a_savepoint(batch)
            self._trusting = not any(_failed(outcome) for outcome in outcomes.values())
        for queued, outcome in outcomes.items():
            if _retryable(outcome, queued):
                queued.retries += 1
                self._queue.put(queued)
            else:
                _answer(queued.future, outcome)

    def _all_or_nothing(self, batch: list[_Queued]) -> dict[_Queued, object] | None:
        """Every job in one transaction without savepoints (each costs two statements more, and on
        PostgreSQL two round trips): their outcomes, or None when one of several raised (then
        nothing of the batch is kept). A lone job's error is its outcome: its rollback was the
        transaction's."""
        results: dict[_Queued, object] = {}
        failed: Exception | None = None
        try:
            with self._write_session() as session:
                events: list = []
                for queued in batch:
                    try:
                        _prepare(queued.job, session)
                    except Exception as error:
                        failed = error
                        raise
                for queued in batch:
                    try:
                        results[queued] = queued.job(session)
                        session.flush()  # what the job changed through the ORM fails as its own
                    except Declined as declined:
                        results[queued] = declined
                        continue
                    except Exception as error:
                        failed = error
                        raise
                    events.extend(session.info.pop("events", []))
                if events:
                    session.info["events"] = events
        except Exception as error:
            if failed is None:  # the commit (or the transaction) failed: no job of it counts
                return {queued: error for queued in batch}
            return {batch[0]: failed} if len(batch) == 1 else None
        return results

    def _each_in_a_savepoint(self, batch: list[_Queued]) -> dict[_Queued, object]:
        outcomes: dict[_Queued, object] = {}
        try:
            with self._write_session() as session:
                events: list = []
                for queued in batch:
                    outcomes[queued] = _run_one(session, queued.job, events)
                if events:
                    session.info["events"] = events
        except Exception as error:  # the commit (or the transaction) failed: no job of it counts
            return {queued: outcomes[queued] if isinstance(outcomes.get(queued), BaseException) else error
                    for queued in batch}
        return outcomes


def _failed(outcome: object) -> bool:
    """Whether a job's outcome was an error of the kind that makes a batch run again in savepoints."""
    return isinstance(outcome, BaseException) and not isinstance(outcome, Declined)


def _prepare(job: Job, session: Session) -> None:
    prepare = getattr(job, "prepare", None)
    if prepare is not None:
        prepare(session)


def _answer(future: Future, outcome: object) -> None:
    try:
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
    except InvalidStateError:
        pass  # cancelled by its caller before it ran (the transaction failed before it)


def _run_one(session: Session, job: Job, events: list) -> object:
    """``job``'s result (its events added to ``events``), or the exception it raised (rolled back)."""
    try:
        with session.begin_nested():
            result = job(session)
            mine = session.info.pop("events", [])  # before the savepoint's end fires the commit hooks
    except Exception as error:
        session.info.pop("events", None)
        return error
    events.extend(mine)
    return result


def _retryable(outcome: object, queued: _Queued) -> bool:
    if queued.retries >= _RETRIES:
        return False
    if isinstance(outcome, Retry):
        return True
    # the driver's own error (server.driver_sql runs on its cursor), or SQLAlchemy's around it
    driver_error = outcome.orig if isinstance(outcome, DBAPIError) else outcome
    return getattr(driver_error, "sqlstate", None) in _RETRYABLE_SQLSTATES

