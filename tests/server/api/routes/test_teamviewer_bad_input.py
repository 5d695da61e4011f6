"""Bad input to the TeamViewer-compatible API: an error in TeamViewer's shape and status, and nothing changed.

In process (the answers do not depend on a process of their own); every case is checked against a
snapshot of all the company holds, taken before and after.
"""

import json
from dataclasses import dataclass

import pytest

from server.api.deps import get_state
from server.schemas import MAX_CUSTOM_API_CHARS
from sosqueue.waiting_room import MAX_WAITING_MESSAGE_CHARS
from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url
from tests.support.teamviewer import TV, TvCompany, assert_tv_error, tv_company
from tests.support.tenants import bearer


@dataclass
class Stage:
    client: object
    ours: TvCompany
    theirs: TvCompany
    open_code: str
    closed_code: str
    their_code: str
    customer_token: str


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """Two companies; ours with an open, assigned session and a closed one, theirs with one session."""
    url = sqlite_url(tmp_path_factory.mktemp("db"))
    with in_process(url) as client:
        ours, theirs = tv_company(client, url), tv_company(client, url)
        open_code, closed_code = (new_session(client, ours) for _ in range(2))
        client.put(f"{TV}/sessions/{open_code}", json={"assigned_userid": ours.supporter}, headers=ours.headers)
        client.put(f"{TV}/sessions/{closed_code}", json={"state": "closed"}, headers=ours.headers)
        their_code = new_session(client, theirs)
        claimed = client.post(f"/api/v1/service-requests/{open_code}/claim", headers=bearer(ours.tenant.module_token))
        assert claimed.status_code == 200, claimed.text
        yield Stage(client, ours, theirs, open_code, closed_code, their_code, claimed.json()["customer_token"])


def new_session(client, company: TvCompany) -> str:
    response = client.post(f"{TV}/sessions", json={"groupname": "first line"}, headers=company.headers)
    assert response.status_code == 200, response.text
    return response.json()["code"]


def snapshot(stage: Stage) -> dict:
    """Everything of both companies that a refused call must leave as it was."""
    held = {}
    for company in (stage.ours, stage.theirs):
        items = stage.client.get("/api/v1/service-requests", params={"limit": 200}, headers=company.headers).json()
        held[company.tenant.name] = {
            "requests": items,
            "groups": stage.client.get("/api/v1/groups", headers=company.headers).json(),
            "histories": [stage.client.get(f"/api/v1/service-requests/{item['code']}/history",
                                           headers=company.headers).json() for item in items["items"]],
        }
    return held


OURS, THEIRS, MODULE, CUSTOMER, NONE, UNKNOWN = "ours", "theirs", "module", "customer", "none", "unknown"
SUPPORTER = "supporter"  # of ours: not an admin
OPEN, CLOSED, THEIR_CODE = "{open}", "{closed}", "{their}"
LONG = "x" * 4001

