"""The ``sosqueue`` setup and serve commands, run as real subprocesses against fresh databases."""

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

import httpx
import pytest

from sosqueue.errors import ExitCode
from sosqueue.updates import decode_key
from tests.support.polling import eventually
from tests.support.servers import SOSQUEUE, QueueServer, free_port, sqlite_url


def sosqueue(*args: str, env: dict | None = None, stdin: str | None = None, timeout: float = 60):
    """Run the installed command; the database comes only from ``args`` or ``env``."""
    clean = {k: v for k, v in os.environ.items() if k != "SOSQUEUE_DATABASE_URL"}
    return subprocess.run(
        [str(SOSQUEUE), *args], capture_output=True, text=True, input=stdin,
        env={**clean, **(env or {})}, timeout=timeout,
    )


def error_line(result) -> str:
    """The single line the command printed on stderr, which must be an ``Error:``."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def db(tmp_path) -> list[str]:
    """``--db`` arguments for a fresh SQLite database."""
    return ["--db", sqlite_url(tmp_path)]


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> list[str]:
    """``--db`` for a database holding company Acme, user a@example.test and group Team.

    Tests that only provoke errors, or add things under their own names, share it: every
    command is a new process, and starting one costs about a second.
    """
    db = ["--db", sqlite_url(tmp_path_factory.mktemp("shared"))]
    for command in (
        ["company", "create", "Acme"],
        ["user", "create", "a@example.test", "--company", "Acme", "--role", "admin"],
        ["group", "create", "Team", "--company", "Acme"],
    ):
        result = sosqueue(*command, *db)
        assert result.returncode == 0, result.stderr
    return db


def create_json(*args: str) -> dict:
    result = sosqueue(*args, "--json")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


# -- --json --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_json_mode_prints_exactly_one_json_object_per_command(backend_name, make_database_url):
    """company, user, group and module create with --json each print one JSON object on stdout, nothing else."""
    db = ["--db", make_database_url(backend_name)]
    made = create_json("company", "create", "Acme", *db)
    assert made["name"] == "Acme" and made["id"]
    admin = create_json("user", "create", "Boss@Example.test", "--company", "Acme", "--role", "admin", *db)
    assert admin["email"] == "boss@example.test"
    assert admin["role"] == "admin" and admin["company"] == "Acme"
    assert admin["token"].startswith("squ_")
    supporter = create_json("user", "create", "help@example.test", "--company", "Acme", "--role", "supporter", *db)
    group = create_json("group", "create", "Team", "--company", "Acme", "--member", "help@example.test", *db)
    assert group["members"] == ["help@example.test"]
    module = create_json("module", "create", "SOS", "--company", "Acme", "--group", "Team",
                         "--assignment", "round_robin", *db)
    assert module["token"].startswith("sqm_")
    assert (module["group"], module["assignment"]) == ("Team", "round_robin")
    assert len(decode_key(module["update_key"])) == 32, "the key modules check their updates with"
    assert len({admin["token"], supporter["token"], module["token"]}) == 3


def test_group_create_shows_no_internal_warnings(shared):
    """Creating a group with members prints its result and no library warnings."""
    result = sosqueue("group", "create", "Quiet", "--company", "Acme", "--member", "a@example.test", *shared, "--json")
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_token_printed_by_user_create_authenticates_against_the_server(db, tmp_path):
    """The API token the CLI prints is accepted by a server on the same database."""
    sosqueue("company", "create", "Acme", *db)
    user = create_json("user", "create", "a@example.test", "--company", "Acme", "--role", "supporter", *db)
    module = create_json("module", "create", "SOS", "--company", "Acme", *db)
    with QueueServer(db[1], log_dir=tmp_path) as server:
        me = httpx.get(f"{server.url}/api/v1/users/me", headers={"Authorization": f"Bearer {user['token']}"}, timeout=10)
        filed = httpx.post(f"{server.url}/api/v1/service-requests", json={"description": "help"},
                           headers={"Authorization": f"Bearer {module['token']}"}, timeout=10)
    assert me.status_code == 200 and me.json()["email"] == "a@example.test"
    assert filed.status_code == 201, filed.text


# -- human mode ----------------------------------------------------------------------------


def test_human_mode_prints_the_user_token_alone_on_stdout(shared):
    """Without --json, stdout carries only the token and the explanation goes to stderr."""
    result = sosqueue("user", "create", "human@example.test", "--company", "Acme", "--role", "supporter", *shared)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert token.startswith("squ_") and " " not in token
    assert "human@example.test" in result.stderr
    assert token not in result.stderr


def test_human_mode_prints_the_module_token_alone_on_stdout(shared):
    """module create prints its token on stdout and names the module on stderr."""
    result = sosqueue("module", "create", "SOS", "--company", "Acme", *shared)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("sqm_")
    assert len(result.stdout.splitlines()) == 1
    assert "SOS" in result.stderr


def test_human_mode_company_create_prints_its_id(shared):
    """company create prints the new company's id on stdout for scripts."""
    result = sosqueue("company", "create", "Human Co", *shared)
    assert result.returncode == 0
    assert len(result.stdout.strip()) == 36 and len(result.stdout.splitlines()) == 1
    assert "Human Co" in result.stderr


