"""The customer's request without any window: its states, how they change, and the work behind them.

:class:`State` is where the agent is with the customer's one request; :data:`TRANSITIONS` is the
only place that says which :class:`Event` moves it where. :class:`Progress` names what the agent
shows before the queue has given the request a :class:`~sosqueue.statuses.Status`.

:class:`HelpRequest` owns filing, delivery (with a :class:`RetryPolicy`), following, the
customer's notes to the open request, and cancelling, and tells a :class:`Presenter` what to show. The window (:mod:`agent.app`) drives it
from Tk's main loop; ``--no-gui`` (:mod:`agent.cli`) drives the same model through its blocking
entry points. Filing, delivering, following and leaving run in daemon threads that hand their
results back through ``post`` to the thread that owns the model.
"""

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from agent.client import Ticket
from agent.errors import AgentError, ModuleRevoked, Rejected, StorageFailure, Unreachable
from agent.outbox import BACKOFF_CAP, BACKOFF_START, Note, Submission, backoff_delays
from sosqueue.statuses import FINAL_STATUSES, Progress, Status
from sosqueue.waiting_room import POLL_SECONDS, WaitingRoom

if TYPE_CHECKING:
    from agent.desk import HelpDesk

log = logging.getLogger("sosqueue.agent")

STORED_TICKET_GRACE = 0.5  # seconds: show a remembered request at once if the queue is slow to confirm it
LEAVE_TIMEOUT = 5.0
#: Between attempts to deliver, how often the wait checks (a TCP connect) whether the queue is back.
PROBE_INTERVAL = 1.0

T = TypeVar("T")


class State(StrEnum):
    """Where the agent is with the customer's request."""

    STARTING = "starting"  # asking the queue whether the remembered request is still open
    IDLE = "idle"  # no request: the form
    FILING = "filing"  # saved in the outbox, on its way to the queue
    JOINING = "joining"  # claiming a request by the code a supporter gave
    OPEN = "open"  # the queue has it: code, status, session
    FINAL = "final"  # closed or expired, still on screen
    QUITTING = "quitting"


class Event(StrEnum):
    """What happened to the request (the columns of :data:`TRANSITIONS`)."""

    NOTHING_OPEN = "nothing_open"  # no request to show: none stored, the stored one is gone, or the form again
    FILE = "file"  # the customer asked for help: a submission to deliver
    JOIN = "join"  # the customer gave a supporter's code
    OPENED = "opened"  # the queue has the request: delivered, claimed or confirmed
    REFUSED = "refused"  # the queue refused to file or to join
    GAVE_UP = "gave_up"  # delivery stopped trying for now; the request waits in the outbox
    WITHDRAWN = "withdrawn"  # cancelled before it reached the queue
    ENDED = "ended"  # closed or expired
    QUIT = "quit"


#: The only place that says where each event takes each state; an event not listed changes nothing.
TRANSITIONS: dict[State, dict[Event, State]] = {
    State.STARTING: {Event.NOTHING_OPEN: State.IDLE, Event.FILE: State.FILING, Event.JOIN: State.JOINING,
                     Event.OPENED: State.OPEN, Event.QUIT: State.QUITTING},
    State.IDLE: {Event.NOTHING_OPEN: State.IDLE, Event.FILE: State.FILING, Event.JOIN: State.JOINING,
                 Event.QUIT: State.QUITTING},
    State.FILING: {Event.OPENED: State.OPEN, Event.REFUSED: State.IDLE, Event.WITHDRAWN: State.IDLE,
                   Event.GAVE_UP: State.IDLE, Event.QUIT: State.QUITTING},
    State.JOINING: {Event.OPENED: State.OPEN, Event.REFUSED: State.IDLE, Event.QUIT: State.QUITTING},
    State.OPEN: {Event.ENDED: State.FINAL, Event.NOTHING_OPEN: State.IDLE, Event.QUIT: State.QUITTING},
    State.FINAL: {Event.NOTHING_OPEN: State.IDLE, Event.FILE: State.FILING, Event.JOIN: State.JOINING,
                  Event.QUIT: State.QUITTING},
    State.QUITTING: {},
}


