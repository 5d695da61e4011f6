"""The TeamViewer-compatible API over HTTP against a real server, SQLite and PostgreSQL, called as the
public documentation's examples and known integrations call TeamViewer's: plain ``requests`` with JSON
bodies. A round trip shows up in the dashboard and in the native API."""

import json

import httpx
import pytest
import requests

from server.api.routes.teamviewer import TAG
from tests.server.notify.conftest import SECRET, configure
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.receivers import WebhookReceiver
from tests.support.teamviewer import TV, assert_tv_error, tv_company
from tests.support.tenants import bearer

TIMEOUT = 20


def new_company(server, **options):
    """A company with two groups, set up over the native API (the calls under test go through requests)."""
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        return tv_company(client, server.database_url, **options)


@pytest.fixture(scope="module")
def company(server):
    return new_company(server, password=PASSWORD)


def headers_of(token: str) -> dict:
    """The headers TeamViewer's examples send."""
    return {"content-type": "application/json", "Authorization": f"Bearer {token}"}


def test_create_assign_update_close_round_trip_shows_in_the_dashboard_and_the_native_api(server, company):
    """The documented calls one after the other, as an integration makes them; each change is seen everywhere."""
    base, headers = server.url + TV, headers_of(company.tenant.admin_token)
    assert requests.get(f"{base}/ping", headers=headers, timeout=TIMEOUT).json() == {"token_valid": True}
    account = requests.get(f"{base}/account", headers=headers, timeout=TIMEOUT).json()
    assert account["email"] == company.tenant.admin_email

    payload = {"groupname": "first line", "description": "Issue with configuration of corporate email",
               "end_customer": {"name": "John Doe", "email": "john.doe@example.com"}}
    created = requests.post(f"{base}/sessions", data=json.dumps(payload), headers=headers, timeout=TIMEOUT)
    assert created.status_code == 200, created.text
    session = created.json()
    code = session["code"]
    assert (session["state"], session["groupid"]) == ("Open", company.groups["first line"])
    assert session["end_customer_link"] == f"{server.url}/join/{code}"
    assert session["supporter_link"] == f"{server.url}/requests/{code}"

    users = requests.get(f"{base}/users", headers=headers, timeout=TIMEOUT).json()["users"]
    supporter = next(user for user in users if user["email"] == company.tenant.supporter_email)
    change = {"assigned_userid": supporter["id"], "description": "Corporate email: the password expired",
              "custom_api": json.dumps({"ticket": "T-1001"}), "waiting_message": "Sam calls you in 5 minutes."}
    assert requests.put(f"{base}/sessions/{code}", data=json.dumps(change), headers=headers,
                        timeout=TIMEOUT).status_code == 204
    fetched = requests.get(f"{base}/sessions/{code}", headers=headers, timeout=TIMEOUT).json()
    assert (fetched["assigned_userid"], fetched["custom_api"]) == (supporter["id"], change["custom_api"])

    native = requests.get(f"{server.url}/api/v1/service-requests/{code}", headers=bearer(company.tenant.admin_token),
                          timeout=TIMEOUT).json()
    assert (native["status"], native["description"], native["group"]) == ("new", change["description"], "first line")
    assert native["assignee"]["email"] == company.tenant.supporter_email
    assert native["waiting_message"] == change["waiting_message"] and "custom_api" not in native  # API-only
    with logged_in(server.url, company.tenant.supporter_email) as dashboard:
        page = dashboard.get(f"/requests/{code}").text
        assert change["description"] in page and company.tenant.supporter_email in page and "John Doe" in page
        assert code in dashboard.get("/queue").text

        assert requests.put(f"{base}/sessions/{code}", json={"state": "closed"}, headers=headers,
                            timeout=TIMEOUT).status_code == 204
        assert 'id="status">Closed<' in dashboard.get(f"/requests/{code}").text
    native = requests.get(f"{server.url}/api/v1/service-requests/{code}", headers=bearer(company.tenant.admin_token),
                          timeout=TIMEOUT).json()
    assert native["status"] == "closed" and native["closed_by"] == {"type": "user", "id": company.tenant.user_ids[
        company.tenant.admin_email]}
    closed = requests.get(f"{base}/sessions", params={"state": "closed", "full_list": "true"}, headers=headers,
                          timeout=TIMEOUT).json()["sessions"]
    assert [item["state"] for item in closed if item["code"] == code] == ["Closed"]
    history = requests.get(f"{server.url}/api/v1/service-requests/{code}/history",
                           headers=bearer(company.tenant.admin_token), timeout=TIMEOUT).json()
    assert [event["type"] for event in history] == ["created", "updated", "assigned", "closed"]


