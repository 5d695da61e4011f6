"""Admin page for the company's settings: request expiry, notification emails, the webhook."""

import math
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from server.api.deps import StateDep, WriteDB
from server.models import Company
from server.notify.outbox import split_addresses
from server.web.deps import AdminLoginDep, FormDep
from server.web.forms import text_field
from server.web.routes.admin_users import AdminForm, is_email, is_single_line
from server.logins import Login
from server.web.templating import render
from sosqueue import urls

router = APIRouter(prefix="/admin/company")

PAGE = "/admin/company"
MAX_EXPIRY_HOURS = 8760  # a year
MAX_EMAILS_CHARS = 2000
MAX_URL_CHARS = 500


def _company_page(request: Request, login: Login, state, *, values: dict | None = None,
                  errors: dict | None = None, status: int = 200) -> Response:
    settings = state.settings
    with state.db.read() as session:
        company = session.get(Company, login.user.company_id)
        stored = {
            "expiry_hours": _hours_text(company.expiry_hours),
            "notify_emails": company.notify_emails,
            "webhook_url": company.webhook_url,
        }
        return render(
            request, "admin/company.html", login=login, company=company, values=values or stored,
            errors=errors or {}, status=status, default_expiry=_hours_text(settings.expiry_hours),
            smtp=f"{settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host else "",
        )


def _hours_text(hours: float | None) -> str:
    if hours is None:
        return ""
    return str(int(hours)) if float(hours).is_integer() else str(hours)


@router.get("")
def company_page(request: Request, login: AdminLoginDep, state: StateDep) -> Response:
    """The company's settings."""
    return _company_page(request, login, state)


@router.post("")
def save_settings(request: Request, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB) -> Response:
    """Save all settings at once, or none when one is wrong; a first webhook URL gets a secret."""
    check = AdminForm(form)
    expiry = _checked_expiry(check)
    emails = _checked_emails(check)
    webhook_url = _checked_url(check)
    if not check.ok:
        values = {name: text_field(form, name) for name in ("expiry_hours", "notify_emails", "webhook_url")}
        return _company_page(request, login, state, values=values, errors=check.errors, status=check.status)
    company = session.get(Company, login.user.company_id)
    company.expiry_hours = expiry
    company.notify_emails = ", ".join(emails)
    company.webhook_url = webhook_url
    if webhook_url and not company.webhook_secret:
        company.webhook_secret = new_webhook_secret()
    return RedirectResponse(PAGE, status_code=303)


@router.post("/webhook-secret")
def renew_webhook_secret(login: AdminLoginDep, form: FormDep, session: WriteDB) -> Response:
    """A new secret for signing webhook calls; the receiver must switch to it."""
    session.get(Company, login.user.company_id).webhook_secret = new_webhook_secret()
    return RedirectResponse(PAGE, status_code=303)


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def _checked_expiry(check: AdminForm) -> float | None:
    """Hours until new requests expire; None (empty field) = the server's default."""
    text = text_field(check.form, "expiry_hours").strip().replace(",", ".")  # German decimals too
    if not text:
        return None
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not (0 < hours <= MAX_EXPIRY_HOURS):  # also refuses NaN
        check.refuse("expiry_hours", "Enter a number of hours above 0 and at most {limit}, or leave it empty.",
                     limit=MAX_EXPIRY_HOURS)
        return None
    return hours


def _checked_emails(check: AdminForm) -> list[str]:
    text = text_field(check.form, "notify_emails")
    if len(text) > MAX_EMAILS_CHARS or not is_single_line(text):
        check.refuse("notify_emails", "Use at most {limit} characters on one line.", limit=MAX_EMAILS_CHARS)
        return []
    addresses = [address.lower() for address in split_addresses(text)]
    for address in addresses:
        if not is_email(address):
            check.refuse("notify_emails", "{address} is not an email address. Separate addresses with commas.",
                         address=address)
            break
    return list(dict.fromkeys(addresses))


def _checked_url(check: AdminForm) -> str:
    url = text_field(check.form, "webhook_url").strip()
    if url and not _is_web_address(url):
        check.refuse("webhook_url", "Enter an address that starts with https:// or http:// "
                                    "(at most {limit} characters), or leave it empty.", limit=MAX_URL_CHARS)
        return ""
    return url


def _is_web_address(url: str) -> bool:
    if len(url) > MAX_URL_CHARS or not is_single_line(url) or any(char.isspace() for char in url):
        return False
    return urls.is_web_address(url)
