"""Linux: the X11 display's mouse and keyboard through the XTEST extension (python-xlib).

A character the keyboard layout has (plain or with Shift) is typed on its own key.
Any other one (``ü`` on a US layout, ``ħ`` anywhere) is typed on a *spare* keycode, one the
layout leaves empty: the injector maps the character's keysym onto it, presses it, and puts
the empty mapping back :attr:`Injector.restore_after` seconds after the last use. The delay is
needed because applications read the mapping only when they handle the key event, which may be
a little later than the injector sends it.

The take-back key (Ctrl+Alt+Space) is heard by a :class:`TakeBackListener`: a second connection
to the display, read by a daemon thread. It selects XInput 2's raw key events on the root
window, which the X server (since XInput 2.1, Xvfb included) delivers to every client that asks,
whatever window has the focus and even while another client holds a keyboard grab (an open menu);
raw events carry no modifier state, so the listener follows Control and Alt itself. Without
XInput 2 it grabs the combination with ``XGrabKey`` on the root window instead (once for each
NumLock and CapsLock state), which a keyboard grab of another client silences meanwhile.

Wayland sessions are refused: XTEST reaches only the XWayland windows there, not the desktop.
"""

import logging
import os
import select
import threading
from typing import Callable

try:
    from Xlib import XK, X
    from Xlib.error import BadAccess, CatchError, ConnectionClosedError, DisplayError, XError
    from Xlib.ext import ge, xinput, xtest
    from Xlib.protocol import rq
except ImportError as error:  # python-xlib comes with the agent extra on Linux
    raise ImportError(f"python-xlib is missing ({error})") from None

from agent import x11
from agent.connect.input import _base
from agent.connect.input._base import InjectionUnavailable, KeyNotTypable, Monitor
from sosqueue.connect import TAKE_BACK_LABEL, Button, Key, Modifier

log = logging.getLogger(__name__)

WAYLAND = "this is a Wayland session without remote-desktop portal"

#: X's button numbers; 4 to 7 are the wheel's up, down, left and right notches.
BUTTONS = {Button.LEFT: 1, Button.MIDDLE: 2, Button.RIGHT: 3}
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 4, 5, 6, 7

#: The keysym names of the named keys (Meta is the Super or "Windows" key).
KEYSYM_NAMES = {
    Key.ENTER: "Return", Key.TAB: "Tab", Key.ESCAPE: "Escape", Key.BACKSPACE: "BackSpace", Key.DELETE: "Delete",
    Key.INSERT: "Insert", Key.HOME: "Home", Key.END: "End", Key.PAGE_UP: "Prior", Key.PAGE_DOWN: "Next",
    Key.ARROW_LEFT: "Left", Key.ARROW_RIGHT: "Right", Key.ARROW_UP: "Up", Key.ARROW_DOWN: "Down",
    **{Key(f"F{number}"): f"F{number}" for number in range(1, 13)},
    Key.CONTROL: "Control_L", Key.SHIFT: "Shift_L", Key.ALT: "Alt_L", Key.META: "Super_L",
    Key.CAPS_LOCK: "Caps_Lock", Key.CONTEXT_MENU: "Menu", Key.SPACE: "space",
}
MODIFIER_KEYS = {Modifier.CONTROL: Key.CONTROL, Modifier.SHIFT: Key.SHIFT, Modifier.ALT: Key.ALT,
                 Modifier.META: Key.META}
#: Seconds a borrowed spare keycode keeps its character after the last use.
RESTORE_AFTER = 0.5

#: The XInput version asked for: 2.1 and later deliver raw events to the root window during grabs.
XINPUT_VERSION = (2, 2)
#: A raw event after the generic event header (XIRawEvent of XI2proto.h; the valuators that follow are not read).
RAW_EVENT = rq.Struct(xinput.DEVICEID("deviceid"), rq.Card32("time"), rq.Card32("detail"), xinput.DEVICEID("sourceid"),
                      rq.Card16("valuators_len"), rq.Card32("flags"), rq.Pad(4))
