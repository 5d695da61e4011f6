"""The macOS injector, checked by the Quartz events it would post: types, positions, flags, strings."""

import pytest

from agent.connect.input import Button, InjectionUnavailable, Key, KeyNotTypable, Modifier, Monitor
from agent.connect.input._darwin import Injector, KeyEvent, MouseEvent, ScrollEvent, utf16_units

#: A 1440×900 main display and a 1920×1080 one right of it, 200 points higher.
MONITORS = [Monitor(0, 0, 1440, 900), Monitor(1440, -200, 1920, 1080)]
CONTROL, SHIFT, COMMAND = 0x40000, 0x20000, 0x100000


class FakeQuartz:
    def __init__(self):
        self.posted: list[list] = []

    def post(self, events):
        self.posted.append(list(events))


@pytest.fixture
def quartz():
    return FakeQuartz()


@pytest.fixture
def injector(quartz):
    return Injector(post=quartz.post, list_monitors=lambda: MONITORS, is_trusted=lambda: True)


def test_a_click_on_the_second_display_is_posted_at_its_global_point(injector, quartz):
    assert injector.move(100, 50, monitor=1) == (1540, -150)
    injector.click()
    assert quartz.posted == [[MouseEvent(5, 1540, -150, 0)],
                             [MouseEvent(1, 1540, -150, 0, 1), MouseEvent(2, 1540, -150, 0, 1)]]


def test_a_double_click_counts_its_clicks_and_a_held_button_drags(injector, quartz):
    injector.double_click()
    injector.press(Button.RIGHT)
    injector.move(10, 10)
    injector.release(Button.RIGHT)
    assert quartz.posted == [
        [MouseEvent(1, None, None, 0, 1), MouseEvent(2, None, None, 0, 1),
         MouseEvent(1, None, None, 0, 2), MouseEvent(2, None, None, 0, 2)],
        [MouseEvent(3, None, None, 1, 1)], [MouseEvent(7, 10, 10, 1)], [MouseEvent(4, 10, 10, 1, 1)],
    ]


def test_typed_text_carries_each_character(injector, quartz):
    injector.type_text("Grüße😀")
    assert quartz.posted == [[KeyEvent(0, down, 0, character) for character in "Grüße😀" for down in (True, False)]]
    assert utf16_units("ü") == [0xFC] and utf16_units("😀") == [0xD83D, 0xDE00]


def test_ctrl_c_holds_control_over_the_c_key(injector, quartz):
    injector.press_key("c", {Modifier.CONTROL})
    injector.press_key(Key.TAB, {Modifier.META, Modifier.SHIFT})
    assert quartz.posted == [
        [KeyEvent(0x3B, True, CONTROL), KeyEvent(0x08, True, CONTROL, "c"), KeyEvent(0x08, False, CONTROL, "c"),
         KeyEvent(0x3B, False, 0)],
        [KeyEvent(0x37, True, COMMAND), KeyEvent(0x38, True, COMMAND | SHIFT), KeyEvent(0x30, True, COMMAND | SHIFT),
         KeyEvent(0x30, False, COMMAND | SHIFT), KeyEvent(0x38, False, COMMAND), KeyEvent(0x37, False, 0)],
    ]


def test_the_wheel_in_lines_with_macos_signs(injector, quartz):
    """Two notches down and one right are -2 and -1 for Quartz (its positive is up and left)."""
    injector.scroll(dx=1, dy=2)
    assert quartz.posted == [[ScrollEvent(vertical=-2, horizontal=-1)]]


def test_keys_a_mac_lacks_are_reported(injector, quartz):
    with pytest.raises(KeyNotTypable, match="'ContextMenu' has no key on a Mac"):
        injector.press_key(Key.CONTEXT_MENU)
    assert quartz.posted == []
    assert Injector.HAS_SECURE_ATTENTION is False


def test_without_the_accessibility_permission_the_reason_says_where_to_allow_it(quartz):
    with pytest.raises(InjectionUnavailable) as refused:
        Injector(post=quartz.post, list_monitors=lambda: MONITORS, is_trusted=lambda: False)
    assert "Privacy & Security → Accessibility" in str(refused.value)
