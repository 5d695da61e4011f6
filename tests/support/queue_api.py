"""A thin HTTP client for the queue API, and checks for its problem answers."""

import time
from collections.abc import Callable

import httpx

from tests.support.tenants import bearer

REQUESTS = "/api/v1/service-requests"
CODE_PATTERN = r"s\d\d-\d\d\d-\d\d\d"


class QueueApi:
    """Calls one running server over loopback; every method returns the raw response."""

    def __init__(self, base_url: str):
        self.client = httpx.Client(base_url=base_url, timeout=20)

    def close_client(self) -> None:
        self.client.close()

    def create(self, token: str, body: dict | None = None, *, key: str | None = None, params: dict | None = None):
        headers = bearer(token) | ({"Idempotency-Key": key} if key is not None else {})
        payload = {"description": "my printer is on fire"} if body is None else body
        return self.client.post(REQUESTS, json=payload, headers=headers, params=params)

    def created(self, token: str, body: dict | None = None, **kwargs) -> dict:
        """Create and insist on 201; returns the body."""
        response = self.create(token, body, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    def get(self, code: str, token: str):
        return self.client.get(f"{REQUESTS}/{code}", headers=bearer(token))

    def history(self, code: str, token: str) -> list[dict]:
        response = self.client.get(f"{REQUESTS}/{code}/history", headers=bearer(token))
        assert response.status_code == 200, response.text
        return response.json()

    def listing(self, token: str, **params):
        return self.client.get(REQUESTS, headers=bearer(token), params=params)

    def all_items(self, token: str, **params) -> list[dict]:
        """Every item of the list, following cursors page by page."""
        items, cursor = [], None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            response = self.listing(token, **query)
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["items"]
            cursor = page["next"]
            if not cursor:
                return items

    def codes(self, token: str, **params) -> list[str]:
        return [item["code"] for item in self.all_items(token, limit=200, **params)]

    def action(self, code: str, verb: str, token: str):
        """POST /{code}/join|leave|close."""
        return self.client.post(f"{REQUESTS}/{code}/{verb}", headers=bearer(token))

    def assign(self, code: str, token: str, user: str | None):
        return self.client.post(f"{REQUESTS}/{code}/assign", json={"user": user}, headers=bearer(token))

    def new_group(self, admin_token: str, name: str, members: list[str] = ()) -> str:
        """Create the group ``name`` with the users of these emails; returns its name."""
        response = self.call("POST", "/api/v1/groups", admin_token, json={"name": name, "members": list(members)})
        assert response.status_code == 201, response.text
        return name

    def set_topics(self, admin_token: str, module_id: str, topics: list[dict]):
        """Give the module these topics (``{label, group}``) with the default brand; returns the response."""
        return self.call("PUT", f"/api/v1/modules/{module_id}/brand", admin_token, json={"options": {"topics": topics}})

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def assert_problem(response: httpx.Response, status: int | tuple[int, ...], code: str | None = None) -> dict:
    """The response is an RFC 9457 problem with this status (or one of these), a human detail and maybe a code."""
    allowed = (status,) if isinstance(status, int) else status
    assert response.status_code in allowed, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert problem["status"] == response.status_code
    assert isinstance(problem["detail"], str) and problem["detail"].strip(), problem
    if code is not None:
        assert problem["code"] == code, problem
    return problem


def wait_for(check: Callable[[], object], *, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    """Poll ``check`` until it returns something truthy; fail after a generous ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
