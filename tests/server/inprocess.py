"""The app in this process, for tests where a real server process is not the point.

``TestClient(create_app(...))`` speaks ASGI directly: no port, no subprocess, no start-up wait.
Tests of what only a real process shows (signals, restarts, several workers, browsers) keep
using ``tests.support.servers.QueueServer``.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from tests.support.dashboard import PASSWORD, DashboardClient


@contextmanager
def in_process(database_url: str, **settings) -> Iterator[TestClient]:
    """The app on ``database_url`` (migrated), running its lifespan, with a client that does not follow redirects."""
    app = create_app(Settings(database_url=database_url, **settings))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def dashboard(client: TestClient, email: str, password: str = PASSWORD) -> DashboardClient:
    """A dashboard login of ``email`` over the in-process ``client``, which then carries its cookies
    (an earlier login's are dropped)."""
    client.cookies.clear()
    login = DashboardClient(str(client.base_url))
    login.http.close()
    login.http = client
    response = login.login(email, password)
    assert response.status_code == 303, response.text
    return login
