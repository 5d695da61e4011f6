"""Windows: the mouse and keyboard through ``user32.SendInput``.

Everything handed to Windows is built here by pure functions from ``ctypes`` structures laid
out as ``winuser.h`` declares them (so this module imports, and is tested, anywhere); the one
call into Windows is the injectable ``send_input`` function. Text goes as UTF-16 units with
``KEYEVENTF_UNICODE`` (any character, whatever the layout; a character beyond the BMP is its
surrogate pair); named keys as virtual-key codes. Pointer positions are absolute, normalised to
0..65535 over the virtual desktop (all monitors).

Windows drops input meant for a window of higher integrity (one that runs as administrator)
and all input while the secure desktop (the lock screen, a UAC prompt) is shown: ``SendInput``
then reports fewer events than it got, which is :class:`InjectionUnavailable`.

Ctrl+Alt+Del cannot be pressed with ``SendInput``; ``SendSAS(AsUser)`` from ``sas.dll`` sends it.
Windows honours it only when the policy "Disable or enable software Secure Attention Sequence"
(``SoftwareSASGeneration`` under ``HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System``)
allows services (1), UI-access applications (2) or both (3); an application calls it with
``AsUser=TRUE`` and must carry ``uiAccess="true"`` in its manifest, be signed and installed under
Program Files, a service with ``AsUser=FALSE``. Otherwise the call silently does nothing, so the
policy is read first.

The take-back key (Ctrl+Alt+Space) is a system-wide hot key: a thread of its own calls
``RegisterHotKey(NULL, id, MOD_CONTROL | MOD_ALT | MOD_NOREPEAT, VK_SPACE)`` (the hot key belongs
to the thread that registers it, and ``MOD_NOREPEAT`` keeps auto-repeat out) and waits in a
``GetMessageW`` loop for ``WM_HOTKEY``; closing posts it ``WM_QUIT`` with ``PostThreadMessageW``,
and the thread unregisters the hot key on its way out. When another program has registered the
combination first, Windows refuses, which is :class:`InjectionUnavailable`. The user32 calls are
injectable, like ``send_input``.
"""

import ctypes
import logging
import sys
import threading
from typing import Any, Callable, Sequence

from agent.connect.input import _base
from agent.connect.input._base import InjectionUnavailable, KeyNotTypable, Monitor, bounding_box
from sosqueue.connect import TAKE_BACK_KEY, TAKE_BACK_LABEL, TAKE_BACK_MODIFIERS, Button, Key, Modifier

log = logging.getLogger(__name__)

# winuser.h
INPUT_MOUSE, INPUT_KEYBOARD = 0, 1
MOUSEEVENTF_MOVE = 0x0001
MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP = 0x0002, 0x0004
MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP = 0x0008, 0x0010
MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP = 0x0020, 0x0040
MOUSEEVENTF_WHEEL, MOUSEEVENTF_HWHEEL = 0x0800, 0x1000
MOUSEEVENTF_VIRTUALDESK, MOUSEEVENTF_ABSOLUTE = 0x4000, 0x8000
KEYEVENTF_EXTENDEDKEY, KEYEVENTF_KEYUP, KEYEVENTF_UNICODE = 0x0001, 0x0002, 0x0004
WHEEL_DELTA = 120
ABSOLUTE_RANGE = 65535

