"""macOS: the mouse and keyboard through Quartz events posted to the HID event tap.

The events are described by pure functions here (:class:`MouseEvent`, :class:`KeyEvent`,
:class:`ScrollEvent`, tested anywhere); the injectable ``post`` function turns each into
``CGEventCreateMouseEvent``, ``CGEventCreateKeyboardEvent`` with
``CGEventKeyboardSetUnicodeString``, or ``CGEventCreateScrollWheelEvent2``, and ``CGEventPost``s it
(CoreGraphics through ``ctypes``). Text is typed as Unicode strings on key code 0, so any
character arrives whatever the layout. Positions are Quartz's global display coordinates
(points, origin at the main display's top left).

macOS drops every posted event until the customer allows the support module under System
Settings → Privacy & Security → Accessibility (``AXIsProcessTrusted``), so the injector checks
that first and says so.

The take-back key (Control+Option+Space, the Mac's Ctrl+Alt+Space) is heard by a listen-only
Quartz event tap on the session, ``CGEventTapCreate(kCGSessionEventTap, kCGHeadInsertEventTap,
kCGEventTapOptionListenOnly, CGEventMaskBit(kCGEventKeyDown), callback, NULL)``, whose run loop
source a thread of its own runs; :func:`is_take_back` decides for each key down. macOS gives no
tap (NULL) to a process without the same permission, which is :class:`InjectionUnavailable`.
The CoreGraphics and CoreFoundation calls of the tap are injectable, like ``post``.
"""

import ctypes
import ctypes.util
import logging
import sys
import threading
from typing import Any, Callable, NamedTuple, Sequence

from agent.connect.input import _base
from agent.connect.input._base import InjectionUnavailable, KeyNotTypable, Monitor, PermissionMissing
from sosqueue.connect import TAKE_BACK_KEY, TAKE_BACK_LABEL, TAKE_BACK_MODIFIERS, Button, Key, Modifier

log = logging.getLogger(__name__)

UNTRUSTED = ("macOS does not allow this support module to control the computer yet: "
             "System Settings → Privacy & Security → Accessibility")

# CGEventTypes.h
LEFT_MOUSE_DOWN, LEFT_MOUSE_UP, RIGHT_MOUSE_DOWN, RIGHT_MOUSE_UP, MOUSE_MOVED = 1, 2, 3, 4, 5
LEFT_MOUSE_DRAGGED, RIGHT_MOUSE_DRAGGED = 6, 7
OTHER_MOUSE_DOWN, OTHER_MOUSE_UP, OTHER_MOUSE_DRAGGED = 25, 26, 27
MOUSE_BUTTONS = {Button.LEFT: 0, Button.RIGHT: 1, Button.MIDDLE: 2}  # CGMouseButton
BUTTON_TYPES = {  # (down, up, dragged)
    Button.LEFT: (LEFT_MOUSE_DOWN, LEFT_MOUSE_UP, LEFT_MOUSE_DRAGGED),
    Button.RIGHT: (RIGHT_MOUSE_DOWN, RIGHT_MOUSE_UP, RIGHT_MOUSE_DRAGGED),
    Button.MIDDLE: (OTHER_MOUSE_DOWN, OTHER_MOUSE_UP, OTHER_MOUSE_DRAGGED),
}
FLAG_SHIFT, FLAG_CONTROL, FLAG_OPTION, FLAG_COMMAND = 0x20000, 0x40000, 0x80000, 0x100000
MODIFIER_FLAGS = {Modifier.SHIFT: FLAG_SHIFT, Modifier.CONTROL: FLAG_CONTROL, Modifier.ALT: FLAG_OPTION,
                  Modifier.META: FLAG_COMMAND}
MODIFIER_KEYS = {Modifier.CONTROL: Key.CONTROL, Modifier.SHIFT: Key.SHIFT, Modifier.ALT: Key.ALT,
                 Modifier.META: Key.META}
