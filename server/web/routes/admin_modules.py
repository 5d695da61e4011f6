"""Admin page for support modules: create, assignment strategy, rotate or revoke the token, download.

Downloads are made by ``server.downloads``; the route checks that the module can go into one.
"""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from server import admin, downloads, links, updates
from server.api.deps import StateDep, WriteDB
from server.assignment import UnknownStrategy, parse_strategy
from server.logins import Login
from server.models import Company, Group, Module, User
from server.web.deps import AdminLoginDep, FormDep
from server.web.errors import WebError
from server.web.forms import text_field
from server.lookups import company_row
from server.web.responses import DownloadResponse
from server.web.routes.admin_users import AdminForm, keyed, shown_once
from server.web.templating import render
from sosqueue import urls

router = APIRouter(prefix="/admin/modules")

PAGE = "/admin/modules"
INSECURE_URL = ("Modules must reach the queue over https:// (plain http:// works only on the server's own "
                "computer). Whoever runs the server sets SOSQUEUE_PUBLIC_URL to its https:// address.")


def company_module(session: Session, login: Login, module_id: str) -> Module:
    return company_row(session, Module, module_id, company_id=login.user.company_id, what="module")


def offered_downloads(state) -> tuple[tuple[str, str], ...]:
    return downloads.offered(state.settings.bases_dir)


def module_server_url(request: Request, state) -> tuple[str, str | None]:
    """Where downloaded modules reach the queue, and why that cannot work (None if it can)."""
    url = links.public_base(state.settings.public_url, request)
    try:
        return urls.server_url(url, allow_insecure=False), None
    except urls.BadServerUrl:
        return url, INSECURE_URL


# -- the page ------------------------------------------------------------------------------


def strategy_options(users: list[User]) -> list[tuple[str, str, dict]]:
    """(value, English label, label values) for the assignment choices."""
    options = [
        ("none", "Nobody: everyone in the group sees it", {}),
        ("round_robin", "In turn, among the group's available members", {}),
        ("least_open", "The available member with the fewest open requests", {}),
    ]
    return options + [(f"fixed:{user.email}", "Always {email}", {"email": user.email}) for user in users]


def _modules_page(request: Request, login: Login, state, *, values: dict | None = None,
                  errors: dict | None = None, status: int = 200) -> Response:
    company_id = login.user.company_id
    server_url, url_problem = module_server_url(request, state)
    with state.db.read() as session:
        modules = session.scalars(
            select(Module).where(Module.company_id == company_id)
            .options(selectinload(Module.group)).order_by(Module.name, Module.created_at)
        ).all()
        groups = session.scalars(select(Group).where(Group.company_id == company_id).order_by(Group.name)).all()
        users = session.scalars(
            select(User).where(User.company_id == company_id, User.active.is_(True)).order_by(User.email)
        ).all()
        return render(
            request, "admin/modules.html", login=login, modules=modules, groups=groups,
            strategies=strategy_options(users), token_states={m.id: _token_state(state, m) for m in modules},
            downloads=offered_downloads(state), agent_versions=updates.base_versions(state.settings.bases_dir),
            bases_dir=str(state.settings.bases_dir), server_url=server_url,
            url_problem=url_problem, values=values or {"assignment": "none"}, errors=errors or {}, status=status,
        )


def _token_state(state, module: Module) -> str:
    """revoked; rotate (its token was made at random and cannot go into a download); or ready."""
    if module.revoked_at is not None:
        return "revoked"
    return "ready" if admin.current_module_token(state.secret_key, module) else "rotate"


@router.get("")
def modules_page(request: Request, login: AdminLoginDep, state: StateDep) -> Response:
    """The company's modules, their tokens' state and downloads, and a form for a new one."""
    return _modules_page(request, login, state)


def _checked_assignment(check: AdminForm, session: Session, company_id: str) -> str:
    value = text_field(check.form, "assignment").strip()
    try:
        strategy = parse_strategy(value)
    except UnknownStrategy:
        check.refuse("assignment", "Choose who gets the module's new requests from the list.")
        return value
    if strategy.name != "fixed":
        return strategy.name
    if session.scalar(select(User.id).where(User.company_id == company_id, User.email == strategy.email)) is None:
        check.refuse("assignment", "There is no user with this email in your company.")
    return f"fixed:{strategy.email}"


