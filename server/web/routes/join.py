"""The customer's page of a request (``server.links.END_CUSTOMER_PATH``): how to get the company's support
module and start it with the request's code, and the module's downloads.

A ticket system pastes the link for a customer who may not have the module yet. The page is public, as
the code is: whoever has it may join the request. So that codes cannot be guessed through it:

- each client address may open so many pages, and fewer downloads, through limits every server
  process shares (``server.ratelimit``): 30 pages at once, then 6 P a minute; 5 downloads at once,
  then P a minute, with P = ``login_attempts_per_minute`` (the server's limit on guessing; 0 turns
  both off);
- an unknown code (404) and a closed or expired one (410) get a page that names no company.

The module is the request's own, else an active module of the request's group, else of the company
(one for the whole company before another group's), preferring one whose token can be derived
(``server.admin.current_module_token``), so that a download can carry it. A download is that module
stamped now for one platform (``server.downloads``), as the admin's download is; its token travels
only inside the file.
"""

import base64
import math
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from branding.model import BrandError
from server import admin, brands, downloads, ratelimit, updates
from server.api.deps import StateDep
from server.links import END_CUSTOMER_PATH
from server.models import Company, Module, ServiceRequest, utcnow
from server.queue import effective_status
from server.web.deps import client_address
from server.web.responses import DownloadResponse
from server.web.routes.admin_modules import module_server_url
from server.web.templating import render
from sosqueue import codes
from sosqueue.i18n import N_
from sosqueue.platforms import Platform, module_file_name

router = APIRouter()

DOWNLOAD_PATH = END_CUSTOMER_PATH + "/download/{platform}"
#: A public page about one customer's request: no search engine keeps it.
_NOT_INDEXED = {"X-Robots-Tag": "noindex, nofollow"}
#: The largest logo the page shows inline; a larger one is left out rather than make the page heavy.
MAX_LOGO_BYTES = 256 * 1024
#: How to start a downloaded module with the code, by platform, in the folder it was saved to: {file} and {code}
#: are filled in (on Windows the same in the command prompt and PowerShell).
START_COMMANDS = {
    Platform.WINDOWS: ".\\{file} --code {code}",
    Platform.LINUX: "chmod +x {file} && ./{file} --code {code}",
    Platform.MACOS: "open {file} --args --code {code}",
}


class Refused(Exception):
    """The page or download cannot be given: ``status``, an English ``message`` (translated when shown)."""

    def __init__(self, status: int, title: str, message: str, *, headers: dict | None = None, **values):
        super().__init__(message)
        self.status, self.title, self.message, self.values = status, title, message, values
        self.headers = headers or {}


def unknown() -> Refused:
    return Refused(404, N_("Link not found"), N_("This link does not lead to a support request. Check that you "
                                                 "copied all of it, or ask your supporter for a new link."))


def over() -> Refused:
    return Refused(410, N_("Link no longer valid"), N_("This support request is already closed or has expired. If "
                                                       "you still need help, ask your supporter for a new link."))


def no_download(message: str = N_("There is no download of the support module for you here. Ask your supporter "
                                  "for the support module.")) -> Refused:
    return Refused(404, N_("Download not available"), message)


# -- the limits -----------------------------------------------------------------------------


def _limits(state) -> tuple[ratelimit.Limit, ratelimit.Limit]:
    per_minute = state.settings.login_attempts_per_minute
    return (ratelimit.Limit("join:address", per_minute=per_minute * 6, burst=30),
            ratelimit.Limit("join:download:address", per_minute=per_minute, burst=5))


def _throttle(request: Request, state, limit: ratelimit.Limit) -> None:
    wait = ratelimit.take_alone(state.db, limit, client_address(request))
    if wait:
        seconds = math.ceil(wait)
        raise Refused(429, N_("Please wait a moment"), N_("Too many support pages were opened from your network. "
                                                          "Try again in {seconds} s."),
                      headers={"Retry-After": str(seconds)}, seconds=seconds)


# -- the request and its module -------------------------------------------------------------


def open_request(session: Session, code: str, now: datetime) -> ServiceRequest:
    """The open request with ``code`` in any spelling; :class:`Refused` for any other."""
    try:
        canonical = codes.normalize(code)
    except codes.InvalidCode:
        raise unknown() from None
    request = session.scalar(select(ServiceRequest).where(ServiceRequest.code == canonical))
    if request is None:
        raise unknown()
    if not effective_status(request, now).is_open:
        raise over()
    return request


@dataclass(frozen=True)
class CustomerModule:
    """The module the page offers, and its token when a download can carry it (None: ask the supporter)."""

    module: Module
    token: str | None


def customer_module(session: Session, request: ServiceRequest, secret_key: str) -> CustomerModule | None:
    """The request's own module, else one of its group, else one for the whole company, else any of the
    company's; of these the first whose token can be derived, else the first. None without an active one."""
    modules = session.scalars(
        select(Module).where(Module.company_id == request.company_id, Module.revoked_at.is_(None))
        .order_by(Module.created_at, Module.id)
    ).all()

    def closeness(module: Module) -> int:
        if module.id == request.module_id:
            return 0
        if request.group_id is not None and module.group_id == request.group_id:
            return 1
        return 2 if module.group_id is None else 3

    ranked = sorted(modules, key=closeness)
    for module in ranked:
        token = admin.current_module_token(secret_key, module)
        if token is not None:
            return CustomerModule(module, token)
    return CustomerModule(ranked[0], None) if ranked else None


