"""Connect end to end: the real agent on a real X screen, the real queue, the expert's real Chromium.

The customer's screen shows a known picture. The expert opens the session view; the agent
asks for consent in its own dialog, which is clicked with xdotool like a customer would. Then
what the browser draws is compared with the picture pixel by pixel, chat goes both ways, and
each way of ending stops the capture.

How close the browser's picture must be: the frames are JPEG at the agent's quality
(``agent.connect.frames.QUALITY``, 70), so they cannot match exactly. The test encodes the
known picture at that quality with Pillow and measures its mean absolute difference per
channel (about 1.0 level of 255 for this picture); the browser's picture may differ by that
plus ``DECODER_ALLOWANCE`` (Chromium's JPEG decoder rounds its transforms and upsampling a
little differently). Each block's centre, away from the edges where JPEG blurs colours, must be
within ``CENTRE_TOLERANCE`` of its colour.
"""

import base64
import io
import json
import time

import httpx
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Page

from agent.connect.frames import QUALITY, encode_jpeg, scaled
from tests.e2e.desktop import (
    BLOCK_COLOURS,
    BRAND_ACCENT,
    blocks,
    chat_entry,
    click,
    consent_buttons,
    known_picture,
    wait_for_colour,
    xdotool,
)
from sosqueue.connect import REGION_MAGIC
from tests.server.connect.peers import WAIT, Expert, Sockets, receive, send
from tests.support.dashboard import logged_in
from tests.support.tenants import bearer

DECODER_ALLOWANCE = 1.0
CENTRE_TOLERANCE = 12
# Long enough for a dozen of the agent's screen polls (80 ms each): a capture still running would send.
QUIET_SECONDS = 1.0

# True once every block's centre on the canvas shows its colour (the agent's windows no longer cover it).
SHOWS_BLOCKS = """([centres, tolerance]) => {
  const canvas = document.getElementById("screen");
  if (canvas.width === 0) return false;
  const context = canvas.getContext("2d");
  return centres.every(([x, y, colour]) => {
    const pixel = context.getImageData(x, y, 1, 1).data;
    return colour.every((value, index) => Math.abs(pixel[index] - value) <= tolerance);
  });
}"""


def open_session(page: Page, base_url: str, code: str) -> None:
    page.goto(f"{base_url}/requests/{code}/session")


def wait_state(page: Page, state: str) -> None:
    page.wait_for_function("(state) => document.body.dataset.sessionState === state", arg=state)


def frames_drawn(page: Page) -> int:
    return int(page.evaluate("document.body.dataset.framesDrawn"))


def answer_consent(customer, display: str, button: str) -> None:
    """Click Allow or Deny in the agent's consent dialog, once it is on screen."""
    customer.wait_for(lambda state: state["session"]["consent"] == "shown", what="the consent dialog")
    click(display, *consent_buttons(display)[button])


def allow_and_watch(page: Page, customer, display: str) -> None:
    """The customer allows viewing and the first frame is drawn in the browser."""
    answer_consent(customer, display, "allow")
    customer.wait_for(lambda state: state["session"]["sharing"], what="sharing")
    wait_state(page, "sharing")
    page.wait_for_function("() => Number(document.body.dataset.framesDrawn) > 0")


def stop_button_laid_out(session: dict) -> bool:
    """Whether the agent reports its Stop sharing button inside the bar (before the bar's first
    layout it reports the bar's corner)."""
    if not session["sharing_bar"] or not session["stop_sharing_at"]:
        return False
    size, left, top = session["sharing_bar"].split("+")
    width, height = (int(value) for value in size.split("x"))
    x, y = session["stop_sharing_at"]
    return int(left) < x < int(left) + width and int(top) < y < int(top) + height


def canvas_picture(page: Page) -> Image.Image:
    """The browser's canvas, pixel for pixel (a lossless PNG of it)."""
    url = page.evaluate("document.getElementById('screen').toDataURL('image/png')")
    with Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))) as image:
        return image.convert("RGB")


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference per channel and pixel, in levels of 255."""
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3


def jpeg_error(picture: Image.Image) -> float:
    """How far the agent's JPEG at its quality puts ``picture`` from itself, decoded by Pillow."""
    with Image.open(io.BytesIO(encode_jpeg(picture, quality=QUALITY))) as decoded:
        return mean_difference(picture, decoded.convert("RGB"))


