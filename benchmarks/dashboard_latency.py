"""From an agent's creation call to the row in a supporter's browser: the dashboard's live latency.

    .venv/bin/python benchmarks/dashboard_latency.py [--requests 20] [--db postgresql+psycopg://…]

One real ``sosqueue serve`` (SQLite unless ``--db``) on loopback. Debian's Chromium (headless,
driven by Playwright) is logged in as a supporter with /queue open and its live stream
connected. Then ``--requests`` requests are filed one after the other through the agent's own
HTTP client (``agent.client.QueueClient`` with the module token), and for each one:

- **browser**: from just before the create call to the moment its ``tr[data-code]`` row is in
  the page's DOM (a MutationObserver notes ``performance.timeOrigin + performance.now()``; the
  frame after it, ``requestAnimationFrame``, is reported too as "painted").
  Target: **p95 ≤ 1 s**.
- **baseline**: from the same moment to the ``created`` event arriving on a raw SSE client
  (httpx streaming GET /api/v1/events with a supporter's token) in this process: what the
  server itself takes. The ratio browser ÷ baseline is what the page adds (its refresh of
  the rows over HTTP, parsing, swapping them in).

Both ends read the same wall clock of this machine (Python's ``time.time()`` and the page's
high-resolution time origin); a check of the two clocks against each other is reported as
``clock_offset_ms`` (with the round trip that bounds it).
"""

import argparse
import json
import threading
import time

import httpx
from playwright.sync_api import sync_playwright

from _common import (
    REPO,
    bearer,
    emit,
    fresh_database,
    is_postgres,
    latency_ms,
    log,
    machine,
    ratio,
    start_server,
    table,
    verdict,
)
from tests.support.browser import agent_client, file_as_agent, launch, login, open_queue  # noqa: E402
from tests.support.dashboard import PASSWORD  # noqa: E402
from tests.support.tenants import make_tenant  # noqa: E402

TARGET_P95_S = 1.0
WAIT_S = 30.0

# Notes when each row first appears, and the frame after that.
WATCH_ROWS = """() => {
  window.__rows = {};
  window.__painted = {};
  const now = () => performance.timeOrigin + performance.now();
  const seen = (code) => {
    window.__rows[code] = now();
    requestAnimationFrame(() => { window.__painted[code] = now(); });
  };
  for (const row of document.querySelectorAll("#queue-rows tr[data-code]")) window.__rows[row.dataset.code] = 0;
  new MutationObserver(() => {
    for (const row of document.querySelectorAll("#queue-rows tr[data-code]")) {
      if (!(row.dataset.code in window.__rows)) seen(row.dataset.code);
    }
  }).observe(document.getElementById("queue"), { childList: true, subtree: true });
}"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20, help="measured requests (after --warmup ones)")
    parser.add_argument("--warmup", type=int, default=2, help="requests filed first and not counted")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between requests, so that they do not overlap")
    parser.add_argument("--db", help="a PostgreSQL URL to create the database on (SQLite by default)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


class RawStream:
    """GET /api/v1/events on its own thread; notes when each request's ``created`` event arrives."""

    def __init__(self, base_url: str, token: str):
        self.arrivals: dict[str, float] = {}
        self.ready = threading.Event()
        self.changed = threading.Condition()
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=None))
        self._headers = {**bearer(token), "Accept": "text/event-stream"}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "RawStream":
        self._thread.start()
        if not self.ready.wait(WAIT_S):
            raise SystemExit("the raw event stream did not open")
        return self

    def _run(self) -> None:
        event = None
        try:
            with self._client.stream("GET", "/api/v1/events", headers=self._headers) as response:
                for line in response.iter_lines():
                    if line.startswith("retry:"):
                        self.ready.set()  # subscribed
                    elif line.startswith("event:"):
                        event = line.partition(":")[2].strip()
                    elif line.startswith("data:") and event == "created":
                        arrived = time.time()
                        code = json.loads(line.partition(":")[2])["code"]
                        with self.changed:
                            self.arrivals[code] = arrived
                            self.changed.notify_all()
                    elif not line:
                        event = None
        except httpx.HTTPError:
            pass  # closed at the end of the run

    def wait_for(self, code: str) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: code in self.arrivals, WAIT_S):
                raise SystemExit(f"the raw event stream never got {code}")
            return self.arrivals[code]

    def close(self) -> None:
        self._client.close()


