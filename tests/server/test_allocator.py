"""The allocator ``sosqueue serve`` runs on: mimalloc where it is installed, CPython's on request,
chosen by starting the same process again with the allocator's environment."""

import os
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from server import allocator
from sosqueue.cli import cli as sosqueue_cli
from sosqueue.errors import ConfigError, ExitCode
from tests.support.servers import SOSQUEUE, free_port
from tests.support.tools import require_library

LIBRARY = "libmimalloc.so.2"


def test_auto_starts_again_on_mimalloc_with_every_object_in_it_and_pages_given_back_at_once():
    environment = allocator.environment_for("auto", {"HOME": "/home/q"}, on_mimalloc=False, library=LIBRARY)
    assert environment == {"HOME": "/home/q", "LD_PRELOAD": LIBRARY, "PYTHONMALLOC": "malloc",
                           "MIMALLOC_DECOMMIT_DELAY": "0", allocator.TRIED: "1"}


def test_what_the_environment_preloads_or_sets_for_mimalloc_stays():
    environment = allocator.environment_for("auto", {"LD_PRELOAD": "libfaketime.so.1", "MIMALLOC_DECOMMIT_DELAY": "5"},
                                            on_mimalloc=False, library=LIBRARY)
    assert environment["LD_PRELOAD"] == f"{LIBRARY} libfaketime.so.1"
    assert environment["MIMALLOC_DECOMMIT_DELAY"] == "5"


