"""The waiting room as the agent reads it: the supporters' message, also from a queue that sends none."""

import pytest

from sosqueue.waiting_room import MAX_WAITING_MESSAGE_CHARS, WaitingRoom
from sosqueue.window_layout import waiting_message


def test_the_message_goes_to_json_and_back():
    room = WaitingRoom("new", position=2, message="Back at 3 pm.")
    assert room.to_json()["message"] == "Back at 3 pm."
    assert WaitingRoom.from_json(room.to_json()) == room


@pytest.mark.parametrize("answer", [
    {"status": "new", "position": 1, "expected_wait_seconds": None, "assignee": None},  # a queue before messages
    {"status": "new", "position": 1, "expected_wait_seconds": None, "assignee": None, "message": None},
    {"status": "new", "position": 1, "expected_wait_seconds": None, "assignee": None, "message": ""},
], ids=["absent", "null", "empty"])
def test_a_queue_without_a_message_means_none(answer):
    assert WaitingRoom.from_json(answer) == WaitingRoom("new", position=1)


@pytest.mark.parametrize("message", [42, ["a"], {"text": "a"}, True])
def test_a_message_that_is_not_text_is_not_the_queues_answer(message):
    with pytest.raises(TypeError):
        WaitingRoom.from_json({"status": "new", "message": message})


def test_a_message_is_kept_to_what_the_queue_may_hold():
    room = WaitingRoom.from_json({"status": "new", "message": "x" * (MAX_WAITING_MESSAGE_CHARS + 500)})
    assert len(room.message) == MAX_WAITING_MESSAGE_CHARS


@pytest.mark.parametrize(("status", "shown"), [
    ("new", True), ("pending", True), ("in_progress", False), ("closed", False), ("expired", False),
    ("sending", False), ("offline", False),
])
def test_the_window_shows_the_message_only_while_the_request_waits_for_a_supporter(status, shown):
    room = WaitingRoom(status, message="Back at 3 pm.")
    assert waiting_message(room, status) == ("Back at 3 pm." if shown else "")
    assert waiting_message(None, status) == ""


def test_the_window_keeps_lines_and_drops_control_and_direction_characters():
    room = WaitingRoom("new", message="  Line one\r\nLine\ttwo\x1b[31m\u202egnirts\u200b\x00 \n")
    assert waiting_message(room, "new") == "Line one\nLine two[31mgnirts"
