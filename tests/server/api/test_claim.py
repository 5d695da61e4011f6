"""Claiming a request by its code: a support module takes over what a supporter created."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.polling import eventually
from tests.support.queue_api import REQUESTS, QueueApi, assert_problem
from tests.support.servers import QueueServer, sqlite_url
from tests.support.sse import EventStream
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url)


def claim(api: QueueApi, code: str, token: str | None, *, key: str | None = None):
    return api.call("POST", f"{REQUESTS}/{code}/claim", token, headers={"Idempotency-Key": key} if key else {})


def digits(code: str) -> str:
    return re.sub(r"\D", "", code)


def test_module_claims_a_manual_request_and_gets_a_working_customer_token(api, tenant):
    """The answer has the request and a customer token that opens, joins and closes it."""
    manual = api.created(tenant.supporter_token, {"description": "Ann on the phone"})
    response = claim(api, manual["code"], tenant.module_token)
    assert response.status_code == 200, response.text
    claimed = response.json()
    assert claimed["code"] == manual["code"]
    assert claimed["status"] == "new"
    assert claimed["source"] == "manual"
    assert claimed["description"] == "Ann on the phone"
    token = claimed["customer_token"]
    assert api.get(manual["code"], token).status_code == 200
    joined = api.action(manual["code"], "join", token)
    assert joined.status_code == 200, joined.text
    assert joined.json()["status"] == "pending"
    closed = api.action(manual["code"], "close", token).json()
    assert closed["closed_by"] == {"type": "customer", "id": None}


@pytest.mark.parametrize("spell", [lambda d: f"S{d[:2]} {d[2:5]} {d[5:]}", lambda d: d, lambda d: f"s{d}"],
                         ids=["upper-spaced", "bare-digits", "compact"])
def test_claim_accepts_the_code_as_the_customer_types_it(api, tenant, spell):
    """Any spelling of the code the supporter read out finds the request."""
    code = api.created(tenant.supporter_token)["code"]
    response = claim(api, spell(digits(code)), tenant.module_token)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == code


def test_claimed_event_is_in_the_history_with_the_module_as_actor(api, tenant):
    """The claim is recorded as a ``claimed`` event by the module."""
    code = api.created(tenant.supporter_token)["code"]
    claim(api, code, tenant.module_token)
    events = api.history(code, tenant.supporter_token)
    claimed = [event for event in events if event["type"] == "claimed"]
    assert len(claimed) == 1
    assert claimed[0]["actor"] == {"type": "module", "id": tenant.module_id}
    assert claimed[0]["status"] == "new"


def test_supporters_see_the_claim_live(api, tenant, server):
    """A supporter following the request gets the ``claimed`` event on its stream."""
    code = api.created(tenant.supporter_token)["code"]
    with EventStream(f"{server.url}{REQUESTS}/{code}/events", tenant.supporter_token) as stream:
        claim(api, code, tenant.module_token)
        seen = stream.events_until(lambda message: message.event == "claimed")
    assert seen[-1].json()["status"] == "new"


def test_a_claimed_request_cannot_be_claimed_again(api, tenant):
    """Anyone else with the module and the code gets 409 ``already_claimed``, no token, and no claim is recorded."""
    code = api.created(tenant.supporter_token)["code"]
    assert claim(api, code, tenant.module_token).status_code == 200
    again = claim(api, code, tenant.module_token)
    problem = assert_problem(again, 409, "already_claimed")
    assert problem["detail"] == ("this request was already claimed by its code; "
                                 "ask the supporter to create a new request for this customer")
    assert "customer_token" not in again.text
    assert [e["type"] for e in api.history(code, tenant.supporter_token)].count("claimed") == 1


def test_a_claim_with_another_key_is_refused_like_one_without(api, tenant):
    """Only the key of the claim that succeeded proves a retry; any other key is 409."""
    code = api.created(tenant.supporter_token)["code"]
    assert claim(api, code, tenant.module_token, key="first-claimant").status_code == 200
    assert_problem(claim(api, code, tenant.module_token, key="second-claimant"), 409, "already_claimed")
    assert_problem(claim(api, code, tenant.module_token), 409, "already_claimed")


def test_the_claimants_retry_with_its_key_gets_the_same_answer_and_records_nothing(api, tenant):
    """An answer lost on the way (network cut after the commit): the retry with the same key gets it again."""
    code = api.created(tenant.supporter_token)["code"]
    first = claim(api, code, tenant.module_token, key="claim-key-1")
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    api.action(code, "join", first.json()["customer_token"])  # the customer got on before the retry
    retry = claim(api, code, tenant.module_token, key="claim-key-1")
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["customer_token"] == first.json()["customer_token"]
    assert retry.json()["status"] == "pending"  # the request as it is now
    assert [e["type"] for e in api.history(code, tenant.supporter_token)].count("claimed") == 1


def test_the_claimants_key_from_another_module_is_refused(api, tenant):
    """The key proves a retry only from the module that claimed: another module of the company gets 409."""
    code = api.created(tenant.supporter_token)["code"]
    other = api.call("POST", "/api/v1/modules", tenant.admin_token, json={"name": "Kiosk"})
    assert other.status_code == 201, other.text
    assert claim(api, code, tenant.module_token, key="claim-key-2").status_code == 200
    assert_problem(claim(api, code, other.json()["token"], key="claim-key-2"), 409, "already_claimed")


def test_concurrent_claims_of_one_request_yield_exactly_one_token(api, tenant, server):
    """Claims at the same moment (each with its own key, as from different computers): one wins, the rest are 409."""
    claimants = 4
    for _ in range(3):
        code = api.created(tenant.supporter_token)["code"]
        start = threading.Barrier(claimants)

        def attempt(index: int):
            own = QueueApi(server.url)  # a connection of its own, as another computer has
            try:
                start.wait(10)
                return claim(own, code, tenant.module_token, key=f"computer-{index}")
            finally:
                own.close_client()

        with ThreadPoolExecutor(claimants) as pool:
            answers = list(pool.map(attempt, range(claimants)))
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [409] * (claimants - 1), [a.text for a in answers]
        assert all(a.json()["code"] == "already_claimed" for a in answers if a.status_code == 409)
        assert [e["type"] for e in api.history(code, tenant.supporter_token)].count("claimed") == 1


def test_claim_does_not_change_the_request(api, tenant):
    """Claiming only records the claim: status, assignee and description stay as they were."""
    code = api.created(tenant.supporter_token, {"description": "as typed by the supporter"})["code"]
    before = api.get(code, tenant.supporter_token).json()
    claim(api, code, tenant.module_token)
    after = api.get(code, tenant.supporter_token).json()
    assert after == before


@pytest.mark.parametrize("who", ["supporter", "admin"])
def test_user_tokens_cannot_claim(api, tenant, who):
    """Only a support module claims: a user's token is 403 and nothing is recorded."""
    code = api.created(tenant.supporter_token)["code"]
    token = tenant.supporter_token if who == "supporter" else tenant.admin_token
    assert_problem(claim(api, code, token), 403, "forbidden")
    assert "claimed" not in [e["type"] for e in api.history(code, tenant.supporter_token)]


