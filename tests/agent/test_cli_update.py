"""``sosqueue-agent --update``, in process: one result line on stdout, refusals on stderr with their exit codes."""

import queue

import pytest

from agent import __version__
from agent.cli import build_parser, run
from agent.errors import AgentExit
from agent.instance import SingleInstance
from agent.platforms import _linux
from sosqueue import signing
from sosqueue.updates import version_tuple
from tests.agent.update.conftest import MODULE_ID, install_module, starting_base
from tests.agent.update.conftest import agent_home, installed, update_server  # noqa: F401 - the fixtures

NEXT = "{}.{}.{}".format(*version_tuple(__version__)[:2], version_tuple(__version__)[2] + 1)


@pytest.fixture
def frozen(installed, monkeypatch):
    """This process runs as the installed module (as a frozen agent does)."""
    monkeypatch.setattr("agent.module.own_location", lambda: installed.executable)
    return installed


def update(capsys, *arguments) -> tuple[int, str, str]:
    code = run(["--update", *arguments])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_newer_agent_is_installed_and_the_line_says_so(frozen, update_server, capsys):
    update_server.offer(NEXT, starting_base(NEXT))
    code, out, err = update(capsys)
    assert (code, out) == (AgentExit.OK, f"updated {__version__} → {NEXT}; it runs from the next start\n")
    assert frozen.read().startswith(starting_base(NEXT))


def test_a_running_agent_is_asked_to_switch_when_idle(frozen, update_server, capsys):
    update_server.offer(NEXT, starting_base(NEXT))
    running = SingleInstance(MODULE_ID)
    assert running.acquire()
    messages = queue.SimpleQueue()
    running.listen(messages.put)
    try:
        code, out, _ = update(capsys)
    finally:
        running.release()
    assert out.endswith("; the running support module switches to it when it is idle\n")
    assert messages.get(timeout=5) == "update"


def test_up_to_date(frozen, update_server, capsys):
    update_server.offer(__version__, frozen.base)
    assert update(capsys) == (AgentExit.OK, f"up to date ({__version__})\n", "")


def test_switched_off_by_it(frozen, update_server, capsys, monkeypatch, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[updates]\nmode = "off"\n')
    monkeypatch.setenv("SOSQUEUE_PLATFORM", "linux")
    monkeypatch.setattr(_linux.Desktop, "POLICY_FILE", policy)
    assert update(capsys) == (AgentExit.OK, f"updates are switched off by IT ({policy})\n", "")
    assert update_server.requests == []


def test_a_module_without_a_key(tmp_path, update_server, monkeypatch, capsys, agent_home):
    keyless = install_module(tmp_path / "Keyless" / "Acme Help", update_server, update_key="")
    monkeypatch.setattr("agent.module.own_location", lambda: keyless.executable)
    assert update(capsys) == (AgentExit.OK, "this module has no update key; it does not update itself\n", "")


def test_an_agent_run_from_source_does_not_replace_itself(installed, update_server, capsys):
    code, out, _ = update(capsys, "--module", str(installed.executable))
    assert (code, out) == (AgentExit.OK, "this agent runs from source; it does not update itself\n")


def test_an_untrusted_offer_is_refused_with_its_exit_code(frozen, update_server, capsys):
    update_server.offer(NEXT, starting_base(NEXT), key=signing.generate_private_key())
    before = frozen.read()
    code, out, err = update(capsys)
    assert (code, out) == (AgentExit.UPDATE_REFUSED, "")
    assert "not made by this module's server" in err
    assert frozen.read() == before


def test_an_unreachable_server_is_a_failure_to_retry(frozen, update_server, capsys):
    update_server.stop()
    code, out, err = update(capsys)
    assert (code, out) == (AgentExit.UPDATE_FAILED, "")
    assert "cannot be reached" in err


def test_a_revoked_module_says_so(frozen, update_server, capsys):
    update_server.problem(401, "revoked")
    code, _, err = update(capsys)
    assert code == AgentExit.REVOKED
    assert "switched off" in err


def test_the_help_lists_the_update_exit_codes():
    text = build_parser().format_help()
    assert "--update" in text and "--confirm-start" not in text
    assert f"{AgentExit.UPDATE_REFUSED}   --update:" in text and f"{AgentExit.UPDATE_FAILED}  --update:" in text
