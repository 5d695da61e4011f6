"""The chat pane on a real X display: what is typed goes out once; what comes in shows as plain text."""

import subprocess
from tkinter import ttk

import pytest

from agent import i18n
from agent.ui import WindowActions, theme
from agent.ui.chat import MAX_CHARS, ChatPane, clean_text, one_line
from agent.ui.window import HelpWindow, visible_texts
from tests.agent.ui.support import needs_x_tools, pump
from tests.support.modules import module_config

pytestmark = needs_x_tools


class Outbox(list):
    """What the pane handed on; ``connected`` says whether sending works."""

    connected = True

    def __call__(self, text: str) -> bool:
        if self.connected:
            self.append(text)
        return self.connected


@pytest.fixture
def pane(tk_root):
    palette = theme.Palette.from_brand(module_config(server_url="http://127.0.0.1:9", module_id="m-chat",
                                                     module_token="t" * 24).brand)
    fonts = theme.make_fonts(tk_root)
    theme.apply_style(tk_root, palette, fonts)
    frame = ttk.Frame(tk_root, padding=12)
    frame.pack()
    chat = ChatPane(frame, palette, fonts, on_send=Outbox())
    chat.pack()
    chat.fonts = fonts  # Tk forgets fonts nobody references
    tk_root.deiconify()
    tk_root.lift()
    pump(tk_root, tk_root.winfo_viewable, what="the pane on screen")
    return chat


def type_and_return(root, display: str, entry, text: str) -> None:
    root.focus_force()
    entry.focus_force()
    pump(root, lambda: root.focus_get() is entry, what="the focus in the chat line")
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
    subprocess.run(["xdotool", "type", "--delay", "15", text], env=env, check=True, timeout=30)
    subprocess.run(["xdotool", "key", "Return"], env=env, check=True, timeout=30)


def test_a_typed_message_is_sent_shown_and_the_line_cleared(tk_root, display, pane):
    """Typed and Return: handed on once, shown as "You: …", the input empty again."""
    type_and_return(tk_root, display, pane.entry, "Hallo, der Drucker <streikt>")
    pump(tk_root, lambda: pane.on_send, what="the message to go out")
    assert pane.on_send == ["Hallo, der Drucker <streikt>"]
    assert pane.history.get("1.0", "end-1c") == "You: Hallo, der Drucker <streikt>\n"
    assert pane.messages == [{"from": "customer", "name": "You", "text": "Hallo, der Drucker <streikt>"}]
    assert pane.entry.get() == ""


def test_the_send_button_sends_and_blank_input_sends_nothing(tk_root, pane):
    """Only blanks: nothing goes out; text: the Send button sends it."""
    pane.entry.insert(0, "   ")
    pane.send_button.invoke()
    assert pane.on_send == []
    pane.entry.delete(0, "end")
    pane.entry.insert(0, "  thanks  ")
    pane.send_button.invoke()
    assert pane.on_send == ["thanks"]


def test_when_not_connected_the_text_stays_and_the_pane_says_so(tk_root, pane):
    """Sending fails: the text remains in the line and a note explains why."""
    pane.on_send.connected = False
    pane.entry.insert(0, "anyone there?")
    pane.send_button.invoke()
    tk_root.update()
    assert pane.entry.get() == "anyone there?"
    assert pane.problem.cget("text") == "Not connected — your message was not sent."
    assert pane.messages == []


def test_a_message_over_the_limit_is_not_sent(tk_root, pane):
    """2001 characters: refused in the pane with the limit named; the queue would refuse it too."""
    pane.entry.insert(0, "x" * (MAX_CHARS + 1))
    pane.send_button.invoke()
    assert pane.on_send == []
    assert pane.problem.cget("text") == f"Please keep messages under {MAX_CHARS} characters."
    pane.entry.delete(0, "end")
    pane.entry.insert(0, "x" * MAX_CHARS)
    pane.send_button.invoke()
    assert pane.on_send == ["x" * MAX_CHARS]
    assert pane.problem.cget("text") == ""


def test_incoming_text_is_shown_as_text_with_the_experts_name(tk_root, pane):
    """Markup, braces and line breaks show as written; control characters are dropped."""
    pane.add_message("expert", "Alex", "<i>Try</i> {this}:\n1. restart\x07")
    assert pane.history.get("1.0", "end-1c") == "Alex: <i>Try</i> {this}:\n1. restart\n"
    assert pane.messages == [{"from": "expert", "name": "Alex", "text": "<i>Try</i> {this}:\n1. restart"}]
    assert pane.history.tag_names("1.0") == ("expert",)


