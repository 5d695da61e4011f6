"""Property-based tests of the status machine: the pure functions, and a real server against them."""

import httpx
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from server.lifecycle import CUSTOMER, IllegalTransition, Presence, close, expire, join, leave, status_for
from sosqueue.statuses import FINAL_STATUSES, Status
from tests.support.tenants import bearer, file_request, make_tenant

PARTIES = [CUSTOMER, "user:alice", "user:bob", "user:carol"]


def expected_open_status(joined: set[str], ever_joined: bool) -> Status:
    """The seed's definition, written independently of ``status_for``."""
    experts = joined - {CUSTOMER}
    if CUSTOMER in joined and experts:
        return Status.IN_PROGRESS
    if not ever_joined:
        return Status.NEW
    return Status.PENDING


class StatusMachine(RuleBasedStateMachine):
    """Joins, leaves, close and expire on the pure functions, checked against a plain model."""

    def __init__(self):
        super().__init__()
        self.status = Status.NEW
        self.presence = Presence()
        self.joined: set[str] = set()
        self.ever_joined = False

    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @precondition(lambda self: not self.is_final())
    @rule(party=st.sampled_from(PARTIES))
    def join_session(self, party):
        self.presence = join(self.status, self.presence, party)
        self.status = status_for(self.presence)
        self.joined.add(party)
        self.ever_joined = True

    @precondition(lambda self: not self.is_final())
    @rule(party=st.sampled_from(PARTIES))
    def leave_session(self, party):
        self.presence = leave(self.status, self.presence, party)
        self.status = status_for(self.presence)
        self.joined.discard(party)

    @precondition(lambda self: not self.is_final())
    @rule()
    def close_request(self):
        self.status = close(self.status)
        assert self.status is Status.CLOSED

    @precondition(lambda self: not self.is_final())
    @rule()
    def expire_request(self):
        self.status = expire(self.status)
        assert self.status is Status.EXPIRED

    @precondition(lambda self: self.is_final())
    @rule(party=st.sampled_from(PARTIES), action=st.sampled_from(["join", "leave", "close", "expire"]))
    def final_status_refuses_every_change(self, party, action):
        calls = {
            "join": lambda: join(self.status, self.presence, party),
            "leave": lambda: leave(self.status, self.presence, party),
            "close": lambda: close(self.status),
            "expire": lambda: expire(self.status),
        }
        with pytest.raises(IllegalTransition) as refused:
            calls[action]()
        assert refused.value.status is self.status

    @invariant()
    def open_status_follows_presence(self):
        if not self.is_final():
            assert self.status == expected_open_status(self.joined, self.ever_joined)

    @invariant()
    def presence_matches_who_joined(self):
        if not self.is_final():
            assert self.presence.parties == self.joined
            assert self.presence.customer_joined == (CUSTOMER in self.joined)
            assert self.presence.experts_joined == len(self.joined - {CUSTOMER})

    @invariant()
    def new_only_while_nobody_ever_joined(self):
        assert (self.status is Status.NEW) == (not self.ever_joined and not self.is_final())


TestStatusMachine = StatusMachine.TestCase
TestStatusMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


@pytest.mark.parametrize("final", sorted(FINAL_STATUSES))
@pytest.mark.parametrize("action", ["join", "leave", "close", "expire"])
def test_final_statuses_refuse_every_transition(final, action):
    """Closed and expired are final: join, leave, close and expire all raise IllegalTransition."""
    presence = Presence(frozenset({CUSTOMER}), started=True)
    calls = {
        "join": lambda: join(final, presence, "user:x"),
        "leave": lambda: leave(final, presence, CUSTOMER),
        "close": lambda: close(final),
        "expire": lambda: expire(final),
    }
    with pytest.raises(IllegalTransition):
        calls[action]()


def test_leaving_twice_changes_nothing():
    """A second leave of the same party is harmless and keeps the presence as it was."""
    once = leave(Status.PENDING, Presence(frozenset({CUSTOMER, "user:a"}), started=True), CUSTOMER)
    assert leave(Status.PENDING, once, CUSTOMER) == once
    assert status_for(once) is Status.PENDING


# -- the same machine, driven through a real server ------------------------------------------


class ServerStatusMachine(RuleBasedStateMachine):
    """A request on a real server: customer and two experts join and leave, someone closes."""

    base_url: str
    client: httpx.Client
    tenant = None

    @initialize()
    def file_a_request(self):
        created = file_request(self.base_url, self.tenant.module_token)
        self.code = created["code"]
        self.tokens = {CUSTOMER: created["customer_token"], **dict(zip(["user:1", "user:2"], self.tenant.supporter_tokens.values()))}
        self.status = Status.NEW
        self.joined: set[str] = set()
        self.ever_joined = False

    def post(self, action: str, party: str) -> httpx.Response:
        return self.client.post(f"{self.base_url}/api/v1/service-requests/{self.code}/{action}",
                                headers=bearer(self.tokens[party]))

    def expect(self, response: httpx.Response) -> None:
        """A change to an open request is 200; to a closed one, 409 problem+json."""
        if self.status is Status.CLOSED:
            assert response.status_code == 409, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert response.status_code == 200, response.text

    @rule(party=st.sampled_from([CUSTOMER, "user:1", "user:2"]))
    def join_session(self, party):
        response = self.post("join", party)
        self.expect(response)
        if self.status is not Status.CLOSED:
            self.joined.add(party)
            self.ever_joined = True
            self.status = expected_open_status(self.joined, self.ever_joined)

    @rule(party=st.sampled_from([CUSTOMER, "user:1", "user:2"]))
    def leave_session(self, party):
        response = self.post("leave", party)
        self.expect(response)
        if self.status is not Status.CLOSED:
            self.joined.discard(party)
            self.status = expected_open_status(self.joined, self.ever_joined)

    @rule(party=st.sampled_from([CUSTOMER, "user:1"]))
    def close_request(self, party):
        response = self.post("close", party)
        self.expect(response)
        self.status = Status.CLOSED
        self.joined = set()

    @invariant()
    def server_agrees_with_the_model(self):
        response = self.client.get(f"{self.base_url}/api/v1/service-requests/{self.code}",
                                   headers=bearer(self.tenant.admin_token))
        assert response.status_code == 200, response.text
        served = response.json()
        assert served["status"] == self.status.value
        assert served["session"] == {
            "customer_joined": CUSTOMER in self.joined,
            "experts_joined": len(self.joined - {CUSTOMER}),
        }


def test_server_status_follows_the_model_through_joins_leaves_and_close(server):
    """Random join/leave/close sequences over HTTP give the status the pure model predicts."""
    ServerStatusMachine.base_url = server.url
    ServerStatusMachine.tenant = make_tenant(server.database_url, supporters=2)
    with httpx.Client(timeout=10) as ServerStatusMachine.client:
        run_state_machine_as_test(
            ServerStatusMachine,
            settings=settings(
                max_examples=15,
                stateful_step_count=12,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
