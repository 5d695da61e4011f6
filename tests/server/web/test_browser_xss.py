"""Customer-supplied text in Chromium: shown as the exact text typed, never run, never markup.

Each payload goes into every field a customer's module can fill (name, email, description,
diagnostics keys and values), filed through the API with the module token as an agent would.
The pages are checked as shipped (the Content-Security-Policy on: nothing may even try to run)
and with the policy bypassed, so that escaping alone is under test: there a slip would run.
"""

import pytest

from sosqueue.events import MAX_NOTES_PER_REQUEST
from tests.support.browser import (
    agent_client,
    file_as_agent,
    queue_codes,
    sign_in,
    wait_live,
)

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '<svg onload="window.__xss=3">',
    "<svg><script>window.__xss=4</script></svg>",
    "javascript:window.__xss=5",
    '"><img src=x onerror=alert(6)>',
    "'><script>alert(7)</script>",
    '" onmouseover="window.__xss=8" x="',
    "' autofocus onfocus='window.__xss=9' x='",
    "{{7*7}} ${7*7} {{constructor.constructor('window.__xss=10')()}}",
    "</textarea><script>window.__xss=11</script>",
    "</title><script>window.__xss=12</script>",
    "</td></tr></tbody></table><img src=x onerror=window.__xss=13>",
    '<iframe src="javascript:top.__xss=14"></iframe>',
    '<a href="javascript:window.__xss=15">click me</a>',
    "<body onload=window.__xss=16>",
    "<details open ontoggle=window.__xss=17>",
    "<style>*{display:none}</style>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=19>",
    "&lt;script&gt;window.__xss=20&lt;/script&gt;",
    "\u202e<script>window.__xss=21</script>",
    "\uff1cscript\uff1ewindow.__xss=22\uff1c/script\uff1e",
    '<object data="javascript:window.__xss=23"></object>',
    "<input autofocus onfocus=window.__xss=24>",
    '<base href="javascript:/">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=26">',
    "--><script>window.__xss=27</script><!--",
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=28>">',
    "<img src=x onerror=&#x61;lert(29)>",
    "<scr<script>ipt>window.__xss=30</scr</script>ipt>",
]

# What an injection would leave in the page; none of the dashboard's own markup matches.
INJECTED = ", ".join([
    "script:not([src='/static/app.js']):not([src='/static/chat.js'])", "img", "svg", "math", "iframe", "object",
    "embed", "details", "style", "noscript", "base", "meta[http-equiv]", "a[href^='javascript' i]", "input[autofocus]",
    "textarea:not(#request-chat #chat-text)", "body [style]",
    "[onerror]", "[onload]", "[onmouseover]", "[onfocus]", "[ontoggle]", "[onclick]",
])

PAGE_STATE = """injected => ({
  xss: window.__xss === undefined ? null : String(window.__xss),
  injected: [...document.querySelectorAll(injected)].map((e) => e.outerHTML.slice(0, 80)),
  scripts: document.scripts.length,
  titles: document.querySelectorAll("title").length,
  violations: window.__violations,
})"""

ROW_TEXTS = """rows => rows.map((row) => ({
  code: row.dataset.code,
  name: row.querySelector(".customer").firstChild ? row.querySelector(".customer").firstChild.textContent : "",
  email: row.querySelector(".customer small") ? row.querySelector(".customer small").textContent : "",
  description: row.querySelector(".description").textContent,
}))"""

REQUEST_TEXTS = """() => ({
  name: document.getElementById("customer-name").textContent,
  email: document.getElementById("customer-email").textContent,
  description: document.getElementById("description").textContent,
  diagnostics: [...document.querySelectorAll("#diagnostics tr")].map((row) => [
    row.querySelector("th").textContent, row.querySelector("td").textContent]),
})"""


def email_for(payload: str) -> str:
    """The payload as an email the API takes (it only insists on one @ between two parts)."""
    return f"{payload}@example.test" if "@" not in payload else ""


def body_for(payload: str) -> dict:
    return {
        "description": payload,
        "end_customer": {"name": payload, "email": email_for(payload)},
        "diagnostics": {payload: payload, "value": payload},
    }