def messages_until_chat(socket, text: str) -> list:
    """What ``socket`` receives until its own chat ``text`` comes back: dicts, and frames as bytes.

    Each socket's messages leave the relay in order, so a frame relayed to it before the echo is in there.
    """
    seen = []
    while True:
        message = socket.recv(timeout=WAIT)
        if isinstance(message, bytes):
            seen.append(message)
            continue
        seen.append(json.loads(message))
        if seen[-1].get("type") == "chat" and seen[-1].get("text") == text:
            return seen


def history(base_url: str, company, code: str) -> list[tuple[str, dict]]:
    events = httpx.get(f"{base_url}/api/v1/service-requests/{code}/history", headers=bearer(company.admin_token))
    return [(event["type"], event["data"]) for event in events.json() if event["type"].startswith("screen_")]


def test_the_expert_sees_the_known_picture_on_the_customers_screen(expert_page, customer, painter, display,
                                                                    queue_server):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)
    painter.raise_()  # above the agent's window and sharing bar: the whole screen is the picture

    centres = [[*block.centre, list(block.colour)] for block in blocks()]
    expert_page.wait_for_function(SHOWS_BLOCKS, arg=[centres, CENTRE_TOLERANCE])
    shown = canvas_picture(expert_page)
    expected = scaled(known_picture())  # the agent scales frames to at most 1280 wide: this one stays as is

    assert shown.size == (1280, 800)
    assert mean_difference(shown, expected) < jpeg_error(expected) + DECODER_ALLOWANCE
    assert [[abs(a - b) <= CENTRE_TOLERANCE for a, b in zip(shown.getpixel(block.centre), block.colour)]
            for block in blocks()] == [[True] * 3] * len(BLOCK_COLOURS)
    assert expert_page.errors == []


def test_chat_goes_from_the_browser_to_the_agents_window_and_back(expert_page, customer, display, queue_server,
                                                                  company):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    wait_state(expert_page, "asking")
    expert_page.fill("#chat-text", "Please open the printer settings <now>")
    expert_page.press("#chat-text", "Enter")
    expert = company.supporter_email.partition("@")[0]
    customer.wait_for(lambda state: {"from": "expert", "name": expert, "text": "Please open the printer settings <now>"}
                      in state["session"]["chat"], what="the expert's message in the agent's chat pane")

    click(display, *chat_entry(display, customer.state()["window"]))
    xdotool(display, "type", "--delay", "10", "It says: error 42 & more")
    xdotool(display, "key", "Return")
    expert_page.wait_for_function("() => document.querySelectorAll('#chat-log li').length === 2")

    assert expert_page.eval_on_selector_all(
        "#chat-log li", "items => items.map((li) => [li.className, li.querySelector('.text').textContent])"
    ) == [["from-expert", "Please open the printer settings <now>"], ["from-customer", "It says: error 42 & more"]]
    customer.wait_for(lambda state: {"from": "customer", "name": "You", "text": "It says: error 42 & more"}
                      in state["session"]["chat"], what="the customer's message in their own chat pane")


def test_deny_shows_denied_and_no_frame_is_taken_or_relayed(expert_page, customer, display, queue_server, company):
    code = customer.state()["code"]
    watcher_login = logged_in(queue_server.url, company.admin_email)
    sockets = Sockets(queue_server.url, company)
    try:
        watcher = sockets.expert_raw(code, Expert(watcher_login, company.user_ids[company.admin_email], "admin"))
        assert receive(watcher)["type"] == "hello"
        open_session(expert_page, queue_server.url, code)
        answer_consent(customer, display, "deny")
        wait_state(expert_page, "denied")
        customer.wait_for(lambda state: state["session"]["consent"] == "denied", what="the denial")

        send(watcher, {"type": "chat", "text": "after the denial"})
        seen = messages_until_chat(watcher, "after the denial")
    finally:
        sockets.close_all()
        watcher_login.close()

    assert [message for message in seen if isinstance(message, bytes)] == []
    assert {"type": "consent", "allowed": False, "scopes": ["view"]} in seen
    assert frames_drawn(expert_page) == 0
    assert customer.state()["session"]["frames_sent"] == 0
    assert [kind for kind, data in history(queue_server.url, company, code)] == ["screen_denied"]
    assert expert_page.is_visible("#ask-again")


