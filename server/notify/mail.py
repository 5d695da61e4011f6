"""Notification emails: plain text in English, sent through the server's SMTP settings.

Customer-written text (description, name, email) goes only into the body, which is
quoted-printable encoded. Header values come from the server and company settings and the
session code, and are stripped of line breaks and control characters all the same.
"""

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from server.config import Settings
from server.models import utcnow
from server.notify.errors import DeliveryError, PermanentError
from server.notify.outbox import ASSIGNED, CREATED, ESCALATED

_INTRO = {
    CREATED: "A new service request is waiting in the queue.",
    ASSIGNED: "Service request {code} was assigned to you.",
}
_LAPSED = {  # an escalation's intro, by its reason (server.routing)
    "unassigned": "Service request {code} has waited {minutes} minutes without being assigned.",
    "not_joined": "Service request {code} was assigned {minutes} minutes ago, and no supporter has joined it yet.",
}
_SUBJECT = {
    CREATED: "New service request {code}",
    ASSIGNED: "Service request {code} assigned to you",
    ESCALATED: "Service request {code} is waiting too long",
}


def header_safe(text: str) -> str:
    """``text`` fit for a header: no line breaks or other control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def normalize_newlines(text: str) -> str:
    """Line endings as ``\\n`` only: what the email carries, whichever ones the customer typed."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def subject(payload: dict) -> str:
    return header_safe(_SUBJECT[payload["event"]].format(code=payload["request"]["code"]))


def body(payload: dict) -> str:
    """The plain-text body: what happened, the request's details, and the link."""
    request = payload["request"]
    customer = request["end_customer"]
    lines = [
        _intro(payload),
        "",
        f"Code:        {request['code']}",
        f"Topic:       {request.get('topic') or 'none'}",
        f"Customer:    {_person(customer['name'], customer['email'])}",
        f"Group:       {request['group'] or 'none'}",
        f"Assigned to: {_assignee(request['assignee'])}",
        f"Valid until: {_when(request['valid_until'])}",
        "",
        "Description:",
        normalize_newlines(request["description"]),
    ]
    if request["url"]:
        lines += ["", f"Open it: {request['url']}"]
    return "\n".join(lines) + "\n"


def _intro(payload: dict) -> str:
    code = payload["request"]["code"]
    if payload["event"] != ESCALATED:
        return _INTRO[payload["event"]].format(code=code)
    escalation = payload["escalation"]
    intro = _LAPSED[escalation["reason"]].format(code=code, minutes=escalation["minutes"])
    lapsed_by = escalation.get("lapsed_by")
    return intro + (f" It was with {_person(lapsed_by['name'], lapsed_by['email'])}." if lapsed_by else "")


def _person(name: str, email: str) -> str:
    name = normalize_newlines(name).replace("\n", " ")
    if name and email:
        return f"{name} <{email}>"
    return name or email or "not given"


def _assignee(assignee: dict | None) -> str:
    return "nobody yet" if assignee is None else _person(assignee["name"], assignee["email"])


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def compose(payload: dict, *, to: str, sender: str) -> EmailMessage:
    """The email for one recipient."""
    message = EmailMessage()
    try:
        message["From"] = header_safe(sender)
        message["To"] = header_safe(to)
        message["Subject"] = subject(payload)
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = make_msgid(domain=_domain(sender))
        message["Auto-Submitted"] = "auto-generated"
        message["X-Sosqueue-Event"] = payload["event"]
    except (ValueError, TypeError, IndexError) as error:
        raise PermanentError(f"cannot write an email from {sender!r} to {to!r}: {error}") from None
    message.set_content(body(payload), charset="utf-8", cte="quoted-printable")
    return message


def _domain(sender: str) -> str:
    domain = header_safe(parseaddr(sender)[1]).rpartition("@")[2]
    return domain if domain and all(ch.isalnum() or ch in ".-" for ch in domain) else "sosqueue.invalid"


def send(message: EmailMessage, *, to: str, settings: Settings) -> None:
    """Hand one email to the SMTP server; raises DeliveryError if it was not accepted."""
    if not settings.smtp_host:
        raise PermanentError("email is off on this server (SOSQUEUE_SMTP_HOST is not set)")
    try:
        with _connect(settings) as smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message, to_addrs=[header_safe(to)])
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port} failed: {type(error).__name__}: {error}") from None


def _connect(settings: Settings) -> smtplib.SMTP:
    timeout = settings.notify_timeout_seconds
    if settings.smtp_security == "tls":
        return smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                context=ssl.create_default_context())
    return smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