XI_KEY_REPEAT = 1 << 16
#: The keysyms, on a key's first two levels, of the take-back key's parts (AltGr's ISO_Level3_Shift is not Alt).
CONTROL_KEYSYMS = frozenset({XK.XK_Control_L, XK.XK_Control_R})
ALT_KEYSYMS = frozenset({XK.XK_Alt_L, XK.XK_Alt_R, XK.XK_Meta_L, XK.XK_Meta_R})
SPACE_KEYSYM = XK.XK_space
#: Seconds :meth:`TakeBackListener.stop` waits for the thread to end.
STOP_PATIENCE = 5.0


def keysym_for_character(character: str) -> int:
    """The X keysym of one character: Latin-1 ones are their code point, others Unicode keysyms."""
    point = ord(character)
    if 0x20 <= point <= 0x7E or 0xA0 <= point <= 0xFF:
        return point
    return 0x01000000 + point


def keysym_for_key(key: Key) -> int:
    return XK.string_to_keysym(KEYSYM_NAMES[key])


def wayland_session(environment: os._Environ | dict) -> bool:
    """Whether the desktop is Wayland's (where XTEST cannot reach the whole screen)."""
    if environment.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return True
    return bool(environment.get("WAYLAND_DISPLAY")) and not environment.get("DISPLAY")


