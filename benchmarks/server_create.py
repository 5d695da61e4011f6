"""Creations per second and latency with concurrent clients, against /healthz of the same server.

    .venv/bin/python benchmarks/server_create.py [--clients 50] [--duration 6] [--rounds 2]
                                                 [--db postgresql+psycopg://USER@HOST:PORT/DB]

One real ``sosqueue serve`` on loopback (SQLite by default; with ``--db`` a fresh database on
that PostgreSQL server), a support module's token, creation rate limit off (``--rate-limit``: on,
never reached: what its check costs). ``--clients``
keep-alive connections each send one request after the other. Each round measures, for
``--duration`` seconds each: GET /healthz (the baseline: same server, client and concurrency),
GET /readyz (a second reference: one SELECT 1 through the thread pool) and
POST /api/v1/service-requests. Target: creations/s ÷ healthz/s ≥ 0.5.

Besides rates it reports the server's CPU time per call, which a busy machine disturbs less, and on
PostgreSQL how many database connections each phase opened (``pg_stat_database.sessions``): a steady
pool opens none once warm.

The storage floor (``raw_sqlite_floor``, on either backend): the statements a creation makes on
SQLite (the token's module, the company, the request, its two events), in raw ``sqlite3`` on a
fresh migrated file of the same schema (WAL, synchronous=FULL), one thread, for ``--floor-duration``
seconds each: one commit (one fsync) per creation, then ``--floor-batch`` creations per commit,
each in its own savepoint as the server's group commit runs them.
"""

import argparse
import asyncio
import itertools
import json
import random
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import psutil
import psycopg

from _common import (
    REPO,
    LoadResult,
    RawClient,
    bearer,
    emit,
    finish_profiler,
    fresh_database,
    is_postgres,
    json_body,
    latency_ms,
    log,
    machine,
    ratio,
    run_load,
    start_profiler,
    start_server,
    table,
    verdict,
)
from tests.support.tenants import make_tenant

TARGET_RATIO = 0.5
# --rate-limit: every creation is checked and counted, and none is refused.
RATE_LIMIT_NEVER_REACHED = {"SOSQUEUE_CREATE_RATE_PER_MINUTE": "100000000", "SOSQUEUE_CREATE_BURST": "100000000"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent keep-alive connections")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measured phase")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of healthz, readyz, create (alternated against drift)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load per endpoint first")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap on calls per phase")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="raw asyncio HTTP/1.1 (lean) or httpx.AsyncClient")
    parser.add_argument("--db", help="PostgreSQL server URL; a fresh database is made on it and dropped after")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--floor-duration", type=float, default=2.0, help="seconds per raw-sqlite floor mode")
    parser.add_argument("--floor-batch", type=int, default=50, help="creations per commit in the batched floor")
    parser.add_argument("--rate-limit", action="store_true",
                        help="keep the creation rate limit on (one allowance per module, never used up): "
                             "what its check costs; off by default")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server (SOSQUEUE_ALLOCATOR=python, say); repeatable")
    parser.add_argument("--profile", action="store_true",
                        help="sample the server with py-spy during the first create phase (results/profile-*.txt)")
    return parser.parse_args()


