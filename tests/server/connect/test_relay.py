"""A session through the relay: presence and history, consent and frames, chat, and its end."""

from datetime import datetime

from tests.server.connect.peers import CUSTOMER_NAME, close_code, jpeg, receive, receive_frame, send

NOT_SHARING = "the screen is not shared: frames are taken only after the customer allowed viewing"


def assert_dropped(customer, expert) -> None:
    """The customer's frame is refused, and the expert's next message is the chat sent after it."""
    customer.send(jpeg())
    assert receive(customer) == {"type": "error", "detail": NOT_SHARING}
    send(customer, {"type": "chat", "text": "after the frame"})
    assert receive(expert)["text"] == "after the frame"


# -- presence --------------------------------------------------------------------------------


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
    user = f"user:{expert.user_id}"
    assert api.history(filed.code) == [
        ("joined", "customer", {"party": "customer"}),
        ("status_changed", "customer", {"from": "new", "to": "pending"}),
        ("joined", user, {"party": user}),
        ("status_changed", user, {"from": "pending", "to": "in_progress"}),
        ("left", user, {"party": user}),
        ("status_changed", user, {"from": "in_progress", "to": "pending"}),
    ]


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



def test_a_reconnecting_customer_takes_over_and_the_old_socket_closes_with_4000(sockets, api, expert, colleague):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    again = sockets.customer_raw(filed.code, filed.customer_token)
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


def test_after_consent_every_expert_gets_the_very_bytes_and_each_ack_reaches_the_customer(
        sockets, api, expert, colleague):
    filed = sockets.file()
    customer, experts = sockets.sharing(filed, expert, colleague)
    for frame in (jpeg(noise=200_000), jpeg(noise=10)):
        customer.send(frame)
        assert [receive_frame(browser) for browser in experts] == [frame, frame]
        for browser in experts:
            send(browser, {"type": "ack"})
        assert [receive(customer), receive(customer)] == [{"type": "ack"}, {"type": "ack"}]
    assert api.history(filed.code)[-1] == ("screen_shared", "customer", {"expert": expert.user_id})


def test_a_denied_consent_tells_the_experts_and_frames_stay_dropped(sockets, api, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer)["type"] == "expert_joined"
    send(browser, {"type": "view_request"})
    assert receive(customer)["type"] == "view_request"
    send(customer, {"type": "consent", "allowed": False})
    assert receive(browser) == {"type": "consent", "allowed": False}
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
    for viewer in (browser, other):
        assert receive(viewer) == {"type": "view_stopped", "reason": "expert_ended"}
        assert receive(viewer) == {"type": "session_ended", "by": "expert"}
    user = f"user:{expert.user_id}"
    assert api.history(filed.code)[-1] == ("screen_stopped", user, {"by": "expert"})
    assert_dropped(customer, browser)


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
                             "customer_connected": True, "sharing": True}
    assert receive(customer)["type"] == "expert_joined"
    send(late, {"type": "view_request"})
    assert receive(late) == {"type": "consent", "allowed": True}
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


def test_a_customer_chat_with_no_expert_connected_is_refused(sockets):
    filed = sockets.file()
    customer = sockets.customer(filed)
    send(customer, {"type": "chat", "text": "anyone there?"})
    assert receive(customer) == {"type": "error", "detail": "no expert is connected; your message was not delivered"}


# -- the request ends ------------------------------------------------------------------------


def test_closing_the_request_ends_both_sockets_with_4409(sockets, api, expert):
    filed = sockets.file()
    customer, [browser] = sockets.sharing(filed, expert)
    api.close(filed.code)
    for socket in (customer, browser):
        assert receive(socket) == {"type": "session_ended", "by": "system", "reason": "closed"}
        assert close_code(socket) == 4409
    assert api.status(filed.code) == "closed"
