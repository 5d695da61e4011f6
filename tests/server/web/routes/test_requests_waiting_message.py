"""The request page shows the message its waiting customer reads, read-only and as plain text, and the
customer's link."""

import httpx
import pytest

from tests.server.web.routes.test_requests import text_of
from tests.support.dashboard import PASSWORD
from tests.support.tenants import bearer, file_request, make_tenant


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=1)


def test_the_page_shows_the_waiting_message_with_its_lines_and_markup_as_text(server, tenant, supporter):
    message = "Back at 3 pm.\n<script>alert(1)</script> & <b>thanks</b>"
    code = file_request(server.url, tenant.supporter_token, waiting_message=message)["code"]
    page = supporter.get(f"/requests/{code}").text
    assert text_of(page, "waiting-message") == message
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_without_a_message_the_page_has_no_such_line(server, tenant, supporter):
    code = file_request(server.url, tenant.supporter_token)["code"]
    page = supporter.get(f"/requests/{code}").text
    assert 'id="waiting-message"' not in page and 'id="description"' in page


def test_an_open_request_s_page_gives_the_customer_s_link_and_a_closed_one_s_does_not(server, tenant, supporter):
    """Supporters copy the link that tells the customer how to get the module and start it with this code."""
    code = file_request(server.url, tenant.supporter_token)["code"]
    assert text_of(supporter.get(f"/requests/{code}").text, "customer-link") == f"{server.url}/join/{code}"
    closed = httpx.post(f"{server.url}/api/v1/service-requests/{code}/close", headers=bearer(tenant.supporter_token),
                        timeout=30)
    assert closed.status_code == 200, closed.text
    assert 'id="customer-link"' not in supporter.get(f"/requests/{code}").text
