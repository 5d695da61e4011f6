"""A window covering the whole X screen that shows what it is told, line by line on stdin.

    python -m tests.e2e.painter

Commands: ``show PATH`` (a picture of the screen's size), ``fill #RRGGBB``, ``box X Y SIZE #RRGGBB``
(a square over the picture; ``box off`` removes it), ``raise`` (above every other window),
``lower`` (below them), ``quit``. After each command the X server has been sent everything and
the painter answers ``ok <time.time()>``: the moment the screen changed, for latency figures.
"""

import sys
import time
import tkinter as tk


class Painter:
    def __init__(self):
        self.root = tk.Tk()
        self.root.title("sosqueue test screen")
        self.root.overrideredirect(True)
        width, height = self.root.winfo_screenwidth(), self.root.winfo_screenheight()
        self.root.geometry(f"{width}x{height}+0+0")
        self.canvas = tk.Canvas(self.root, width=width, height=height, borderwidth=0, highlightthickness=0,
                                background="#000000")
        self.canvas.place(x=0, y=0)
        self.picture = self.canvas.create_image(0, 0, anchor="nw")
        self.box = self.canvas.create_rectangle(0, 0, 0, 0, width=0, state="hidden")
        self._photo: tk.PhotoImage | None = None

    def run(self, command: str) -> bool:
        """Carry out one command; False after ``quit``."""
        name, _, rest = command.strip().partition(" ")
        if name == "quit":
            return False
        if name == "show":
            self._photo = tk.PhotoImage(master=self.root, file=rest)
            self.canvas.itemconfigure(self.picture, image=self._photo, state="normal")
            self.canvas.configure(background="#000000")
        elif name == "fill":
            self.canvas.itemconfigure(self.picture, state="hidden")
            self.canvas.itemconfigure(self.box, state="hidden")
            self.canvas.configure(background=rest)
        elif name == "box":
            self._box(rest.split())
        elif name == "raise":
            self.root.lift()
        elif name == "lower":
            self.root.lower()
        else:
            raise ValueError(f"unknown painter command {command!r}")
        return True

    def _box(self, values: list[str]) -> None:
        if values == ["off"]:
            self.canvas.itemconfigure(self.box, state="hidden")
            return
        x, y, size, colour = int(values[0]), int(values[1]), int(values[2]), values[3]
        self.canvas.coords(self.box, x, y, x + size, y + size)
        self.canvas.itemconfigure(self.box, fill=colour, state="normal")

    def settle(self) -> None:
        """Hand everything to the X server and wait until it has taken it."""
        self.root.update_idletasks()
        self.root.update()
        self.root.winfo_pointerxy()  # a round trip: the X server has handled every request before it


def main() -> None:
    painter = Painter()
    painter.settle()
    print(f"ok {time.time()}", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            going_on = painter.run(line)
        except (ValueError, IndexError, tk.TclError) as error:
            print(f"error {error}", flush=True)
            continue
        if not going_on:
            break
        painter.settle()
        print(f"ok {time.time()}", flush=True)
    painter.root.destroy()


if __name__ == "__main__":
    main()