#: Virtual key codes (Events.h, kVK_*) of the named keys: Alt is Option, Meta Command, Insert Help.
KEY_CODES = {
    Key.ENTER: 0x24, Key.TAB: 0x30, Key.SPACE: 0x31, Key.BACKSPACE: 0x33, Key.ESCAPE: 0x35, Key.META: 0x37,
    Key.SHIFT: 0x38, Key.CAPS_LOCK: 0x39, Key.ALT: 0x3A, Key.CONTROL: 0x3B, Key.INSERT: 0x72, Key.HOME: 0x73,
    Key.PAGE_UP: 0x74, Key.DELETE: 0x75, Key.END: 0x77, Key.PAGE_DOWN: 0x79, Key.ARROW_LEFT: 0x7B,
    Key.ARROW_RIGHT: 0x7C, Key.ARROW_DOWN: 0x7D, Key.ARROW_UP: 0x7E,
    Key.F1: 0x7A, Key.F2: 0x78, Key.F3: 0x63, Key.F4: 0x76, Key.F5: 0x60, Key.F6: 0x61, Key.F7: 0x62,
    Key.F8: 0x64, Key.F9: 0x65, Key.F10: 0x6D, Key.F11: 0x67, Key.F12: 0x6F,
}
#: kVK_ANSI_* of letters and digits, for shortcuts (Command+C).
ANSI_KEY_CODES = {
    "a": 0x00, "s": 0x01, "d": 0x02, "f": 0x03, "h": 0x04, "g": 0x05, "z": 0x06, "x": 0x07, "c": 0x08, "v": 0x09,
    "b": 0x0B, "q": 0x0C, "w": 0x0D, "e": 0x0E, "r": 0x0F, "y": 0x10, "t": 0x11, "1": 0x12, "2": 0x13, "3": 0x14,
    "4": 0x15, "6": 0x16, "5": 0x17, "9": 0x19, "7": 0x1A, "8": 0x1C, "0": 0x1D, "o": 0x1F, "u": 0x20, "i": 0x22,
    "p": 0x23, "l": 0x25, "j": 0x26, "k": 0x28, "n": 0x2D, "m": 0x2E,
}


# CGEventTypes.h: the event tap of the take-back key
SESSION_EVENT_TAP, HEAD_INSERT_EVENT_TAP, TAP_LISTEN_ONLY = 1, 0, 1  # kCGSessionEventTap, …
KEY_DOWN = 10  # kCGEventKeyDown
TAP_DISABLED_BY_TIMEOUT, TAP_DISABLED_BY_USER_INPUT = 0xFFFFFFFE, 0xFFFFFFFF
AUTOREPEAT_FIELD, KEY_CODE_FIELD = 8, 9  # kCGKeyboardEventAutorepeat, kCGKeyboardEventKeycode
RUN_LOOP_FINISHED = 1  # kCFRunLoopRunFinished: the run loop has no source left
#: Seconds the tap's run loop runs before it looks whether it should stop (CFRunLoopStop is at once).
RUN_LOOP_SLICE = 0.5
#: Seconds the tap's thread gets to start, and to end.
THREAD_PATIENCE = 5.0
#: CGEventTapCallBack: (proxy, type, event, user info) -> the event.
TAP_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p)


class MouseEvent(NamedTuple):
    """``CGEventCreateMouseEvent(NULL, kind, (x, y), button)`` with ``kCGMouseEventClickState``;
    ``x`` and ``y`` are None for "where the pointer is"."""

    kind: int
    x: float | None
    y: float | None
    button: int
    click_state: int = 0


class KeyEvent(NamedTuple):
    """``CGEventCreateKeyboardEvent(NULL, key_code, down)`` with ``CGEventSetFlags(flags)`` and, when
    ``text`` is given, ``CGEventKeyboardSetUnicodeString`` of its UTF-16 units."""

    key_code: int
    down: bool
    flags: int = 0
    text: str = ""


class ScrollEvent(NamedTuple):
    """``CGEventCreateScrollWheelEvent2(NULL, kCGScrollEventUnitLine, 2, vertical, horizontal, 0)``;
    as on macOS, positive is up and left."""

    vertical: int
    horizontal: int


QuartzEvent = MouseEvent | KeyEvent | ScrollEvent


