"""The agent's command line without a window (for IT and scripts), run as a real process.

Every run here has DISPLAY unset: none of these options may need a display.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from agent import __version__
from tests.support.modules import write_module_file
from tests.support.polling import eventually
from tests.support.loopback import LoopbackListener
from tests.support.queue_api import CODE_PATTERN, QueueApi
from tests.support.servers import QueueServer, free_port, sqlite_url
from tests.support.tenants import make_tenant

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 180


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "agent-home"


def module_file(path: Path, tenant, url: str, **overrides) -> Path:
    return write_module_file(path, server_url=url, module_id=tenant.module_id, module_token=tenant.module_token,
                             **overrides)


@pytest.fixture
def module(tmp_path, tenant, queue_server) -> Path:
    return module_file(tmp_path / "Acme Help.module", tenant, queue_server.url)


def agent_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {**env, "SOSQUEUE_AGENT_HOME": str(home), "PYTHONUTF8": "1"}


def agent_command(module: Path | None, *args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *(["--module", str(module)] if module else []), *args]


def run_agent(home: Path, module: Path | None, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m agent`` to the end; stdout and stderr as text."""
    return subprocess.run(agent_command(module, *args), env=agent_env(home), cwd=REPO, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)


def outbox_files(home: Path, tenant) -> list[Path]:
    return sorted((home / "data" / tenant.module_id / "outbox").glob("*.json"))


def server_on_port(database_url: str, port: int, log_dir: Path) -> QueueServer:
    """A queue server that will listen on ``port`` (the one the module already points at)."""
    server = QueueServer(database_url, log_dir=log_dir)
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    server.log_path = log_dir / f"server-{port}.log"
    return server


def sos(home, module, description="my printer is on fire", *extra) -> subprocess.CompletedProcess:
    return run_agent(home, module, "--sos", "--no-gui", "--description", description, *extra)


# -- filing and claiming --------------------------------------------------------------


def test_sos_no_gui_prints_exactly_the_code_and_files_an_sos_request(home, module, api, tenant):
    """``--sos --no-gui`` prints only the session code and files one request with source sos."""
    result = sos(home, module, "Drucker brennt", "--name", "Ann", "--email", "ann@example.test")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(CODE_PATTERN + "\n", result.stdout), result.stdout
    code = result.stdout.strip()
    items = api.all_items(tenant.supporter_token)
    assert [item["code"] for item in items] == [code]
    assert items[0]["source"] == "sos"
    assert items[0]["description"] == "Drucker brennt"
    assert items[0]["end_customer"] == {"name": "Ann", "email": "ann@example.test"}
    assert items[0]["diagnostics"]["agent_version"] == __version__


def test_no_gui_without_a_required_description_exits_2_and_files_nothing(home, module, api, tenant):
    """The module requires a description: without one, exit 2 with a plain message, nothing saved or filed."""
    result = run_agent(home, module, "--sos", "--no-gui")
    assert result.returncode == 2, result.stderr
    assert "asks for your description: pass --description TEXT" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert api.all_items(tenant.supporter_token) == []
    assert outbox_files(home, tenant) == []


def test_no_diagnostics_are_sent_when_the_module_turns_them_off(home, tmp_path, tenant, queue_server, api):
    """A module without the diagnostics option files requests without them."""
    quiet = module_file(tmp_path / "quiet.module", tenant, queue_server.url, diagnostics=False)
    result = sos(home, quiet)
    assert result.returncode == 0, result.stderr
    assert api.get(result.stdout.strip(), tenant.supporter_token).json()["diagnostics"] is None


def test_no_gui_without_sos_files_a_module_request(home, module, api, tenant):
    """``--no-gui`` alone files a request marked as coming from the module, not the SOS button."""
    result = run_agent(home, module, "--no-gui", "--description", "help")
    assert result.returncode == 0, result.stderr
    assert api.get(result.stdout.strip(), tenant.supporter_token).json()["source"] == "module"