@pytest.mark.parametrize("choice, environ, on_mimalloc, library", [
    ("auto", {}, False, None),  # not installed
    ("auto", {"PYTHONMALLOC": "malloc"}, False, LIBRARY),  # the environment chose
    ("python", {}, False, LIBRARY),
    ("auto", {}, True, LIBRARY),  # started again, or preloaded by the admin
    ("mimalloc", {}, True, LIBRARY),
    ("auto", {allocator.TRIED: "1"}, False, LIBRARY),  # started again, and the loader could not preload it
    ("auto", {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"}, False, LIBRARY),  # the admin's allocator
])
def test_the_process_goes_on_as_it_is(choice, environ, on_mimalloc, library):
    assert allocator.environment_for(choice, environ, on_mimalloc=on_mimalloc, library=library) is None


def test_insisting_on_mimalloc_where_it_is_not_installed_says_how_to_install_it():
    with pytest.raises(allocator.AllocatorMissing, match="apt install libmimalloc2.0"):
        allocator.environment_for("mimalloc", {}, on_mimalloc=False, library=None)


def test_insisting_on_mimalloc_that_the_loader_could_not_preload_is_an_error():
    with pytest.raises(allocator.AllocatorMissing, match=f"mimalloc \\({LIBRARY}\\) could not be loaded"):
        allocator.environment_for("mimalloc", {allocator.TRIED: "1", "LD_PRELOAD": LIBRARY}, on_mimalloc=False,
                                  library=LIBRARY)


def test_serve_starts_again_as_its_own_script_so_the_process_keeps_its_name():
    argv = [str(SOSQUEUE), "serve", "--port", "8765"]
    assert allocator.restart_command(argv, [sys.executable, *argv], sys.executable) == argv


def test_serve_run_by_the_interpreter_starts_again_with_the_interpreters_arguments(tmp_path):
    script = tmp_path / "serve.py"  # not executable
    script.write_text("")
    argv = [str(script), "serve"]
    orig = [sys.executable, "-X", "dev", str(script), "serve"]
    assert allocator.restart_command(argv, orig, sys.executable) == [sys.executable, *orig[1:]]


def test_a_program_that_called_the_command_itself_is_not_started_again(tmp_path):
    """sosqueue.cli.main(["serve"]) from a program of its own: starting that program again would
    repeat what it did before."""
    assert allocator.restart_command([str(SOSQUEUE), "--port", "1"], [sys.executable, str(SOSQUEUE)],
                                     sys.executable) is None
    script = tmp_path / "wrapper.py"
    script.write_text("")
    assert allocator.restart_command([str(script), "serve"], [sys.executable, str(script), "other"],
                                     sys.executable) is None


def test_a_library_the_loader_cannot_load_is_not_preloaded(monkeypatch):
    """auto goes on with CPython's allocator; mimalloc insisted on is an error; nothing is started again."""
    monkeypatch.setattr(allocator, "find_mimalloc", lambda: "libmimalloc-missing.so.2")
    monkeypatch.setattr(allocator, "running_on_mimalloc", lambda: False)
    monkeypatch.setattr(allocator.os, "execve", lambda *args: pytest.fail("started again"))
    for name in ("PYTHONMALLOC", "LD_PRELOAD", allocator.TRIED):
        monkeypatch.delenv(name, raising=False)
    assert allocator.adopt("auto") == "python"
    with pytest.raises(allocator.AllocatorMissing, match="not installed"):
        allocator.adopt("mimalloc")


def test_serve_insisting_on_a_missing_mimalloc_exits_with_a_config_error(monkeypatch):
    monkeypatch.setattr(allocator, "find_mimalloc", lambda: None)
    monkeypatch.setattr(allocator, "running_on_mimalloc", lambda: False)
    result = CliRunner().invoke(sosqueue_cli, ["serve", "--allocator", "mimalloc", "--port", str(free_port())])
    assert isinstance(result.exception, ConfigError)  # sosqueue's main() prints it as one line, exit 3
    assert result.exception.exit_code == ExitCode.CONFIG
    assert str(result.exception) == ("mimalloc is not installed: install it (Debian and Ubuntu: apt install "
                                     "libmimalloc2.0) or choose --allocator auto or python")


def serve_and_look(tmp_path, *args: str, env: dict | None = None) -> tuple[bool, str, str]:
    """Start ``sosqueue serve``; once it answers: whether the process started maps mimalloc, its
    first line on stderr, and its name."""
    port = free_port()
    process = subprocess.Popen([str(SOSQUEUE), "serve", "--db", f"sqlite:///{tmp_path / 'queue.db'}", "--port",
                                str(port), "--log-level", "warning", *args], stderr=subprocess.PIPE, text=True,
                               env={**_environment(), **(env or {})})
    try:
        assert _answers(f"http://127.0.0.1:{port}/healthz"), "the server did not answer within 30 s"
        maps = open(f"/proc/{process.pid}/maps").read()  # the same process: started again with execve
        name = open(f"/proc/{process.pid}/comm").read().strip()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    return "libmimalloc" in maps, stderr.splitlines()[0], name


def _answers(url: str) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _environment() -> dict:
    return {key: value for key, value in os.environ.items()
            if key not in ("PYTHONMALLOC", "LD_PRELOAD", allocator.ENVIRONMENT, allocator.TRIED)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mimalloc is chosen on Linux")
def test_serve_runs_on_mimalloc_where_it_is_installed(tmp_path):
    require_library("mimalloc", "libmimalloc2.0")
    on_mimalloc, line, name = serve_and_look(tmp_path)
    assert on_mimalloc
    assert line.endswith("; memory allocator: mimalloc)")
    assert name == "sosqueue"  # pgrep -x sosqueue still finds it


def test_serve_runs_on_pythons_allocator_when_told(tmp_path):
    on_mimalloc, line, _name = serve_and_look(tmp_path, env={allocator.ENVIRONMENT: "python"})
    assert not on_mimalloc
    assert line.endswith("; memory allocator: python)")


def test_after_a_crowd_the_server_asks_mimalloc_to_give_its_free_pages_back(tmp_path):
    """release_freed_memory finds mi_collect in a process mimalloc is preloaded in."""
    library = require_library("mimalloc", "libmimalloc2.0")
    probe = ("import server.memory as memory; print(memory._mi_collect is not None); "
             "memory.release_freed_memory()")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={**_environment(), "LD_PRELOAD": library, "PYTHONMALLOC": "malloc"})
    assert result.stdout.strip() == "True"
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           env=_environment())
    assert plain.stdout.strip() == "False"
