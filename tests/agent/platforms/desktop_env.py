"""A throwaway home for desktop-integration tests, and ways to read and run what was written.

``prepare_home`` points ``HOME``, the XDG folders, ``SOSQUEUE_AGENT_HOME`` and the Linux
system folders at ``tmp_path``. ``make_recorder`` writes a tiny program that records its argv,
so a test can run a shortcut's command and see exactly what arrived.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.platforms import _linux
from tests.support.polling import eventually

_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


@dataclass(frozen=True)
class Home:
    root: Path
    desktop: Path
    applications: Path
    autostart: Path
    agent_home: Path
    system_applications: Path
    system_autostart: Path
    system_templates: Path


def prepare_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A user's home under ``tmp_path``, with the Linux backend and no real system folders."""
    root = tmp_path / "home"
    root.mkdir()
    home = Home(root=root, desktop=root / "Desktop", applications=root / ".local/share/applications",
                autostart=root / ".config/autostart", agent_home=tmp_path / "agent",
                system_applications=tmp_path / "system/usr/share/applications",
                system_autostart=tmp_path / "system/etc/xdg/autostart",
                system_templates=tmp_path / "system/usr/local/share/sosqueue/shortcuts")
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(root / ".local/share"))
    monkeypatch.delenv("XDG_DESKTOP_DIR", raising=False)
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(home.agent_home))
    monkeypatch.setenv("SOSQUEUE_PLATFORM", "linux")
    monkeypatch.setattr(_linux, "SYSTEM_APPLICATIONS", home.system_applications)
    monkeypatch.setattr(_linux, "SYSTEM_AUTOSTART", home.system_autostart)
    monkeypatch.setattr(_linux, "SYSTEM_TEMPLATES", home.system_templates)
    monkeypatch.setattr(_linux, "local_users", lambda: [])  # this machine's real users are not the test's
    return home


@dataclass(frozen=True)
class Recorder:
    program: Path
    record: Path

    def argv(self) -> list[str]:
        """The arguments of the last run, waiting (generously) for it to have happened."""
        eventually(self.record.exists, what=f"{self.program} to run")
        return eventually(self._read, what=f"{self.record} to be complete")

    def _read(self):
        try:
            return json.loads(self.record.read_text())
        except ValueError:
            return None


def make_recorder(program: Path, record: Path) -> Recorder:
    """An executable at ``program`` (any name, spaces and quotes allowed) that writes its
    arguments as JSON to ``record``."""
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"target = {str(record)!r}\n"
        "with open(target + '.tmp', 'w') as handle:\n"
        "    json.dump(sys.argv[1:], handle)\n"
        "os.replace(target + '.tmp', target)\n"
    )
    program.chmod(0o755)
    return Recorder(program, record)


def desktop_entry(path: Path) -> dict[str, str]:
    """The raw ``key=value`` pairs of a ``.desktop`` file's ``[Desktop Entry]`` group."""
    keys, group = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            group = line.strip()
        elif group == "[Desktop Entry]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys[key.strip()] = value.lstrip()
    return keys


def unescape_string(value: str) -> str:
    """A key file string value as the Desktop Entry Specification reads it."""
    result, index = [], 0
    while index < len(value):
        if value[index] == "\\" and index + 1 < len(value) and value[index + 1] in _STRING_ESCAPES:
            result.append(_STRING_ESCAPES[value[index + 1]])
            index += 2
        else:
            result.append(value[index])
            index += 1
    return "".join(result)


def exec_argv(value: str) -> list[str]:
    """The argv of an ``Exec=`` value, parsed per the specification: string escapes, then
    double-quoted arguments (``\\`` escapes ``"``, `````, ``$`` and ``\\``), then ``%%``."""
    text, argv, current, started, index = unescape_string(value), [], [], False, 0
    while index < len(text):
        char = text[index]
        if char == '"':
            started, index = True, index + 1
            while text[index] != '"':
                if text[index] == "\\" and text[index + 1] in '"`$\\':
                    index += 1
                current.append(text[index])
                index += 1
            index += 1
        elif char == " ":
            if started:
                argv.append("".join(current))
                current, started = [], False
            index += 1
        else:
            current.append(char)
            started, index = True, index + 1
    if started:
        argv.append("".join(current))
    return [argument.replace("%%", "%") for argument in argv]


def launch_with_gio(desktop_file: Path) -> None:
    """Start a ``.desktop`` file the way GLib-based desktops do (no display needed)."""
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    subprocess.run(["gio", "launch", str(desktop_file)], env=env, check=True, timeout=60,
                   stdin=subprocess.DEVNULL, capture_output=True)


def validate(desktop_file: Path) -> str:
    """``desktop-file-validate``'s complaints about ``desktop_file`` (empty if none)."""
    result = subprocess.run(["desktop-file-validate", str(desktop_file)], capture_output=True, text=True, timeout=60)
    return (result.stdout + result.stderr).strip() if result.returncode else ""
