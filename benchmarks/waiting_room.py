"""The customer's waiting room with many stored requests: what one update costs the server.

    .venv/bin/python benchmarks/waiting_room.py --db postgresql+psycopg://USER@HOST:PORT/DB
                                                [--requests 100000] [--open 500] [--calls 300]

The issue's figure is for PostgreSQL (``--db``); without it the benchmark runs on SQLite.
``--requests`` stored requests of one company are bulk-inserted (COPY on PostgreSQL, executemany
on SQLite) over ``--groups`` groups and the ungrouped queue, spread over the last 60 days: closed
ones with a first join minutes after filing (log-normal), expired ones without. The newest
``--open`` of them, filed over the last half hour, are open and all in the first group (the
issue's "500 open in one group", the worst case for a position): most wait unassigned, some are
assigned, some joined.

Measured through a real ``sosqueue serve`` on one keep-alive connection, in ``--rounds`` rounds of
``--calls`` sequential calls each, interleaved:

- GET …/{code}/waiting-room with the customer tokens of waiting requests at positions spread over
  the whole queue (the last one the deepest): **the measure**. The endpoint, not only the service,
  because an update is what the agent's poll costs the server: the token check, the request's
  look-up, both queries and the answer;
- GET /api/v1/service-requests (a supporter's first page): **the baseline** the issue names;
- GET …/{code} with the same customer tokens: a second baseline, the same request's plain read.

What "on the server" costs is each answer's ``Server-Timing: app;dur=…`` (server/timing.py): the
server's own time from the request's arrival to the answer's headers, middleware included; its p95 is
``waiting_room_p95_ms``, target ≤ 5 ms. The latency the client sees (the same plus the loopback, the
HTTP parsing and this client) is reported beside it, as are the server's CPU time per call (psutil)
and the service alone in-process (``server.waiting_room.waiting_room`` on a fresh read session per
call, with a history cache as the route has).
"""

import argparse
import asyncio
import json
import math
import random
import secrets
import time
from datetime import datetime, timedelta, timezone

import psutil
from sqlalchemy import event, select

from _common import (
    REPO,
    RawClient,
    bearer,
    emit,
    fresh_database,
    is_postgres,
    latency_ms,
    log,
    machine,
    ratio,
    server_timing_ms,
    start_server,
    table,
    verdict,
)
from server import admin
from server.db import Database, upgrade
from server.models import ServiceRequest
from server.security import customer_token
from server.waiting_room import HistoryCache, waiting_room
from sosqueue import codes
from sosqueue.waiting_room import WaitingRoom