# -- errors --------------------------------------------------------------------------------


def test_duplicate_company_exits_with_conflict_and_one_line(shared):
    """Creating an existing company exits 5 with a one-line Error and nothing on stdout."""
    result = sosqueue("company", "create", "Acme", *shared, "--json")
    assert result.returncode == ExitCode.CONFLICT
    assert "already exists" in error_line(result)
    assert result.stdout == ""


def test_duplicate_user_exits_with_conflict(shared):
    """A second user with the same email (in any case) exits 5."""
    result = sosqueue("user", "create", "A@Example.test", "--company", "Acme", "--role", "supporter", *shared)
    assert result.returncode == ExitCode.CONFLICT
    error_line(result)


def test_duplicate_group_exits_with_conflict(shared):
    """A second group of the same name in the company exits 5."""
    result = sosqueue("group", "create", "Team", "--company", "Acme", *shared)
    assert result.returncode == ExitCode.CONFLICT
    error_line(result)


@pytest.mark.parametrize(
    "command",
    [
        ["user", "create", "b@example.test", "--role", "admin"],
        ["group", "create", "Team"],
        ["module", "create", "SOS"],
    ],
)
def test_unknown_company_exits_not_found(shared, command):
    """Naming a company that does not exist exits 4 and names it."""
    result = sosqueue(*command, "--company", "Nowhere Inc", *shared)
    assert result.returncode == ExitCode.NOT_FOUND
    assert "Nowhere Inc" in error_line(result)


def test_fixed_assignment_to_unknown_user_exits_not_found(shared):
    """A module that assigns to someone who is not in the company is refused with exit 4."""
    result = sosqueue("module", "create", "SOS", "--company", "Acme", "--assignment", "fixed:ghost@example.test",
                      *shared)
    assert result.returncode == ExitCode.NOT_FOUND
    error_line(result)


@pytest.mark.parametrize("assignment", ["bogus", "fixed:nobody", "round_robin:x"])
def test_bad_assignment_exits_with_usage_error(shared, assignment):
    """An --assignment that is none of the strategies is a usage error (exit 2), not a traceback."""
    result = sosqueue("module", "create", "SOS", "--company", "Acme", "--assignment", assignment, *shared)
    assert result.returncode == ExitCode.USAGE
    assert "--assignment" in result.stderr
    assert "Traceback" not in result.stderr


def test_unsupported_database_url_exits_with_config_error():
    """A database URL that is neither SQLite nor PostgreSQL exits 3 with one line."""
    result = sosqueue("company", "create", "Acme", "--db", "mysql://x")
    assert result.returncode == ExitCode.CONFIG
    assert "mysql" in error_line(result)


def test_unparsable_database_url_exits_with_config_error():
    """A database URL that cannot be parsed exits 3 with one line."""
    result = sosqueue("company", "create", "Acme", "--db", "not a url")
    assert result.returncode == ExitCode.CONFIG
    error_line(result)


