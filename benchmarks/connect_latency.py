"""Connect's frame latency: from a change on the customer's screen to the expert's browser drawing it.

    python benchmarks/connect_latency.py [--changes 30] [--seconds 10]

Starts a real queue server on loopback, a real X server (Xvfb, 1280×800), a full-screen painter
window (tests/e2e/painter.py) and the real agent (``python -m agent --sos``), which files a
request and keeps its session channel open. The customer allows viewing by a real click on the
agent's consent dialog; the painter then covers the whole screen.

Each change is the painter filling the screen with a new colour; its time is taken right after
the X server has handled the fill (a round trip after Tk's update). It counts as seen when

- baseline: a raw WebSocket expert client (``websockets``, acking each frame at once like the
  page does) receives the bytes of a frame whose centre has the new colour;
- browser: the session view in Chromium has drawn a frame whose centre has the new colour
  (a MutationObserver on the page's ``data-frames-drawn`` hook reads the canvas, with Date.now()).

Both clocks are this machine's wall clock. Target: browser p95 ≤ 300 ms. Then, with the browser
as the only viewer, the bytes per second the browser receives: ``--seconds`` of a static screen
(≈ 0: only changes are sent) and ``--seconds`` of a 200-pixel box moving every 100 ms
(``moving_box_bytes_per_s``: the agent sends only the changed regions, so a fraction of whole frames).
"""

import argparse
import io
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import emit, latency_ms, machine, percentile, ratio, start_server, table, verdict

from PIL import Image  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from sosqueue.connect import REGION_MAGIC, Message, parse_region  # noqa: E402
from tests.agent.ui.support import AgentProcess  # noqa: E402
from tests.e2e.desktop import BRAND_ACCENT, BRAND_PRIMARY, Painter, click, consent_buttons, known_picture  # noqa: E402
from tests.server.connect.peers import Expert, Sockets, send  # noqa: E402
from tests.support.browser import launch, login  # noqa: E402
from tests.support.dashboard import PASSWORD, logged_in  # noqa: E402
from tests.support.modules import write_module_file  # noqa: E402
from tests.support.tenants import Tenant, make_tenant  # noqa: E402
from tests.support.xserver import start_xvfb, stop  # noqa: E402

TARGET_P95_MS = 300
PATIENCE = 30.0
TOLERANCE = 12  # JPEG moves a flat colour by a few levels at most
BOX = 200

# Counts the bytes of the frames the page receives (before its own script opens the socket).
COUNT_BYTES = """
window.__frameBytes = 0;
window.__frames = 0;
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      if (typeof event.data === "string") return;
      window.__frameBytes += event.data.size ?? event.data.byteLength;  // a Blob, or the page's ArrayBuffer
      window.__frames += 1;
    });
  }
};
"""
# Records the centre colour of every frame the page draws, with Date.now().
WATCH_FRAMES = """() => {
  window.__drawn = [];
  const canvas = document.getElementById("screen");
  new MutationObserver(() => {
    const pixel = canvas.getContext("2d").getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    window.__drawn.push([Date.now(), pixel[0], pixel[1], pixel[2]]);
  }).observe(document.body, { attributes: true, attributeFilter: ["data-frames-drawn"] });
}"""
SEEN_AFTER = """([since, colour, tolerance]) => {
  const hit = window.__drawn.find(([at, r, g, b]) => at >= since
    && Math.abs(r - colour[0]) <= tolerance && Math.abs(g - colour[1]) <= tolerance
    && Math.abs(b - colour[2]) <= tolerance);
  return hit ? hit[0] : null;
}"""


def colours(count: int) -> list[tuple[int, int, int]]:
    """``count`` colours, each far from the one before it (and from black and white)."""
    made, previous = [], (0, 0, 0)
    generator = random.Random(7)
    while len(made) < count:
        colour = tuple(generator.randrange(30, 226) for _ in range(3))
        if sum(abs(a - b) for a, b in zip(colour, previous)) >= 150:
            made.append(colour)
            previous = colour
    return made


def hex_colour(colour: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{value:02x}" for value in colour)


def near(pixel, colour) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(pixel, colour))


