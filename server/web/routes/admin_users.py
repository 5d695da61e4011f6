"""Admin page for the company's users: create, change role, deactivate, reset passwords.

Also the checks every admin form shares (:class:`AdminForm`): each refused field gets one
English sentence, which the page translates and shows beside the field.
"""

import secrets
import unicodedata

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from starlette.datastructures import FormData

from server import security
from server.admin import ROLES
from server.api.deps import StateDep, WriteDB
from server.models import Company, User
from server import logins
from server.web.deps import AdminLoginDep, FormDep
from server.web.forms import text_field
from server.lookups import company_row
from server.logins import Login
from server.web.templating import render

router = APIRouter(prefix="/admin/users")

MIN_PASSWORD = security.MIN_PASSWORD_LENGTH
MAX_PASSWORD = 200
NO_ADMIN_LEFT = "This would leave your company without an active admin. Make another user admin first."

Message = tuple[str, dict]  # English text and its values; the page translates it


class AdminForm:
    """A posted admin form, checked field by field; what is wrong collects in ``errors``."""

    def __init__(self, form: FormData):
        self.form = form
        self.errors: dict[str, Message] = {}
        self.status = 422  # the page's status when refused

    @property
    def ok(self) -> bool:
        return not self.errors

    def refuse(self, name: str, message: str, **values) -> None:
        self.errors.setdefault(name, (message, values))

    def conflict(self, name: str, message: str, **values) -> None:
        """Refuse because of what is stored already, not because of the input itself."""
        self.refuse(name, message, **values)
        self.status = 409

    def line(self, name: str, *, limit: int = 100, required: bool = False) -> str:
        """One line of text, trimmed."""
        value = text_field(self.form, name).strip()
        if required and not value:
            self.refuse(name, "Fill this in.")
        elif len(value) > limit or not is_single_line(value):
            self.refuse(name, "Use at most {limit} characters on one line.", limit=limit)
        return value

    def email(self, name: str) -> str:
        value = self.line(name, limit=254, required=True).lower()
        if name not in self.errors and not is_email(value):
            self.refuse(name, "Enter an email address like name@example.com.")
        return value

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = text_field(self.form, name)
        if value not in choices:
            self.refuse(name, "Choose one of the offered options.")
        return value

    def password(self, name: str) -> tuple[str, bool]:
        """The typed password, or a generated one (then True) when the field is empty."""
        value = text_field(self.form, name)  # not trimmed: spaces may belong to it
        if not value:
            return secrets.token_urlsafe(12), True
        if len(value) < MIN_PASSWORD:
            self.refuse(name, "Use at least {count} characters, or leave it empty to have one generated.",
                        count=MIN_PASSWORD)
        elif len(value) > MAX_PASSWORD or not is_single_line(value):
            self.refuse(name, "Use at most {limit} characters on one line.", limit=MAX_PASSWORD)
        return value, False


def is_single_line(value: str) -> bool:
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in value)


def is_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return (
        bool(local) and "@" not in domain and "." in domain.strip(".") and len(value) <= 254
        and not any(char.isspace() or char == "," for char in value)
    )


def keyed(errors: dict[str, Message], key: str) -> dict[str, Message]:
    """Errors of a form in one table row, keyed ``field:row`` so they show in that row."""
    return {f"{name}:{key}": message for name, message in errors.items()}


def company_user(session: Session, login: Login, user_id: str) -> User:
    return company_row(session, User, user_id, company_id=login.user.company_id, what="user")


def lock_company(session: Session, login: Login) -> None:
    """Serialise admin changes within the company (PostgreSQL; SQLite writers queue anyway)."""
    session.get(Company, login.user.company_id, with_for_update=True)


def shown_once(request: Request, login: Login, *, heading: str, explanation: str, secret: str, secret_id: str,
               back: str, values: dict | None = None, notes: tuple[str, ...] = (), module: dict | None = None,
               downloads: tuple[tuple[str, str], ...] = ()) -> Response:
    """A page with a new password or token, which nobody can see again.

    It answers the POST itself instead of redirecting: the secret must not be stored anywhere
    for a GET to show it later.
    """
    return render(request, "admin/secret.html", login=login, heading=heading, explanation=explanation,
                  secret=secret, secret_id=secret_id, back=back, values=values or {}, notes=notes,
                  module=module, downloads=downloads)


# -- the page ------------------------------------------------------------------------------


