"""The request page shows the message its waiting customer reads, read-only and as plain text."""

import pytest

from tests.server.web.routes.test_requests import text_of
from tests.support.dashboard import PASSWORD
from tests.support.tenants import file_request, make_tenant


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