def utf16_units(text: str) -> list[int]:
    """The UTF-16 units ``CGEventKeyboardSetUnicodeString`` gets (a surrogate pair beyond the BMP)."""
    encoded = text.encode("utf-16-le")
    return [int.from_bytes(encoded[index:index + 2], "little") for index in range(0, len(encoded), 2)]


def move_events(x: int, y: int, held: set[Button]) -> list[QuartzEvent]:
    """A move, or a drag while a button is held (macOS wants the drag type then)."""
    for button in (Button.LEFT, Button.RIGHT, Button.MIDDLE):
        if button in held:
            return [MouseEvent(BUTTON_TYPES[button][2], x, y, MOUSE_BUTTONS[button])]
    return [MouseEvent(MOUSE_MOVED, x, y, 0)]


def button_events(button: Button, down: bool, position: tuple[int, int] | None,
                  click_state: int = 0) -> list[QuartzEvent]:
    x, y = position or (None, None)
    return [MouseEvent(BUTTON_TYPES[button][0 if down else 1], x, y, MOUSE_BUTTONS[button], click_state)]


def click_events(button: Button, count: int, position: tuple[int, int] | None) -> list[QuartzEvent]:
    """Presses and releases numbered by their click state (1, then 2: a double click)."""
    return [event for state in range(1, count + 1) for down in (True, False)
            for event in button_events(button, down, position, state)]


def scroll_events(dx: int, dy: int) -> list[QuartzEvent]:
    return [ScrollEvent(vertical=-dy, horizontal=-dx)]


def text_events(text: str) -> list[QuartzEvent]:
    """Each character pressed and released on key code 0, carrying the character."""
    return [KeyEvent(0, down, 0, character) for character in text for down in (True, False)]


def key_events(key: Key | str, modifiers: frozenset[Modifier]) -> list[QuartzEvent]:
    """The modifiers down, the key down and up with their flags, the modifiers up (in reverse)."""
    if isinstance(key, Key):
        if key not in KEY_CODES:
            raise KeyNotTypable(key.value, "has no key on a Mac")
        code, text = KEY_CODES[key], ""
    elif key.lower() in ANSI_KEY_CODES:
        code, text = ANSI_KEY_CODES[key.lower()], key
    elif modifiers <= {Modifier.SHIFT}:
        return text_events(key)
    else:
        held = "+".join(sorted(modifiers))
        raise KeyNotTypable(key, f"cannot be pressed with {held} on this computer (only letters and digits can)")
    order = sorted(modifiers)
    events: list[QuartzEvent] = []
    flags = 0
    for modifier in order:
        flags |= MODIFIER_FLAGS[modifier]
        events.append(KeyEvent(KEY_CODES[MODIFIER_KEYS[modifier]], True, flags))
    events += [KeyEvent(code, True, flags, text), KeyEvent(code, False, flags, text)]
    for modifier in reversed(order):
        flags &= ~MODIFIER_FLAGS[modifier]
        events.append(KeyEvent(KEY_CODES[MODIFIER_KEYS[modifier]], False, flags))
    return events


def event_mask_bit(event_type: int) -> int:
    """``CGEventMaskBit``: the bit of an event type in an event tap's mask."""
    return 1 << event_type


def take_back_flags() -> int:
    """The modifier flags of the take-back key (Control and Option)."""
    flags = 0
    for modifier in TAKE_BACK_MODIFIERS:
        flags |= MODIFIER_FLAGS[modifier]
    return flags


def is_take_back(event_type: int, key_code: int, flags: int, autorepeat: int = 0) -> bool:
    """Whether a tapped event is the customer pressing the take-back key: a key down of Space
    (key code 49) with Control and Option among its flags, that is not the key's auto-repeat."""
    needed = take_back_flags()
    return (event_type == KEY_DOWN and key_code == KEY_CODES[TAKE_BACK_KEY] and flags & needed == needed
            and not autorepeat)