def notes_of(api, tenant, code: str) -> list[str]:
    return [event["data"]["text"] for event in api.history(code, tenant.supporter_token)
            if event["type"] == "note_added"]


def note_files(home: Path, tenant) -> list[Path]:
    return sorted((home / "data" / tenant.module_id / "outbox" / "notes").glob("*.json"))


def test_second_sos_while_open_prints_the_same_code_and_adds_its_description_as_a_note(home, module, api, tenant):
    """One click, one request: while the first is open, a second SOS prints its code and adds its words to it."""
    first = sos(home, module)
    second = sos(home, module, "  and now the screen flickers  ")
    assert first.returncode == second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert "added to it as a note" in second.stderr
    code = first.stdout.strip()
    assert api.codes(tenant.supporter_token) == [code]
    assert notes_of(api, tenant, code) == ["and now the screen flickers"]
    assert note_files(home, tenant) == []


def test_second_sos_without_a_description_adds_no_note(home, module, api, tenant):
    """Nothing typed the second time: the code again, no note, nothing said about notes."""
    code = sos(home, module).stdout.strip()
    again = run_agent(home, module, "--sos", "--no-gui")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == code
    assert "note" not in again.stderr
    assert notes_of(api, tenant, code) == []


def test_a_description_too_long_for_a_note_exits_2_and_says_how_long_it_may_be(home, module, api, tenant):
    """A note holds 2000 characters: a longer --description is refused with what to do; nothing is saved."""
    code = sos(home, module).stdout.strip()
    result = sos(home, module, "x" * 2001)
    assert result.returncode == 2
    assert "at most 2000 characters: shorten --description" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert notes_of(api, tenant, code) == [] and note_files(home, tenant) == []


def test_a_module_that_files_at_once_needs_no_description_and_takes_it_later_as_a_note(home, tmp_path, tenant,
                                                                                       queue_server, api):
    """file_immediately: SOS files without the (required) description; the next SOS's words become a note."""
    at_once = module_file(tmp_path / "at-once.module", tenant, queue_server.url, file_immediately=True)
    first = run_agent(home, at_once, "--sos", "--no-gui")
    assert first.returncode == 0, first.stderr
    code = first.stdout.strip()
    assert api.get(code, tenant.supporter_token).json()["description"] == ""
    later = sos(home, at_once, "the printer, again")
    assert later.returncode == 0, later.stderr
    assert later.stdout.strip() == code
    assert notes_of(api, tenant, code) == ["the printer, again"]


def test_sos_after_the_request_was_closed_files_a_new_one(home, module, api, tenant):
    """After the supporter closed the request, the next SOS files a new one."""
    first = sos(home, module).stdout.strip()
    assert api.action(first, "close", tenant.supporter_token).status_code == 200
    second = sos(home, module)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() != first
    assert sorted(api.codes(tenant.supporter_token)) == sorted([first, second.stdout.strip()])


def test_code_no_gui_claims_the_manual_request_and_prints_its_code(home, module, api, tenant):
    """``--code CODE --no-gui`` takes over the supporter's request and prints its code."""
    manual = api.created(tenant.supporter_token, {"description": "on the phone with Ann"})
    result = run_agent(home, module, "--code", manual["code"].upper(), "--no-gui")
    assert result.returncode == 0, result.stderr
    assert result.stdout == manual["code"] + "\n"
    assert "claimed" in [event["type"] for event in api.history(manual["code"], tenant.supporter_token)]
    assert api.codes(tenant.supporter_token) == [manual["code"]]


def test_unknown_code_is_refused_with_a_plain_message(home, module):
    """A mistyped code is a plain refusal (exit 6) with nothing on stdout."""
    result = run_agent(home, module, "--code", "s00-000-000", "--no-gui")
    assert result.returncode == 6
    assert result.stdout == ""
    assert "Traceback" not in result.stderr and result.stderr.strip()


# -- for IT: configuration, version, bad module files -----------------------------------


