"""``kill -9`` in the middle of a creation load loses nothing that was acknowledged."""

import threading
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.polling import eventually
from tests.support.servers import QueueServer
from tests.support.tenants import bearer, make_tenant

LOAD_THREADS = 4
ACKED_BEFORE_KILL = 60


@dataclass
class Load:
    """What the clients sent and what the server answered, per Idempotency-Key."""

    acked: dict[str, str] = field(default_factory=dict)  # key -> code of the 201
    unacked: set[str] = field(default_factory=set)  # no answer: the server died mid-request
    refused: list[str] = field(default_factory=list)  # answers that were neither 201 nor a dead server
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def body_for(key: str) -> dict:
    return {"description": f"crash load {key}", "end_customer": {"name": "Crash Test", "email": "crash@example.test"}}


def create(client: httpx.Client, base_url: str, token: str, key: str) -> httpx.Response:
    headers = {**bearer(token), "Idempotency-Key": key}
    return client.post(f"{base_url}/api/v1/service-requests", json=body_for(key), headers=headers)


def run_client(load: Load, base_url: str, token: str) -> None:
    with httpx.Client(timeout=30) as client:
        while not load.stop.is_set():
            key = uuid.uuid4().hex
            try:
                response = create(client, base_url, token, key)
            except httpx.TransportError:
                with load.lock:
                    load.unacked.add(key)
                return
            with load.lock:
                if response.status_code == 201:
                    load.acked[key] = response.json()["code"]
                else:
                    load.refused.append(f"{response.status_code} {response.text}")


def all_requests(base_url: str, token: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{base_url}/api/v1/service-requests", params=params, headers=bearer(token), timeout=30)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next"]
        if cursor is None:
            return items


def kill_during_load(server: QueueServer, token: str) -> Load:
    """Clients create requests non-stop; once enough were acknowledged, SIGKILL the server."""
    load = Load()
    threads = [threading.Thread(target=run_client, args=(load, server.url, token)) for _ in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(load.acked) >= ACKED_BEFORE_KILL or load.refused, what="acknowledged creations")
        server.kill()
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)
    return load


@pytest.mark.slow
def test_acknowledged_requests_survive_kill_minus_nine_without_duplicates(backend, make_database_url, tmp_path):
    """After SIGKILL mid-load and a restart: every 201 is stored, no code twice, retries do not duplicate."""
    url = make_database_url(backend)
    tenant = make_tenant(url)
    victim = QueueServer(url, log_dir=tmp_path).start()
    try:
        load = kill_during_load(victim, tenant.module_token)
    finally:
        victim.kill()
    assert not load.refused, load.refused
    assert len(load.acked) >= ACKED_BEFORE_KILL

    with QueueServer(url, log_dir=tmp_path) as restarted, httpx.Client(timeout=30) as client:
        for key, code in load.acked.items():
            found = client.get(f"{restarted.url}/api/v1/service-requests/{code}", headers=bearer(tenant.admin_token))
            assert found.status_code == 200, f"acknowledged {code} is gone: {found.text}"
            assert found.json()["description"] == body_for(key)["description"]

        retried = {}
        for key in load.unacked:
            response = create(client, restarted.url, tenant.module_token, key)
            assert response.status_code == 201, response.text
            retried[key] = response.json()["code"]

        stored = all_requests(restarted.url, tenant.admin_token)
    codes = [item["code"] for item in stored]
    assert len(codes) == len(set(codes)), "a code was stored twice"
    # Every key filed exactly one request: the acknowledged ones, plus each retried one once.
    assert sorted(codes) == sorted([*load.acked.values(), *retried.values()])
    descriptions = [item["description"] for item in stored]
    assert len(descriptions) == len(set(descriptions)), "a retry created a second request"
