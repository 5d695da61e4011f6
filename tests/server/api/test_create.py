"""Filing service requests over HTTP: manual, module and SOS creation, codes, groups, idempotency."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete

from server.db import Database
from server.models import Group
from tests.support.queue_api import CODE_PATTERN, REQUESTS, assert_problem
from tests.support.tenants import bearer, make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url, supporters=2)


@pytest.fixture
def grouped(server, api):
    """A tenant whose module files into a group; returns (tenant, group name)."""
    tenant = make_tenant(server.database_url, supporters=1, group_members=1)
    groups = api.call("GET", "/api/v1/groups", tenant.admin_token).json()["items"]
    return tenant, groups[0]["name"]


def test_user_creates_manual_request_with_201_location_and_customer_token(api, tenant):
    """A user's token files a manual request; the answer points at it and carries a customer token."""
    response = api.create(tenant.supporter_token, {"description": "screen is black"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source"] == "manual"
    assert body["status"] == "new"
    assert body["description"] == "screen is black"
    assert response.headers["Location"] == f"{REQUESTS}/{body['code']}"
    assert body["customer_token"].startswith("sqc_")
    assert api.get(body["code"], tenant.supporter_token).json()["code"] == body["code"]


def test_module_token_creates_module_request(api, tenant):
    """A module token files a request with source ``module``."""
    body = api.created(tenant.module_token)
    assert body["source"] == "module"
    assert body["status"] == "new"


def test_sos_source_is_recorded_for_module_requests(api, tenant):
    """``?source=sos`` marks a module's request as coming from the desktop SOS button."""
    body = api.created(tenant.module_token, params={"source": "sos"})
    assert body["source"] == "sos"
    assert api.get(body["code"], tenant.supporter_token).json()["source"] == "sos"


def test_users_cannot_claim_a_source(api, tenant):
    """A user's request is always manual; asking for ``source=sos`` is refused and files nothing."""
    response = api.create(tenant.supporter_token, params={"source": "sos"})
    assert_problem(response, 422)
    assert api.codes(tenant.supporter_token) == []


@pytest.mark.parametrize("field", ["waiting_message", "custom_api"])
def test_a_module_cannot_set_what_only_the_company_s_users_set(api, tenant, field):
    """A module's token ships inside every download: it files no waiting message and no integration data."""
    assert_problem(api.create(tenant.module_token, {"description": "help", field: "from the customer"}), 403,
                   "forbidden")
    assert api.codes(tenant.supporter_token) == []
    filed = api.create(tenant.supporter_token, {"description": "help", field: "from a supporter"})
    assert filed.status_code == 201, filed.text


def test_custom_api_that_no_database_can_store_is_refused(api, tenant):
    assert_problem(api.create(tenant.supporter_token, {"description": "help", "custom_api": "a\x00b"}), 422)
    assert api.codes(tenant.supporter_token) == []


def test_unknown_source_is_refused(api, tenant):
    """Only ``module`` and ``sos`` are sources a module may name."""
    assert_problem(api.create(tenant.module_token, params={"source": "fax"}), 422)
    assert api.codes(tenant.supporter_token) == []


def test_code_has_the_session_code_format(api, tenant):
    """Codes read ``s12-345-678``."""
    for token in (tenant.supporter_token, tenant.module_token):
        assert re.fullmatch(CODE_PATTERN, api.created(token)["code"])


def test_codes_are_unique_and_not_sequential(api, tenant):
    """Many creations get distinct codes that do not simply count up."""
    codes = [api.created(tenant.module_token)["code"] for _ in range(60)]
    assert len(set(codes)) == len(codes)
    numbers = [int(code[1:].replace("-", "")) for code in codes]
    steps = {later - earlier for earlier, later in zip(numbers, numbers[1:])}
    assert steps != {1}
    assert sorted(api.codes(tenant.supporter_token)) == sorted(codes)


def test_valid_until_is_creation_time_plus_expiry(api, tenant):
    """With the default 24 h expiry a request is valid exactly 24 h after its creation."""
    body = api.created(tenant.supporter_token)
    created = datetime.fromisoformat(body["created_at"])
    valid_until = datetime.fromisoformat(body["valid_until"])
    assert created.utcoffset() == timedelta(0)
    assert valid_until - created == timedelta(hours=24)
    assert body["closed_at"] is None and body["closed_by"] is None


def test_end_customer_and_diagnostics_are_stored_and_returned(api, tenant):
    """What the creator sends about the customer and their machine comes back on every read."""
    diagnostics = {"os": "Windows 11", "ram_mb": 8192, "disks": [{"name": "C:", "free": 0.25}], "ok": True}
    body = api.created(
        tenant.module_token,
        {"description": "Kein Ton\nseit gestern", "end_customer": {"name": "Jürgen Groß", "email": "j@example.test"},
         "diagnostics": diagnostics},
    )
    stored = api.get(body["code"], tenant.supporter_token).json()
    assert stored["diagnostics"] == diagnostics
    assert stored["end_customer"] == {"name": "Jürgen Groß", "email": "j@example.test"}
    assert stored["description"] == "Kein Ton\nseit gestern"


def test_request_without_diagnostics_has_null_diagnostics(api, tenant):
    """Diagnostics are optional."""
    assert api.created(tenant.supporter_token)["diagnostics"] is None


def test_module_files_requests_into_its_group(api, grouped):
    """A module that belongs to a group files every request into that group."""
    tenant, group = grouped
    assert api.created(tenant.module_token)["group"] == group
    assert api.created(tenant.module_token, {"description": "x", "group": group})["group"] == group


def test_module_naming_another_group_gets_404(api, grouped):
    """A module cannot file into a group other than its own, even one of its own company."""
    tenant, _group = grouped
    other = api.call("POST", "/api/v1/groups", tenant.admin_token, json={"name": "night shift"})
    assert other.status_code == 201, other.text
    response = api.create(tenant.module_token, {"description": "x", "group": "night shift"})
    assert_problem(response, 404)
    assert api.codes(tenant.admin_token) == []


def test_user_files_into_an_existing_group(api, grouped):
    """A user may name one of the company's groups."""
    tenant, group = grouped
    assert api.created(tenant.admin_token, {"description": "x", "group": group})["group"] == group


def test_user_naming_unknown_group_gets_404(api, tenant):
    """An unknown group is a 404 and files nothing."""
    assert_problem(api.create(tenant.supporter_token, {"description": "x", "group": "no such team"}), 404)
    assert api.codes(tenant.supporter_token) == []


def test_ungrouped_module_request_has_no_group(api, tenant):
    """A module without a group files requests without a group."""
    assert api.created(tenant.module_token)["group"] is None


# -- Idempotency-Key ------------------------------------------------------------------------


def test_retry_with_same_key_and_body_returns_the_same_request(api, tenant):
    """A retried creation with the same key is answered with the first request, marked replayed."""
    body = {"description": "retry me", "end_customer": {"name": "Ann"}}
    first = api.create(tenant.module_token, body, key="retry-1")
    again = api.create(tenant.module_token, body, key="retry-1")
    assert first.status_code == 201 and again.status_code == 201, again.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["code"] == first.json()["code"]
    assert again.json()["customer_token"] == first.json()["customer_token"]
    assert api.codes(tenant.supporter_token) == [first.json()["code"]]


def test_same_key_with_different_body_is_refused(api, tenant):
    """Reusing a key for a different request is a 422, and the first request stays the only one."""
    first = api.created(tenant.supporter_token, {"description": "one"}, key="k-1")
    response = api.create(tenant.supporter_token, {"description": "two"}, key="k-1")
    assert_problem(response, 422, code="idempotency_key_reused")
    assert api.codes(tenant.supporter_token) == [first["code"]]


def test_different_principals_use_the_same_key_independently(api, tenant):
    """Keys belong to their caller: two users and a module may all use key ``abc``."""
    tokens = [*tenant.supporter_tokens.values(), tenant.module_token]
    codes = [api.created(token, key="abc")["code"] for token in tokens]
    assert len(set(codes)) == len(tokens)
    assert sorted(api.codes(tenant.admin_token)) == sorted(codes)


def test_requests_without_key_are_never_merged(api, tenant):
    """Two identical creations without a key are two requests."""
    first = api.created(tenant.supporter_token)
    second = api.created(tenant.supporter_token)
    assert first["code"] != second["code"]


def test_concurrent_retries_with_one_key_file_one_request(api, server, tenant):
    """Retries racing each other with the same key all get the same request, never an error."""
    clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(10)]
    try:
        for round_number in range(3):
            barrier = threading.Barrier(len(clients))

            def create(client, key=f"race-{round_number}"):
                barrier.wait()
                return client.post(REQUESTS, json={"description": "same"},
                                   headers={**bearer(tenant.module_token), "Idempotency-Key": key})

            with ThreadPoolExecutor(len(clients)) as pool:
                answers = list(pool.map(create, clients))
            assert [a.status_code for a in answers] == [201] * len(clients), [a.text for a in answers]
            assert len({a.json()["code"] for a in answers}) == 1
    finally:
        for client in clients:
            client.close()
    assert len(api.codes(tenant.supporter_token)) == 3


# -- topics --------------------------------------------------------------------------------


@pytest.fixture
def with_topics(server, api):
    """A tenant whose module (filing into its own group) offers "Billing" (group "billing-…"), "Other"
    (the module's group) and "Lost" (a group deleted since); returns (tenant, billing group, module group)."""
    tenant = make_tenant(server.database_url, supporters=2, group_members=1)
    module_group = api.call("GET", "/api/v1/groups", tenant.admin_token).json()["items"][0]["name"]
    billing = api.new_group(tenant.admin_token, f"billing-{module_group}", [list(tenant.supporter_tokens)[1]])
    lost = api.new_group(tenant.admin_token, f"lost-{module_group}")
    topics = [{"label": "Billing", "group": billing}, {"label": "Other", "group": ""}, {"label": "Lost", "group": lost}]
    assert api.set_topics(tenant.admin_token, tenant.module_id, topics).status_code == 200
    delete_group(server.database_url, lost)
    return tenant, billing, module_group


def delete_group(database_url: str, name: str) -> None:
    database = Database(database_url)
    try:
        with database.write() as session:
            session.execute(delete(Group).where(Group.name == name))
    finally:
        database.dispose()


def created_event(api, code: str, token: str) -> dict:
    return api.history(code, token)[0]


def test_a_module_request_with_a_topic_goes_to_the_topics_group_and_carries_it(api, with_topics):
    tenant, billing, _module_group = with_topics
    body = api.created(tenant.module_token, {"description": "invoice twice", "topic": "Billing"})
    assert (body["topic"], body["group"]) == ("Billing", billing)
    assert api.get(body["code"], tenant.admin_token).json()["topic"] == "Billing"
    assert created_event(api, body["code"], tenant.admin_token)["data"] == {"source": "module"}


def test_a_topic_without_a_group_keeps_the_modules_group(api, with_topics):
    tenant, _billing, module_group = with_topics
    body = api.created(tenant.module_token, {"description": "hello", "topic": "Other"}, params={"source": "sos"})
    assert (body["topic"], body["group"], body["source"]) == ("Other", module_group, "sos")


def test_a_topic_whose_group_was_deleted_is_filed_for_the_modules_group_and_says_so(api, with_topics):
    tenant, _billing, module_group = with_topics
    body = api.created(tenant.module_token, {"description": "hello", "topic": "Lost"})
    assert (body["topic"], body["group"]) == ("Lost", module_group)
    routing = created_event(api, body["code"], tenant.admin_token)["data"]["routing"]
    assert "'Lost'" in routing and "no longer exists" in routing and "module's own group" in routing


def test_a_topic_the_module_no_longer_offers_is_filed_for_its_group_never_lost(api, with_topics):
    """A customer's pick from topics changed since (or from the agent's outbox) still reaches the queue."""
    tenant, _billing, module_group = with_topics
    body = api.created(tenant.module_token, {"description": "hello", "topic": "Shipping"})
    assert (body["topic"], body["group"]) == ("Shipping", module_group)
    routing = created_event(api, body["code"], tenant.admin_token)["data"]["routing"]
    assert routing == "topic 'Shipping' is not one of the module's topics (any more): filed for the module's own group"


def test_a_topic_label_is_matched_exactly(api, with_topics):
    tenant, _billing, module_group = with_topics
    body = api.created(tenant.module_token, {"description": "hello", "topic": "billing"})
    assert body["group"] == module_group
    assert "routing" in created_event(api, body["code"], tenant.admin_token)["data"]


def test_a_module_request_without_a_topic_goes_to_the_modules_group(api, with_topics):
    tenant, _billing, module_group = with_topics
    body = api.created(tenant.module_token)
    assert (body["topic"], body["group"]) == ("", module_group)


def test_a_user_may_give_any_topic(api, with_topics):
    tenant, _billing, _module_group = with_topics
    body = api.created(tenant.supporter_token, {"description": "phoned in", "topic": "Phone call"})
    assert (body["topic"], body["group"]) == ("Phone call", None)


@pytest.mark.parametrize("topic", ["", "x" * 61, "two\nlines"])
def test_a_topic_that_is_no_label_is_a_422_saying_so(api, with_topics, topic):
    tenant, _billing, _module_group = with_topics
    problem = assert_problem(api.create(tenant.module_token, {"description": "hello", "topic": topic}), 422)
    assert "topic" in problem["detail"]