class Injector(_base.Injector):
    """Drives the mouse and keyboard with Quartz events.

    :param post: posts a list of event descriptions (CoreGraphics' ``CGEventPost`` by default).
    :param list_monitors: the displays in points, the main one first (``CGGetActiveDisplayList`` by default).
    :param is_trusted: whether macOS lets this process post events (``AXIsProcessTrusted`` by default).
    :param quartz: what :meth:`watch_take_back` calls ``CGEventTapCreate``, ``CGEventTapEnable``,
        ``CGEventGetIntegerValueField``, ``CGEventGetFlags``, ``CFMachPortCreateRunLoopSource``,
        ``CFMachPortInvalidate``, ``CFRunLoopGetCurrent``, ``CFRunLoopAddSource``, ``CFRunLoopRunInMode``,
        ``CFRunLoopStop`` and ``CFRelease`` on, with ``kCFRunLoopDefaultMode`` (the frameworks by default).
    :raises InjectionUnavailable: on another system; PermissionMissing without the Accessibility permission.
    """

    backend_name = "darwin"

    def __init__(self, post: Callable[[Sequence[QuartzEvent]], None] | None = None,
                 list_monitors: Callable[[], list[Monitor]] | None = None,
                 is_trusted: Callable[[], bool] | None = None, quartz: Any = None):
        if sys.platform != "darwin" and not (post and list_monitors and is_trusted):
            raise InjectionUnavailable("Quartz events exist only on macOS")
        if not (is_trusted or _is_trusted)():
            raise PermissionMissing(UNTRUSTED)
        super().__init__()
        self._post = post or _post
        self._list_monitors = list_monitors or _list_monitors
        self._position: tuple[int, int] | None = None
        self._quartz = quartz
        self._listener: EventTapListener | None = None

    def _monitors(self) -> list[Monitor]:
        return self._list_monitors()

    def _move(self, x: int, y: int) -> None:
        self._post(move_events(x, y, self._held))
        self._position = (x, y)

    def _button(self, button: Button, down: bool) -> None:
        self._post(button_events(button, down, self._position, 1))

    def _click(self, button: Button, count: int) -> None:
        self._post(click_events(button, count, self._position))

    def _scroll(self, dx: int, dy: int) -> None:
        self._post(scroll_events(dx, dy))

    def _type(self, text: str) -> None:
        self._post(text_events(text))

    def _key(self, key: Key | str, modifiers: frozenset[Modifier]) -> None:
        self._post(key_events(key, modifiers))

    def _watch_take_back(self, on_pressed: Callable[[], None]) -> None:
        if self._quartz is None and sys.platform != "darwin":
            raise InjectionUnavailable("Quartz event taps exist only on macOS")
        self._listener = EventTapListener(self._quartz or _Quartz(), on_pressed)

    def _close(self) -> None:
        if self._listener is not None:
            self._listener.stop()