def test_sqlite_path_that_cannot_be_created_gives_one_line_and_no_crash(tmp_path):
    """A SQLite file in a place that cannot exist is a setting error, not an unexpected crash."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = sosqueue("company", "create", "Acme", "--db", f"sqlite:///{blocker}/sub/queue.db")
    assert result.returncode not in (ExitCode.OK, ExitCode.UNEXPECTED)
    assert str(blocker) in error_line(result)


def test_file_that_is_not_a_database_gives_a_database_error(tmp_path):
    """Pointing --db at a file that is not SQLite exits 6 with one line, not as a crash."""
    garbage = tmp_path / "notes.db"
    garbage.write_text("this is not a database " * 100)
    result = sosqueue("company", "create", "Acme", "--db", f"sqlite:///{garbage}")
    assert result.returncode == ExitCode.DATABASE
    error_line(result)


def test_unreachable_postgres_gives_a_one_line_database_error():
    """A PostgreSQL nobody listens on exits 6 with a single line (the driver's message folded)."""
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"
    result = sosqueue("company", "create", "Acme", "--db", url)
    assert result.returncode == ExitCode.DATABASE
    assert "--db" in error_line(result)


def test_database_url_is_read_from_the_environment(tmp_path):
    """SOSQUEUE_DATABASE_URL is used when --db is not given, and --db reaches the same data."""
    url = sqlite_url(tmp_path)
    made = sosqueue("company", "create", "EnvCo", "--json", env={"SOSQUEUE_DATABASE_URL": url})
    assert made.returncode == 0, made.stderr
    result = sosqueue("user", "create", "a@example.test", "--company", "EnvCo", "--role", "admin", "--db", url)
    assert result.returncode == 0, result.stderr
    again = sosqueue("company", "create", "EnvCo", env={"SOSQUEUE_DATABASE_URL": url})
    assert again.returncode == ExitCode.CONFLICT


def test_db_option_wins_over_the_environment(db):
    """--db overrides SOSQUEUE_DATABASE_URL."""
    result = sosqueue("company", "create", "Acme", *db, env={"SOSQUEUE_DATABASE_URL": "mysql://not-used"})
    assert result.returncode == 0, result.stderr


def test_short_password_on_stdin_exits_with_usage_error(shared):
    """--password-stdin refuses a password under 12 characters with exit 2 and creates nobody."""
    result = sosqueue("user", "create", "short@example.test", "--company", "Acme", "--role", "admin",
                      "--password-stdin", *shared, stdin="short\n")
    assert result.returncode == ExitCode.USAGE
    assert "the password on stdin must have at least 12 characters" in result.stderr
    retry = sosqueue("user", "create", "short@example.test", "--company", "Acme", "--role", "admin", *shared)
    assert retry.returncode == 0, "the refused user must not have been created"


def test_long_enough_password_on_stdin_is_accepted(shared):
    """A password of 12 or more characters on stdin creates the user."""
    result = sosqueue("user", "create", "long@example.test", "--company", "Acme", "--role", "admin",
                      "--password-stdin", *shared, "--json", stdin="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["email"] == "long@example.test"


@pytest.mark.parametrize("email", ["not-an-email", "a@@example.test"])
def test_bad_email_exits_with_usage_error(shared, email):
    """An email that is not one is a usage error."""
    result = sosqueue("user", "create", email, "--company", "Acme", "--role", "admin", *shared)
    assert result.returncode == ExitCode.USAGE


def test_unknown_role_exits_with_usage_error(shared):
    """Roles are admin or supporter only."""
    result = sosqueue("user", "create", "owner@example.test", "--company", "Acme", "--role", "owner", *shared)
    assert result.returncode == ExitCode.USAGE


def test_version_prints_the_installed_version():
    """sosqueue --version prints the package version and exits 0."""
    result = sosqueue("--version")
    assert result.returncode == 0
    assert version("sosqueue") in result.stdout


def test_db_upgrade_migrates_a_fresh_database(db):
    """sosqueue db upgrade brings a new database up to date and says so on stderr."""
    result = sosqueue("db", "upgrade", *db)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    assert result.stdout == ""


# -- serve ---------------------------------------------------------------------------------


def test_serve_on_a_busy_port_exits_with_one_line(db):
    """When the port is taken, serve exits non-zero with a one-line Error naming the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = sosqueue("serve", *db, "--port", str(port), "--log-level", "warning")
    assert result.returncode not in (ExitCode.OK, ExitCode.UNEXPECTED)
    assert str(port) in error_line(result)


def test_serve_on_a_file_that_is_not_a_database_exits_with_one_line(tmp_path):
    """serve refuses a --db file that is not SQLite with exit 6 and a one-line Error."""
    garbage = tmp_path / "notes.db"
    garbage.write_text("this is not a database " * 100)
    result = sosqueue("serve", "--db", f"sqlite:///{garbage}", "--port", str(free_port()))
    assert result.returncode == ExitCode.DATABASE
    error_line(result)


def test_serve_with_unreachable_postgres_exits_with_one_line():
    """serve with a PostgreSQL nobody listens on exits 6 with one line."""
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing"
    result = sosqueue("serve", "--db", url, "--port", str(free_port()))
    assert result.returncode == ExitCode.DATABASE
    error_line(result)


def test_serve_with_unsupported_database_exits_with_config_error():
    """serve with a mysql:// URL exits 3 with one line."""
    result = sosqueue("serve", "--db", "mysql://x", "--port", str(free_port()))
    assert result.returncode == ExitCode.CONFIG
    error_line(result)



@contextmanager
def quickstart(tmp_path, env: dict | None = None) -> Iterator[tuple[str, list[str]]]:
    """``sosqueue quickstart --no-module`` on a fresh database, serving: its URL and what it printed."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SOSQUEUE_")}
    process = subprocess.Popen(
        [str(SOSQUEUE), "quickstart", "--no-module", "--port", str(port), "--db", sqlite_url(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**clean, **(env or {})})
    try:
        lines = []
        while not lines or not lines[-1].strip().startswith("Queue:"):
            line = process.stdout.readline()
            assert line, f"quickstart ended early after: {lines}"
            lines.append(line)
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: _answers(f"{url}/healthz"), what="the quickstart queue answering", timeout=60)
        yield url, lines
    finally:
        process.terminate()
        process.wait(30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.timeout(120)
def test_quickstart_prints_a_working_admin_token_and_the_api_docs(tmp_path):
    """The README's first command: the token it prints reads the queue, and the docs it names exist."""
    with quickstart(tmp_path) as (url, lines):
        token = next(line.split()[-1] for line in lines if line.strip().startswith("Token:"))
        assert any(f"API docs: {url}/docs" in line for line in lines), lines
        listed = httpx.get(f"{url}/api/v1/service-requests", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200
        assert httpx.get(f"{url}/docs").status_code == 200


@pytest.mark.timeout(120)
def test_quickstart_names_no_api_docs_when_they_are_turned_off(tmp_path):
    with quickstart(tmp_path, env={"SOSQUEUE_API_DOCS": "false"}) as (url, lines):
        assert not any("API docs" in line for line in lines), lines
        assert httpx.get(f"{url}/docs").status_code == 404