def test_print_config_shows_json_without_the_token(home, module, tenant):
    """``--print-config`` prints the configuration as JSON with the token redacted."""
    result = run_agent(home, module, "--print-config")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["module"]["id"] == tenant.module_id
    assert shown["brand"]["product"] == "Acme Help"
    assert tenant.module_token not in result.stdout
    assert tenant.module_token[4:-2] not in result.stdout


def test_version_prints_the_agent_version(home):
    """``--version`` needs no module and prints the version."""
    result = run_agent(home, None, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"sosqueue-agent {__version__}"


@pytest.mark.parametrize("damage", ["cut", "flipped", "plain-file", "missing", "wrong-format"])
def test_damaged_module_exits_3_with_a_plain_message(home, tmp_path, tenant, queue_server, damage):
    """A damaged, foreign or missing module file: exit 3, "damaged — download it again", no traceback."""
    path = module_file(tmp_path / "m.module", tenant, queue_server.url)
    data = path.read_bytes()
    if damage == "cut":
        path.write_bytes(data[:-100])
    elif damage == "flipped":
        path.write_bytes(data[:50] + bytes([data[50] ^ 1]) + data[51:])
    elif damage == "plain-file":
        path.write_bytes(Path(sys.executable).read_bytes()[:4096])
    elif damage == "missing":
        path.unlink()
    else:
        from sosqueue import payload

        stamped = payload.read(path)
        payload_bytes = payload.Payload(config={**stamped.config, "format": 99}, assets=stamped.assets).to_bytes()
        path.write_bytes(payload_bytes)
    result = sos(home, path)
    assert result.returncode == 3
    assert "damaged — download it again" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_module_when_run_from_source_exits_3(home):
    """Run from source without --module there is no configuration: exit 3 with a hint."""
    result = run_agent(home, None, "--sos", "--no-gui")
    assert result.returncode == 3
    assert "--module" in result.stderr
    assert "Traceback" not in result.stderr


def test_revoked_module_exits_5_and_keeps_the_request(home, module, api, tenant):
    """A switched-off module says "ask your IT" (exit 5); the request stays saved."""
    assert api.call("POST", f"/api/v1/modules/{tenant.module_id}/revoke", tenant.admin_token).status_code == 200
    result = sos(home, module)
    assert result.returncode == 5
    assert "IT" in result.stderr and "Traceback" not in result.stderr
    assert len(outbox_files(home, tenant)) == 1


def test_refused_request_exits_6_and_is_kept_for_it(home, module, api, tenant):
    """What the queue refuses (an invalid email) is exit 6, kept in outbox/rejected, not filed."""
    result = sos(home, module, "help", "--email", "not-an-email")
    assert result.returncode == 6
    assert result.stdout == ""
    assert outbox_files(home, tenant) == []
    assert len(list((home / "data" / tenant.module_id / "outbox" / "rejected").glob("*.json"))) == 1
    assert api.codes(tenant.supporter_token) == []


def test_unwritable_data_directory_exits_8_with_a_plain_message(tmp_path, module):
    """A data directory that cannot be created: exit 8 with plain words, no traceback."""
    blocked = tmp_path / "profile-is-a-file"
    blocked.write_text("not a directory")
    result = sos(blocked / "home", module)
    assert result.returncode == 8
    assert "ask your IT" in result.stderr
    assert "Traceback" not in result.stderr


# -- nothing lost ----------------------------------------------------------------------


@pytest.mark.slow
def test_offline_sos_is_saved_and_delivered_once_when_the_server_is_back(home, tmp_path, tmp_path_factory):
    """Server down: SOS exits 4 and saves the request; a second SOS files nothing more but keeps its words;
    server up: one request, and the later clicks' words on it as notes."""
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    tenant = make_tenant(database_url)
    server = QueueServer(database_url, log_dir=tmp_path_factory.mktemp("logs"))
    module = module_file(tmp_path / "m.module", tenant, server.url)

    offline = sos(home, module, "offline problem")
    assert offline.returncode == 4, offline.stderr
    assert "saved" in offline.stderr and "Traceback" not in offline.stderr
    assert offline.stdout == ""
    saved = outbox_files(home, tenant)
    assert len(saved) == 1
    again = sos(home, module, "clicked again")
    assert again.returncode == 4
    assert outbox_files(home, tenant) == saved
    assert len(note_files(home, tenant)) == 1

    with server:
        online = sos(home, module, "clicked once more")
        assert online.returncode == 0, online.stderr
        api = QueueApi(server.url)
        items = api.all_items(tenant.supporter_token)
        notes = notes_of(api, tenant, online.stdout.strip())
        api.close_client()
    assert [item["code"] for item in items] == [online.stdout.strip()]
    assert items[0]["description"] == "offline problem"
    assert notes == ["clicked again", "clicked once more"]
    assert outbox_files(home, tenant) == [] and note_files(home, tenant) == []


@pytest.mark.slow
def test_offline_a_second_sos_keeps_its_words_and_the_next_run_adds_them_once(home, tmp_path, tmp_path_factory):
    """Queue away while a request is open: the code, and the words saved; queue back: one note, sent once."""
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    tenant = make_tenant(database_url)
    server = QueueServer(database_url, log_dir=tmp_path_factory.mktemp("logs"))
    module = module_file(tmp_path / "m.module", tenant, server.url)
    with server:
        code = sos(home, module).stdout.strip()
    offline = sos(home, module, "it also beeps")
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.strip() == code
    assert "saved and will be added to your open request" in offline.stderr
    assert "Traceback" not in offline.stderr
    assert len(note_files(home, tenant)) == 1

    with server:
        again = run_agent(home, module, "--sos", "--no-gui")
        also = run_agent(home, module, "--sos", "--no-gui")
        api = QueueApi(server.url)
        notes = notes_of(api, tenant, code)
        api.close_client()
    assert (again.returncode, also.returncode) == (0, 0), again.stderr
    assert again.stdout.strip() == code
    assert notes == ["it also beeps"]
    assert note_files(home, tenant) == []


class BlackHole(LoopbackListener):
    """A TCP server that reads each HTTP request and never answers; remembers what it got."""

    def __init__(self, port: int, outbox: Path):
        self.outbox = outbox
        self.keys: list[str] = []
        self.saved_before_sent: list[bool] = []
        self._connections: list[socket.socket] = []
        super().__init__(port)

    def __exit__(self, *_):
        super().__exit__()
        for connection in self._connections:
            connection.close()

    def _accepted(self, connection: socket.socket) -> None:
        self._connections.append(connection)

    def _serve(self, connection: socket.socket):
        head = b""
        try:
            while b"\r\n\r\n" not in head and (chunk := connection.recv(4096)):
                head += chunk
        except OSError:
            return
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "idempotency-key":
                key = value.strip()
                self.saved_before_sent.append((self.outbox / f"{key}.json").exists())
                self.keys.append(key)


@pytest.mark.slow
def test_agent_killed_between_saving_and_delivering_files_exactly_one_request(home, tmp_path, tmp_path_factory):
    """SIGKILL while delivery hangs: the saved request survives and the next run files it once, same key."""
    database_url = sqlite_url(tmp_path_factory.mktemp("db"))
    tenant = make_tenant(database_url)
    port = free_port()
    module = module_file(tmp_path / "m.module", tenant, f"http://127.0.0.1:{port}")
    outbox = home / "data" / tenant.module_id / "outbox"

    with BlackHole(port, outbox) as hole:
        agent = subprocess.Popen(agent_command(module, "--sos", "--no-gui", "--description", "killed"),
                                 env=agent_env(home), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            eventually(lambda: hole.keys, what="the agent's request to reach the black hole")
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait(60)
        agent.stdout.close()
        agent.stderr.close()
    assert hole.saved_before_sent == [True], "the outbox file existed before the request went out"
    saved = outbox_files(home, tenant)
    assert [path.stem for path in saved] == [hole.keys[0]]

    with server_on_port(database_url, port, tmp_path_factory.mktemp("logs")) as server:
        result = sos(home, module, "the next click")
        assert result.returncode == 0, result.stderr
        api = QueueApi(server.url)
        items = api.all_items(tenant.supporter_token)
        api.close_client()
    assert [item["code"] for item in items] == [result.stdout.strip()]
    assert items[0]["description"] == "killed"
    engine = create_engine(database_url)
    with engine.connect() as connection:
        # The request's key; the next click's words went to it as a note, with a key of its own.
        keys = connection.execute(text("SELECT key FROM idempotency_keys WHERE principal NOT LIKE 'customer:%'")
                                  ).scalars().all()
    engine.dispose()
    assert keys == [hole.keys[0]]
    assert outbox_files(home, tenant) == []


# -- stdout closed by its reader (| head -1) ---------------------------------------------


def with_stdout_closed(home: Path, module: Path | None, *args: str) -> subprocess.CompletedProcess:
    """Run the agent with stdout a pipe whose reading end is already closed: every write to it fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(agent_command(module, *args), env=agent_env(home), cwd=REPO, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT)
    finally:
        os.close(write_end)


def assert_quiet_success(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    assert "Something went wrong" not in result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr


def test_print_config_piped_into_head_exits_0_quietly(home, module):
    """``--print-config | head -1`` in a real pipeline: the first line, exit 0 for both, nothing on stderr."""
    pipeline = subprocess.run(["bash", "-c", 'set -o pipefail; "$@" | head -1', "pipeline",
                               *agent_command(module, "--print-config")],
                              env=agent_env(home), cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert pipeline.returncode == 0, pipeline.stderr
    assert pipeline.stdout == "{\n"
    assert pipeline.stderr == ""


@pytest.mark.parametrize("option", ["--print-config", "--update", "--help"])
def test_output_into_a_closed_pipe_exits_0_quietly(home, module, option):
    """Whatever the agent prints for IT, a reader that went away is not an error."""
    result = with_stdout_closed(home, module, option)
    assert_quiet_success(result)
    assert result.stderr == ""


def test_sos_no_gui_into_a_closed_pipe_files_the_request_and_exits_0_quietly(home, module, api, tenant):
    """The code cannot be printed, but the request is filed and remembered: the next SOS prints it."""
    result = with_stdout_closed(home, module, "--sos", "--no-gui", "--description", "nobody reads this")
    assert_quiet_success(result)
    [code] = api.codes(tenant.supporter_token)
    assert sos(home, module).stdout.strip() == code


# -- topics ------------------------------------------------------------------------------------

@pytest.fixture
def topics_module(tmp_path, tenant, queue_server) -> Path:
    from sosqueue.module_config import Topic

    return module_file(tmp_path / "topics.module", tenant, queue_server.url,
                       topics=(Topic("Printers", "print"), Topic("Email")))


def test_topic_names_one_of_the_modules_topics_in_any_case_and_goes_with_the_request(home, topics_module, api,
                                                                                       tenant):
    result = sos(home, topics_module, "Outlook asks for my password", "--topic", "email")
    assert result.returncode == 0, result.stderr
    assert api.get(result.stdout.strip(), tenant.supporter_token).json()["topic"] == "Email"


@pytest.mark.parametrize(("args", "words"), [
    ((), "asks what it is about: pass --topic with one of: Printers, Email"),
    (("--topic", "Scanners"), "--topic 'Scanners' is not one of this module's topics: Printers, Email"),
])
def test_a_missing_or_unknown_topic_exits_2_naming_the_modules_topics(home, topics_module, api, tenant, args, words):
    result = sos(home, topics_module, "The printer jams", *args)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
    assert api.all_items(tenant.supporter_token) == []


def test_a_topic_for_a_module_without_topics_exits_2(home, module, api, tenant):
    result = sos(home, module, "The printer jams", "--topic", "Printers")
    assert result.returncode == 2 and "offers no topics: leave out --topic" in result.stderr
    assert api.all_items(tenant.supporter_token) == []