# (status, error, token, method, path, body or raw bytes, query)
CASES = [
    (401, "invalid_token", NONE, "GET", "/account", None, None),
    (401, "invalid_token", UNKNOWN, "GET", "/users", None, None),
    (401, "invalid_token", NONE, "POST", "/sessions", {"groupname": "first line"}, None),
    (401, "invalid_token", UNKNOWN, "PUT", f"/sessions/{OPEN}", {"state": "closed"}, None),
    (401, "invalid_token", NONE, "GET", "/reports/connections", None, None),
    (403, "invalid_permission", MODULE, "GET", "/sessions", None, None),
    (403, "invalid_permission", CUSTOMER, "PUT", f"/sessions/{OPEN}", {"state": "closed"}, None),
    (403, "invalid_permission", MODULE, "POST", "/sessions", {"groupname": "first line"}, None),
    (404, "not_found", OURS, "GET", "/sessions/s12345678", None, None),
    (404, "not_found", OURS, "GET", "/sessions/not-a-code", None, None),
    (404, "not_found", OURS, "GET", f"/sessions/{THEIR_CODE}", None, None),
    (404, "not_found", OURS, "PUT", f"/sessions/{THEIR_CODE}", {"state": "closed"}, None),
    (404, "not_found", THEIRS, "PUT", f"/sessions/{OPEN}", {"description": "hijacked"}, None),
    (404, "not_found", OURS, "GET", "/groups", None, None),
    (404, "not_found", OURS, "DELETE", f"/sessions/{OPEN}", None, None),
    (404, "not_found", NONE, "POST", "/oauth2/token", None, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"description": "no group"}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupid": "first line"}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupid": "g1"}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "x" * 101}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "new group", "description": LONG}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": ""}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "first line", "description": 5}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "first line", "description": LONG}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "first line", "description": "a\x00b"}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "first line", "end_customer": "John"}, None),
    (400, "invalid_request", OURS, "POST", "/sessions",
     {"groupname": "first line", "end_customer": {"email": "not an address"}}, None),
    (400, "invalid_request", OURS, "POST", "/sessions",
     {"groupname": "first line", "waiting_message": "x" * (MAX_WAITING_MESSAGE_CHARS + 1)}, None),
    (400, "invalid_request", OURS, "POST", "/sessions",
     {"groupname": "first line", "custom_api": "x" * (MAX_CUSTOM_API_CHARS + 1)}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "first line", "custom_api": {"a": 1}}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", b'{"groupname": "first line"', None),
    (400, "invalid_request", OURS, "POST", "/sessions", b'["first line"]', None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"assigned_userid": "{their_user}"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"assigned_userid": "u123"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"assigned_userid": "someone"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"assigned_userid": 7}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"state": "open"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"state": "closed", "description": LONG}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}",
     {"state": "closed", "custom_api": "x" * (MAX_CUSTOM_API_CHARS + 1)}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}",
     {"description": "moved", "groupid": "{their_group}"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}",
     {"description": "moved", "groupid": "{second_group}", "groupname": "first line"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}",
     {"description": "later refused", "assigned_userid": "u123", "state": "closed"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", b"{not json", None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{CLOSED}", {"description": "too late"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{CLOSED}", {"assigned_userid": "{supporter}"}, None),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"state": "pending"}),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"state": ","}),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"full_list": "maybe"}),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"groupid": "{their_group}"}),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"assigned_userid": "x1"}),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"offset": "s12345678"}),
    (400, "invalid_request", OURS, "GET", "/sessions", None, {"offset": THEIR_CODE}),
    (400, "invalid_request", OURS, "GET", "/reports/connections", None, {"from_date": "yesterday"}),
    (400, "invalid_request", OURS, "GET", "/reports/connections", None, {"offset_id": "zz"}),
    (400, "invalid_request", OURS, "GET", "/reports/connections", None, {"session_code": "!!"}),
    (400, "invalid_request", OURS, "GET", "/reports/connections", None, {"groupid": "{their_group}"}),
    (400, "invalid_request", OURS, "GET", "/reports/connections", None, {"from_date": "9999-12-31T23:59:59-23:59"}),
    (400, "invalid_request", OURS, "GET", "/reports/connections", None, {"to_date": "0001-01-01T00:00:00+01:00"}),
    # refused after a new group was made in the call's transaction: the group goes with the rest
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}",
     {"groupname": "made by a refused call", "assigned_userid": "{their_user}"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{CLOSED}", {"groupname": "made too late"}, None),
    (400, "invalid_request", OURS, "PUT", f"/sessions/{OPEN}", {"custom_api": "a\x00b"}, None),
    (400, "invalid_request", OURS, "POST", "/sessions", {"groupname": "first line", "custom_api": "a\x00b"}, None),
    (400, "invalid_request", SUPPORTER, "POST", "/sessions", {"groupname": "a supporter's new group"}, None),
    (404, "not_found", OURS, "OPTIONS", "/sessions", None, None),
]


def _fill(value, stage: Stage):
    """The case's placeholders for the stage's real codes and ids."""
    names = {"{open}": stage.open_code, "{closed}": stage.closed_code, "{their}": stage.their_code,
             "{their_user}": stage.theirs.supporter, "{their_group}": stage.theirs.groups["first line"],
             "{second_group}": stage.ours.groups["second line"], "{supporter}": stage.ours.supporter}
    if isinstance(value, str):
        for name, real in names.items():
            value = value.replace(name, real)
        return value
    if isinstance(value, dict):
        return {key: _fill(item, stage) for key, item in value.items()}
    return value


def _headers(stage: Stage, token: str) -> dict:
    tokens = {OURS: stage.ours.tenant.admin_token, THEIRS: stage.theirs.tenant.admin_token,
              SUPPORTER: stage.ours.tenant.supporter_token,
              MODULE: stage.ours.tenant.module_token, CUSTOMER: stage.customer_token, UNKNOWN: "squ_unknown"}
    return bearer(tokens[token]) if token in tokens else {}


@pytest.mark.parametrize(("status", "error", "token", "method", "path", "body", "query"), CASES,
                         ids=[f"{c[0]}-{c[3]} {c[4]} {json.dumps(c[5])[:40] if isinstance(c[5], dict) else c[5]!r:.40}"
                              f" {c[6] or ''}" for c in CASES])
def test_a_refused_call_answers_in_teamviewers_shape_and_changes_nothing(stage, status, error, token, method, path,
                                                                        body, query):
    """The documented status and error name, a description, and every row of both companies as before."""
    before = snapshot(stage)
    content = {"content": body, "headers": {**_headers(stage, token), "Content-Type": "application/json"}} \
        if isinstance(body, bytes) else {"json": _fill(body, stage), "headers": _headers(stage, token)}
    answer = stage.client.request(method, TV + _fill(path, stage), params=_fill(query, stage), **content)
    assert_tv_error(answer, status, error)
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(stage) == before


def test_a_body_without_content_type_is_read_as_json(stage):
    """As TeamViewer does: integrations that send JSON text with no Content-Type still work."""
    answer = stage.client.post(f"{TV}/sessions", content=json.dumps({"groupname": "first line"}).encode(),
                               headers=stage.ours.headers)
    assert answer.status_code == 200, answer.text
    stage.client.put(f"{TV}/sessions/{answer.json()['code']}", json={"state": "closed"}, headers=stage.ours.headers)


def test_an_unexpected_failure_is_a_500_in_teamviewers_shape(stage):
    """Whatever breaks inside leaves as internal_error, not as a problem or an HTML page."""
    app = stage.client.app

    def broken():
        raise RuntimeError("the database went away")

    app.dependency_overrides[get_state] = broken
    try:
        answer = stage.client.get(f"{TV}/users", headers=stage.ours.headers)
    finally:
        app.dependency_overrides.clear()
    assert_tv_error(answer, 500, "internal_error")
    assert "database" not in answer.json()["error_description"]


def test_creating_past_the_allowance_is_429_with_retry_after_and_makes_no_group(tmp_path_factory):
    """Sessions take from the caller's creation allowance as any request does; past it, rate_limit_reached,
    and a group its groupname would have made is not left behind."""
    url = sqlite_url(tmp_path_factory.mktemp("db"))
    with in_process(url, create_rate_per_minute=1, create_burst=1) as client:
        company = tv_company(client, url)
        answers = [client.post(f"{TV}/sessions", json={"groupname": name}, headers=company.headers)
                   for name in ("first line", "made on the fly")]
        assert answers[0].status_code == 200, answers[0].text
        assert_tv_error(answers[1], 429, "rate_limit_reached")
        assert int(answers[1].headers["Retry-After"]) >= 1
        listed = client.get(f"{TV}/sessions", headers=company.headers).json()["sessions"]
        assert [item["code"] for item in listed] == [answers[0].json()["code"]]
        groups = client.get("/api/v1/groups", headers=company.headers).json()
        assert "made on the fly" not in [group["name"] for group in groups["items"]]


def test_errors_elsewhere_keep_the_native_problem_shape(stage):
    """Only the compatibility prefix speaks TeamViewer's shape: the native API still answers problem+json."""
    answer = stage.client.get("/api/v1/service-requests/s12345678", headers=stage.ours.headers)
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
