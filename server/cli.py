"""``sosqueue serve`` and the commands that set up companies, users, groups and modules."""

import dataclasses
import json
import secrets
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError as StorageError

from sosqueue.errors import ConfigError, ConflictError, DatabaseError, NotFoundError
from server import admin, allocator, updates
from server.config import Settings
from server.db import Database, DatabaseUrlError, upgrade
from server.models import Module, User
from server.security import MIN_PASSWORD_LENGTH
from server.queue import Conflict, NotFound
from server.state import load_secret_key

db_option = click.option(
    "--db",
    "database_url",
    envvar="SOSQUEUE_DATABASE_URL",
    metavar="URL",
    help="sqlite:///PATH (default: a file in your data directory) or postgresql+psycopg://USER@HOST/DB.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")


def load_settings(**overrides) -> Settings:
    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{field}: {first['msg'].removeprefix('Value error, ')}") from None


@contextmanager
def open_database(database_url: str | None) -> Iterator[Database]:
    """The migrated database, with storage errors turned into one-line CLI errors."""
    settings = load_settings(database_url=database_url)
    try:
        database = Database(settings.database_url)
    except DatabaseUrlError as error:
        raise ConfigError(str(error)) from None
    try:
        upgrade(database)
        yield database
    except NotFound as error:
        raise NotFoundError(str(error)) from None
    except Conflict as error:
        raise ConflictError(str(error)) from None
    except StorageError as error:
        raise DatabaseError(
            f"cannot use the database {database.engine.url.render_as_string()}: {one_line(error.orig)}; "
            "check --db / SOSQUEUE_DATABASE_URL and that the server is running"
        ) from None
    finally:
        database.dispose()


def one_line(error: BaseException | None) -> str:
    """A driver's message, which may span lines, folded into one."""
    return " ".join(str(error).split())


def emit(result: dict, *, as_json: bool, human: str, value: str | None = None) -> None:
    """Results on stdout (JSON, or the one value a script wants); the explanation on stderr."""
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(human, err=True)
    if value is not None:
        click.echo(value)


# -- serve ---------------------------------------------------------------------------------


@click.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--expiry-hours", type=float, help="Hours until an open request expires (default 24; fractions allowed).")
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]), show_default=True)
@click.option("--allocator", "allocator_choice", type=click.Choice(allocator.CHOICES), default=allocator.AUTO, show_default=True,
              envvar=allocator.ENVIRONMENT,
              help="Memory allocator: mimalloc gives a crowd's memory back when it leaves; auto uses it where "
                   "installed (libmimalloc2.0).")
def serve(database_url, host, port, expiry_hours, log_level, allocator_choice: str) -> None:
    """Run the service queue's HTTP API."""
    memory = _adopt_allocator(allocator_choice)
    _serve(load_settings(database_url=database_url, expiry_hours=expiry_hours), host, port, log_level, memory=memory)


def _adopt_allocator(choice: str) -> str:
    try:
        return allocator.adopt(choice)
    except allocator.AllocatorMissing as error:
        raise ConfigError(str(error)) from None


def _serve(settings: Settings, host: str, port: int, log_level: str, *, memory: str | None = None) -> None:
    import uvicorn

    from server.app import create_app

    _require_free_port(host, port)
    try:
        app = create_app(settings)
    except DatabaseUrlError as error:
        raise ConfigError(str(error)) from None
    except StorageError as error:
        raise DatabaseError(f"cannot open the database: {one_line(error.orig)}; check --db") from None
    database = app.state.sosqueue.db.engine.url.render_as_string()
    click.echo(f"sosqueue: serving on http://{host}:{port} (database: {database}"
               + (f"; memory allocator: {memory})" if memory else ")"), err=True)
    # Screen frames are JPEG already: deflating them costs ~20 ms per frame and blocks the loop.
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=3,
                ws_per_message_deflate=False)


