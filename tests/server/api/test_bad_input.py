"""Bad input gets a clear 4xx problem, never a 5xx, and never changes what is stored."""

import json
from dataclasses import dataclass

import httpx
import pytest

from tests.support.queue_api import REQUESTS, assert_problem
from tests.support.tenants import Tenant, bearer, make_tenant

JSON = {"Content-Type": "application/json"}
MAX_BODY = 64 * 1024
UNKNOWN_OR_INVALID = (404, 422)


@dataclass
class Stored:
    """A tenant, the code of its request, and a snapshot of all it holds."""

    tenant: Tenant
    code: str
    snapshot: dict | None = None

    @property
    def token(self) -> str:
        return self.tenant.admin_token


@pytest.fixture(scope="module")
def stored(server, api):
    """A company whose queue holds a started, assigned request, and a group."""
    tenant = make_tenant(server.database_url, supporters=1)
    body = api.created(tenant.module_token, {"description": "baseline", "diagnostics": {"os": "linux"}})
    api.action(body["code"], "join", body["customer_token"])
    api.assign(body["code"], tenant.supporter_token, "me")
    api.call("POST", "/api/v1/groups", tenant.admin_token, json={"name": "first line"})
    stored = Stored(tenant, body["code"])
    stored.snapshot = snapshot(api, stored)
    return stored


def snapshot(api, stored: Stored) -> dict:
    """Everything of the tenant that a bad request must not change."""
    admin = stored.token
    return {
        "requests": api.all_items(admin, limit=200),
        "history": api.history(stored.code, admin),
        "users": api.call("GET", "/api/v1/users", admin).json(),
        "groups": api.call("GET", "/api/v1/groups", admin).json(),
        "modules": api.call("GET", "/api/v1/modules", admin).json(),
    }


def send(api, method: str, url: str, token: str, request_kwargs: dict) -> httpx.Response:
    """One request on its own connection: a refused request may end the connection it came on."""
    headers = {**bearer(token), **request_kwargs.get("headers", {})}
    with httpx.Client(base_url=api.client.base_url, timeout=20) as fresh:
        return fresh.request(method, url, **{**request_kwargs, "headers": headers})


def raw(text: str | bytes) -> dict:
    return {"content": text.encode() if isinstance(text, str) else text, "headers": JSON}


def body(**fields) -> dict:
    return {"json": {"description": "help", **fields}}


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"level": value}
    return value


class Chunks:
    """A body without Content-Length, sent in chunks; iterable afresh for every request."""

    def __init__(self, total: int):
        self.total = total

    def __iter__(self):
        for _ in range(0, self.total, 4096):
            yield b" " * 4096


