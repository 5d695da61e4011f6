"""Chat while the customer waits, end to end: the real agent on a real X screen, the real queue, and
the supporter's request page in Chromium. Nobody starts a screen session: the agent's chat pane
opens with the supporter's first message, and the customer's answer shows on the request page.
"""

import httpx

from tests.e2e.desktop import chat_entry, click, xdotool
from tests.support.tenants import bearer


def wait_chat(page, state: str) -> None:
    page.wait_for_function("(state) => document.body.dataset.chatState === state", arg=state)


def test_a_supporter_writes_from_the_request_page_and_the_waiting_customer_answers(
        expert_page, customer, display, queue_server, company):
    code = customer.state()["code"]
    expert_page.goto(f"{queue_server.url}/requests/{code}")
    wait_chat(expert_page, "there")
    assert customer.state()["session"]["chat"] == []

    expert_page.fill("#chat-text", "Hello, we are on it. Which printer is it?")
    expert_page.press("#chat-text", "Enter")
    expert = company.supporter_email.partition("@")[0]
    customer.wait_for(lambda state: {"from": "expert", "name": expert, "text": "Hello, we are on it. Which printer is it?"}
                      in state["session"]["chat"], what="the supporter's message in the agent's chat pane")

    click(display, *chat_entry(display, customer.state()["window"]))  # the pane is on screen to type into
    xdotool(display, "type", "--delay", "10", "The one on the 2nd floor")
    xdotool(display, "key", "Return")
    expert_page.wait_for_function("() => document.querySelectorAll('#chat-log li').length === 2")
    assert expert_page.eval_on_selector_all(
        "#chat-log li", "items => items.map((li) => [li.className, li.querySelector('.text').textContent])"
    ) == [["from-expert", "Hello, we are on it. Which printer is it?"], ["from-customer", "The one on the 2nd floor"]]

    assert customer.state()["session"]["experts"] == []
    response = httpx.get(f"{queue_server.url}/api/v1/service-requests/{code}", headers=bearer(company.admin_token))
    assert response.json()["status"] == "pending" and response.json()["session"]["experts_joined"] == 0
    assert expert_page.errors == []
