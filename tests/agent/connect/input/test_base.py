"""What every backend shares: the checks before a hook is called, and what reaches the hooks."""

import logging

import pytest

from agent.connect.input import Button, InjectionUnavailable, Injector, Key, KeyNotTypable, Modifier, Monitor
from sosqueue.connect import TAKE_BACK_KEY, TAKE_BACK_LABEL, TAKE_BACK_MODIFIERS


class Recording(Injector):
    """A backend that records its hook calls; it cannot type "☃"."""

    backend_name = "recording"

    def __init__(self):
        super().__init__()
        self.calls = []

    def _monitors(self):
        return [Monitor(0, 0, 1920, 1080), Monitor(-1280, 100, 1280, 1024)]

    def _move(self, x, y):
        self.calls.append(("move", x, y))

    def _button(self, button, down):
        self.calls.append(("button", button, down))

    def _scroll(self, dx, dy):
        self.calls.append(("scroll", dx, dy))

    def _can_type(self, character):
        return character != "☃"

    def _type(self, text):
        self.calls.append(("type", text))

    def _key(self, key, modifiers):
        self.calls.append(("key", key, modifiers))

    def _watch_take_back(self, on_pressed):
        self.calls.append(("watch",))
        self.pressed = on_pressed


def test_moves_are_relative_to_the_chosen_monitor_and_clamped_to_it():
    injector = Recording()
    assert injector.move(10, 20, monitor=1) == (-1270, 120)
    assert injector.move(-5, 5000, monitor=1) == (-1280, 1123)
    assert injector.move(3000, 3000) == (1919, 1079)
    assert injector.calls == [("move", -1270, 120), ("move", -1280, 1123), ("move", 1919, 1079)]


def test_arguments_are_checked_before_anything_is_sent():
    injector = Recording()
    with pytest.raises(TypeError):
        injector.move(1.5, 2)
    with pytest.raises(ValueError, match="button must be one of left, middle, right"):
        injector.click("fourth")
    with pytest.raises(ValueError, match="one printable character"):
        injector.press_key("ab")
    with pytest.raises(ValueError, match="modifiers must be among"):
        injector.press_key("c", ["Hyper"])
    with pytest.raises(TypeError):
        injector.type_text(b"bytes")
    assert injector.calls == []


def test_text_is_checked_whole_before_any_of_it_is_typed():
    injector = Recording()
    with pytest.raises(KeyNotTypable) as refused:
        injector.type_text("snow ☃")
    assert str(refused.value) == "'☃' (U+2603) cannot be typed on this computer"
    assert refused.value.character == "☃"
    with pytest.raises(KeyNotTypable, match="control character"):
        injector.type_text("bell \a")
    assert injector.calls == []


def test_line_breaks_and_tabs_are_their_keys():
    injector = Recording()
    injector.type_text("a\tb\r\nc")
    assert injector.calls == [("type", "a"), ("key", Key.TAB, frozenset()), ("type", "b"),
                              ("key", Key.ENTER, frozenset()), ("type", "c")]


def test_keys_and_modifiers_may_be_given_by_their_names():
    injector = Recording()
    injector.press_key("Tab", ["Shift"])
    injector.press_key("c", {Modifier.CONTROL})
    assert injector.calls == [("key", Key.TAB, frozenset({Modifier.SHIFT})),
                              ("key", "c", frozenset({Modifier.CONTROL}))]


def test_clicks_and_a_double_click_press_and_release():
    injector = Recording()
    injector.double_click(Button.RIGHT)
    assert injector.calls == [("button", Button.RIGHT, True), ("button", Button.RIGHT, False)] * 2


def test_closing_releases_the_buttons_still_held():
    injector = Recording()
    injector.press("left")
    injector.press("middle")
    injector.release("middle")
    injector.close()
    assert injector.calls[-1] == ("button", Button.LEFT, False)
    assert injector.closed