def _checked_group(check: AdminForm, session: Session, company_id: str) -> str | None:
    """The chosen group's name, or None for the whole company."""
    group_id = text_field(check.form, "group")
    if not group_id:
        return None
    group = session.get(Group, group_id)
    if group is None or group.company_id != company_id:
        check.refuse("group", "Choose one of your company's groups.")
        return None
    return group.name


@router.post("")
def create_module(request: Request, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB) -> Response:
    """Register a module; its token is shown once, next to the downloads that carry it."""
    check = AdminForm(form)
    company_id = login.user.company_id
    name = check.line("name", required=True)
    group = _checked_group(check, session, company_id)
    assignment = _checked_assignment(check, session, company_id)
    if check.ok:
        created = admin.create_module(session, company=session.get(Company, company_id), name=name, group=group,
                                      assignment=assignment, secret_key=state.secret_key)
        module, token = {"id": created.item.id, "name": created.item.name}, created.token
    if not check.ok:
        values = {"name": name, "group": text_field(form, "group"), "assignment": assignment}
        return _modules_page(request, login, state, values=values, errors=check.errors, status=check.status)
    return shown_once(request, login, heading="Module {name} is registered", values={"name": module["name"]},
                      explanation="This is its token, shown only this once. The downloads below carry it already; "
                                  "you need it only to build a module yourself (sosqueue build).",
                      secret=token, secret_id="module-token", back=PAGE, module=module,
                      downloads=offered_downloads(state))


@router.post("/{module_id}/assignment")
def change_assignment(request: Request, module_id: str, login: AdminLoginDep, state: StateDep,
                      form: FormDep, session: WriteDB) -> Response:
    """Change who gets the module's new requests; requests already filed keep their assignee."""
    check = AdminForm(form)
    module = company_module(session, login, module_id)
    assignment = _checked_assignment(check, session, login.user.company_id)
    if check.ok:
        module.assignment = assignment
    if not check.ok:
        return _modules_page(request, login, state, errors=keyed(check.errors, module_id), status=check.status)
    return RedirectResponse(PAGE, status_code=303)


@router.post("/{module_id}/rotate")
def rotate_token(
    request: Request, module_id: str, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB
) -> Response:
    """Give the module a new token (this also brings a revoked module back); the old one stops at once."""
    module = company_module(session, login, module_id)
    token = admin.rotate_module_token(session, module=module, secret_key=state.secret_key)
    shown = {"id": module.id, "name": module.name}
    return shown_once(
        request, login, heading="New token for {name}", values={"name": shown["name"]},
        explanation="The old token stopped working just now. The new one is shown only this once.",
        notes=("Modules already handed out stop working until they are replaced: download the module again "
               "and hand it out, or rebuild your own with the new token.",),
        secret=token, secret_id="module-token", back=PAGE, module=shown, downloads=offered_downloads(state),
    )


@router.post("/{module_id}/revoke")
def revoke(module_id: str, login: AdminLoginDep, form: FormDep, session: WriteDB) -> Response:
    """Stop the module from filing requests; rotating its token brings it back."""
    admin.revoke_module(session, module=company_module(session, login, module_id))
    return RedirectResponse(PAGE, status_code=303)


# -- downloads -----------------------------------------------------------------------------


@router.get("/{module_id}/download/{platform}")
def download(request: Request, module_id: str, platform: str, login: AdminLoginDep, state: StateDep) -> Response:
    """The module for one platform, stamped now with its current token."""
    base = downloads.available_bases(state.settings.bases_dir).get(platform)
    with state.db.read() as session:
        module = company_module(session, login, module_id)
        if base is None:
            raise WebError(404, "This server has no base agent for {platform}.", platform=platform[:20])
        if module.revoked_at is not None:
            raise WebError(409, "This module is revoked. Rotate its token to use it again, then download it.")
        token = admin.current_module_token(state.secret_key, module)
        if token is None:
            raise WebError(409, "This module's token cannot go into a download. Rotate the token once, "
                                "then download the module.")
        server_url, url_problem = module_server_url(request, state)
        if url_problem:
            raise WebError(409, INSECURE_URL)
        spec = downloads.module_spec(module, token=token, server_url=server_url,
                                     update_key=updates.public_key(state.secret_key))
    try:
        made = downloads.stamp(spec, base=base, platform=platform)
    except downloads.StampFailed as failed:
        raise WebError(500, "The server's base agent for {platform} cannot be used: {reason}",
                       platform=failed.label, reason=failed.reason) from None
    return DownloadResponse(made, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
