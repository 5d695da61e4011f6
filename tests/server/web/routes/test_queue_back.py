"""Forms that send the supporter back to the page they came from: only to a page of this server."""

from urllib.parse import urljoin, urlsplit

import pytest

from tests.server.inprocess import dashboard, in_process
from tests.support.dashboard import PASSWORD, DashboardClient
from tests.support.servers import sqlite_url
from tests.support.tenants import make_tenant

HOST = "http://testserver"  # the in-process client's host


@pytest.fixture(scope="module")
def supporter(tmp_path_factory) -> DashboardClient:
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    with in_process(database_url, login_attempts_per_minute=0) as client:
        tenant = make_tenant(database_url, password=PASSWORD)
        yield dashboard(client, tenant.supporter_email)


def back_from(supporter: DashboardClient, referer: str) -> str:
    response = supporter.post("/me/availability", data={"available": "1"}, headers={"Referer": referer})
    assert response.status_code == 303, response.text
    return response.headers["location"]


@pytest.mark.parametrize("path", ["/queue", "/queue?view=mine&status=all", "/requests/s12-345-678"])
def test_availability_goes_back_to_the_page_of_this_server_it_was_switched_on(supporter, path):
    assert back_from(supporter, HOST + path) == path


def lands_on(location: str) -> str:
    """The host a browser goes to for ``location`` on a page of HOST: it drops tabs and newlines
    and reads backslashes as slashes (the WHATWG URL parser)."""
    for dropped in "\t\n\r":
        location = location.replace(dropped, "")
    return urlsplit(urljoin(HOST + "/queue", location.replace("\\", "/"))).netloc


@pytest.mark.parametrize("path", ["//evil.example/x", "/\\evil.example/x", "/\\/evil.example/x", "///evil.example/x"])
def test_availability_goes_to_the_queue_from_a_path_a_browser_would_read_as_another_host(supporter, path):
    """Referer ``http://HOST//evil.example/x``: the part after the host must not become the Location."""
    location = back_from(supporter, HOST + path)
    assert location == "/queue"


@pytest.mark.parametrize("path", ["/\t/evil.example/x", "/\n/evil.example/x", "/%2F/evil.example/x", "/%5C/evil.example"])
def test_availability_never_sends_the_supporter_off_this_server(supporter, path):
    assert lands_on(back_from(supporter, HOST + path)) == "testserver"


def test_availability_without_a_referer_goes_to_the_queue(supporter):
    assert back_from(supporter, "") == "/queue"
