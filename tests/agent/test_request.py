"""The request model without any window: its transition table, and filing, delivering, following and
cancelling against a real queue server on loopback, watched through a recording presenter."""

import queue
import re
import threading
import time
from types import SimpleNamespace

import pytest

from agent.client import Ticket
from agent.errors import Rejected, Unreachable
from agent.request import (DELIVERY_CAP, PROBE_INTERVAL, TRANSITIONS, Event, Follower, HelpRequest,
                           InvalidTransition, Presenter, RetryPolicy, State, WaitingRoomWatch, Waited, ask_again_in,
                           deliver_with_retry, next_state, request_body, wait_to_retry)
from sosqueue.statuses import Progress, Status
from sosqueue.waiting_room import WaitingRoom
from tests.support.polling import eventually
from tests.support.queue_api import CODE_PATTERN, QueueApi
from tests.support.servers import QueueServer, free_port, sqlite_url
from tests.support.standin import RequestStandIn
from tests.support.tenants import make_tenant

WAIT = 60.0


def _body(text: str = "my printer is on fire") -> dict:
    return request_body(description=text, name="Ann", email="ann@example.test")


class Recorder(Presenter):
    """Remembers what the model asked to show, in order."""

    def __init__(self):
        self.shown: list[tuple] = []

    def settled(self):
        self.shown.append(("settled",))

    def show_sending(self):
        self.shown.append(("sending",))

    def show_offline(self):
        self.shown.append(("offline",))

    def show_opened(self, ticket):
        self.shown.append(("opened", ticket.code))

    def show_status(self, status, previous):
        self.shown.append(("status", status, previous))

    def show_refusal(self, error, *, joining):
        self.shown.append(("refused", type(error).__name__, joining))

    def show_withdrawn(self):
        self.shown.append(("withdrawn",))

    def show_cancel_failure(self, error):
        self.shown.append(("cancel failed", str(error)))

    def end_session(self, *, wait):
        self.shown.append(("end session", wait))

    def show_note(self, delivered):
        self.shown.append(("note", delivered))

    def show_waiting_room(self, room):
        self.shown.append(("waiting room", room))

    def named(self, name: str) -> list[tuple]:
        return [item for item in self.shown if item[0] == name]


