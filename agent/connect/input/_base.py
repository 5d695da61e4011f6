"""What every input backend shares: the public :class:`Injector` methods, their checks, and the hooks.

Besides sending input, an injector listens for the customer's take-back key
(:data:`~sosqueue.connect.TAKE_BACK_LABEL`, Ctrl+Alt+Space) once :meth:`Injector.watch_take_back`
is called, and refuses to press that combination itself.
"""

import logging
import threading
import unicodedata
from typing import Callable, Iterable, NamedTuple

from sosqueue.connect import TAKE_BACK_KEY, TAKE_BACK_LABEL, TAKE_BACK_MODIFIERS, Button, Key, Modifier

log = logging.getLogger(__name__)


class InjectionUnavailable(Exception):
    """This computer does not take remote input now; the message is one line the expert can be shown
    (``the screen is locked``, ``this is a Wayland session without remote-desktop portal`` …)."""


class PermissionMissing(InjectionUnavailable):
    """The system would allow input once the customer gives this program a permission (macOS's
    Accessibility); the message says where."""


class KeyNotTypable(Exception):
    """A character or key this computer cannot type; reported to the expert, never replaced by a guess.

    :param character: the character (or key name) that cannot be typed.
    """

    def __init__(self, character: str, why: str = "cannot be typed on this computer"):
        self.character = character
        name = f"{character!r} (U+{ord(character):04X})" if len(character) == 1 else repr(character)
        super().__init__(f"{name} {why}")


class Monitor(NamedTuple):
    """One monitor's rectangle on the desktop, in screen pixels (x and y may be negative)."""

    x: int
    y: int
    width: int
    height: int


def bounding_box(monitors: Iterable[Monitor]) -> Monitor:
    """The smallest rectangle around every monitor: the desktop (Windows calls it the virtual screen)."""
    monitors = list(monitors)
    left = min(monitor.x for monitor in monitors)
    top = min(monitor.y for monitor in monitors)
    right = max(monitor.x + monitor.width for monitor in monitors)
    bottom = max(monitor.y + monitor.height for monitor in monitors)
    return Monitor(left, top, right - left, bottom - top)


#: The characters of text that are typed as a named key.
TEXT_KEYS = {"\n": Key.ENTER, "\t": Key.TAB}


