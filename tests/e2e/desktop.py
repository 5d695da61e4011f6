"""The customer's desktop for end-to-end runs: a known picture, a painter window, real clicks on the agent.

Everything here acts on a real X server (Xvfb) from the outside, as the customer would:
screenshots with ImageMagick's ``import``, windows found and clicked with ``xdotool``. The
agent's own windows are located by what they look like (its brand colour, its borders), so
nothing inside the agent is reached into.
"""

import io
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from tests.support.polling import eventually

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 800
PATIENCE = 30.0

#: The blocks of the known picture: (left, top, right, bottom) and colour. No two are alike, and
#: none is the agent's brand colour (BRAND_PRIMARY), so a screenshot tells them apart.
BLOCK_COLOURS = [(220, 40, 40), (40, 180, 60), (40, 70, 220), (240, 220, 40),
                 (40, 210, 220), (230, 120, 30), (245, 245, 245), (60, 60, 60)]
BLOCK_WIDTH, BLOCK_HEIGHT, GAP = WIDTH // 4, 360, 4
GRADIENT_TOP = 720
BRAND_PRIMARY = "#7A1FA2"
BRAND_ACCENT = "#E0007A"  # the sharing bar's colour
DIALOG_TITLE = "Share your screen?"
CONTROL_DIALOG_TITLE = "Allow remote control?"


@dataclass(frozen=True)
class Block:
    box: tuple[int, int, int, int]
    colour: tuple[int, int, int]

    @property
    def centre(self) -> tuple[int, int]:
        left, top, right, bottom = self.box
        return (left + right) // 2, (top + bottom) // 2


def blocks() -> list[Block]:
    made = []
    for index, colour in enumerate(BLOCK_COLOURS):
        left, top = (index % 4) * BLOCK_WIDTH, (index // 4) * BLOCK_HEIGHT
        made.append(Block((left + GAP, top + GAP, left + BLOCK_WIDTH - GAP - 1, top + BLOCK_HEIGHT - GAP - 1), colour))
    return made


def known_picture() -> Image.Image:
    """8 coloured blocks on black with a grey ramp under them: sharp edges, flat areas and a gradient."""
    picture = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0))
    draw = ImageDraw.Draw(picture)
    for block in blocks():
        draw.rectangle(block.box, fill=block.colour)
    for x in range(WIDTH):
        level = round(255 * x / (WIDTH - 1))
        draw.line([(x, GRADIENT_TOP), (x, HEIGHT - 1)], fill=(level, level, level))
    return picture


def x_environment(display: str) -> dict:
    return {**os.environ, "DISPLAY": display}


def xdotool(display: str, *args: str) -> str:
    done = subprocess.run(["xdotool", *args], env=x_environment(display), capture_output=True, text=True,
                          timeout=PATIENCE)
    if done.returncode != 0 and args[0] != "search":  # search fails when nothing matches
        raise RuntimeError(f"xdotool {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def click(display: str, x: int, y: int) -> None:
    """A real left click at (x, y) on the screen."""
    xdotool(display, "mousemove", "--sync", str(x), str(y), "click", "1")


def screenshot(display: str) -> Image.Image:
    """The whole screen as it is now."""
    png = subprocess.run(["import", "-window", "root", "png:-"], env=x_environment(display), capture_output=True,
                         check=True, timeout=PATIENCE).stdout
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB")


def geometry(display: str, window: str) -> tuple[int, int, int, int]:
    """(left, top, width, height) of a window on the screen."""
    values = dict(line.split("=", 1) for line in xdotool(display, "getwindowgeometry", "--shell", window).split())
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


def visible_window(display: str, name: str) -> str:
    """The id of the mapped window called ``name`` (waits for it)."""
    pattern = "^" + re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name) + "$"  # xdotool takes a regular expression
    return eventually(lambda: (xdotool(display, "search", "--onlyvisible", "--name", pattern).split() or [""])[0],
                      timeout=PATIENCE, what=f"a window called {name!r}")


# -- the consent dialog and the chat pane, found by their looks -------------------------------------


def consent_buttons(display: str, title: str = DIALOG_TITLE) -> dict[str, tuple[int, int]]:
    """Where to click Allow and Deny in the agent's consent dialog called ``title`` (screen pixels), once it is
    drawn and in place.

    Allow is the button in the brand colour under the dialog's banner (also in that colour);
    Deny is the next button to its left.
    """
    window = visible_window(display, title)
    return settled(lambda: _consent_buttons(display, window), what="the consent dialog's buttons")


def chat_entry(display: str, window: str) -> tuple[int, int]:
    """Where to click into the chat line of the agent's window: the last framed box, seen from the bottom."""
    return settled(lambda: _chat_entry(display, window), what="the chat line of the agent's window")


def settled(look, *, what: str):
    """What ``look()`` finds once two looks in a row agree: a window may still be moving or drawing."""
    previous = None

    def same_twice():
        nonlocal previous
        found = look()
        agreed = found if found is not None and found == previous else None
        previous = found
        return agreed

    return eventually(same_twice, timeout=PATIENCE, interval=0.1, what=what)


