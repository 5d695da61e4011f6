"""Dashboard logins: the password check, the throttling of attempts, and the logins themselves.

A login is a random cookie token, stored as SHA-256, with its own CSRF token; it ends on
logout, on expiry, and everywhere at once when its user is deactivated or gets a new password.
Attempts are throttled per account and (looser, since an office shares one address) per client
address, before any password is checked.
"""

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from server import security
from server.actors import Actor
from server.db import Database
from server.models import User, WebSession, utcnow
from server.ratelimit import RateLimiter

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


# -- signing in ----------------------------------------------------------------------------


class Throttled(Exception):
    """Too many login attempts from this address or for this account; ``seconds`` to wait."""

    def __init__(self, seconds: int):
        super().__init__(f"too many login attempts; try again in {seconds} s")
        self.seconds = seconds


class Throttle:
    """Login attempts per account, and per client address (six times as many: offices share one)."""

    def __init__(self, per_minute: float):
        self.by_email = RateLimiter(per_minute=per_minute, burst=5)
        self.by_address = RateLimiter(per_minute=per_minute * 6, burst=30)

    def wait(self, *, address: str, email: str) -> int:
        """Take one attempt from both allowances; seconds to wait before the next, 0 = go."""
        wait = max(self.by_address.acquire(address), self.by_email.acquire(email.strip().lower()))
        return math.ceil(wait)


def sign_in(
    db: Database, throttle: Throttle, *, email: str, password: str, address: str, lifetime: timedelta
) -> str | None:
    """A new login's cookie token, or None when the email or the password is wrong.

    Raises ``Throttled`` (without checking the password) when the attempts are used up.
    """
    wait = throttle.wait(address=address, email=email)
    if wait:
        raise Throttled(wait)
    with db.write() as session:
        user = authenticate(session, email=email, password=password)
        return start(session, user=user, lifetime=lifetime) if user else None


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


# -- signed in -----------------------------------------------------------------------------


def resolve(session: Session, token: str, *, now: datetime) -> Login | None:
    row = session.scalar(
        select(WebSession)
        .where(WebSession.token_hash == security.token_hash(token))
        .options(joinedload(WebSession.user))
    )
    if row is None or row.expires_at <= now or not row.user.active:
        return None
    return Login(user=row.user, csrf_token=row.csrf_token)


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), given.encode())


# -- signing out ---------------------------------------------------------------------------


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == security.token_hash(token)))


def end_all_for(session: Session, user_id: str) -> None:
    """Sign a user out everywhere (deactivated, or their password was reset)."""
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