class Injector:
    """Moves the customer's pointer and types on their keyboard.

    Every public method checks that the injector is open and that its arguments make sense,
    then calls a ``_hook`` that each backend implements. The calls are synchronous and cheap
    (a few system calls each); they do not limit the rate, the session does. One thread at a
    time may use an injector.

    :meth:`watch_take_back` is the exception: it starts a listener of the backend's own (a
    thread with its own connection to the system) that tells the caller, from that thread,
    whenever the customer presses the take-back key; :meth:`close` stops it.
    """

    #: The name of the backend, as ``SOSQUEUE_INPUT`` spells it.
    backend_name = "base"
    #: Whether :meth:`send_secure_attention` (Ctrl+Alt+Del) can work on this system.
    HAS_SECURE_ATTENTION = False

    def __init__(self):
        self._closed = False
        self._held: set[Button] = set()
        self._lock = threading.RLock()
        self._on_take_back: Callable[[], None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def monitors(self) -> list[Monitor]:
        """The monitors, the primary one first, as rectangles on the desktop."""
        with self._lock:
            self._check_open()
            return list(self._monitors())

    def move(self, x: int, y: int, monitor: int = 0) -> tuple[int, int]:
        """Move the pointer to a point of one monitor; a point outside it goes to its nearest edge.

        :param x: pixels from the monitor's left edge.
        :param y: pixels from the monitor's top edge.
        :param monitor: the index of the monitor in :meth:`monitors`.
        :returns: the point on the desktop the pointer went to.
        """
        _check_int(x=x, y=y, monitor=monitor)
        with self._lock:
            self._check_open()
            screens = self._monitors()
            if not 0 <= monitor < len(screens):
                raise ValueError(f"there is no monitor {monitor} (there are {len(screens)})")
            area = screens[monitor]
            point = (area.x + min(max(x, 0), area.width - 1), area.y + min(max(y, 0), area.height - 1))
            self._move(*point)
            return point

    def press(self, button: Button = Button.LEFT) -> None:
        """Hold a mouse button down (until :meth:`release` or :meth:`close`).

        :param button: which button.
        """
        button = _button(button)
        with self._lock:
            self._check_open()
            self._button(button, True)
            self._held.add(button)

    def release(self, button: Button = Button.LEFT) -> None:
        """Let a mouse button go.

        :param button: which button.
        """
        button = _button(button)
        with self._lock:
            self._check_open()
            self._button(button, False)
            self._held.discard(button)

    def click(self, button: Button = Button.LEFT) -> None:
        """Press and release a mouse button where the pointer is.

        :param button: which button.
        """
        self._clicks(button, 1)

    def double_click(self, button: Button = Button.LEFT) -> None:
        """Two clicks in a row, that applications take as one double click.

        :param button: which button.
        """
        self._clicks(button, 2)

    def scroll(self, dx: int = 0, dy: int = 0) -> None:
        """Turn the mouse wheel by notches, as the browser's wheel event counts them.

        :param dx: notches to the right (negative: to the left).
        :param dy: notches down (negative: up).
        """
        _check_int(dx=dx, dy=dy)
        with self._lock:
            self._check_open()
            if dx or dy:
                self._scroll(dx, dy)

    def type_text(self, text: str) -> None:
        """Type text as the customer would, whatever the keyboard layout (``"Grüße"``, ``"ħ"``).

        A line break is the Enter key, a tab the Tab key; other control characters are refused.
        Every character is checked first: when one cannot be typed, nothing is.

        :param text: the text to type.
        :raises KeyNotTypable: naming the first character this computer cannot type.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        with self._lock:
            self._check_open()
            for character in text:
                if character not in TEXT_KEYS and unicodedata.category(character) in ("Cc", "Cs"):
                    raise KeyNotTypable(character, "is a control character, not text")
                if character not in TEXT_KEYS and not self._can_type(character):
                    raise KeyNotTypable(character)
            run = ""
            for character in text:
                if character in TEXT_KEYS:
                    if run:
                        self._type(run)
                        run = ""
                    self._key(TEXT_KEYS[character], frozenset())
                else:
                    run += character
            if run:
                self._type(run)

    def press_key(self, key: Key | str, modifiers: Iterable[Modifier | str] = ()) -> None:
        """Press and release a key while holding modifiers: ``press_key("c", {Modifier.CONTROL})``.

        :param key: a :class:`Key` (or its name, ``"Enter"``) or one printable character.
        :param modifiers: the :class:`Modifier` keys held meanwhile (or their names).
        :raises KeyNotTypable: when this computer has no such key.
        """
        key = _key(key)
        try:
            held = frozenset(Modifier(modifier) for modifier in modifiers)
        except ValueError:
            raise ValueError(f"modifiers must be among {', '.join(Modifier)}, not {list(modifiers)!r}") from None
        if key == TAKE_BACK_KEY and TAKE_BACK_MODIFIERS <= held:
            raise KeyNotTypable(TAKE_BACK_LABEL,
                                "is the customer's key to take control back, never sent for the expert")
        with self._lock:
            self._check_open()
            self._key(key, held)

    def watch_take_back(self, on_pressed: Callable[[], None]) -> None:
        """Call ``on_pressed()`` whenever the customer presses the take-back key (Ctrl+Alt+Space).

        The key is heard anywhere on the desktop, whatever window has the focus and while this
        injector moves the pointer or types; ``on_pressed`` runs on the listener's own thread,
        once per press (never for the key's auto-repeat), so it should only hand the news on.
        Listening lasts until :meth:`close`. Calling this again only replaces ``on_pressed``
        (the listener keeps running).

        :param on_pressed: called without arguments; an exception it raises is logged, not fatal.
        :raises InjectionUnavailable: when this computer does not let the key be heard (one line why).
        """
        if not callable(on_pressed):
            raise TypeError(f"on_pressed must be callable, not {type(on_pressed).__name__}")
        with self._lock:
            self._check_open()
            if self._on_take_back is not None:
                self._on_take_back = on_pressed
                return
            self._on_take_back = on_pressed
            try:
                self._watch_take_back(self._take_back_pressed)
            except BaseException:
                self._on_take_back = None
                raise

    @property
    def watching_take_back(self) -> bool:
        """Whether :meth:`watch_take_back` is listening (until :meth:`close`)."""
        return self._on_take_back is not None and not self._closed

    def send_secure_attention(self) -> None:
        """Send Ctrl+Alt+Del, which a pressed key combination cannot (the system keeps it for itself).

        :raises InjectionUnavailable: where :attr:`HAS_SECURE_ATTENTION` is false, or the system refuses.
        """
        with self._lock:
            self._check_open()
            if not self.HAS_SECURE_ATTENTION:
                raise InjectionUnavailable("Ctrl+Alt+Del cannot be sent to this computer")
            self._secure_attention()

    def close(self) -> None:
        """Release the buttons still held and stop, the take-back listener too (its thread is given a
        few seconds at most to end); closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            try:
                for button in sorted(self._held):
                    self._button(button, False)
            finally:
                self._held.clear()
                self._closed = True
                self._close()

    def __enter__(self) -> "Injector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the input injector is closed")

    def _take_back_pressed(self) -> None:
        """What a backend's listener calls on each press of the take-back key (from its thread)."""
        on_pressed = self._on_take_back
        if on_pressed is None or self._closed:
            return
        try:
            on_pressed()
        except Exception:
            log.exception("the take-back key's handler failed")

    def _clicks(self, button: Button, count: int) -> None:
        button = _button(button)
        with self._lock:
            self._check_open()
            self._click(button, count)

    # The hooks: each backend implements these.

    def _monitors(self) -> list[Monitor]:
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _monitors")

    def _move(self, x: int, y: int) -> None:
        """Move the pointer to a point of the desktop (already inside a monitor)."""
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _move")

    def _button(self, button: Button, down: bool) -> None:
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _button")

    def _click(self, button: Button, count: int) -> None:
        """``count`` presses and releases (a backend that marks double clicks overrides it)."""
        for _ in range(count):
            self._button(button, True)
            self._button(button, False)

    def _scroll(self, dx: int, dy: int) -> None:
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _scroll")

    def _can_type(self, character: str) -> bool:
        """Whether :meth:`_type` can type this character (no control characters get here)."""
        return True

    def _type(self, text: str) -> None:
        """Type text without line breaks or tabs, every character of it typable."""
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _type")

    def _key(self, key: Key | str, modifiers: frozenset[Modifier]) -> None:
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _key")

    def _secure_attention(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _secure_attention")

    def _watch_take_back(self, on_pressed: Callable[[], None]) -> None:
        """Start listening for the take-back key and call ``on_pressed()`` on each press, from a
        thread of the backend's own; :meth:`_close` stops it. Called once per injector."""
        raise NotImplementedError(f"{type(self).__name__} is an input backend without _watch_take_back")

    def _close(self) -> None:
        """Free what the backend holds, the take-back listener included (nothing by default).

        It may be called on the listener's own thread (when ``on_pressed`` closes the injector),
        which must then not wait for itself.
        """


def _check_int(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")


def _button(button: Button | str) -> Button:
    try:
        return Button(button)
    except ValueError:
        raise ValueError(f"button must be one of {', '.join(Button)}, not {button!r}") from None


def _key(key: Key | str) -> Key | str:
    if not isinstance(key, str):
        raise TypeError(f"key must be a Key or a character, not {type(key).__name__}")
    try:
        return Key(key)
    except ValueError:
        pass
    if len(key) != 1 or not key.isprintable():
        raise ValueError(f"key must be one of the Key names or one printable character, not {key!r}")
    return key
