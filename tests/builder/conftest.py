"""Builder fixtures: the real PyInstaller base agent (tests/support/bases.py), configs, servers."""

import json
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import bases
from tests.support.servers import QueueServer, shared_server
from tests.support.tenants import make_tenant

REPO = Path(__file__).resolve().parents[2]
SOSQUEUE = Path(sys.executable).with_name("sosqueue")


def new_update_key() -> str:
    """A server's public update key as the API and a module carry it."""
    from sosqueue import signing, updates

    return updates.encode_key(signing.public_key(signing.generate_private_key()))


@pytest.fixture(scope="session")
def real_base() -> Path:
    """The real unbranded base agent for this host, built with PyInstaller once per input hash."""
    return bases.real_base()


@pytest.fixture(scope="session")
def base_build_info(real_base) -> dict:
    """How long the cached base took to build and how large it is."""
    return json.loads((real_base.parent / bases.BUILD_INFO).read_text())


@pytest.fixture
def out(tmp_path) -> Path:
    """An empty output folder (test files with other needs define their own)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def fake_base(tmp_path) -> Path:
    """A small stand-in for a Linux base: an ELF header and filler (stamping only reads the magic)."""
    base = tmp_path / "bases" / "sosqueue-agent"
    base.parent.mkdir()
    base.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    base.chmod(0o755)
    return base


@pytest.fixture(scope="session")
def queue_server(request) -> QueueServer:
    """The session's shared queue server (SQLite) for the builder tests; they keep apart by tenant."""
    return shared_server(request, "sqlite")


@pytest.fixture
def tenant(queue_server):
    """A fresh company on ``queue_server`` with an admin, a supporter and a module."""
    return make_tenant(queue_server.database_url)


@pytest.fixture
def write_config(tmp_path):
    """Writes a module config: the template with ``[section] key = value`` lines replaced or added.

    ``write_config(brand={"primary": '"#123456"'}, module={"id": '"m"', "token": '"t"'})``; values
    are TOML source text; ``sections={"options.fields": {...}}`` reaches dotted tables.
    """
    from builder.module_config import template

    def write(name: str = "module.toml", sections: dict | None = None, **more: dict[str, str]) -> Path:
        path = tmp_path / name
        path.write_text(edited_template(template(), {**(sections or {}), **more}), encoding="utf-8")
        return path

    return write


def edited_template(text: str, sections: dict[str, dict[str, str]]) -> str:
    """The template with each ``key = value`` of ``sections`` set (replacing the template's line)."""
    lines, current, pending = text.splitlines(), None, {name: dict(keys) for name, keys in sections.items()}
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            out += _remaining(pending, current)
            current = stripped.strip("[]")
            out.append(line)
            continue
        key = stripped.lstrip("# ").partition("=")[0].strip() if "=" in stripped else None
        if current in pending and key in pending[current]:
            out.append(f"{key} = {pending[current].pop(key)}")
            continue
        out.append(line)
    out += _remaining(pending, current)
    for name, keys in pending.items():
        if keys:
            out += [f"[{name}]", *(f"{key} = {value}" for key, value in keys.items())]
    return "\n".join(out) + "\n"


def _remaining(pending: dict, section: str | None) -> list[str]:
    keys = pending.pop(section, {}) if section in pending else {}
    return [f"{key} = {value}" for key, value in keys.items()]


@pytest.fixture
def windows_base(tmp_path) -> Path:
    """A real (tiny) Windows executable to stamp as a Windows base."""
    base = tmp_path / "bases" / "sosqueue-agent.exe"
    base.parent.mkdir(exist_ok=True)
    base.write_bytes(bases.minimal_pe())
    return base


@pytest.fixture(scope="session")
def code_signing(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed code-signing certificate and its key (PEM), made with openssl."""
    folder = tmp_path_factory.mktemp("signing")
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sosqueue test signer",
         "-addext", "extendedKeyUsage=codeSigning", "-keyout", key, "-out", certificate],
        check=True, capture_output=True,
    )
    return certificate, key


@dataclass
class Outcome:
    """What one ``sosqueue`` run printed and returned."""

    code: int
    out: str
    err: str

    def error_line(self) -> str:
        """The one ``Error: …`` line, last on stderr; only progress lines may come before it."""
        lines = self.err.strip().splitlines()
        errors = [line for line in lines if line.startswith("Error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], f"expected one Error: line at the end, got:\n{self.err}"
        return errors[0]


@pytest.fixture
def sosqueue(capsys, monkeypatch, tmp_path_factory):
    """Runs ``sosqueue ARGS`` in this process (``sosqueue.cli.run``) and returns an :class:`Outcome`.

    Traceback logs of unexpected errors go to a test folder instead of the system's /tmp.
    """
    from sosqueue.cli import run

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("sosqueue-tmp")))

    def call(*args) -> Outcome:
        capsys.readouterr()
        code = run([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Outcome(int(code), captured.out, captured.err)

    return call


def run_sosqueue(*args, timeout: float = 120, **kwargs) -> Outcome:
    """Runs the installed ``sosqueue`` command as a real process."""
    done = subprocess.run([str(SOSQUEUE), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=kwargs.pop("cwd", REPO), **kwargs)
    return Outcome(done.returncode, done.stdout, done.stderr)


def folder_listing(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


class StandIn:
    """A stand-in queue for the builder's side of update keys: a loopback HTTP server answering
    module creation (201), token look-ups and brand updates (200) with ``{"id", "token", "version"}``
    plus whatever :attr:`extra` holds."""

    def __init__(self):
        self.extra: dict = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.reply(201)

            def do_GET(self):
                self.reply(200)

            do_PUT = do_DELETE = do_GET

            def reply(self, status: int):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"id": "mod-stand-in", "token": "sqm_standintoken", "version": 1,
                                   **stand_in.extra}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    """A :class:`StandIn` queue, answering with ``stand_in.extra`` (e.g. an ``update_key``)."""
    with StandIn() as server:
        yield server