class EventTapListener:
    """A listen-only event tap for the take-back key, run by a thread of its own that calls ``on_pressed()``.

    :param quartz: the tap's calls (see :class:`Injector`).
    :param on_pressed: called on the listener's thread, once per press.
    :raises InjectionUnavailable: when macOS gives no tap (the Accessibility permission is missing).
    """

    def __init__(self, quartz: Any, on_pressed: Callable[[], None]):
        self._quartz = quartz
        self._on_pressed = on_pressed
        self._callback = TAP_CALLBACK(self._event)  # kept here: macOS calls it as long as the tap lives
        self._tap = None
        self._run_loop = None
        self._failure = UNTRUSTED  # why there is no tap, when there is none
        self._started = threading.Event()
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="take-back listener", daemon=True)
        self.thread.start()
        if not self._started.wait(THREAD_PATIENCE):
            self.stop()
            raise InjectionUnavailable(f"the {TAKE_BACK_LABEL} event tap did not start")
        if not self._tap:
            self.thread.join(THREAD_PATIENCE)
            raise InjectionUnavailable(self._failure)

    def stop(self) -> None:
        """Stop the tap's run loop and wait (at most a few seconds) for the thread to end; twice is harmless.

        From the listener's own thread it only asks: the loop ends once ``on_pressed`` returns.
        """
        self._stopping.set()
        if self._run_loop:
            self._quartz.CFRunLoopStop(self._run_loop)
        if threading.current_thread() is not self.thread:
            self.thread.join(THREAD_PATIENCE)

    def _run(self) -> None:
        quartz = self._quartz
        try:
            self._tap = quartz.CGEventTapCreate(SESSION_EVENT_TAP, HEAD_INSERT_EVENT_TAP, TAP_LISTEN_ONLY,
                                                event_mask_bit(KEY_DOWN), self._callback, None)
            if not self._tap:
                return
            source = quartz.CFMachPortCreateRunLoopSource(None, self._tap, 0)
            self._run_loop = quartz.CFRunLoopGetCurrent()
            quartz.CFRunLoopAddSource(self._run_loop, source, quartz.kCFRunLoopDefaultMode)
            quartz.CGEventTapEnable(self._tap, True)
        except Exception as error:
            self._failure = f"the {TAKE_BACK_LABEL} event tap could not be set up ({error})"
            self._tap = None
            return
        finally:
            self._started.set()
        try:
            while not self._stopping.is_set():
                if quartz.CFRunLoopRunInMode(quartz.kCFRunLoopDefaultMode, RUN_LOOP_SLICE, False) == RUN_LOOP_FINISHED:
                    break
        finally:
            quartz.CGEventTapEnable(self._tap, False)
            quartz.CFMachPortInvalidate(self._tap)
            quartz.CFRelease(source)
            quartz.CFRelease(self._tap)

    def _event(self, proxy: int, event_type: int, event: int, user_info: int) -> int:
        """The tap's callback (on the listener's thread): nothing it raises may reach macOS."""
        quartz = self._quartz
        try:
            if event_type in (TAP_DISABLED_BY_TIMEOUT, TAP_DISABLED_BY_USER_INPUT):
                quartz.CGEventTapEnable(self._tap, True)  # macOS switched the tap off; the key must still work
            elif event_type == KEY_DOWN and not self._stopping.is_set():
                key_code = quartz.CGEventGetIntegerValueField(event, KEY_CODE_FIELD)
                autorepeat = quartz.CGEventGetIntegerValueField(event, AUTOREPEAT_FIELD)
                if is_take_back(event_type, key_code, quartz.CGEventGetFlags(event), autorepeat):
                    self._on_pressed()
        except Exception:
            log.exception("the %s handler failed", TAKE_BACK_LABEL)
        return event


# The calls into macOS (not run by the tests, which inject their own).

class _CGPoint(ctypes.Structure):
    _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double)]


class _CGRect(ctypes.Structure):
    _fields_ = [("origin", _CGPoint), ("size", _CGPoint)]


def _framework(name: str) -> ctypes.CDLL:
    path = ctypes.util.find_library(name)
    if not path:
        raise InjectionUnavailable(f"macOS's {name} framework was not found")
    return ctypes.CDLL(path)


def _is_trusted() -> bool:
    services = _framework("ApplicationServices")
    services.AXIsProcessTrusted.restype = ctypes.c_bool
    return bool(services.AXIsProcessTrusted())


class _Quartz:
    """The event tap's CoreGraphics and CoreFoundation calls, with their prototypes."""

    def __init__(self):
        graphics = _framework("CoreGraphics")
        foundation = _framework("CoreFoundation")
        pointer = ctypes.c_void_p
        prototypes = {
            (graphics, "CGEventTapCreate"): (pointer, [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                                                       ctypes.c_uint64, TAP_CALLBACK, pointer]),
            (graphics, "CGEventTapEnable"): (None, [pointer, ctypes.c_bool]),
            (graphics, "CGEventGetIntegerValueField"): (ctypes.c_int64, [pointer, ctypes.c_uint32]),
            (graphics, "CGEventGetFlags"): (ctypes.c_uint64, [pointer]),
            (foundation, "CFMachPortCreateRunLoopSource"): (pointer, [pointer, pointer, ctypes.c_long]),
            (foundation, "CFMachPortInvalidate"): (None, [pointer]),
            (foundation, "CFRunLoopGetCurrent"): (pointer, []),
            (foundation, "CFRunLoopAddSource"): (None, [pointer, pointer, pointer]),
            (foundation, "CFRunLoopRunInMode"): (ctypes.c_int32, [pointer, ctypes.c_double, ctypes.c_bool]),
            (foundation, "CFRunLoopStop"): (None, [pointer]),
            (foundation, "CFRelease"): (None, [pointer]),
        }
        for (library, name), (result, arguments) in prototypes.items():
            function = getattr(library, name)
            function.restype, function.argtypes = result, arguments
            setattr(self, name, function)
        self.kCFRunLoopDefaultMode = pointer.in_dll(foundation, "kCFRunLoopDefaultMode")


