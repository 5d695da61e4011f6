"""The queue as the agent uses it: the outboxes, the remembered request, and one attempt at each call.

Retrying, following and the request's states are the request model's (:mod:`agent.request`).
"""

import dataclasses
import logging
import threading

from agent.client import QueueClient, Ticket
from agent.errors import ModuleRevoked, Rejected, Unreachable
from agent.outbox import Note, Outbox, Submission
from agent.state import CurrentRequest
from sosqueue.statuses import OPEN_STATUSES, Status

log = logging.getLogger("sosqueue.agent")


class HelpDesk:
    """One customer's requests for one module; safe to use from several threads."""

    def __init__(self, client: QueueClient, outbox: Outbox, current: CurrentRequest, notes: Outbox | None = None):
        self.client = client
        self.outbox = outbox
        self.current = current
        self.notes = notes or Outbox(outbox.directory / "notes", kind=Note)
        self._lock = threading.RLock()

    def open_request(self) -> Ticket | None:
        """The customer's request if it is still open; refreshed from the queue when reachable."""
        with self._lock:
            ticket = self.current.load()
            if ticket is None:
                return None
            try:
                body = self.client.status(ticket)
                status = body["status"]
                topic = body.get("topic") if isinstance(body.get("topic"), str) else ticket.topic
            except Unreachable:
                return ticket if ticket.status in OPEN_STATUSES else None
            except Rejected:
                status, topic = Status.CLOSED, ""  # gone from the queue (or no longer ours)
            if status not in OPEN_STATUSES:
                self.current.clear()
                return None
            ticket = dataclasses.replace(ticket, status=status, topic=topic)
            self.current.save(ticket)
            return ticket

    def submit(self, body: dict, *, source: str) -> Submission:
        """Write the request to the outbox first; delivery comes after."""
        submission = self.outbox.add(Submission(body=body, source=source))
        log.info("saved request %s to the outbox", submission.key)
        return submission

    def waiting_or_submit(self, body: dict, *, source: str) -> Submission:
        """The request still waiting in the outbox, else a new one: one click, one request.

        A request saved while offline (or by an agent killed before it could deliver) is the
        customer's request; another click must deliver that one, not file a second.
        """
        with self._lock:
            waiting = self.outbox.pending()
            if waiting:
                log.info("request %s is still waiting for delivery; not filing another", waiting[0].key)
                return waiting[0]
            return self.submit(body, source=source)

    def deliver(self, submission: Submission) -> Ticket:
        """One delivery attempt: Unreachable means try again later, Rejected means never."""
        with self._lock:
            try:
                ticket = self.client.create(submission.body, idempotency_key=submission.key, source=submission.source)
            except Rejected as error:
                self.outbox.reject(submission, str(error))
                raise
            self.current.save(ticket)
            self._address_notes(submission, ticket)
            self.outbox.done(submission)
            log.info("delivered request %s as %s", submission.key, ticket.code)
            return ticket

    def deliver_pending(self) -> Ticket | None:
        """Try every waiting submission once, oldest first; returns the newest delivered."""
        delivered = None
        for submission in self.outbox.pending():
            try:
                delivered = self.deliver(submission)
            except Rejected as error:
                log.warning("the queue refused request %s: %s", submission.key, error)
        return delivered

    def save_note(self, ticket: Ticket, text: str) -> Note:
        """Write what the customer adds to ``ticket`` to the notes outbox first; delivery comes after."""
        note = self.notes.add(Note(code=ticket.code, customer_token=ticket.customer_token, text=text))
        log.info("saved a note to %s in the outbox as %s", ticket.code, note.key)
        return note

    def save_note_for_waiting(self, submission: Submission, text: str) -> Note | None:
        """Keep what another click adds to a request still in the outbox, for once it is delivered.

        :returns: the note, or None when those words are already on their way.
        """
        with self._lock:
            known = {submission.body.get("description", "").strip()}
            known |= {note.text for note in self.notes.pending() if note.submission == submission.key}
            if text in known:
                return None
            note = self.notes.add(Note(code="", customer_token="", text=text, submission=submission.key))
            log.info("saved a note to waiting request %s as %s", submission.key, note.key)
            return note

    def _address_notes(self, submission: Submission, ticket: Ticket) -> None:
        """The notes that waited for ``submission`` now go to its request."""
        for note in self.notes.pending():
            if note.submission == submission.key and not note.code:
                self.notes.add(dataclasses.replace(note, code=ticket.code, customer_token=ticket.customer_token))

    def deliver_note(self, note: Note) -> None:
        """One attempt: Unreachable means try again later, Rejected (the request is closed) means never."""
        ticket = Ticket(note.code, note.customer_token, "")
        try:
            self.client.add_note(ticket, note.text, idempotency_key=note.key)
        except Rejected as error:
            self.notes.reject(note, str(error))
            raise
        self.notes.done(note)
        log.info("added note %s to %s", note.key, note.code)

    def claim(self, code: str) -> Ticket:
        """Join a request a supporter created manually, by the code they gave the customer."""
        with self._lock:
            ticket = self.client.claim(code)
            self.current.save(ticket)
            return ticket

    def join(self, ticket: Ticket) -> Ticket:
        body = self.client.join(ticket)
        return self._remember(ticket, body["status"])

    def leave(self, ticket: Ticket) -> None:
        try:
            self.client.leave(ticket)
        except (Unreachable, Rejected) as error:
            log.info("could not leave %s: %s", ticket.code, error)

    def cancel(self, ticket: Ticket) -> None:
        """The customer no longer needs help: close the request."""
        with self._lock:
            try:
                self.client.close(ticket)
            except Rejected:
                pass  # already closed or expired: the same outcome for the customer
            self.current.clear()

    def _remember(self, ticket: Ticket, status: str) -> Ticket:
        with self._lock:
            updated = dataclasses.replace(ticket, status=status)
            if status in OPEN_STATUSES:
                self.current.save(updated)
            else:
                self.current.clear()
            return updated


__all__ = ["HelpDesk", "ModuleRevoked", "Rejected", "Unreachable"]
