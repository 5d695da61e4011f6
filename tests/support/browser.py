"""Debian's Chromium driven by Playwright: launching it, logging in, and watching the live queue.

No browser is ever downloaded: Playwright drives ``/usr/bin/chromium`` headless, with the
flags that keep it from talking to anything but the server under test.
"""

import uuid
from datetime import timedelta

from playwright.sync_api import Browser, Locator, Page, Playwright
from sqlalchemy import select

from agent.client import QueueClient, Ticket
from sosqueue.module_config import Brand, ModuleConfig
from server.db import Database
from server.models import User
from server import logins
from tests.support.dashboard import PASSWORD
from tests.support.servers import QueueServer
from tests.support.tenants import Tenant

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
WAIT_MS = 20_000  # generous: the machine is shared; never a measure of speed

# Runs before the page's own scripts: counts what a successful injection would leave behind.
WATCH_SCRIPT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + (event.sample || ""));
});
"""


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def login(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the login form and land on the queue."""
    page.goto(f"{base_url}/login")
    submit_login(page, email, password)
    page.wait_for_url(f"{base_url}/queue")


def sign_in(page: Page, server: QueueServer, email: str, *, path: str = "/queue") -> None:
    """Start a login in the server's database as the login form would, and open ``path`` with it.

    For tests about something else than logging in: no password check, no form round trip.
    """
    database = Database(server.database_url)
    try:
        with database.write() as session:
            user = session.scalar(select(User).where(User.email == email))
            token = logins.start(session, user=user, lifetime=timedelta(hours=1))
    finally:
        database.dispose()
    page.context.add_cookies([{"name": logins.COOKIE, "value": token, "url": server.url, "httpOnly": True,
                               "sameSite": "Lax"}])
    page.goto(f"{server.url}{path}")


def submit_login(page: Page, email: str, password: str) -> None:
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


def open_queue(page: Page, base_url: str, query: str = "") -> None:
    """The queue page with its live stream connected."""
    page.goto(f"{base_url}/queue{'?' + query if query else ''}")
    wait_live(page)


def wait_live(page: Page) -> None:
    page.wait_for_function("() => document.body.dataset.live === 'open'", timeout=WAIT_MS)


def mark_document(page: Page) -> None:
    """Tag this document; a reload or navigation loses the tag."""
    page.evaluate("() => { window.__marker = 'still the same document'; }")


def same_document(page: Page) -> bool:
    return page.evaluate("() => window.__marker") == "still the same document"


def queue_row(page: Page, code: str) -> Locator:
    return page.locator(f'#queue-rows tr[data-code="{code}"]')


def queue_codes(page: Page) -> list[str]:
    return page.eval_on_selector_all("#queue-rows tr[data-code]", "rows => rows.map((row) => row.dataset.code)")


def wait_for_row(page: Page, code: str) -> Locator:
    row = queue_row(page, code)
    row.wait_for(state="attached", timeout=WAIT_MS)
    return row


def agent_client(base_url: str, tenant: Tenant) -> QueueClient:
    """The agent's own HTTP client, configured as a module of ``tenant`` would be."""
    config = ModuleConfig(
        module_id=tenant.module_id, module_token=tenant.module_token, server_url=base_url,
        brand=Brand(company=tenant.name, product="Help"),
    )
    return QueueClient(config)


def file_as_agent(client: QueueClient, body: dict, *, source: str = "module") -> Ticket:
    """File a request exactly as the agent delivers one from its outbox."""
    return client.create(body, idempotency_key=str(uuid.uuid4()), source=source)


def csp_violations(page: Page) -> list[str]:
    """What the page's Content-Security-Policy refused since it loaded (see WATCH_SCRIPT)."""
    return page.evaluate("() => window.__violations")
