"""Shared pieces of the benchmark scripts: servers, databases, a lean HTTP client, statistics, output.

Every script prints a short table on stderr and one JSON object on stdout, and keeps a copy of
that JSON under ``benchmarks/results/``. Speeds are always reported next to a baseline measured
in the same run on the same machine, because the machine is shared and its speed varies.
"""

import asyncio
import contextlib
import json
import os
import platform
import resource
import sqlite3
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))  # appended, so that PYTHONPATH can point at another server tree

from tests.support.servers import PostgresDatabases, QueueServer  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


# -- environment ---------------------------------------------------------------------------


def raise_nofile(wanted: int) -> int:
    """Raise this process's open-file limit (children inherit it); returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:  # root may raise the hard limit too
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, hard), max(wanted, hard)))
    except (ValueError, PermissionError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- databases and servers -----------------------------------------------------------------


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql")


@contextlib.contextmanager
def fresh_database(db_arg: str | None, workdir: Path, *, keep: bool = False) -> Iterator[str]:
    """An empty database: a SQLite file in ``workdir``, or a new database on ``db_arg``'s PostgreSQL."""
    if is_postgres(db_arg):
        databases = PostgresDatabases(db_arg)
        url = databases.create()
        try:
            yield url
        finally:
            if not keep:
                databases.drop(url)
        return
    if db_arg:
        raise SystemExit("--db takes a postgresql+psycopg://USER@HOST:PORT/DB URL (SQLite is the default)")
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def start_server(database_url: str, *, env: dict | None = None, expiry_hours: float = 24) -> QueueServer:
    """A real ``sosqueue serve`` on loopback, with creation rate limiting off."""
    log_dir = RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    server = QueueServer(database_url, expiry_hours=expiry_hours, env=env, log_dir=log_dir)
    return server.start(timeout=120)


# -- a lean keep-alive HTTP/1.1 client -----------------------------------------------------


class RawClient:
    """One keep-alive HTTP/1.1 connection over asyncio streams.

    Much cheaper per request than a general-purpose client, so that on a small machine the
    load generator takes as little CPU from the server as possible.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_headers: dict[str, str] = {}  # the last answer's, names in lower case

    async def connect(self) -> "RawClient":
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def request(self, method: str, path: str, headers: dict | None = None, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            await self.connect()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            return await self._response()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.writer = None  # the server closed the connection; the next call reconnects
            raise

    async def _response(self) -> tuple[int, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            await self.close()
        self.last_headers = headers
        return status, body

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None


def server_timing_ms(headers: dict[str, str]) -> float:
    """The server's own time for a call, from its ``Server-Timing: app;dur=<ms>`` header (server/timing.py)."""
    for metric in headers.get("server-timing", "").split(","):
        name, _, duration = metric.strip().partition(";dur=")
        if name == "app":
            return float(duration)
    raise ValueError(f"no app time in Server-Timing: {headers.get('server-timing')!r}")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def json_body(payload: dict) -> tuple[dict, bytes]:
    return {"Content-Type": "application/json"}, json.dumps(payload).encode()


# -- load and statistics -------------------------------------------------------------------


@dataclass
class LoadResult:
    """Latencies (seconds) of the answered calls, their statuses, and the wall time taken."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)

    def rate(self, status: int) -> float:
        return self.count(status) / self.elapsed if self.elapsed else 0.0

    def merge(self, other: "LoadResult") -> "LoadResult":
        merged = LoadResult(self.latencies + other.latencies, dict(self.statuses), self.errors + other.errors,
                            self.elapsed + other.elapsed)
        for status, n in other.statuses.items():
            merged.statuses[status] = merged.statuses.get(status, 0) + n
        return merged


Call = Callable[[int], Awaitable[int]]  # worker index -> HTTP status


async def run_load(calls: list[Call], *, duration: float, max_calls: int) -> LoadResult:
    """Each call function loops on its own connection until ``duration`` or ``max_calls`` is reached."""
    result = LoadResult()
    issued = 0
    start = time.perf_counter()
    deadline = start + duration

    async def worker(index: int, call: Call) -> None:
        nonlocal issued
        while time.perf_counter() < deadline and issued < max_calls:
            issued += 1
            began = time.perf_counter()
            try:
                status = await call(index)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                result.errors += 1
                continue
            result.latencies.append(time.perf_counter() - began)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    await asyncio.gather(*(worker(i, call) for i, call in enumerate(calls)))
    result.elapsed = time.perf_counter() - start
    return result


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between the closest ranks (as numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_ms(values: list[float]) -> dict:
    """Summary of latencies given in seconds, in milliseconds."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "mean": round(1000 * sum(values) / len(values), 3),
        "p50": round(1000 * percentile(values, 50), 3),
        "p95": round(1000 * percentile(values, 95), 3),
        "p99": round(1000 * percentile(values, 99), 3),
        "max": round(1000 * max(values), 3),
    }


def ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 4) if baseline else None


# -- output --------------------------------------------------------------------------------


def table(rows: list[tuple]) -> None:
    """A plain aligned table on stderr; the first row is the header."""
    text = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in text) for i in range(len(text[0]))]
    for index, row in enumerate(text):
        log("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            log("  ".join("-" * width for width in widths))


def emit(name: str, result: dict) -> Path:
    """The one JSON object on stdout, and a copy in benchmarks/results/."""
    result = {"benchmark": name, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **result}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)
    log(f"(saved to {path.relative_to(REPO)})")
    return path


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


# -- profiling -----------------------------------------------------------------------------


def start_profiler(pid: int, seconds: float, name: str, *, gil: bool = True) -> tuple["subprocess.Popen", Path] | None:
    """py-spy sampling ``pid`` for ``seconds`` into results/NAME.txt (collapsed stacks), if installed.

    With ``gil`` only the thread holding the GIL is sampled: where the CPU goes. Without it,
    every thread: where they wait.
    """
    import shutil
    import subprocess

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        log("py-spy is not installed (pip install py-spy); profiling skipped")
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.txt"
    process = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "250",
         "--nonblocking", "--threads", *(["--gil"] if gil else []), "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process, out


def finish_profiler(started) -> str | None:
    if started is None:
        return None
    process, out = started
    process.wait(timeout=120)
    return str(out.relative_to(REPO))
