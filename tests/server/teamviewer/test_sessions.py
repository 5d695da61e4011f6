"""Sessions as TeamViewer's Web API shows and changes them: the session object, listing, changes."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from server.db import Database
from server.models import ServiceRequest, utcnow
from server.schemas import MAX_CUSTOM_API_CHARS
from server.teamviewer import ids, sessions
from sosqueue import codes
from tests.support.teamviewer import TV, assert_tv_error, tv_company
from tests.support.tenants import bearer

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SESSION_FIELDS = {"code", "state", "groupid", "description", "end_customer", "assigned_userid", "assigned_at",
                  "created_at", "valid_until", "closed_at", "waiting_message", "custom_api", "online",
                  "support_session_type", "end_customer_link", "supporter_link"}
BRIEF_FIELDS = {"code", "state", "groupid", "assigned_userid", "created_at", "valid_until"}


@pytest.fixture(scope="module")
def company(app):
    return tv_company(app.client, app.database_url)


def create(app, company, **body) -> dict:
    response = app.client.post(f"{TV}/sessions", json={"groupname": "first line", **body}, headers=company.headers)
    assert response.status_code == 200, response.text
    return response.json()


def get(app, company, code: str) -> dict:
    response = app.client.get(f"{TV}/sessions/{code}", headers=company.headers)
    assert response.status_code == 200, response.text
    return response.json()


def put(app, company, code: str, body: dict) -> None:
    response = app.client.put(f"{TV}/sessions/{code}", json=body, headers=company.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""


def history(app, company, code: str) -> list[dict]:
    return app.client.get(f"/api/v1/service-requests/{code}/history", headers=company.headers).json()


def test_ping_says_whether_the_token_is_a_users_api_token(app, company):
    """A user's token is valid; none, an unknown one, a module's or a malformed header is not: 200 each time."""
    tenant = company.tenant
    for headers, valid in [(company.headers, True), (bearer(tenant.supporter_token), True), ({}, False),
                           (bearer("squ_unknown"), False), (bearer(tenant.module_token), False),
                           ({"Authorization": "Basic abc"}, False)]:
        response = app.client.get(f"{TV}/ping", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"token_valid": valid}


def test_account_and_users_are_the_callers_company(app, company):
    """The account is the token's user; users lists the company's active users, no one else's."""
    other = tv_company(app.client, app.database_url)
    account = app.client.get(f"{TV}/account", headers=bearer(company.tenant.supporter_token)).json()
    assert account == {"userid": company.supporter, "name": company.tenant.supporter_email,
                       "email": company.tenant.supporter_email, "company_name": company.tenant.name}
    users = app.client.get(f"{TV}/users", headers=company.headers).json()["users"]
    assert {user["email"] for user in users} == set(company.tenant.user_ids)
    assert not {user["id"] for user in users} & set(other.users.values())
    assert all(re.fullmatch(r"u\d+", user["id"]) for user in users)


def test_a_created_session_is_the_whole_session_object(app, company):
    """The docs' body gives an Open session of its group with the links, dates in UTC with Z; unknown fields ignored."""
    body = create(app, company, description="Issue with configuration of corporate email",
                  end_customer={"name": "John Doe", "email": "john.doe@example.com"},
                  waiting_message="We are with you in a minute", custom_api='{"ticket": 42}',
                  custom_module_id="unknown to us", tv_version="15")
    assert set(body) == SESSION_FIELDS
    assert re.fullmatch(r"s\d\d-\d\d\d-\d\d\d", body["code"])
    assert (body["state"], body["groupid"], body["online"]) == ("Open", company.groups["first line"], False)
    assert body["end_customer"] == {"name": "John Doe", "email": "john.doe@example.com"}
    assert (body["waiting_message"], body["custom_api"]) == ("We are with you in a minute", '{"ticket": 42}')
    assert (body["assigned_userid"], body["assigned_at"], body["closed_at"]) == (None, None, None)
    assert body["support_session_type"] == "Default"
    assert all(DATE.fullmatch(body[name]) for name in ("created_at", "valid_until"))
    assert body["end_customer_link"] == f"http://testserver/join/{body['code']}"
    assert body["supporter_link"] == f"http://testserver/requests/{body['code']}"
    assert get(app, company, body["code"]) == body
    assert get(app, company, codes.normalize(body["code"]).upper())["code"] == body["code"]