class Calls:
    """The two endpoints, as call functions over one connection per worker."""

    def __init__(self, url: str, token: str, clients: int, kind: str):
        host, port = url.removeprefix("http://").split(":")
        self.url, self.kind = url, kind
        self.raw = [RawClient(host, int(port)) for _ in range(clients)]
        self.httpx = None
        if kind == "httpx":
            import httpx

            limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
            self.httpx = httpx.AsyncClient(base_url=url, limits=limits, headers=bearer(token), timeout=60)
        self.auth = bearer(token)
        self.serial = itertools.count()

    def body(self) -> dict:
        n = next(self.serial)
        return {
            "description": f"Benchmark request {n}: the printer in room {n % 97} prints only blank pages.",
            "end_customer": {"name": f"Customer {n}", "email": f"customer{n}@example.test"},
            "diagnostics": {"os": "Windows 11 23H2", "agent": "1.0.0", "screens": 2},
        }

    async def healthz(self, index: int) -> int:
        if self.httpx:
            return (await self.httpx.get("/healthz")).status_code
        return (await self.raw[index].request("GET", "/healthz"))[0]

    async def readyz(self, index: int) -> int:
        if self.httpx:
            return (await self.httpx.get("/readyz")).status_code
        return (await self.raw[index].request("GET", "/readyz"))[0]

    async def create(self, index: int) -> int:
        if self.httpx:
            return (await self.httpx.post("/api/v1/service-requests", json=self.body())).status_code
        headers, body = json_body(self.body())
        return (await self.raw[index].request("POST", "/api/v1/service-requests", {**self.auth, **headers}, body))[0]

    async def reconnect(self) -> None:
        """Fresh connections for a phase: the server drops keep-alive connections idle for 5 s."""
        for client in self.raw:
            await client.close()
            await client.connect()

    async def close(self) -> None:
        for client in self.raw:
            await client.close()
        if self.httpx:
            await self.httpx.aclose()


class PostgresSessions:
    """Database connections opened so far (PostgreSQL's own count); None on SQLite."""

    def __init__(self, url: str):
        self.connection = None
        if is_postgres(url):
            self.connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True)

    def opened(self) -> int | None:
        if self.connection is None:
            return None
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        return self.connection.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


class CpuMeter:
    """CPU seconds that the server and this (client) process spend; less noisy than rates."""

    def __init__(self, server_pid: int):
        self.server, self.me = psutil.Process(server_pid), psutil.Process()

    def snapshot(self) -> tuple[float, float, float]:
        s, m = self.server.cpu_times(), self.me.cpu_times()
        return time.perf_counter(), s.user + s.system, m.user + m.system


# (name, expected status); healthz is the baseline, readyz (one SELECT 1 in the thread pool)
# a second one that shows what merely touching the database costs.
ENDPOINTS = (("healthz", 200), ("readyz", 200), ("create", 201))


class Tally:
    """Everything measured for one endpoint, over all rounds."""

    def __init__(self, ok: int):
        self.ok, self.load, self.server_cpu_s, self.connections_opened = ok, LoadResult(), 0.0, None

    def add(self, result: LoadResult, before, after, connections_opened: int | None) -> dict:
        self.load = self.load.merge(result)
        self.server_cpu_s += after[1] - before[1]
        if connections_opened is not None:
            self.connections_opened = (self.connections_opened or 0) + connections_opened
        wall = after[0] - before[0]
        return {"per_second": round(result.rate(self.ok), 1), "ok": result.count(self.ok),
                "db_connections_opened": connections_opened,
                "other_statuses": {k: v for k, v in result.statuses.items() if k != self.ok},
                "transport_errors": result.errors,
                "server_cpu_cores": round((after[1] - before[1]) / wall, 2),
                "client_cpu_cores": round((after[2] - before[2]) / wall, 2)}

    def summary(self) -> dict:
        done = self.load.count(self.ok)
        return {"per_second": round(self.load.rate(self.ok), 1), "latency_ms": latency_ms(self.load.latencies),
                "server_cpu_ms_per_call": round(1000 * self.server_cpu_s / done, 3) if done else None,
                "db_connections_opened": self.connections_opened,
                "failed": self.load.errors + sum(v for k, v in self.load.statuses.items() if k != self.ok)}


