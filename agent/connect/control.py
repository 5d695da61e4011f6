"""Remote control on the customer's side: the expert's input carried out on this computer.

A :class:`Controller` is one period of control, from the customer's Allow to its end. The
channel's thread hands it each ``input.*`` message (:meth:`Controller.take` never waits); a
worker thread of its own carries them out, in order, through the :class:`Injector`.

Pointer messages give a point of the picture the expert sees (x, y in width × height pixels).
That picture shows the whole desktop, or one monitor after ``input.monitor``; the point is
mapped onto the desktop, then onto the monitor that holds it.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from agent.connect import capture
from agent.connect.frames import Box
from agent.connect.input import InjectionUnavailable, Injector, KeyNotTypable, Monitor, bounding_box, create_injector
from sosqueue.connect import MAX_MONITORS, Message

log = logging.getLogger("sosqueue.agent.connect")

#: Input messages waiting to be carried out; more are dropped (the expert is told once).
QUEUE_LIMIT = 64
TOO_FAST = "input came faster than this computer carries it out; some of it was left out"


class Ending(StrEnum):
    """Why control ended by itself (the ``on_end`` reason)."""

    TAKEN_BACK = "taken_back"  # the customer pressed the take-back key
    UNAVAILABLE = "unavailable"  # this computer cannot be controlled any more


def capture_covers_desktop() -> bool:
    """Whether this system's screen capture shows every monitor (the whole desktop) or the primary one only.

    The capture backend says (``Capture.COVERS_DESKTOP``): X11's root window and Windows'
    virtual screen span every monitor; macOS's capture shows the main display alone.
    """
    try:
        return capture.backend().COVERS_DESKTOP
    except ImportError:  # no capture here, so nothing is shared to point into
        return False


def nearest_monitor(monitors: list[Monitor], x: int, y: int) -> int:
    """The index of the monitor that holds the desktop point (x, y), or of the nearest one."""
    def distance(monitor: Monitor) -> int:
        dx = max(monitor.x - x, 0, x - (monitor.x + monitor.width - 1))
        dy = max(monitor.y - y, 0, y - (monitor.y + monitor.height - 1))
        return dx * dx + dy * dy

    return min(range(len(monitors)), key=lambda index: distance(monitors[index]))


class InputError(ValueError):
    """One input message that cannot be carried out; the message is the one line for the expert."""


class Controller:
    """The expert's mouse and keyboard on this computer, from :meth:`start` to :meth:`stop`.

    :param open_injector: makes the injector (called once, by :meth:`start`).
    :param report: sends one message to the experts (``input_error``, ``control_unavailable``).
    :param on_area: told the part of the desktop the expert now sees, relative to the desktop's
        top-left (what the capture crops), or None for the whole desktop; from the worker's thread.
    :param covers_desktop: the capture shows every monitor (else the first one only).
    :param on_end: told, from a background thread, when control ended by itself (an :class:`Ending`),
        after input has stopped; not after :meth:`stop`.
    """

    def __init__(self, *, open_injector: Callable[[], Injector] = create_injector,
                 report: Callable[[dict], bool], on_area: Callable[[Box | None], None] = lambda box: None,
                 covers_desktop: bool = True, on_end: Callable[[Ending], None] = lambda reason: None):
        self._open_injector = open_injector
        self._report = report
        self._on_area = on_area
        self._covers_desktop = covers_desktop
        self._on_end = on_end
        self._injector: Injector | None = None
        self.monitors: list[Monitor] = []
        self.secure_attention = False
        #: Whether the customer's take-back key works here (known after :meth:`begin`).
        self.take_back_key_works = False
        self._desktop = Monitor(0, 0, 1, 1)
        self._area: Monitor | None = None  # the monitor the expert sees, None: the whole desktop
        self._waiting: deque[dict] = deque()
        self._ready = threading.Condition()  # guards _waiting and _dropping
        self._dropping = False  # input was dropped since the queue last ran empty (reported once)
        # Held while one input is carried out: once stop() has it, nothing more is.
        self._applying = threading.Lock()
        self._stopped = threading.Event()
        self._worker = threading.Thread(target=self._run, name="sosqueue-control", daemon=True)

    @property
    def taking(self) -> bool:
        """Input is being carried out (after :meth:`begin`, before the end)."""
        return self._worker.is_alive() and not self._stopped.is_set()

    def start(self) -> None:
        """Open the injector and learn the monitors, in the caller's thread.

        :raises InjectionUnavailable: with the one-line reason this computer cannot be controlled.
        """
        injector = self._open_injector()
        try:
            self.monitors = injector.monitors()[:MAX_MONITORS]
        except Exception:
            injector.close()
            raise
        if not self.monitors:
            injector.close()
            raise InjectionUnavailable("this computer reports no monitor")
        if not self._covers_desktop:
            self.monitors = self.monitors[:1]  # the picture shows the primary monitor: only it can be pointed at
        self._injector = injector
        self.secure_attention = injector.HAS_SECURE_ATTENTION
        self._desktop = bounding_box(self.monitors)

    def begin(self) -> None:
        """Carry out input from now on, and listen for the customer's take-back key."""
        if self._stopped.is_set():
            return
        self.take_back_key_works = self._watch_take_back()
        self._worker.start()

    def _watch_take_back(self) -> bool:
        try:
            self._injector.watch_take_back(self._taken_back)
        except InjectionUnavailable as error:
            log.info("the take-back key does not work here: %s", error)
            return False
        return True

    def take(self, message: dict) -> None:
        """Queue one ``input.*`` message (from the channel's thread; never waits)."""
        if self._stopped.is_set():
            return
        with self._ready:
            waiting = self._waiting
            if message.get("type") == Message.INPUT_MOVE and waiting and waiting[-1].get("type") == Message.INPUT_MOVE:
                waiting[-1] = message  # only the newest position matters
            elif len(waiting) >= QUEUE_LIMIT:
                if not self._dropping:
                    self._dropping = True
                    self._report({"type": Message.INPUT_ERROR, "detail": TOO_FAST})
                return
            else:
                waiting.append(message)
            self._ready.notify()

    def stop(self) -> None:
        """End control at once (from any thread): after this returns no input is carried out,
        the queue is empty and the injector closed, which lets go of held buttons."""
        self._halt()
        injector, self._injector = self._injector, None
        if injector is not None:
            injector.close()

    def _halt(self) -> None:
        """No more input: forget what waits, then wait for the one input being carried out."""
        self._forget()
        with self._applying:
            pass

    def _forget(self) -> None:
        self._stopped.set()
        with self._ready:
            self._waiting.clear()
            self._ready.notify()

    def _taken_back(self) -> None:
        """The customer pressed the take-back key (called from the injector's listening thread).

        No input starts from here on. The rest of the stop runs on a thread of its own: closing
        the injector ends the thread this runs in, which may hold the injector meanwhile.
        """
        if self._stopped.is_set():
            return
        self._forget()
        threading.Thread(target=self.stop, name="sosqueue-control-close", daemon=True).start()
        self._on_end(Ending.TAKEN_BACK)

    # -- the worker's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            message = self._next()
            if message is None:
                return
            with self._applying:
                if self._stopped.is_set():
                    return
                try:
                    self._apply(message)
                except (InputError, KeyNotTypable, ValueError, TypeError) as error:
                    self._report({"type": Message.INPUT_ERROR, "detail": str(error)})
                except NotImplementedError:
                    self._report({"type": Message.INPUT_ERROR,
                                  "detail": f"{message.get('type')} cannot be carried out on this computer"})
                except InjectionUnavailable as error:
                    self._unavailable(str(error))
                    return
                except Exception as error:  # the system failed it (an X connection lost, say): not worth a retry
                    log.exception("carrying out %s failed", message.get("type"))
                    self._unavailable(f"the input failed on this computer ({type(error).__name__})")
                    return

    def _next(self) -> dict | None:
        with self._ready:
            while not self._waiting and not self._stopped.is_set():
                self._dropping = False
                self._ready.wait()
            if self._stopped.is_set():
                return None
            return self._waiting.popleft()

    def _unavailable(self, detail: str) -> None:
        if self._stopped.is_set():
            return  # control was ending anyway: nobody waits for the reason
        log.warning("remote control ended: %s", detail)
        self._forget()
        self._report({"type": Message.CONTROL_UNAVAILABLE, "detail": detail})
        threading.Thread(target=self.stop, name="sosqueue-control-close", daemon=True).start()
        self._on_end(Ending.UNAVAILABLE)

    def _apply(self, message: dict) -> None:
        injector = self._injector
        if injector is None:
            return
        kind = message.get("type")
        if kind == Message.INPUT_MOVE:
            self._move(message)
        elif kind == Message.INPUT_BUTTON:
            self._move(message)
            if _boolean(message, "down"):
                injector.press(message.get("button"))
            else:
                injector.release(message.get("button"))
        elif kind == Message.INPUT_WHEEL:
            injector.scroll(message.get("dx", 0), message.get("dy", 0))
        elif kind == Message.INPUT_TEXT:
            injector.type_text(message.get("text"))
        elif kind == Message.INPUT_KEY:
            modifiers = message.get("modifiers") or []
            if not isinstance(modifiers, list):
                raise InputError("an input.key's modifiers are a list of names")
            injector.press_key(message.get("key"), modifiers)
        elif kind == Message.INPUT_SECURE_ATTENTION:
            if not self.secure_attention:
                raise InputError("Ctrl+Alt+Del cannot be sent to this computer")
            injector.send_secure_attention()
        elif kind == Message.INPUT_MONITOR:
            self._show_monitor(message.get("monitor"))
        else:
            raise InputError(f"unknown input {str(kind)[:40]!r}")

    def _move(self, message: dict) -> None:
        x, y = self._desktop_point(message)
        index = nearest_monitor(self.monitors, x, y)
        monitor = self.monitors[index]
        self._injector.move(x - monitor.x, y - monitor.y, index)

    def _desktop_point(self, message: dict) -> tuple[int, int]:
        """The desktop point under a point of the expert's picture (``x``, ``y`` of ``width`` × ``height``)."""
        x, y, width, height = (message.get(name) for name in ("x", "y", "width", "height"))
        if not all(isinstance(number, int) and not isinstance(number, bool) for number in (x, y, width, height)):
            raise InputError("a pointer input needs whole numbers x, y, width and height")
        if width < 1 or height < 1:
            raise InputError(f"a picture of {width}×{height} pixels has no points")
        area = self._area or self._desktop
        return area.x + x * area.width // width, area.y + y * area.height // height

    def _show_monitor(self, index: object) -> None:
        if index is None:
            self._area = None
            self._on_area(None)
            return
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.monitors):
            raise InputError(f"there is no monitor {index!r} (there are {len(self.monitors)})")
        monitor, desktop = self.monitors[index], self._desktop
        self._area = monitor
        left, top = monitor.x - desktop.x, monitor.y - desktop.y
        self._on_area((left, top, left + monitor.width, top + monitor.height))


def _boolean(message: dict, name: str) -> bool:
    value = message.get(name)
    if not isinstance(value, bool):
        raise InputError(f"an input's {name} is true or false")
    return value