def test_a_session_is_created_by_groupid_or_groupname_or_both_when_they_agree(app, company):
    """Either names the group; both must name the same one."""
    group = company.groups["second line"]
    assert create(app, company, groupname="second line")["groupid"] == group
    by_id = app.client.post(f"{TV}/sessions", json={"groupid": group}, headers=company.headers)
    assert by_id.json()["groupid"] == group
    both = app.client.post(f"{TV}/sessions", json={"groupid": group, "groupname": "second line"},
                           headers=company.headers)
    assert both.json()["groupid"] == group
    disagree = app.client.post(f"{TV}/sessions", json={"groupid": group, "groupname": "first line"},
                               headers=company.headers)
    assert_tv_error(disagree, 400, "invalid_request")


def test_a_groupname_that_names_no_group_makes_the_group_as_teamviewer_does(app, company):
    """Creating with a new groupname makes that group (once: the next creation finds it); moving to one too."""
    first = create(app, company, groupname="Helpdesk app")
    again = create(app, company, groupname="Helpdesk app")
    assert first["groupid"] == again["groupid"] and first["groupid"] not in company.groups.values()
    put(app, company, first["code"], {"groupname": "Escalations"})
    moved = get(app, company, first["code"])["groupid"]
    groups = app.client.get("/api/v1/groups", headers=company.headers).json()["items"]
    assert {ids.group_tv_id(group["id"]): group["name"] for group in groups
            if group["name"] in ("Helpdesk app", "Escalations")} == {first["groupid"]: "Helpdesk app",
                                                                     moved: "Escalations"}


def test_each_field_of_a_session_changes_alone(app, company):
    """description, end_customer (one field keeps the other), waiting_message, custom_api: each alone, with an event."""
    code = create(app, company, end_customer={"name": "Ann", "email": "ann@example.com"})["code"]
    put(app, company, code, {"description": "now with details"})
    put(app, company, code, {"end_customer": {"name": "Ann Smith"}})
    put(app, company, code, {"waiting_message": "Hang on"})
    put(app, company, code, {"custom_api": "x" * MAX_CUSTOM_API_CHARS})
    session = get(app, company, code)
    assert session["description"] == "now with details"
    assert session["end_customer"] == {"name": "Ann Smith", "email": "ann@example.com"}
    assert (session["waiting_message"], session["custom_api"]) == ("Hang on", "x" * MAX_CUSTOM_API_CHARS)
    updates = [event["data"] for event in history(app, company, code) if event["type"] == "updated"]
    assert updates == [{"fields": ["description"]}, {"fields": ["end_customer_name"]},
                       {"fields": ["waiting_message"]}, {"fields": ["custom_api"]}]
    put(app, company, code, {"description": "now with details", "unknown": True})  # the same again: no event
    assert len([e for e in history(app, company, code) if e["type"] == "updated"]) == 4


def test_assigning_unassigning_moving_and_closing(app, company):
    """assigned_userid assigns, u0 unassigns, groupid/groupname move, state closed closes (again: nothing more)."""
    code = create(app, company)["code"]
    put(app, company, code, {"assigned_userid": company.supporter})
    assigned = get(app, company, code)
    assert assigned["assigned_userid"] == company.supporter and DATE.fullmatch(assigned["assigned_at"])
    put(app, company, code, {"assigned_userid": "u0"})
    assert (get(app, company, code)["assigned_userid"], get(app, company, code)["assigned_at"]) == (None, None)
    put(app, company, code, {"groupid": company.groups["second line"]})
    assert get(app, company, code)["groupid"] == company.groups["second line"]
    put(app, company, code, {"groupname": "first line", "groupid": company.groups["first line"]})
    assert get(app, company, code)["groupid"] == company.groups["first line"]
    put(app, company, code, {"state": "closed"})
    closed = get(app, company, code)
    assert closed["state"] == "Closed" and DATE.fullmatch(closed["closed_at"])
    put(app, company, code, {"state": "Closed"})
    types = [event["type"] for event in history(app, company, code)]
    assert types == ["created", "assigned", "assigned", "updated", "updated", "closed"]
    native = app.client.get(f"/api/v1/service-requests/{code}", headers=company.headers).json()
    assert (native["status"], native["group"], native["assignee"]) == ("closed", "first line", None)


