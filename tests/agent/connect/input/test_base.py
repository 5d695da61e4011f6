"""What every backend shares: the checks before a hook is called, and what reaches the hooks."""

import pytest

from agent.connect.input import Button, InjectionUnavailable, Injector, Key, KeyNotTypable, Modifier, Monitor


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
