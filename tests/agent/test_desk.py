"""The help desk without a window, against a real queue server on loopback."""

import json

import httpx
import pytest

from agent.client import Ticket
from agent.errors import ModuleRevoked, Rejected, Unreachable
from agent.outbox import Submission
from agent.runtime import make_desk
from tests.support.modules import module_config
from tests.support.polling import eventually
from tests.support.servers import QueueServer, free_port, sqlite_url
from tests.support.tenants import bearer, make_tenant


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "agent-home"))
    return tmp_path / "agent-home"


def desk_for(tenant, url: str):
    return make_desk(module_config(server_url=url, module_id=tenant.module_id, module_token=tenant.module_token))


@pytest.fixture
def desk(home, tenant, queue_server):
    return desk_for(tenant, queue_server.url)


def _body(text: str = "my printer is on fire") -> dict:
    return {"description": text, "end_customer": {"name": "Ann", "email": "ann@example.test"}}


def test_deliver_files_exactly_one_request(desk, api, tenant):
    """One submission delivered is one request in the supporters' queue, with what was sent."""
    ticket = desk.deliver(desk.submit(_body(), source="sos"))
    items = api.all_items(tenant.supporter_token)
    assert [item["code"] for item in items] == [ticket.code]
    assert items[0]["source"] == "sos"
    assert items[0]["description"] == "my printer is on fire"
    assert items[0]["end_customer"] == {"name": "Ann", "email": "ann@example.test"}
    assert ticket.status == "new"


def test_delivered_submission_leaves_the_outbox_and_becomes_current(desk):
    """After delivery the outbox is empty and the request is remembered as the customer's own."""
    ticket = desk.deliver(desk.submit(_body(), source="module"))
    assert desk.outbox.pending() == []
    assert desk.current.load() == ticket


def test_submission_is_on_disk_before_delivery(desk, api, tenant):
    """``submit`` writes the outbox and files nothing yet."""
    submission = desk.submit(_body(), source="sos")
    assert desk.outbox.pending() == [submission]
    assert api.codes(tenant.supporter_token) == []


def test_redelivering_the_same_submission_returns_the_same_code(desk, api, tenant):
    """Delivering one submission twice (same idempotency key) files one request, one code."""
    submission = desk.submit(_body(), source="sos")
    first = desk.deliver(submission)
    second = desk.deliver(submission)
    assert second.code == first.code
    assert api.codes(tenant.supporter_token) == [first.code]


def test_open_request_is_refreshed_from_the_queue(desk, api):
    """The remembered request comes back with its current status (pending once the customer joined)."""
    ticket = desk.deliver(desk.submit(_body(), source="sos"))
    assert api.action(ticket.code, "join", ticket.customer_token).status_code == 200
    refreshed = desk.open_request()
    assert refreshed.code == ticket.code
    assert refreshed.status == "pending"
    assert desk.current.load().status == "pending"


def test_open_request_forgets_a_closed_request(desk, api, tenant):
    """Once a supporter closed the request, there is no open request and nothing remembered."""
    ticket = desk.deliver(desk.submit(_body(), source="sos"))
    assert api.action(ticket.code, "close", tenant.supporter_token).status_code == 200
    assert desk.open_request() is None
    assert desk.current.load() is None


def test_open_request_forgets_an_expired_request(home, tmp_path_factory):
    """A request past its deadline is not open any more; the next click may file a new one."""
    with QueueServer(sqlite_url(tmp_path_factory.mktemp("db")), expiry_hours=1 / 3600,
                     log_dir=tmp_path_factory.mktemp("logs")) as short_lived:
        tenant = make_tenant(short_lived.database_url)
        desk = desk_for(tenant, short_lived.url)
        ticket = desk.deliver(desk.submit(_body(), source="sos"))
        expired = eventually(
            lambda: httpx.get(f"{short_lived.url}/api/v1/service-requests/{ticket.code}",
                              headers=bearer(tenant.supporter_token)).json()["status"] == "expired",
            what="the request to expire",
        )
        assert expired
        assert desk.open_request() is None
        assert desk.current.load() is None


