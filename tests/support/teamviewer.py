"""Builders for the TeamViewer-compatible API's tests: a company with groups, and calls in TeamViewer's terms."""

from dataclasses import dataclass

from server.teamviewer.ids import group_tv_id
from tests.support.tenants import Tenant, bearer, make_tenant

TV = "/tv/api/v1"
ERROR_FIELDS = {"error", "error_description", "error_code"}


@dataclass
class TvCompany:
    """A tenant with two groups, and TeamViewer's ids of its people and groups."""

    tenant: Tenant
    groups: dict[str, str]  # name -> groupid
    users: dict[str, str]  # email -> userid

    @property
    def headers(self) -> dict:
        return bearer(self.tenant.admin_token)

    @property
    def supporter(self) -> str:
        """The userid of the first supporter."""
        return self.users[self.tenant.supporter_email]


def tv_company(client, database_url: str, **tenant_options) -> TvCompany:
    """A fresh company with groups "first line" and "second line"; ``client``: an httpx or test client of the server."""
    tenant = make_tenant(database_url, supporters=2, **tenant_options)
    company_groups = {}
    for name in ("first line", "second line"):
        response = client.post("/api/v1/groups", json={"name": name}, headers=bearer(tenant.admin_token))
        assert response.status_code == 201, response.text
        company_groups[name] = group_tv_id(response.json()["id"])
    company = TvCompany(tenant, company_groups, {})
    listed = client.get(f"{TV}/users", headers=company.headers)
    assert listed.status_code == 200, listed.text
    company.users = {user["email"]: user["id"] for user in listed.json()["users"]}
    return company


def assert_tv_error(response, status: int, error: str) -> dict:
    """A TeamViewer error answer: ``status``, JSON of exactly error, error_description and error_code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == ERROR_FIELDS, body
    assert body["error"] == error and body["error_description"], body
    assert isinstance(body["error_code"], int)
    return body