# What a page that ran nothing and injected nothing reports.
CLEAN = {"xss": None, "injected": [], "scripts": 1, "titles": 1, "violations": []}
# An open request's page has its chat's script too.
CLEAN_REQUEST = {**CLEAN, "scripts": 2}


@pytest.fixture(params=["csp-enforced", "csp-bypassed"])
def xss_page(request, new_page):
    page = new_page(bypass_csp=request.param == "csp-bypassed")
    page.context.grant_permissions(["notifications"])  # live rows are announced with the customer's name
    page.add_init_script("localStorage.setItem('sosqueue.sound', 'on')")
    return page


def test_the_payloads_fit_every_field():
    assert len(PAYLOADS) == len(set(PAYLOADS)) >= 20
    assert [p for p in PAYLOADS if len(p) > 100 or p != p.strip()] == []
    assert len([p for p in PAYLOADS if email_for(p)]) == len(PAYLOADS)


def test_payloads_in_every_customer_field_are_shown_as_text_and_never_run(sqlite_server, make_company, xss_page):
    page = xss_page
    company = make_company(sqlite_server)
    client = agent_client(sqlite_server.url, company)
    sign_in(page, sqlite_server, company.supporter_email)
    wait_live(page)

    # Filed while the queue is open: the rows arrive through the live refresh first.
    codes = {file_as_agent(client, body_for(payload)).code: payload for payload in PAYLOADS}
    page.wait_for_function("n => document.querySelectorAll('#queue-rows tr[data-code]').length === n",
                           arg=len(PAYLOADS))
    assert_queue_shows_text(page, codes, "live refresh")

    page.reload()
    assert_queue_shows_text(page, codes, "page load")

    wrong = []
    for code, payload in codes.items():
        page.goto(f"{sqlite_server.url}/requests/{code}")
        shown = page.evaluate(REQUEST_TEXTS)
        expected = {"name": payload, "email": email_for(payload), "description": payload,
                    "diagnostics": sorted([[payload, payload], ["value", payload]], key=lambda r: r[0].lower())}
        state = page.evaluate(PAGE_STATE, INJECTED)
        if shown != expected or state != CLEAN_REQUEST:
            wrong.append((payload, shown, state))
    assert wrong == []
    assert page.dialogs == []
    assert page.errors == []


def test_payloads_in_the_customers_notes_are_shown_as_text_and_never_run(sqlite_server, make_company, xss_page):
    page = xss_page
    company = make_company(sqlite_server)
    client = agent_client(sqlite_server.url, company)
    # A request takes MAX_NOTES_PER_REQUEST notes: the payloads are spread over as many requests as they need.
    batches = [PAYLOADS[start:start + MAX_NOTES_PER_REQUEST] for start in range(0, len(PAYLOADS), MAX_NOTES_PER_REQUEST)]
    tickets = []
    for batch in batches:
        ticket = file_as_agent(client, {"description": "notes follow"})
        for number, payload in enumerate(batch):
            client.add_note(ticket, payload, idempotency_key=f"note-{number}")
        tickets.append(ticket)
    sign_in(page, sqlite_server, company.supporter_email)
    for ticket, batch in zip(tickets, batches):
        page.goto(f"{sqlite_server.url}/requests/{ticket.code}")
        shown = page.eval_on_selector_all("#history .note", "notes => notes.map((note) => note.textContent)")
        assert shown == batch
        assert page.evaluate(PAGE_STATE, INJECTED) == CLEAN_REQUEST
    assert page.dialogs == []


def assert_queue_shows_text(page, codes: dict[str, str], how: str) -> None:
    rows = page.eval_on_selector_all("#queue-rows tr[data-code]", ROW_TEXTS)
    assert sorted(queue_codes(page)) == sorted(codes), how
    wrong = [row for row in rows if row != {"code": row["code"], "name": codes[row["code"]],
                                             "email": email_for(codes[row["code"]]),
                                             "description": codes[row["code"]]}]
    assert wrong == [], how
    assert page.evaluate(PAGE_STATE, INJECTED) == CLEAN, how
    assert page.dialogs == [], how
