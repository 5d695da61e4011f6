"""Recorded presence follows the sockets: a failed leave is written later, a killed server's leftovers are cleared."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, text

from sosqueue import codes
from server.db import Database
from server.models import ServiceRequest
from tests.server.connect.peers import WAIT, Api, Expert, Sockets, receive
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.servers import QueueServer
from tests.support.tenants import make_tenant


def request_id(database_url: str, code: str) -> int:
    database = Database(database_url)
    try:
        with database.read() as session:
            return session.scalar(select(ServiceRequest.id).where(ServiceRequest.code == codes.normalize(code)))
    finally:
        database.dispose()


@contextmanager
def leaves_refused(database_url: str, request: int) -> Iterator[None]:
    """The database refuses to remove the request's participants (every leave fails) until the block ends."""
    name = f"refuse_leave_{uuid.uuid4().hex[:8]}"
    database = Database(database_url)
    if database.is_postgres:
        install = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION 'leaving is refused for this test'; END $$",
            f"CREATE TRIGGER {name} BEFORE DELETE ON request_participants FOR EACH ROW "
            f"WHEN (OLD.request_id = {request}) EXECUTE FUNCTION {name}()",
        ]
        remove = [f"DROP TRIGGER {name} ON request_participants", f"DROP FUNCTION {name}()"]
    else:
        install = [f"CREATE TRIGGER {name} BEFORE DELETE ON request_participants FOR EACH ROW "
                   f"WHEN OLD.request_id = {request} "
                   "BEGIN SELECT RAISE(ABORT, 'leaving is refused for this test'); END"]
        remove = [f"DROP TRIGGER {name}"]
    try:
        with database.engine.begin() as connection:
            for statement in install:
                connection.execute(text(statement))
        yield
    finally:
        with database.engine.begin() as connection:
            for statement in remove:
                connection.execute(text(statement))
        database.dispose()


def wait_for_log(server: QueueServer, line: str) -> None:
    """Return once the server logged ``line``."""
    deadline = time.monotonic() + WAIT
    while line not in server.log_path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not log {line!r}")
        time.sleep(0.05)


def test_a_leave_the_database_refused_is_written_when_it_accepts_it_again(server, sockets, api, expert):
    filed = sockets.file()
    customer = sockets.customer(filed)
    browser = sockets.expert(filed, expert)
    assert receive(customer) == {"type": "expert_joined", "expert": expert.shown}
    request = request_id(server.database_url, filed.code)
    user = f"user:{expert.user_id}"
    with leaves_refused(server.database_url, request):
        browser.close()
        wait_for_log(server, f"could not record {user} leaving request {request}")
    # The customer hears of the leave once it is recorded.
    assert receive(customer) == {"type": "expert_left", "expert": expert.shown}
    assert api.status(filed.code) == "pending"
    assert api.history(filed.code)[-2:] == [
        ("left", user, {"party": user}),
        ("status_changed", user, {"from": "in_progress", "to": "pending"}),
    ]


def test_a_sqlite_server_started_after_a_kill_records_the_killed_ones_sessions_as_left(make_database_url, tmp_path):
    url = make_database_url("sqlite")
    tenant = make_tenant(url, password=PASSWORD)
    email = tenant.supporter_email
    killed = QueueServer(url, log_dir=tmp_path).start()
    sockets, login = Sockets(killed.url, tenant), logged_in(killed.url, email)
    try:
        filed = sockets.file()
        customer = sockets.customer(filed)
        sockets.expert(filed, Expert(login, tenant.user_ids[email], email.partition("@")[0]))
        assert receive(customer)["type"] == "expert_joined"
    finally:
        killed.kill()  # SIGKILL: no socket closes, no leave is written
        sockets.close_all()
        login.close()
    user = f"user:{tenant.user_ids[email]}"
    with QueueServer(url, log_dir=tmp_path) as restarted:
        api = Api(restarted.url, tenant)
        assert api.status(filed.code) == "pending"
        assert api.history(filed.code) == [
            ("joined", "customer", {"party": "customer"}),
            ("status_changed", "customer", {"from": "new", "to": "pending"}),
            ("joined", user, {"party": user}),
            ("status_changed", user, {"from": "pending", "to": "in_progress"}),
            ("left", "system", {"party": "customer"}),
            ("status_changed", "system", {"from": "in_progress", "to": "pending"}),
            ("left", "system", {"party": user}),
        ]
        api.http.close()
