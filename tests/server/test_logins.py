"""Dashboard logins without HTTP: throttling, the password check, signing in and out."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import logins, security
from server.db import Database, upgrade
from server.models import User, WebSession, utcnow
from tests.support.dashboard import PASSWORD
from tests.support.servers import sqlite_url
from tests.support.tenants import make_tenant

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    db = Database(sqlite_url(tmp_path_factory.mktemp("db")))
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def email(database) -> str:
    """The email of an account of this test's own (the throttle's counts live in the module's database)."""
    return make_tenant(database.url, password=PASSWORD, supporters=0).admin_email


class Clock:
    """A clock that stands still unless the test moves it: the allowances come back only then."""

    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle() -> logins.Throttle:
    return logins.Throttle(per_minute=10, clock=Clock())


@pytest.fixture
def who(request) -> str:
    """An account's email of this test's own (the throttle's counts live in the module's database)."""
    return f"{request.node.name[:40]}@example.test"


def test_an_account_gets_five_quick_attempts_per_address_whatever_the_spelling_of_its_email(database, throttle, who):
    waits = [throttle.wait(database, address="10.0.0.1", email=f" {who.upper()}" if i % 2 else who) for i in range(6)]
    assert waits[:5] == [0] * 5
    assert waits[5] == 6  # one attempt comes back every 60 / 10 seconds


def test_an_address_gets_thirty_quick_attempts_across_accounts(database, throttle, who):
    waits = [throttle.wait(database, address="10.0.1.1", email=f"{i}-{who}") for i in range(31)]
    assert waits[:30] == [0] * 30 and waits[30] > 0


def test_successful_logins_do_not_use_up_an_address(database, throttle, who):
    """An office behind one address signs in many times over; only failures count."""
    for i in range(40):
        assert throttle.wait(database, address="10.0.2.1", email=f"{i}-{who}") == 0
        with database.write() as session:
            throttle.succeeded(session, address="10.0.2.1", email=f"{i}-{who}")


def test_no_throttle_when_attempts_per_minute_is_zero(database, who):
    throttle = logins.Throttle(per_minute=0)
    assert {throttle.wait(database, address="10.0.3.1", email=who) for _ in range(50)} == {0}


def test_an_attackers_failures_do_not_lock_the_user_out_of_their_own_address(database, email):
    """Wrong passwords for the account from another address use up only that address's attempts."""
    throttle = logins.Throttle(per_minute=10, clock=Clock())
    for _ in range(5):
        assert logins.sign_in(database, throttle, email=email, password="guess", address="198.51.100.7",
                              lifetime=HOUR) is None
    with pytest.raises(logins.Throttled):
        logins.sign_in(database, throttle, email=email, password="guess", address="198.51.100.7", lifetime=HOUR)
    assert logins.sign_in(database, throttle, email=email, password=PASSWORD, address="10.0.4.1", lifetime=HOUR)


def test_a_successful_login_wipes_the_failures_of_its_address(database, email):
    """Four typos, then the right password: the next five attempts from there are not held back."""
    throttle = logins.Throttle(per_minute=10, clock=Clock())
    for _ in range(4):
        logins.sign_in(database, throttle, email=email, password="typo", address="10.0.5.1", lifetime=HOUR)
    assert logins.sign_in(database, throttle, email=email, password=PASSWORD, address="10.0.5.1", lifetime=HOUR)
    assert [throttle.wait(database, address="10.0.5.1", email=email) for _ in range(6)] == [0] * 5 + [6]


def test_the_account_backstop_holds_at_fifty_failures_but_not_where_the_user_signed_in(database, email):
    """From many addresses an account gets fifty failures, then a new address waits; an address the user
    signed in from before still gets in."""
    throttle = logins.Throttle(per_minute=10, clock=Clock())
    assert logins.sign_in(database, throttle, email=email, password=PASSWORD, address="10.0.6.1", lifetime=HOUR)
    waits = [throttle.wait(database, address=f"203.0.113.{i // 5}", email=email) for i in range(50)]
    assert waits == [0] * 50
    assert throttle.wait(database, address="203.0.113.200", email=email) == 30  # P / 5 a minute: one per 30 s
    assert logins.sign_in(database, throttle, email=email, password=PASSWORD, address="10.0.6.1", lifetime=HOUR)


def test_signing_in_starts_a_login_that_resolves_to_its_user(database, email):
    token = logins.sign_in(database, logins.Throttle(per_minute=0), email=email.upper(), password=PASSWORD,
                           address="10.0.0.1", lifetime=HOUR)
    with database.read() as session:
        login = logins.resolve(session, token, now=utcnow())
        assert login.user.email == email
        assert logins.resolve(session, token, now=utcnow() + 2 * HOUR) is None  # expired
    with database.write() as session:
        logins.end(session, token)
    with database.read() as session:
        assert logins.resolve(session, token, now=utcnow()) is None


@pytest.mark.parametrize("given", ["wrong password", "", "\x00"])
def test_a_wrong_password_signs_in_nobody(database, email, given):
    assert logins.sign_in(database, logins.Throttle(per_minute=0), email=email, password=given,
                          address="10.0.0.1", lifetime=HOUR) is None


def test_a_throttled_attempt_is_refused_before_the_password_is_checked(database, email):
    throttle = logins.Throttle(per_minute=10, clock=Clock())
    for _ in range(5):
        logins.sign_in(database, throttle, email=email, password="wrong", address="10.0.0.2", lifetime=HOUR)
    with pytest.raises(logins.Throttled) as refused:
        logins.sign_in(database, throttle, email=email, password=PASSWORD, address="10.0.0.2", lifetime=HOUR)
    assert refused.value.seconds == 6


def test_csrf_tokens_match_only_when_equal_and_given():
    assert logins.tokens_match("abc", "abc")
    assert not logins.tokens_match("abc", "abd")
    assert not logins.tokens_match("abc", None)
    assert not logins.tokens_match("abc", "")


@pytest.mark.parametrize("change", ["password reset", "deactivated"])
def test_a_password_reset_or_deactivation_during_the_check_leaves_no_login(database, email, change, monkeypatch):
    """The password is checked in a read; a reset (or deactivation) that commits before the login is
    written ends it as it ends every other login: nobody is signed in."""
    real = logins.authenticate

    def authenticate_then_change(session, **given):
        user = real(session, **given)
        with database.write() as other:
            changed = other.scalar(select(User).where(User.email == email))
            if change == "password reset":
                changed.password_hash = security.hash_password("a new one")
            else:
                changed.active = False
            logins.end_all_for(other, changed.id)
        return user

    monkeypatch.setattr(logins, "authenticate", authenticate_then_change)
    assert logins.sign_in(database, logins.Throttle(per_minute=0), email=email, password=PASSWORD,
                          address="10.0.9.1", lifetime=HOUR) is None
    with database.read() as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
        assert session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)) == 0
