"""Remote control's input latency: from a click or key in the expert's browser to the customer's window.

    python benchmarks/connect_input.py [--inputs 30] [--seconds 10]

Starts a real queue server on loopback, a real X server (Xvfb, 1280×800), a full-screen painter
window, the real agent (``python -m agent --sos``) and a small recorder window
(tests/e2e/recorder.py) that notes every click and key it gets with ``time.time()``. The
customer allows viewing and then control by real clicks on the agent's dialogs.

Each input alternates a click on the recorder window and a key typed into it. It counts as
arrived when the recorder's Tk handler runs for it, and is timed from

- baseline: a raw WebSocket expert client (``websockets``) of the same supporter sending the
  ``input.button`` or ``input.text`` message itself (``time.time()`` just before the send);
- browser: the session view in Chromium getting the pointerdown or keydown event (the event's
  own timestamp, ``performance.timeOrigin + event.timeStamp``), from Playwright's real mouse
  and keyboard.

Both clocks are this machine's wall clock. Target: browser p95 ≤ 100 ms.

Then the bytes per second of a 200-pixel box moving every 100 ms (``--seconds``), with the
browser watching: the bytes it received (region frames, as the agent sends them) and, as the
before, what whole frames would have cost at the same frame rate: each screen of the phase is
grabbed from the X server and encoded whole with the agent's own encoder (``encode_jpeg``, the
quality it starts with), and the mean size times the frames received is the whole-frame figure.
"""

import argparse
import random
import sys
import time

from _common import emit, latency_ms, machine, percentile, ratio, table, verdict
from connect_latency import BOX, COUNT_BYTES, allow_viewing, bytes_per_second, customer_desktop, wait_for

from PIL import ImageGrab  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from agent.connect.frames import encode_jpeg  # noqa: E402
from sosqueue.connect import Message  # noqa: E402
from tests.e2e.desktop import Painter, Recorder  # noqa: E402
from tests.e2e.test_control import answer_control  # noqa: E402
from tests.server.connect.peers import send  # noqa: E402
from tests.support.browser import launch, login  # noqa: E402

TARGET_P95_MS = 100
RECORDER_BOX = (340, 220, 600, 340)
SCREEN = {"width": 1280, "height": 800}
# Notes the wall-clock time of every pointerdown on the view and keydown in it, as the browser stamped them.
WATCH_INPUT = """() => {
  window.__inputAt = [];
  const note = (event) => window.__inputAt.push(performance.timeOrigin + event.timeStamp);
  document.getElementById("screen").addEventListener("pointerdown", note, true);
  document.addEventListener("keydown", note, true);
}"""


def arrival(recorder: Recorder, kind: str, count: int) -> float:
    """The time of the recorder's ``count``-th event of ``kind`` (waits for it)."""
    def arrived() -> float | None:
        events = recorder.events(kind)
        return events[count - 1]["at"] if len(events) >= count else None

    return wait_for(arrived, f"input number {count} ({kind}) in the recorder window")


def measure_raw(raw, recorder: Recorder, inputs: int) -> list[float]:
    x, y = recorder.centre
    latencies = []
    for number in range(inputs):
        kind = "press" if number % 2 == 0 else "key"
        count = len(recorder.events(kind)) + 1
        sent = time.time()
        if kind == "press":
            send(raw, {"type": Message.INPUT_BUTTON, "button": "left", "down": True, "x": x, "y": y, **SCREEN})
            send(raw, {"type": Message.INPUT_BUTTON, "button": "left", "down": False, "x": x, "y": y, **SCREEN})
        else:
            send(raw, {"type": Message.INPUT_TEXT, "text": "r"})
        latencies.append(arrival(recorder, kind, count) - sent)
        time.sleep(random.uniform(0.1, 0.2))
    return latencies


def measure_browser(page: Page, recorder: Recorder, inputs: int) -> list[float]:
    box = page.locator("#screen").bounding_box()
    x, y = recorder.centre
    point = (box["x"] + (x + 0.5) * box["width"] / SCREEN["width"],
             box["y"] + (y + 0.5) * box["height"] / SCREEN["height"])
    latencies = []
    for number in range(inputs):
        kind = "press" if number % 2 == 0 else "key"
        count = len(recorder.events(kind)) + 1
        noted = page.evaluate("window.__inputAt.length")
        if kind == "press":
            page.mouse.click(*point)
        else:
            page.keyboard.press("b")
        pressed_at = page.evaluate("(index) => window.__inputAt[index]", noted) / 1000
        latencies.append(arrival(recorder, kind, count) - pressed_at)
        time.sleep(random.uniform(0.1, 0.2))
    return latencies


