"""Database engines, sessions and migrations: SQLite (one file, WAL) or PostgreSQL."""

from collections.abc import Iterator
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from server.group_commit import GroupCommit

_MIGRATIONS = Path(__file__).parent / "migrations"
# The connections a process keeps: one for each thread of the thread pool that runs the routes, the
# dependencies and the background sweeps (anyio's default, 40), so that a busy server reuses them
# instead of opening and closing connections beyond a smaller pool (PostgreSQL forks a process for
# each). The overflow is for a thread that holds two sessions at once; those are closed after use.
POOL_SIZE = 40
MAX_OVERFLOW = 40


class DatabaseUrlError(ValueError):
    """The database URL is neither SQLite nor PostgreSQL, or cannot be parsed."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync and writers that queue, not fail."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUrlError(f"cannot parse database URL {url!r}: {error}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername != "postgresql+psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_pre_ping=True)
    raise DatabaseUrlError(
        f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
    )


def _sqlite_engine(url) -> Engine:
    if url.database and url.database != ":memory:":
        try:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUrlError(
                f"cannot create the folder for the SQLite database {url.database}: {error.strerror}"
            ) from None
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Take transaction control from the driver so that writers can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # A deferred transaction that later writes can fail at once with "database is
        # locked"; writers take the write lock up front and wait for it instead.
        immediate = connection.get_execution_options().get("sqlite_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One engine with two session factories: readers, and writers that serialise on SQLite."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_db_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        writer = self.engine.execution_options(sqlite_write=True) if self.is_sqlite else self.engine
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self.writer_factory = sessionmaker(writer, expire_on_commit=False)
        # SQLite has one writer at a time. Queue this process's writers on a lock instead of
        # letting them poll SQLite's busy handler, which sleeps in growing steps (p99 in seconds).
        # A plain Lock, not an RLock: a route's write dependency enters and leaves in different
        # threadpool threads, and only a Lock may be released by another thread. (A nested write
        # in one thread could not work on SQLite anyway: the outer one holds its write lock.)
        self._write_lock = threading.Lock() if self.is_sqlite else nullcontext()
        # Creations: many to one commit (server.group_commit).
        self.group_commit = GroupCommit(self.write)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._write_lock, self.writer_factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.group_commit.stop()
        self.engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision; existing data is kept."""
    from alembic import command

    config = alembic_config(database.url)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