def _users_page(request: Request, login: Login, state, *, values: dict | None = None,
                errors: dict | None = None, status: int = 200) -> Response:
    with state.db.read() as session:
        users = session.scalars(
            select(User).where(User.company_id == login.user.company_id)
            .options(selectinload(User.groups)).order_by(User.email)
        ).all()
        return render(request, "admin/users.html", login=login, users=users, roles=ROLES,
                      values=values or {"role": "supporter"}, errors=errors or {}, status=status)


@router.get("")
def users_page(request: Request, login: AdminLoginDep, state: StateDep) -> Response:
    """The company's users, and a form for a new one."""
    return _users_page(request, login, state)


@router.post("")
def create_user(request: Request, login: AdminLoginDep, state: StateDep, form: FormDep) -> Response:
    """Add a user who logs in with the given password, or a generated one shown once."""
    check = AdminForm(form)
    values = {"email": check.email("email"), "name": check.line("name"), "role": check.choice("role", ROLES)}
    password, generated = check.password("password")
    if check.ok:
        user = User(company_id=login.user.company_id, email=values["email"], name=values["name"],
                    role=values["role"], password_hash=security.hash_password(password), available=True, active=True)
        with state.db.write() as session:
            if not _insert(session, user):
                check.conflict("email", "A user with this email already exists.")
    if not check.ok:
        return _users_page(request, login, state, values=values, errors=check.errors, status=check.status)
    if generated:
        return shown_once(request, login, heading="{email} can log in now", values={"email": values["email"]},
                          explanation="Give them this password; it is shown only this once.",
                          secret=password, secret_id="new-password", back="/admin/users")
    return RedirectResponse("/admin/users", status_code=303)


def _insert(session: Session, user: User) -> bool:
    """Store the new user; False when the email is taken (checked by the database, race-free)."""
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        return False
    return True


@router.post("/{user_id}/role")
def change_role(
    request: Request, user_id: str, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB
) -> Response:
    """Make a user admin or supporter."""
    check = AdminForm(form)
    role = check.choice("role", ROLES)
    lock_company(session, login)
    user = company_user(session, login, user_id)
    if check.ok and _leaves_no_admin(session, user, role=role, active=user.active):
        check.conflict("role", NO_ADMIN_LEFT)
    if check.ok:
        user.role = role
    if not check.ok:
        return _users_page(request, login, state, errors=keyed(check.errors, user_id), status=check.status)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/{user_id}/active")
def change_active(
    request: Request, user_id: str, login: AdminLoginDep, state: StateDep, form: FormDep, session: WriteDB
) -> Response:
    """Deactivate a user (their logins and API tokens stop working at once) or reactivate them."""
    check = AdminForm(form)
    active = check.choice("active", ("0", "1")) == "1"
    lock_company(session, login)
    user = company_user(session, login, user_id)
    if check.ok and _leaves_no_admin(session, user, role=user.role, active=active):
        check.conflict("active", NO_ADMIN_LEFT)
    if check.ok:
        user.active = active
        if not active:
            logins.end_all_for(session, user.id)
    if not check.ok:
        return _users_page(request, login, state, errors=keyed(check.errors, user_id), status=check.status)
    if not active:
        request.app.state.connect_hub.sign_out(user_id=user_id)  # their open session views close too
    return RedirectResponse("/admin/users", status_code=303)


def _leaves_no_admin(session: Session, user: User, *, role: str, active: bool) -> bool:
    """Whether the change takes the company's last active admin away."""
    if not (user.role == "admin" and user.active) or (role == "admin" and active):
        return False
    others = session.scalar(
        select(func.count()).select_from(User).where(
            User.company_id == user.company_id, User.role == "admin", User.active.is_(True), User.id != user.id
        )
    )
    return others == 0


@router.post("/{user_id}/password")
def reset_password(request: Request, user_id: str, login: AdminLoginDep, state: StateDep, form: FormDep) -> Response:
    """Set a new password (typed, or generated and shown once) and sign the user out everywhere."""
    check = AdminForm(form)
    password, generated = check.password("password")
    with state.db.read() as session:
        email = company_user(session, login, user_id).email
    if not check.ok:
        return _users_page(request, login, state, errors=keyed(check.errors, user_id), status=check.status)
    password_hash = security.hash_password(password)
    with state.db.write() as session:
        user = company_user(session, login, user_id)
        user.password_hash = password_hash
        logins.end_all_for(session, user.id)
    request.app.state.connect_hub.sign_out(user_id=user_id)  # their open session views close too
    if generated:
        return shown_once(request, login, heading="New password for {email}", values={"email": email},
                          explanation="Give them this password; it is shown only this once. "
                                      "They have been logged out everywhere.",
                          secret=password, secret_id="new-password", back="/admin/users")
    return RedirectResponse("/admin/users", status_code=303)