BUTTON_FLAGS = {  # (down, up)
    Button.LEFT: (MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP),
    Button.RIGHT: (MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP),
    Button.MIDDLE: (MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP),
}
#: Virtual-key codes of the named keys (Meta is the left Windows key, ContextMenu VK_APPS).
VIRTUAL_KEYS = {
    Key.ENTER: 0x0D, Key.TAB: 0x09, Key.ESCAPE: 0x1B, Key.BACKSPACE: 0x08, Key.DELETE: 0x2E, Key.INSERT: 0x2D,
    Key.HOME: 0x24, Key.END: 0x23, Key.PAGE_UP: 0x21, Key.PAGE_DOWN: 0x22, Key.ARROW_LEFT: 0x25,
    Key.ARROW_UP: 0x26, Key.ARROW_RIGHT: 0x27, Key.ARROW_DOWN: 0x28,
    **{Key(f"F{number}"): 0x6F + number for number in range(1, 13)},
    Key.CONTROL: 0x11, Key.SHIFT: 0x10, Key.ALT: 0x12, Key.META: 0x5B, Key.CAPS_LOCK: 0x14,
    Key.CONTEXT_MENU: 0x5D, Key.SPACE: 0x20,
}
#: Keys that are "extended" (the grey block's keys): their events carry KEYEVENTF_EXTENDEDKEY.
EXTENDED_KEYS = frozenset({Key.DELETE, Key.INSERT, Key.HOME, Key.END, Key.PAGE_UP, Key.PAGE_DOWN, Key.ARROW_LEFT,
                           Key.ARROW_UP, Key.ARROW_RIGHT, Key.ARROW_DOWN, Key.META, Key.CONTEXT_MENU})
MODIFIER_KEYS = {Modifier.CONTROL: Key.CONTROL, Modifier.SHIFT: Key.SHIFT, Modifier.ALT: Key.ALT,
                 Modifier.META: Key.META}
REFUSED = "Windows refused the input: the screen is locked or the window in front runs as administrator"

# winuser.h: hot keys and the messages of the hot key's thread
MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x0001, 0x0002, 0x0004, 0x0008, 0x4000
HOT_KEY_MODIFIERS = {Modifier.ALT: MOD_ALT, Modifier.CONTROL: MOD_CONTROL, Modifier.SHIFT: MOD_SHIFT,
                     Modifier.META: MOD_WIN}
WM_QUIT, WM_HOTKEY, WM_USER = 0x0012, 0x0312, 0x0400
PM_NOREMOVE = 0x0000
#: The hot key's id for its thread (an application's ids are 0x0000 to 0xBFFF).
TAKE_BACK_ID = 1
#: Seconds the hot key's thread gets to start, and to end.
THREAD_PATIENCE = 5.0
TAKEN = f"another program on this computer has taken {TAKE_BACK_LABEL}"

ULONG_PTR = ctypes.c_size_t  # pointer-sized, as on Windows of the same bitness


class MOUSEINPUT(ctypes.Structure):
    _fields_ = [("dx", ctypes.c_int32), ("dy", ctypes.c_int32), ("mouseData", ctypes.c_uint32),
                ("dwFlags", ctypes.c_uint32), ("time", ctypes.c_uint32), ("dwExtraInfo", ULONG_PTR)]


class KEYBDINPUT(ctypes.Structure):
    _fields_ = [("wVk", ctypes.c_uint16), ("wScan", ctypes.c_uint16), ("dwFlags", ctypes.c_uint32),
                ("time", ctypes.c_uint32), ("dwExtraInfo", ULONG_PTR)]


class HARDWAREINPUT(ctypes.Structure):
    _fields_ = [("uMsg", ctypes.c_uint32), ("wParamL", ctypes.c_uint16), ("wParamH", ctypes.c_uint16)]


class _INPUTUNION(ctypes.Union):
    _fields_ = [("mi", MOUSEINPUT), ("ki", KEYBDINPUT), ("hi", HARDWAREINPUT)]


class INPUT(ctypes.Structure):
    _anonymous_ = ("union",)
    _fields_ = [("type", ctypes.c_uint32), ("union", _INPUTUNION)]


def mouse_input(flags: int, dx: int = 0, dy: int = 0, data: int = 0) -> INPUT:
    """One mouse ``INPUT`` (``data`` is the wheel's signed amount, stored as the DWORD Windows reads)."""
    return INPUT(type=INPUT_MOUSE, mi=MOUSEINPUT(dx=dx, dy=dy, mouseData=data & 0xFFFFFFFF, dwFlags=flags))


def key_input(flags: int, virtual_key: int = 0, scan: int = 0) -> INPUT:
    """One keyboard ``INPUT``."""
    return INPUT(type=INPUT_KEYBOARD, ki=KEYBDINPUT(wVk=virtual_key, wScan=scan, dwFlags=flags))