# -- the page -------------------------------------------------------------------------------


def platform_of(user_agent: str) -> str | None:
    """The platform a browser runs on, as its User-Agent tells (None: a phone, a tablet, or unknown)."""
    if "Windows" in user_agent:
        return Platform.WINDOWS.value
    if any(mobile in user_agent for mobile in ("Android", "iPhone", "iPad", "Mobile")):
        return None
    if "Mac OS X" in user_agent or "Macintosh" in user_agent:
        return Platform.MACOS.value
    if "Linux" in user_agent or "X11" in user_agent:
        return Platform.LINUX.value
    return None


def _brand_names(session: Session, request: ServiceRequest, chosen: CustomerModule | None) -> tuple[str, str, str]:
    """The company's and the module's names as the module shows them, and its logo as a data: URL ("" for none)."""
    company = session.get(Company, request.company_id).name
    stored = chosen.module.brand if chosen is not None else None
    try:
        # The settings alone: the page needs the names, not the logo decoded and checked again.
        brand = brands.brand_of(stored.settings) if stored is not None else brands.default_brand(company)
    except BrandError:  # kept by an older server with looser rules
        brand = brands.default_brand(company)
    logo = stored.logo_png if stored is not None and stored.logo_png else b""
    data_url = "data:image/png;base64," + base64.b64encode(logo).decode() if 0 < len(logo) <= MAX_LOGO_BYTES else ""
    return brand.company, brand.product, data_url


@dataclass(frozen=True)
class Offer:
    """One download on the page: where, for which computer, and how to start what it brings with the code."""

    platform: str
    label: str
    href: str
    file: str
    command: str
    mine: bool  # the customer's browser runs on this platform


def _offers(request: Request, state, item: ServiceRequest, chosen: CustomerModule | None, product: str) -> list[Offer]:
    if chosen is None or chosen.token is None or module_server_url(request, state)[1]:
        return []
    code, mine = codes.display(item.code), platform_of(request.headers.get("user-agent", ""))
    offers = []
    for platform, label in downloads.offered(state.settings.bases_dir):
        file = module_file_name(product, Platform(platform))
        offers.append(Offer(platform, label, DOWNLOAD_PATH.format(code=code, platform=platform), file,
                            START_COMMANDS[Platform(platform)].format(file=file, code=code), platform == mine))
    return sorted(offers, key=lambda offer: not offer.mine)


@router.get(END_CUSTOMER_PATH)
def join_page(request: Request, code: str, state: StateDep) -> Response:
    """How the customer gets the company's support module and starts it with this request's code."""
    try:
        _throttle(request, state, _limits(state)[0])
        with state.db.read() as session:
            item = open_request(session, code, utcnow())
            chosen = customer_module(session, item, state.secret_key)
            company, product, logo = _brand_names(session, item, chosen)
            offers = _offers(request, state, item, chosen, product)
            return render(request, "join.html", code=codes.display(item.code), company=company, product=product,
                          logo=logo, offers=offers, valid_until=item.valid_until, headers=_NOT_INDEXED)
    except Refused as refused:
        return refusal_page(request, refused)


def refusal_page(request: Request, refused: Refused) -> Response:
    """Why there is no page or download, in a page that names no company."""
    return render(request, "join_refused.html", status=refused.status, title=refused.title, message=refused.message,
                  values=refused.values, headers={**_NOT_INDEXED, **refused.headers})


# -- the download ---------------------------------------------------------------------------


@router.get(DOWNLOAD_PATH)
def join_download(request: Request, code: str, platform: str, state: StateDep) -> Response:
    """The company's module for one platform, stamped now with its token, for the customer of an open request."""
    try:
        _throttle(request, state, _limits(state)[1])
        base = downloads.available_bases(state.settings.bases_dir).get(platform)
        with state.db.read() as session:
            item = open_request(session, code, utcnow())
            if base is None:
                raise no_download(N_("There is no download for this kind of computer here. Use one of the buttons "
                                     "on the page, or ask your supporter for the support module."))
            chosen = customer_module(session, item, state.secret_key)
            server_url, url_problem = module_server_url(request, state)
            if chosen is None or chosen.token is None or url_problem:
                raise no_download()
            try:
                spec = downloads.module_spec(chosen.module, token=chosen.token, server_url=server_url,
                                             update_key=updates.public_key(state.secret_key))
            except brands.StoredBrandInvalid:
                raise no_download() from None
        made = downloads.stamp(spec, base=base, platform=platform)
    except Refused as refused:
        return refusal_page(request, refused)
    except downloads.StampFailed:  # logged where it failed
        return refusal_page(request, Refused(500, N_("Download not available"), N_(
            "The download could not be made. Try again later, or ask your supporter for the support module.")))
    return DownloadResponse(made, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                           **_NOT_INDEXED})