def test_notes_and_clear(tk_root, pane):
    """A note is a line of its own; clear() empties the conversation."""
    pane.add_note("Alex joined the session.")
    assert pane.history.get("1.0", "end-1c") == "Alex joined the session.\n"
    assert pane.history.tag_names("1.0") == ("note",)
    pane.clear()
    assert pane.history.get("1.0", "end-1c") == ""
    assert pane.messages == []


def test_while_disconnected_the_input_is_disabled(tk_root, pane):
    """set_connected(False) greys out the line and the button; True enables them again."""
    pane.set_connected(False)
    assert "disabled" in pane.entry.state() and "disabled" in pane.send_button.state()
    pane.set_connected(True)
    assert "disabled" not in pane.entry.state() and "disabled" not in pane.send_button.state()


@pytest.mark.parametrize(("text", "cleaned"), [
    ("  hi  ", "hi"), ("a\r\nb", "a\nb"), ("tab\there", "tab\there"), ("bell\x07", "bell"), ("\x1b[31mred", "[31mred"),
])
def test_clean_text_keeps_only_tabs_and_line_breaks(text, cleaned):
    assert clean_text(text) == cleaned


def test_the_single_line_input_turns_pasted_line_breaks_into_spaces():
    assert one_line("first line\r\nsecond line\n") == "first line second line"


def help_window(tk_root, **overrides) -> HelpWindow:
    config = module_config(server_url="http://127.0.0.1:9", module_id="m-chat", module_token="t" * 24, **overrides)
    nothing = WindowActions(request_help=lambda values: None, join_code=lambda code: None,
                            cancel_request=lambda: None, close=lambda: None)
    return HelpWindow(tk_root, config, nothing)


def connect_chat(window: HelpWindow) -> None:
    """What the app does once the session channel is up (the session tells the pane first)."""
    window.chat.set_connected(True)
    window.show_chat()


def test_while_waiting_a_connected_session_shows_no_chat_until_a_message_comes(tk_root):
    """The empty chat box does not fill the waiting screen; the first message (or note) brings the chat."""
    window = help_window(tk_root)
    window.show_request("pending", "s12-345-678")
    window.bring_forward()
    pump(tk_root, window.is_visible, what="the window")
    connect_chat(window)
    tk_root.update()
    assert "Chat with your supporter" not in visible_texts(tk_root) and not window.chat_shown()
    window.chat.add_note("Alex joined the session.")
    tk_root.update()
    texts = visible_texts(tk_root)
    assert "Chat with your supporter" in texts and "Send" in texts
    assert texts.index("Cancel request") < texts.index("Chat with your supporter")  # Tab reaches Cancel first
    window.chat.clear()  # the next request's session
    assert not window.chat_shown()


def test_a_supporter_on_the_request_brings_the_chat_while_connected(tk_root):
    """In progress and connected: the customer can write first; disconnected and empty: no chat."""
    window = help_window(tk_root)
    window.show_request("in_progress", "s12-345-678")
    connect_chat(window)
    assert window.chat_shown()
    window.chat.set_connected(False)
    assert not window.chat_shown()


def test_the_chat_shows_the_reconnecting_note_and_goes_when_the_request_ends(tk_root):
    """set_connection says when it reconnects; a closed request hides the chat with its messages."""
    window = help_window(tk_root)
    window.show_request("in_progress", "s12-345-678")
    window.bring_forward()
    pump(tk_root, window.is_visible, what="the window")
    connect_chat(window)
    window.chat.add_message("expert", "Alex", "Hello")
    window.set_connection("reconnecting")
    tk_root.update()
    assert {"Chat with your supporter", "Send", "Reconnecting to the support server…"} <= set(visible_texts(tk_root))
    window.set_connection("connected")
    tk_root.update()
    assert "Reconnecting to the support server…" not in visible_texts(tk_root)
    window.set_status("closed")
    tk_root.update()
    assert "Chat with your supporter" not in visible_texts(tk_root)


def test_the_chat_speaks_german(tk_root):
    """With language de the pane's labels are German."""
    i18n.use_language("de")
    window = help_window(tk_root, language="de")
    window.show_request("in_progress", "s12-345-678")
    connect_chat(window)
    window.set_connection("reconnecting")
    window.bring_forward()
    pump(tk_root, window.is_visible, what="the window")
    assert {"Chat mit Ihrem Supporter", "Senden", "Verbindung zum Support-Server wird wiederhergestellt …"} <= set(
        visible_texts(tk_root))