def test_ending_in_the_browser_stops_the_agents_capture(expert_page, customer, painter, display, queue_server,
                                                        company):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)

    expert_page.click("#end-session")
    stopped = customer.wait_for(lambda state: not state["session"]["sharing"] and not state["session"]["sharing_bar"],
                                what="the agent to stop sharing")
    wait_state(expert_page, "ended")
    sent, drawn = stopped["session"]["frames_sent"], frames_drawn(expert_page)
    painter.fill("#12AB34")  # a change a running capture would send at once
    time.sleep(QUIET_SECONDS)

    assert customer.state()["session"]["frames_sent"] == sent
    assert frames_drawn(expert_page) == drawn
    assert {"from": "note", "name": "", "text": "Your supporter stopped viewing your screen."} \
        in customer.state()["session"]["chat"]
    assert [kind for kind, data in history(queue_server.url, company, code)] == ["screen_shared", "screen_stopped"]
    assert history(queue_server.url, company, code)[-1][1] == {"by": "expert"}


def test_stop_sharing_on_the_agents_bar_shows_stopped_in_the_browser(expert_page, customer, display, queue_server):
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)

    bar = customer.wait_for(lambda state: stop_button_laid_out(state["session"]), what="the sharing bar")["session"]
    left, top = (int(value) for value in bar["sharing_bar"].split("+")[1:])
    wait_for_colour(display, left + 2, top + 2, BRAND_ACCENT)
    click(display, *bar["stop_sharing_at"])

    wait_state(expert_page, "stopped")
    state = customer.wait_for(lambda state: not state["session"]["sharing"], what="the agent to stop sharing")
    assert state["session"]["sharing_bar"] == "" and state["session"]["stop_sharing_at"] is None
    assert expert_page.inner_text("#session-state") == "The customer stopped sharing their screen."


# Notes the size and first four bytes of every frame the page receives (before its own script opens the socket).
NOTE_FRAMES = """
window.__frames = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (event) => {
      if (typeof event.data === "string") return;
      const head = new Uint8Array(event.data.slice(0, 4));
      window.__frames.push([event.data.byteLength, String.fromCharCode(...head)]);
    });
  }
};
"""


def test_a_small_change_reaches_the_browser_as_a_region_frame(expert_page, customer, painter, display, queue_server):
    """A 100-pixel square on the known picture: the canvas shows it, and it cost a small region frame."""
    expert_page.add_init_script(NOTE_FRAMES)
    code = customer.state()["code"]
    open_session(expert_page, queue_server.url, code)
    allow_and_watch(expert_page, customer, display)
    painter.raise_()
    centres = [[*block.centre, list(block.colour)] for block in blocks()]
    expert_page.wait_for_function(SHOWS_BLOCKS, arg=[centres, CENTRE_TOLERANCE])
    time.sleep(QUIET_SECONDS)  # the screen settled: every frame of it arrived
    whole = [size for size, head in expert_page.evaluate("window.__frames") if head.startswith("\xff\xd8")]
    before = len(expert_page.evaluate("window.__frames"))

    painter.box(600, 350, 100, "#FFCC00")
    expert_page.wait_for_function(SHOWS_BLOCKS, arg=[[[650, 400, [255, 204, 0]]], CENTRE_TOLERANCE])
    after = expert_page.evaluate("window.__frames")[before:]
    assert after and all(head == REGION_MAGIC.decode() for _size, head in after), after
    assert sum(size for size, _head in after) < max(whole) / 10
    expected = known_picture()
    expected.paste((255, 204, 0), (600, 350, 700, 450))
    shown = canvas_picture(expert_page)
    assert mean_difference(shown, expected) < jpeg_error(expected) + DECODER_ALLOWANCE
    assert expert_page.errors == []
