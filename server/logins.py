"""Dashboard logins: the password check, the throttling of attempts, and the logins themselves.

A login is a random cookie token, stored as SHA-256, with its own CSRF token; it ends on
logout, on expiry, and everywhere at once when its user is deactivated or gets a new password.

Attempts are throttled before any password is checked, through limits that every server process
shares (``server.ratelimit``), with P = ``login_attempts_per_minute`` (10 by default; 0 turns
throttling off):

- per account and client address: 5 at once, then P a minute. A successful login from that
  address wipes the pair's count, so a user who mistypes now and then is never held back, and
  failures from an attacker's address do not touch the user's own.
- per client address, whatever the account (against one address trying a password on many
  accounts): 30 at once, then 6 P a minute (an office shares one address).
- per account, whatever the address (the backstop against guessing from many addresses):
  50 at once, then P / 5 a minute. It does not apply to an address the account has signed in
  from in the last 90 days, so an attacker who exhausts it cannot lock the user out of a
  place they already used.

A successful attempt gives back what it took from the address's and the account's allowances:
only failures count.
"""

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from server import ratelimit, security
from server.actors import Actor
from server.db import Database
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


# -- signing in ----------------------------------------------------------------------------


class Throttled(Exception):
    """Too many login attempts from this address or for this account; ``seconds`` to wait."""

    def __init__(self, seconds: int):
        super().__init__(f"too many login attempts; try again in {seconds} s")
        self.seconds = seconds


class Throttle:
    """The login limits of the module's docstring, for ``per_minute`` attempts (P)."""

    #: How long a successful login exempts its (account, address) from the account's backstop.
    KNOWN_FOR = timedelta(days=90)

    def __init__(self, per_minute: float, *, clock: Callable[[], float] | None = None):
        """``clock`` (seconds since the epoch) is for tests; by default the database's clock counts."""
        self.by_account_and_address = ratelimit.Limit("login:account+address", per_minute=per_minute, burst=5)
        self.by_address = ratelimit.Limit("login:address", per_minute=per_minute * 6, burst=30)
        self.by_account = ratelimit.Limit("login:account", per_minute=per_minute / 5, burst=50)
        self._clock = clock

    def wait(self, db: Database, *, address: str, email: str) -> int:
        """Take one attempt from every allowance that applies; seconds to wait before the next, 0 = go.

        A refused attempt takes nothing (its write transaction rolls back).
        """
        if not self.by_account_and_address.enabled:
            return 0
        try:
            with db.write() as session:
                self._take(session, address=address, email=email)
        except Throttled as refused:
            return refused.seconds
        return 0

    def succeeded(self, session: Session, *, address: str, email: str) -> None:
        """The attempt's password was right: wipe the pair's count, give back the rest, remember the pair."""
        if not self.by_account_and_address.enabled:
            return
        account, pair = _keys(address, email)
        now = self._clock() if self._clock else None
        ratelimit.forget(session, self.by_account_and_address.name, pair)
        ratelimit.give_back(session, self.by_address, address)
        if not ratelimit.remembered(session, _KNOWN, pair, now=now):
            ratelimit.give_back(session, self.by_account, account)
        ratelimit.remember(session, _KNOWN, pair, seconds=self.KNOWN_FOR.total_seconds(), now=now)

    def _take(self, session: Session, *, address: str, email: str) -> None:
        """Take from each allowance in turn; raises ``Throttled`` at the first that is used up."""
        account, pair = _keys(address, email)
        now = self._clock() if self._clock else None
        checks = [(self.by_account_and_address, pair), (self.by_address, address)]
        if not ratelimit.remembered(session, _KNOWN, pair, now=now):
            checks.append((self.by_account, account))
        for limit, key in checks:
            wait = ratelimit.take(session, limit, key, now=now)
            if wait:
                raise Throttled(math.ceil(wait))


#: The marks of (account, address) pairs that signed in lately.
_KNOWN = "login:known"


def _keys(address: str, email: str) -> tuple[str, str]:
    """The account's key and the (account, address) pair's key of an attempt."""
    account = email.strip().lower()
    return account, f"{account}\n{address}"


def sign_in(
    db: Database, throttle: Throttle, *, email: str, password: str, address: str, lifetime: timedelta
) -> str | None:
    """A new login's cookie token, or None when the email or the password is wrong.

    Raises ``Throttled`` (without checking the password) when the attempts are used up. The
    password is checked outside any write transaction: a flood of wrong ones holds no lock.
    """
    wait = throttle.wait(db, address=address, email=email)
    if wait:
        raise Throttled(wait)
    with db.read() as session:
        user = authenticate(session, email=email, password=password)
        checked = None if user is None else (user.id, user.password_hash)
    if checked is None:
        return None
    with db.write() as session:
        # A password reset or a deactivation that committed since the check ends every login
        # (end_all_for): this one must not outlive it.
        current = session.get(User, checked[0])
        if current is None or not current.active or current.password_hash != checked[1]:
            return None
        throttle.succeeded(session, address=address, email=email)
        return start(session, user=current, lifetime=lifetime)


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
