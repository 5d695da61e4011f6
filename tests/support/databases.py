"""Empty databases for tests that run their own server, usable from module-scoped fixtures."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.support.servers import sqlite_url


@contextmanager
def fresh_databases(backend: str, request, tmp_path_factory) -> Iterator[Callable[[], str]]:
    """Yields a maker of empty database URLs for ``backend``; PostgreSQL ones are dropped after."""
    made = []

    def make() -> str:
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
