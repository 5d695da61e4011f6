"""The outbox: notifications written in the very transaction that caused them.

A commit hook turns the request events of a write (``session.info["events"]``) into
``Notification`` rows before the commit, so a request and its notifications are stored
together or not at all. After the commit it wakes the delivery worker of this process.
"""

import asyncio
from datetime import datetime

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from sosqueue import codes
from sosqueue.events import EventType
from server import links
from server.config import Settings
from server.db import Database
from server.models import Company, Group, Notification, RequestEvent, ServiceRequest, User, utcnow

CREATED = "request.created"
ASSIGNED = "request.assigned"
ESCALATED = "request.escalated"  # it waited past its group's threshold (server/routing.py)
_ENQUEUED = "notifications_enqueued"


class Wakeup:
    """Wakes the delivery worker early; ``set`` may be called from any thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def set(self) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._event.set)
        except RuntimeError:
            pass  # the loop closed: the server is shutting down; the next start delivers

    async def wait(self, timeout: float) -> None:
        """Return when woken or after ``timeout`` seconds, whichever is first."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass
        self._event.clear()


def install_outbox(database: Database, settings: Settings) -> Wakeup:
    """Enqueue notifications with every write that files, assigns or escalates a request."""
    wakeup = Wakeup()
    writer = database.writer_factory

    @sa_event.listens_for(writer, "before_commit")
    def _enqueue(session: Session) -> None:
        # A savepoint's commit fires this too; only the real commit enqueues, and only once.
        if session.in_nested_transaction():
            return
        events = session.info.get("events")
        if events and enqueue(session, events, settings):
            session.info[_ENQUEUED] = True

    @sa_event.listens_for(writer, "after_commit")
    def _wake(session: Session) -> None:
        if session.info.pop(_ENQUEUED, False):
            wakeup.set()

    @sa_event.listens_for(writer, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_ENQUEUED, None)

    return wakeup


def notified_as(event: object) -> str | None:
    """The notification an event causes: request.created, request.assigned, request.escalated, or none."""
    if not isinstance(event, RequestEvent):  # the expiry sweep's light events notify nobody
        return None
    if event.type == EventType.CREATED:
        return CREATED
    if event.type == EventType.ASSIGNED and (event.data or {}).get("assignee"):
        return ASSIGNED
    if event.type == EventType.ESCALATED:
        return ESCALATED
    return None


def enqueue(session: Session, events: list, settings: Settings) -> int:
    """Add the notifications these events cause to the session; returns how many."""
    added = 0
    companies: dict[str, Company | None] = {}
    for event in events:
        name = notified_as(event)
        if name is None:
            continue
        if event.company_id not in companies:
            companies[event.company_id] = session.get(Company, event.company_id)
        company = companies[event.company_id]
        targets = targets_for(session, company, event, name, settings) if company else []
        if not targets:
            continue
        request = session.get(ServiceRequest, event.request_id)
        body = payload(session, request, name, event.created_at, settings.public_url,
                       escalation=event.data if name == ESCALATED else None)
        for channel, target in targets:
            session.add(Notification(
                company_id=company.id, request_id=request.id, event=name, channel=channel,
                target=target, payload=body, attempts=0, next_attempt_at=utcnow(), last_error="",
            ))
            added += 1
    return added


def targets_for(session: Session, company: Company, event: RequestEvent, name: str, settings: Settings) -> list[tuple[str, str]]:
    """(channel, target) pairs: one email per address, and the company's webhook."""
    targets = []
    if settings.smtp_host:
        targets += [("email", address) for address in _email_recipients(session, company, event, name)]
    if company.webhook_url:
        targets.append(("webhook", company.webhook_url))
    return targets


def _email_recipients(session: Session, company: Company, event: RequestEvent, name: str) -> list[str]:
    if name in (CREATED, ESCALATED):  # the people who watch the queue
        return split_addresses(company.notify_emails)
    assignee_id = event.data["assignee"]
    if event.actor == f"user:{assignee_id}":  # took it themselves: nothing to tell them
        return []
    assignee = session.get(User, assignee_id)
    return [assignee.email] if assignee is not None and assignee.email else []


def split_addresses(text: str) -> list[str]:
    """``"a@x, b@y,"`` → ``["a@x", "b@y"]``, without repeats."""
    addresses = [part.strip() for part in (text or "").split(",")]
    return list(dict.fromkeys(address for address in addresses if address))


def payload(session: Session, request: ServiceRequest, name: str, occurred_at: datetime, public_url: str,
            escalation: dict | None = None) -> dict:
    """What the notification says, as the request stood when it was enqueued.

    A ``request.escalated`` one also says why: ``escalation`` is ``{reason, minutes}``, with
    ``lapsed_by`` (``{id, email, name}``) when an assignee let it lapse.
    """
    code = codes.display(request.code)
    group = session.get(Group, request.group_id) if request.group_id else None
    assignee = session.get(User, request.assignee_id) if request.assignee_id else None
    body = {
        "event": name,
        "occurred_at": occurred_at.isoformat(),
        "request": {
            "code": code,
            "status": request.status,
            "source": request.source,
            "topic": request.topic or "",
            "description": request.description,
            "end_customer": {"name": request.end_customer_name, "email": request.end_customer_email},
            "group": group.name if group else None,
            "assignee": _person(assignee) if assignee else None,
            "valid_until": request.valid_until.isoformat(),
            "url": links.supporter_link(links.public_base(public_url), request.code) if public_url else None,
        },
    }
    if escalation is not None:
        body["escalation"] = _escalation(session, escalation)
    return body


def _escalation(session: Session, data: dict) -> dict:
    lapsed_by = session.get(User, data["lapsed_by"]) if data.get("lapsed_by") else None
    return {
        "reason": data["reason"],
        "minutes": data["minutes"],
        "lapsed_by": _person(lapsed_by) if lapsed_by else None,
    }


def _person(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name}
