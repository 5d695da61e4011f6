"""The supporters' waiting message in the help window on a real X display: plain, wrapped, within the layout."""

import pytest

from agent import i18n
from agent.ui.window import WAITING_MESSAGE_LINES, WINDOW_HEIGHT, WINDOW_WIDTH, visible_texts
from sosqueue.waiting_room import MAX_WAITING_MESSAGE_CHARS, WaitingRoom
from tests.agent.ui.support import needs_x_tools
from tests.agent.ui.test_window import (ALL_REQUIRED, DIAGNOSTICS, LONG_GERMAN_BRAND, TOPICS, Recorder, cut_off,
                                        make_window, measured, overlapping)

pytestmark = needs_x_tools

MESSAGE = "We are on it.\nPlease keep the printer switched on."
MARKUP = '<b>bold</b> &amp; {text} [link](https://example.test) <script>alert(1)</script>'
LONGEST = ("Unsere Technikerinnen und Techniker sind heute wegen einer Netzstörung im Rathaus stark ausgelastet. "
           * 20)[:MAX_WAITING_MESSAGE_CHARS]


@pytest.fixture
def recorder():
    return Recorder()


def test_the_waiting_message_is_shown_under_the_waiting_room_while_the_request_waits(tk_root, recorder):
    """The message appears with the room that carries it, with its lines, after the place in the queue."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.show_waiting_room(WaitingRoom("new", position=2, message=MESSAGE))
    tk_root.update()
    texts = visible_texts(tk_root)
    assert MESSAGE in texts
    assert texts.index("You are number 2 in the queue.") < texts.index(MESSAGE)
    assert window.snapshot()["waiting_room"]["message"] == MESSAGE


def test_the_message_takes_the_place_of_the_brands_waiting_text(tk_root, recorder):
    """The supporters' own words say more than the brand's; without them the brand's text is back."""
    window = make_window(tk_root, recorder, waiting="Stay close to your desk.")
    window.show_request("new", "s12-345-678")
    tk_root.update()
    assert "Stay close to your desk." in visible_texts(tk_root)
    window.show_waiting_room(WaitingRoom("new", message=MESSAGE))
    tk_root.update()
    assert "Stay close to your desk." not in visible_texts(tk_root)
    window.show_waiting_room(WaitingRoom("new"))
    tk_root.update()
    assert "Stay close to your desk." in visible_texts(tk_root)


def test_a_new_message_replaces_the_old_one_and_an_empty_one_takes_the_box_away(tk_root, recorder):
    """What the next poll brings is what the window shows."""
    window = make_window(tk_root, recorder)
    window.show_request("pending", "s12-345-678")
    window.show_waiting_room(WaitingRoom("pending", position=1, message="First"))
    window.show_waiting_room(WaitingRoom("pending", position=1, message="Second"))
    tk_root.update()
    assert "Second" in visible_texts(tk_root) and "First" not in visible_texts(tk_root)
    window.show_waiting_room(WaitingRoom("pending", position=1))
    tk_root.update()
    assert not window.parts["waiting_message"].winfo_ismapped()


def test_markup_is_shown_as_the_characters_typed(tk_root, recorder):
    """Nothing in a message is markup, a format field or a link: the customer reads what was typed."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.show_waiting_room(WaitingRoom("new", message=MARKUP))
    tk_root.update()
    assert MARKUP in visible_texts(tk_root)


def test_control_and_direction_characters_are_left_out(tk_root, recorder):
    """A message cannot reorder what the window shows or draw invisible characters."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.show_waiting_room(WaitingRoom("new", message="Call\u202e 555\x07 \r\nsoon\t!"))
    tk_root.update()
    assert "Call 555 \nsoon !" in visible_texts(tk_root)


@pytest.mark.parametrize("status", ["in_progress", "closed", "expired"])
def test_the_message_goes_once_a_supporter_is_connected_or_the_request_is_over(tk_root, recorder, status):
    window = make_window(tk_root, recorder)
    window.show_request("pending", "s12-345-678")
    window.show_waiting_room(WaitingRoom("pending", message=MESSAGE))
    tk_root.update()
    window.set_status(status)
    tk_root.update()
    assert MESSAGE not in visible_texts(tk_root)


def test_the_longest_message_wraps_into_a_few_lines_that_scroll(tk_root, recorder):
    """A message of the most characters the queue keeps takes WAITING_MESSAGE_LINES and gets a scroll bar."""
    window = make_window(tk_root, recorder)
    window.show_request("new", "s12-345-678")
    window.show_waiting_room(WaitingRoom("new", position=3, message=LONGEST))
    tk_root.update()
    assert int(window.waiting_message.cget("height")) == WAITING_MESSAGE_LINES
    assert window.waiting_message.get("1.0", "end-1c") == LONGEST.strip()
    assert window.waiting_message.yview()[1] < 1  # the rest is there to scroll to
    assert window._waiting_message_bar.winfo_ismapped()
    window.show_waiting_room(WaitingRoom("new", position=3, message="Short."))
    tk_root.update()
    assert int(window.waiting_message.cget("height")) == 1
    assert not window._waiting_message_bar.winfo_ismapped()


def test_the_window_keeps_its_size_with_the_longest_message_in_a_long_german_brand(tk_root, recorder):
    """Measured on the X server: with every other waiting line shown too, nothing is cut off or drawn over."""
    i18n.use_language("de")
    window = make_window(tk_root, recorder, diagnostics=DIAGNOSTICS, fields=ALL_REQUIRED, topics=TOPICS,
                         **LONG_GERMAN_BRAND)
    window.show_request("pending", "s12-345-678")
    window.show_topic(TOPICS[0].label)
    window.show_waiting_room(WaitingRoom("pending", position=12, expected_wait_seconds=1500,
                                         assignee="Alexandra Musterfrau-Beispielname", message=LONGEST))
    window.set_connection("reconnecting")
    window.show_notice("Abbrechen hat nicht geklappt: der Support-Server ist nicht erreichbar.")
    for state in ("waiting", "chat"):
        if state == "chat":  # as in test_window's states: the chat comes once the line's trouble is over
            window.set_connection("")
            window.show_notice("")
            window.chat.set_connected(True)
            window.show_chat()
            for number in range(10):
                window.chat.add_message("expert", "Alex", f"Nachricht {number}: bitte warten Sie noch kurz")
        assert measured(tk_root) == (WINDOW_WIDTH, WINDOW_HEIGHT), state
        assert cut_off(tk_root) == [], state
        assert overlapping(tk_root) == [], state
        assert window.waiting_message.winfo_ismapped(), state