def _require_free_port(host: str, port: int) -> None:
    """Fail before starting anything when the address is taken (uvicorn would log and exit 3)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {error.strerror}; stop what uses it or pick another --port"
            ) from None


@click.command()
@db_option
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@click.option("--out", "out_dir", default="demo-module", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo support module.")
@click.option("--no-module", is_flag=True, help="Only run the queue; do not build a support module.")
@click.option("--base", type=click.Path(path_type=Path), help="The base agent to stamp (default: build one for this machine once).")
def quickstart(database_url, port, out_dir, no_module, base) -> None:
    """Run the queue with a demo company and a support module built for this machine."""
    settings = load_settings(database_url=database_url)
    password = secrets.token_urlsafe(12)
    with open_database(database_url) as database:
        secret_key = module_secret_key(database, database_url)
        with database.write() as session:
            company = _demo_company(session)
            token = _demo_admin(session, company, password)
            module_id, module_token = _demo_module(session, company, secret_key)
    url = f"http://127.0.0.1:{port}"
    module_path = None if no_module else _demo_module_file(url, module_id, module_token, out_dir, base)
    lines = [
        "",
        f"  Dashboard: {url}/   (log in as the admin below{f'; API docs: {url}/docs' if settings.api_docs else ''})",
        "  Company:  Demo Company",
        f"  Admin:    admin@demo.example / {password}",
        f"  Token:    {token}",
    ]
    if module_path:
        lines += [
            f"  Module:   {module_path}",
            f"            run it to ask for help, or: {module_path} --sos --no-gui --description 'My printer is on fire'",
        ]
    lines += [
        f"  Queue:    curl -s -H 'Authorization: Bearer {token}' {url}/api/v1/service-requests",
        "",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()
    _serve(settings, "127.0.0.1", port, "info")


def _demo_admin(session, company, password: str) -> str:
    from server.security import hash_password

    admin_user = session.scalar(select(User).where(User.email == "admin@demo.example"))
    if admin_user is None:
        return admin.create_user(session, company=company, email="admin@demo.example", role="admin", password=password).token
    admin_user.password_hash = hash_password(password)
    return admin.issue_api_token(session, user=admin_user)


def _demo_module(session, company, secret_key: str) -> tuple[str, str]:
    existing = session.scalar(select(Module).where(Module.company_id == company.id, Module.name == "Demo SOS"))
    if existing is None:
        created = admin.create_module(session, company=company, name="Demo SOS", assignment="round_robin",
                                      secret_key=secret_key)
        return created.item.id, created.token
    return existing.id, admin.rotate_module_token(session, module=existing, secret_key=secret_key)


def _demo_module_file(url: str, module_id: str, module_token: str, out_dir: Path, base: Path | None) -> Path:
    """Stamp the default brand into the base agent for this machine (building the base once)."""
    import tomllib

    import builder

    spec = builder.parse_spec(tomllib.loads(builder.template()), base_dir=Path.cwd())
    spec = dataclasses.replace(spec, server_url=url)
    base = base or builder.default_base()
    if not base.exists():
        click.echo("building the base agent for this machine once (about a minute)…", err=True)
        base = builder.build_base()
    return builder.stamp_module(spec, base=base, out_dir=out_dir, module_id=module_id, module_token=module_token).resolve()


def _demo_company(session):
    try:
        return admin.company_by_name(session, "Demo Company")
    except NotFound:
        return admin.create_company(session, name="Demo Company")


# -- setup commands ------------------------------------------------------------------------


@click.group()
def company() -> None:
    """Company profiles."""


@company.command("create")
@click.argument("name")
@db_option
@json_option
def company_create(name, database_url, as_json) -> None:
    """Create a company profile."""
    _require_length("NAME", name, 100)
    with open_database(database_url) as database, database.write() as session:
        created = admin.create_company(session, name=name.strip())
        result = {"id": created.id, "name": created.name}
    emit(result, as_json=as_json, human=f"created company {name!r}", value=result["id"])


@click.group()
def user() -> None:
    """Users of a company profile."""


@user.command("create")
@click.argument("email")
@click.option("--company", "company_name", required=True, help="The company profile the user belongs to.")
@click.option("--role", required=True, type=click.Choice(admin.ROLES), help="admin manages, supporter works the queue.")
@click.option("--password-stdin", is_flag=True, help="Read a password for the dashboard from stdin.")
@db_option
@json_option
def user_create(email, company_name, role, password_stdin, database_url, as_json) -> None:
    """Create a user and print their API token (shown only once)."""
    _require_email(email)
    password = _read_password() if password_stdin else None
    with open_database(database_url) as database, database.write() as session:
        company_row = admin.company_by_name(session, company_name)
        created = admin.create_user(session, company=company_row, email=email, role=role, password=password)
        result = {"id": created.item.id, "email": created.item.email, "company": company_name, "role": role, "token": created.token}
    emit(result, as_json=as_json, human=f"created {role} {result['email']}; their API token:", value=created.token)


@click.group()
def group() -> None:
    """Groups: who works which module's requests."""