class Owner:
    """The model's own thread, played by the test: what background work posts runs in :meth:`until`."""

    def __init__(self):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def post(self, function, *args) -> None:
        self._queue.put((function, args))

    def until(self, condition, what: str):
        deadline = time.monotonic() + WAIT
        while not (result := condition()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            try:
                function, args = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            function(*args)
        return result


@pytest.fixture
def model_for(desk_for):
    """A model for a tenant's module at ``url``, with its presenter and owner thread; stopped at the end."""
    made = []

    def make(tenant, url) -> tuple[HelpRequest, Recorder, Owner]:
        presenter, owner = Recorder(), Owner()
        model = HelpRequest(desk_for(tenant, url), presenter, post=owner.post)
        made.append(model)
        return model, presenter, owner

    yield make
    for model in made:
        if model.state != State.QUITTING:
            model.quit()


# -- the transition table ----------------------------------------------------------------------

def test_every_state_has_a_row_and_only_quitting_is_a_dead_end():
    """The table covers every state; every state but quitting can quit; nothing leaves quitting."""
    assert set(TRANSITIONS) == set(State)
    assert all(next_state(state, Event.QUIT) == State.QUITTING for state in State if state != State.QUITTING)
    assert TRANSITIONS[State.QUITTING] == {}


@pytest.mark.parametrize("state", [State.FILING, State.JOINING, State.OPEN, State.QUITTING])
def test_one_request_at_a_time_nothing_is_filed_or_joined_while_one_is_under_way(state):
    """While a request is on its way or open, neither filing nor joining applies."""
    assert next_state(state, Event.FILE) is None and next_state(state, Event.JOIN) is None


@pytest.mark.parametrize(("state", "event", "after"), [
    (State.STARTING, Event.NOTHING_OPEN, State.IDLE), (State.STARTING, Event.OPENED, State.OPEN),
    (State.IDLE, Event.FILE, State.FILING), (State.FINAL, Event.FILE, State.FILING),
    (State.FILING, Event.OPENED, State.OPEN), (State.FILING, Event.REFUSED, State.IDLE),
    (State.FILING, Event.WITHDRAWN, State.IDLE), (State.FILING, Event.GAVE_UP, State.IDLE),
    (State.JOINING, Event.OPENED, State.OPEN), (State.JOINING, Event.REFUSED, State.IDLE),
    (State.OPEN, Event.ENDED, State.FINAL), (State.OPEN, Event.NOTHING_OPEN, State.IDLE),
    (State.FINAL, Event.NOTHING_OPEN, State.IDLE),
])
def test_the_request_moves_as_the_table_says(state, event, after):
    assert next_state(state, event) == after


def test_an_event_that_does_not_apply_is_refused_and_changes_nothing(desk_for, tenant):
    """Joining while a request is being filed is a caller's bug: it raises and the state stays."""
    model = HelpRequest(desk_for(tenant, f"http://127.0.0.1:{free_port()}"))
    model.state = State.FILING
    with pytest.raises(InvalidTransition):
        model.join("s12-345-678")
    assert model.state == State.FILING


def test_sending_and_offline_are_the_agents_own_and_not_queue_statuses():
    assert {str(item) for item in Progress} == {"sending", "offline"}
    assert not {str(item) for item in Progress} & {str(status) for status in Status}


# -- the window's path: in the background, results posted back --------------------------------

def test_a_fresh_start_settles_idle_and_filing_opens_the_request_and_follows_it(model_for, queue_server, api, tenant):
    """Nothing stored: idle. File: sending, then the queue's code and status; the supporter's join shows."""
    model, presenter, owner = model_for(tenant, queue_server.url)
    model.start()
    assert model.state == State.IDLE and presenter.shown == [("settled",)]
    model.file(_body("from the model"))
    assert model.state == State.FILING and presenter.shown[-1] == ("sending",)
    code = owner.until(lambda: model.ticket and model.ticket.code, what="the delivered request")
    assert model.state == State.OPEN and presenter.named("opened") == [("opened", code)]
    assert [item["code"] for item in api.all_items(tenant.supporter_token)] == [code]
    desk = model.desk
    desk.join(model.ticket)  # the session channel's part, which the window would play
    assert api.action(code, "join", tenant.supporter_token).status_code == 200
    owner.until(lambda: model.ticket.status == Status.IN_PROGRESS, what="in_progress from the follower")


def test_a_closed_request_is_forgotten_and_the_next_click_files_anew(model_for, queue_server, api, tenant):
    """The supporter closes: final, the session ends, nothing is remembered; filing again is allowed."""
    model, presenter, owner = model_for(tenant, queue_server.url)
    model.start()
    model.file(_body())
    code = owner.until(lambda: model.ticket and model.ticket.code, what="the delivered request")
    assert api.action(code, "close", tenant.supporter_token).status_code == 200
    owner.until(lambda: model.state == State.FINAL, what="the final state")
    assert model.ticket is None and model.desk.current.load() is None
    assert ("end session", False) in presenter.shown
    assert presenter.shown[-1][:2] == ("status", Status.CLOSED)
    assert model.can(Event.FILE)


def test_a_remembered_open_request_is_shown_again_on_start(model_for, queue_server, tenant):
    """One click, one request: a restart confirms the stored request with the queue and shows it."""
    first, _, owner = model_for(tenant, queue_server.url)
    first.start()
    first.file(_body())
    code = owner.until(lambda: first.ticket and first.ticket.code, what="the delivered request")
    first.quit()
    again, presenter, owner = model_for(tenant, queue_server.url)
    again.start()
    owner.until(lambda: again.state == State.OPEN, what="the remembered request")
    assert again.ticket.code == code and presenter.named("settled") == [("settled",)]


def test_cancelling_an_open_request_closes_it_at_the_queue(model_for, queue_server, api, tenant):
    model, presenter, owner = model_for(tenant, queue_server.url)
    model.start()
    model.file(_body())
    code = owner.until(lambda: model.ticket and model.ticket.code, what="the delivered request")
    model.cancel()
    owner.until(lambda: model.state == State.FINAL, what="the closed request")
    assert api.get(code, tenant.supporter_token).json()["status"] == "closed"


def test_offline_the_request_waits_and_cancelling_withdraws_it_unsent(model_for, tmp_path_factory):
    """Queue down: sending, then offline; cancel: withdrawn, idle, the outbox empty, the queue never sees it."""
    database = sqlite_url(tmp_path_factory.mktemp("offline-db"))
    server = QueueServer(database, log_dir=tmp_path_factory.mktemp("offline-logs"))
    tenant = make_tenant(database)
    model, presenter, owner = model_for(tenant, server.url)
    model.start()
    model.file(_body("never mind"))
    owner.until(lambda: presenter.named("offline"), what="offline")
    model.cancel()
    assert model.state == State.IDLE and presenter.shown[-1] == ("withdrawn",)
    assert model.desk.outbox.pending() == []
    with server:
        api = QueueApi(server.url)
        try:
            assert api.all_items(tenant.supporter_token) == []
        finally:
            api.close_client()


def test_joining_an_unknown_code_is_refused_and_back_to_idle(model_for, queue_server, tenant):
    model, presenter, owner = model_for(tenant, queue_server.url)
    model.start()
    model.join("s00-000-000")
    owner.until(lambda: model.state == State.IDLE, what="the refusal")
    assert presenter.shown[-1] == ("refused", "Rejected", True)


# -- the --no-gui path: the same model, on this thread -------------------------------------------

def test_file_now_delivers_on_this_thread_and_open_now_finds_it_again(desk_for, queue_server, api, tenant):
    """No window: file_now returns the open ticket; the next run's open_now returns that same request."""
    first = HelpRequest(desk_for(tenant, queue_server.url))
    assert first.open_now() is None and first.state == State.IDLE
    ticket = first.file_now(_body())
    assert first.state == State.OPEN and re.fullmatch(CODE_PATTERN, ticket.code)
    again = HelpRequest(first.desk)
    assert again.open_now().code == ticket.code
    assert [item["code"] for item in api.all_items(tenant.supporter_token)] == [ticket.code]


def test_join_now_refused_raises_and_leaves_the_model_idle(desk_for, queue_server, tenant):
    model = HelpRequest(desk_for(tenant, queue_server.url))
    model.state = State.IDLE
    with pytest.raises(Rejected):
        model.join_now("s00-000-000")
    assert model.state == State.IDLE


def test_file_now_gives_up_after_its_policy_and_keeps_the_submission(desk_for, tenant):
    """Queue down: retries stop after ``give_up_after``; the request stays in the outbox; the model is idle."""
    model = HelpRequest(desk_for(tenant, f"http://127.0.0.1:{free_port()}"))
    model.state = State.IDLE
    retries = []
    with pytest.raises(Unreachable):
        model.file_now(_body(), policy=RetryPolicy(give_up_after=2.5), on_retry=lambda error, delay: retries.append(delay))
    assert retries and len(model.desk.outbox.pending()) == 1
    assert model.state == State.IDLE


# -- delivering with retries, following -------------------------------------------------------

def test_deliver_with_retry_gives_up_after_its_time_and_keeps_the_submission(desk_for, tenant):
    """With the queue down, retries stop after ``give_up_after``; the submission is still saved."""
    desk = desk_for(tenant, f"http://127.0.0.1:{free_port()}")
    submission = desk.submit(_body(), source="sos")
    retries = []
    with pytest.raises(Unreachable):
        deliver_with_retry(desk, submission, RetryPolicy(give_up_after=2.5),
                           on_retry=lambda error, delay: retries.append(delay))
    assert retries, "it retried at least once before giving up"
    assert desk.outbox.pending() == [submission]


def test_deliver_with_retry_delivers_once_the_server_comes_up(desk_for, tmp_path_factory):
    """Retrying while the queue is down delivers the request as soon as it is started."""
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    tenant = make_tenant(database_url)
    late = QueueServer(database_url, log_dir=tmp_path_factory.mktemp("logs"))
    desk = desk_for(tenant, late.url)
    submission = desk.submit(_body(), source="sos")
    retried = threading.Event()
    result: list = []
    worker = threading.Thread(target=lambda: result.append(deliver_with_retry(
        desk, submission, RetryPolicy(give_up_after=120), on_retry=lambda error, delay: retried.set())), daemon=True)
    worker.start()
    assert retried.wait(60), "the first attempt failed and a retry was planned"
    with late:
        worker.join(150)
        assert result, "delivery finished once the server was up"
        api = QueueApi(late.url)
        assert api.codes(tenant.supporter_token) == [result[0].code]
        api.close_client()
    assert re.fullmatch(CODE_PATTERN, result[0].code)
    assert desk.outbox.pending() == []


#: How long the queue stays away: the old back-off (1, 2, 4, 8 s …) would then wait about 16 s more.
AWAY_SECONDS = 16.0
#: What an attempt takes at most once the queue is back, on a busy machine.
ATTEMPT_SECONDS = 3.0


@pytest.mark.slow
def test_a_saved_request_goes_out_within_seconds_once_the_queue_is_back(desk_for, tmp_path_factory):
    """Queue killed for a while, then started again: the waiting request reaches it well before the
    grown back-off of before (then about 16 s after a 16 s outage) would have tried again."""
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    tenant = make_tenant(database_url)
    server = QueueServer(database_url, log_dir=tmp_path_factory.mktemp("logs")).start()
    try:
        server.kill()
        recorder = Recorder()
        model = HelpRequest(desk_for(tenant, server.url), recorder)
        model.state = State.IDLE
        model.file(_body("filed while the queue was away"))
        eventually(lambda: ("offline",) in recorder.shown, timeout=WAIT, what="the request to wait offline")
        time.sleep(AWAY_SECONDS)
        server.start()
        back = time.monotonic()
        eventually(lambda: model.state == State.OPEN, timeout=WAIT, interval=0.05, what="the delivery")
        delay = time.monotonic() - back
        print(f"\ndelivered {delay:.2f} s after the queue was back (after {AWAY_SECONDS:.0f} s away)")
        assert delay < DELIVERY_CAP + ATTEMPT_SECONDS
        model.quit()
    finally:
        server.stop()


def test_the_wait_between_attempts_ends_once_the_queue_takes_connections_again():
    """Away, then back: the wait ends at the next probe instead of running its full length."""
    answers = iter([False, False, False, True])
    started = time.monotonic()
    assert wait_to_retry(threading.Event(), 30.0, probe=lambda: next(answers)) == Waited.BACK
    assert time.monotonic() - started < 3 * PROBE_INTERVAL + 2.0


def test_a_queue_back_before_the_first_probe_interval_ends_the_wait_too():
    """Away when the wait begins, back a moment later: the wait ends at the first interval."""
    answers = iter([False, True])
    started = time.monotonic()
    assert wait_to_retry(threading.Event(), 30.0, probe=lambda: next(answers)) == Waited.BACK
    assert time.monotonic() - started < PROBE_INTERVAL + 2.0


def test_a_queue_that_always_takes_connections_leaves_the_wait_as_it_is():
    """A probe that never saw the queue away (a captive portal, say) does not shorten the back-off."""
    probes = []
    started = time.monotonic()
    assert wait_to_retry(threading.Event(), 2.5, probe=lambda: probes.append(1) or True) == Waited.ELAPSED
    assert time.monotonic() - started >= 2.5
    assert len(probes) >= 2


def test_stopping_ends_the_wait_at_once():
    stop = threading.Event()
    stop.set()
    assert wait_to_retry(stop, 30.0, probe=lambda: False) == Waited.STOPPED


# -- notes -------------------------------------------------------------------------------------

def _notes(api, tenant, code: str) -> list[str]:
    return [event["data"]["text"] for event in api.history(code, tenant.supporter_token)
            if event["type"] == "note_added"]


def test_add_note_saves_then_delivers_it_to_the_open_request(desk_for, queue_server, api, tenant):
    """A note on the open request reaches its history once, and the presenter hears it arrived."""
    recorder = Recorder()
    model = HelpRequest(desk_for(tenant, queue_server.url), recorder)
    model.state = State.IDLE
    ticket = model.file_now(_body())
    model.add_note("the screen flickers too")
    eventually(lambda: ("note", True) in recorder.shown, timeout=WAIT, what="the note to arrive")
    assert _notes(api, tenant, ticket.code) == ["the screen flickers too"]
    assert model.desk.notes.pending() == []


def test_a_note_needs_an_open_request(desk_for, queue_server, tenant):
    model = HelpRequest(desk_for(tenant, queue_server.url))
    model.state = State.IDLE
    with pytest.raises(InvalidTransition):
        model.add_note("nobody to tell")
    assert model.desk.notes.pending() == []


@pytest.mark.slow
def test_a_note_saved_while_the_queue_is_away_is_delivered_once_when_it_is_back(desk_for, tmp_path_factory):
    """Queue killed: the note waits in the outbox and the presenter says so; queue back: one note, once."""
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    tenant = make_tenant(database_url)
    server = QueueServer(database_url, log_dir=tmp_path_factory.mktemp("logs")).start()
    try:
        recorder = Recorder()
        model = HelpRequest(desk_for(tenant, server.url), recorder)
        model.state = State.IDLE
        ticket = model.file_now(_body())
        server.kill()
        model.add_note("written offline")
        eventually(lambda: ("note", False) in recorder.shown, timeout=WAIT, what="the note to wait offline")
        assert len(model.desk.notes.pending()) == 1
        server.start()
        eventually(lambda: ("note", True) in recorder.shown, timeout=WAIT, what="the note to arrive")
        api = QueueApi(server.url)
        assert _notes(api, tenant, ticket.code) == ["written offline"]
        api.close_client()
        assert model.desk.notes.pending() == []
    finally:
        server.stop()


def test_a_note_to_a_request_closed_meanwhile_is_kept_for_it_and_not_retried(desk_for, queue_server, api, tenant):
    """The queue refuses a note to a closed request: it moves to notes/rejected; add_note_now says False."""
    model = HelpRequest(desk_for(tenant, queue_server.url))
    model.state = State.IDLE
    ticket = model.file_now(_body())
    assert api.action(ticket.code, "close", tenant.supporter_token).status_code == 200
    assert model.add_note_now("too late") is False
    assert model.desk.notes.pending() == []
    assert len(list(model.desk.notes.rejected_directory.glob("*.json"))) == 1


def _statuses(received) -> list[str]:
    items = []
    while not received.empty():
        items.append(received.get())
    return items


def test_the_follower_reports_every_status_until_closed(desk_for, queue_server, api, tenant):
    """pending once the customer joined, in_progress with a supporter, closed at the end; then its thread ends."""
    import queue

    from agent.request import Follower

    desk = desk_for(tenant, queue_server.url)
    ticket = desk.join(desk.deliver(desk.submit({"description": "follow me"}, source="sos")))
    received: queue.SimpleQueue[str] = queue.SimpleQueue()
    follower = Follower(desk, ticket, on_status=received.put)
    follower.start()
    seen: list[str] = []
    eventually(lambda: seen.extend(_statuses(received)) or "pending" in seen, what="pending")
    assert api.action(ticket.code, "join", tenant.supporter_token).status_code == 200
    eventually(lambda: seen.extend(_statuses(received)) or "in_progress" in seen, what="in_progress")
    assert api.action(ticket.code, "close", tenant.supporter_token).status_code == 200
    eventually(lambda: seen.extend(_statuses(received)) or "closed" in seen, what="closed")
    follower._thread.join(60)
    assert not follower._thread.is_alive()


def test_the_follower_reconnects_after_the_queue_restarts(desk_for, tmp_path_factory):
    """The event stream breaks when the server restarts; the follower comes back and sees what follows."""
    import queue

    from agent.request import Follower
    from tests.support.queue_api import QueueApi
    from tests.support.tenants import make_tenant

    database = sqlite_url(tmp_path_factory.mktemp("restart-db"))
    server = QueueServer(database, log_dir=tmp_path_factory.mktemp("restart-logs")).start()
    api = QueueApi(server.url)
    try:
        tenant = make_tenant(database)
        desk = desk_for(tenant, server.url)
        ticket = desk.join(desk.deliver(desk.submit({"description": "stay with me"}, source="sos")))
        received: queue.SimpleQueue[str] = queue.SimpleQueue()
        follower = Follower(desk, ticket, on_status=received.put)
        follower.start()
        seen: list[str] = []
        eventually(lambda: seen.extend(_statuses(received)) or "pending" in seen, what="pending")
        server.stop()
        server.start()
        desk.join(ticket)  # a restarted SQLite server clears who was joined; the agent's channel rejoins
        assert api.action(ticket.code, "join", tenant.supporter_token).status_code == 200
        eventually(lambda: seen.extend(_statuses(received)) or "in_progress" in seen, timeout=120,
                   what="in_progress after the restart")
        follower.stop()
    finally:
        api.close_client()
        server.stop()


def test_a_request_cancelled_while_offline_is_never_sent(desk_for, tmp_path_factory):
    """Cancel before delivery: it leaves the outbox, the delivery thread ends, the queue never sees it."""
    import threading

    from agent.request import Delivery
    from tests.support.queue_api import QueueApi
    from tests.support.tenants import make_tenant

    database = sqlite_url(tmp_path_factory.mktemp("cancel-db"))
    server = QueueServer(database, log_dir=tmp_path_factory.mktemp("cancel-logs"))
    tenant = make_tenant(database)
    desk = desk_for(tenant, server.url)  # the server is not running yet: offline
    submission = desk.submit({"description": "never mind"}, source="sos")
    offline, delivered = threading.Event(), []
    delivery = Delivery(desk, [submission], on_delivered=lambda *args: delivered.append(args),
                        on_offline=lambda item: offline.set(), on_failed=lambda *args: delivered.append(args))
    delivery.start()
    assert offline.wait(60)
    assert delivery.cancel(submission) is True
    assert desk.outbox.pending() == []
    delivery._thread.join(120)
    assert not delivery._thread.is_alive()
    server.start()
    api = QueueApi(server.url)
    try:
        assert api.all_items(tenant.supporter_token) == []
        assert delivered == []
    finally:
        api.close_client()
        server.stop()


# -- the waiting room ------------------------------------------------------------------------

#: A module of the queue stand-in (tests.support.standin.RequestStandIn), for the model's desk.
STAND_IN_MODULE = SimpleNamespace(module_id="m-waiting-room", module_token="t" * 24)
STAND_IN_TICKET = Ticket(RequestStandIn.CODE, RequestStandIn.TOKEN, "new")


@pytest.fixture
def stand_in():
    """The queue stand-in with one open request, number 3 in its group's queue."""
    server = RequestStandIn(room=WaitingRoom("new", position=3).to_json())
    yield server
    server.stop()


def test_a_request_sends_the_topic_only_when_the_customer_picked_one():
    assert "topic" not in request_body(description="my printer")
    assert request_body(description="my printer", topic="Printers")["topic"] == "Printers"


def test_the_open_request_shows_its_place_in_the_queue_and_each_change_after_an_event(model_for, stand_in):
    """Asked at once when the request opens, then again on the request's events (long before the poll
    interval): position, expected wait, then the supporter it is assigned to; nothing once it is over."""
    model, presenter, owner = model_for(STAND_IN_MODULE, stand_in.url)
    model.desk.current.save(STAND_IN_TICKET)
    model.start()
    owner.until(lambda: model.waiting_room == WaitingRoom("new", position=3), what="the first waiting room")
    moved = WaitingRoom("new", position=1, expected_wait_seconds=90)
    stand_in.set_room(moved.to_json())
    owner.until(lambda: model.waiting_room == moved, what="the room after the next event")
    assigned = WaitingRoom("pending", assignee="Sam Supporter")
    stand_in.set_room(assigned.to_json(), status="pending")
    owner.until(lambda: model.waiting_room == assigned, what="the assignee")
    watch = model.watch
    stand_in.set_room(WaitingRoom("closed").to_json(), status="closed")
    owner.until(lambda: model.state == State.FINAL, what="the closed request")
    assert model.waiting_room is None
    eventually(lambda: not watch._thread.is_alive(), what="the waiting room to stop asking")
    rooms = [room for _name, room in presenter.named("waiting room")]
    assert rooms[:3] == [WaitingRoom("new", position=3), moved, assigned]


def test_while_nobody_is_connected_the_waiting_room_asks_again_by_itself(desk_for, stand_in):
    """Without any event the room is asked every interval, and a changed answer is reported once."""
    rooms: list[WaitingRoom] = []
    watch = WaitingRoomWatch(desk_for(STAND_IN_MODULE, stand_in.url), STAND_IN_TICKET, on_room=rooms.append,
                             interval=0.1)
    watch.start()
    try:
        eventually(lambda: rooms == [WaitingRoom("new", position=3)], what="the first room")
        stand_in.set_room(WaitingRoom("new", position=2).to_json())
        eventually(lambda: rooms[-1:] == [WaitingRoom("new", position=2)], what="the next room without an event")
        eventually(lambda: stand_in.waiting_room_asks() >= 5, what="more questions")
        assert rooms == [WaitingRoom("new", position=3), WaitingRoom("new", position=2)]
    finally:
        watch.stop()


def test_the_waiting_room_stops_asking_once_the_request_is_over_or_gone(desk_for, stand_in):
    """A final room is reported and ends the questions; so does a queue that no longer shows the request (404)."""
    desk = desk_for(STAND_IN_MODULE, stand_in.url)
    stand_in.set_room(WaitingRoom("expired").to_json())
    rooms: list[WaitingRoom] = []
    over = WaitingRoomWatch(desk, STAND_IN_TICKET, on_room=rooms.append, interval=0.01)
    over.start()
    eventually(lambda: not over._thread.is_alive(), what="the watch of an expired request to end")
    assert rooms == [WaitingRoom("expired")]
    stand_in.set_room(None)
    gone = WaitingRoomWatch(desk, STAND_IN_TICKET, on_room=rooms.append, interval=0.01)
    gone.start()
    eventually(lambda: not gone._thread.is_alive(), what="the watch of a request the queue does not show to end")
    assert rooms == [WaitingRoom("expired")] and stand_in.waiting_room_asks() == 2


def test_the_waiting_room_asks_by_itself_only_while_no_supporter_is_connected():
    """Waiting, assigned or unanswered: every interval; with a supporter connected only the request's
    events ask again (a supporter leaving is one)."""
    assert ask_again_in(WaitingRoom("new", position=4), 15) == 15
    assert ask_again_in(WaitingRoom("pending", assignee="Sam"), 15) == 15
    assert ask_again_in(None, 15) == 15
    assert ask_again_in(WaitingRoom("in_progress", assignee="Sam"), 15) is None


def test_the_follower_wakes_the_waiting_room_on_every_event(desk_for, queue_server, api, tenant):
    """Each event of the request, whatever it says, is told to whoever listens (the waiting room)."""
    desk = desk_for(tenant, queue_server.url)
    ticket = desk.deliver(desk.submit(_body(), source="module"))
    events = threading.Semaphore(0)
    follower = Follower(desk, ticket, on_status=lambda status: None, on_event=events.release)
    follower.start()
    try:
        assert events.acquire(timeout=WAIT)  # the snapshot
        desk.client.join(ticket)  # the request turns pending
        assert events.acquire(timeout=WAIT)
    finally:
        follower.stop()