class MSG(ctypes.Structure):
    _fields_ = [("hwnd", ctypes.c_void_p), ("message", ctypes.c_uint32), ("wParam", ctypes.c_size_t),
                ("lParam", ctypes.c_ssize_t), ("time", ctypes.c_uint32), ("pt_x", ctypes.c_int32),
                ("pt_y", ctypes.c_int32), ("lPrivate", ctypes.c_uint32)]


def take_back_hot_key() -> tuple[int, int]:
    """``RegisterHotKey``'s fsModifiers and vk for the take-back key: Control, Alt, no repeat; Space."""
    modifiers = MOD_NOREPEAT
    for modifier in TAKE_BACK_MODIFIERS:
        modifiers |= HOT_KEY_MODIFIERS[modifier]
    return modifiers, VIRTUAL_KEYS[TAKE_BACK_KEY]


def move_inputs(x: int, y: int, monitors: Sequence[Monitor]) -> list[INPUT]:
    """The pointer to desktop point (x, y): absolute, 0..65535 over the virtual desktop."""
    desktop = bounding_box(monitors)  # what SM_XVIRTUALSCREEN … SM_CYVIRTUALSCREEN report
    dx = round((x - desktop.x) * ABSOLUTE_RANGE / max(desktop.width - 1, 1))
    dy = round((y - desktop.y) * ABSOLUTE_RANGE / max(desktop.height - 1, 1))
    return [mouse_input(MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK, dx, dy)]


def button_inputs(button: Button, down: bool) -> list[INPUT]:
    return [mouse_input(BUTTON_FLAGS[button][0 if down else 1])]


def scroll_inputs(dx: int, dy: int) -> list[INPUT]:
    """Wheel notches: Windows' vertical wheel counts away from the user (up), its horizontal one right."""
    inputs = []
    if dy:
        inputs.append(mouse_input(MOUSEEVENTF_WHEEL, data=-dy * WHEEL_DELTA))
    if dx:
        inputs.append(mouse_input(MOUSEEVENTF_HWHEEL, data=dx * WHEEL_DELTA))
    return inputs


def text_inputs(text: str) -> list[INPUT]:
    """Each UTF-16 unit of the text pressed and released with KEYEVENTF_UNICODE."""
    encoded = text.encode("utf-16-le")
    units = [int.from_bytes(encoded[index:index + 2], "little") for index in range(0, len(encoded), 2)]
    inputs = []
    for unit in units:
        inputs.append(key_input(KEYEVENTF_UNICODE, scan=unit))
        inputs.append(key_input(KEYEVENTF_UNICODE | KEYEVENTF_KEYUP, scan=unit))
    return inputs


def key_inputs(key: Key | str, modifiers: frozenset[Modifier]) -> list[INPUT]:
    """The modifiers down, the key down and up, the modifiers up (in reverse).

    A character is its virtual key when it is a letter or a digit (the same on every layout);
    any other character is typed as text, which works only without Control, Alt or Meta.
    """
    if isinstance(key, Key):
        main = [_virtual_key(key, down=True), _virtual_key(key, down=False)]
    elif key.isascii() and key.isalnum():
        main = [key_input(0, ord(key.upper())), key_input(KEYEVENTF_KEYUP, ord(key.upper()))]
    elif modifiers <= {Modifier.SHIFT}:
        return text_inputs(key)
    else:
        held = "+".join(sorted(modifiers))
        raise KeyNotTypable(key, f"cannot be pressed with {held} on this computer (only letters and digits can)")
    order = [MODIFIER_KEYS[modifier] for modifier in sorted(modifiers)]
    return ([_virtual_key(modifier, down=True) for modifier in order] + main
            + [_virtual_key(modifier, down=False) for modifier in reversed(order)])


def _virtual_key(key: Key, *, down: bool) -> INPUT:
    flags = (KEYEVENTF_EXTENDEDKEY if key in EXTENDED_KEYS else 0) | (0 if down else KEYEVENTF_KEYUP)
    return key_input(flags, VIRTUAL_KEYS[key])