async def measure(args, calls: Calls, cpu: CpuMeter, sessions: PostgresSessions) -> dict:
    workers = args.clients
    call_of = {"healthz": calls.healthz, "readyz": calls.readyz, "create": calls.create}
    log(f"warming up ({args.warmup:g} s per endpoint)...")
    for name, _ in ENDPOINTS:
        await run_load([call_of[name]] * workers, duration=args.warmup, max_calls=args.max_requests)
    tallies = {name: Tally(ok) for name, ok in ENDPOINTS}
    rounds = []
    for number in range(1, args.rounds + 1):
        phase = {}
        for name, _ in ENDPOINTS:
            profiler = None
            if args.profile and name == "create" and number == 1:
                profiler = start_profiler(cpu.server.pid, args.duration, "profile-server_create")
            await calls.reconnect()
            before, opened = cpu.snapshot(), sessions.opened()
            result = await run_load([call_of[name]] * workers, duration=args.duration, max_calls=args.max_requests)
            now_opened = sessions.opened()
            phase[name] = tallies[name].add(result, before, cpu.snapshot(),
                                            None if opened is None else now_opened - opened)
            if profiler:
                phase[name]["profile"] = await asyncio.to_thread(finish_profiler, profiler)
            log(f"round {number} {name}: {phase[name]['per_second']}/s "
                f"(server {phase[name]['server_cpu_cores']} CPU, client {phase[name]['client_cpu_cores']} CPU)")
        rounds.append(phase)
    return {"rounds": rounds, **{name: tally.summary() for name, tally in tallies.items()}}


class RawFloor:
    """A creation's statements in raw sqlite3, as the server makes them on SQLite (server/queue.py)."""

    def __init__(self, url: str, module_token: str):
        from server.security import token_hash

        self.db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {pragma}")
        self.token_hash = token_hash(module_token)
        self.serial = itertools.count()

    def create(self) -> None:
        module_id, company_id, group_id = self.db.execute(
            "SELECT id, company_id, group_id FROM modules WHERE token_hash = ?", (self.token_hash,)).fetchone()
        self.db.execute("SELECT * FROM companies WHERE id = ?", (company_id,)).fetchone()
        n, now = next(self.serial), datetime.now(timezone.utc)
        request_id = None
        while request_id is None:  # a code taken already: another, as the server does
            request_id = self.db.execute(
                "INSERT INTO service_requests (code, company_id, group_id, module_id, source, status, topic, "
                "description, end_customer_name, end_customer_email, diagnostics, created_by, session_started, "
                "created_at, lapsed_by, valid_until, waiting_message, custom_api) "
                "VALUES (?, ?, ?, ?, 'module', 'new', '', ?, ?, ?, ?, ?, 0, ?, '[]', ?, '', '') "
                "ON CONFLICT (code) DO NOTHING RETURNING id",
                (f"s{random.randrange(10**8):08d}", company_id, group_id, module_id, f"Benchmark request {n}",
                 f"Customer {n}", f"customer{n}@example.test", json.dumps({"os": "Windows 11 23H2"}),
                 f"module:{module_id}", now.isoformat(), (now + timedelta(hours=24)).isoformat())).fetchone()
        request_id = request_id[0]
        for type, data in (("created", {"source": "module"}), ("assigned", {"assignee": None, "strategy": "none"})):
            self.db.execute(
                "INSERT INTO request_events (request_id, company_id, code, type, actor, status, data, created_at) "
                "VALUES (?, ?, 'x', ?, 'system', 'new', ?, ?) RETURNING id",
                (request_id, company_id, type, json.dumps(data), now.isoformat())).fetchone()

    def rate(self, duration: float, per_commit: int) -> float:
        """Creations per second, ``per_commit`` of them (each in a savepoint when more than one) per commit."""
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < duration:
            self.db.execute("BEGIN IMMEDIATE")
            for _ in range(per_commit):
                if per_commit > 1:
                    self.db.execute("SAVEPOINT creation")
                self.create()
                if per_commit > 1:
                    self.db.execute("RELEASE creation")
            self.db.execute("COMMIT")
            done += per_commit
        return done / (time.perf_counter() - start)


def raw_sqlite_floor(args) -> dict:
    with fresh_database(None, REPO / "benchmarks" / "results" / "db") as url:
        tenant = make_tenant(url, supporters=1, assignment="none")
        floor = RawFloor(url, tenant.module_token)
        try:
            floor.rate(min(args.floor_duration, 0.5), 1)  # warm-up
            single = floor.rate(args.floor_duration, 1)
            batched = floor.rate(args.floor_duration, args.floor_batch)
        finally:
            floor.db.close()
    log(f"raw sqlite3 floor: {single:.0f} creations/s with one commit each, "
        f"{batched:.0f}/s with {args.floor_batch} per commit")
    return {"one_commit_each_per_second": round(single, 1), "batched_per_second": round(batched, 1),
            "batched_per_commit": args.floor_batch, "statements_per_creation": 5,
            "duration_s": args.floor_duration}


