"""Get next through two server processes on one PostgreSQL database: no request is taken twice."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.servers import processes_on_one_database
from tests.support.tenants import bearer, file_request, make_tenant

pytestmark = pytest.mark.postgres

REQUESTS = 60
PRESSES = 90  # more than there is to take: the last presses find nothing


@pytest.fixture(scope="module")
def pair(postgres, tmp_path_factory):
    with processes_on_one_database(postgres, tmp_path_factory.mktemp("logs")) as servers:
        yield servers


def test_two_supporters_pressing_get_next_on_two_processes_take_every_request_exactly_once(pair):
    server_a, server_b = pair
    tenant = make_tenant(server_a.database_url, supporters=2, group_members=2)
    filed = {file_request(server_a.url, tenant.module_token)["code"] for _ in range(REQUESTS)}
    supporters = list(tenant.supporter_tokens.values())

    def press(index: int) -> tuple[int, str | None]:
        server, token = pair[index % 2], supporters[(index // 2) % 2]  # each supporter on both servers
        response = httpx.post(f"{server.url}/api/v1/queue/next", headers=bearer(token), timeout=30)
        assert response.status_code in (200, 204), response.text
        return index, response.json()["code"] if response.status_code == 200 else None

    with ThreadPoolExecutor(16) as pool:
        taken = [code for _, code in pool.map(press, range(PRESSES)) if code]

    assert Counter(taken).most_common(1)[0][1] == 1
    assert set(taken) == filed
    listed = httpx.get(f"{server_b.url}/api/v1/service-requests", params={"assignee": "none", "limit": 200},
                       headers=bearer(tenant.admin_token), timeout=30).json()["items"]
    assert listed == []
