"""Statements compiled once per dialect and run on the driver's cursor, for the hottest writes.

SQLAlchemy's ``Connection.execute`` costs ~50 µs per statement above what the driver does (the
compiled cache's lookup, an execution context, a result object); a creation makes three inserts.
Here a statement is compiled once, its parameters go through the same type processors the
engine would apply (UTC datetimes, JSON), and it runs on the transaction's own DBAPI connection:
the same SQL, the same values, in the same transaction.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, TextClause
from sqlalchemy.engine import Dialect


class DriverStatement:
    """``statement`` compiled for ``dialect``, with its bind processors."""

    def __init__(self, statement: TextClause, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        self.positional = compiled.positional
        processors = compiled._bind_processors  # what the engine applies to each parameter
        self.processors = [(name, processors.get(name)) for name in self.names]

    def parameters(self, row: Mapping[str, Any]):
        values = [process(row[name]) if process else row[name] for name, process in self.processors]
        return values if self.positional else dict(zip(self.names, values))


_COMPILED: dict[tuple[int, str], DriverStatement] = {}


def first_value(connection: Connection, statement: TextClause, row: Mapping[str, Any]):
    """The first column of the first row ``statement`` returns with ``row`` (None if no row), run
    on ``connection``'s DBAPI connection within its transaction. ``statement`` must live as long
    as the process (a module's constant): it is known by its id."""
    found = first_row(connection, statement, row)
    return None if found is None else found[0]


def first_row(connection: Connection, statement: TextClause, row: Mapping[str, Any]) -> tuple | None:
    """``first_value``'s whole row."""
    compiled = _compiled(connection, statement)
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(compiled.sql, compiled.parameters(row))
        found = cursor.fetchone()
    finally:
        cursor.close()
    return found


def first_values(connection: Connection, calls: list[tuple[TextClause, Mapping[str, Any]]]) -> list:
    """``first_value`` for each (statement, row) of ``calls``, in their order. On PostgreSQL all
    are sent before any answer is read (psycopg's pipeline mode): one round trip for them all, and
    on a connection in autocommit mode one transaction, in which all of them count or none."""
    if connection.dialect.name != "postgresql":
        return [first_value(connection, statement, row) for statement, row in calls]
    # every parameter bound before anything is sent: an error here sends nothing
    prepared = [(compiled.sql, compiled.parameters(row))
                for compiled, row in ((_compiled(connection, statement), row) for statement, row in calls)]
    driver = connection.connection.driver_connection
    cursors = [driver.cursor() for _ in prepared]
    try:
        with driver.pipeline():
            for cursor, (sql, parameters) in zip(cursors, prepared):
                cursor.execute(sql, parameters)
        found = [cursor.fetchone() for cursor in cursors]  # the pipeline's end read every answer
    finally:
        for cursor in cursors:
            cursor.close()
    return [None if each is None else each[0] for each in found]


def _compiled(connection: Connection, statement: TextClause) -> DriverStatement:
    key = (id(statement), connection.dialect.name)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = DriverStatement(statement, connection.dialect)
    return compiled