def test_an_expired_request_is_a_closed_session_closed_at_its_deadline(app, company):
    """Past its deadline (swept or not), a request is Closed, closed_at its valid_until."""
    code = create(app, company)["code"]
    database = Database(app.database_url)
    try:
        with database.write() as session:
            session.execute(update(ServiceRequest).where(ServiceRequest.code == codes.normalize(code))
                            .values(valid_until=utcnow() - timedelta(minutes=1)))
    finally:
        database.dispose()
    expired = get(app, company, code)
    assert expired["state"] == "Closed" and expired["closed_at"] == expired["valid_until"]


def test_online_is_whether_the_customers_agent_is_connected(app, company):
    """The customer's module claims the request and joins: online; it leaves: offline again."""
    code = create(app, company)["code"]
    claimed = app.client.post(f"/api/v1/service-requests/{code}/claim", headers=bearer(company.tenant.module_token))
    assert claimed.status_code == 200, claimed.text
    customer = bearer(claimed.json()["customer_token"])
    assert app.client.post(f"/api/v1/service-requests/{code}/join", headers=customer).status_code == 200
    assert get(app, company, code)["online"] is True
    assert app.client.post(f"/api/v1/service-requests/{code}/leave", headers=customer).status_code == 200
    assert get(app, company, code)["online"] is False


def listed(app, company, **params) -> dict:
    response = app.client.get(f"{TV}/sessions", params=params, headers=company.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_listing_filters_by_state_group_and_assignee(app):
    """Open by default; closed, both; a group; an assignee; u0 for the unassigned; full_list gives whole objects."""
    company = tv_company(app.client, app.database_url)
    first = create(app, company)["code"]
    second = create(app, company, groupname="second line")["code"]
    done = create(app, company)["code"]
    put(app, company, second, {"assigned_userid": company.supporter})
    put(app, company, done, {"state": "closed"})

    def codes_of(**params) -> list[str]:
        return [item["code"] for item in listed(app, company, **params)["sessions"]]

    assert codes_of() == [second, first]
    assert codes_of(state="closed") == [done]
    assert codes_of(state="open,closed") == codes_of(state="Closed, Open") == [done, second, first]
    assert codes_of(groupid=company.groups["second line"]) == [second]
    assert codes_of(assigned_userid=company.supporter) == [second]
    assert codes_of(assigned_userid="u0") == [first]
    brief, whole = listed(app, company)["sessions"][0], listed(app, company, full_list="true")["sessions"][0]
    assert (set(brief), set(whole)) == (BRIEF_FIELDS, SESSION_FIELDS)
    assert whole == get(app, company, second)


def test_listing_pages_continue_after_the_offset(app, monkeypatch):
    """Pages of PAGE_SIZE: next_offset is the page's last code, sessions_remaining what follows; none on the last."""
    monkeypatch.setattr(sessions, "PAGE_SIZE", 2)
    company = tv_company(app.client, app.database_url)
    made = [create(app, company)["code"] for _ in range(5)][::-1]  # newest first
    pages, offset = [], None
    while True:
        page = listed(app, company, **({"offset": offset} if offset else {}))
        pages.append(([item["code"] for item in page["sessions"]], page["sessions_remaining"]))
        offset = page["next_offset"]
        if offset is None:
            break
        assert offset == page["sessions"][-1]["code"]
    assert pages == [(made[:2], 3), (made[2:4], 1), (made[4:], 0)]
