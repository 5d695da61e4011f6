"""The Windows injector, checked by what it hands SendInput: the exact INPUT structures, field by field."""

import ctypes

import pytest

from agent.connect.input import Button, InjectionUnavailable, Key, KeyNotTypable, Modifier, Monitor
from agent.connect.input._win32 import INPUT, Injector

#: A 1920×1080 primary monitor and a 1280×1024 one left of it: the virtual desktop is x -1280..1919, y 0..1079.
MONITORS = [Monitor(0, 0, 1920, 1080), Monitor(-1280, 0, 1280, 1024)]
MOVE_ABSOLUTE = 0x0001 | 0x8000 | 0x4000
UNICODE, KEYUP, EXTENDED = 0x0004, 0x0002, 0x0001


def fields(event: INPUT) -> tuple:
    """An INPUT as Windows reads it: ("mouse", dx, dy, mouseData, dwFlags) or ("key", wVk, wScan, dwFlags)."""
    if event.type == 0:
        assert (event.mi.time, event.mi.dwExtraInfo) == (0, 0)
        return ("mouse", event.mi.dx, event.mi.dy, event.mi.mouseData, event.mi.dwFlags)
    assert event.type == 1 and (event.ki.time, event.ki.dwExtraInfo) == (0, 0)
    return ("key", event.ki.wVk, event.ki.wScan, event.ki.dwFlags)


class FakeWindows:
    """SendInput that records each batch and takes all of it (or ``takes`` events)."""

    def __init__(self, takes: int | None = None):
        self.batches: list[list[tuple]] = []
        self.takes = takes

    def send_input(self, inputs) -> int:
        self.batches.append([fields(event) for event in inputs])
        return len(inputs) if self.takes is None else self.takes


@pytest.fixture
def windows():
    return FakeWindows()


@pytest.fixture
def injector(windows):
    return Injector(send_input=windows.send_input, list_monitors=lambda: MONITORS)


def test_the_structures_are_laid_out_as_winuser_h_declares_them():
    """64-bit Windows: INPUT is 40 bytes, its union at offset 8 (32-bit: 28 and 4)."""
    pointer = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(INPUT) == (40 if pointer == 8 else 28)
    assert INPUT.union.offset == pointer


def test_a_click_on_the_second_monitor_is_an_absolute_move_over_the_virtual_desktop(injector, windows):
    """(100, 200) on the left monitor is desktop (-1180, 200): 100/3199 and 200/1079 of 65535."""
    assert injector.move(100, 200, monitor=1) == (-1180, 200)
    injector.click()
    assert windows.batches == [
        [("mouse", round(100 * 65535 / 3199), round(200 * 65535 / 1079), 0, MOVE_ABSOLUTE)],
        [("mouse", 0, 0, 0, 0x0002), ("mouse", 0, 0, 0, 0x0004)],
    ]
    assert windows.batches[0][0][1:3] == (2049, 12147)


def test_the_corners_of_the_desktop_are_0_and_65535(injector, windows):
    injector.move(-10, -10, monitor=1)
    injector.move(5000, 5000)
    assert [batch[0][1:3] for batch in windows.batches] == [(0, 0), (65535, 65535)]


def test_a_double_click_and_the_right_button(injector, windows):
    injector.double_click()
    injector.press(Button.RIGHT)
    injector.release(Button.RIGHT)
    assert windows.batches == [[("mouse", 0, 0, 0, 0x0002), ("mouse", 0, 0, 0, 0x0004)] * 2,
                               [("mouse", 0, 0, 0, 0x0008)], [("mouse", 0, 0, 0, 0x0010)]]


def test_the_wheel_counts_in_wheel_deltas(injector, windows):
    """Two notches down is -240 on Windows' vertical wheel (its positive is up); one right is +120."""
    injector.scroll(dy=2, dx=1)
    injector.scroll(dy=-1)
    assert windows.batches == [[("mouse", 0, 0, (-240) & 0xFFFFFFFF, 0x0800), ("mouse", 0, 0, 120, 0x1000)],
                               [("mouse", 0, 0, 120, 0x0800)]]


def test_typed_text_is_its_utf16_units(injector, windows):
    """"Grüße" is five units; "😀" (U+1F600) is the surrogate pair D83D DE00, each pressed and released."""
    injector.type_text("Grüße😀")
    units = [0x47, 0x72, 0xFC, 0xDF, 0x65, 0xD83D, 0xDE00]
    assert windows.batches == [[event for unit in units
                                for event in (("key", 0, unit, UNICODE), ("key", 0, unit, UNICODE | KEYUP))]]


def test_ctrl_c_is_virtual_keys(injector, windows):
    injector.press_key("c", {Modifier.CONTROL})
    assert windows.batches == [[("key", 0x11, 0, 0), ("key", 0x43, 0, 0), ("key", 0x43, 0, KEYUP),
                                ("key", 0x11, 0, KEYUP)]]


def test_named_keys_and_the_extended_ones(injector, windows):
    injector.press_key(Key.TAB, [Modifier.SHIFT, Modifier.ALT])
    injector.press_key(Key.DELETE)
    injector.type_text("a\n")
    assert windows.batches == [
        [("key", 0x12, 0, 0), ("key", 0x10, 0, 0), ("key", 0x09, 0, 0), ("key", 0x09, 0, KEYUP),
         ("key", 0x10, 0, KEYUP), ("key", 0x12, 0, KEYUP)],
        [("key", 0x2E, 0, EXTENDED), ("key", 0x2E, 0, EXTENDED | KEYUP)],
        [("key", 0, 0x61, UNICODE), ("key", 0, 0x61, UNICODE | KEYUP)],
        [("key", 0x0D, 0, 0), ("key", 0x0D, 0, KEYUP)],
    ]


def test_a_punctuation_shortcut_is_not_guessed(injector, windows):
    with pytest.raises(KeyNotTypable, match="cannot be pressed with Control"):
        injector.press_key("+", {Modifier.CONTROL})
    assert windows.batches == []


def test_input_windows_drops_is_a_reason_for_the_expert():
    windows = FakeWindows(takes=0)
    injector = Injector(send_input=windows.send_input, list_monitors=lambda: MONITORS)
    with pytest.raises(InjectionUnavailable) as refused:
        injector.click()
    assert str(refused.value) == ("Windows refused the input: the screen is locked or the window in front "
                                  "runs as administrator")


def test_ctrl_alt_del_goes_to_send_sas(windows):
    sent = []
    injector = Injector(send_input=windows.send_input, list_monitors=lambda: MONITORS,
                        send_secure_attention=lambda: sent.append("SendSAS"))
    assert Injector.HAS_SECURE_ATTENTION
    injector.send_secure_attention()
    assert sent == ["SendSAS"] and windows.batches == []