def test_a_supporters_connection_shows_in_the_report(server, company):
    """A supporter joins and leaves a session over the native API: one record, with its end and duration."""
    base, headers = server.url + TV, headers_of(company.tenant.admin_token)
    code = requests.post(f"{base}/sessions", json={"groupid": company.groups["second line"]}, headers=headers,
                         timeout=TIMEOUT).json()["code"]
    for verb in ("join", "leave"):
        assert requests.post(f"{server.url}/api/v1/service-requests/{code}/{verb}",
                             headers=bearer(company.tenant.supporter_token), timeout=TIMEOUT).status_code == 200
    report = requests.get(f"{base}/reports/connections", params={"session_code": code}, headers=headers,
                          timeout=TIMEOUT).json()
    (record,) = report["records"]
    assert (record["userid"], record["groupname"]) == (company.supporter, "second line")
    assert record["end_date"] is not None and record["duration"] >= 0


def test_another_companys_token_finds_nothing_and_changes_nothing(server, company):
    """A foreign code is 404 for reading and changing, and the session stays as it was."""
    base = server.url + TV
    code = requests.post(f"{base}/sessions", json={"groupname": "first line"},
                         headers=headers_of(company.tenant.admin_token), timeout=TIMEOUT).json()["code"]
    before = requests.get(f"{base}/sessions/{code}", headers=company.headers, timeout=TIMEOUT).json()
    other = new_company(server)
    foreign = headers_of(other.tenant.admin_token)
    assert_tv_error(requests.get(f"{base}/sessions/{code}", headers=foreign, timeout=TIMEOUT), 404, "not_found")
    assert_tv_error(requests.put(f"{base}/sessions/{code}", json={"state": "closed"}, headers=foreign,
                                 timeout=TIMEOUT), 404, "not_found")
    assert_tv_error(requests.put(f"{base}/sessions/{code}", json={"assigned_userid": other.supporter},
                                 headers=company.headers, timeout=TIMEOUT), 400, "invalid_request")
    assert requests.get(f"{base}/sessions/{code}", headers=company.headers, timeout=TIMEOUT).json() == before
    assert code not in [item["code"] for item in requests.get(f"{base}/sessions", headers=foreign,
                                                              timeout=TIMEOUT).json()["sessions"]]


def test_the_openapi_document_lists_the_compatibility_api_under_its_own_tag(server):
    """Every operation under /tv/api/v1 with the tag, errors documented in TeamViewer's shape."""
    document = requests.get(f"{server.url}/openapi.json", timeout=TIMEOUT).json()
    operations = {(method.upper(), path): operation for path, methods in document["paths"].items()
                  if path.startswith(TV) for method, operation in methods.items()}
    assert set(operations) == {("GET", f"{TV}/ping"), ("GET", f"{TV}/account"), ("GET", f"{TV}/users"),
                               ("POST", f"{TV}/sessions"), ("GET", f"{TV}/sessions"),
                               ("GET", f"{TV}/sessions/{{code}}"), ("PUT", f"{TV}/sessions/{{code}}"),
                               ("GET", f"{TV}/reports/connections")}
    assert all(operation["tags"] == [TAG] for operation in operations.values())
    assert TAG in {tag["name"] for tag in document["tags"]}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/TeamViewerError"}}}
    for (method, path), operation in operations.items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == error, (method, path, status)
    assert set(operations[("PUT", f"{TV}/sessions/{{code}}")]["responses"]) == {"204", "400", "401", "403", "404"}
    assert set(operations[("POST", f"{TV}/sessions")]["responses"]) == {"200", "400", "401", "403", "429"}
    assert set(operations[("GET", f"{TV}/ping")]["responses"]) == {"200"}


def test_a_session_made_and_changed_here_notifies_the_company_s_webhook_as_any_request(server):
    """Same queue, same webhooks: the creation calls request.created, the assignment request.assigned,
    signed with the company's secret and linking the dashboard's page of the request."""
    company = new_company(server)
    base, headers = server.url + TV, headers_of(company.tenant.admin_token)
    with WebhookReceiver(SECRET) as receiver:
        configure(server.database_url, company.tenant, webhook_url=receiver.url)
        code = requests.post(f"{base}/sessions", json={"groupname": "first line", "description": "VPN is down"},
                             headers=headers, timeout=TIMEOUT).json()["code"]
        assert requests.put(f"{base}/sessions/{code}", json={"assigned_userid": company.supporter},
                            headers=headers, timeout=TIMEOUT).status_code == 204
        calls = receiver.wait_for_accepted(2)
    assert [call.json()["event"] for call in calls] == ["request.created", "request.assigned"]
    assert all(call.signed_with(SECRET) for call in calls)
    assert {call.json()["request"]["code"] for call in calls} == {code}
    assert calls[1].json()["request"]["assignee"]["email"] == company.tenant.supporter_email