@group.command("create")
@click.argument("name")
@click.option("--company", "company_name", required=True, help="The company profile.")
@click.option("--member", "members", multiple=True, metavar="EMAIL", help="A user of the company (repeatable).")
@db_option
@json_option
def group_create(name, company_name, members, database_url, as_json) -> None:
    """Create a group of users."""
    _require_length("NAME", name, 100)
    with open_database(database_url) as database, database.write() as session:
        company_row = admin.company_by_name(session, company_name)
        created = admin.create_group(session, company=company_row, name=name.strip(), member_emails=list(members))
        result = {"id": created.id, "name": created.name, "members": sorted(u.email for u in created.members)}
    emit(result, as_json=as_json, human=f"created group {name!r}", value=result["id"])


@click.command("create")
@click.argument("name")
@click.option("--company", "company_name", required=True, help="The company profile.")
@click.option("--group", "group_name", help="File the module's requests into this group.")
@click.option(
    "--assignment",
    default="none",
    show_default=True,
    metavar="none|fixed:EMAIL|round_robin|least_open",
    help="Who gets the module's new requests.",
)
@db_option
@json_option
def module_create(name, company_name, group_name, assignment, database_url, as_json) -> None:
    """Register a module and print its id and token (the token is shown only once)."""
    _require_length("NAME", name, 100)
    from server.assignment import UnknownStrategy, parse_strategy

    try:
        parse_strategy(assignment)
    except UnknownStrategy as error:
        raise click.BadParameter(str(error), param_hint="--assignment") from None
    with open_database(database_url) as database:
        secret_key = module_secret_key(database, database_url)
        with database.write() as session:
            company_row = admin.company_by_name(session, company_name)
            created = admin.create_module(session, company=company_row, name=name.strip(), group=group_name,
                                          assignment=assignment, secret_key=secret_key)
            result = {"id": created.item.id, "name": created.item.name, "company": company_name,
                      "group": group_name, "assignment": assignment, "token": created.token,
                      "update_key": updates.public_key(secret_key)}
    emit(result, as_json=as_json, human=f"created module {name!r} ({result['id']}); its token:", value=created.token)


def module_secret_key(database: Database, database_url: str | None) -> str:
    """The key the server derives module tokens with, so the dashboard can stamp downloads.

    A server started with another SOSQUEUE_SECRET_KEY cannot derive the token; its dashboard
    then asks for one rotation before the first download.
    """
    return load_secret_key(database, load_settings(database_url=database_url))


@click.group()
def db() -> None:
    """The queue's database."""


@db.command("upgrade")
@db_option
def db_upgrade(database_url) -> None:
    """Bring the database schema up to date (the server also does this when it starts)."""
    with open_database(database_url) as database:
        click.echo(f"database {database.engine.url.render_as_string()} is up to date", err=True)


def _require_length(name: str, value: str, limit: int) -> None:
    if not value.strip() or len(value) > limit:
        raise click.BadParameter(f"must be 1 to {limit} characters", param_hint=name)


def _require_email(email: str) -> None:
    if email.count("@") != 1 or len(email) > 254 or any(c.isspace() for c in email):
        raise click.BadParameter("is not an email address like name@example.com", param_hint="EMAIL")


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"the password on stdin must have at least {MIN_PASSWORD_LENGTH} characters",
                                 param_hint="--password-stdin")
    return password
