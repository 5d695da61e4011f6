"""Empty databases for tests that run their own server, usable from module-scoped fixtures."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.support.servers import sqlite_url


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