class Injector(_base.Injector):
    """Drives the mouse and keyboard through ``SendInput``.

    :param send_input: hands a list of ``INPUT`` to Windows and returns how many it took
        (``user32.SendInput`` by default).
    :param list_monitors: the monitors, the primary first (``EnumDisplayMonitors`` by default).
    :param send_secure_attention: sends Ctrl+Alt+Del (``sas.SendSAS`` after the policy check by default).
    :param user32: what :meth:`watch_take_back` calls ``RegisterHotKey``, ``UnregisterHotKey``,
        ``PeekMessageW``, ``GetMessageW`` and ``PostThreadMessageW`` on (``user32.dll`` by default).
    :raises InjectionUnavailable: on another system, when nothing is injected.
    """

    backend_name = "win32"
    HAS_SECURE_ATTENTION = True

    def __init__(self, send_input: Callable[[Sequence[INPUT]], int] | None = None,
                 list_monitors: Callable[[], list[Monitor]] | None = None,
                 send_secure_attention: Callable[[], None] | None = None, user32: Any = None):
        if sys.platform != "win32" and not (send_input and list_monitors):
            raise InjectionUnavailable("SendInput exists only on Windows")
        super().__init__()
        self._send_input = send_input or _send_input
        self._list_monitors = list_monitors or _list_monitors
        self._send_sas = send_secure_attention or _send_sas
        self._user32 = user32
        self._listener: HotKeyListener | None = None

    def _send(self, inputs: list[INPUT]) -> None:
        if inputs and self._send_input(inputs) < len(inputs):
            raise InjectionUnavailable(REFUSED)

    def _monitors(self) -> list[Monitor]:
        return self._list_monitors()

    def _move(self, x: int, y: int) -> None:
        self._send(move_inputs(x, y, self._monitors()))

    def _button(self, button: Button, down: bool) -> None:
        self._send(button_inputs(button, down))

    def _click(self, button: Button, count: int) -> None:
        self._send([event for _ in range(count) for down in (True, False) for event in button_inputs(button, down)])

    def _scroll(self, dx: int, dy: int) -> None:
        self._send(scroll_inputs(dx, dy))

    def _type(self, text: str) -> None:
        self._send(text_inputs(text))

    def _key(self, key: Key | str, modifiers: frozenset[Modifier]) -> None:
        self._send(key_inputs(key, modifiers))

    def _secure_attention(self) -> None:
        self._send_sas()

    def _watch_take_back(self, on_pressed: Callable[[], None]) -> None:
        if self._user32 is None and sys.platform != "win32":
            raise InjectionUnavailable("hot keys exist only on Windows")
        self._listener = HotKeyListener(self._user32 or _user32(), on_pressed)

    def _close(self) -> None:
        if self._listener is not None:
            self._listener.stop()


class HotKeyListener:
    """The take-back hot key, registered by a thread of its own that calls ``on_pressed()`` at each press.

    :param user32: the user32 calls (see :class:`Injector`).
    :param on_pressed: called on the listener's thread.
    :raises InjectionUnavailable: when Windows refuses the hot key (another program has it).
    """

    def __init__(self, user32: Any, on_pressed: Callable[[], None]):
        self._user32 = user32
        self._on_pressed = on_pressed
        self._started = threading.Event()
        self._registered = False
        self._stopped = False
        self.thread = threading.Thread(target=self._run, name="take-back listener", daemon=True)
        self.thread.start()
        if not self._started.wait(THREAD_PATIENCE):
            self.stop()
            raise InjectionUnavailable(f"the {TAKE_BACK_LABEL} hot key did not start")
        if not self._registered:
            self.thread.join(THREAD_PATIENCE)
            raise InjectionUnavailable(TAKEN)

    def stop(self) -> None:
        """Post ``WM_QUIT`` to the thread and wait (at most a few seconds) for it to end; stopping twice is harmless.

        From the listener's own thread it only posts: the loop ends once ``on_pressed`` returns.
        """
        if not self._stopped and self.thread.native_id is not None:
            self._stopped = True
            self._user32.PostThreadMessageW(self.thread.native_id, WM_QUIT, 0, 0)
        if threading.current_thread() is not self.thread:
            self.thread.join(THREAD_PATIENCE)

    def _run(self) -> None:
        message = MSG()
        try:
            # Any user32 call gives the thread its message queue, so that WM_QUIT can be posted at once.
            self._user32.PeekMessageW(ctypes.byref(message), None, WM_USER, WM_USER, PM_NOREMOVE)
            modifiers, virtual_key = take_back_hot_key()
            self._registered = bool(self._user32.RegisterHotKey(None, TAKE_BACK_ID, modifiers, virtual_key))
        finally:
            self._started.set()
        if not self._registered:
            return
        try:
            while self._user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:  # 0 is WM_QUIT, -1 an error
                if message.message == WM_HOTKEY and message.wParam == TAKE_BACK_ID:
                    try:
                        self._on_pressed()
                    except Exception:
                        log.exception("the %s handler failed", TAKE_BACK_LABEL)
        finally:
            self._user32.UnregisterHotKey(None, TAKE_BACK_ID)


