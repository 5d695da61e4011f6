"""The app in this process on SQLite, for the compatibility API's many small cases."""

from dataclasses import dataclass

import pytest

from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url


@dataclass
class App:
    client: object
    database_url: str


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url = sqlite_url(tmp_path_factory.mktemp("db"))
    with in_process(url) as client:
        yield App(client, url)