def test_customer_token_cannot_claim(api, tenant):
    """A customer token (even of this very request) cannot claim."""
    created = api.created(tenant.module_token)
    assert_problem(claim(api, created["code"], created["customer_token"]), 403, "forbidden")


def test_claim_without_a_token_is_401(api, tenant):
    """No token, no claim."""
    code = api.created(tenant.supporter_token)["code"]
    assert_problem(claim(api, code, None), 401)


def test_revoked_module_cannot_claim(api, tenant):
    """After the admin revokes the module, its token cannot claim (401)."""
    code = api.created(tenant.supporter_token)["code"]
    assert api.call("POST", f"/api/v1/modules/{tenant.module_id}/revoke", tenant.admin_token).status_code == 200
    assert_problem(claim(api, code, tenant.module_token), 401)


def test_another_companys_code_is_404_like_an_unknown_one(api, tenant, server):
    """A module cannot reach another company's request; it looks exactly like an unknown code."""
    other = make_tenant(server.database_url)
    foreign = api.created(other.supporter_token)["code"]
    foreign_problem = assert_problem(claim(api, foreign, tenant.module_token), 404, "not_found")
    unknown = f"s{(int(digits(foreign)) + 1) % 10**8:08d}"
    unknown_problem = assert_problem(claim(api, unknown, tenant.module_token), 404, "not_found")
    assert foreign_problem["detail"] == unknown_problem["detail"]
    assert "claimed" not in [e["type"] for e in api.history(foreign, other.supporter_token)]


@pytest.mark.parametrize("garbage", ["s00-000-000", "hello", "s1234567", "%00"])
def test_unknown_or_garbage_code_is_404(api, tenant, garbage):
    """A code nobody was given, or no code at all, is 404."""
    assert_problem(claim(api, garbage, tenant.module_token), 404, "not_found")


def test_request_a_module_filed_cannot_be_claimed_by_its_code(api, tenant):
    """Only manual requests can be claimed: a guessed code of another customer's SOS looks unknown."""
    filed = api.created(tenant.module_token)
    unknown = claim(api, "s00-000-001", tenant.module_token)
    answer = claim(api, filed["code"], tenant.module_token)
    assert_problem(answer, 404, "not_found")
    assert answer.json()["detail"] == unknown.json()["detail"]


def test_the_claimants_retry_after_the_request_closed_is_409_like_any_change(api, tenant):
    """A retry of a claim is answered again only while the request is open: closed, it is 409 closed."""
    code = api.created(tenant.supporter_token)["code"]
    assert claim(api, code, tenant.module_token, key="claim-key-3").status_code == 200
    api.action(code, "close", tenant.supporter_token)
    retry = claim(api, code, tenant.module_token, key="claim-key-3")
    assert_problem(retry, 409)
    assert retry.json()["code"] != "already_claimed"


def test_closed_request_cannot_be_claimed(api, tenant):
    """Once closed, a request is 409 for a claim and records nothing."""
    code = api.created(tenant.supporter_token)["code"]
    api.action(code, "close", tenant.supporter_token)
    assert_problem(claim(api, code, tenant.module_token), 409)
    assert "claimed" not in [e["type"] for e in api.history(code, tenant.supporter_token)]


def test_expired_request_cannot_be_claimed(tmp_path_factory):
    """A request past its deadline is 409 for a claim, swept or not."""
    with QueueServer(sqlite_url(tmp_path_factory.mktemp("db")), expiry_hours=1 / 3600,
                     log_dir=tmp_path_factory.mktemp("logs")) as short_lived:
        tenant = make_tenant(short_lived.database_url)
        api = QueueApi(short_lived.url)
        try:
            code = api.created(tenant.supporter_token)["code"]
            eventually(lambda: api.get(code, tenant.supporter_token).json()["status"] == "expired",
                       what="the request to expire")
            assert_problem(claim(api, code, tenant.module_token), 409)
        finally:
            api.close_client()


def test_claim_answer_is_json_with_the_public_fields(api, tenant):
    """The answer has the same shape as a create answer (public request + customer token)."""
    code = api.created(tenant.supporter_token)["code"]
    body = claim(api, code, tenant.module_token).json()
    created = api.created(tenant.module_token)
    assert set(body) == set(created)
    assert body["customer_token"].startswith("sqc_")