# The calls into Windows (not run by the tests, which inject their own).

def _send_input(inputs: Sequence[INPUT]) -> int:
    array = (INPUT * len(inputs))(*inputs)
    return ctypes.windll.user32.SendInput(len(inputs), array, ctypes.sizeof(INPUT))


def _user32() -> ctypes.CDLL:
    """user32.dll with the prototypes of the hot key's calls (its own instance: the prototypes stay here)."""
    from ctypes import wintypes

    user32 = ctypes.WinDLL("user32", use_last_error=True)
    user32.RegisterHotKey.argtypes = [wintypes.HWND, ctypes.c_int, wintypes.UINT, wintypes.UINT]
    user32.RegisterHotKey.restype = wintypes.BOOL
    user32.UnregisterHotKey.argtypes = [wintypes.HWND, ctypes.c_int]
    user32.UnregisterHotKey.restype = wintypes.BOOL
    user32.PeekMessageW.argtypes = [ctypes.POINTER(MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT, wintypes.UINT]
    user32.PeekMessageW.restype = wintypes.BOOL
    user32.GetMessageW.argtypes = [ctypes.POINTER(MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT]
    user32.GetMessageW.restype = wintypes.BOOL
    user32.PostThreadMessageW.argtypes = [wintypes.DWORD, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
    user32.PostThreadMessageW.restype = wintypes.BOOL
    return user32


def _list_monitors() -> list[Monitor]:
    from ctypes import wintypes

    class MONITORINFO(ctypes.Structure):
        _fields_ = [("cbSize", wintypes.DWORD), ("rcMonitor", wintypes.RECT), ("rcWork", wintypes.RECT),
                    ("dwFlags", wintypes.DWORD)]

    user32 = ctypes.windll.user32
    found: list[tuple[bool, Monitor]] = []
    callback_type = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HMONITOR, wintypes.HDC,
                                       ctypes.POINTER(wintypes.RECT), wintypes.LPARAM)

    def collect(handle, _dc, _rect, _data):
        info = MONITORINFO(cbSize=ctypes.sizeof(MONITORINFO))
        user32.GetMonitorInfoW(handle, ctypes.byref(info))
        area = info.rcMonitor
        found.append((not info.dwFlags & 1, Monitor(area.left, area.top, area.right - area.left,
                                                      area.bottom - area.top)))  # MONITORINFOF_PRIMARY = 1
        return True

    user32.EnumDisplayMonitors(None, None, callback_type(collect), 0)
    return [monitor for _, monitor in sorted(found, key=lambda pair: pair[0])]


def _send_sas() -> None:
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                            r"SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System") as key:
            allowed = winreg.QueryValueEx(key, "SoftwareSASGeneration")[0]
    except OSError:
        allowed = 0
    if allowed not in (2, 3):
        raise InjectionUnavailable("Windows' policy does not let applications send Ctrl+Alt+Del")
    try:
        sas = ctypes.WinDLL("sas.dll")
    except OSError:
        raise InjectionUnavailable("this Windows has no sas.dll to send Ctrl+Alt+Del") from None
    sas.SendSAS(True)