def clock_offset(page) -> dict:
    """The page's clock minus this process's, from the sample with the shortest round trip."""
    samples = []
    for _ in range(7):
        before = time.time()
        in_page = page.evaluate("() => performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        samples.append((after - before, in_page - (before + after) / 2))
    round_trip, offset = min(samples)
    return {"clock_offset_ms": round(offset * 1000, 3), "clock_check_round_trip_ms": round(round_trip * 1000, 3)}


def file_one(page, stream: RawStream, client, index: int) -> dict:
    """File one request; times to the raw stream, the DOM and the next frame."""
    body = {"description": f"benchmark request {index}", "end_customer": {"name": f"Customer {index}"}}
    started = time.time()
    ticket = file_as_agent(client, body)
    answered = time.time()
    arrived = stream.wait_for(ticket.code)
    page.wait_for_function("code => code in window.__painted", arg=ticket.code, timeout=WAIT_S * 1000)
    in_dom, painted = page.evaluate("code => [window.__rows[code], window.__painted[code]]", ticket.code)
    return {
        "code": ticket.code,
        "create_call": answered - started,
        "raw_stream": arrived - started,
        "browser_dom": in_dom / 1000 - started,
        "browser_painted": painted / 1000 - started,
    }


def measure(args, server, tenant) -> dict:
    stream = RawStream(server.url, tenant.supporter_token).start()
    client = agent_client(server.url, tenant)
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                page = browser.new_page()
                login(page, server.url, tenant.supporter_email)
                open_queue(page, server.url)
                page.evaluate(WATCH_ROWS)
                clock = clock_offset(page)
                samples = []
                for index in range(args.warmup + args.requests):
                    sample = file_one(page, stream, client, index)
                    if index >= args.warmup:
                        samples.append(sample)
                    time.sleep(args.pause)
                clock_after = clock_offset(page)
            finally:
                browser.close()
    finally:
        stream.close()
    return {"samples": samples, "clock": clock, "clock_after": clock_after}


def summarise(args, measured: dict, backend: str) -> dict:
    samples = measured["samples"]
    series = {key: [s[key] for s in samples] for key in ("create_call", "raw_stream", "browser_dom", "browser_painted")}
    stats = {key: latency_ms(values) for key, values in series.items()}
    browser, baseline = stats["browser_dom"], stats["raw_stream"]
    return {
        "backend": backend,
        "machine": machine(),
        "requests": args.requests,
        "warmup": args.warmup,
        "pause_s": args.pause,
        "latency_ms": stats,
        "ratios": {
            "p50_browser_over_raw_stream": ratio(browser["p50"], baseline["p50"]),
            "p95_browser_over_raw_stream": ratio(browser["p95"], baseline["p95"]),
            "p95_painted_over_raw_stream": ratio(stats["browser_painted"]["p95"], baseline["p95"]),
        },
        "page_adds_ms": {
            "p50": round(browser["p50"] - baseline["p50"], 3),
            "p95": round(browser["p95"] - baseline["p95"], 3),
        },
        "clock": {"start": measured["clock"], "end": measured["clock_after"]},
        "target": {"browser_p95_at_most_s": TARGET_P95_S, "met": browser["p95"] <= TARGET_P95_S * 1000},
        "samples_ms": [{"code": s["code"], **{k: round(1000 * v, 3) for k, v in s.items() if k != "code"}}
                       for s in samples],
    }


def show(summary: dict) -> None:
    rows = [("from the create call to", "p50 ms", "p95 ms", "max ms")]
    for label, key in (("its answer (the agent's call)", "create_call"),
                       ("the event on a raw SSE client (baseline)", "raw_stream"),
                       ("the row in the browser's DOM", "browser_dom"),
                       ("the browser's next frame", "browser_painted")):
        m = summary["latency_ms"][key]
        rows.append((label, m["p50"], m["p95"], m["max"]))
    r = summary["ratios"]
    rows.append(("ratio browser DOM / baseline", r["p50_browser_over_raw_stream"], r["p95_browser_over_raw_stream"], ""))
    table(rows)
    clock = summary["clock"]["start"]
    log(f"clocks: page minus python {clock['clock_offset_ms']} ms (round trip {clock['clock_check_round_trip_ms']} ms)")
    log(f"target browser p95 <= {TARGET_P95_S:g} s: {verdict(summary['target']['met'])}")


def main() -> None:
    args = parse_args()
    backend = "postgresql" if is_postgres(args.db) else "sqlite"
    with fresh_database(args.db, REPO / "benchmarks" / "results" / "db", keep=args.keep) as url:
        tenant = make_tenant(url, supporters=1, assignment="none", password=PASSWORD)
        server = start_server(url, env={"SOSQUEUE_CREATE_RATE_PER_MINUTE": "0", "SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "0"})
        log(f"server {server.url} on {backend}; {args.warmup} + {args.requests} requests, {args.pause:g} s apart")
        try:
            measured = measure(args, server, tenant)
        finally:
            server.stop()
    summary = summarise(args, measured, backend)
    show(summary)
    emit("dashboard_latency", summary)


if __name__ == "__main__":
    main()