class RawViewer:
    """A raw expert socket that acks every frame at once and notes when each arrived and the screen's centre colour."""

    def __init__(self, socket):
        self.socket = socket
        self.frames: list[tuple[float, tuple[int, int, int]]] = []
        self.bytes = 0
        self.picture: Image.Image | None = None
        self.consent = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for message in self.socket:
                if isinstance(message, str):
                    answer = json.loads(message)
                    if answer.get("type") == Message.CONSENT and answer.get("allowed") is True:
                        self.consent.set()
                    continue
                arrived = time.time()
                self.socket.send('{"type":"ack"}')
                self.bytes += len(message)
                picture = self._draw(message)
                if picture is not None:
                    self.frames.append((arrived, picture.getpixel((picture.width // 2, picture.height // 2))))
        except ConnectionClosed:
            pass

    def _draw(self, frame: bytes) -> Image.Image | None:
        """The screen after ``frame``, as the page draws it: a region goes over the last whole frame."""
        if not frame.startswith(REGION_MAGIC):
            with Image.open(io.BytesIO(frame)) as image:
                self.picture = image.convert("RGB")
            return self.picture
        region, jpeg = parse_region(frame)
        if self.picture is None or self.picture.size != (region.frame_width, region.frame_height):
            return None
        with Image.open(io.BytesIO(jpeg)) as image:
            self.picture.paste(image.convert("RGB"), (region.x, region.y))
        return self.picture

    def seen_after(self, since: float, colour) -> float | None:
        return next((at for at, centre in list(self.frames) if at >= since and near(centre, colour)), None)


def wait_for(condition, what: str, timeout: float = PATIENCE):
    deadline = time.monotonic() + timeout
    while (result := condition()) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout} s")
        time.sleep(0.002)
    return result


def measure_raw(painter: Painter, viewer: RawViewer, changes: list) -> list[float]:
    latencies = []
    for colour in changes:
        changed = painter.fill(hex_colour(colour))
        seen = wait_for(lambda: viewer.seen_after(changed, colour), "a frame at the raw client")
        latencies.append(seen - changed)
        time.sleep(random.uniform(0.2, 0.4))  # not in step with the agent's polling
    return latencies


def measure_browser(painter: Painter, page: Page, changes: list) -> list[float]:
    latencies = []
    for colour in changes:
        changed = painter.fill(hex_colour(colour))
        handle = page.wait_for_function(SEEN_AFTER, arg=[changed * 1000, list(colour), TOLERANCE],
                                        timeout=PATIENCE * 1000, polling=10)
        latencies.append(handle.json_value() / 1000 - changed)
        time.sleep(random.uniform(0.2, 0.4))
    return latencies


def bytes_per_second(painter: Painter, page: Page, seconds: float, *, moving: bool,
                     after_move: Callable[[], None] = lambda: None) -> tuple[float, int]:
    """Bytes/s and frames the browser received over ``seconds`` of a static or a changing screen
    (``after_move`` runs after each move of the box)."""
    painter.fill("#336699")
    time.sleep(1.0)  # the frame of this fill goes out first
    start_bytes, start_frames = page.evaluate("[window.__frameBytes, window.__frames]")
    started = time.monotonic()
    step = 0
    while (elapsed := time.monotonic() - started) < seconds:
        if moving:
            painter.box((step * 37) % (1280 - BOX), (step * 23) % (800 - BOX), BOX, "#ffcc00")
            after_move()
            step += 1
            time.sleep(max(0.0, step * 0.1 - (time.monotonic() - started)))
        else:
            time.sleep(min(0.1, seconds - elapsed))
    end_bytes, end_frames = page.evaluate("[window.__frameBytes, window.__frames]")
    return (end_bytes - start_bytes) / (time.monotonic() - started), end_frames - start_frames


@dataclass
class Desktop:
    """A customer's desktop with the real agent sharing it, and a supporter who can open its session."""

    scratch: Path
    display: str
    server_url: str
    tenant: Tenant
    painter: Painter
    agent: AgentProcess
    code: str
    sockets: Sockets
    supporter: Expert


@contextmanager
def customer_desktop(prefix: str) -> Iterator[Desktop]:
    """Xvfb, a real server (SQLite), the painter showing the known picture and the agent with its request
    filed and its session channel open; all stopped and removed afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    xvfb, display = start_xvfb()
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        stack.callback(stop, xvfb)
        database = f"sqlite:///{scratch / 'queue.db'}"
        server = start_server(database)
        stack.callback(server.stop)
        tenant = make_tenant(database, password=PASSWORD)
        picture = scratch / "known.png"
        known_picture().save(picture)
        painter = Painter(display, scratch / "painter.log")
        stack.callback(painter.close)
        painter.show(picture)
        module = write_module_file(scratch / "module.bin", server_url=server.url, module_id=tenant.module_id,
                                   module_token=tenant.module_token, file_immediately=True, primary=BRAND_PRIMARY,
                                   accent=BRAND_ACCENT)
        agent = AgentProcess(module, scratch / "home", display)
        agent.start("--sos")
        stack.callback(agent.terminate)
        code = agent.wait_for(lambda state: state.get("code") and state["session"]["channel"] == "connected",
                              what="the agent's session channel")["code"]
        expert_login = logged_in(server.url, tenant.supporter_email)
        stack.callback(expert_login.close)
        sockets = Sockets(server.url, tenant)
        stack.callback(sockets.close_all)
        supporter = Expert(expert_login, tenant.user_ids[tenant.supporter_email], "supporter")
        yield Desktop(scratch, display, server.url, tenant, painter, agent, code, sockets, supporter)


def allow_viewing(desktop: Desktop) -> tuple:
    """A raw expert socket asks to see the screen and the customer allows it with a click: (socket, its viewer)."""
    raw = desktop.sockets.expert_raw(desktop.code, desktop.supporter)
    viewer = RawViewer(raw)
    send(raw, {"type": Message.VIEW_REQUEST})
    desktop.agent.wait_for(lambda state: state["session"]["consent"] == "shown", what="the consent dialog")
    click(desktop.display, *consent_buttons(desktop.display)["allow"])
    if not viewer.consent.wait(PATIENCE):
        raise RuntimeError("the customer's consent did not reach the viewer")
    return raw, viewer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=30, help="screen changes per path")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each bytes-per-second phase")
    args = parser.parse_args()
    with customer_desktop("sosqueue-bench-connect-") as desktop:
        raw, viewer = allow_viewing(desktop)
        painter = desktop.painter
        painter.raise_()  # above the agent's window and sharing bar
        changes = colours(2 * args.changes)
        raw_latencies = measure_raw(painter, viewer, changes[:args.changes])

        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.add_init_script(COUNT_BYTES)
            login(page, desktop.server_url, desktop.tenant.admin_email)
            page.goto(f"{desktop.server_url}/requests/{desktop.code}/session")
            page.wait_for_function("() => document.body.dataset.sessionState === 'sharing'")
            raw.close()  # the browser is the only viewer from here on
            page.evaluate(WATCH_FRAMES)
            browser_latencies = measure_browser(painter, page, changes[args.changes:])
            static_rate, static_frames = bytes_per_second(painter, page, args.seconds, moving=False)
            moving_rate, moving_frames = bytes_per_second(painter, page, args.seconds, moving=True)
            browser.close()

    report(args, raw_latencies, browser_latencies, (static_rate, static_frames), (moving_rate, moving_frames))


def report(args, raw: list[float], browser: list[float], static: tuple, moving: tuple) -> None:
    p95 = 1000 * percentile(browser, 95)
    result = {
        "machine": machine(),
        "screen": "1280x800 (Xvfb), loopback, agent from source",
        "browser_ms": latency_ms(browser),
        "baseline_raw_client_ms": latency_ms(raw),
        "ratio_p50": ratio(percentile(browser, 50), percentile(raw, 50)),
        "ratio_p95": ratio(percentile(browser, 95), percentile(raw, 95)),
        "target": {"p95_ms": TARGET_P95_MS, "met": p95 <= TARGET_P95_MS},
        "static_screen": {"seconds": args.seconds, "bytes_per_s": round(static[0], 1), "frames": static[1]},
        "moving_box": {"seconds": args.seconds, "box_px": BOX, "moves_per_s": 10,
                       "bytes_per_s": round(moving[0], 1), "frames": moving[1],
                       "frames_per_s": round(moving[1] / args.seconds, 2)},
        "moving_box_bytes_per_s": round(moving[0], 1),
    }
    table([
        ("path", "p50", "p95", "max", "ratio p50 / p95", "target"),
        ("screen → browser", f"{1000 * percentile(browser, 50):.0f} ms", f"{p95:.0f} ms",
         f"{1000 * max(browser):.0f} ms", f"{result['ratio_p50']} / {result['ratio_p95']}",
         f"p95 ≤ {TARGET_P95_MS} ms {verdict(result['target']['met'])}"),
        ("screen → raw client", f"{1000 * percentile(raw, 50):.0f} ms", f"{1000 * percentile(raw, 95):.0f} ms",
         f"{1000 * max(raw):.0f} ms", "(baseline)", ""),
    ])
    table([
        ("screen", "bytes/s", "frames", "seconds"),
        ("static", f"{static[0]:.0f}", static[1], args.seconds),
        (f"{BOX}px box moving every 100 ms", f"{moving[0]:.0f}", moving[1], args.seconds),
    ])
    emit("connect_latency", result)


if __name__ == "__main__":
    sys.exit(main())
