"""Bad addresses and form values on dashboard pages: a clear page, never a traceback or a 500."""

import httpx
import pytest

from tests.support.dashboard import NOT_HERE, PASSWORD, DashboardClient
from tests.support.tenants import bearer, file_request, make_tenant

BAD_VALUE = "This address or form has a value that is not allowed. Go back and use the page&#39;s buttons."


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD)


def test_a_nul_character_in_the_login_email_is_a_wrong_login(server):
    with DashboardClient(server.url) as client:
        response = client.login("admin\x00@example.test", PASSWORD)
    assert response.status_code == 401
    assert "The email or the password is wrong." in response.text


def test_an_overlong_login_field_is_a_bad_value_page(server):
    with DashboardClient(server.url) as client:
        response = client.login("x" * 1001 + "@example.test", PASSWORD)
    assert response.status_code == 400
    assert BAD_VALUE in response.text and response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("query", [
    "group=%00", "assignee=a%00b", "before=99999999999999999999999", "before=abc", "status=" + "x" * 101,
])
def test_a_bad_queue_address_is_a_bad_value_page(admin, query):
    response = admin.get(f"/queue?{query}")
    assert response.status_code == 400
    assert BAD_VALUE in response.text


@pytest.mark.parametrize("path", ["/admin/users/%00/role", "/admin/groups/%00/delete", "/admin/modules/%00/revoke", "/admin/users/x/active"])
def test_a_malformed_id_in_an_admin_address_is_not_found(admin, path):
    response = admin.post(path, data={"role": "admin"})
    assert response.status_code == 404
    assert NOT_HERE in response.text


def test_a_nul_character_in_a_form_value_is_dropped(server, tenant, admin):
    code = file_request(server.url, tenant.module_token)["code"]
    response = admin.post(f"/requests/{code}/assign", data={"user": "\x00"})
    assert response.status_code == 303  # an empty choice: unassigned, as it was
    detail = httpx.get(f"{server.url}/api/v1/service-requests/{code}", headers=bearer(tenant.admin_token))
    assert detail.json()["assignee"] is None