def moving_box(painter: Painter, page: Page, display: str, seconds: float) -> tuple[float, int, float]:
    """Bytes/s and frames the browser received while the box moved, and the mean size of a whole frame
    of those screens (each grabbed after its move and encoded as the agent encodes a whole frame)."""
    whole_sizes = []
    rate, frames = bytes_per_second(painter, page, seconds, moving=True, after_move=lambda: whole_sizes.append(
        len(encode_jpeg(ImageGrab.grab(xdisplay=display)))))
    return rate, frames, sum(whole_sizes) / len(whole_sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=30, help="inputs per path (clicks and keys, alternating)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the moving box's phase")
    args = parser.parse_args()
    with customer_desktop("sosqueue-bench-input-") as desktop:
        recorder = Recorder(desktop.display, desktop.scratch / "recorder.log", RECORDER_BOX)
        try:
            # The raw client asks to see, then to control; the customer allows both with clicks.
            raw, _viewer = allow_viewing(desktop)
            send(raw, {"type": Message.CONTROL_REQUEST})
            desktop.agent.wait_for(lambda state: state["session"]["control"] == "shown", what="the control question")
            answer_control(desktop.agent, desktop.display, "allow")
            desktop.agent.wait_for(lambda state: state["session"]["in_control"], what="control")
            raw_latencies = measure_raw(raw, recorder, args.inputs)

            with sync_playwright() as playwright:
                browser = launch(playwright)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.add_init_script(COUNT_BYTES)
                login(page, desktop.server_url, desktop.tenant.supporter_email)
                page.goto(f"{desktop.server_url}/requests/{desktop.code}/session")
                page.wait_for_function("() => document.body.dataset.controlState === 'in_control'")
                page.wait_for_function("() => Number(document.body.dataset.framesDrawn) > 0")
                page.evaluate(WATCH_INPUT)
                browser_latencies = measure_browser(page, recorder, args.inputs)

                recorder.close()  # the box moves over the whole screen
                raw.close()  # the browser is the only viewer from here on
                desktop.painter.raise_()  # above the agent's window and sharing bar
                moving_rate, moving_frames, whole_size = moving_box(desktop.painter, page, desktop.display,
                                                                    args.seconds)
                whole_rate = whole_size * moving_frames / args.seconds
                browser.close()
        finally:
            recorder.close()

    report(args, raw_latencies, browser_latencies, moving_rate, moving_frames, whole_rate)


def report(args, raw: list[float], browser: list[float], moving_rate: float, moving_frames: int,
           whole_rate: float) -> None:
    p95 = 1000 * percentile(browser, 95)
    result = {
        "machine": machine(),
        "screen": "1280x800 (Xvfb), loopback, agent from source",
        "inputs": {"per_path": args.inputs, "kinds": "clicks and keys, alternating"},
        "browser_ms": latency_ms(browser),
        "baseline_raw_client_ms": latency_ms(raw),
        "ratio_p50": ratio(percentile(browser, 50), percentile(raw, 50)),
        "ratio_p95": ratio(percentile(browser, 95), percentile(raw, 95)),
        "target": {"p95_ms": TARGET_P95_MS, "met": p95 <= TARGET_P95_MS},
        "browser_input_p95_ms": round(p95, 1),
        "moving_box_bytes_per_s": {"regions": round(moving_rate, 1), "whole_frames": round(whole_rate, 1),
                                   "ratio": ratio(moving_rate, whole_rate)},
        "moving_box": {"seconds": args.seconds, "box_px": BOX, "moves_per_s": 10, "frames": moving_frames,
                       "whole_frame_bytes": round(whole_rate * args.seconds / max(moving_frames, 1))},
    }
    table([
        ("path", "p50", "p95", "max", "ratio p50 / p95", "target"),
        ("browser → customer's window", f"{1000 * percentile(browser, 50):.0f} ms", f"{p95:.0f} ms",
         f"{1000 * max(browser):.0f} ms", f"{result['ratio_p50']} / {result['ratio_p95']}",
         f"p95 ≤ {TARGET_P95_MS} ms {verdict(result['target']['met'])}"),
        ("raw client → customer's window", f"{1000 * percentile(raw, 50):.0f} ms",
         f"{1000 * percentile(raw, 95):.0f} ms", f"{1000 * max(raw):.0f} ms", "(baseline)", ""),
    ])
    table([
        (f"{BOX}px box moving every 100 ms", "bytes/s"),
        ("region frames (as sent)", f"{moving_rate:.0f}"),
        ("whole frames of the same screens", f"{whole_rate:.0f}"),
    ])
    emit("connect_input", result)


if __name__ == "__main__":
    sys.exit(main())
