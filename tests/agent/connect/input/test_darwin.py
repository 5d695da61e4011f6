"""The macOS injector, checked by the Quartz events it would post: types, positions, flags, strings."""

import queue
import threading

import pytest

from agent.connect.input import (Button, InjectionUnavailable, Key, KeyNotTypable, Modifier, Monitor,
                                 PermissionMissing)
from agent.connect.input._darwin import (TAP_CALLBACK, Injector, KeyEvent, MouseEvent, ScrollEvent, is_take_back,
                                         utf16_units)
from tests.support.polling import eventually

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
    with pytest.raises(PermissionMissing) as refused:
        Injector(post=quartz.post, list_monitors=lambda: MONITORS, is_trusted=lambda: False)
    assert "Privacy & Security → Accessibility" in str(refused.value)


OPTION, CAPS_LOCK, KEY_DOWN, KEY_UP, SPACE = 0x80000, 0x10000, 10, 11, 49
TAP, SOURCE, RUN_LOOP, DEFAULT_MODE, PROXY = 0x7A9, 0x50C, 0x100F, 0xD0DE, 0x9A0


@pytest.mark.parametrize("event_type, key_code, flags, autorepeat, expected", [
    (KEY_DOWN, SPACE, CONTROL | OPTION, 0, True),
    (KEY_DOWN, SPACE, CONTROL | OPTION | SHIFT | CAPS_LOCK, 0, True),
    (KEY_DOWN, SPACE, CONTROL | OPTION, 1, False),
    (KEY_UP, SPACE, CONTROL | OPTION, 0, False),
    (KEY_DOWN, SPACE, CONTROL, 0, False),
    (KEY_DOWN, SPACE, OPTION | COMMAND, 0, False),
    (KEY_DOWN, SPACE, 0, 0, False),
    (KEY_DOWN, 0x08, CONTROL | OPTION, 0, False),
])
def test_the_take_back_key_is_control_option_space_pressed_not_repeated(event_type, key_code, flags, autorepeat,
                                                                        expected):
    """Space (49) down with Control and Option, whatever else is held; not its repeat, its release or other keys."""
    assert is_take_back(event_type, key_code, flags, autorepeat) is expected


class FakeTap:
    """The tap's CoreGraphics and CoreFoundation calls, recorded with their arguments and calling thread;
    the run loop runs on its thread what :meth:`key_down` queues, as macOS runs the tap's callback."""

    kCFRunLoopDefaultMode = DEFAULT_MODE

    def __init__(self, creates: bool = True):
        self.calls: list[tuple] = []
        self.creates = creates
        self.callback = None
        self.work: queue.Queue = queue.Queue()
        self.events: dict[int, dict[int | str, int]] = {}
        self.returned: list = []  # what the callback gave back, event by event

    def _record(self, *call):
        self.calls.append((*call, threading.get_native_id()))

    def CGEventTapCreate(self, tap, place, options, mask, callback, user_info):
        self._record("CGEventTapCreate", tap, place, options, mask, type(callback), user_info)
        self.callback = callback
        return TAP if self.creates else None

    def CFMachPortCreateRunLoopSource(self, allocator, port, order):
        self._record("CFMachPortCreateRunLoopSource", allocator, port, order)
        return SOURCE

    def CFRunLoopGetCurrent(self):
        return RUN_LOOP

    def CFRunLoopAddSource(self, run_loop, source, mode):
        self._record("CFRunLoopAddSource", run_loop, source, mode)

    def CGEventTapEnable(self, tap, enable):
        self._record("CGEventTapEnable", tap, enable)

    def CFRunLoopRunInMode(self, mode, seconds, return_after_source):
        try:
            work = self.work.get(timeout=seconds)
        except queue.Empty:
            return 3  # kCFRunLoopRunTimedOut
        if work is None:
            return 2  # kCFRunLoopRunStopped
        work()
        return 4  # kCFRunLoopRunHandledSource

    def CFRunLoopStop(self, run_loop):
        self._record("CFRunLoopStop", run_loop)
        self.work.put(None)

    def CFMachPortInvalidate(self, port):
        self._record("CFMachPortInvalidate", port)

    def CFRelease(self, thing):
        self._record("CFRelease", thing)

    def CGEventGetIntegerValueField(self, event, field):
        return self.events[event][field]

    def CGEventGetFlags(self, event):
        return self.events[event]["flags"]

    def tapped(self, event_type: int, key_code: int = SPACE, flags: int = CONTROL | OPTION, autorepeat: int = 0):
        """macOS hands the tap an event: the callback runs on the run loop's thread."""
        event = 0x1000 + len(self.events)
        self.events[event] = {9: key_code, 8: autorepeat, "flags": flags}
        self.work.put(lambda: self.returned.append(self.callback(PROXY, event_type, event, None)))

    def named(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]