CREATE = [
    pytest.param(raw('{"description": '), 400, id="truncated-json"),
    pytest.param(raw("not json at all"), 400, id="not-json"),
    pytest.param(raw('{"description": "x"} trailing'), 400, id="trailing-garbage"),
    pytest.param(raw("{'description': 'x'}"), 400, id="single-quotes"),
    pytest.param(raw(b'{"description": "\xff\xfe"}'), 400, id="invalid-utf8"),
    pytest.param(raw("[" * 30000 + "]" * 30000), 400, id="deeply-nested-body"),
    pytest.param({"json": ["description"]}, 422, id="body-is-a-list"),
    pytest.param({"json": "help"}, 422, id="body-is-a-string"),
    pytest.param(raw("null"), 422, id="body-is-null"),
    pytest.param({"content": b'{"description": "x"}', "headers": {"Content-Type": "text/plain"}}, 422,
                 id="not-json-content-type"),
    pytest.param(body(description=123), 422, id="description-number"),
    pytest.param(body(description=None), 422, id="description-null"),
    pytest.param(body(end_customer="bob"), 422, id="end-customer-string"),
    pytest.param(body(end_customer={"name": 5}), 422, id="name-number"),
    pytest.param(body(diagnostics=[1, 2]), 422, id="diagnostics-list"),
    pytest.param(body(diagnostics="slow"), 422, id="diagnostics-string"),
    pytest.param(body(group=5), 422, id="group-number"),
    pytest.param(body(description="x" * 4001), 422, id="description-4001"),
    pytest.param(body(end_customer={"name": "n" * 101}), 422, id="name-101"),
    pytest.param(body(end_customer={"email": "e" * 250 + "@x.io"}), 422, id="email-255"),
    pytest.param(body(group="g" * 101), 422, id="group-101"),
    pytest.param(body(end_customer={"email": "not-an-email"}), 422, id="email-without-at"),
    pytest.param(body(end_customer={"email": "a@b@example.com"}), 422, id="email-two-ats"),
    pytest.param(body(end_customer={"email": "@example.com"}), 422, id="email-no-local-part"),
    pytest.param(body(end_customer={"name": "Ann\x00"}), 422, id="name-nul"),
    pytest.param(body(end_customer={"name": "Ann\x07"}), 422, id="name-bell"),
    pytest.param(body(end_customer={"name": "Ann\nBob"}), 422, id="name-newline"),
    pytest.param(body(end_customer={"name": "Ann\x7f"}), 422, id="name-del"),
    pytest.param(body(end_customer={"name": "Ann\x85"}), 422, id="name-c1-control"),
    pytest.param(body(description="ok\x1b[31m"), 422, id="description-escape"),
    pytest.param(body(description="\x00"), 422, id="description-nul"),
    pytest.param(raw('{"description": "\\ud800"}'), 422, id="lone-surrogate-description"),
    pytest.param(raw('{"description": "x", "end_customer": {"name": "\\udc00"}}'), 422, id="lone-surrogate-name"),
    pytest.param(raw('{"description": "x", "diagnostics": {"k": "\\ud83d"}}'), 422, id="lone-surrogate-diagnostics"),
    pytest.param(raw('{"description": "x", "diagnostics": {"\\ud800": 1}}'), 422, id="lone-surrogate-diagnostics-key"),
    pytest.param(raw('{"description": "x", "\\ud800": 1}'), 422, id="lone-surrogate-unknown-field"),
    pytest.param(raw('{"description": "x", "diagnostics": {"load": NaN}}'), 422, id="nan"),
    pytest.param(raw('{"description": "x", "diagnostics": {"load": [Infinity]}}'), 422, id="infinity"),
    pytest.param(raw('{"description": "x", "diagnostics": {"load": -Infinity}}'), 422, id="minus-infinity"),
    pytest.param(body(diagnostics={"blob": "x" * 9000}), 422, id="diagnostics-too-large"),
    pytest.param(body(diagnostics=nested(6)), 422, id="diagnostics-too-deep"),
    pytest.param(body(diagnostics={"bad\x00key": 1}), 422, id="diagnostics-control-key"),
    pytest.param(body(priority="high"), 422, id="unknown-field"),
    pytest.param(body(end_customer={"name": "Ann", "phone": "123"}), 422, id="unknown-nested-field"),
    pytest.param(body(description="x" * (MAX_BODY + 10)), 413, id="too-large-with-length"),
    pytest.param({"content": Chunks(MAX_BODY + 4096), "headers": JSON}, 413, id="too-large-chunked"),
    pytest.param({**body(), "headers": {"Idempotency-Key": "schlüssel".encode()}}, 422,
                 id="non-ascii-idempotency-key"),
    pytest.param({**body(), "headers": {"Idempotency-Key": "two words"}}, 422, id="idempotency-key-space"),
    pytest.param({**body(), "headers": {"Idempotency-Key": "k" * 256}}, 422, id="idempotency-key-256"),
    pytest.param({**body(), "params": {"source": "sos"}}, 422, id="user-claims-sos"),
]


@pytest.mark.parametrize(("request_kwargs", "status"), CREATE)
def test_bad_creation_is_refused_and_changes_nothing(api, stored, request_kwargs, status):
    """Each malformed creation gets its 4xx problem; nothing is filed or changed."""
    response = send(api, "POST", REQUESTS, stored.token, request_kwargs)
    assert_problem(response, status)
    assert snapshot(api, stored) == stored.snapshot


