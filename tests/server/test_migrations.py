"""Schema migrations: an empty database reaches head, the models match it, upgrades keep data."""

import sqlite3
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from server.actors import Actor
from server.db import Database, alembic_config, upgrade
from server.models import Base, Company, Module, RequestEvent, ServiceRequest, User
from server.queue import create_request
from server.schemas import ServiceRequestCreate
from tests.support.tenants import make_tenant

COUNTED = (Company, User, Module, ServiceRequest, RequestEvent)


@pytest.fixture
def database(backend, make_database_url):
    """A fresh, empty database of the backend, not yet migrated."""
    db = Database(make_database_url(backend))
    yield db
    db.dispose()


def head_revision(db: Database) -> str:
    return ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def row_counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) for model in COUNTED}


def file_requests_directly(db: Database, count: int) -> list[str]:
    """Requests made through the queue's own operations, as the server would store them."""
    with db.write() as session:
        company = session.scalars(select(Company)).first()
        user = session.scalars(select(User).where(User.company_id == company.id)).first()
        actor = Actor(kind="user", company_id=company.id, user=user)
        made = [
            create_request(session, actor=actor, payload=ServiceRequestCreate(description=f"kept {index}"),
                           source="manual", expiry=timedelta(hours=24)).request
            for index in range(count)
        ]
        return [request.code for request in made]


def test_upgrading_an_empty_database_reaches_head(database):
    """A brand-new database is migrated to the newest revision and has every table."""
    assert current_revision(database) is None
    upgrade(database)
    assert current_revision(database) == head_revision(database)
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_models_match_the_migrated_schema(database):
    """The migrations build exactly the schema that server.models declares (nothing to autogenerate)."""
    upgrade(database)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_again_keeps_all_data(database):
    """Running the upgrade on a populated database changes no row and loses nothing."""
    upgrade(database)
    make_tenant(database.url, supporters=2)
    codes = file_requests_directly(database, 5)
    before = row_counts(database)
    upgrade(database)
    upgrade(database)
    assert row_counts(database) == before
    assert current_revision(database) == head_revision(database)
    with database.read() as session:
        stored = set(session.scalars(select(ServiceRequest.code)))
    assert set(codes) <= stored


def test_sqlite_database_runs_in_wal_mode(make_database_url):
    """The SQLite file is in write-ahead-log mode, which the file itself remembers."""
    db = Database(make_database_url("sqlite"))
    try:
        upgrade(db)
    finally:
        db.dispose()
    with sqlite3.connect(make_url(db.url).database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_connections_enforce_foreign_keys(make_database_url):
    """SQLite checks foreign keys on the server's connections (it does not by default)."""
    db = Database(make_database_url("sqlite"))
    try:
        upgrade(db)
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()
