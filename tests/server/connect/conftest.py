"""Fixtures for Connect: one company per module, signed-in experts, sockets closed after each test."""

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from server.db import Database
from server.models import User
from tests.server.connect.peers import Api, Expert, Sockets
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.servers import QueueServer, shared_server
from tests.support.tenants import Tenant, make_tenant

COLLEAGUE_NAME = "Alex Example"
# The hub checks open sockets' logins at the sweep's pace (30 s by default).
LOGIN_CHECK = {"SOSQUEUE_SWEEP_INTERVAL_SECONDS": "0.5"}


@pytest.fixture(scope="module")
def server(backend, request) -> QueueServer:
    """A real server of each backend checking the logins of open sockets twice a second.

    Shared by the Connect modules: each works in a company of its own (``tenant``).
    """
    return shared_server(request, backend, env=LOGIN_CHECK)


@pytest.fixture(scope="module")
def tenant(server) -> Tenant:
    """A company with two supporters; the second has a name, the first is known by email only."""
    made = make_tenant(server.database_url, supporters=2, password=PASSWORD)
    colleague = list(made.supporter_tokens)[1]
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(User).where(User.email == colleague).values(name=COLLEAGUE_NAME))
    finally:
        database.dispose()
    return made


def _signed_in(server, tenant: Tenant, email: str, name: str = "") -> Iterator[Expert]:
    client = logged_in(server.url, email)
    yield Expert(client, tenant.user_ids[email], name or email.partition("@")[0])
    client.close()


@pytest.fixture(scope="module")
def expert(server, tenant) -> Iterator[Expert]:
    """The first supporter, signed in to the dashboard; known by the email's local part."""
    yield from _signed_in(server, tenant, tenant.supporter_email)


@pytest.fixture(scope="module")
def colleague(server, tenant) -> Iterator[Expert]:
    """The second supporter, signed in; known by name."""
    yield from _signed_in(server, tenant, list(tenant.supporter_tokens)[1], COLLEAGUE_NAME)


@pytest.fixture(scope="module")
def admin(server, tenant) -> Iterator[Expert]:
    """The company's admin, signed in."""
    yield from _signed_in(server, tenant, tenant.admin_email)


@pytest.fixture(scope="module")
def outsider(server) -> Iterator[Expert]:
    """A supporter of another company, signed in."""
    other = make_tenant(server.database_url, password=PASSWORD)
    yield from _signed_in(server, other, other.supporter_email)


@pytest.fixture
def sockets(server, tenant) -> Iterator[Sockets]:
    opened = Sockets(server.url, tenant)
    yield opened
    opened.close_all()


@pytest.fixture(scope="module")
def api(server, tenant) -> Iterator[Api]:
    client = Api(server.url, tenant)
    yield client
    client.http.close()