def test_open_request_keeps_the_remembered_one_while_offline(home, tenant):
    """Without the server, the remembered open request is still shown (not dropped)."""
    desk = desk_for(tenant, f"http://127.0.0.1:{free_port()}")
    remembered = Ticket(code="s12-345-678", customer_token="sqc_x", status="pending")
    desk.current.save(remembered)
    assert desk.open_request() == remembered


def test_open_request_is_none_when_nothing_was_filed(desk):
    """A fresh agent has no open request."""
    assert desk.open_request() is None


def test_claiming_a_manual_request_gives_a_customer_token_and_joining_turns_it_pending(desk, api, tenant):
    """The customer types the supporter's code: the agent claims it, joins, and it turns pending."""
    manual = api.created(tenant.supporter_token, {"description": "call from Ann"})
    ticket = desk.claim(manual["code"].upper().replace("-", " "))
    assert ticket.code == manual["code"]
    assert ticket.customer_token.startswith("sqc_")
    joined = desk.join(ticket)
    assert joined.status == "pending"
    assert api.get(manual["code"], tenant.supporter_token).json()["status"] == "pending"
    assert desk.current.load().code == manual["code"]
    assert api.codes(tenant.supporter_token) == [manual["code"]]


def test_claiming_an_unknown_code_is_rejected(desk, api, tenant):
    """A code that does not exist is Rejected (404), and nothing is remembered."""
    with pytest.raises(Rejected) as caught:
        desk.claim("s00-000-000")
    assert caught.value.status == 404
    assert desk.current.load() is None


def test_claiming_another_companys_code_is_rejected(desk, api, queue_server):
    """A code from another company looks unknown to this module."""
    other = make_tenant(queue_server.database_url)
    foreign = api.created(other.supporter_token)
    with pytest.raises(Rejected) as caught:
        desk.claim(foreign["code"])
    assert caught.value.status == 404


def test_claiming_a_closed_request_is_rejected(desk, api, tenant):
    """A request that was already closed cannot be claimed (409)."""
    manual = api.created(tenant.supporter_token)
    api.action(manual["code"], "close", tenant.supporter_token)
    with pytest.raises(Rejected) as caught:
        desk.claim(manual["code"])
    assert caught.value.status == 409


def test_cancel_closes_the_request_as_the_customer(desk, api, tenant):
    """Cancel closes the request on the server, closed by the customer, and forgets it."""
    ticket = desk.deliver(desk.submit(_body(), source="sos"))
    desk.cancel(ticket)
    request = api.get(ticket.code, tenant.supporter_token).json()
    assert request["status"] == "closed"
    assert request["closed_by"] == {"type": "customer", "id": None}
    assert desk.current.load() is None


def test_cancelling_an_already_closed_request_is_quietly_done(desk, api, tenant):
    """Cancelling what a supporter already closed is not an error for the customer."""
    ticket = desk.deliver(desk.submit(_body(), source="sos"))
    api.action(ticket.code, "close", tenant.supporter_token)
    desk.cancel(ticket)
    assert desk.current.load() is None


def test_leave_after_join_marks_the_customer_gone(desk, api, tenant):
    """The customer leaving the session (agent quits) is seen by the supporters; the request stays open."""
    ticket = desk.join(desk.deliver(desk.submit(_body(), source="sos")))
    assert api.get(ticket.code, tenant.supporter_token).json()["session"]["customer_joined"] is True
    desk.leave(ticket)
    request = api.get(ticket.code, tenant.supporter_token).json()
    assert request["session"]["customer_joined"] is False
    assert request["status"] == "pending"


def test_revoked_module_cannot_deliver_and_keeps_the_submission(desk, api, tenant):
    """After the admin revokes the module, delivery is ModuleRevoked and the request stays saved."""
    revoked = api.call("POST", f"/api/v1/modules/{tenant.module_id}/revoke", tenant.admin_token)
    assert revoked.status_code == 200, revoked.text
    submission = desk.submit(_body(), source="sos")
    with pytest.raises(ModuleRevoked, match="IT"):
        desk.deliver(submission)
    assert desk.outbox.pending() == [submission]
    assert api.codes(tenant.supporter_token) == []


