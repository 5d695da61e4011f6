"""An input backend that records what it is told instead of moving anything: for control tests without a display."""

import threading

from agent.connect.input import InjectionUnavailable, KeyNotTypable, Monitor
from agent.connect.input._base import Injector
from sosqueue.connect import TAKE_BACK_KEY, TAKE_BACK_MODIFIERS

ONE_SCREEN = [Monitor(0, 0, 2560, 1600)]
#: A 1920×1080 primary monitor with a 1280×1024 one to its right, a little lower.
TWO_SCREENS = [Monitor(0, 0, 1920, 1080), Monitor(1920, 200, 1280, 1024)]


class RecordingInjector(Injector):
    """Records every hook call as a tuple, in order; ``watch_take_back`` keeps the listener for :meth:`press_take_back`.

    :param untypable: characters it refuses, as a keyboard layout without them would.
    :param listens: whether the take-back key can be listened for.
    """

    backend_name = "recording"

    def __init__(self, monitors=ONE_SCREEN, *, untypable: str = "", listens: bool = True,
                 secure_attention: bool = False):
        super().__init__()
        self.screens = list(monitors)
        self.untypable = untypable
        self.listens = listens
        self.HAS_SECURE_ATTENTION = secure_attention
        self.calls: list[tuple] = []
        self.on_take_back = None
        self.unavailable: str | None = None  # set: the next call finds the display gone
        self.entered = threading.Event()  # set when a hook starts
        self.proceed = threading.Event()  # a hook waits for it (set: no wait)
        self.proceed.set()

    def watch_take_back(self, on_pressed) -> None:
        if not self.listens:
            raise InjectionUnavailable("keys cannot be listened for here")
        self.on_take_back = on_pressed

    def press_take_back(self) -> None:
        """The customer presses Ctrl+Alt+Space (the listener runs in a thread of its own, as a real one does)."""
        thread = threading.Thread(target=self.on_take_back)
        thread.start()
        thread.join()

    def of_kind(self, *kinds: str) -> list[tuple]:
        return [call for call in self.calls if call[0] in kinds]

    def _record(self, *call) -> None:
        self.entered.set()
        self.proceed.wait()
        if self.unavailable:
            raise InjectionUnavailable(self.unavailable)
        self.calls.append(call)

    def _monitors(self) -> list[Monitor]:
        return self.screens

    def _move(self, x: int, y: int) -> None:
        self._record("move", x, y)

    def _button(self, button, down: bool) -> None:
        self._record("press" if down else "release", str(button))

    def _scroll(self, dx: int, dy: int) -> None:
        self._record("scroll", dx, dy)

    def _can_type(self, character: str) -> bool:
        return character not in self.untypable

    def _type(self, text: str) -> None:
        self._record("type", text)

    def _key(self, key, modifiers) -> None:
        if key == TAKE_BACK_KEY and TAKE_BACK_MODIFIERS <= modifiers:
            raise KeyNotTypable(str(key), "with Ctrl+Alt takes control back; it is not sent")
        self._record("key", str(key), tuple(sorted(modifiers)))

    def _secure_attention(self) -> None:
        self._record("secure_attention")

    def _close(self) -> None:
        self.calls.append(("close",))


