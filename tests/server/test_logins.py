"""Dashboard logins without HTTP: throttling, the password check, signing in and out."""

from datetime import timedelta

import pytest

from server import logins
from server.db import Database
from server.models import utcnow
from tests.support.dashboard import PASSWORD
from tests.support.servers import sqlite_url
from tests.support.tenants import make_tenant

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    db = Database(sqlite_url(tmp_path_factory.mktemp("db")))
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def email(database) -> str:
    return make_tenant(database.url, password=PASSWORD, supporters=0).admin_email


def test_an_account_gets_five_quick_attempts_whatever_the_spelling_of_its_email():
    throttle = logins.Throttle(per_minute=10)
    waits = [throttle.wait(address=f"10.0.0.{i}", email=" Ada@Example.TEST" if i % 2 else "ada@example.test")
             for i in range(6)]
    assert waits[:5] == [0] * 5
    assert waits[5] == 6  # one attempt comes back every 60 / 10 seconds


def test_an_address_gets_thirty_quick_attempts_across_accounts():
    throttle = logins.Throttle(per_minute=10)
    waits = [throttle.wait(address="10.0.0.1", email=f"user{i}@example.test") for i in range(31)]
    assert waits[:30] == [0] * 30 and waits[30] > 0


def test_no_throttle_when_attempts_per_minute_is_zero():
    throttle = logins.Throttle(per_minute=0)
    assert {throttle.wait(address="10.0.0.1", email="a@example.test") for _ in range(50)} == {0}


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
    throttle = logins.Throttle(per_minute=10)
    for _ in range(5):
        logins.sign_in(database, throttle, email=email, password="wrong", address="10.0.0.2", lifetime=HOUR)
    with pytest.raises(logins.Throttled) as refused:
        logins.sign_in(database, throttle, email=email, password=PASSWORD, address="10.0.0.2", lifetime=HOUR)
    assert 0 < refused.value.seconds <= 6  # the checks before took a little of the wait


def test_csrf_tokens_match_only_when_equal_and_given():
    assert logins.tokens_match("abc", "abc")
    assert not logins.tokens_match("abc", "abd")
    assert not logins.tokens_match("abc", None)
    assert not logins.tokens_match("abc", "")
