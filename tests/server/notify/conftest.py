"""Queue servers that notify through a real SMTP server, and the company settings they read."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from server.config import Settings
from server.db import Database
from server.event_ids import DELIVERY_CONTEXT, EventIds
from server.models import Company, Notification, User
from server.state import load_secret_key
from tests.support.databases import database_maker
from tests.support.receivers import SmtpReceiver, WebhookReceiver
from tests.support.servers import QueueServer
from tests.support.tenants import Tenant

SECRET = "whsec-3bd1f0c2a9e84d6f"
SENDER = "queue@sosqueue.test"
PUBLIC_URL = "https://queue.example.test"
MAX_ATTEMPTS = 3
FAST_NOTIFY = {
    "SOSQUEUE_NOTIFY_POLL_SECONDS": "0.05",  # retries after 0.25 s, 0.5 s
    "SOSQUEUE_NOTIFY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "SOSQUEUE_NOTIFY_TIMEOUT_SECONDS": "5",
    "SOSQUEUE_PUBLIC_URL": PUBLIC_URL + "/",
}


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    return {"SOSQUEUE_SMTP_HOST": "127.0.0.1", "SOSQUEUE_SMTP_PORT": str(port),
            "SOSQUEUE_SMTP_FROM": f"Service Queue <{SENDER}>", **FAST_NOTIFY, **extra}


class ServerPool:
    """Starts a server per backend on first use and stops them all at the end."""

    def __init__(self, make_url, tmp_path_factory, env: dict[str, str]):
        self._make_url, self._tmp, self._env = make_url, tmp_path_factory, env
        self._running: dict[str, QueueServer] = {}

    def get(self, backend: str) -> QueueServer:
        if backend not in self._running:
            server = QueueServer(self._make_url(backend), env=self._env, log_dir=self._tmp.mktemp("logs"))
            self._running[backend] = server.start()
        return self._running[backend]

    def stop_all(self) -> None:
        for server in self._running.values():
            server.stop()


@pytest.fixture(scope="session")
def smtp():
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def session_database_url(request, tmp_path_factory):
    """Fresh databases that live as long as the test session."""
    with database_maker(request, tmp_path_factory) as make:
        yield make


@pytest.fixture(scope="session")
def notify_servers(smtp, session_database_url, tmp_path_factory):
    pool = ServerPool(session_database_url, tmp_path_factory, smtp_env(smtp.port))
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def notify_server(backend, notify_servers) -> QueueServer:
    """A server that emails through the ``smtp`` receiver and retries fast; shared by tenants."""
    return notify_servers.get(backend)


@pytest.fixture
def webhook():
    with WebhookReceiver(SECRET) as receiver:
        yield receiver


def configure(database_url: str, tenant: Tenant, *, emails: str = "", webhook_url: str = "", secret: str = SECRET) -> None:
    """Set the tenant's company notification settings, as the admin pages would."""
    with _database(database_url) as database, database.write() as session:
        company = session.scalar(select(Company).where(Company.name == tenant.name))
        company.notify_emails, company.webhook_url, company.webhook_secret = emails, webhook_url, secret


def name_user(database_url: str, user_id: str, name: str) -> None:
    with _database(database_url) as database, database.write() as session:
        session.get(User, user_id).name = name


def notifications(database_url: str, tenant: Tenant) -> list[Notification]:
    """The tenant's outbox rows, oldest first."""
    with _database(database_url) as database, database.read() as session:
        return list(session.scalars(
            select(Notification).join(Company, Company.id == Notification.company_id)
            .where(Company.name == tenant.name).order_by(Notification.id)
        ))


@contextmanager
def _database(url: str) -> Iterator[Database]:
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


def delivery_id(database_url: str, row: Notification) -> str:
    """The ``X-Sosqueue-Delivery`` the server sends for ``row``: its public id, under the key the
    server keeps in the database."""
    with _database(database_url) as database:
        key = load_secret_key(database, Settings(database_url=database_url))
    return EventIds(key, context=DELIVERY_CONTEXT).public(row.company_id, row.id)