@pytest.fixture
def tap():
    return FakeTap()


@pytest.fixture
def listening(quartz, tap):
    injector = Injector(post=quartz.post, list_monitors=lambda: MONITORS, is_trusted=lambda: True, quartz=tap)
    yield injector
    injector.close()


def test_the_take_back_key_is_a_listen_only_session_tap_on_the_listeners_run_loop(listening, tap):
    """CGEventTapCreate(kCGSessionEventTap, kCGHeadInsertEventTap, kCGEventTapOptionListenOnly,
    CGEventMaskBit(kCGEventKeyDown), callback, NULL), its source on the listener thread's run loop."""
    listening.watch_take_back(lambda: None)
    thread = listening._listener.thread
    assert thread.is_alive() and thread.daemon and thread.native_id != threading.get_native_id()
    assert tap.calls == [
        ("CGEventTapCreate", 1, 0, 1, 1 << 10, TAP_CALLBACK, None, thread.native_id),
        ("CFMachPortCreateRunLoopSource", None, TAP, 0, thread.native_id),
        ("CFRunLoopAddSource", RUN_LOOP, SOURCE, DEFAULT_MODE, thread.native_id),
        ("CGEventTapEnable", TAP, True, thread.native_id),
    ]


def test_the_tap_calls_on_pressed_for_the_take_back_key_alone(listening, tap):
    """Of a repeat, plain Space, a key up and the combination twice, two presses are heard, on the tap's thread."""
    heard = []
    listening.watch_take_back(lambda: heard.append(threading.get_native_id()))
    tap.tapped(KEY_DOWN)
    tap.tapped(KEY_DOWN, autorepeat=1)
    tap.tapped(KEY_DOWN, flags=0)
    tap.tapped(KEY_UP)
    tap.tapped(KEY_DOWN, flags=CONTROL | OPTION | SHIFT)
    eventually(lambda: len(tap.returned) == 5, timeout=15, what="five tapped events handled")
    assert heard == [listening._listener.thread.native_id] * 2
    assert tap.returned == [0x1000, 0x1001, 0x1002, 0x1003, 0x1004]  # a listen-only tap passes every event on


def test_a_tap_macos_switched_off_is_switched_on_again(listening, tap):
    listening.watch_take_back(lambda: None)
    tap.tapped(0xFFFFFFFE)
    eventually(lambda: len(tap.returned) == 1, timeout=15, what="the timeout notice handled")
    assert tap.named("CGEventTapEnable")[-1][1:3] == (TAP, True)
    assert len(tap.named("CGEventTapEnable")) == 2


def test_close_stops_the_run_loop_and_releases_the_tap(listening, tap):
    heard = []
    listening.watch_take_back(lambda: heard.append("pressed"))
    thread = listening._listener.thread
    listening.close()
    assert not thread.is_alive()
    assert tap.named("CFRunLoopStop") == [("CFRunLoopStop", RUN_LOOP, threading.get_native_id())]
    assert tap.calls[-4:] == [("CGEventTapEnable", TAP, False, thread.native_id),
                              ("CFMachPortInvalidate", TAP, thread.native_id),
                              ("CFRelease", SOURCE, thread.native_id), ("CFRelease", TAP, thread.native_id)]
    assert heard == []


def test_a_handler_that_closes_the_injector_ends_the_thread(listening, tap):
    """on_pressed runs on the tap's thread; closing from there stops its run loop without waiting for itself."""
    listening.watch_take_back(listening.close)
    thread = listening._listener.thread
    tap.tapped(KEY_DOWN)
    eventually(lambda: listening.closed and not thread.is_alive(), timeout=15,
               what="the injector closed by its handler")


def test_no_tap_is_the_accessibility_permission_missing(quartz):
    """CGEventTapCreate gives NULL: the reason says where to allow the support module."""
    tap = FakeTap(creates=False)
    injector = Injector(post=quartz.post, list_monitors=lambda: MONITORS, is_trusted=lambda: True, quartz=tap)
    with pytest.raises(InjectionUnavailable) as refused:
        injector.watch_take_back(lambda: None)
    assert "Privacy & Security → Accessibility" in str(refused.value)
    assert [call[0] for call in tap.calls] == ["CGEventTapCreate"]
    assert not injector.watching_take_back
    injector.close()


def test_the_take_back_combination_is_never_posted(injector, quartz):
    with pytest.raises(KeyNotTypable, match="customer's key to take control back"):
        injector.press_key(" ", {Modifier.CONTROL, Modifier.ALT})
    assert quartz.posted == []
