"""Many live event-stream watchers on one server process: memory, and how fast a change reaches them.

    .venv/bin/python benchmarks/server_watchers.py [--watchers 2000] [--rounds 3] [--client-processes 2]
        [--server-env SOSQUEUE_ALLOCATOR=python]

``--watchers 10000`` is the issue's figure. One real ``sosqueue serve`` (SQLite) with a raised
open-file limit; the watchers connect to GET /api/v1/events of one company from separate client
processes that speak HTTP/1.1 over raw asyncio sockets (a general-purpose client costs too much
per connection). Then:

- server RSS with all watchers connected, against the idle server's RSS as the baseline
  (target: ≤ 300 MB with 10,000 watchers);
- a request is created and the time until every watcher has received its event is taken, with
  p50/p95 per watcher (target: all within 2 s); baseline: the same with a single watcher;
- the creating POST's own latency, ``--posts`` creations one after the other (``--post-interval``
  apart) with all watchers listening, against the same with none (target: p95 at most 2x);
- server RSS after every watcher has left, against its RSS before any came (memory returns).
  The server runs on mimalloc where it is installed (``server.allocator``);
  ``--server-env SOSQUEUE_ALLOCATOR=python`` measures CPython's own allocator instead, and
  ``--server-env SOSQUEUE_ALLOCATOR=python --server-env PYTHONMALLOC=malloc`` glibc's.

Times are CLOCK_MONOTONIC, which all processes on the machine share.
"""

import argparse
import asyncio
import json
import selectors
import subprocess
import sys
import time

import httpx
import psutil

from _common import (
    REPO,
    bearer,
    emit,
    fresh_database,
    latency_ms,
    log,
    machine,
    raise_nofile,
    ratio,
    start_server,
    table,
    verdict,
)

TARGET_RSS_MB = 300
TARGET_RSS_AT = 10_000
TARGET_DELIVERY_S = 2.0
TARGET_CREATE_P95_RATIO = 2.0
MARKER = b"event: created"
READY = b"retry:"  # the stream's first line, sent once the watcher is subscribed


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="status changes to time (each one request created)")
    parser.add_argument("--posts", type=int, default=20, help="creations timed for the POST's own latency, per phase")
    parser.add_argument("--post-interval", type=float, default=0.3, help="seconds between the timed creations")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--connect-parallel", type=int, default=200, help="connections being opened at once, per client")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for connecting, per phase")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server (SOSQUEUE_ALLOCATOR=python, say); repeatable")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--client", nargs=3, metavar=("URL", "TOKEN", "COUNT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- the client process ---------------------------------------------------------------------


class Watcher(asyncio.Protocol):
    """One event stream: notes when it is subscribed and when each created event arrives."""

    def __init__(self, request: bytes, ready: asyncio.Future):
        self.request, self.ready = request, ready
        self.arrivals: list[float] = []
        self.subscribed = False
        self.tail = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        text = self.tail + data
        if not self.subscribed:
            if len(text) >= 12 and not text.startswith(b"HTTP/1.1 200"):
                self._fail(f"answer: {text[:80]!r}")
                self.transport.close()
                return
            if READY not in text:
                self.tail = text  # headers and first line may come in pieces
                return
            self.subscribed = True
            if not self.ready.done():
                self.ready.set_result(True)
        self.arrivals.extend([now] * text.count(MARKER))
        self.tail = text[-(len(MARKER) - 1):]

    def connection_lost(self, exc) -> None:
        self._fail("connection lost")

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))


