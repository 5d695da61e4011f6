"""Claiming by code over real HTTP: the claimant's retry gets its answer, another computer is refused."""

import pytest

from agent.client import QueueClient
from agent.app import describe
from agent.errors import Rejected, Unreachable
from sosqueue.problem_codes import ALREADY_CLAIMED
from tests.agent.test_client import LoopbackProxy, config_for


@pytest.fixture(autouse=True)
def agent_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "this-computer"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def claims(api, code: str, tenant) -> int:
    return [event["type"] for event in api.history(code, tenant.supporter_token)].count("claimed")


def test_a_claim_whose_answer_was_lost_gets_it_on_the_retry_even_after_a_restart(tenant, queue_server, api):
    """The queue claimed it but the answer never came: claiming again from this computer (a new
    client, as after a restart, and the code typed another way) gets the same request and token."""
    code = api.created(tenant.supporter_token)["code"]
    with LoopbackProxy(queue_server.port, drop_answers=1) as proxy:
        with pytest.raises(Unreachable):
            QueueClient(config_for(tenant, proxy.url)).claim(code)
        ticket = QueueClient(config_for(tenant, proxy.url)).claim(code.upper().replace("-", " "))
    assert [answer["customer_token"] for answer in proxy.dropped] == [ticket.customer_token]
    assert ticket.code == code
    assert claims(api, code, tenant) == 1


def test_another_computer_cannot_claim_a_code_this_one_claimed(tenant, queue_server, api, tmp_path, monkeypatch):
    """The same module on another computer (another user's data folder) is refused with 409."""
    code = api.created(tenant.supporter_token)["code"]
    QueueClient(config_for(tenant, queue_server.url)).claim(code)
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "another-computer"))
    with pytest.raises(Rejected) as refused:
        QueueClient(config_for(tenant, queue_server.url)).claim(code)
    assert refused.value.status == 409
    assert refused.value.code == ALREADY_CLAIMED
    assert describe(refused.value, joining=True).startswith("This code was already used on another computer.")
    assert claims(api, code, tenant) == 1