TARGET_P95_MS = 5.0
BATCH = 20_000
POLLED = 10  # waiting requests whose rooms are read in turn


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000, help="stored service requests")
    parser.add_argument("--open", type=int, default=500, help="open requests, all in the first group")
    parser.add_argument("--groups", type=int, default=4, help="groups the stored requests are spread over")
    parser.add_argument("--calls", type=int, default=300, help="calls per endpoint per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--supporters", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--db", help="PostgreSQL server URL; a fresh database is made on it and dropped after")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not 0 < args.open <= args.requests:
        parser.error("--open must be between 1 and --requests")
    return args


# -- preload -------------------------------------------------------------------------------


class Company:
    """The company the benchmark fills: its groups, supporters and one supporter's API token."""

    def __init__(self, url: str, args):
        database = Database(url)
        try:
            upgrade(database)
            with database.write() as session:
                company = admin.create_company(session, name="Benchmark waiting room")
                users = [admin.create_user(session, company=company, email=f"s{i}@bench.example", role="supporter")
                         for i in range(args.supporters)]
                for index, created in enumerate(users):
                    created.item.name = f"Supporter {index}"
                members = [created.item.email for created in users]
                self.group_ids = [admin.create_group(session, company=company, name=f"Team {i}",
                                                     member_emails=members).id for i in range(args.groups)]
                self.id = company.id
                self.user_ids = [created.item.id for created in users]
                self.supporter_token = users[0].token
        finally:
            database.dispose()


COLUMNS = ("code", "company_id", "group_id", "source", "status", "topic", "description", "end_customer_name",
           "end_customer_email", "assignee_id", "created_by", "session_started", "created_at", "assigned_at",
           "first_joined_at", "lapsed_by", "valid_until", "closed_at", "closed_by")


class Rows:
    """The stored requests, oldest first, as tuples of COLUMNS (naive UTC times, as the server stores
    them): final history over 60 days, then the open ones."""

    def __init__(self, args, company: Company, now: datetime):
        self.args, self.company = args, company
        self.now = now.astimezone(timezone.utc).replace(tzinfo=None)
        self.random = random.Random(args.seed)
        self.codes = self.random.sample(range(10**8), args.requests)
        self.history = args.requests - args.open
        self.queues = [*company.group_ids, None]

    def row(self, serial: int) -> tuple:
        if serial < self.history:
            group, status, assignee, created, assigned, joined, closed, closed_by = self._final(serial)
        else:
            group, status, assignee, created, assigned, joined, closed, closed_by = self._open(serial - self.history)
        return (f"s{self.codes[serial]:08d}", self.company.id, group, "sos", status, "",
                f"Request {serial}: the printer in room {serial % 97} prints only blank pages.",
                f"Customer {serial % 5000}", f"customer{serial % 5000}@example.test", assignee, "module:benchmark",
                joined is not None, created, assigned, joined, "[]", created + DAY, closed, closed_by)

    def _final(self, index: int) -> tuple:
        created = self.now - timedelta(days=60, hours=1) + timedelta(days=60) * index / self.history
        group = self.random.choice(self.queues)
        assignee = self.random.choice(self.company.user_ids)
        if self.random.random() < 0.1:  # expired: mostly nobody took it, nobody joined
            return group, "expired", assignee if self.random.random() < 0.3 else None, created, None, None, None, None
        joined = created + self._time_to_first_join()
        return group, "closed", assignee, created, created, joined, joined + timedelta(minutes=20), f"user:{assignee}"

    def _open(self, index: int) -> tuple:
        """Open, in the first group, filed over the last half hour; ~70 % waiting, ~15 % assigned, ~15 %
        joined (those are the group's latest first joins, so they have the history's spread too)."""
        created = self.now - timedelta(minutes=30) + timedelta(minutes=30) * index / self.args.open
        pick = self.random.random()
        assignee = None if pick < 0.7 else self.random.choice(self.company.user_ids)
        joined = min(self.now, created + self._time_to_first_join()) if pick >= 0.85 else None
        return (self.company.group_ids[0], "pending" if joined else "new", assignee, created,
                created if assignee else None, joined, None, None)

    def _time_to_first_join(self) -> timedelta:
        """Log-normal around 4 minutes, with a long tail."""
        return timedelta(seconds=min(20_000, self.random.lognormvariate(math.log(240), 1.0)))

    def batches(self):
        for start in range(0, self.args.requests, BATCH):
            yield [self.row(serial) for serial in range(start, min(start + BATCH, self.args.requests))]


DAY = timedelta(hours=24)


def preload(url: str, args, company: Company) -> dict:
    """Bulk-inserts the requests: COPY on PostgreSQL, the driver's executemany on SQLite."""
    database = Database(url)
    try:
        started = time.perf_counter()
        for rows in Rows(args, company, datetime.now(timezone.utc)).batches():
            with database.engine.begin() as connection:
                if database.is_postgres:
                    with connection.connection.driver_connection.cursor() as cursor:
                        with cursor.copy(f"COPY service_requests ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                else:
                    connection.exec_driver_sql(
                        f"INSERT INTO service_requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        [(*row[:12], *(_sqlite_time(t) for t in row[12:15]), row[15], _sqlite_time(row[16]),
                          _sqlite_time(row[17]), row[18]) for row in rows])
        seconds = time.perf_counter() - started
    finally:
        database.dispose()
    return {"requests": args.requests, "open": args.open, "seconds": round(seconds, 1),
            "requests_per_second": round(args.requests / seconds)}


