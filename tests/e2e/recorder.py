"""A window that records the mouse and keyboard input it receives, one JSON line per event on stdout.

    python -m tests.e2e.recorder X Y WIDTH HEIGHT

A borderless window at (X, Y) of WIDTH × HEIGHT with a text box filling it. Each button press,
button release, wheel notch and key press it gets is printed as ``{"event": …, "at": time.time(),
…}`` with the pointer's place on the screen (``x``, ``y``), the button or the key's ``keysym``
and ``char``; after each key press also ``{"event": "text", "text": …}``, the box's whole text.
It prints ``{"event": "ready"}`` once it is on screen. A click puts the keyboard focus on it.
"""

import json
import sys
import time
import tkinter as tk

WHEEL_BUTTONS = {4: "up", 5: "down", 6: "left", 7: "right"}


class Recorder:
    def __init__(self, x: int, y: int, width: int, height: int):
        self.root = tk.Tk()
        self.root.title("sosqueue test recorder")
        self.root.overrideredirect(True)
        self.root.geometry(f"{width}x{height}+{x}+{y}")
        self.box = tk.Text(self.root, borderwidth=0, highlightthickness=0, background="#fffbe6",
                           font=("DejaVu Sans", 14))
        self.box.place(x=0, y=0, width=width, height=height)
        self.box.bind("<ButtonPress>", self._pressed)
        self.box.bind("<ButtonRelease>", self._released)
        self.box.bind("<KeyPress>", self._key)

    def _pressed(self, event: tk.Event) -> None:
        if event.num in WHEEL_BUTTONS:
            self._emit("wheel", event, direction=WHEEL_BUTTONS[event.num])
            return
        self.box.focus_force()  # no window manager gives it the focus
        self._emit("press", event, button=event.num)

    def _released(self, event: tk.Event) -> None:
        if event.num not in WHEEL_BUTTONS:
            self._emit("release", event, button=event.num)

    def _key(self, event: tk.Event) -> None:
        self._emit("key", event, keysym=event.keysym, char=event.char, state=event.state)
        self.root.after_idle(lambda: emit({"event": "text", "text": self.box.get("1.0", "end-1c")}))

    @staticmethod
    def _emit(kind: str, event: tk.Event, **fields) -> None:
        emit({"event": kind, "at": time.time(), "x": event.x_root, "y": event.y_root, **fields})


def emit(record: dict) -> None:
    print(json.dumps(record, ensure_ascii=False), flush=True)


def main() -> None:
    x, y, width, height = (int(value) for value in sys.argv[1:5])
    recorder = Recorder(x, y, width, height)
    recorder.root.update()
    recorder.root.lift()
    recorder.box.focus_force()
    recorder.root.update()
    emit({"event": "ready", "at": time.time()})
    recorder.root.mainloop()


if __name__ == "__main__":
    main()
