"""Empty databases for tests that run their own server, usable from module-scoped fixtures."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from server.db import Database, upgrade
from tests.support.servers import QueueServer, sqlite_url


@contextmanager
def database_maker(request, tmp_path_factory) -> Iterator[Callable[[str], str]]:
    """Yields ``make(backend)``, a maker of empty database URLs; PostgreSQL ones are dropped after."""
    made = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return sqlite_url(tmp_path_factory.mktemp("db"))
        databases = request.getfixturevalue("postgres")
        made.append((databases, databases.create()))
        return made[-1][1]

    try:
        yield make
    finally:
        for databases, url in made:
            databases.drop(url)


@contextmanager
def fresh_databases(backend: str, request, tmp_path_factory) -> Iterator[Callable[[], str]]:
    """Like ``database_maker``, for one backend: yields ``make()``."""
    with database_maker(request, tmp_path_factory) as make:
        yield lambda: make(backend)


@contextmanager
def migrated_database(backend: str, request, tmp_path_factory) -> Iterator[Database]:
    """An empty database of ``backend``, migrated to the newest schema, for tests of the queue's own
    operations without a server; dropped after."""
    with fresh_databases(backend, request, tmp_path_factory) as make:
        database = Database(make())
        upgrade(database)
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def own_server(backend: str, request, tmp_path_factory, *, env: dict | None = None) -> Iterator[QueueServer]:
    """A server of its own on ``backend`` with ``env`` (for a module whose settings differ from the
    shared servers'), on a fresh database that is dropped after."""
    with fresh_databases(backend, request, tmp_path_factory) as make:
        with QueueServer(make(), env=env, log_dir=tmp_path_factory.mktemp("logs")) as running:
            yield running