def next_state(state: State, event: Event) -> State | None:
    """Where ``event`` takes ``state``, or None when it does not apply there."""
    return TRANSITIONS[state].get(event)


class InvalidTransition(RuntimeError):
    """An event that does not apply in the model's state (a bug in the caller)."""


# -- retrying --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts while the queue cannot be reached, and when to give up.

    :param give_up_after: seconds after which no further attempt is planned; None keeps trying.
    """

    start: float = BACKOFF_START
    cap: float = BACKOFF_CAP
    give_up_after: float | None = None

    def delays(self) -> Iterator[float]:
        return backoff_delays(self.start, self.cap)

    def deadline(self) -> float | None:
        return None if self.give_up_after is None else time.monotonic() + self.give_up_after


#: Saved requests and notes wait at most this long between attempts: the customer waits for them.
DELIVERY_CAP = 5.0
#: With a window the request is delivered while the agent runs, however long the queue is away.
DELIVERY_RETRY = RetryPolicy(cap=DELIVERY_CAP)
#: Without a window: a while, then the request stays in the outbox for the next run.
NO_WINDOW_RETRY = RetryPolicy(cap=DELIVERY_CAP, give_up_after=20.0)
#: Following a request's events after the stream broke.
FOLLOW_RETRY = RetryPolicy(cap=30.0)

Probe = Callable[[], bool]
OnRetry = Callable[[Unreachable, float], None]


class Waited(StrEnum):
    """How a wait between attempts ended."""

    ELAPSED = "elapsed"
    BACK = "back"  # the queue took connections again after it did not
    STOPPED = "stopped"


def wait_to_retry(stop: threading.Event, delay: float, probe: Probe | None = None) -> Waited:
    """Wait ``delay`` seconds, less once ``probe`` finds the queue back after finding it away.

    Only a change from away to back ends the wait early: a probe that always connects (a captive
    portal, a proxy in the way) leaves the back-off as it is.
    """
    if probe is None:
        return Waited.STOPPED if stop.wait(delay) else Waited.ELAPSED
    deadline = time.monotonic() + delay
    # At once, too: the queue may come back before the first interval is over, and would then
    # look as if it had never been away.
    away = not probe()
    while (left := deadline - time.monotonic()) > 0:
        if stop.wait(min(PROBE_INTERVAL, left)):
            return Waited.STOPPED
        back = probe()
        if back and away:
            log.info("the support server accepts connections again; retrying now")
            return Waited.BACK
        away = not back
    return Waited.ELAPSED


def retry(attempt: Callable[[], T], policy: RetryPolicy, *, on_retry: OnRetry = lambda error, delay: None,
          stop: threading.Event | None = None, cancelled: Callable[[], bool] = lambda: False,
          probe: Probe | None = None) -> T | None:
    """``attempt()`` until it does not raise :class:`Unreachable`.

    :returns: what it returned, or None once ``stop`` is set or ``cancelled()`` says so.
    :raises Unreachable: when ``policy`` gives up.
    """
    stop = stop or threading.Event()
    deadline = policy.deadline()
    delays = policy.delays()
    while not (stop.is_set() or cancelled()):
        delay = next(delays)
        try:
            return attempt()
        except Unreachable as error:
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            on_retry(error, delay)
        waited = wait_to_retry(stop, delay, probe)
        if waited == Waited.BACK:
            # A queue just (re)starting may take connections a moment before it answers: start
            # the back-off over, so that the next attempts come quickly.
            delays = policy.delays()
    return None


def deliver_with_retry(desk: "HelpDesk", submission: Submission, policy: RetryPolicy, *,
                       on_retry: OnRetry = lambda error, delay: None, stop: threading.Event | None = None,
                       cancelled: Callable[[], bool] = lambda: False) -> Ticket | None:
    """Deliver ``submission``, retrying while the queue cannot be reached (and at once when it is back).

    :returns: the ticket, or None once ``stop`` is set or ``cancelled()`` says so.
    :raises Unreachable: when ``policy`` gives up (the submission stays in the outbox).
    :raises AgentError: what the queue refused (:class:`Rejected`, :class:`ModuleRevoked`) or
        what could not be saved, at once.
    """
    return retry(lambda: desk.deliver(submission), policy, on_retry=on_retry, stop=stop, cancelled=cancelled,
                 probe=desk.client.accepts_connections)


def deliver_notes_with_retry(desk: "HelpDesk", notes: list[Note], policy: RetryPolicy, *,
                             on_retry: OnRetry = lambda error, delay: None,
                             stop: threading.Event | None = None) -> list[Note]:
    """Deliver ``notes`` oldest first, each retried while the queue cannot be reached.

    A note the queue refuses (its request was closed meanwhile) is kept in the notes' ``rejected``
    folder, and the others go on.

    :returns: the notes delivered (fewer once ``stop`` is set).
    :raises Unreachable: when ``policy`` gives up (the rest stay in the outbox).
    :raises ModuleRevoked, StorageFailure: at once.
    """
    delivered = []
    for note in notes:
        if not note.code:
            continue  # it waits for its request to leave the outbox
        try:
            if retry(lambda: desk.deliver_note(note) or note, policy, on_retry=on_retry, stop=stop,
                     probe=desk.client.accepts_connections) is None:
                break
        except Rejected as error:
            log.warning("the queue refused note %s to %s: %s", note.key, note.code, error)
            continue
        delivered.append(note)
    return delivered


def request_body(*, description: str, name: str = "", email: str = "", diagnostics: dict | None = None,
                 topic: str = "") -> dict:
    """What the queue is sent for a new request (diagnostics only when the customer agreed to them; the
    topic only when the customer picked one of the module's)."""
    body: dict = {"description": description, "end_customer": {"name": name, "email": email}}
    if topic:
        body["topic"] = topic
    if diagnostics:
        body["diagnostics"] = diagnostics
    return body


# -- the background work ---------------------------------------------------------------------

class Delivery:
    """Delivers outbox submissions in a daemon thread, retrying with backoff while offline."""

    def __init__(self, desk: "HelpDesk", submissions: list[Submission], *,
                 on_delivered: Callable[[Submission, Ticket], None], on_offline: Callable[[Submission], None],
                 on_failed: Callable[[Submission, AgentError], None], policy: RetryPolicy = DELIVERY_RETRY):
        self.desk = desk
        self.submissions = list(submissions)
        self.on_delivered, self.on_offline, self.on_failed = on_delivered, on_offline, on_failed
        self.policy = policy
        self._cancelled: set[str] = set()
        self._delivered: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="sosqueue-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def cancel(self, submission: Submission) -> bool:
        """Do not send ``submission``; False when it has already reached the queue."""
        with self._lock:
            if submission.key in self._delivered:
                return False
            self._cancelled.add(submission.key)
        self.desk.outbox.done(submission)
        return True

    def _run(self) -> None:
        for submission in self.submissions:
            ticket = self._deliver(submission)
            if ticket is not None:
                self.on_delivered(submission, ticket)

    def _deliver(self, submission: Submission) -> Ticket | None:
        def offline(error: Unreachable, delay: float) -> None:
            log.info("request %s not delivered (%s); retrying in %.0f s", submission.key, error, delay)
            self.on_offline(submission)

        try:
            ticket = deliver_with_retry(self.desk, submission, self.policy, on_retry=offline, stop=self._stop,
                                        cancelled=lambda: submission.key in self._cancelled)
        except (ModuleRevoked, Rejected, StorageFailure) as error:
            log.warning("request %s not delivered: %s", submission.key, error)
            self.on_failed(submission, error)
            return None
        return None if ticket is None else self._unless_cancelled(submission, ticket)

    def _unless_cancelled(self, submission: Submission, ticket: Ticket) -> Ticket | None:
        with self._lock:
            cancelled = submission.key in self._cancelled
            if not cancelled:
                self._delivered.add(submission.key)
        if not cancelled:
            return ticket
        log.info("request %s reached the queue after it was cancelled; closing it", ticket.code)
        try:
            self.desk.cancel(ticket)
        except AgentError as error:
            log.warning("could not close %s: %s", ticket.code, error)
        return None


class Follower:
    """Follows one request's live events in a daemon thread.

    Reconnects with backoff after the stream breaks, resuming after the last event it saw. It only
    watches: the customer's presence is the session channel (:mod:`agent.connect`).
    """

    def __init__(self, desk: "HelpDesk", ticket: Ticket, *, on_status: Callable[[str], None],
                 on_event: Callable[[], None] = lambda: None, policy: RetryPolicy = FOLLOW_RETRY):
        self.desk = desk
        self.ticket = ticket
        self.on_status = on_status
        self.on_event = on_event  # any event at all (the waiting room asks again on each)
        self.policy = policy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sosqueue-follow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        last_id = None
        delays = self.policy.delays()
        while not self._stop.is_set():
            try:
                for event, event_id, data in self.desk.client.events(self.ticket, last_id):
                    if self._stop.is_set():
                        return
                    delays = self.policy.delays()
                    last_id = event_id or last_id
                    if self._handle(event, data):
                        return
            except Unreachable as error:
                log.info("lost the request's event stream: %s", error)
            except Rejected as error:  # gone from the queue, or no longer ours
                log.info("the queue no longer shows request %s: %s", self.ticket.code, error)
                self.on_status(Status.CLOSED)
                return
            except Exception:
                log.exception("error while following request %s", self.ticket.code)
            waited = wait_to_retry(self._stop, next(delays), self.desk.client.accepts_connections)
            if waited == Waited.STOPPED:
                return
            if waited == Waited.BACK:
                delays = self.policy.delays()

    def _handle(self, event: str, data: dict) -> bool:
        """Report the event and the status; True when the request is over."""
        self.on_event()
        status = data.get("status")
        if status:
            self.on_status(status)
        return status in FINAL_STATUSES


class WaitingRoomWatch:
    """Asks the queue where the open request stands (:class:`~sosqueue.waiting_room.WaitingRoom`) in a
    daemon thread: at once, on :meth:`wake` (each of the request's events), and every ``interval``
    seconds while no supporter is connected; reports each change through ``on_room``.

    It stops once the room says the request is over, or the queue no longer shows it (the
    :class:`Follower` tells the request's end).
    """

    def __init__(self, desk: "HelpDesk", ticket: Ticket, *, on_room: Callable[[WaitingRoom], None],
                 interval: float = POLL_SECONDS):
        self.desk = desk
        self.ticket = ticket
        self.on_room = on_room
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sosqueue-waiting-room", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Ask again now (safe from any thread)."""
        self._wake.set()

    def _run(self) -> None:
        last = None
        while not self._stop.is_set():
            self._wake.clear()  # before asking: an event during the question asks once more
            room = self._ask()
            if self._stop.is_set():
                return
            if room is not None and room != last:
                last = room
                self.on_room(room)
            if room is not None and room.status in FINAL_STATUSES:
                return
            self._wake.wait(ask_again_in(room, self.interval))

    def _ask(self) -> WaitingRoom | None:
        try:
            return self.desk.client.waiting_room(self.ticket)
        except Unreachable as error:
            log.info("no waiting room for %s now: %s", self.ticket.code, error)
        except Rejected as error:
            log.info("the queue shows no waiting room for %s: %s", self.ticket.code, error)
            self._stop.set()
        except Exception:
            log.exception("error while asking for the waiting room of %s", self.ticket.code)
        return None


def ask_again_in(room: WaitingRoom | None, interval: float) -> float | None:
    """How long the waiting room waits before it asks by itself: ``interval`` while the request waits
    for a supporter (or the last question went unanswered), never (only on an event) while a supporter
    is connected, whose leaving is an event."""
    return None if room is not None and room.status == Status.IN_PROGRESS else interval


class NoteDelivery:
    """Delivers the notes waiting in the outbox in a daemon thread, retrying while offline."""

    def __init__(self, desk: "HelpDesk", notes: list[Note], *, on_delivered: Callable[[Note], None],
                 on_offline: Callable[[], None], policy: RetryPolicy = DELIVERY_RETRY):
        self.desk = desk
        self.notes = list(notes)
        self.on_delivered, self.on_offline = on_delivered, on_offline
        self.policy = policy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sosqueue-notes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        told = False

        def offline(error: Unreachable, delay: float) -> None:
            nonlocal told
            log.info("note not delivered (%s); retrying in %.0f s", error, delay)
            if not told:
                told = True
                self.on_offline()

        try:
            for note in deliver_notes_with_retry(self.desk, self.notes, self.policy, on_retry=offline,
                                                 stop=self._stop):
                self.on_delivered(note)
        except AgentError as error:  # revoked or not saved: the notes stay for IT to look at
            log.warning("notes not delivered: %s", error)


# -- the model -------------------------------------------------------------------------------

class Presenter:
    """What :class:`HelpRequest` tells the one who shows it; called on the model's thread.

    Every method does nothing here: a presenter overrides what it shows (``--no-gui`` shows nothing).
    """

    def settled(self) -> None:
        """The start is over: the remembered request is shown, or there is none (may come twice
        when a request shown at once turns out to be gone)."""

    def show_sending(self) -> None:
        """A request is on its way to the queue."""

    def show_offline(self) -> None:
        """The queue cannot be reached; the request waits in the outbox and delivery goes on."""

    def show_opened(self, ticket: Ticket) -> None:
        """The queue has the request (delivered, claimed or confirmed): show it and open its session."""

    def show_status(self, status: str, previous: str) -> None:
        """The queue changed the request's status (after a final one the request is forgotten)."""

    def show_refusal(self, error: AgentError, *, joining: bool) -> None:
        """Filing (or joining by code, ``joining``) did not work and will not by retrying."""

    def show_withdrawn(self) -> None:
        """The customer cancelled the request before it reached the queue."""

    def show_cancel_failure(self, error: AgentError) -> None:
        """Closing the open request did not work."""

    def show_waiting_room(self, room: WaitingRoom) -> None:
        """Where the open request stands in its group's queue changed (position, expected wait, assignee)."""

    def end_session(self, *, wait: bool) -> None:
        """The request's session channel must close now (``wait``: before quitting goes on)."""

    def show_note(self, delivered: bool) -> None:
        """What the customer added reached the request (``delivered``), or waits in the outbox."""


def _call_now(function: Callable, *args) -> None:
    function(*args)


class HelpRequest:
    """The customer's side of one module: at most one request at a time, through :class:`State`.

    Every method runs on the thread that owns the model; background work hands its results back
    through ``post`` (the window's :class:`agent.ui.UiQueue`; ``--no-gui`` runs them at once).
    """

    def __init__(self, desk: "HelpDesk", presenter: Presenter | None = None, *,
                 post: Callable[..., None] = _call_now, grace: float = STORED_TICKET_GRACE):
        self.desk = desk
        self.presenter = presenter or Presenter()
        self.post = post
        self.grace = grace
        self.state = State.STARTING
        self.source = "module"  # or "sos": where the customer asked for help
        self.ticket: Ticket | None = None
        self.submission: Submission | None = None
        self.delivery: Delivery | None = None
        self.follower: Follower | None = None
        self.watch: WaitingRoomWatch | None = None
        #: Where the open request stands in its group's queue, once the queue has said.
        self.waiting_room: WaitingRoom | None = None
        self.note_deliveries: list[NoteDelivery] = []
        self._cancel_on_delivery = False

    def can(self, event: Event) -> bool:
        return next_state(self.state, event) is not None

    @property
    def busy(self) -> bool:
        """A request is on its way or open: another click shows it rather than filing a second."""
        return self.state in (State.FILING, State.JOINING, State.OPEN)

    def _go(self, event: Event) -> None:
        state = next_state(self.state, event)
        if state is None:
            raise InvalidTransition(f"{event} does not apply while {self.state}")
        self.state = state

    # -- starting --------------------------------------------------------------------------

    def start(self) -> None:
        """Pick up where the last run stopped: a request still in the outbox, or the remembered one,
        and the notes still waiting to be added to it."""
        notes = self.desk.notes.pending()
        if notes:
            self._deliver_notes(notes)
        pending = self.desk.outbox.pending()
        if pending:  # a click from before that has not reached the queue yet: that is the request
            self._deliver(pending)
            self.presenter.settled()
        elif self.desk.current.load() is None:
            self._go(Event.NOTHING_OPEN)
            self.presenter.settled()
        else:
            self._confirm_stored_request()

    def _confirm_stored_request(self) -> None:
        """A request remembered from before: ask the queue whether it is still open."""
        stored = self.desk.current.load()
        answered = threading.Event()

        def check() -> None:
            ticket = self.desk.open_request()
            answered.set()
            self.post(self._confirmed, ticket)

        def slow_queue() -> None:
            if not answered.is_set() and self.state == State.STARTING and stored:
                self._open(stored)
                self.presenter.settled()

        threading.Thread(target=check, name="sosqueue-check", daemon=True).start()
        timer = threading.Timer(self.grace, lambda: self.post(slow_queue))
        timer.daemon = True
        timer.start()

    def _confirmed(self, ticket: Ticket | None) -> None:
        if self.state not in (State.STARTING, State.OPEN):
            return
        if ticket is None:
            self._forget()
            self._go(Event.NOTHING_OPEN)
            self.presenter.settled()
        elif self.state == State.STARTING:
            self._open(ticket)
            self.presenter.settled()
        else:
            self.status_changed(ticket.code, ticket.status)

    def form_shown(self) -> None:
        """The customer sees the form again: a final request is over for the window too."""
        if self.can(Event.NOTHING_OPEN):
            self._go(Event.NOTHING_OPEN)

    # -- filing and joining ----------------------------------------------------------------

    def file(self, body: dict) -> None:
        """Save the request in the outbox, then deliver it in the background.

        :raises StorageFailure: when it cannot be saved (nothing is sent then).
        """
        submission = self.desk.submit(body, source=self.source)
        self._deliver([submission])

    def _deliver(self, submissions: list[Submission]) -> None:
        self._go(Event.FILE)
        self.submission = submissions[-1]
        self.delivery = Delivery(
            self.desk, submissions,
            on_delivered=lambda submission, ticket: self.post(self._delivered, submission, ticket),
            on_offline=lambda submission: self.post(self._offline, submission),
            on_failed=lambda submission, error: self.post(self._delivery_failed, submission, error),
        )
        self.delivery.start()  # on its way first: the presenter shows it meanwhile (its answer is posted)
        self.presenter.show_sending()

    def _filing(self, submission: Submission) -> bool:
        """Still filing ``submission`` (not an older click, nor one the customer cancelled meanwhile)."""
        return self.state == State.FILING and self.submission is not None and submission.key == self.submission.key

    def _delivered(self, submission: Submission, ticket: Ticket) -> None:
        if not self._filing(submission):
            return
        self.submission = None
        self._open(ticket)
        if any(note.code for note in self.desk.notes.pending()):  # words added while it was on its way
            self._deliver_notes(self.desk.notes.pending())
        if self._cancel_on_delivery:
            self._cancel_on_delivery = False
            self.cancel()

    def _offline(self, submission: Submission) -> None:
        if self._filing(submission):
            self.presenter.show_offline()

    def _delivery_failed(self, submission: Submission, error: AgentError) -> None:
        if self._filing(submission):
            self.submission = None
            self._go(Event.REFUSED)
            self.presenter.show_refusal(error, joining=False)

    def join(self, code: str) -> None:
        """Claim the request a supporter created, by the code they gave the customer, in the background."""
        self._go(Event.JOIN)

        def claim() -> None:
            try:
                ticket = self.desk.claim(code)  # joining is the session channel's job
            except AgentError as error:
                self.post(self._join_failed, error)
                return
            self.post(self._claimed, ticket)

        threading.Thread(target=claim, name="sosqueue-claim", daemon=True).start()

    def _claimed(self, ticket: Ticket) -> None:
        if self.state == State.JOINING:
            self._open(ticket)

    def _join_failed(self, error: AgentError) -> None:
        if self.state == State.JOINING:
            self._go(Event.REFUSED)
            self.presenter.show_refusal(error, joining=True)

    # -- the open request ------------------------------------------------------------------

    def _open(self, ticket: Ticket, *, follow: bool = True) -> None:
        self._go(Event.OPENED)
        self.ticket = ticket
        if follow:
            self._follow(ticket)
        self.presenter.show_opened(ticket)

    def _follow(self, ticket: Ticket) -> None:
        self._stop_following()
        self.watch = WaitingRoomWatch(self.desk, ticket,
                                      on_room=lambda room: self.post(self._room_changed, ticket.code, room))
        self.follower = Follower(self.desk, ticket,
                                 on_status=lambda status: self.post(self.status_changed, ticket.code, status),
                                 on_event=self.watch.wake)
        self.watch.start()
        self.follower.start()

    def _stop_following(self) -> None:
        for worker in (self.follower, self.watch):
            if worker:
                worker.stop()
        self.follower = self.watch = None
        self.waiting_room = None

    def _room_changed(self, code: str, room: WaitingRoom) -> None:
        """The queue says where request ``code`` stands now."""
        if self.ticket is None or self.ticket.code != code or self.state != State.OPEN:
            return
        self.waiting_room = room
        self.presenter.show_waiting_room(room)

    def status_changed(self, code: str, status: str) -> None:
        """The queue says request ``code`` now has ``status``."""
        if self.ticket is None or self.ticket.code != code or self.state != State.OPEN:
            return
        previous = self.ticket.status
        self.ticket = dataclasses.replace(self.ticket, status=status)
        if status in FINAL_STATUSES:
            self._forget()
            self._go(Event.ENDED)
        self.presenter.show_status(status, previous)

    def _forget(self) -> None:
        self._stop_following()
        self.presenter.end_session(wait=False)
        self.desk.current.clear()
        self.ticket = None

    # -- notes -----------------------------------------------------------------------------

    def add_note(self, text: str) -> None:
        """Add ``text`` to the open request: saved in the outbox, then delivered in the background.

        :raises StorageFailure: when it cannot be saved (nothing is sent then).
        :raises InvalidTransition: when no request is open.
        """
        if self.state != State.OPEN or self.ticket is None:
            raise InvalidTransition(f"a note needs an open request, not {self.state}")
        self._deliver_notes([self.desk.save_note(self.ticket, text)])

    def _deliver_notes(self, notes: list[Note]) -> None:
        delivery = NoteDelivery(self.desk, notes,
                                on_delivered=lambda note: self.post(self.presenter.show_note, True),
                                on_offline=lambda: self.post(self.presenter.show_note, False))
        self.note_deliveries.append(delivery)
        delivery.start()

    def cancel(self) -> None:
        """The customer confirmed: close the request (or drop it from the outbox if not sent yet)."""
        if self.state == State.FILING and self.submission:
            if not self.delivery.cancel(self.submission):
                self._cancel_on_delivery = True  # it reached the queue this very moment
                return
            log.info("the customer cancelled request %s before it was delivered", self.submission.key)
            self.submission = None
            self._go(Event.WITHDRAWN)
            self.presenter.show_withdrawn()
            return
        ticket = self.ticket
        if self.state != State.OPEN or ticket is None:
            return

        def close() -> None:
            try:
                self.desk.cancel(ticket)
            except AgentError as error:
                self.post(self.presenter.show_cancel_failure, error)
                return
            self.post(self.status_changed, ticket.code, Status.CLOSED)

        threading.Thread(target=close, name="sosqueue-cancel", daemon=True).start()

    def quit(self) -> bool:
        """Stop following and delivering, end the session and leave it; False when already quitting."""
        if self.state == State.QUITTING:
            return False
        self._go(Event.QUIT)
        self._stop_following()
        if self.delivery:
            self.delivery.stop()
        for delivery in self.note_deliveries:
            delivery.stop()  # what is not delivered yet stays in the outbox for the next start
        self.presenter.end_session(wait=True)
        if self.ticket:
            # The closed socket alone makes the queue count the customer gone, a moment later;
            # the explicit leave makes it so before this process ends.
            leaving = threading.Thread(target=self.desk.leave, args=(self.ticket,), name="sosqueue-leave",
                                       daemon=True)
            leaving.start()
            leaving.join(LEAVE_TIMEOUT)
        return True

    # -- blocking, without a window ----------------------------------------------------------

    def open_now(self) -> Ticket | None:
        """The request still open from before, asked of the queue on this thread; None ends the start."""
        ticket = self.desk.open_request()
        if ticket is None:
            self._go(Event.NOTHING_OPEN)
            return None
        self._open(ticket, follow=False)
        return ticket

    def join_now(self, code: str) -> Ticket:
        """Claim the supporter's request on this thread.

        :raises AgentError: what the queue said instead.
        """
        self._go(Event.JOIN)
        try:
            ticket = self.desk.claim(code)
        except AgentError:
            self._go(Event.REFUSED)
            raise
        self._open(ticket, follow=False)
        return ticket

    def add_note_now(self, text: str, *, policy: RetryPolicy = NO_WINDOW_RETRY,
                     on_retry: OnRetry = lambda error, delay: None) -> bool:
        """Add ``text`` (if any) to the open request on this thread, after the notes still waiting from before.

        :returns: whether ``text`` reached the request (False when empty, or refused: the request
            was closed meanwhile).
        :raises Unreachable: when ``policy`` gives up; the notes stay in the outbox for the next run.
        :raises AgentError: what could not be saved, or a module switched off.
        """
        if self.state != State.OPEN or self.ticket is None:
            raise InvalidTransition(f"a note needs an open request, not {self.state}")
        note = self.desk.save_note(self.ticket, text) if text else None
        delivered = deliver_notes_with_retry(self.desk, self.desk.notes.pending(), policy, on_retry=on_retry)
        return note is not None and note in delivered

    def file_now(self, body: dict, *, policy: RetryPolicy = NO_WINDOW_RETRY,
                 on_retry: Callable[[Unreachable, float], None] = lambda error, delay: None) -> Ticket:
        """File and deliver on this thread: the request still waiting in the outbox, else ``body``.

        :raises Unreachable: when ``policy`` gives up; the request stays in the outbox.
        :raises AgentError: what the queue refused, or what could not be saved.
        """
        submission = self.desk.waiting_or_submit(body, source=self.source)
        words = body.get("description", "").strip()
        if submission.body is not body and words:  # another click while the first still waits
            self.desk.save_note_for_waiting(submission, words)
        self._go(Event.FILE)
        self.submission = submission
        try:
            ticket = deliver_with_retry(self.desk, submission, policy, on_retry=on_retry)
        except AgentError as error:
            self.submission = None
            self._go(Event.GAVE_UP if isinstance(error, Unreachable) else Event.REFUSED)
            raise
        self.submission = None
        self._open(ticket, follow=False)
        self._deliver_waiting_notes(policy)
        return ticket

    def _deliver_waiting_notes(self, policy: RetryPolicy) -> None:
        """The words added while the request waited in the outbox; what cannot go now goes next run."""
        try:
            deliver_notes_with_retry(self.desk, self.desk.notes.pending(), policy)
        except AgentError as error:
            log.warning("notes not delivered yet: %s", error)