def window_picture(display: str, window: str) -> tuple[Image.Image, int, int]:
    """The window as on screen now, and its left and top."""
    left, top, width, height = geometry(display, window)
    return screenshot(display).crop((left, top, left + width, top + height)), left, top


def _consent_buttons(display: str, window: str) -> dict[str, tuple[int, int]] | None:
    dialog, left, top = window_picture(display, window)
    brand = _rgb(BRAND_PRIMARY)
    groups = _runs([y for y in range(dialog.height) if _count(dialog, y, brand) >= 20])
    if len(groups) < 2:
        return None  # the banner, at least, is not drawn yet
    allow_top, allow_bottom = groups[-1]
    middle = (allow_top + allow_bottom) // 2
    columns = [x for x in range(dialog.width) if _near(dialog.getpixel((x, middle)), brand)]
    # The widest run: Deny's focus ring is drawn in the brand colour too, but only a pixel wide.
    allow_left, allow_right = max(_runs(columns), key=lambda run: run[1] - run[0])
    background = dialog.getpixel((allow_left - 2 * GAP, allow_top - GAP))
    x = allow_left - 1
    while x > 0 and _near(dialog.getpixel((x, middle)), background):
        x -= 1
    deny_right = x
    while x > 0 and not _near(dialog.getpixel((x, middle)), background):
        x -= 1
    deny_left = x + 1
    return {"allow": (left + (allow_left + allow_right) // 2, top + middle),
            "deny": (left + (deny_left + deny_right) // 2, top + middle)}


def _chat_entry(display: str, window: str) -> tuple[int, int] | None:
    picture, left, top = window_picture(display, window)
    column = 60  # inside the chat line, which spans most of the window's width
    background = picture.getpixel((column, picture.height - 2))
    edges = [y for y in range(picture.height - 1, 0, -1) if not _near(picture.getpixel((column, y)), background)]
    if not edges:
        return None
    bottom_edge = edges[0]
    inside = next((y for y in range(bottom_edge - 1, 0, -1) if _near(picture.getpixel((column, y)), background)), None)
    if inside is None:
        return None
    top_edge = next((y for y in range(inside, 0, -1) if not _near(picture.getpixel((column, y)), background)), None)
    if top_edge is None:
        return None
    return left + column, top + (top_edge + bottom_edge) // 2


def wait_for_colour(display: str, x: int, y: int, colour: str) -> None:
    """Wait until the screen shows ``colour`` at (x, y): a window is not only made but drawn."""
    wanted = _rgb(colour)
    eventually(lambda: _near(screenshot(display).getpixel((x, y)), wanted), timeout=PATIENCE,
               what=f"{colour} on screen at {x},{y}")


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _near(pixel, colour, tolerance: int = 10) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour))


def _count(image: Image.Image, y: int, colour) -> int:
    return sum(_near(image.getpixel((x, y)), colour) for x in range(image.width))


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


# -- the painter -------------------------------------------------------------------------------------


class Painter:
    """``python -m tests.e2e.painter`` on the display: a full-screen window the test paints on."""

    def __init__(self, display: str, log: Path):
        self._log = open(log, "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "tests.e2e.painter"], cwd=REPO,
                                        env=x_environment(display), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._answer()

    def show(self, path: Path) -> float:
        return self.command(f"show {path}")

    def fill(self, colour: str) -> float:
        return self.command(f"fill {colour}")

    def box(self, x: int, y: int, size: int, colour: str) -> float:
        return self.command(f"box {x} {y} {size} {colour}")

    def raise_(self) -> float:
        return self.command("raise")

    def lower(self) -> float:
        return self.command("lower")

    def command(self, line: str) -> float:
        """Carry out ``line``; returns the time.time() at which the X server had the change."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()

    def _answer(self) -> float:
        line = self.process.stdout.readline().strip()
        if not line.startswith("ok "):
            raise RuntimeError(f"the painter said {line!r} (exit code {self.process.poll()})")
        return float(line.removeprefix("ok "))



class Recorder:
    """``python -m tests.e2e.recorder`` on the display: a window that notes the input it receives.

    Its events (dicts, see the module) are read in a thread of their own, as they come.
    """

    def __init__(self, display: str, log: Path, box: tuple[int, int, int, int]):
        self.box = box  # left, top, width, height on the screen
        self._log = open(log, "wb")
        self._events: list[dict] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen([sys.executable, "-m", "tests.e2e.recorder", *map(str, box)], cwd=REPO,
                                        env=x_environment(display), stdout=subprocess.PIPE, stderr=self._log,
                                        text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        eventually(lambda: self.events("ready"), timeout=PATIENCE, what="the recorder window")

    @property
    def centre(self) -> tuple[int, int]:
        left, top, width, height = self.box
        return left + width // 2, top + height // 2

    def events(self, kind: str | None = None) -> list[dict]:
        """The events so far (of one kind)."""
        with self._lock:
            return [event for event in self._events if kind is None or event["event"] == kind]

    def text(self) -> str:
        """The text box's content after the last key press."""
        texts = self.events("text")
        return texts[-1]["text"] if texts else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._lock:
                self._events.append(json.loads(line))
