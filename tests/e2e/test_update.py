"""A real module keeps itself current from a real queue: it follows the queue's new base and keeps its brand;
what it cannot trust, and a base that does not start, leave it exactly as it was.

The module is the real PyInstaller base stamped by ``sosqueue build`` against the queue. The queue
offers a rebuilt base from its bases folder: the same program with other bytes and a later build
time, as a new build of the release is. ``--update`` is what IT runs, and what the running agent
does in the background short of its restart (``tests/agent/update/test_install.py`` restarts and
rolls back real processes).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sosqueue
from agent.errors import AgentExit
from sosqueue import payload, signing, updates
from sosqueue.module_config import parse
from tests.support import bases
from tests.support.servers import QueueServer, shared_server
from tests.support.tenants import Tenant, make_tenant

SOSQUEUE = Path(sys.executable).with_name("sosqueue")
AGENT_TIMEOUT = 180
PRODUCT = "Acme Help"


@pytest.fixture(scope="module")
def bases_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("server-bases")


@pytest.fixture(scope="module")
def update_queue(request, bases_dir) -> QueueServer:
    """A queue that offers the agents in ``bases_dir``."""
    return shared_server(request, "sqlite", env={"SOSQUEUE_BASES_DIR": str(bases_dir)})


@pytest.fixture
def company(update_queue) -> Tenant:
    return make_tenant(update_queue.database_url)


@pytest.fixture(scope="module")
def local_base(tmp_path_factory) -> Path:
    """The real base as an admin has it: built, with its base.json."""
    folder = tmp_path_factory.mktemp("admin-base")
    real = bases.real_base()
    base = folder / real.name
    shutil.copy2(real, base)
    (folder / updates.BASE_INFO).write_text(updates.base_info(sosqueue.__version__, built="2026-01-01T00:00:00Z"))
    return base


def offer_on_queue(bases_dir: Path, content: bytes, *, version: str = sosqueue.__version__,
                   built: str = "2026-06-01T00:00:00Z") -> bytes:
    base = bases.put_server_base(bases_dir, "linux", content, version=None)
    (base.parent / updates.BASE_INFO).write_text(updates.base_info(version, built=built))
    return content


def rebuilt(base: Path) -> bytes:
    """The base as a new build of it: the same program, other bytes (the bootloader ignores the tail)."""
    return base.read_bytes() + b"\0rebuilt on another day\0"


def build_module(local_base: Path, queue: QueueServer, company: Tenant, folder: Path) -> Path:
    config = folder / "module.toml"
    subprocess.run([str(SOSQUEUE), "module", "init", str(config)], check=True, capture_output=True)
    text = config.read_text().replace('company = "', f'company = "{PRODUCT} Inc" #', 1)
    text = text.replace('product = "', f'product = "{PRODUCT}" #', 1)
    config.write_text(text)
    done = subprocess.run([str(SOSQUEUE), "build", "--config", str(config), "--base", str(local_base), "--out",
                           str(folder / "out"), "--server", queue.url, "--token", company.admin_token],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def run_module(module: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([str(module), *args], env={**env, "SOSQUEUE_AGENT_HOME": str(home)},
                          capture_output=True, text=True, timeout=AGENT_TIMEOUT, cwd=home.parent)


def base_part(module: Path) -> bytes:
    start, _end = payload.span(module)
    return module.read_bytes()[:start]


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_a_module_follows_the_queues_rebuilt_base_and_keeps_its_brand_and_token(
        local_base, update_queue, company, bases_dir, tmp_path):
    module = build_module(local_base, update_queue, company, tmp_path)
    before = parse(payload.read(module))
    new_base = offer_on_queue(bases_dir, rebuilt(local_base))

    done = run_module(module, tmp_path / "home", "--update")

    assert done.returncode == AgentExit.OK, done.stderr
    assert done.stdout.startswith(f"updated {sosqueue.__version__} → {sosqueue.__version__}")
    assert base_part(module) == new_base
    after = parse(payload.read(module))
    assert after.base_sha256 == hashlib.sha256(new_base).hexdigest() != before.base_sha256
    assert after.base_built == "2026-06-01T00:00:00Z"
    assert (after.brand, after.module_token, after.update_key, after.assets) == \
        (before.brand, before.module_token, before.update_key, before.assets)
    shown = run_module(module, tmp_path / "home", "--print-config")
    assert shown.returncode == 0 and json.loads(shown.stdout)["brand"]["product"] == PRODUCT
    again = run_module(module, tmp_path / "home", "--update")
    assert (again.returncode, again.stdout.strip()) == (AgentExit.OK, f"up to date ({sosqueue.__version__})")
    assert listing(module.parent) == [module.name]  # the next check removed the .previous one


def test_an_offered_base_that_does_not_start_leaves_the_module_as_it_was(
        local_base, update_queue, company, bases_dir, tmp_path):
    module = build_module(local_base, update_queue, company, tmp_path)
    installed = module.read_bytes()
    offer_on_queue(bases_dir, Path("/bin/false").read_bytes(), version="99.0.0")

    done = run_module(module, tmp_path / "home", "--update")

    assert done.returncode == AgentExit.UPDATE_REFUSED, done.stderr
    assert "does not start" in done.stderr and "Traceback" not in done.stderr
    assert module.read_bytes() == installed
    assert listing(module.parent) == [module.name]
    again = run_module(module, tmp_path / "home", "--update")  # IT asking again tries again
    assert again.returncode == AgentExit.UPDATE_REFUSED and module.read_bytes() == installed


def test_a_module_refuses_a_base_signed_by_another_key(local_base, update_queue, company, bases_dir, tmp_path):
    module = build_module(local_base, update_queue, company, tmp_path)
    foreign = payload.read(module)
    foreign.config["updates"]["key"] = updates.encode_key(signing.public_key(signing.generate_private_key()))
    payload.stamp(local_base, foreign, module)
    installed = module.read_bytes()
    offer_on_queue(bases_dir, rebuilt(local_base), version="99.0.0")

    done = run_module(module, tmp_path / "home", "--update")

    assert done.returncode == AgentExit.UPDATE_REFUSED
    assert "signature does not match" in done.stderr
    assert module.read_bytes() == installed and listing(module.parent) == [module.name]


def test_a_machine_wide_module_leaves_the_update_to_it(local_base, update_queue, company, bases_dir, tmp_path):
    module = build_module(local_base, update_queue, company, tmp_path)
    (module.parent / updates.PACKAGE_MARKER).write_text("{}")
    installed = module.read_bytes()
    offer_on_queue(bases_dir, rebuilt(local_base), version="99.0.0")

    done = run_module(module, tmp_path / "home", "--update")

    assert (done.returncode, done.stdout.strip()) == \
        (AgentExit.OK, "IT manages updates on this computer: version 99.0.0 is available")
    assert module.read_bytes() == installed


def test_a_module_never_goes_back_to_an_older_base(local_base, update_queue, company, bases_dir, tmp_path):
    module = build_module(local_base, update_queue, company, tmp_path)
    installed = module.read_bytes()
    offer_on_queue(bases_dir, rebuilt(local_base), built="2025-01-01T00:00:00Z")

    done = run_module(module, tmp_path / "home", "--update")

    assert (done.returncode, done.stdout.strip()) == (AgentExit.OK, f"up to date ({sosqueue.__version__})")
    assert module.read_bytes() == installed
