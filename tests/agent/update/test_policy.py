"""Which policy applies: IT's, else what the install implies; a bad setting is off."""

import logging

import pytest

from agent.update.policy import PolicySource, effective_policy, policy_file
from sosqueue.updates import BadPolicy, Policy


def set_by_it(policy):
    return PolicySource("IT's place", lambda: policy)


@pytest.mark.parametrize("wide", [False, True], ids=["per user", "machine-wide"])
@pytest.mark.parametrize("policy", list(Policy))
def test_its_policy_wins_over_the_installs_default(policy, wide):
    assert effective_policy(set_by_it(policy), machine_wide=wide) == (policy, "")


def test_without_its_policy_a_users_module_updates_itself_and_a_machine_wide_one_notifies():
    assert effective_policy(set_by_it(None), machine_wide=False) == (Policy.AUTO, "")
    assert effective_policy(set_by_it(None), machine_wide=True) == (Policy.NOTIFY, "")


def test_a_policy_that_cannot_be_read_is_off_with_one_line_naming_it(caplog):
    def unreadable():
        raise BadPolicy('/etc/sosqueue/policy.toml: update mode "weekly" is not one of "auto", "notify", "off"')

    with caplog.at_level(logging.INFO, logger="sosqueue.agent.update"):
        policy, problem = effective_policy(PolicySource("/etc/sosqueue/policy.toml", unreadable), machine_wide=False)
    assert policy is Policy.OFF
    assert problem.startswith("/etc/sosqueue/policy.toml: update mode")
    assert len(caplog.records) == 1
    assert "/etc/sosqueue/policy.toml" in caplog.records[0].getMessage()


def test_a_policy_file_source_names_and_reads_its_file(tmp_path):
    path = tmp_path / "policy.toml"
    source = policy_file(path)
    assert source.where == str(path)
    assert source.read() is None
    path.write_text('[updates]\nmode = "off"\n')
    assert source.read() is Policy.OFF
