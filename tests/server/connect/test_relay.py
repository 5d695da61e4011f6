"""A session through the relay: presence and history, consent and frames, chat, and its end."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from server.db import Database
from server.models import ServiceRequest, WebSession, utcnow
from server.security import token_hash
from server.logins import COOKIE
from sosqueue import codes
from sosqueue.connect import Region, new_instance, pack_region
from tests.server.connect.peers import (
    CUSTOMER_NAME, FRAME_LIMIT, WAIT, Expert, Sockets, close_code, jpeg, receive, receive_frame, send,
)
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.tenants import Tenant, make_tenant

NOT_SHARING = "the screen is not shared: frames are taken only after the customer allowed viewing"


def assert_dropped(customer, expert) -> None:
    """The customer's frame is refused, and the expert's next message is the chat sent after it."""
    customer.send(jpeg())
    assert receive(customer) == {"type": "error", "detail": NOT_SHARING}
    send(customer, {"type": "chat", "text": "after the frame"})
    assert receive(expert)["text"] == "after the frame"


# -- presence --------------------------------------------------------------------------------



def joined_then_left(expert) -> list[tuple]:
    """The history of a session the customer joined, then ``expert`` joined and left again."""
    user = f"user:{expert.user_id}"
    return [
        ("joined", "customer", {"party": "customer"}),
        ("status_changed", "customer", {"from": "new", "to": "pending"}),
        ("joined", user, {"party": user}),
        ("status_changed", user, {"from": "pending", "to": "in_progress"}),
        ("left", user, {"party": user}),
        ("status_changed", user, {"from": "in_progress", "to": "pending"}),
    ]

def test_the_customer_makes_it_pending_an_expert_in_progress_and_the_expert_leaving_pending(
        sockets, api, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    assert api.status(filed.code) == "pending"
    browser = sockets.expert(filed, expert)
    assert receive(customer) == {"type": "expert_joined", "expert": expert.shown}
    assert api.status(filed.code) == "in_progress"
    browser.close()
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    assert api.status(filed.code) == "pending"
    assert api.history(filed.code) == joined_then_left(expert)


def test_the_customer_leaving_an_expert_alone_makes_it_pending(sockets, api, expert):
    filed = sockets.file()
    browser = sockets.expert(filed, expert)
    customer = sockets.customer(filed)
    assert receive(browser) == {"type": "customer_joined"}
    assert api.status(filed.code) == "in_progress"
    customer.close()
    assert receive(browser) == {"type": "customer_left"}
    assert api.status(filed.code) == "pending"
    assert api.history(filed.code)[-2:] == [
        ("left", "customer", {"party": "customer"}),
        ("status_changed", "customer", {"from": "in_progress", "to": "pending"}),
    ]


def test_a_customer_arriving_late_is_told_which_experts_are_there(sockets, expert, colleague):
    filed = sockets.file()
    sockets.expert(filed, expert)
    sockets.expert(filed, colleague)
    socket = sockets.customer_raw(filed.code, filed.customer_token)
    assert receive(socket) == {"type": "hello", "role": "customer", "code": filed.code,
                               "experts": [expert.shown, colleague.shown]}


def test_two_tabs_of_one_expert_leave_only_when_the_last_closes(sockets, api, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    first = sockets.expert(filed, expert)
    assert receive(customer) == {"type": "expert_joined", "expert": expert.shown}
    second = sockets.expert(filed, expert)
    first.close()
    # The colleague's arrival is recorded after whatever the first tab's closing recorded.
    sockets.expert(filed, colleague)
    assert receive(customer) == {"type": "expert_joined", "expert": colleague.shown}
    user, other = f"user:{expert.user_id}", f"user:{colleague.user_id}"
    joined = [("joined", {"party": "customer"}), ("joined", {"party": user}), ("joined", {"party": other})]
    assert presence(api, filed.code) == joined
    second.close()
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    assert presence(api, filed.code) == joined + [("left", {"party": user})]



def test_a_reconnect_of_the_same_agent_takes_over_and_the_old_socket_closes_with_4000(
        sockets, api, expert, colleague):
    filed = sockets.file()
    agent = new_instance()
    customer, [browser] = sockets.sharing(filed, expert, instance=agent)
    again = sockets.customer_raw(filed.code, filed.customer_token, agent)  # the old socket looks alive still
    assert receive(again) == {"type": "hello", "role": "customer", "code": filed.code, "experts": [expert.shown]}
    assert close_code(customer) == 4000
    assert receive(browser) == {"type": "view_stopped", "reason": "customer_left"}
    assert receive(browser) == {"type": "customer_joined"}
    # The colleague's arrival is recorded after whatever the old socket's closing recorded.
    sockets.expert(filed, colleague)
    assert receive(again) == {"type": "expert_joined", "expert": colleague.shown}
    user, other = f"user:{expert.user_id}", f"user:{colleague.user_id}"
    assert presence(api, filed.code) == [
        ("joined", {"party": "customer"}), ("joined", {"party": user}), ("joined", {"party": other})]
    assert api.status(filed.code) == "in_progress"


@pytest.mark.parametrize("intruder", ["another agent", "an agent without an instance"])
def test_a_second_customer_socket_of_another_agent_is_refused_with_4001_and_the_first_stays(
        sockets, api, expert, colleague, intruder):
    """Whoever else holds the customer token cannot push the customer out; the session goes on untouched."""
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    second = sockets.customer_raw(filed.code, filed.customer_token, "" if intruder.endswith("instance") else None)
    assert close_code(second) == 4001
    send(customer, {"type": "chat", "text": "still here"})
    assert receive(browser)["text"] == "still here"  # no customer_left, no view_stopped before it
    frame = jpeg()
    customer.send(frame)
    assert receive_frame(browser) == frame
    send(browser, {"type": "chat", "text": "I see you"})
    assert receive(customer)["text"] == "I see you"
    sockets.expert(filed, colleague)  # recorded after whatever the refused socket might have recorded
    assert receive(customer) == {"type": "expert_joined", "expert": colleague.shown}
    user, other = f"user:{expert.user_id}", f"user:{colleague.user_id}"
    assert presence(api, filed.code) == [
        ("joined", {"party": "customer"}), ("joined", {"party": user}), ("joined", {"party": other})]


def test_once_the_customer_left_another_agent_may_connect(sockets, expert):
    filed = sockets.file()
    browser = sockets.expert(filed, expert)
    sockets.customer(filed).close()
    assert receive(browser) == {"type": "customer_joined"}
    assert receive(browser) == {"type": "customer_left"}
    sockets.customer(filed)  # another instance: nobody is connected, so it is the customer now
    assert receive(browser) == {"type": "customer_joined"}


def presence(api, code: str) -> list[tuple]:
    return [(kind, data) for kind, _, data in api.history(code) if kind in ("joined", "left")]


# -- consent and frames ----------------------------------------------------------------------


def test_a_view_request_shows_the_customer_who_asks_and_for_which_company(sockets, tenant, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser, other = sockets.expert(filed, expert), sockets.expert(filed, colleague)
    assert [receive(customer)["type"] for _ in range(2)] == ["expert_joined", "expert_joined"]
    send(browser, {"type": "view_request"})
    assert receive(customer) == {"type": "view_request", "expert": expert.shown, "company": tenant.name}
    send(other, {"type": "view_request"})
    assert receive(customer) == {"type": "view_request", "expert": colleague.shown,
                                 "company": tenant.name}


def test_before_consent_a_frame_is_dropped_with_an_error_and_reaches_no_expert(sockets, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    assert_dropped(customer, browser)


def test_after_consent_every_expert_gets_the_very_bytes_and_one_ack_per_frame_reaches_the_customer(
        sockets, api, expert, colleague):
    """The first expert to draw the newest frame releases the next one; a colleague's later ack
    for the same frame is not passed on (the customer would send two frames at once)."""
    filed = sockets.file()
    customer, experts = sockets.sharing(filed, expert, colleague)
    for number, frame in enumerate((jpeg(noise=200_000), jpeg(noise=10))):
        customer.send(frame)
        assert [receive_frame(browser) for browser in experts] == [frame, frame]
        for browser in experts:
            send(browser, {"type": "ack"})
        send(experts[1], {"type": "chat", "text": f"drawn {number}"})
        assert receive(customer) == {"type": "ack"}
        assert receive(customer)["text"] == f"drawn {number}"
        assert [receive(browser)["text"] for browser in experts] == [f"drawn {number}"] * 2
    assert api.history(filed.code)[-1] == ("screen_shared", "customer", {"expert": expert.user_id})


def test_an_ack_before_any_frame_is_not_passed_on(sockets, expert):
    customer, [browser] = sockets.sharing(sockets.file(), expert)
    send(browser, {"type": "ack"})
    send(browser, {"type": "chat", "text": "marker"})
    assert receive(customer)["text"] == "marker"


def test_a_denied_consent_tells_the_experts_and_frames_stay_dropped(sockets, api, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    send(customer, {"type": "consent", "allowed": False})
    assert receive(browser) == {"type": "consent", "allowed": False, "scopes": ["view"]}
    assert api.history(filed.code)[-1] == ("screen_denied", "customer", {"expert": expert.user_id})
    assert_dropped(customer, browser)


def test_the_customer_stopping_the_view_tells_the_experts_and_drops_later_frames(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    send(customer, {"type": "view_stop"})
    assert receive(browser) == {"type": "view_stopped", "reason": "customer_stopped"}
    assert api.history(filed.code)[-1] == ("screen_stopped", "customer", {"by": "customer"})
    assert_dropped(customer, browser)


def test_the_expert_ending_the_view_stops_the_customers_capture_and_drops_later_frames(
        sockets, api, expert, colleague):
    filed = sockets.file()
    customer, [browser, other] = sockets.sharing(filed, expert, colleague)
    send(browser, {"type": "end"})
    assert receive(customer) == {"type": "view_stop", "reason": "expert_ended"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    for viewer in (browser, other):
        assert receive(viewer) == {"type": "view_stopped", "reason": "expert_ended"}
        assert receive(viewer) == {"type": "session_ended", "by": "expert"}
    user = f"user:{expert.user_id}"
    assert ("screen_stopped", user, {"by": "expert"}) in api.history(filed.code)
    assert_dropped(customer, other)


def test_the_expert_ending_leaves_the_session_at_once_and_closing_the_page_later_records_nothing(
        sockets, api, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer) == {"type": "expert_joined", "expert": expert.shown}
    send(browser, {"type": "end"})
    assert receive(browser) == {"type": "session_ended", "by": "expert"}
    assert api.status(filed.code) == "pending"
    assert receive(customer) == {"type": "view_stop", "reason": "expert_ended"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    assert api.history(filed.code) == joined_then_left(expert)
    # The page stays open, out of the session: the customer's chat no longer reaches it.
    send(customer, {"type": "chat", "text": "still there?"})
    send(customer, {"type": "consent", "allowed": True})  # answered once the chat was handled
    assert receive(customer)["type"] == "error"
    send(browser, {"type": "chat", "text": "hello?"})  # refused out of the session…
    assert receive(browser)["type"] == "error"  # …and the customer's chat did not come first
    browser.close()
    # The colleague's arrival is recorded after whatever the page's closing recorded.
    sockets.expert(filed, colleague)
    assert receive(customer) == {"type": "expert_joined", "expert": colleague.shown}
    user, other = f"user:{expert.user_id}", f"user:{colleague.user_id}"
    assert presence(api, filed.code) == [
        ("joined", {"party": "customer"}), ("joined", {"party": user}), ("left", {"party": user}),
        ("joined", {"party": other})]
    assert api.status(filed.code) == "in_progress"


def test_an_expert_ending_leaves_alone_while_a_colleague_and_the_customer_stay(sockets, api, expert, colleague):
    filed = sockets.file()
    customer, [browser, other] = sockets.sharing(filed, expert, colleague)
    send(browser, {"type": "end"})
    assert receive(customer) == {"type": "view_stop", "reason": "expert_ended"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    for viewer in (browser, other):
        assert receive(viewer) == {"type": "view_stopped", "reason": "expert_ended"}
        assert receive(viewer) == {"type": "session_ended", "by": "expert"}
    assert api.status(filed.code) == "in_progress"
    user, colleague_party = f"user:{expert.user_id}", f"user:{colleague.user_id}"
    assert presence(api, filed.code) == [
        ("joined", {"party": "customer"}), ("joined", {"party": user}), ("joined", {"party": colleague_party}),
        ("left", {"party": user})]
    # The colleague and the customer go on: chat, and a new view only the colleague sees.
    send(other, {"type": "chat", "text": "I take over"})
    assert receive(customer)["text"] == "I take over"
    assert receive(other)["text"] == "I take over"
    send(other, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    send(customer, {"type": "consent", "allowed": True})
    assert receive(other) == {"type": "consent", "allowed": True, "scopes": ["view"]}
    frame = jpeg(16)
    customer.send(frame)
    assert receive_frame(other) == frame
    # The ended page gets neither the consent nor the frame, and cannot chat until it joins again.
    send(browser, {"type": "chat", "text": "me too"})
    assert receive(browser) == {"type": "error",
                                "detail": "you ended the session; ask to see the screen again to rejoin it"}


def test_a_repeated_end_records_and_tells_nothing_more(sockets, api, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "end"})
    assert receive(browser) == {"type": "session_ended", "by": "expert"}
    history = api.history(filed.code)
    send(browser, {"type": "end"})
    assert receive(browser) == {"type": "session_ended", "by": "expert"}
    assert [receive(customer)["type"] for _ in range(2)] == ["view_stop", "expert_left"]
    send(customer, {"type": "consent", "allowed": True})  # no question is open: refused
    assert receive(customer)["type"] == "error"  # nothing else reached the customer before
    assert api.history(filed.code) == history
    assert api.status(filed.code) == "pending"


def test_asking_to_view_again_after_ending_joins_the_session_again(sockets, api, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "end"})
    assert receive(browser) == {"type": "session_ended", "by": "expert"}
    assert [receive(customer)["type"] for _ in range(2)] == ["view_stop", "expert_left"]
    send(browser, {"type": "view_request"})
    assert receive(customer) == {"type": "expert_joined", "expert": expert.shown}
    assert receive(customer)["type"] == "view_request"
    assert api.status(filed.code) == "in_progress"
    user = f"user:{expert.user_id}"
    assert presence(api, filed.code) == [
        ("joined", {"party": "customer"}), ("joined", {"party": user}), ("left", {"party": user}),
        ("joined", {"party": user})]
    send(customer, {"type": "consent", "allowed": True})
    assert receive(browser) == {"type": "consent", "allowed": True, "scopes": ["view"]}
    frame = jpeg(16)
    customer.send(frame)
    assert receive_frame(browser) == frame
    browser.close()
    assert receive(customer) == {"type": "view_stop", "reason": "experts_left"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    assert api.status(filed.code) == "pending"


def test_an_ended_page_still_learns_whether_the_customer_is_there(sockets, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    send(browser, {"type": "end"})
    assert receive(browser) == {"type": "session_ended", "by": "expert"}
    customer.close()
    assert receive(browser) == {"type": "customer_left"}
    sockets.customer(filed)
    assert receive(browser) == {"type": "customer_joined"}


def test_the_customer_leaving_while_sharing_stops_the_view_for_the_experts(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    customer.close()
    assert receive(browser) == {"type": "view_stopped", "reason": "customer_left"}
    assert receive(browser) == {"type": "customer_left"}
    assert [event[0] for event in api.history(filed.code)[-3:]] == ["screen_stopped", "left", "status_changed"]
    assert api.history(filed.code)[-3] == ("screen_stopped", "system", {"by": "system"})


def test_the_customer_ending_the_session_stops_the_view_and_keeps_the_sockets(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    send(customer, {"type": "end"})
    assert receive(browser) == {"type": "view_stopped", "reason": "customer_stopped"}
    assert receive(browser) == {"type": "session_ended", "by": "customer"}
    assert api.history(filed.code)[-1] == ("screen_stopped", "customer", {"by": "customer"})
    assert_dropped(customer, browser)


def test_the_last_expert_leaving_stops_the_customers_capture(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    browser.close()
    assert receive(customer) == {"type": "view_stop", "reason": "experts_left"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    assert ("screen_stopped", "system", {"by": "system"}) in api.history(filed.code)


def test_the_last_expert_leaving_withdraws_an_unanswered_view_request(sockets, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    browser.close()
    assert receive(customer) == {"type": "view_stop", "reason": "experts_left"}
    assert receive(customer)["type"] == "expert_left"
    send(customer, {"type": "consent", "allowed": True})
    assert receive(customer) == {"type": "error",
                                 "detail": "no expert asked to see the screen; consent answers a view_request"}


def test_an_expert_arriving_while_sharing_sees_the_screen_without_asking_again(sockets, expert, colleague):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    late = sockets.expert_raw(filed.code, colleague)
    assert receive(late) == {"type": "hello", "role": "expert", "code": filed.code,
                             "customer_connected": True, "sharing": True, "control": None, "chat": []}
    assert receive(customer)["type"] == "expert_joined"
    send(late, {"type": "view_request"})
    assert receive(late) == {"type": "consent", "allowed": True, "scopes": ["view"]}
    frame = jpeg(noise=1000)
    customer.send(frame)
    assert receive_frame(late) == frame
    assert receive_frame(browser) == frame


def test_asking_to_view_with_no_customer_connected_is_refused(sockets, expert):
    filed = sockets.file()
    browser = sockets.expert(filed, expert)
    send(browser, {"type": "view_request"})
    assert receive(browser) == {"type": "error", "detail": "the customer is not connected; ask again when they are"}


def test_a_consent_nobody_asked_for_is_refused(sockets):
    filed = sockets.file()
    customer = sockets.customer(filed)
    send(customer, {"type": "consent", "allowed": True})
    assert receive(customer) == {"type": "error",
                                 "detail": "no expert asked to see the screen; consent answers a view_request"}


# -- chat ------------------------------------------------------------------------------------


def test_chat_goes_both_ways_with_names_and_times(sockets, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser, other = sockets.expert(filed, expert), sockets.expert(filed, colleague)
    assert [receive(customer)["type"] for _ in range(2)] == ["expert_joined", "expert_joined"]
    send(browser, {"type": "chat", "text": "  Hello, can you see the printer dialog?\n"})
    said = receive(customer)
    assert said == {"type": "chat", "from": "expert", "name": expert.name,
                    "text": "Hello, can you see the printer dialog?", "at": said["at"]}
    assert datetime.fromisoformat(said["at"]).utcoffset().total_seconds() == 0
    assert receive(browser) == said  # every expert sees the conversation, the sender too
    assert receive(other) == said
    send(customer, {"type": "chat", "text": "Yes.\tIt says\r\n'paper jam'"})
    answer = receive(browser)
    assert answer == {"type": "chat", "from": "customer", "name": CUSTOMER_NAME,
                      "text": "Yes.\tIt says\n'paper jam'", "at": answer["at"]}
    assert receive(other) == answer


def test_a_customer_without_a_name_chats_as_customer(sockets, expert):
    filed = sockets.file(end_customer={"name": "", "email": ""})
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    send(customer, {"type": "chat", "text": "hi"})
    assert receive(browser)["name"] == "Customer"


def test_a_customer_chat_with_no_expert_connected_reaches_the_next_expert_to_open_the_request(sockets, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    send(customer, {"type": "chat", "text": "anyone there?"})
    send(customer, {"type": "consent", "allowed": True})  # answered only after the chat was handled
    assert receive(customer)["type"] == "error"
    browser = sockets.expert_raw(filed.code, expert)
    assert [chat["text"] for chat in receive(browser)["chat"]] == ["anyone there?"]


# -- chat without joining (a request page's chat-only socket) ----------------------------------

CHAT_ONLY = "this socket only chats; open the request's session page to see the screen or use the computer"


def first_joined_at(server, code: str):
    database = Database(server.database_url)
    try:
        with database.read() as session:
            return session.scalars(select(ServiceRequest.first_joined_at)
                                   .where(ServiceRequest.code == codes.normalize(code))).one()
    finally:
        database.dispose()


def test_chatting_from_a_request_page_reaches_the_customer_and_joins_nobody(server, sockets, api, expert):
    filed = sockets.file()
    page = sockets.chatting(filed, expert)
    customer = sockets.customer_raw(filed.code, filed.customer_token)
    assert receive(customer) == {"type": "hello", "role": "customer", "code": filed.code, "experts": []}
    assert receive(page) == {"type": "customer_joined"}
    send(page, {"type": "chat", "text": "Hello, we are on it; may I ask which printer?"})
    said = receive(customer)
    assert said == {"type": "chat", "from": "expert", "name": expert.name,
                    "text": "Hello, we are on it; may I ask which printer?", "at": said["at"]}
    assert receive(page) == said
    send(customer, {"type": "chat", "text": "The one on the 2nd floor"})
    assert receive(page)["text"] == "The one on the 2nd floor"
    assert api.status(filed.code) == "pending"  # the customer's joining alone
    assert api.history(filed.code) == [("joined", "customer", {"party": "customer"}),
                                       ("status_changed", "customer", {"from": "new", "to": "pending"})]
    assert first_joined_at(server, filed.code) is None


def test_a_chat_only_socket_without_the_customer_leaves_the_request_new(sockets, api, expert):
    filed = sockets.file()
    page = sockets.chatting(filed, expert)
    send(page, {"type": "chat", "text": "anyone?"})
    assert receive(page)["text"] == "anyone?"
    assert receive(page) == {"type": "error",
                             "detail": "the customer is not connected; only the experts got this message"}
    page.close()
    assert api.status(filed.code) == "new"
    assert api.history(filed.code) == []


def test_chat_from_request_pages_and_the_session_page_reaches_every_expert_socket(sockets, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    page = sockets.chatting(filed, expert)
    session = sockets.expert(filed, colleague)
    assert receive(customer) == {"type": "expert_joined", "expert": colleague.shown}  # the session's expert only
    send(page, {"type": "chat", "text": "from the request page"})
    for socket in (customer, page, session):
        assert receive(socket)["text"] == "from the request page"
    send(session, {"type": "chat", "text": "from the session page"})
    for socket in (customer, page, session):
        assert receive(socket)["text"] == "from the session page"
    send(customer, {"type": "chat", "text": "from the customer"})
    for socket in (page, session):
        assert receive(socket)["text"] == "from the customer"


@pytest.mark.parametrize("message", [
    {"type": "view_request"}, {"type": "control_request"}, {"type": "control_stop"}, {"type": "end"},
    {"type": "ack"}, {"type": "input.move", "x": 1, "y": 1, "width": 10, "height": 10},
    {"type": "input.text", "text": "rm -rf"},
])
def test_a_chat_only_socket_cannot_view_control_or_send_input(sockets, api, expert, message):
    filed = sockets.file()
    customer = sockets.customer(filed)
    page = sockets.chatting(filed, expert)
    send(page, message)
    assert receive(page) == {"type": "error", "detail": CHAT_ONLY}
    send(page, {"type": "chat", "text": "after it"})
    assert receive(customer)["text"] == "after it"  # nothing else reached the customer before
    assert api.status(filed.code) == "pending"


def test_a_chat_only_socket_cannot_send_frames(sockets, expert):
    filed = sockets.file()
    page = sockets.chatting(filed, expert)
    page.send(jpeg())
    assert receive(page) == {"type": "error", "detail": "experts do not send frames; send JSON messages"}


def test_a_chat_only_socket_sees_no_screen_while_the_session_shares_it(sockets, expert, colleague):
    filed = sockets.file()
    customer, [session] = sockets.sharing(filed, colleague)
    page = sockets.chatting(filed, expert)
    frame = jpeg(8)
    customer.send(frame)
    assert receive_frame(session) == frame
    send(customer, {"type": "chat", "text": "after the frame"})
    assert receive(page)["text"] == "after the frame"  # no frame before it


def test_a_chat_only_socket_learns_whether_the_customer_is_there(sockets, expert):
    filed = sockets.file()
    page = sockets.chatting(filed, expert)
    customer = sockets.customer(filed)
    assert receive(page) == {"type": "customer_joined"}
    customer.close()
    assert receive(page) == {"type": "customer_left"}


def test_the_customers_chat_reaches_a_chat_only_socket_alone(sockets, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    page = sockets.chatting(filed, expert)
    send(customer, {"type": "chat", "text": "still waiting"})
    assert receive(page)["from"] == "customer"


def test_a_socket_opened_later_gets_the_conversation_so_far(sockets, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    page = sockets.chatting(filed, expert)
    send(page, {"type": "chat", "text": "one"})
    send(customer, {"type": "chat", "text": "two"})
    said = [receive(page), receive(page)]
    assert [message["text"] for message in said] == ["one", "two"]
    reloaded = sockets.expert_raw(filed.code, expert, mode="chat")
    assert receive(reloaded)["chat"] == said
    session = sockets.expert_raw(filed.code, colleague)
    assert receive(session)["chat"] == said


def test_closing_the_request_ends_a_chat_only_socket_with_4409(sockets, api, expert):
    filed = sockets.file()
    page = sockets.chatting(filed, expert)
    api.close(filed.code)
    assert receive(page) == {"type": "session_ended", "by": "system", "reason": "closed"}
    assert close_code(page) == 4409


# -- the request ends ------------------------------------------------------------------------


def test_closing_the_request_ends_both_sockets_with_4409(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    api.close(filed.code)
    for socket in (customer, browser):
        assert receive(socket) == {"type": "session_ended", "by": "system", "reason": "closed"}
        assert close_code(socket) == 4409
    assert api.status(filed.code) == "closed"


# -- a slow expert ---------------------------------------------------------------------------


STALLED_FRAMES = 12  # 24 MiB: far more than the sockets' buffers hold, so the server's sending stalls
STALLED_RECEIVE_BUFFER = 64 * 1024  # the stalled browser's kernel buffer, fixed so that it cannot grow to hold them


def sharing_with_a_stalled_expert(sockets, filed, expert):
    """A customer sharing with an expert whose browser reads nothing more until the test does."""
    customer = sockets.customer(filed)
    stalled = sockets.expert(filed, expert, max_queue=1, receive_buffer=STALLED_RECEIVE_BUFFER)
    assert receive(customer)["type"] == "expert_joined"
    send(stalled, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    send(customer, {"type": "consent", "allowed": True})
    assert receive(stalled) == {"type": "consent", "allowed": True, "scopes": ["view"]}
    return customer, stalled


def test_a_stalled_expert_is_sent_only_the_newest_of_the_frames_queued_for_it(sockets, expert):
    """However the customer interleaves frames and chat, the server keeps one unsent frame per expert."""
    filed = sockets.file()
    customer, stalled = sharing_with_a_stalled_expert(sockets, filed, expert)
    frames = [jpeg(noise=FRAME_LIMIT - 4096) for _ in range(STALLED_FRAMES)]
    for index, frame in enumerate(frames):
        customer.send(frame)
        send(customer, {"type": "chat", "text": f"chat {index}"})
    newest = jpeg(noise=1000)
    customer.send(newest)
    send(customer, {"type": "chat", "text": "last"})
    # The customer's own error comes back after the server took everything sent before it.
    send(customer, {"type": "ping"})
    assert receive(customer)["type"] == "error"

    got = drain_until_chat(stalled, "last")
    # Frames the server could send at once arrive in their place; the others gave way to newer ones.
    sent = [frame for frame in frames if frame in got]
    chats = [f"chat {index}" for index in range(STALLED_FRAMES)]
    in_place = [item for frame, chat in zip(frames, chats) for item in ([frame, chat] if frame in sent else [chat])]
    assert got == in_place + [newest, "last"]
    kept = len(sent)
    assert kept < STALLED_FRAMES, "every frame queued for the stalled expert was kept"


def drain_until_chat(socket, text: str) -> list:
    """Every message up to the chat with ``text``: frames as bytes, chats as their text."""
    got = []
    while not got or got[-1] != text:
        message = socket.recv(timeout=WAIT)
        got.append(message if isinstance(message, bytes) else json.loads(message)["text"])
    return got


# -- an expert's question is withdrawn -------------------------------------------------------


def test_an_expert_leaving_withdraws_their_view_request_while_a_colleague_stays(sockets, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    asking, staying = sockets.expert(filed, expert), sockets.expert(filed, colleague)
    assert [receive(customer)["type"] for _ in range(2)] == ["expert_joined", "expert_joined"]
    send(asking, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    asking.close()
    assert receive(customer) == {"type": "view_stop", "reason": "withdrawn"}
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    send(customer, {"type": "consent", "allowed": True})
    assert receive(customer) == {"type": "error",
                                 "detail": "no expert asked to see the screen; consent answers a view_request"}
    assert_dropped(customer, staying)


def test_the_asking_expert_closing_one_of_two_tabs_keeps_the_view_request(sockets, expert, colleague):
    filed = sockets.file()
    customer = sockets.customer(filed)
    asking, other_tab = sockets.expert(filed, expert), sockets.expert(filed, expert)
    staying = sockets.expert(filed, colleague)
    assert [receive(customer)["type"] for _ in range(2)] == ["expert_joined", "expert_joined"]
    send(asking, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    asking.close()
    send(customer, {"type": "consent", "allowed": True})
    assert receive(other_tab) == {"type": "consent", "allowed": True, "scopes": ["view"]}
    assert receive(staying) == {"type": "consent", "allowed": True, "scopes": ["view"]}


# -- the expert's login ends -----------------------------------------------------------------


@dataclass
class Team:
    """A company of its own (an admin and one supporter), so its users can be signed out freely."""

    tenant: Tenant
    sockets: Sockets
    admin: Expert
    member_email: str
    logins: list = field(default_factory=list)

    @property
    def member_id(self) -> str:
        return self.tenant.user_ids[self.member_email]

    def member(self) -> Expert:
        """A new login of the supporter (another browser)."""
        client = logged_in(self.sockets.base_url, self.member_email)
        self.logins.append(client)
        return Expert(client, self.member_id, self.member_email.partition("@")[0])


@pytest.fixture
def team(server) -> Iterator[Team]:
    tenant = make_tenant(server.database_url, password=PASSWORD)
    admin = logged_in(server.url, tenant.admin_email)
    as_expert = Expert(admin, tenant.user_ids[tenant.admin_email], tenant.admin_email.partition("@")[0])
    made = Team(tenant, Sockets(server.url, tenant), as_expert, tenant.supporter_email)
    yield made
    made.sockets.close_all()
    for client in [admin, *made.logins]:
        client.close()


def connected(team: Team, filed, *experts: Expert) -> tuple:
    """The customer and the experts' sockets (the customer's news of each expert read)."""
    customer = team.sockets.customer(filed)
    sockets, arrived = [], set()
    for expert in experts:
        sockets.append(team.sockets.expert(filed, expert))
        if expert.user_id not in arrived:
            arrived.add(expert.user_id)
            assert receive(customer) == {"type": "expert_joined", "expert": expert.shown}
    return customer, sockets


def assert_still_chatting(socket) -> None:
    send(socket, {"type": "chat", "text": "still here"})
    assert receive(socket)["text"] == "still here"


def test_deactivating_a_user_closes_all_their_session_sockets_with_4401(team):
    filed = team.sockets.file()
    member = team.member()
    customer, [first, second, admin] = connected(team, filed, member, team.member(), team.admin)
    response = team.admin.client.post(f"/admin/users/{team.member_id}/active", {"active": "0"})
    assert response.status_code == 303, response.text
    assert [close_code(first), close_code(second)] == [4401, 4401]
    assert receive(customer) == {"type": "expert_left", "expert": member.shown}
    assert_still_chatting(admin)


def test_resetting_a_password_closes_the_users_session_sockets_with_4401(team):
    filed = team.sockets.file()
    _, [socket, admin] = connected(team, filed, team.member(), team.admin)
    response = team.admin.client.post(f"/admin/users/{team.member_id}/password", {"password": ""})
    assert response.status_code == 200, response.text
    assert close_code(socket) == 4401
    assert_still_chatting(admin)


def test_logging_out_closes_that_logins_chat_only_sockets_too(team):
    filed = team.sockets.file()
    leaving = team.member()
    page = team.sockets.chatting(filed, leaving)
    assert leaving.client.post("/logout").status_code == 303
    assert close_code(page) == 4401


def test_logging_out_closes_that_logins_session_sockets_and_no_other(team):
    filed = team.sockets.file()
    leaving, staying = team.member(), team.member()
    _, [closed, kept] = connected(team, filed, leaving, staying)
    assert leaving.client.post("/logout").status_code == 303
    assert close_code(closed) == 4401
    assert_still_chatting(kept)


def test_a_login_that_expires_closes_its_session_sockets_at_the_next_check(server, team):
    filed = team.sockets.file()
    expiring, other = team.member(), team.member()
    _, [closed, kept] = connected(team, filed, expiring, other)
    database = Database(server.database_url)
    try:
        with database.write() as session:
            session.execute(update(WebSession)
                            .where(WebSession.token_hash == token_hash(expiring.client.http.cookies[COOKIE]))
                            .values(expires_at=utcnow() - timedelta(minutes=1)))
    finally:
        database.dispose()
    assert close_code(closed) == 4401
    assert_still_chatting(kept)


def test_a_region_taking_the_place_of_an_unsent_frame_asks_the_customer_for_a_whole_frame(sockets, expert):
    """The stalled expert missed part of the screen: the customer gets one refresh, until its next whole frame."""
    filed = sockets.file()
    customer, stalled = sharing_with_a_stalled_expert(sockets, filed, expert)

    def region(noise: int) -> bytes:
        return pack_region(Region(0, 0, 64, 40, 1280, 800), jpeg(noise=noise))

    customer.send(jpeg(noise=FRAME_LIMIT - 4096))  # whole frames giving way to each other lose nothing
    for _ in range(STALLED_FRAMES):
        customer.send(region(FRAME_LIMIT - 4096))
    send(customer, {"type": "ping"})  # answered after the server took every frame before it
    assert receive(customer) == {"type": "refresh"}  # once, for all the regions lost so far
    assert receive(customer)["type"] == "error"

    whole = jpeg(noise=1000)
    customer.send(whole)  # the whole frame the customer sends for it
    send(customer, {"type": "chat", "text": "whole"})
    got = drain_until_chat(stalled, "whole")
    assert got[-2:] == [whole, "whole"]

    # With the whole frame sent, a later loss asks again.
    for _ in range(STALLED_FRAMES):
        customer.send(region(FRAME_LIMIT - 4096))
    send(customer, {"type": "ping"})
    assert receive(customer) == {"type": "refresh"}
    assert receive(customer)["type"] == "error"


def test_regions_reaching_an_expert_in_time_ask_for_nothing(sockets, expert):
    customer, [browser] = sockets.sharing(sockets.file(), expert)
    customer.send(whole := jpeg(noise=8))
    assert receive_frame(browser) == whole
    for noise in range(3):
        frame = pack_region(Region(16, 16, 64, 40, 1280, 800), jpeg(noise=noise))
        customer.send(frame)
        assert receive_frame(browser) == frame
        send(browser, {"type": "ack"})
        assert receive(customer) == {"type": "ack"}


def test_a_second_tab_getting_a_region_before_any_whole_frame_asks_the_customer_for_one(sockets, expert):
    """The customer learns of no new expert (the same one, another tab), so the relay asks for the whole screen."""
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    customer.send(whole := jpeg(noise=8))
    assert receive_frame(browser) == whole
    tab = sockets.expert(filed, expert)  # its hello read
    region = pack_region(Region(0, 0, 64, 40, 1280, 800), jpeg(noise=16))
    customer.send(region)
    assert receive_frame(browser) == region
    assert receive_frame(tab) == region
    assert receive(customer) == {"type": "refresh"}
    customer.send(again := jpeg(noise=24))
    assert receive_frame(tab) == again
    customer.send(region)
    assert receive_frame(tab) == region
    send(customer, {"type": "ping"})
    assert receive(customer)["type"] == "error"  # no second refresh: the tab has its whole frame
