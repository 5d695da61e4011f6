"""Concurrent creations through a real server, which files them in shared commits (server.group_commit):
each is stored once under its own code, its events go out once, and one that fails (an idempotency
key reused with another body, a caller over its allowance) fails alone."""

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.databases import own_server
from tests.support.queue_api import CODE_PATTERN, REQUESTS, assert_problem
from tests.support.sse import EventStream
from tests.support.tenants import bearer, make_tenant

CONCURRENT = 24
BURST = 3


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory):
    """A server of its own with a tight creation allowance, so that some creations of a burst are refused."""
    env = {"SOSQUEUE_CREATE_RATE_PER_MINUTE": "1", "SOSQUEUE_CREATE_BURST": str(BURST)}
    with own_server(backend, request, tmp_path_factory, env=env) as running:
        yield running


def create_at_once(server, calls: list[tuple[str, dict, str | None]]) -> list[httpx.Response]:
    """POST every (token, body, idempotency key) at the same time, each on a connection of its own."""

    def create(call):
        token, body, key = call
        headers = {**bearer(token), **({"Idempotency-Key": key} if key else {})}
        with httpx.Client(base_url=server.url, timeout=60) as client:
            return client.post(REQUESTS, json=body, headers=headers)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(create, calls))


def modules(server, count: int) -> list:
    """``count`` tenants, each with a module of its own (one allowance each) and a supporter to read."""
    return [make_tenant(server.database_url, supporters=1) for _ in range(count)]


def stored_codes(server, tenant) -> set[str]:
    response = httpx.get(f"{server.url}{REQUESTS}", params={"limit": 200},
                         headers=bearer(tenant.supporter_token), timeout=30)
    assert response.status_code == 200, response.text
    return {item["code"] for item in response.json()["items"]}


def body(n: int) -> dict:
    return {"description": f"printer {n} prints blank pages", "end_customer": {"name": f"Customer {n}"}}


def test_concurrent_creations_get_distinct_codes_and_are_all_stored(server):
    """Creations sent at once by many modules: each answered 201 with its own code, and each stored."""
    tenants = modules(server, CONCURRENT // BURST)
    calls = [(tenant.module_token, body(n), None) for tenant in tenants for n in range(BURST)]
    answers = create_at_once(server, calls)
    assert [a.status_code for a in answers] == [201] * len(calls), [a.text for a in answers]
    codes = [a.json()["code"] for a in answers]
    assert all(re.fullmatch(CODE_PATTERN, code) for code in codes)
    assert len(set(codes)) == len(codes)
    for tenant, answered in zip(tenants, (codes[i:i + BURST] for i in range(0, len(codes), BURST))):
        assert stored_codes(server, tenant) == set(answered)


def test_a_caller_over_its_allowance_fails_alone(server):
    """One module sends more than its burst while others file: its extra creations get 429 and store
    nothing; every other creation of the same moment is stored."""
    greedy, *others = modules(server, 4)
    calls = [(greedy.module_token, body(n), None) for n in range(BURST + 5)]
    calls += [(tenant.module_token, body(n), None) for tenant in others for n in range(BURST)]
    answers = create_at_once(server, calls)
    greedy_answers, other_answers = answers[:BURST + 5], answers[BURST + 5:]
    assert sorted(a.status_code for a in greedy_answers) == [201] * BURST + [429] * 5
    for refused in (a for a in greedy_answers if a.status_code == 429):
        assert_problem(refused, 429, code="rate_limited")
    assert [a.status_code for a in other_answers] == [201] * len(other_answers), [a.text for a in other_answers]
    assert stored_codes(server, greedy) == {a.json()["code"] for a in greedy_answers if a.status_code == 201}


def test_an_idempotency_mismatch_fails_alone_and_retries_replay(server):
    """At the same moment: a retry of one key (answered with its request), a reuse of that key with
    another body (refused), and plain creations (all stored). Replays draw on the allowance too: the
    three calls of the keyed module stay within its burst."""
    keyed, *others = modules(server, 4)
    key = "batched-retry-1"
    first = create_at_once(server, [(keyed.module_token, body(0), key)])[0]
    assert first.status_code == 201, first.text
    calls = [(keyed.module_token, body(0), key), (keyed.module_token, body(1), key)]
    calls += [(tenant.module_token, body(n), None) for tenant in others for n in range(BURST)]
    answers = create_at_once(server, calls)
    retry, mismatch, plain = answers[0], answers[1], answers[2:]
    assert retry.status_code == 201, retry.text
    assert retry.json()["code"] == first.json()["code"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(mismatch, 422, code="idempotency_key_reused")
    assert [a.status_code for a in plain] == [201] * len(plain), [a.text for a in plain]
    assert stored_codes(server, keyed) == {first.json()["code"]}
    for tenant, answered in zip(others, (plain[i:i + BURST] for i in range(0, len(plain), BURST))):
        assert stored_codes(server, tenant) == {a.json()["code"] for a in answered}


def test_each_creation_of_a_burst_reaches_the_event_stream_once(server):
    """A company watcher sees one ``created`` event per creation of a burst, none twice, none of a refused one."""
    tenant = make_tenant(server.database_url, supporters=1)
    with EventStream(f"{server.url}/api/v1/events", tenant.supporter_token) as stream:
        answers = create_at_once(server, [(tenant.module_token, body(n), None) for n in range(BURST + 2)])
        filed = {a.json()["code"] for a in answers if a.status_code == 201}
        assert len(filed) == BURST
        marker = httpx.post(f"{server.url}{REQUESTS}", json=body(99), headers=bearer(tenant.supporter_token),
                            timeout=30).json()["code"]
        seen = stream.events_until(lambda m: m.event == "created" and m.json()["code"] == marker)
    created = [m.json()["code"] for m in seen if m.event == "created"]
    assert sorted(created) == sorted([*filed, marker])
