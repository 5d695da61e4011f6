"""Dashboard logins: a random cookie token per login, stored as SHA-256, with its CSRF token."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from server import security
from server.actors import Actor
from server.models import User, WebSession, utcnow

COOKIE = "sosqueue_session"


@dataclass(frozen=True)
class Login:
    """Who is signed in on this browser, as the pages need it."""

    user: User
    csrf_token: str

    @property
    def actor(self) -> Actor:
        return Actor(kind="user", company_id=self.user.company_id, user=self.user)

    @property
    def is_admin(self) -> bool:
        return self.user.role == "admin"


def authenticate(session: Session, *, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (the same answer for every miss)."""
    user = None if "\x00" in email else session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.password_hash:
        security.verify_password(_DUMMY_HASH, password)  # the same work as a real check
        return None
    if not security.verify_password(user.password_hash, password) or not user.active:
        return None
    return user


_DUMMY_HASH = security.hash_password(secrets.token_urlsafe(16))


def start(session: Session, *, user: User, lifetime: timedelta) -> str:
    """A new login for ``user``; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(
        token_hash=security.token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    ))
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    return token


def resolve(session: Session, token: str, *, now: datetime) -> Login | None:
    row = session.scalar(
        select(WebSession)
        .where(WebSession.token_hash == security.token_hash(token))
        .options(joinedload(WebSession.user))
    )
    if row is None or row.expires_at <= now or not row.user.active:
        return None
    return Login(user=row.user, csrf_token=row.csrf_token)


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == security.token_hash(token)))


def end_all_for(session: Session, user_id: str) -> None:
    """Sign a user out everywhere (deactivated, or their password was reset)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())
