"""Fixtures of the API tests: one HTTP client per module's server."""

import pytest

from tests.support.queue_api import QueueApi


@pytest.fixture(scope="module")
def api(server):
    """A client for the module's real server."""
    client = QueueApi(server.url)
    yield client
    client.close_client()