def summarise(args, measured: dict, backend: str, floor: dict) -> dict:
    health, ready, create = measured["healthz"], measured["readyz"], measured["create"]
    throughput_ratio = ratio(create["per_second"], health["per_second"])
    return {
        "parameters": {"clients": args.clients, "duration_s": args.duration, "rounds": args.rounds,
                       "client": args.client, "backend": backend, "rate_limit": args.rate_limit,
                       "server_env": args.server_env},
        "machine": machine(),
        "baseline_healthz": health,
        "readyz": ready,
        "create": create,
        "ratios": {
            "creations_per_healthz": throughput_ratio,
            "p50_latency_create_over_healthz": ratio(create["latency_ms"]["p50"], health["latency_ms"]["p50"]),
            "p99_latency_create_over_healthz": ratio(create["latency_ms"]["p99"], health["latency_ms"]["p99"]),
            "server_cpu_per_call_create_over_healthz": ratio(create["server_cpu_ms_per_call"] or 0,
                                                             health["server_cpu_ms_per_call"] or 0),
            "creations_per_readyz": ratio(create["per_second"], ready["per_second"]),
            "creations_per_raw_sqlite_one_commit_each": ratio(create["per_second"],
                                                              floor["one_commit_each_per_second"]),
            "creations_per_raw_sqlite_batched": ratio(create["per_second"], floor["batched_per_second"]),
        },
        "raw_sqlite_floor": floor,
        "target": {"creations_per_healthz_at_least": TARGET_RATIO,
                   "met": None if throughput_ratio is None else throughput_ratio >= TARGET_RATIO},
        "rounds": measured["rounds"],
    }


def show(summary: dict) -> None:
    rows = [("endpoint", "per second", "p50 ms", "p99 ms", "server CPU ms/call", "failed", "DB connections opened")]
    for label, key in (("GET /healthz (baseline)", "baseline_healthz"), ("GET /readyz (SELECT 1)", "readyz"),
                       ("POST service-requests", "create")):
        m = summary[key]
        rows.append((label, m["per_second"], m["latency_ms"]["p50"], m["latency_ms"]["p99"],
                     m["server_cpu_ms_per_call"], m["failed"],
                     "" if m["db_connections_opened"] is None else m["db_connections_opened"]))
    r = summary["ratios"]
    rows.append(("ratio create/healthz", r["creations_per_healthz"], r["p50_latency_create_over_healthz"],
                 r["p99_latency_create_over_healthz"], r["server_cpu_per_call_create_over_healthz"], "", ""))
    table(rows)
    log(f"target creations/healthz >= {TARGET_RATIO}: {verdict(summary['target']['met'])}")


async def main_async(args, server, tenant, url: str) -> dict:
    calls = Calls(server.url, tenant.module_token, args.clients, args.client)
    sessions = PostgresSessions(url)
    try:
        return await measure(args, calls, CpuMeter(server.process.pid), sessions)
    finally:
        sessions.close()
        await calls.close()


def main() -> None:
    args = parse_args()
    backend = "postgresql" if is_postgres(args.db) else "sqlite"
    with fresh_database(args.db, REPO / "benchmarks" / "results" / "db", keep=args.keep) as url:
        tenant = make_tenant(url, supporters=1, assignment="none")
        rate = RATE_LIMIT_NEVER_REACHED if args.rate_limit else {"SOSQUEUE_CREATE_RATE_PER_MINUTE": "0"}
        server = start_server(url, env={**rate, **dict(item.split("=", 1) for item in args.server_env)})
        log(f"server {server.url} on {backend}; {args.clients} clients, {args.rounds} x {args.duration:g} s per endpoint")
        try:
            measured = asyncio.run(main_async(args, server, tenant, url))
        finally:
            server.stop()
    summary = summarise(args, measured, backend, raw_sqlite_floor(args))
    show(summary)
    emit("server_create", summary)


if __name__ == "__main__":
    main()