def test_refused_body_is_rejected_and_moved_to_rejected(desk, api, tenant):
    """A body the queue refuses (4xx) is Rejected, kept in outbox/rejected, and never retried."""
    submission = desk.submit({"description": "x" * 5000}, source="sos")
    with pytest.raises(Rejected) as caught:
        desk.deliver(submission)
    assert 400 <= caught.value.status < 500
    assert desk.outbox.pending() == []
    record = json.loads((desk.outbox.rejected_directory / f"{submission.key}.json").read_text())
    assert record["key"] == submission.key and record["rejected"]
    assert api.codes(tenant.supporter_token) == []


def test_unreachable_server_keeps_the_submission(home, tenant):
    """With nothing listening, delivery is Unreachable and the submission waits in the outbox."""
    desk = desk_for(tenant, f"http://127.0.0.1:{free_port()}")
    submission = desk.submit(_body(), source="sos")
    with pytest.raises(Unreachable, match="cannot be reached"):
        desk.deliver(submission)
    assert desk.outbox.pending() == [submission]
    assert desk.current.load() is None


def test_deliver_pending_sends_every_waiting_submission_once(desk, api, tenant):
    """Waiting submissions are delivered oldest first; a refused one is set aside, the rest filed."""
    older = desk.outbox.add(Submission(body=_body("older"), source="sos", created_at=1.0))
    refused = desk.outbox.add(Submission(body={"description": "x", "bogus": 1}, source="sos", created_at=2.0))
    newer = desk.outbox.add(Submission(body=_body("newer"), source="sos", created_at=3.0))
    newest = desk.deliver_pending()
    items = api.all_items(tenant.supporter_token)
    assert sorted(item["description"] for item in items) == ["newer", "older"]
    assert newest.code == next(item["code"] for item in items if item["description"] == "newer")
    assert desk.outbox.pending() == []
    assert (desk.outbox.rejected_directory / f"{refused.key}.json").exists()
    assert older.key != newer.key


def test_leave_while_offline_is_quiet(home, tenant):
    """Leaving when the queue cannot be reached does not raise (the agent is quitting anyway)."""
    desk = desk_for(tenant, f"http://127.0.0.1:{free_port()}")
    desk.leave(Ticket(code="s12-345-678", customer_token="sqc_x", status="pending"))


def test_a_second_click_while_a_request_waits_delivers_that_one(home, tenant, queue_server, api):
    """A saved, undelivered request is the one a later click delivers; no second one is filed."""
    offline = desk_for(tenant, f"http://127.0.0.1:{free_port()}")
    waiting = offline.waiting_or_submit(_body("first click"), source="sos")
    with pytest.raises(Unreachable):
        offline.deliver(waiting)
    assert offline.waiting_or_submit(_body("second click"), source="sos") == waiting
    online = desk_for(tenant, queue_server.url)
    ticket = online.deliver(online.waiting_or_submit(_body("third click"), source="sos"))
    items = api.all_items(tenant.supporter_token)
    assert [(item["code"], item["description"]) for item in items] == [(ticket.code, "first click")]


def test_words_for_a_waiting_request_wait_with_it_and_go_to_it_once_delivered(home, tenant, queue_server, api):
    """A note to a request still in the outbox has no code yet; delivering the request addresses it;
    the same words twice, or the request's own words, are kept once."""
    offline = desk_for(tenant, f"http://127.0.0.1:{free_port()}")
    waiting = offline.submit(_body("first click"), source="sos")
    assert offline.save_note_for_waiting(waiting, "first click") is None
    note = offline.save_note_for_waiting(waiting, "it beeps too")
    assert offline.save_note_for_waiting(waiting, "it beeps too") is None
    assert (note.code, note.submission) == ("", waiting.key)

    online = desk_for(tenant, queue_server.url)
    ticket = online.deliver(waiting)
    [addressed] = online.notes.pending()
    assert (addressed.key, addressed.code, addressed.text) == (note.key, ticket.code, "it beeps too")
    online.deliver_note(addressed)
    history = api.history(ticket.code, tenant.supporter_token)
    assert [event["data"]["text"] for event in history if event["type"] == "note_added"] == ["it beeps too"]
    assert online.notes.pending() == []