OTHER = [
    pytest.param("GET", REQUESTS, {"params": {"limit": 0}}, 422, id="limit-0"),
    pytest.param("GET", REQUESTS, {"params": {"limit": 1000}}, 422, id="limit-1000"),
    pytest.param("GET", REQUESTS, {"params": {"limit": -1}}, 422, id="limit-negative"),
    pytest.param("GET", REQUESTS, {"params": {"limit": "ten"}}, 422, id="limit-word"),
    pytest.param("GET", REQUESTS, {"params": {"status": "new\x00"}}, 422, id="status-nul"),
    pytest.param("GET", REQUESTS, {"params": {"assignee": "x" * 37}}, 422, id="assignee-too-long"),
    pytest.param("GET", REQUESTS, {"params": {"cursor": "c" * 65}}, 422, id="cursor-too-long"),
    pytest.param("POST", "{request}/assign", raw('{"user": '), 400, id="assign-malformed"),
    pytest.param("POST", "{request}/assign", {"json": {"user": 5}}, 422, id="assign-number"),
    pytest.param("POST", "{request}/assign", {"json": {"user": "u" * 37}}, 422, id="assign-too-long"),
    pytest.param("POST", "{request}/assign", {"json": {}}, 422, id="assign-missing-user"),
    pytest.param("POST", "{request}/assign", {"json": {"user": "me", "why": "x"}}, 422, id="assign-unknown-field"),
    pytest.param("POST", "{request}/assign", {"json": {"user": "nobody"}}, 404, id="assign-unknown-user"),
    pytest.param("PUT", "/api/v1/users/me/availability", {"json": {"available": "maybe"}}, 422, id="availability-word"),
    pytest.param("PUT", "/api/v1/users/me/availability", {"json": {"available": None}}, 422, id="availability-null"),
    pytest.param("PUT", "/api/v1/users/me/availability", {"json": {}}, 422, id="availability-missing"),
    pytest.param("PUT", "/api/v1/users/me/availability", raw("{"), 400, id="availability-malformed"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": ""}}, 422, id="group-empty-name"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": "g\x00"}}, 422, id="group-nul-name"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": "g" * 101}}, 422, id="group-long-name"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": "g", "members": "a@b.c"}}, 422, id="group-members-string"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": "g", "members": ["nobody@x.test"]}}, 404,
                 id="group-unknown-member"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": "first line"}}, 409, id="group-duplicate"),
    pytest.param("POST", "/api/v1/modules", {"json": {"name": "m", "assignment": "bogus"}}, 422,
                 id="module-bad-strategy"),
    pytest.param("POST", "/api/v1/modules", {"json": {"name": "m", "assignment": "round_robin:x"}}, 422,
                 id="module-strategy-argument"),
    pytest.param("POST", "/api/v1/modules", {"json": {"name": "m", "assignment": "fixed:nobody@x.test"}}, 404,
                 id="module-unknown-fixed-user"),
    pytest.param("POST", "/api/v1/modules", {"json": {"name": "m", "group": "no such group"}}, 404,
                 id="module-unknown-group"),
    pytest.param("POST", "/api/v1/modules", {"json": {"name": ""}}, 422, id="module-empty-name"),
    pytest.param("POST", "/api/v1/modules/not-a-module/rotate-token", {}, 404, id="rotate-unknown-module"),
    # A NUL must never reach the database: PostgreSQL cannot even compare text with one.
    pytest.param("GET", REQUESTS, {"params": {"group": "team\x00"}}, UNKNOWN_OR_INVALID, id="group-filter-nul"),
    pytest.param("POST", "{request}/assign", {"json": {"user": "\x00"}}, UNKNOWN_OR_INVALID, id="assign-nul"),
    pytest.param("POST", "/api/v1/groups", {"json": {"name": "g", "members": ["a\x00@b.c"]}}, UNKNOWN_OR_INVALID,
                 id="group-member-nul"),
    pytest.param("POST", "/api/v1/modules", {"json": {"name": "m", "assignment": "fixed:a\x00@b.c"}},
                 UNKNOWN_OR_INVALID, id="module-fixed-user-nul"),
    pytest.param("POST", "/api/v1/modules/%00/rotate-token", {}, UNKNOWN_OR_INVALID, id="rotate-module-id-nul"),
    pytest.param("POST", "/api/v1/modules/m%00/revoke", {}, UNKNOWN_OR_INVALID, id="revoke-module-id-nul"),
]


