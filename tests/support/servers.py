"""Real queue servers for tests: a ``sosqueue serve`` process on loopback, and databases."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
SOSQUEUE = Path(sys.executable).with_name("sosqueue")
# Rate limits are off unless a test turns them on: tests make many requests from 127.0.0.1.
DEFAULT_ENV = {"SOSQUEUE_CREATE_RATE_PER_MINUTE": "0", "SOSQUEUE_LOGIN_ATTEMPTS_PER_MINUTE": "0"}
# How long each server start in this test run took, for the run's summary (tests/conftest.py).
START_SECONDS: list[float] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QueueServer:
    """``sosqueue serve`` in its own process; ``kill()`` is a real SIGKILL."""

    def __init__(self, database_url: str, *, expiry_hours: float = 24, env: dict | None = None, log_dir: Path,
                 log_level: str = "warning"):
        self.database_url = database_url
        self.expiry_hours = expiry_hours
        self.log_level = log_level  # "info" logs every request and socket, as `sosqueue serve` does by default
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **DEFAULT_ENV, **(env or {})}
        self.log_path = log_dir / f"server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "QueueServer":
        if self.process and self.process.poll() is None:
            # A second process would find the port taken and exit, while the first answered its
            # health check and was never stopped.
            raise RuntimeError(f"the queue server on port {self.port} is running already")
        started = time.monotonic()
        try:
            return self._start(timeout)
        finally:
            START_SECONDS.append(time.monotonic() - started)

    def _start(self, timeout: float) -> "QueueServer":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(SOSQUEUE), "serve", "--db", self.database_url, "--port", str(self.port),
             "--expiry-hours", str(self.expiry_hours), "--log-level", self.log_level],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.02)
        raise RuntimeError(f"server did not come up:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *_):
        self.stop()


class SharedServers:
    """Servers shared by the whole test session: one per backend and environment, started on first use.

    For tests that keep apart by tenant and never stop, kill or restart the server they are given.
    A shared server that died is an error for whoever asks for it next, never silently replaced.
    """

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._running: dict[tuple, QueueServer] = {}
        self._databases: list[tuple["PostgresDatabases", str]] = []

    def get(self, backend: str, *, env: dict | None = None, postgres: "PostgresDatabases | None" = None) -> QueueServer:
        """The shared server of ``backend`` with ``env``; ``postgres`` makes the database of a PostgreSQL one."""
        key = (backend, tuple(sorted({**DEFAULT_ENV, **(env or {})}.items())))
        running = self._running.get(key)
        if running is None:
            if backend == "sqlite":
                url = sqlite_url(self._tmp.mktemp("db"))
            else:
                url = postgres.create()
                self._databases.append((postgres, url))
            running = QueueServer(url, env=env, log_dir=self._tmp.mktemp("logs")).start()
            self._running[key] = running
        elif running.process.poll() is not None:
            raise RuntimeError(f"the shared {backend} server exited with {running.process.returncode}:\n"
                               f"{running.log_path.read_text(errors='replace')}")
        return running

    def stop_all(self) -> None:
        try:
            for running in self._running.values():
                running.stop()
        finally:
            for databases, url in self._databases:
                databases.drop(url)


def shared_server(request, backend: str, env: dict | None = None) -> QueueServer:
    """The session's shared server of ``backend`` and ``env`` (see ``shared_servers`` in tests/conftest.py).

    ``request`` is the asking fixture's; PostgreSQL needs the ``postgres`` fixture, which skips
    (or fails under CI) when there is no test PostgreSQL, exactly as for a server of one's own.
    """
    postgres = request.getfixturevalue("postgres") if backend == "postgresql" else None
    return request.getfixturevalue("shared_servers").get(backend, env=env, postgres=postgres)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / f'queue-{uuid.uuid4().hex[:8]}.db'}"


class PostgresDatabases:
    """Creates a fresh database per use on the test PostgreSQL server, and drops it after."""

    def __init__(self, url: str):
        self.url = make_url(url)

    def _admin(self):
        dsn = self.url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        return psycopg.connect(dsn, autocommit=True)

    def create(self) -> str:
        name = f"sosqueue_t_{uuid.uuid4().hex[:12]}"
        with self._admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def processes_on_one_database(postgres: "PostgresDatabases", log_dir: Path) -> Iterator[tuple[QueueServer, QueueServer]]:
    """Two server processes on one fresh PostgreSQL database, stopped and dropped afterwards."""
    url = postgres.create()
    first, second = QueueServer(url, log_dir=log_dir), QueueServer(url, log_dir=log_dir)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()
        postgres.drop(url)
