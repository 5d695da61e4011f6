"""Two server processes sharing one PostgreSQL database behave like one queue."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.servers import processes_on_one_database
from tests.support.sse import EventStream
from tests.support.tenants import bearer, file_request, make_tenant

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pair(postgres, tmp_path_factory):
    """Servers A and B on the same PostgreSQL database."""
    with processes_on_one_database(postgres, tmp_path_factory.mktemp("logs")) as servers:
        yield servers


def all_codes(base_url: str, token: str) -> list[str]:
    """Every code of the caller's company, following the cursor to the last page."""
    codes, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{base_url}/api/v1/service-requests", params=params, headers=bearer(token), timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        codes += [item["code"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return codes


def file_through(servers, token: str, count: int, workers: int = 16) -> list[dict]:
    """``count`` creations from ``workers`` threads, alternating between the servers."""
    def create(index: int) -> dict:
        return file_request(servers[index % len(servers)].url, token, description=f"load {index}")

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(create, range(count)))


def test_event_caused_on_one_server_reaches_a_watcher_on_the_other(pair):
    """A request filed through server A shows up on a company stream connected to server B."""
    server_a, server_b = pair
    tenant = make_tenant(server_a.database_url)
    with EventStream(f"{server_b.url}/api/v1/events", tenant.supporter_token) as stream:
        created = file_request(server_a.url, tenant.module_token)
        event = stream.next_event()
    assert event.event == "created"
    assert event.json()["code"] == created["code"]


def test_request_stream_on_one_server_follows_changes_made_on_the_other(pair):
    """The customer watching through server B sees an expert's join made through server A."""
    server_a, server_b = pair
    tenant = make_tenant(server_a.database_url)
    created = file_request(server_a.url, tenant.module_token)
    code = created["code"]
    with EventStream(f"{server_b.url}/api/v1/service-requests/{code}/events", created["customer_token"]) as stream:
        assert stream.next_event().event == "snapshot"
        joined = httpx.post(f"{server_a.url}/api/v1/service-requests/{code}/join",
                            headers=bearer(tenant.supporter_token), timeout=10)
        assert joined.status_code == 200, joined.text
        event = stream.next_event()
    assert (event.event, event.json()["status"]) == ("joined", "pending")


def test_codes_created_concurrently_through_both_servers_are_unique_and_all_listed(pair):
    """200 creations split across both servers give 200 distinct codes, and the queue lists them all."""
    server_a, server_b = pair
    tenant = make_tenant(server_a.database_url)
    created = file_through(pair, tenant.supporter_token, 200)
    codes = [item["code"] for item in created]
    assert len(set(codes)) == 200
    listed_on_b = all_codes(server_b.url, tenant.admin_token)
    assert sorted(listed_on_b) == sorted(codes)
    assert sorted(all_codes(server_a.url, tenant.admin_token)) == sorted(codes)


def test_customer_token_from_one_server_works_on_the_other(pair):
    """Both servers share the customer-token key, so the customer may reach either one."""
    server_a, server_b = pair
    tenant = make_tenant(server_a.database_url)
    created = file_request(server_a.url, tenant.module_token)
    response = httpx.get(f"{server_b.url}/api/v1/service-requests/{created['code']}",
                         headers=bearer(created["customer_token"]), timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == created["code"]


def test_concurrent_module_creations_through_both_servers_all_succeed(pair):
    """Simultaneous SOS clicks of one module, spread over both servers, are all filed (no 5xx)."""
    server_a, _ = pair
    tenant = make_tenant(server_a.database_url, assignment="none")
    created = file_through(pair, tenant.module_token, 40, workers=8)
    assert len({item["code"] for item in created}) == 40
    assert all(item["assignee"] is None for item in created)


def test_round_robin_across_both_servers_gives_each_supporter_a_fair_share(pair):
    """Round-robin picks made concurrently by two processes still take turns among 3 supporters."""
    server_a, _ = pair
    tenant = make_tenant(server_a.database_url, supporters=3, assignment="round_robin", group_members=3)
    created = file_through(pair, tenant.module_token, 30, workers=6)
    shares = Counter(item["assignee"]["id"] for item in created)
    supporters = {tenant.user_ids[email] for email in tenant.supporter_tokens}
    assert set(shares) == supporters
    assert max(shares.values()) - min(shares.values()) <= 1
