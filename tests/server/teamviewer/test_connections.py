"""The connection report: each supporter's joins and leaves of a session, with filters and pages."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from server.teamviewer import connections
from tests.support.teamviewer import TV, assert_tv_error, tv_company
from tests.support.tenants import bearer

RECORD_FIELDS = {"id", "userid", "username", "session_code", "groupid", "groupname", "contact_name", "start_date",
                 "end_date", "duration", "support_session_type"}


@pytest.fixture(scope="module")
def story(app):
    """A company where one supporter joins, leaves and rejoins a session that is then closed, and the admin
    joins another session of the second group and stays."""
    company = tv_company(app.client, app.database_url)
    supporter, admin = bearer(company.tenant.supporter_token), company.headers
    first = app.client.post(f"{TV}/sessions", headers=admin, json={
        "groupname": "first line", "end_customer": {"name": "John Doe"}}).json()["code"]
    second = app.client.post(f"{TV}/sessions", headers=admin, json={"groupname": "second line"}).json()["code"]
    for verb, token, code in [("join", supporter, first), ("leave", supporter, first), ("join", supporter, first),
                              ("join", admin, second)]:
        assert app.client.post(f"/api/v1/service-requests/{code}/{verb}", headers=token).status_code == 200
    assert app.client.put(f"{TV}/sessions/{first}", headers=admin, json={"state": "closed"}).status_code == 204
    return company, first, second


def report(app, company, **params) -> dict:
    response = app.client.get(f"{TV}/reports/connections", params=params, headers=company.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_join_is_a_record_ended_by_its_leave_or_the_sessions_end(app, story):
    """Who, which code, start, end and duration: a leave ends one, the close the next, the last one is ongoing."""
    company, first, second = story
    body = report(app, company)
    records = body["records"]
    assert (body["records_remaining"], body["next_offset"]) == (0, None)
    assert [set(record) for record in records] == [RECORD_FIELDS] * 3
    assert [(r["session_code"], r["userid"]) for r in records] == [
        (first, company.supporter), (first, company.supporter), (second, company.users[company.tenant.admin_email])]
    left, closed, ongoing = records
    assert all(re.fullmatch(r"[0-9a-f]{16}", record["id"]) for record in records)
    assert (left["groupid"], left["groupname"], left["contact_name"]) == (
        company.groups["first line"], "first line", "John Doe")
    assert left["username"] == company.tenant.supporter_email
    for record in (left, closed):
        start, end = (datetime.fromisoformat(record[name].replace("Z", "+00:00"))
                      for name in ("start_date", "end_date"))
        assert start <= end and record["duration"] == round((end - start).total_seconds())
    assert (ongoing["end_date"], ongoing["duration"]) == (None, None)


@pytest.mark.parametrize("start, end, shown", [
    ("10:00:00.900", "10:00:01.200", 1),  # 0.3 s across a second's boundary: the dates show 1 s apart
    ("10:00:00.100", "10:00:00.800", 0),
    ("10:00:00.000", "10:02:05.999", 125),
])
def test_a_duration_is_the_difference_of_the_dates_the_record_shows(start, end, shown):
    def at(clock: str) -> datetime:
        return datetime.fromisoformat(f"2026-12-03T{clock}+00:00")

    assert connections.shown_seconds_between(at(start), at(end)) == shown


def test_filters_narrow_the_report(app, story):
    """userid, username, groupid, session_code and the date range each select their records."""
    company, first, second = story

    def codes(**params) -> list[str]:
        return [record["session_code"] for record in report(app, company, **params)["records"]]

    assert codes(userid=company.supporter) == [first, first]
    assert codes(username=company.tenant.admin_email) == [second]
    assert codes(groupid=company.groups["second line"]) == [second]
    assert codes(session_code=first.replace("-", "").upper()) == [first, first]
    now = datetime.now(timezone.utc)
    assert codes(from_date=(now + timedelta(hours=1)).isoformat()) == []
    assert codes(to_date=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")) == []
    hour_ago, in_an_hour = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    assert len(codes(from_date=hour_ago, to_date=in_an_hour)) == 3


def test_pages_start_at_the_offset_id(app, story, monkeypatch):
    """A page of PAGE_SIZE, records_remaining after it, and next_offset as the next page's offset_id."""
    monkeypatch.setattr(connections, "PAGE_SIZE", 2)
    company, *_ = story
    whole = report(app, company)
    assert (len(whole["records"]), whole["records_remaining"]) == (2, 1)
    rest = report(app, company, offset_id=whole["next_offset"])
    assert (len(rest["records"]), rest["records_remaining"], rest["next_offset"]) == (1, 0, None)
    assert rest["records"][0]["id"] == whole["next_offset"]


def test_a_supporter_sees_their_own_connections_only(app, story):
    """As the dashboard's reports are an admin's: a supporter's report holds their own records, whatever the filter."""
    company, first, second = story
    response = app.client.get(f"{TV}/reports/connections", headers=bearer(company.tenant.supporter_token))
    assert [record["userid"] for record in response.json()["records"]] == [company.supporter] * 2
    theirs = app.client.get(f"{TV}/reports/connections", params={"session_code": second},
                            headers=bearer(company.tenant.supporter_token))
    assert theirs.json()["records"] == []


def test_a_company_sees_its_own_connections_only(app, story):
    """Another company's report is empty; its ids filter nothing of ours."""
    company, *_ = story
    other = tv_company(app.client, app.database_url)
    assert report(app, other)["records"] == []
    assert_tv_error(app.client.get(f"{TV}/reports/connections", params={"userid": company.supporter},
                                   headers=other.headers), 400, "invalid_request")
