"""The customer's notes: a second SOS adds its words to the open request instead of dropping them."""

import uuid

import pytest

from tests.support.queue_api import REQUESTS, assert_problem
from tests.support.sse import EventStream
from tests.support.tenants import make_tenant


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url)


@pytest.fixture
def filed(api, tenant) -> dict:
    return api.created(tenant.module_token)


def add_note(api, code: str, token: str, text, *, key: str | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return api.call("POST", f"{REQUESTS}/{code}/notes", token, json={"text": text}, headers=headers)


def notes(api, code: str, token: str) -> list[dict]:
    return [event for event in api.history(code, token) if event["type"] == "note_added"]


def test_customer_adds_a_note_recorded_in_history_as_the_customers(api, tenant, filed):
    """The note is a ``note_added`` event with the trimmed text, by the customer; the request is answered."""
    response = add_note(api, filed["code"], filed["customer_token"], "  the printer smokes now too \n")
    assert response.status_code == 201, response.text
    assert response.json()["code"] == filed["code"]
    [note] = notes(api, filed["code"], tenant.supporter_token)
    assert note["data"] == {"text": "the printer smokes now too"}
    assert note["actor"] == {"type": "customer", "id": None}
    assert note["status"] == "new"


def test_a_note_keeps_line_breaks(api, tenant, filed):
    """A note of several lines arrives as written."""
    assert add_note(api, filed["code"], filed["customer_token"], "first\nsecond").status_code == 201
    assert notes(api, filed["code"], tenant.supporter_token)[0]["data"]["text"] == "first\nsecond"


def test_a_retried_note_with_the_same_key_is_added_once(api, tenant, filed):
    """The agent's retry after a lost answer (same Idempotency-Key) does not double the note."""
    key = str(uuid.uuid4())
    first = add_note(api, filed["code"], filed["customer_token"], "once", key=key)
    again = add_note(api, filed["code"], filed["customer_token"], "once", key=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [note["data"]["text"] for note in notes(api, filed["code"], tenant.supporter_token)] == ["once"]


def test_the_same_key_with_another_text_is_refused(api, filed):
    """Reusing a note's key for different words is a client error, not a silent replay."""
    key = str(uuid.uuid4())
    assert add_note(api, filed["code"], filed["customer_token"], "one", key=key).status_code == 201
    assert_problem(add_note(api, filed["code"], filed["customer_token"], "two", key=key), 422,
                   "idempotency_key_reused")


def test_notes_without_a_key_are_each_added(api, tenant, filed):
    """Two notes, two events, in order."""
    for text in ("one", "two"):
        assert add_note(api, filed["code"], filed["customer_token"], text).status_code == 201
    assert [note["data"]["text"] for note in notes(api, filed["code"], tenant.supporter_token)] == ["one", "two"]


@pytest.mark.parametrize("text", ["", "   \n\t "], ids=["empty", "blank"])
def test_an_empty_note_is_refused(api, tenant, filed, text):
    """Nothing to add is a 422 that says so; nothing is recorded."""
    problem = assert_problem(add_note(api, filed["code"], filed["customer_token"], text), 422, "invalid_request")
    assert "text" in problem["detail"]
    assert notes(api, filed["code"], tenant.supporter_token) == []


def test_a_note_over_2000_characters_is_refused(api, tenant, filed):
    """2000 characters are accepted, 2001 are a 422 naming the limit."""
    assert add_note(api, filed["code"], filed["customer_token"], "x" * 2000).status_code == 201
    problem = assert_problem(add_note(api, filed["code"], filed["customer_token"], "x" * 2001), 422,
                             "invalid_request")
    assert "2000" in problem["detail"]
    assert len(notes(api, filed["code"], tenant.supporter_token)) == 1


def test_a_control_character_in_a_note_is_refused(api, filed):
    """A NUL or other control character is a client error, never stored."""
    assert_problem(add_note(api, filed["code"], filed["customer_token"], "a\u0000b"), 422, "invalid_request")


def test_a_note_to_a_closed_request_is_a_conflict(api, tenant, filed):
    """Closed is final: a note to it is a 409 that says the request is closed."""
    assert api.action(filed["code"], "close", tenant.supporter_token).status_code == 200
    problem = assert_problem(add_note(api, filed["code"], filed["customer_token"], "too late"), 409, "request_closed")
    assert "closed" in problem["detail"]
    assert notes(api, filed["code"], tenant.supporter_token) == []


def test_a_retry_after_closing_replays_the_note_it_added(api, filed, tenant):
    """A note delivered just before the close, retried after it, is still the same note (no 409)."""
    key = str(uuid.uuid4())
    assert add_note(api, filed["code"], filed["customer_token"], "just in time", key=key).status_code == 201
    assert api.action(filed["code"], "close", tenant.supporter_token).status_code == 200
    again = add_note(api, filed["code"], filed["customer_token"], "just in time", key=key)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("who", ["supporter", "module"])
def test_only_the_customer_token_adds_notes(api, tenant, filed, who):
    """Experts and modules get 403: a note is the customer's words."""
    token = tenant.supporter_token if who == "supporter" else tenant.module_token
    assert_problem(add_note(api, filed["code"], token, "not mine"), 403, "forbidden")


def test_another_requests_customer_token_sees_no_such_request(api, tenant, filed):
    """A customer token opens its own request only: another code is 404."""
    other = api.created(tenant.module_token)
    assert_problem(add_note(api, filed["code"], other["customer_token"], "wrong door"), 404, "not_found")


def test_without_a_token_it_is_401(api, filed):
    assert_problem(add_note(api, filed["code"], None, "anyone?"), 401)


def test_the_note_reaches_the_requests_and_the_companys_event_streams(server, api, tenant, filed):
    """Streamed like every event: the customer's request stream and the supporters' company stream."""
    base = server.url
    with EventStream(f"{base}{REQUESTS}/{filed['code']}/events", filed["customer_token"]) as mine, \
            EventStream(f"{base}/api/v1/events", tenant.supporter_token) as queue:
        assert mine.next_event().event == "snapshot"
        assert add_note(api, filed["code"], filed["customer_token"], "live words").status_code == 201
        seen_by_customer = mine.events_until(lambda m: m.event == "note_added")[-1]
        seen_by_queue = queue.events_until(lambda m: m.event == "note_added")[-1]
    for message in (seen_by_customer, seen_by_queue):
        assert message.json()["data"] == {"text": "live words"}
        assert message.json()["code"] == filed["code"]
        assert message.json()["actor"] == {"type": "customer", "id": None}


def test_a_request_takes_at_most_its_note_allowance_and_a_retry_of_the_last_one_still_replays(api, tenant, filed):
    """The allowance is counted in the database, so it holds whichever server process answers."""
    from sosqueue.events import MAX_NOTES_PER_REQUEST

    keys = [str(uuid.uuid4()) for _ in range(MAX_NOTES_PER_REQUEST)]
    for number, key in enumerate(keys):
        assert add_note(api, filed["code"], filed["customer_token"], f"note {number}", key=key).status_code == 201
    problem = assert_problem(add_note(api, filed["code"], filed["customer_token"], "one more"), 409, "conflict")
    assert f"{MAX_NOTES_PER_REQUEST} notes" in problem["detail"] and "chat" in problem["detail"]
    last = MAX_NOTES_PER_REQUEST - 1
    assert add_note(api, filed["code"], filed["customer_token"], f"note {last}", key=keys[-1]).status_code == 201
    assert len(notes(api, filed["code"], tenant.supporter_token)) == MAX_NOTES_PER_REQUEST
