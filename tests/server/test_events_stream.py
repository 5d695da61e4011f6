"""Live event streams (server-sent events) of a real server: company queue and single request."""

import re

import httpx
import pytest

from server.api.routes.events import STARTING_AFRESH
from server.event_ids import PATTERN
from tests.support.databases import own_server
from tests.support.sse import EventStream
from tests.support.tenants import bearer, file_request, make_tenant


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory):
    """The module's server, with a short keepalive so that idle streams show their comments."""
    env = {"SOSQUEUE_KEEPALIVE_SECONDS": "0.5"}
    with own_server(backend, request, tmp_path_factory, env=env) as running:
        yield running


def company_stream(server, token: str, **kwargs) -> EventStream:
    return EventStream(f"{server.url}/api/v1/events", token, **kwargs)


def request_stream(server, code: str, token: str, **kwargs) -> EventStream:
    return EventStream(f"{server.url}/api/v1/service-requests/{code}/events", token, **kwargs)


def act(server, code: str, action: str, token: str) -> dict:
    response = httpx.post(f"{server.url}/api/v1/service-requests/{code}/{action}", headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def history(server, code: str, token: str) -> list[dict]:
    response = httpx.get(f"{server.url}/api/v1/service-requests/{code}/history", headers=bearer(token), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def is_event(type_: str, code: str):
    return lambda message: message.event == type_ and message.json()["code"] == code


def test_module_request_appears_on_company_stream_as_created_and_assigned(server):
    """A request filed by a module reaches the company stream: created, then assigned, with its code."""
    tenant = make_tenant(server.database_url, assignment="fixed:{first}")
    with company_stream(server, tenant.supporter_token) as stream:
        created = file_request(server.url, tenant.module_token)
        events = stream.events_until(is_event("assigned", created["code"]))
    assert [m.event for m in events] == ["created", "assigned"]
    assert all(m.json()["code"] == created["code"] for m in events)
    assert events[0].json()["data"] == {"source": "module"}
    assert events[1].json()["data"]["assignee"] == created["assignee"]["id"]
    assert [m.id for m in events] == [m.json()["id"] for m in events]
    assert [m.id for m in events] == [e["id"] for e in history(server, created["code"], tenant.admin_token)[:2]]


def test_manual_request_appears_on_company_stream_with_its_creator(server):
    """A request a supporter creates by hand reaches the company stream as created by that user."""
    tenant = make_tenant(server.database_url)
    with company_stream(server, tenant.admin_token) as stream:
        created = file_request(server.url, tenant.supporter_token)
        event = stream.next_event()
    assert event.event == "created"
    assert event.json()["code"] == created["code"]
    supporter = next(iter(tenant.supporter_tokens))
    assert event.json()["actor"] == {"type": "user", "id": tenant.user_ids[supporter]}


def test_request_stream_starts_with_a_snapshot_of_the_request(server):
    """The customer's stream opens with the request as it is now."""
    tenant = make_tenant(server.database_url)
    created = file_request(server.url, tenant.module_token, description="snapshot please")
    with request_stream(server, created["code"], created["customer_token"]) as stream:
        first = stream.next_event()
    assert first.event == "snapshot"
    assert first.id is None
    snapshot = first.json()
    assert snapshot["code"] == created["code"]
    assert snapshot["status"] == "new"
    assert snapshot["description"] == "snapshot please"
    assert "customer_token" not in snapshot


def test_join_and_close_reach_the_request_stream(server):
    """Expert join, customer join and close arrive on the request stream with the new statuses."""
    tenant = make_tenant(server.database_url)
    created = file_request(server.url, tenant.module_token)
    code, customer = created["code"], created["customer_token"]
    with request_stream(server, code, customer) as stream:
        assert stream.next_event().event == "snapshot"
        act(server, code, "join", tenant.supporter_token)
        act(server, code, "join", customer)
        act(server, code, "close", tenant.supporter_token)
        events = stream.events_until(is_event("closed", code))
    summary = [(m.event, m.json()["status"]) for m in events]
    assert summary == [
        ("joined", "pending"),
        ("status_changed", "pending"),
        ("joined", "in_progress"),
        ("status_changed", "in_progress"),
        ("closed", "closed"),
    ]
    assert events[1].json()["data"] == {"from": "new", "to": "pending"}
    assert events[3].json()["data"] == {"from": "pending", "to": "in_progress"}


def test_customer_close_reaches_the_company_stream(server):
    """When the customer closes the request, the company's watchers see it closed by the customer."""
    tenant = make_tenant(server.database_url)
    created = file_request(server.url, tenant.module_token)
    with company_stream(server, tenant.supporter_token) as stream:
        act(server, created["code"], "close", created["customer_token"])
        event = stream.events_until(is_event("closed", created["code"]))[-1]
    assert event.json()["actor"]["type"] == "customer"
    assert event.json()["status"] == "closed"


def test_foreign_company_watcher_receives_nothing_of_another_company(server):
    """A watcher of company B sees none of company A's events, only its own."""
    company_a = make_tenant(server.database_url)
    company_b = make_tenant(server.database_url)
    with company_stream(server, company_b.admin_token) as stream:
        foreign = file_request(server.url, company_a.module_token)
        act(server, foreign["code"], "join", company_a.supporter_token)
        act(server, foreign["code"], "close", company_a.supporter_token)
        # B's own request afterwards: everything A caused would have arrived before it.
        marker = file_request(server.url, company_b.module_token)
        events = stream.events_until(is_event("created", marker["code"]))
    assert {m.json()["code"] for m in events} == {marker["code"]}


def test_customer_token_of_another_request_cannot_open_the_stream(server):
    """A customer token opens only its own request's stream; another code answers 404."""
    tenant = make_tenant(server.database_url)
    mine = file_request(server.url, tenant.module_token)
    other = file_request(server.url, tenant.module_token)
    stream = request_stream(server, other["code"], mine["customer_token"]).open()
    try:
        assert stream.status_code == 404
        assert stream.response.headers["content-type"].startswith("application/problem+json")
    finally:
        stream.close()


def test_foreign_user_cannot_open_a_request_stream(server):
    """A user of another company gets 404 for the stream, exactly like an unknown code."""
    owner = make_tenant(server.database_url)
    stranger = make_tenant(server.database_url)
    created = file_request(server.url, owner.module_token)
    stream = request_stream(server, created["code"], stranger.supporter_token).open()
    try:
        assert stream.status_code == 404
    finally:
        stream.close()


def test_company_stream_needs_a_user_token(server):
    """Without a token the company stream answers 401; a module token is refused with 403."""
    tenant = make_tenant(server.database_url)
    anonymous = httpx.get(f"{server.url}/api/v1/events", timeout=10)
    assert anonymous.status_code == 401
    stream = company_stream(server, tenant.module_token).open()
    try:
        assert stream.status_code == 403
    finally:
        stream.close()


def test_last_event_id_resumes_company_stream_with_exactly_the_missed_events(server):
    """Reconnecting with Last-Event-ID delivers the events missed meanwhile, once each, in order."""
    tenant = make_tenant(server.database_url)
    with company_stream(server, tenant.admin_token) as stream:
        created = file_request(server.url, tenant.supporter_token)
        last_seen = stream.next_event()
    code = created["code"]
    act(server, code, "join", tenant.supporter_token)
    act(server, code, "join", created["customer_token"])
    act(server, code, "close", tenant.admin_token)
    events = history(server, code, tenant.admin_token)
    seen = [e["id"] for e in events].index(last_seen.id)
    missed = [(e["id"], e["type"]) for e in events[seen + 1:]]
    with company_stream(server, tenant.admin_token, last_event_id=last_seen.id) as stream:
        marker = file_request(server.url, tenant.supporter_token)
        events = stream.events_until(is_event("created", marker["code"]))
    assert [(m.id, m.event) for m in events[:-1]] == missed
    assert [m.event for m in events[:-1]] == ["joined", "status_changed", "joined", "status_changed", "closed"]


def test_last_event_id_resumes_request_stream_after_its_snapshot(server):
    """The request stream resumed with Last-Event-ID sends the snapshot, then only the missed events."""
    tenant = make_tenant(server.database_url)
    created = file_request(server.url, tenant.module_token)
    code, customer = created["code"], created["customer_token"]
    with request_stream(server, code, customer) as stream:
        stream.next_event()  # snapshot
        act(server, code, "join", customer)
        seen = stream.events_until(is_event("status_changed", code))
    act(server, code, "leave", customer)
    act(server, code, "close", customer)
    with request_stream(server, code, customer, last_event_id=seen[-1].id) as stream:
        snapshot = stream.next_event()
        resumed = stream.events_until(is_event("closed", code))
    assert snapshot.event == "snapshot"
    assert snapshot.json()["status"] == "closed"
    assert [m.event for m in resumed] == ["left", "closed"]
    assert [m.id for m in resumed] == [e["id"] for e in history(server, code, customer)[-2:]]


def test_idle_stream_receives_keepalive_comments(server):
    """A stream with nothing to say still sends keepalive comments, so proxies keep it open."""
    tenant = make_tenant(server.database_url)
    with company_stream(server, tenant.supporter_token) as stream:
        message = stream.next()
    assert message.is_comment
    assert message.comment == "keepalive"


def test_stream_tells_clients_how_long_to_wait_before_reconnecting(server):
    """The stream starts with a retry hint so that browsers reconnect and resume by themselves."""
    tenant = make_tenant(server.database_url)
    with company_stream(server, tenant.supporter_token) as stream:
        assert stream.retry_ms is not None and stream.retry_ms > 0
        assert stream.response.headers["content-type"].startswith("text/event-stream")


def test_a_company_cannot_count_another_companys_events_between_its_own(server):
    """Company A's ids are opaque: two of its events with none of B's between are as far apart as two
    with twenty of B's between (far beyond any count), and its ids do not sort in the order they came."""
    company_a = make_tenant(server.database_url)
    company_b = make_tenant(server.database_url)

    def filed_by_a(stream) -> list[str]:
        code = file_request(server.url, company_a.module_token)["code"]  # created, assigned: nothing between
        return [m.id for m in stream.events_until(is_event("assigned", code))]

    with company_stream(server, company_a.admin_token) as stream:
        quiet = filed_by_a(stream)
        for _ in range(10):  # twenty events of B's
            file_request(server.url, company_b.module_token)
        busy = filed_by_a(stream)
        seen = quiet + busy + [public for _ in range(10) for public in filed_by_a(stream)]
    assert all(re.fullmatch(PATTERN, public) for public in seen), seen
    values = [int(public, 16) for public in seen]
    assert abs(values[1] - values[0]) > 2**32  # no event of B's between
    assert abs(values[2] - values[1]) > 2**32  # twenty of B's between
    assert values != sorted(values) and values != sorted(values, reverse=True)


def test_last_event_id_resumes_the_company_stream_across_a_restart(server):
    """An id sent before the server restarts still resumes exactly after that event: the key stays."""
    tenant = make_tenant(server.database_url)
    with company_stream(server, tenant.admin_token) as stream:
        created = file_request(server.url, tenant.supporter_token)
        last_seen = stream.next_event()
    server.stop()
    server.start()
    act(server, created["code"], "join", tenant.supporter_token)
    with company_stream(server, tenant.admin_token, last_event_id=last_seen.id) as stream:
        marker = file_request(server.url, tenant.supporter_token)
        events = stream.events_until(is_event("created", marker["code"]))
    assert [(m.event, m.json()["code"]) for m in events[:-1]] == [("joined", created["code"]),
                                                                  ("status_changed", created["code"])]


@pytest.mark.parametrize("garbled", ["garbage", "12345", "0123456789abcdef", "FFFFFFFFFFFFFFFF"])
def test_company_stream_starts_afresh_after_an_id_it_did_not_send(server, garbled):
    """A garbled, bare-number or unknown Last-Event-ID is no error: the stream says so in a comment,
    starts from a new position and passes on only what happens from then on."""
    tenant = make_tenant(server.database_url)
    file_request(server.url, tenant.module_token)  # the backlog, had the id resumed anything
    with company_stream(server, tenant.admin_token, last_event_id=garbled) as stream:
        assert stream.status_code == 200
        assert stream.next().comment == STARTING_AFRESH
        assert re.fullmatch(PATTERN, stream.position())
        marker = file_request(server.url, tenant.module_token)
        events = stream.events_until(is_event("assigned", marker["code"]))
    assert [m.event for m in events] == ["created", "assigned"]
    assert {m.json()["code"] for m in events} == {marker["code"]}


def test_another_companys_event_id_does_not_resume_a_stream(server):
    """An id company B's stream sent, given to company A's, names nothing of A's: A's stream starts afresh."""
    company_a = make_tenant(server.database_url)
    company_b = make_tenant(server.database_url)
    with company_stream(server, company_b.admin_token) as stream:
        foreign = stream.events_until(is_event("created", file_request(server.url, company_b.module_token)["code"]))
    file_request(server.url, company_a.module_token)  # after B's event: the backlog, had B's id resumed A's stream
    with company_stream(server, company_a.admin_token, last_event_id=foreign[-1].id) as stream:
        assert stream.next().comment == STARTING_AFRESH
        marker = file_request(server.url, company_a.module_token)
        events = stream.events_until(is_event("created", marker["code"]))
    assert [m.json()["code"] for m in events] == [marker["code"]]


def test_request_stream_starts_afresh_with_its_snapshot_after_another_requests_id(server):
    """The customer's stream given an id it did not send (another request's) still opens with the
    snapshot and goes on live, never with an error that the agent would take for the request's end."""
    tenant = make_tenant(server.database_url)
    other = file_request(server.url, tenant.module_token)
    created = file_request(server.url, tenant.module_token)
    code, customer = created["code"], created["customer_token"]
    other_id = history(server, other["code"], tenant.admin_token)[0]["id"]
    with request_stream(server, code, customer, last_event_id=other_id) as stream:
        assert stream.status_code == 200
        assert stream.next().comment == STARTING_AFRESH
        snapshot = stream.next_event()
        act(server, code, "join", customer)
        joined = stream.next_event()
    assert (snapshot.event, snapshot.json()["status"]) == ("snapshot", "new")
    assert (joined.event, joined.json()["code"]) == ("joined", code)


def test_a_request_streams_position_tells_nothing_of_the_companys_other_requests(server):
    """A fresh request stream starts after the request's own latest event, whatever else the company did."""
    tenant = make_tenant(server.database_url)
    created = file_request(server.url, tenant.module_token)
    with request_stream(server, created["code"], created["customer_token"]) as stream:
        position = stream.position()
    file_request(server.url, tenant.module_token)
    with request_stream(server, created["code"], created["customer_token"]) as stream:
        assert stream.position() == position
    assert position == history(server, created["code"], created["customer_token"])[-1]["id"]
