"""Delivery: claims due notifications, sends them, and records what happened.

A claim reserves rows for a while (their next attempt moves past the send's time budget) in a
short write transaction; on PostgreSQL rows locked by another server process's claim are
skipped, so no two processes send one notification. Sending happens outside any transaction.
A server that dies mid-send leaves its claims to expire, and the rows are sent again then.

Each receiver gets a request's notifications in the order they happened: a notification is
claimed only when no earlier one of the same request to the same receiver (channel and target)
is still pending, so ``request.assigned`` waits while ``request.created`` is being sent or
retried, and goes out once that one is delivered or given up.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import aliased
from starlette.concurrency import run_in_threadpool

from server.config import Settings
from server.db import Database
from server.event_ids import EventIds
from server.models import Company, Notification, utcnow
from server.notify import mail, webhook
from server.notify.errors import DeliveryError, PermanentError
from server.notify.outbox import Wakeup
from server.state import AppState

log = logging.getLogger("sosqueue.notify")

BATCH = 4  # rows per claim, sent side by side
MAX_RETRY_DELAY = 15 * 60.0
_ERROR_CHARS = 500


@dataclass(frozen=True, eq=False)  # hashed by identity: jobs key the outcomes
class Job:
    """One claimed notification, everything needed to send it without the database."""

    id: int
    delivery_id: str  # what the receiver sees: the id, public for its company (server.event_ids)
    event: str
    channel: str
    target: str
    payload: dict
    attempts: int
    secret: str


def retry_base_seconds(settings: Settings) -> float:
    """The first retry's delay: five polls, 10 s with the default 2 s poll."""
    return 5 * settings.notify_poll_seconds


def retry_delay(attempts: int, base: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base, 2×base, 4×base… at most 15 min."""
    return min(base * 2 ** min(attempts - 1, 30), MAX_RETRY_DELAY)


def claim_seconds(settings: Settings) -> float:
    """How long a claim keeps other workers off: an SMTP send is several timed steps."""
    return 10 * settings.notify_timeout_seconds + 30


def deliver_due(state: AppState) -> int:
    """Send every notification that is due; returns how many were delivered."""
    settings, db = state.settings, state.db
    delivered = 0
    # Settling a notification can make the next one of its request due, so look again each round.
    while _anything_due(db, utcnow()):
        jobs = claim(db, now=utcnow(), hold=timedelta(seconds=claim_seconds(settings)), ids=state.delivery_ids)
        if not jobs:
            break
        outcomes = _send_all(jobs, settings)
        record(db, outcomes, settings=settings, now=utcnow())
        delivered += sum(1 for error in outcomes.values() if error is None)
    return delivered


def _pending(notification) -> tuple:
    return notification.delivered_at.is_(None), notification.failed_at.is_(None)


def _due(now: datetime) -> tuple:
    """Pending, its time has come, and nothing earlier of its request to its receiver is pending."""
    earlier = aliased(Notification)
    return (
        *_pending(Notification),
        Notification.next_attempt_at <= now,
        ~exists().where(
            earlier.request_id == Notification.request_id,
            earlier.channel == Notification.channel,
            earlier.target == Notification.target,
            earlier.id < Notification.id,
            *_pending(earlier),
        ),
    )


def _anything_due(db: Database, now: datetime) -> bool:
    """A read before the write: an idle poll must not queue for SQLite's write lock."""
    with db.read() as session:
        return session.scalar(select(Notification.id).where(*_due(now)).limit(1)) is not None


def claim(db: Database, *, now: datetime, hold: timedelta, ids: EventIds) -> list[Job]:
    """Reserve up to BATCH due notifications for this worker; counts the attempt."""
    with db.write() as session:
        rows = session.scalars(
            select(Notification).where(*_due(now)).order_by(Notification.next_attempt_at, Notification.id)
            .limit(BATCH).with_for_update(skip_locked=True)
        ).all()
        secrets: dict[str, str] = {}
        jobs = []
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + hold
            if row.channel == "webhook" and row.company_id not in secrets:
                company = session.get(Company, row.company_id)
                secrets[row.company_id] = company.webhook_secret if company else ""
            jobs.append(Job(row.id, ids.public(row.company_id, row.id), row.event, row.channel, row.target,
                            row.payload, row.attempts, secrets.get(row.company_id, "")))
        return jobs


def send(job: Job, settings: Settings) -> None:
    """Deliver one notification; raises DeliveryError when it did not go out."""
    if job.channel == "email":
        message = mail.compose(job.payload, to=job.target, sender=settings.smtp_from)
        mail.send(message, to=job.target, settings=settings)
    elif job.channel == "webhook":
        webhook.post(job.target, event=job.event, delivery_id=job.delivery_id, payload=job.payload,
                     secret=job.secret, timeout=settings.notify_timeout_seconds,
                     allow_private=settings.webhook_allow_private)
    else:
        raise PermanentError(f"unknown notification channel {job.channel!r}")


def _outcome(job: Job, settings: Settings) -> DeliveryError | None:
    try:
        send(job, settings)
    except DeliveryError as error:
        return error
    except Exception as error:  # a bug or an odd library error must not stop the others
        log.exception("notification %d: unexpected error", job.id)
        return DeliveryError(f"{type(error).__name__}: {error}")
    return None


def _send_all(jobs: list[Job], settings: Settings) -> dict[Job, DeliveryError | None]:
    if len(jobs) == 1:
        return {jobs[0]: _outcome(jobs[0], settings)}
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="sosqueue-notify") as pool:
        return dict(zip(jobs, pool.map(lambda job: _outcome(job, settings), jobs)))


def record(db: Database, outcomes: dict[Job, DeliveryError | None], *, settings: Settings, now: datetime) -> None:
    """Store each attempt's result: delivered, retry later, or given up."""
    base = retry_base_seconds(settings)
    with db.write() as session:
        for job, error in outcomes.items():
            row = session.get(Notification, job.id)
            if error is None:
                row.delivered_at, row.last_error = now, ""
                continue
            row.last_error = " ".join(str(error).split())[:_ERROR_CHARS]
            if isinstance(error, PermanentError) or job.attempts >= settings.notify_max_attempts:
                row.failed_at = now
                log.warning("gave up on %s notification %d (%s) after %d attempts: %s",
                            job.channel, job.id, job.event, job.attempts, row.last_error)
            else:
                delay = retry_delay(job.attempts, base)
                row.next_attempt_at = now + timedelta(seconds=delay)
                log.info("%s notification %d failed (attempt %d); retrying in %.0f s: %s",
                         job.channel, job.id, job.attempts, delay, row.last_error)


async def deliver_forever(state: AppState, wakeup: Wakeup) -> None:
    """Deliver due notifications now, when a commit enqueues some, and every poll interval."""
    wakeup.bind(asyncio.get_running_loop())
    while True:
        try:
            await run_in_threadpool(deliver_due, state)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not stop notifications for good
            log.exception("notification delivery failed; trying again")
        await wakeup.wait(state.settings.notify_poll_seconds)