def _sqlite_time(value: datetime | None) -> str | None:
    """As SQLAlchemy's SQLite DateTime stores it."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def polled_requests(url: str, company: Company) -> list[ServiceRequest]:
    """POLLED waiting requests spread over the queue, the deepest (newest) last."""
    database = Database(url)
    try:
        with database.read() as session:
            waiting = list(session.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.group_id == company.group_ids[0], ServiceRequest.status == "new",
                       ServiceRequest.assignee_id.is_(None), ServiceRequest.first_joined_at.is_(None))
                .order_by(ServiceRequest.id)
            ))
            session.expunge_all()
    finally:
        database.dispose()
    step = max(1, len(waiting) // POLLED)
    return (waiting[step - 1::step][:POLLED - 1] + waiting[-1:])[-POLLED:]


# -- measuring -----------------------------------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def timed(client: RawClient, paths: list[tuple[str, dict]], calls: int, server: psutil.Process) -> dict:
    latencies, server_times, statuses, bodies = [], [], {}, []
    cpu = cpu_seconds(server)
    for index in range(calls):
        path, headers = paths[index % len(paths)]
        started = time.perf_counter()
        status, body = await client.request("GET", path, headers)
        latencies.append(time.perf_counter() - started)
        server_times.append(server_timing_ms(client.last_headers) / 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if index < len(paths):
            bodies.append(body)
    return {"latencies": latencies, "server_times": server_times, "statuses": statuses,
            "cpu_s": cpu_seconds(server) - cpu, "bodies": bodies}


async def measure_endpoints(url: str, args, company: Company, polled: list[tuple[str, str]], pid: int) -> dict:
    server = psutil.Process(pid)
    host, port = url.removeprefix("http://").split(":")
    client = await RawClient(host, int(port)).connect()
    base = "/api/v1/service-requests"
    phases = {
        "waiting_room": [(f"{base}/{code}/waiting-room", bearer(token)) for code, token in polled],
        "list": [(base, bearer(company.supporter_token))],
        "get": [(f"{base}/{code}", bearer(token)) for code, token in polled],
    }
    merged = {name: {"latencies": [], "server_times": [], "statuses": {}, "cpu_s": 0.0} for name in phases}
    rooms = []
    try:
        for paths in phases.values():
            await timed(client, paths, 20, server)  # warm-up
        for _ in range(args.rounds):
            for name, paths in phases.items():
                result = await timed(client, paths, args.calls, server)
                merged[name]["latencies"] += result["latencies"]
                merged[name]["server_times"] += result["server_times"]
                merged[name]["cpu_s"] += result["cpu_s"]
                for status, count in result["statuses"].items():
                    merged[name]["statuses"][status] = merged[name]["statuses"].get(status, 0) + count
                if name == "waiting_room" and not rooms:
                    rooms = [WaitingRoom.from_json(json.loads(body)).to_json() for body in result["bodies"]]
    finally:
        await client.close()
    calls = args.calls * args.rounds
    return {name: {"server_ms": latency_ms(m["server_times"]), "latency_ms": latency_ms(m["latencies"]),
                   "statuses": m["statuses"],
                   "server_cpu_ms_per_call": round(1000 * m["cpu_s"] / calls, 3)} for name, m in merged.items()} | {
        "rooms": rooms}


def measure_service(url: str, requests: list[ServiceRequest], calls: int) -> dict:
    """The service alone: a fresh read session per call and the process's history cache, as the route has."""
    database = Database(url)
    history = HistoryCache()
    latencies = []
    try:
        for index in range(calls):
            request = requests[index % len(requests)]
            started = time.perf_counter()
            with database.read() as session:
                waiting_room(session, session.merge(request, load=False), datetime.now(timezone.utc), history=history)
            latencies.append(time.perf_counter() - started)
    finally:
        database.dispose()
    return latency_ms(latencies)