class Injector(_base.Injector):
    """Drives the mouse and keyboard of an X display through XTEST.

    :param display: the X display name; ``$DISPLAY`` by default.
    :param restore_after: seconds a spare keycode keeps a borrowed character after its last use.
    :raises InjectionUnavailable: under Wayland, without a display, or without XTEST.
    """

    backend_name = "linux"

    def __init__(self, display: str | None = None, *, restore_after: float = RESTORE_AFTER):
        if display is None and wayland_session(os.environ):
            raise InjectionUnavailable(WAYLAND)
        display = display or os.environ.get("DISPLAY", "")
        if not display:
            raise InjectionUnavailable("there is no X11 display (DISPLAY is not set)")
        try:
            self._display = x11.connect(display)
        except (DisplayError, OSError, XError) as error:
            raise InjectionUnavailable(f"the X display {display} cannot be opened ({error})") from None
        if not self._display.has_extension("XTEST"):
            self._display.close()
            raise InjectionUnavailable(f"the X display {display} has no XTEST extension")
        super().__init__()
        self.restore_after = restore_after
        self._display_name = display
        self._listener: TakeBackListener | None = None
        self._root = self._display.screen().root
        self._first_keycode = self._display.display.info.min_keycode
        self._last_keycode = self._display.display.info.max_keycode
        self._width = len(next(iter(self._mapping().values())))
        self._empty: list[int] = []  # the keycodes without any keysym when the keyboard was last read
        self._borrowed: dict[int, int] = {}  # the spare keycodes lent to characters, by keysym
        self._levels()
        self._timer: threading.Timer | None = None

    @property
    def borrowed(self) -> dict[int, int]:
        """The keysyms currently lent to spare keycodes (keycode by keysym)."""
        return dict(self._borrowed)

    def _monitors(self) -> list[Monitor]:
        try:
            reply = self._root.xrandr_get_monitors(is_active=True)
            found = sorted(reply.monitors, key=lambda monitor: not monitor.primary)
            monitors = [Monitor(m.x, m.y, m.width_in_pixels, m.height_in_pixels) for m in found]
        except (AttributeError, XError):
            monitors = []
        if monitors:
            return monitors
        screen = self._display.screen()
        return [Monitor(0, 0, screen.width_in_pixels, screen.height_in_pixels)]

    def _move(self, x: int, y: int) -> None:
        xtest.fake_input(self._display, X.MotionNotify, x=x, y=y, root=self._root)
        self._display.sync()

    def _button(self, button: Button, down: bool) -> None:
        xtest.fake_input(self._display, X.ButtonPress if down else X.ButtonRelease, BUTTONS[button])
        self._display.sync()

    def _scroll(self, dx: int, dy: int) -> None:
        for number, notches in ((WHEEL_DOWN if dy > 0 else WHEEL_UP, abs(dy)),
                                (WHEEL_RIGHT if dx > 0 else WHEEL_LEFT, abs(dx))):
            for _ in range(notches):
                xtest.fake_input(self._display, X.ButtonPress, number)
                xtest.fake_input(self._display, X.ButtonRelease, number)
        self._display.sync()

    def _can_type(self, character: str) -> bool:
        return bool(self._empty or self._borrowed) or keysym_for_character(character) in self._levels()

    def _type(self, text: str) -> None:
        levels = self._levels()
        for character in text:
            self._stroke(keysym_for_character(character), frozenset(), levels, character)
        self._display.sync()
        self._schedule_restore()

    def _key(self, key: Key | str, modifiers: frozenset[Modifier]) -> None:
        levels = self._levels()
        if isinstance(key, Key):
            self._stroke(keysym_for_key(key), modifiers, levels, key.value)
        else:
            self._stroke(keysym_for_character(key), modifiers, levels, key)
        self._display.sync()
        self._schedule_restore()

    def _stroke(self, keysym: int, modifiers: frozenset[Modifier], levels: dict[int, tuple[int, int]],
                name: str) -> None:
        """Press and release the key of ``keysym`` with the modifiers (and Shift when its level needs it)."""
        if keysym not in levels:
            levels[keysym] = (self._borrow(keysym, levels, name), 0)
        keycode, level = levels[keysym]
        held = set(modifiers) | ({Modifier.SHIFT} if level == 1 else set())
        modifier_codes = []
        for modifier in sorted(held):
            modifier_keysym = keysym_for_key(MODIFIER_KEYS[modifier])
            if modifier_keysym not in levels:
                raise KeyNotTypable(modifier.value, "has no key on this keyboard")
            modifier_codes.append(levels[modifier_keysym][0])
        for code in modifier_codes:
            xtest.fake_input(self._display, X.KeyPress, code)
        xtest.fake_input(self._display, X.KeyPress, keycode)
        xtest.fake_input(self._display, X.KeyRelease, keycode)
        for code in reversed(modifier_codes):
            xtest.fake_input(self._display, X.KeyRelease, code)

    def _borrow(self, keysym: int, levels: dict[int, tuple[int, int]], name: str) -> int:
        """A spare keycode that now types ``keysym`` (on both levels, so Shift makes no difference)."""
        free = [keycode for keycode in self._empty if keycode not in self._borrowed.values()]
        if not free and self._borrowed:
            # Every spare keycode is lent: let applications read the keys sent so far, then take them back.
            self._display.sync()
            threading.Event().wait(self.restore_after)
            for lent_keysym in list(self._borrowed):
                levels.pop(lent_keysym, None)
            self._restore()
            self._levels()
            free = list(self._empty)
        if not free:
            raise KeyNotTypable(name, "is not on this keyboard and there is no spare key to type it")
        keycode = free[-1]
        self._display.change_keyboard_mapping(keycode, [(keysym, keysym) + (X.NoSymbol,) * (self._width - 2)])
        self._borrowed[keysym] = keycode
        return keycode

    def _levels(self) -> dict[int, tuple[int, int]]:
        """Where each keysym is now: (keycode, level), level 0 plain or 1 with Shift, the lowest first.

        Characters on other levels (AltGr's) are typed on a spare keycode instead: which modifier
        reaches XKB's third level differs between layouts, a borrowed key's first level never does.
        The keycodes without any keysym are noted for borrowing meanwhile.
        """
        mapping = self._mapping()
        self._empty = [keycode for keycode, row in mapping.items() if not any(row)]
        levels: dict[int, tuple[int, int]] = {}
        for level in (0, 1):
            for keycode, row in mapping.items():
                if len(row) > level and row[level] and row[level] not in levels:
                    levels[row[level]] = (keycode, level)
        return levels

    def _mapping(self) -> dict[int, list[int]]:
        count = self._last_keycode - self._first_keycode + 1
        rows = self._display.get_keyboard_mapping(self._first_keycode, count)
        return {self._first_keycode + index: list(row) for index, row in enumerate(rows)}

    def _schedule_restore(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._borrowed:
            self._timer = threading.Timer(self.restore_after, self._restore_later)
            self._timer.daemon = True
            self._timer.start()

    def _restore_later(self) -> None:
        with self._lock:
            if not self._closed:
                self._restore()

    def _restore(self) -> None:
        """Give every borrowed spare keycode its empty mapping back."""
        for keycode in self._borrowed.values():
            self._display.change_keyboard_mapping(keycode, [(X.NoSymbol,) * self._width])
        self._borrowed.clear()
        self._display.sync()

    def _watch_take_back(self, on_pressed: Callable[[], None]) -> None:
        self._listener = TakeBackListener(self._display_name, on_pressed)

    def _close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
        if self._timer is not None:
            self._timer.cancel()
        try:
            self._restore()
        finally:
            self._display.close()


class TakeBackListener:
    """Calls ``on_pressed()`` from a daemon thread whenever Ctrl+Alt+Space is pressed on an X display.

    :param display: the X display name.
    :param on_pressed: called on the listener's thread, once per press (not for auto-repeat).
    :param raw_events: listen to XInput 2 raw events (True) or grab the key (False); by default
        raw events when the server has XInput 2.
    :raises InjectionUnavailable: when the display cannot be opened or another client has grabbed the key.
    """

    def __init__(self, display: str, on_pressed: Callable[[], None], *, raw_events: bool | None = None):
        self._on_pressed = on_pressed
        try:
            self._display = x11.connect(display)
        except (DisplayError, OSError, XError) as error:
            raise InjectionUnavailable(f"the X display {display} cannot be opened ({error})") from None
        try:
            if raw_events is None:
                raw_events = self._has_xinput2()
            self.raw_events = raw_events
            self._keycodes = self._read_keyboard()
            if raw_events:
                self._select_raw_events()
            else:
                self._grab_key(display)
        except BaseException:
            self._display.close()
            raise
        self._down = self._held_now()  # the keycodes held, then as the raw events tell
        self._last_release = (0, -1)  # (keycode, time) of the last core KeyRelease, to tell auto-repeat
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self.thread = threading.Thread(target=self._run, name="take-back listener", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop listening and wait (at most a few seconds) for the thread to end; stopping twice is harmless.

        From the listener's own thread (an ``on_pressed`` that closes the injector), it only asks
        the thread to end once ``on_pressed`` returns.
        """
        if not self._stopping.is_set():
            self._stopping.set()
            try:
                os.write(self._wake_write, b"x")
            except OSError:
                pass
        if threading.current_thread() is not self.thread:
            self.thread.join(STOP_PATIENCE)

    def _has_xinput2(self) -> bool:
        if not self._display.has_extension("XInputExtension"):
            return False
        opcode = self._display.display.get_extension_major("XInputExtension")
        reply = xinput.XIQueryVersion(display=self._display.display, opcode=opcode, major_version=XINPUT_VERSION[0],
                                      minor_version=XINPUT_VERSION[1])
        return reply.major_version >= 2

    def _read_keyboard(self) -> dict[str, frozenset[int]]:
        """The keycodes of Control, Alt and Space in the keyboard mapping now."""
        first = self._display.display.info.min_keycode
        rows = self._display.get_keyboard_mapping(first, self._display.display.info.max_keycode - first + 1)
        found: dict[str, set[int]] = {"control": set(), "alt": set(), "space": set()}
        for index, row in enumerate(rows):
            levels = set(row[:2])
            for name, keysyms in (("control", CONTROL_KEYSYMS), ("alt", ALT_KEYSYMS), ("space", {SPACE_KEYSYM})):
                if levels & keysyms:
                    found[name].add(first + index)
        return {name: frozenset(codes) for name, codes in found.items()}

    def _held_now(self) -> set[int]:
        """The keycodes held down now (Control and Alt may be before the listener starts)."""
        keymap = self._display.query_keymap()
        return {index * 8 + bit for index, byte in enumerate(keymap) for bit in range(8) if byte >> bit & 1}

    def _select_raw_events(self) -> None:
        opcode = self._display.display.get_extension_major("XInputExtension")
        for event_type in (xinput.RawKeyPress, xinput.RawKeyRelease):
            self._display.ge_add_event_data(opcode, event_type, RAW_EVENT)
        root = self._display.screen().root
        root.xinput_select_events([(xinput.AllMasterDevices, xinput.RawKeyPressMask | xinput.RawKeyReleaseMask)])
        self._display.sync()

    def _grab_key(self, display: str) -> None:
        """Grab Space with Control and Alt on the root window, for every state of NumLock and CapsLock."""
        masks = self._modifier_masks()
        refused = CatchError(BadAccess)
        root = self._display.screen().root
        for keycode in self._keycodes["space"]:
            for extra in (0, X.LockMask, masks["numlock"], X.LockMask | masks["numlock"]):
                root.grab_key(keycode, X.ControlMask | masks["alt"] | extra, False, X.GrabModeAsync, X.GrabModeAsync,
                              onerror=refused)
        self._display.sync()
        if refused.get_error() is not None or not self._keycodes["space"]:
            raise InjectionUnavailable(f"another program on the X display {display} has taken {TAKE_BACK_LABEL}")

    def _modifier_masks(self) -> dict[str, int]:
        """The modifier bits of Alt and NumLock (Mod1 and Mod2 on most keyboards)."""
        numlock = set(self._display.keysym_to_keycodes(XK.XK_Num_Lock))
        masks = {"alt": X.Mod1Mask, "numlock": X.Mod2Mask}
        for index, keycodes in enumerate(self._display.get_modifier_mapping()):
            if index < X.Mod1MapIndex:
                continue
            if set(keycodes) & self._keycodes["alt"]:
                masks["alt"] = 1 << index
            if set(keycodes) & {keycode for keycode, _ in numlock}:
                masks["numlock"] = 1 << index
        return masks

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                while self._display.pending_events() and not self._stopping.is_set():
                    self._handle(self._display.next_event())
                if self._stopping.is_set():
                    break
                readable, _, _ = select.select([self._display.fileno(), self._wake_read], [], [])
                if self._wake_read in readable:
                    break
        except (ConnectionClosedError, XError, OSError) as error:
            if not self._stopping.is_set():
                log.warning("the %s listener stopped: %s", TAKE_BACK_LABEL, error)
        except Exception:
            log.exception("the %s listener failed", TAKE_BACK_LABEL)
        finally:
            self._display.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _handle(self, event) -> None:
        if event.type == X.MappingNotify:
            if event.request in (X.MappingKeyboard, X.MappingModifier):
                self._keycodes = self._read_keyboard()
        elif event.type == ge.GenericEventCode and event.evtype in (xinput.RawKeyPress, xinput.RawKeyRelease):
            self._raw_key(event.data.detail, event.evtype == xinput.RawKeyPress, bool(event.data.flags & XI_KEY_REPEAT))
        elif event.type in (X.KeyPress, X.KeyRelease):
            self._grabbed_key(event)

    def _raw_key(self, keycode: int, pressed: bool, repeat: bool) -> None:
        if not pressed:
            self._down.discard(keycode)
            return
        again = repeat or keycode in self._down
        self._down.add(keycode)
        if (not again and keycode in self._keycodes["space"] and self._down & self._keycodes["control"]
                and self._down & self._keycodes["alt"]):
            self._fire()

    def _grabbed_key(self, event) -> None:
        """A grabbed Space: X's auto-repeat is a release and a press at the same time, which is not a new press."""
        if event.type == X.KeyRelease:
            self._last_release = (event.detail, event.time)
        elif self._last_release != (event.detail, event.time):
            self._fire()

    def _fire(self) -> None:
        try:
            self._on_pressed()
        except Exception:
            log.exception("the %s handler failed", TAKE_BACK_LABEL)
