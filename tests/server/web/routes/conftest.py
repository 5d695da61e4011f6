"""Fixtures of the dashboard's HTTP tests: signed-in clients for the module's ``tenant``.

Each test module defines ``tenant`` (a company made with a password) for its own server.
"""

import pytest

from server.db import Database
from tests.support.dashboard import logged_in


@pytest.fixture(scope="module")
def admin(server, tenant):
    """The tenant's admin, signed in."""
    client = logged_in(server.url, tenant.admin_email)
    yield client
    client.close()


@pytest.fixture(scope="module")
def supporter(server, tenant):
    """The tenant's first supporter, signed in."""
    client = logged_in(server.url, tenant.supporter_email)
    yield client
    client.close()


@pytest.fixture(scope="module")
def database(server):
    """The server's database, for checking what a page stored."""
    db = Database(server.database_url)
    yield db
    db.dispose()