async def open_watchers(url: str, token: str, count: int, parallel: int, timeout: float) -> tuple[list[Watcher], list[str]]:
    host, port = url.removeprefix("http://").split(":")
    request = (f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
               f"Accept: text/event-stream\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)
    watchers, failures = [], []

    async def one() -> None:
        async with gate:
            ready = loop.create_future()
            try:
                _, watcher = await loop.create_connection(lambda: Watcher(request, ready), host, int(port))
                await asyncio.wait_for(ready, timeout)
                watchers.append(watcher)
            except (OSError, ConnectionError, TimeoutError) as error:
                failures.append(f"{type(error).__name__}: {error}")

    await asyncio.gather(*(one() for _ in range(count)))
    return watchers, failures


async def wait_round(watchers: list[Watcher], number: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(len(w.arrivals) < number for w in watchers):
        await asyncio.sleep(0.01)
    arrivals = [w.arrivals[number - 1] for w in watchers if len(w.arrivals) >= number]
    return {"round": number, "arrivals": arrivals, "missing": len(watchers) - len(arrivals)}


async def client_main(args) -> None:
    """Speaks line-delimited JSON with the benchmark process on stdin/stdout."""
    url, token, count = args.client[0], args.client[1], int(args.client[2])
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    watchers, failures = await open_watchers(url, token, count, args.connect_parallel, args.timeout)
    say({"ready": len(watchers), "failed": len(failures), "failures": failures[:5],
         "connect_s": round(time.monotonic() - started, 3)})
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = json.loads(line) if line.strip() else {"quit": True}
        if command.get("quit"):
            break
        say(await wait_round(watchers, command["round"], command["timeout"]))
    for watcher in watchers:
        if watcher.transport:
            watcher.transport.close()


def say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run_client(args) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(client_main(args))


# -- the benchmark process ------------------------------------------------------------------


class Clients:
    """The client processes of one phase."""

    def __init__(self, url: str, token: str, watchers: int, processes: int, args):
        shares = [watchers // processes + (1 if i < watchers % processes else 0) for i in range(processes)]
        self.processes = [
            subprocess.Popen(
                [sys.executable, __file__, "--client", url, token, str(share),
                 "--connect-parallel", str(args.connect_parallel), "--timeout", str(min(args.timeout, 120))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
            )
            for share in shares if share
        ]

    def read_all(self, timeout: float) -> list[dict]:
        return [read_line(process, timeout) for process in self.processes]

    def send_all(self, message: dict) -> None:
        for process in self.processes:
            self._send(process, message)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    self._send(process, {"quit": True})
                    process.wait(30)
                except (OSError, subprocess.TimeoutExpired):
                    process.kill()
                    process.wait()

    @staticmethod
    def _send(process, message: dict) -> None:
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()


def read_line(process: subprocess.Popen, timeout: float) -> dict:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"client process {process.pid} said nothing for {timeout:g} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"client process {process.pid} ended (exit {process.wait()})")
    return json.loads(line)


def rss_mb(process: psutil.Process) -> float:
    return round(process.memory_info().rss / 2**20, 1)


def settle_rss(process: psutil.Process, seconds: float = 2.0) -> float:
    time.sleep(seconds)
    return rss_mb(process)


def server_watchers(url: str) -> int:
    return httpx.get(f"{url}/readyz", timeout=30).json().get("watchers", -1)


def wait_for_watchers(url: str, count: int, timeout: float = 60) -> int:
    """The server's watcher count once it has come down to ``count`` (or the last one seen)."""
    deadline = time.monotonic() + timeout
    while (seen := server_watchers(url)) > count and time.monotonic() < deadline:
        time.sleep(0.2)
    return seen


def timed_posts(args, server, tenant, label: str) -> dict:
    """The creating POST's own latency: ``--posts`` creations on one keep-alive connection."""
    times, statuses = [], []
    with httpx.Client(base_url=server.url, headers=bearer(tenant.admin_token), timeout=60) as client:
        client.get("/healthz")
        for number in range(args.posts):
            time.sleep(args.post_interval)
            began = time.monotonic()
            response = client.post("/api/v1/service-requests", json={"description": f"{label} post {number}"})
            times.append(time.monotonic() - began)
            statuses.append(response.status_code)
    return {"statuses": sorted(set(statuses)), "create_ms": latency_ms(times)}


def phase(args, server, tenant, count: int, processes: int) -> dict:
    """Connect ``count`` watchers, take RSS, time ``--rounds`` creations reaching them, then the
    creating POSTs' own latency while they listen."""
    proc = psutil.Process(server.process.pid)
    started = time.monotonic()
    clients = Clients(server.url, tenant.supporter_token, count, processes, args)
    try:
        ready = clients.read_all(args.timeout + 60)
        connect_s = time.monotonic() - started
        connected = sum(r["ready"] for r in ready)
        failed = sum(r["failed"] for r in ready)
        log(f"  {connected:,} watchers connected in {connect_s:.1f} s ({failed} failed)")
        seen = server_watchers(server.url)
        rss = settle_rss(proc)
        fds = proc.num_fds()
        rounds = []
        for number in range(1, args.rounds + 1):
            time.sleep(0.5)
            began = time.monotonic()
            response = httpx.post(f"{server.url}/api/v1/service-requests", headers=bearer(tenant.admin_token),
                                  json={"description": f"watchers round {number}"}, timeout=30)
            created_s = time.monotonic() - began
            clients.send_all({"round": number, "timeout": 30})
            answers = clients.read_all(60)
            delays = [t - began for answer in answers for t in answer["arrivals"]]
            missing = sum(a["missing"] for a in answers)
            rounds.append({
                "create_status": response.status_code,
                "create_s": round(created_s, 4),
                "received": len(delays),
                "missing": missing,
                "all_received_s": round(max(delays), 4) if delays and not missing else None,
                "delivery_ms": latency_ms(delays),
            })
            log(f"  round {number}: {len(delays):,} received, {missing} missing, "
                f"all after {rounds[-1]['all_received_s']} s")
        posts = timed_posts(args, server, tenant, f"{count} watchers")
        log(f"  POST p95 with {connected:,} watchers: {posts['create_ms'].get('p95')} ms")
    finally:
        clients.close()
    return {"watchers": count, "connected": connected, "failed": failed, "server_saw_watchers": seen,
            "connect_s": round(connect_s, 2), "connect_failures": [f for r in ready for f in r["failures"]][:5],
            "server_rss_mb": rss, "server_fds": fds, "rounds": rounds, "posts": posts}


def worst_all_received(result: dict) -> float | None:
    times = [r["all_received_s"] for r in result["rounds"]]
    return None if not times or None in times else max(times)


def median_all_received(result: dict) -> float | None:
    times = sorted(r["all_received_s"] for r in result["rounds"] if r["all_received_s"] is not None)
    return times[len(times) // 2] if times else None


def summarise(args, idle_rss: float, alone: dict, one: dict, many: dict, after: dict, nofile: dict) -> dict:
    per_watcher_kb = round((many["server_rss_mb"] - idle_rss) * 1024 / max(many["connected"], 1), 2)
    projected = round(idle_rss + per_watcher_kb * TARGET_RSS_AT / 1024, 1)
    worst, worst_one = worst_all_received(many), worst_all_received(one)
    median, median_one = median_all_received(many), median_all_received(one)
    after_rss = after["rss_mb"]
    p95_none, p95_many = alone["create_ms"].get("p95"), many["posts"]["create_ms"].get("p95")
    create_ratio = ratio(p95_many, p95_none) if p95_many and p95_none else None
    rss_ok = many["server_rss_mb"] <= TARGET_RSS_MB if args.watchers >= TARGET_RSS_AT else projected <= TARGET_RSS_MB
    return {
        "parameters": {"watchers": args.watchers, "rounds": args.rounds, "client_processes": args.client_processes,
                       "server_env": args.server_env},
        "machine": machine(),
        "nofile_limits": nofile,
        "baseline_idle_rss_mb": idle_rss,
        "rss_mb_with_watchers": many["server_rss_mb"],
        "rss_ratio_to_idle": ratio(many["server_rss_mb"], idle_rss),
        "rss_kb_per_watcher": per_watcher_kb,
        "rss_mb_projected_for_10000": projected,
        "rss_mb_after_disconnect": after_rss,
        "rss_before_watchers_mb": alone["rss_mb"],
        "rss_after_leave_mb": after_rss,
        "rss_after_leave_ratio_to_before": ratio(after_rss, alone["rss_mb"]),
        "server_watchers_after_leave": after["watchers"],
        "create_p95_ms_no_watchers": p95_none,
        "create_p95_ms_with_watchers": p95_many,
        "create_p95_ratio": create_ratio,
        "create_no_watchers": alone,
        "all_received_s": {"worst": worst, "median": median, "baseline_1_watcher_worst": worst_one,
                           "baseline_1_watcher_median": median_one,
                           "ratio_median_to_1_watcher": ratio(median, median_one) if median and median_one else None},
        "baseline_1_watcher": one,
        "many_watchers": many,
        "targets": {
            "rss": {"at_most_mb": TARGET_RSS_MB, "for_watchers": TARGET_RSS_AT,
                    "judged_on": "measured" if args.watchers >= TARGET_RSS_AT else "projected", "met": rss_ok},
            "create_p95": {"at_most_ratio": TARGET_CREATE_P95_RATIO, "for_watchers": args.watchers,
                           "met": create_ratio is not None and create_ratio <= TARGET_CREATE_P95_RATIO},
            "delivery": {"all_within_s": TARGET_DELIVERY_S,
                         "met": worst is not None and worst <= TARGET_DELIVERY_S and many["connected"] == args.watchers},
        },
    }


def show(s: dict) -> None:
    many, one = s["many_watchers"], s["baseline_1_watcher"]
    table([
        ("server RSS", "MB", "ratio to idle"),
        ("idle (baseline)", s["baseline_idle_rss_mb"], 1),
        ("before watchers (after the first creations)", s["rss_before_watchers_mb"],
         ratio(s["rss_before_watchers_mb"], s["baseline_idle_rss_mb"])),
        ("1 watcher", one["server_rss_mb"], ratio(one["server_rss_mb"], s["baseline_idle_rss_mb"])),
        (f"{many['connected']:,} watchers", many["server_rss_mb"], s["rss_ratio_to_idle"]),
        ("after they left", s["rss_mb_after_disconnect"], ratio(s["rss_mb_after_disconnect"], s["baseline_idle_rss_mb"])),
    ])
    log(f"{s['rss_kb_per_watcher']} KB per watcher; projected for 10,000: {s['rss_mb_projected_for_10000']} MB")
    rows = [("delivery of one change", "all received s", "p50 ms", "p95 ms", "missing", "POST took s")]
    for label, result in (("1 watcher (baseline)", one), (f"{many['connected']:,} watchers", many)):
        for number, r in enumerate(result["rounds"], 1):
            rows.append((f"{label}, round {number}", r["all_received_s"], r["delivery_ms"].get("p50"),
                         r["delivery_ms"].get("p95"), r["missing"], r["create_s"]))
    table(rows)
    table([
        ("creating POST", "p50 ms", "p95 ms", "ratio of p95"),
        ("no watchers (baseline)", s["create_no_watchers"]["create_ms"].get("p50"), s["create_p95_ms_no_watchers"], 1),
        (f"{many['connected']:,} watchers", many["posts"]["create_ms"].get("p50"), s["create_p95_ms_with_watchers"],
         s["create_p95_ratio"]),
    ])
    t = s["targets"]
    log(f"target POST p95 <= {TARGET_CREATE_P95_RATIO:g}x without watchers: {verdict(t['create_p95']['met'])}")
    log(f"target RSS <= {TARGET_RSS_MB} MB at 10,000 ({t['rss']['judged_on']}): {verdict(t['rss']['met'])}")
    log(f"target all received <= {TARGET_DELIVERY_S} s: {verdict(t['delivery']['met'])}")


def main() -> None:
    args = parse_args()
    if args.client:
        run_client(args)
        return
    # Children (server and clients) inherit the limit.
    soft = raise_nofile(args.watchers + 4096)
    with fresh_database(None, REPO / "benchmarks" / "results" / "db", keep=args.keep) as url:
        from tests.support.tenants import make_tenant

        tenant = make_tenant(url, supporters=1)
        server = start_server(url, env=dict(item.split("=", 1) for item in args.server_env))
        try:
            proc = psutil.Process(server.process.pid)
            if proc.rlimit(psutil.RLIMIT_NOFILE)[0] < args.watchers + 1024:
                proc.rlimit(psutil.RLIMIT_NOFILE, (args.watchers + 4096, args.watchers + 4096))
            nofile = {"benchmark": soft, "server": proc.rlimit(psutil.RLIMIT_NOFILE)[0]}
            for _ in range(20):
                httpx.get(f"{server.url}/healthz")
            idle_rss = settle_rss(proc)
            log(f"server {server.url}: idle RSS {idle_rss} MB; {args.posts} creations without watchers...")
            alone = timed_posts(args, server, tenant, "no watchers")
            alone["rss_mb"] = settle_rss(proc)
            log("baseline with 1 watcher...")
            one = phase(args, server, tenant, 1, 1)
            log(f"{args.watchers:,} watchers from {args.client_processes} client processes...")
            many = phase(args, server, tenant, args.watchers, args.client_processes)
            after = {"watchers": wait_for_watchers(server.url, 0)}
            after["rss_mb"] = settle_rss(proc, 4.0)  # the server gives memory back a second after they left
        finally:
            server.stop()
    summary = summarise(args, idle_rss, alone, one, many, after, nofile)
    show(summary)
    emit("server_watchers", summary)


if __name__ == "__main__":
    main()
