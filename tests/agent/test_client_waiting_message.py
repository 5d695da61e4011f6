"""The agent reads its supporters' waiting message from the real queue, and from a queue that has none."""

import uuid

import pytest
from sqlalchemy import update

from agent.request import WaitingRoomWatch
from server.db import Database
from server.models import ServiceRequest
from sosqueue.waiting_room import WaitingRoom
from tests.agent.test_client import BODY, client_for
from tests.support.polling import eventually
from tests.support.standin import RequestStandIn
from tests.agent.test_request import STAND_IN_MODULE, STAND_IN_TICKET

OLD_QUEUES_ROOM = {"status": "new", "position": 3, "expected_wait_seconds": None, "assignee": None}


@pytest.fixture(autouse=True)
def agent_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "agent-home"))


def set_message(server, code: str, text: str) -> None:
    """What a supporter's or an integration's change of the message leaves in the queue's database."""
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(ServiceRequest).where(ServiceRequest.code == code.replace("-", ""))
                            .values(waiting_message=text))
    finally:
        database.dispose()


def test_the_real_queue_gives_the_customer_the_message_and_its_changes(tenant, queue_server):
    client = client_for(tenant, queue_server.url)
    ticket = client.create(BODY, idempotency_key=str(uuid.uuid4()), source="sos")
    assert client.waiting_room(ticket).message == ""
    set_message(queue_server, ticket.code, "All lines are busy.\nWe call you back within the hour.")
    assert client.waiting_room(ticket).message == "All lines are busy.\nWe call you back within the hour."


def test_a_queue_older_than_messages_still_tells_the_place(desk_for):
    """An answer without ``message`` is a room without one, not an answer the agent cannot read."""
    stand_in = RequestStandIn(room=OLD_QUEUES_ROOM)
    try:
        room = desk_for(STAND_IN_MODULE, stand_in.url).client.waiting_room(STAND_IN_TICKET)
    finally:
        stand_in.stop()
    assert room == WaitingRoom("new", position=3)


def test_a_changed_message_alone_is_reported_at_the_next_question(desk_for):
    """Same place, new words: the watch reports the room again."""
    stand_in = RequestStandIn(room=OLD_QUEUES_ROOM)
    rooms: list[WaitingRoom] = []
    watch = WaitingRoomWatch(desk_for(STAND_IN_MODULE, stand_in.url), STAND_IN_TICKET, on_room=rooms.append,
                             interval=0.05)
    watch.start()
    try:
        eventually(lambda: rooms == [WaitingRoom("new", position=3)], what="the first room")
        stand_in.set_room({**OLD_QUEUES_ROOM, "message": "Back at 3 pm."})
        eventually(lambda: rooms[-1:] == [WaitingRoom("new", position=3, message="Back at 3 pm.")],
                   what="the room with the message")
    finally:
        watch.stop()
        stand_in.stop()
