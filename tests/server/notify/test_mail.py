"""Notification emails, received by a real SMTP server from a real queue server."""

import uuid
from datetime import datetime

import pytest

from tests.server.notify.conftest import PUBLIC_URL, SENDER, FAST_NOTIFY, configure, name_user, notifications
from tests.support.polling import eventually
from tests.support.queue_api import QueueApi
from tests.support.receivers import SmtpReceiver, TlsFiles
from tests.support.servers import QueueServer, sqlite_url
from tests.support.tenants import file_request, make_tenant

CUSTOMER = {"name": "Ada Lovelace", "email": "ada@customer.test"}
HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Sosqueue-Event",
           "Content-Type", "Content-Transfer-Encoding", "MIME-Version"}


def address(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@company.test"


def valid_until(created: dict) -> str:
    return datetime.fromisoformat(created["valid_until"]).strftime("%Y-%m-%d %H:%M UTC")


def expected_body(intro: str, created: dict, *, assigned_to: str, description: str) -> str:
    code = created["code"]
    return (
        f"{intro}\n\n"
        f"Code:        {code}\n"
        f"Topic:       none\n"
        f"Customer:    Ada Lovelace <ada@customer.test>\n"
        f"Group:       none\n"
        f"Assigned to: {assigned_to}\n"
        f"Valid until: {valid_until(created)}\n\n"
        f"Description:\n{description}\n\n"
        f"Open it: {PUBLIC_URL}/requests/{code}\n"
    )


def delivered(database_url: str, tenant, count: int) -> list:
    """The tenant's ``count`` outbox rows, once every one of them is delivered."""
    return eventually(
        lambda: (rows := notifications(database_url, tenant)) and len(rows) == count
        and all(row.delivered_at for row in rows) and rows,
        what=f"{count} delivered notification(s)",
    )


def test_new_request_emails_each_address_in_the_company_list(notify_server, smtp):
    tenant = make_tenant(notify_server.database_url)
    desk, lead = address("desk"), address("lead")
    configure(notify_server.database_url, tenant, emails=f" {desk}, {lead},{desk}")
    created = file_request(notify_server.url, tenant.module_token, end_customer=CUSTOMER)

    for recipient in (desk, lead):
        [mail] = smtp.wait_for(recipient)
        message = mail.message
        assert (mail.mail_from, mail.rcpt_tos) == (SENDER, [recipient])
        assert (message["From"], message["To"]) == (f"Service Queue <{SENDER}>", recipient)
        assert message["Subject"] == f"New service request {created['code']}"
        assert message["Auto-Submitted"] == "auto-generated"
        assert mail.text == expected_body("A new service request is waiting in the queue.", created,
                                          assigned_to="nobody yet", description="my printer is on fire")
    rows = delivered(notify_server.database_url, tenant, 2)
    assert [(r.event, r.channel, r.target, r.attempts) for r in rows] == [
        ("request.created", "email", desk, 1), ("request.created", "email", lead, 1)]


def test_assigning_to_a_colleague_emails_the_colleague(notify_server, smtp):
    tenant = make_tenant(notify_server.database_url)
    colleague = next(iter(tenant.supporter_tokens))
    name_user(notify_server.database_url, tenant.user_ids[colleague], "Sam Supporter")
    created = file_request(notify_server.url, tenant.module_token, end_customer=CUSTOMER)

    response = QueueApi(notify_server.url).assign(created["code"], tenant.admin_token, tenant.user_ids[colleague])

    assert response.status_code == 200, response.text
    [mail] = smtp.wait_for(colleague)
    assert mail.message["Subject"] == f"Service request {created['code']} assigned to you"
    assert mail.text == expected_body(f"Service request {created['code']} was assigned to you.", created,
                                      assigned_to=f"Sam Supporter <{colleague}>", description="my printer is on fire")
    rows = delivered(notify_server.database_url, tenant, 1)
    assert [(r.event, r.channel, r.target) for r in rows] == [("request.assigned", "email", colleague)]


def test_taking_a_request_yourself_enqueues_no_email(notify_server):
    tenant = make_tenant(notify_server.database_url)
    created = file_request(notify_server.url, tenant.module_token)

    response = QueueApi(notify_server.url).assign(created["code"], tenant.supporter_token, "me")

    assert response.status_code == 200, response.text
    assert response.json()["assignee"] is not None
    assert notifications(notify_server.database_url, tenant) == []


def test_automatic_assignment_emails_the_chosen_supporter(notify_server, smtp):
    tenant = make_tenant(notify_server.database_url, assignment="fixed:{first}")
    supporter = next(iter(tenant.supporter_tokens))

    created = file_request(notify_server.url, tenant.module_token, end_customer=CUSTOMER)

    [mail] = smtp.wait_for(supporter)
    assert mail.message["Subject"] == f"Service request {created['code']} assigned to you"
    assert mail.text == expected_body(f"Service request {created['code']} was assigned to you.", created,
                                      assigned_to=supporter, description="my printer is on fire")


def test_customer_text_with_line_breaks_unicode_and_html_stays_in_the_body(notify_server, smtp):
    tenant = make_tenant(notify_server.database_url)
    desk = address("desk")
    configure(notify_server.database_url, tenant, emails=desk)
    description = ("Line one\r\nX-Injected: evil\r\nBcc: victim@attacker.test\r\n\r\n"
                   "<b>Grüße</b> & <script>alert(1)</script> — 漢字 😀\rlast line")

    created = file_request(notify_server.url, tenant.module_token, description=description, end_customer=CUSTOMER)

    [mail] = smtp.wait_for(desk)
    header_block = mail.raw.split(b"\r\n\r\n", 1)[0]
    assert set(mail.message.keys()) == HEADERS
    assert b"evil" not in header_block and b"victim" not in header_block
    assert mail.raw.isascii()  # quoted-printable: no 8-bit bytes on the wire
    assert mail.text == expected_body(
        "A new service request is waiting in the queue.", created, assigned_to="nobody yet",
        description="Line one\nX-Injected: evil\nBcc: victim@attacker.test\n\n"
                    "<b>Grüße</b> & <script>alert(1)</script> — 漢字 😀\nlast line",
    )


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # TLS from the start
def test_email_goes_over_tls_with_a_login_when_configured(security, tmp_path):
    """STARTTLS or TLS from the start, to a server whose certificate the queue server trusts, then AUTH."""
    tls = TlsFiles.make(tmp_path)
    with SmtpReceiver(credentials=("queue-bot", "s3cret pass"), tls=tls, implicit_tls=security == "tls") as smtp:
        env = {"SOSQUEUE_SMTP_HOST": "localhost", "SOSQUEUE_SMTP_PORT": str(smtp.port),
               "SOSQUEUE_SMTP_SECURITY": security, "SOSQUEUE_SMTP_USERNAME": "queue-bot",
               "SOSQUEUE_SMTP_PASSWORD": "s3cret pass", "SOSQUEUE_SMTP_FROM": SENDER,
               "SSL_CERT_FILE": str(tls.cert), **FAST_NOTIFY}
        with QueueServer(sqlite_url(tmp_path), env=env, log_dir=tmp_path) as server:
            tenant = make_tenant(server.database_url)
            desk = address("desk")
            configure(server.database_url, tenant, emails=desk)
            created = file_request(server.url, tenant.module_token)

            [mail] = smtp.wait_for(desk)

    assert mail.login == "queue-bot"
    assert mail.message["Subject"] == f"New service request {created['code']}"