def plans(url: str, request: ServiceRequest) -> list[str]:
    """The database's plan for each of the service's queries (EXPLAIN)."""
    database = Database(url)
    seen = []

    def note(_connection, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    try:
        with database.read() as session:
            event.listen(database.engine, "before_cursor_execute", note)
            waiting_room(session, session.merge(request, load=False), datetime.now(timezone.utc))
            event.remove(database.engine, "before_cursor_execute", note)
            prefix = "EXPLAIN " if database.is_postgres else "EXPLAIN QUERY PLAN "
            connection = session.connection()
            return [" | ".join(str(row[-1]).strip() for row in connection.exec_driver_sql(prefix + sql, params))
                    for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    finally:
        database.dispose()


# -- main ----------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    backend = "postgresql" if is_postgres(args.db) else "sqlite"
    secret = secrets.token_urlsafe(32)
    with fresh_database(args.db, REPO / "benchmarks" / "results" / "db", keep=args.keep) as url:
        company = Company(url, args)
        log(f"preloading {args.requests:,} requests ({args.open} open in one group) into {backend}...")
        loaded = preload(url, args, company)
        log(f"  {loaded['seconds']} s ({loaded['requests_per_second']:,}/s)")
        requests = polled_requests(url, company)
        polled = [(codes.display(r.code), customer_token(secret, r.id, r.code)) for r in requests]
        query_plans = plans(url, requests[-1])
        server = start_server(url, env={"SOSQUEUE_SECRET_KEY": secret})
        try:
            log(f"calling {server.url}: {args.rounds} rounds of {args.calls} calls per endpoint...")
            endpoints = asyncio.run(measure_endpoints(server.url, args, company, polled, server.process.pid))
        finally:
            server.stop()
        service = measure_service(url, requests, args.calls * args.rounds)
    rooms = endpoints.pop("rooms")
    room, listing, get = endpoints["waiting_room"], endpoints["list"], endpoints["get"]
    p95 = room["server_ms"]["p95"]
    answered = all(e["statuses"] == {200: args.calls * args.rounds} for e in endpoints.values())
    summary = {
        "waiting_room_p95_ms": p95,
        "ratio_p95_over_list_p95": ratio(p95, listing["server_ms"]["p95"]),
        "ratio_p95_over_get_p95": ratio(p95, get["server_ms"]["p95"]),
        "http_p95_ms": room["latency_ms"]["p95"],
        "http_ratio_p95_over_list_p95": ratio(room["latency_ms"]["p95"], listing["latency_ms"]["p95"]),
        "service_p95_ms": service["p95"],
        "target": {"p95_at_most_ms": TARGET_P95_MS, "met": p95 <= TARGET_P95_MS and answered},
        "parameters": {"requests": args.requests, "open": args.open, "groups": args.groups, "calls": args.calls,
                       "rounds": args.rounds, "backend": backend},
        "machine": machine(),
        "preload": loaded,
        "endpoints": endpoints,
        "service_ms": service,
        "polled_rooms": rooms,
        "plans": query_plans,
    }
    show(summary)
    emit("waiting_room", summary)


def show(summary: dict) -> None:
    endpoints = summary["endpoints"]
    rows = [("GET", "server p50 ms", "server p95 ms", "client p50 ms", "client p95 ms", "server CPU ms/call")]
    for name, label in (("waiting_room", "…/{code}/waiting-room"), ("list", "list (baseline)"),
                        ("get", "…/{code} (baseline)")):
        server, client = endpoints[name]["server_ms"], endpoints[name]["latency_ms"]
        rows.append((label, server["p50"], server["p95"], client["p50"], client["p95"],
                     endpoints[name]["server_cpu_ms_per_call"]))
    service = summary["service_ms"]
    rows.append(("service in-process", service["p50"], service["p95"], "", "", ""))
    table(rows)
    log(f"positions polled: {[room['position'] for room in summary['polled_rooms']]}")
    log(f"waiting room p95 / list p95 on the server: {summary['ratio_p95_over_list_p95']}, "
        f"/ get p95: {summary['ratio_p95_over_get_p95']}; at the client: {summary['http_ratio_p95_over_list_p95']}")
    log(f"target p95 <= {TARGET_P95_MS} ms on the server: {verdict(summary['target']['met'])}")


if __name__ == "__main__":
    main()
