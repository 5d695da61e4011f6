"""The Windows injector, checked by what it hands SendInput: the exact INPUT structures, field by field."""

import ctypes
import queue
import threading

import pytest

from agent.connect.input import Button, InjectionUnavailable, Key, KeyNotTypable, Modifier, Monitor
from agent.connect.input._win32 import INPUT, MSG, Injector
from tests.support.polling import eventually

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
    """64-bit Windows: INPUT is 40 bytes, its union at offset 8, MSG 48 bytes (32-bit: 28, 4 and 32)."""
    pointer = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(INPUT) == (40 if pointer == 8 else 28)
    assert INPUT.union.offset == pointer
    assert ctypes.sizeof(MSG) == (48 if pointer == 8 else 32)
    assert (MSG.wParam.offset, MSG.time.offset) == ((16, 32) if pointer == 8 else (8, 16))


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


WM_QUIT, WM_HOTKEY = 0x0012, 0x0312
MOD_ALT, MOD_CONTROL, MOD_NOREPEAT, VK_SPACE = 0x0001, 0x0002, 0x4000, 0x20


class FakeUser32:
    """The hot key's user32 calls: each recorded with its arguments and the calling thread's id;
    GetMessageW hands out what PostThreadMessageW (or :meth:`press`, as Windows would) queued."""

    def __init__(self, registers: bool = True):
        self.calls: list[tuple] = []
        self.registers = registers
        self.messages: queue.Queue = queue.Queue()

    def _record(self, *call):
        self.calls.append((*call, threading.get_native_id()))

    def PeekMessageW(self, message, window, first, last, remove):
        assert isinstance(message._obj, MSG)
        self._record("PeekMessageW", window, first, last, remove)
        return 0

    def RegisterHotKey(self, window, identifier, modifiers, virtual_key):
        self._record("RegisterHotKey", window, identifier, modifiers, virtual_key)
        return int(self.registers)

    def UnregisterHotKey(self, window, identifier):
        self._record("UnregisterHotKey", window, identifier)
        return 1

    def GetMessageW(self, message, window, first, last):
        kind, parameter = self.messages.get(timeout=30)
        message._obj.message, message._obj.wParam = kind, parameter
        return 0 if kind == WM_QUIT else 1

    def PostThreadMessageW(self, thread, kind, wparam, lparam):
        self.calls.append(("PostThreadMessageW", thread, kind, wparam, lparam))
        self.messages.put((kind, wparam))
        return 1

    def press(self, identifier: int = 1):
        """What Windows posts to the registering thread when the hot key is pressed."""
        self.messages.put((WM_HOTKEY, identifier))

    def named(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]


@pytest.fixture
def user32():
    return FakeUser32()


@pytest.fixture
def listening(windows, user32):
    injector = Injector(send_input=windows.send_input, list_monitors=lambda: MONITORS, user32=user32)
    yield injector
    injector.close()


def test_the_take_back_key_is_a_hot_key_registered_by_the_listeners_thread(listening, user32):
    """RegisterHotKey(NULL, 1, MOD_CONTROL | MOD_ALT | MOD_NOREPEAT, VK_SPACE), on the thread that then waits."""
    listening.watch_take_back(lambda: None)
    thread = listening._listener.thread
    assert thread.is_alive() and thread.daemon
    assert user32.calls == [("PeekMessageW", None, 0x0400, 0x0400, 0, thread.native_id),
                            ("RegisterHotKey", None, 1, MOD_CONTROL | MOD_ALT | MOD_NOREPEAT, VK_SPACE,
                             thread.native_id)]
    assert thread.native_id != threading.get_native_id()


def test_each_wm_hotkey_calls_on_pressed(listening, user32):
    """Two presses are two calls; another hot key's id is not ours."""
    heard = []
    listening.watch_take_back(lambda: heard.append(threading.get_native_id()))
    user32.press()
    user32.press(identifier=7)
    user32.press()
    eventually(lambda: len(heard) == 2, timeout=15, what="two presses heard")
    assert heard == [listening._listener.thread.native_id] * 2


def test_close_posts_wm_quit_and_the_thread_unregisters_the_hot_key(listening, user32):
    heard = []
    listening.watch_take_back(lambda: heard.append("pressed"))
    thread = listening._listener.thread
    native_id = thread.native_id
    listening.close()
    assert not thread.is_alive()
    assert user32.named("PostThreadMessageW") == [("PostThreadMessageW", native_id, WM_QUIT, 0, 0)]
    assert user32.named("UnregisterHotKey") == [("UnregisterHotKey", None, 1, native_id)]
    listening.close()
    assert len(user32.named("PostThreadMessageW")) == 1 and heard == []


def test_a_hot_key_another_program_has_is_unavailable(windows):
    """RegisterHotKey fails: InjectionUnavailable says why, and the thread has ended without a loop."""
    user32 = FakeUser32(registers=False)
    injector = Injector(send_input=windows.send_input, list_monitors=lambda: MONITORS, user32=user32)
    with pytest.raises(InjectionUnavailable) as refused:
        injector.watch_take_back(lambda: None)
    assert str(refused.value) == "another program on this computer has taken Ctrl+Alt+Space"
    assert [call[0] for call in user32.calls] == ["PeekMessageW", "RegisterHotKey"]
    assert not injector.watching_take_back
    injector.close()


def test_a_handler_that_closes_the_injector_ends_the_thread(listening, user32):
    """on_pressed runs on the hot key's thread; closing from there posts WM_QUIT to itself and does not wait."""
    listening.watch_take_back(listening.close)
    thread = listening._listener.thread
    user32.press()
    eventually(lambda: listening.closed and not thread.is_alive(), timeout=15,
               what="the injector closed by its handler")
    assert user32.named("UnregisterHotKey") == [("UnregisterHotKey", None, 1, thread.native_id)]


def test_the_take_back_combination_is_never_sent(injector, windows):
    with pytest.raises(KeyNotTypable, match="customer's key to take control back"):
        injector.press_key(Key.SPACE, {Modifier.CONTROL, Modifier.ALT})
    assert windows.batches == []