@pytest.mark.parametrize(("method", "path", "request_kwargs", "status"), OTHER)
def test_bad_input_elsewhere_is_refused_and_changes_nothing(api, stored, method, path, request_kwargs, status):
    """Bad queries and bodies on the other routes get their 4xx problem and change nothing."""
    url = path.format(request=f"{REQUESTS}/{stored.code}")
    response = send(api, method, url, stored.token, request_kwargs)
    assert_problem(response, status)
    assert snapshot(api, stored) == stored.snapshot


def test_validation_problem_names_the_field(api, stored):
    """A 422 says which field is wrong, in its detail and in its list of errors."""
    response = api.create(stored.token, {"description": "x", "end_customer": {"name": "n" * 101}})
    problem = assert_problem(response, 422, code="invalid_request")
    assert "end_customer.name" in problem["detail"]
    assert [error["field"] for error in problem["errors"]] == ["body.end_customer.name"]


def test_malformed_json_problem_says_so(api, stored):
    """Malformed JSON is a 400 with the code ``malformed_json``."""
    response = api.client.post(REQUESTS, content=b"{", headers={**bearer(stored.token), **JSON})
    problem = assert_problem(response, 400, code="malformed_json")
    assert "JSON" in problem["detail"]


def test_the_largest_allowed_fields_are_accepted(api, server):
    """Exactly 4000 characters of description, 100 of name and 254 of email are fine."""
    tenant = make_tenant(server.database_url)
    email = "e" * 242 + "@example.com"
    fields = {"description": "d" * 4000, "end_customer": {"name": "n" * 100, "email": email}}
    created = api.created(tenant.supporter_token, fields)
    read_back = api.get(created["code"], tenant.supporter_token).json()
    assert (read_back["description"], read_back["end_customer"]) == (fields["description"], fields["end_customer"])


def test_multiline_description_and_unicode_are_accepted(api, server):
    """Newlines and tabs in a description and any real Unicode text are kept as sent."""
    tenant = make_tenant(server.database_url)
    fields = {"description": "Zeile 1\n\tZeile 2 — 🖨️🔥", "end_customer": {"name": "Ωμέγα 李雷"},
              "diagnostics": {"emoji": "🔥", "nested": {"a": [1, 2.5, None, "x"]}}}
    created = api.created(tenant.supporter_token, fields)
    read_back = api.get(created["code"], tenant.supporter_token).json()
    assert read_back["description"] == fields["description"]
    assert read_back["end_customer"]["name"] == "Ωμέγα 李雷"
    assert read_back["diagnostics"] == json.loads(json.dumps(fields["diagnostics"]))


def test_chunked_body_within_the_limit_is_accepted(api, server):
    """A body sent in chunks without Content-Length is read whole when it fits the limit."""
    tenant = make_tenant(server.database_url)
    payload = json.dumps({"description": "chunked " + "x" * 3900, "diagnostics": {"log": "y" * 7000}}).encode()
    pieces = (payload[i:i + 1000] for i in range(0, len(payload), 1000))
    response = api.client.post(REQUESTS, content=pieces, headers={**bearer(tenant.supporter_token), **JSON})
    assert response.status_code == 201, response.text
    assert api.get(response.json()["code"], tenant.supporter_token).json()["description"].startswith("chunked xxx")


def test_nul_in_assignee_filter_is_not_an_error_of_the_server(api, stored):
    """A NUL in ``assignee`` matches nobody or is refused as invalid, never a 5xx."""
    response = send(api, "GET", REQUESTS, stored.token, {"params": {"assignee": "\x00"}})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["items"] == []
    assert snapshot(api, stored) == stored.snapshot
