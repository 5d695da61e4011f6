"""Real displays and real agents for the window tests: Xvfb, a tray host, the agent as a process.

Fixtures here are imported by the test modules that need them (``from tests.agent.ui.support
import …``). The agent reports what its window shows through ``SOSQUEUE_AGENT_TEST_HOOKS``
(a JSON file it rewrites on every change); tests read it, drive the window with ``xdotool``
and take screenshots with ImageMagick's ``import``.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tkinter as tk
from pathlib import Path

import pytest

from tests.support.modules import write_module_file
from tests.support.xserver import start_xvfb, stop
from tests.support.polling import eventually

REPO = Path(__file__).resolve().parents[3]
PATIENCE = 60.0

needs_x_tools = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("Xvfb", "xdpyinfo", "xdotool", "import")),
    reason="needs Xvfb, x11-utils, xdotool and ImageMagick (scripts/setup installs them)",
)


@pytest.fixture(scope="session")
def display():
    """A real X server (Xvfb) for this test session; its DISPLAY name."""
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb (scripts/setup installs it)")
    process, name = start_xvfb()
    yield name
    stop(process)


@pytest.fixture(scope="session")
def tray_host(display):
    """``trayer``, a system tray on the test display, so tray icons have a home."""
    if not shutil.which("trayer"):
        pytest.skip("needs trayer (scripts/setup installs it)")
    process = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
         "--SetDockType", "true", "--transparent", "false"],
        env={**os.environ, "DISPLAY": display}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    eventually(lambda: _window_named(display, "panel") or process.poll() is not None, timeout=20,
               what="trayer to start")
    yield display
    stop(process)


def _window_named(display: str, name: str) -> bool:
    found = subprocess.run(["xdotool", "search", "--name", name], env={**os.environ, "DISPLAY": display},
                           capture_output=True, text=True)
    return bool(found.stdout.strip())


@pytest.fixture
def tk_root(display, monkeypatch):
    """A Tk root window on the test display, destroyed after the test."""
    monkeypatch.setenv("DISPLAY", display)
    root = tk.Tk()
    root.withdraw()
    yield root
    try:
        root.destroy()
    except tk.TclError:
        pass  # the test destroyed it


def pump(root: tk.Misc, condition, *, timeout: float = PATIENCE, what: str = "condition"):
    """Run Tk's event loop until ``condition()`` is truthy (background threads report through it)."""
    deadline = time.monotonic() + timeout
    while True:
        root.update()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come true within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def make_module(tmp_path, tenant, queue_server):
    """Writes a module file for this test's tenant; keyword overrides change brand or options."""

    def make(name: str = "module.bin", *, server_url: str | None = None, **overrides) -> Path:
        return write_module_file(tmp_path / name, server_url=server_url or queue_server.url,
                                 module_id=tenant.module_id, module_token=tenant.module_token, **overrides)

    return make


class AgentProcess:
    """``python -m agent --module FILE …`` under the test display, in a home of its own."""

    def __init__(self, module: Path, home: Path, display: str | None, *, tray: str = "dummy", env: dict | None = None):
        self.module = module
        self.home = home
        self.state_file = home / "window-state.json"
        self.env = agent_environment(home, display, tray=tray, extra=env)
        self.processes: list[subprocess.Popen] = []

    def start(self, *args: str) -> subprocess.Popen:
        """Start an agent with ``args`` (e.g. ``--sos``); returns the process."""
        log = open(self.home / f"agent-{len(self.processes)}.out", "wb")
        process = subprocess.Popen([sys.executable, "-m", "agent", "--module", str(self.module), *args],
                                   env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def run(self, *args: str, timeout: float = PATIENCE) -> subprocess.CompletedProcess:
        """Run an agent to its end (e.g. a second start, which hands over and exits)."""
        return subprocess.run([sys.executable, "-m", "agent", "--module", str(self.module), *args],
                              env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)

    def state(self) -> dict:
        """What the window shows now (``{}`` before the first report)."""
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def wait_for(self, check, *, what: str, timeout: float = PATIENCE) -> dict:
        """Poll the window's state until ``check(state)`` holds; returns that state."""
        def satisfied():
            for process in self.processes[:1]:
                if process.poll() is not None:
                    raise AssertionError(f"the agent exited with {process.returncode}:\n{self.output()}")
            state = self.state()
            return state if state and check(state) else None

        return eventually(satisfied, timeout=timeout, what=what)

    def keys(self, *keys: str) -> None:
        """Press keys in the focused window, e.g. ``keys("Tab", "Return")``."""
        self._xdotool("key", "--clearmodifiers", "--delay", "50", *keys)

    def type(self, text: str) -> None:
        self._xdotool("type", "--clearmodifiers", "--delay", "20", text)

    def focus_window(self) -> None:
        window = self.state()["window"]
        self._xdotool("windowfocus", "--sync", str(int(window, 16)))

    def screenshot(self, path: Path) -> Path:
        """A PNG of the agent's window as it is on screen."""
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-window", self.state()["window"], str(path)], env=self.env, check=True,
                       timeout=PATIENCE)
        return path

    def output(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.home.glob("agent-*.out")))

    def terminate(self) -> int:
        """SIGTERM, as a logout does; returns the first agent's exit code."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(PATIENCE))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes[0] if codes else 0

    def _xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=PATIENCE)


def agent_environment(home: Path, display: str | None, *, tray: str = "dummy", extra: dict | None = None) -> dict:
    """The agent's environment: its own home (state, logs, desktop files), the display, the tray."""
    home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("XDG_", "SOSQUEUE_", "LC_", "LANG")) and key != "DISPLAY"}
    env.update(HOME=str(home / "user"), SOSQUEUE_AGENT_HOME=str(home), SOSQUEUE_AGENT_TEST_HOOKS=str(home / "window-state.json"),
               LANG="C.UTF-8", PYTHONUNBUFFERED="1")
    if tray:
        env["SOSQUEUE_TRAY"] = tray
    if display:
        env["DISPLAY"] = display
    env.update(extra or {})
    return env


@pytest.fixture
def agent(tmp_path, display):
    """Start agents for a module (``agent(module_path, tray=…)``); all are stopped after the test."""
    made: list[AgentProcess] = []

    def make(module: Path, *, tray: str = "dummy", env: dict | None = None, home: Path | None = None) -> AgentProcess:
        process = AgentProcess(module, home or tmp_path / "home", display, tray=tray, env=env)
        made.append(process)
        return process

    yield make
    for process in made:
        process.terminate()