def test_the_base_class_names_the_backend_that_lacks_a_hook():
    class Incomplete(Injector):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete is an input backend without _move"):
        Incomplete()._move(0, 0)
    with pytest.raises(InjectionUnavailable, match="Ctrl\\+Alt\\+Del cannot be sent"):
        Incomplete().send_secure_attention()
    with pytest.raises(NotImplementedError, match="Incomplete is an input backend without _watch_take_back"):
        Incomplete().watch_take_back(lambda: None)


@pytest.mark.parametrize("key, modifiers", [
    (TAKE_BACK_KEY, TAKE_BACK_MODIFIERS),
    (" ", ["Control", "Alt"]),
    (Key.SPACE, {Modifier.CONTROL, Modifier.ALT, Modifier.SHIFT}),
    (Key.SPACE, {Modifier.CONTROL, Modifier.ALT, Modifier.META}),
])
def test_the_take_back_combination_is_never_pressed_for_the_expert(key, modifiers):
    """Space with Control and Alt held (whatever else is held) is refused, naming it; nothing is sent."""
    injector = Recording()
    with pytest.raises(KeyNotTypable) as refused:
        injector.press_key(key, modifiers)
    assert str(refused.value) == (f"{TAKE_BACK_LABEL!r} is the customer's key to take control back, "
                                  "never sent for the expert")
    assert refused.value.character == TAKE_BACK_LABEL
    assert injector.calls == []


def test_space_with_fewer_modifiers_and_typed_spaces_still_go():
    """Ctrl+Space, Alt+Space and a typed space are ordinary keys."""
    injector = Recording()
    injector.press_key(Key.SPACE, {Modifier.CONTROL})
    injector.press_key(Key.SPACE, {Modifier.ALT, Modifier.SHIFT})
    injector.type_text(" ")
    assert injector.calls == [("key", Key.SPACE, frozenset({Modifier.CONTROL})),
                              ("key", Key.SPACE, frozenset({Modifier.ALT, Modifier.SHIFT})), ("type", " ")]


def test_watching_the_take_back_key_starts_the_listener_once_and_a_second_call_replaces_the_handler():
    """The hook is called once; each press reaches the handler given last."""
    injector = Recording()
    heard = []
    injector.watch_take_back(lambda: heard.append("first"))
    injector.pressed()
    injector.watch_take_back(lambda: heard.append("second"))
    injector.pressed()
    assert injector.calls == [("watch",)]
    assert heard == ["first", "second"]
    assert injector.watching_take_back


def test_no_press_reaches_the_handler_after_close():
    """A press the listener reports while closing or after is dropped."""
    injector = Recording()
    heard = []
    injector.watch_take_back(lambda: heard.append("pressed"))
    injector.close()
    injector.pressed()
    assert heard == [] and not injector.watching_take_back


def test_a_failing_handler_is_logged_and_the_listener_goes_on(caplog):
    injector = Recording()

    def broken():
        raise ValueError("oops")

    injector.watch_take_back(broken)
    with caplog.at_level(logging.ERROR):
        injector.pressed()
    assert "the take-back key's handler failed" in caplog.text


def test_watching_needs_an_open_injector_and_a_callable():
    injector = Recording()
    with pytest.raises(TypeError, match="on_pressed must be callable"):
        injector.watch_take_back("not a function")
    injector.close()
    with pytest.raises(RuntimeError, match="the input injector is closed"):
        injector.watch_take_back(lambda: None)
    assert ("watch",) not in injector.calls


def test_a_listener_that_cannot_start_leaves_the_injector_not_watching():
    """The backend's InjectionUnavailable reaches the caller, and a later call tries again."""

    class Refusing(Recording):
        def _watch_take_back(self, on_pressed):
            self.calls.append(("watch",))
            raise InjectionUnavailable("Ctrl+Alt+Space belongs to another program")

    injector = Refusing()
    for _ in range(2):
        with pytest.raises(InjectionUnavailable, match="belongs to another program"):
            injector.watch_take_back(lambda: None)
    assert injector.calls == [("watch",), ("watch",)] and not injector.watching_take_back