def _list_monitors() -> list[Monitor]:
    graphics = _framework("CoreGraphics")
    graphics.CGDisplayBounds.restype = _CGRect
    graphics.CGDisplayBounds.argtypes = [ctypes.c_uint32]
    graphics.CGMainDisplayID.restype = ctypes.c_uint32
    displays = (ctypes.c_uint32 * 16)()
    count = ctypes.c_uint32()
    graphics.CGGetActiveDisplayList(16, displays, ctypes.byref(count))
    main = graphics.CGMainDisplayID()
    ordered = sorted(displays[:count.value], key=lambda display: display != main)
    monitors = []
    for display in ordered:
        bounds = graphics.CGDisplayBounds(display)
        monitors.append(Monitor(int(bounds.origin.x), int(bounds.origin.y), int(bounds.size.x), int(bounds.size.y)))
    return monitors


def _post(events: Sequence[QuartzEvent]) -> None:
    graphics = _framework("CoreGraphics")
    foundation = _framework("CoreFoundation")
    pointer = ctypes.c_void_p
    graphics.CGEventCreate.restype = pointer
    graphics.CGEventCreate.argtypes = [pointer]
    graphics.CGEventGetLocation.restype = _CGPoint
    graphics.CGEventGetLocation.argtypes = [pointer]
    graphics.CGEventCreateMouseEvent.restype = pointer
    graphics.CGEventCreateMouseEvent.argtypes = [pointer, ctypes.c_uint32, _CGPoint, ctypes.c_uint32]
    graphics.CGEventSetIntegerValueField.argtypes = [pointer, ctypes.c_uint32, ctypes.c_int64]
    graphics.CGEventCreateKeyboardEvent.restype = pointer
    graphics.CGEventCreateKeyboardEvent.argtypes = [pointer, ctypes.c_uint16, ctypes.c_bool]
    graphics.CGEventSetFlags.argtypes = [pointer, ctypes.c_uint64]
    graphics.CGEventKeyboardSetUnicodeString.argtypes = [pointer, ctypes.c_ulong, ctypes.POINTER(ctypes.c_uint16)]
    graphics.CGEventCreateScrollWheelEvent2.restype = pointer
    graphics.CGEventCreateScrollWheelEvent2.argtypes = [pointer, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int32,
                                                        ctypes.c_int32, ctypes.c_int32]
    graphics.CGEventPost.argtypes = [ctypes.c_uint32, pointer]
    foundation.CFRelease.argtypes = [pointer]
    hid_event_tap, click_state_field, line_units = 0, 1, 1
    for event in events:
        if isinstance(event, MouseEvent):
            if event.x is None:
                current = graphics.CGEventCreate(None)
                where = graphics.CGEventGetLocation(current)
                foundation.CFRelease(current)
            else:
                where = _CGPoint(event.x, event.y)
            created = graphics.CGEventCreateMouseEvent(None, event.kind, where, event.button)
            if event.click_state:
                graphics.CGEventSetIntegerValueField(created, click_state_field, event.click_state)
        elif isinstance(event, KeyEvent):
            created = graphics.CGEventCreateKeyboardEvent(None, event.key_code, event.down)
            graphics.CGEventSetFlags(created, event.flags)
            if event.text:
                units = utf16_units(event.text)
                graphics.CGEventKeyboardSetUnicodeString(created, len(units), (ctypes.c_uint16 * len(units))(*units))
        else:
            created = graphics.CGEventCreateScrollWheelEvent2(None, line_units, 2, event.vertical, event.horizontal, 0)
        graphics.CGEventPost(hid_event_tap, created)
        foundation.CFRelease(created)
