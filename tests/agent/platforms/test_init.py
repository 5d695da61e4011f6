"""Choosing the desktop backend: by ``sys.platform``, overridden by ``SOSQUEUE_PLATFORM``."""

import sys

import pytest

from agent import platforms
from agent.platforms import _base, _darwin, _dummy, _linux, _win32


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(platforms.ENVIRONMENT_VARIABLE, raising=False)


@pytest.mark.parametrize(("platform", "expected"), [
    ("linux", _linux.Desktop), ("win32", _win32.Desktop), ("darwin", _darwin.Desktop),
])
def test_backend_follows_sys_platform(monkeypatch, platform, expected):
    """Each supported ``sys.platform`` gets its own backend."""
    monkeypatch.setattr(sys, "platform", platform)
    assert platforms.backend() is expected


@pytest.mark.parametrize("name", platforms.BACKENDS)
def test_environment_variable_overrides_the_platform(monkeypatch, name):
    """``SOSQUEUE_PLATFORM`` picks any backend, whatever the system."""
    monkeypatch.setenv(platforms.ENVIRONMENT_VARIABLE, name)
    assert platforms.backend().__module__ == f"agent.platforms._{name}"


def test_every_backend_is_a_desktop_subclass():
    """All backends implement the public base class."""
    for backend in (_linux.Desktop, _win32.Desktop, _darwin.Desktop, _dummy.Desktop):
        assert issubclass(backend, _base.Desktop)
        assert backend is not _base.Desktop


def test_unsupported_platform_raises_one_clear_import_error(monkeypatch):
    """A system without a backend gets one ImportError naming it."""
    monkeypatch.setattr(sys, "platform", "plan9")
    with pytest.raises(ImportError, match=r"^this platform is not supported: .*'plan9'"):
        platforms.backend()


def test_unknown_override_is_listed_in_the_import_error(monkeypatch):
    """A misspelt override is refused with the names that exist, never imported."""
    monkeypatch.setenv(platforms.ENVIRONMENT_VARIABLE, "_base")
    expected = "this platform is not supported: .*'_base' is not one of linux, win32, darwin, dummy"
    with pytest.raises(ImportError, match=expected):
        platforms.backend()


def test_failing_backend_import_is_listed_in_the_import_error(monkeypatch):
    """If the chosen backend cannot be imported, the error says which and why."""
    monkeypatch.setitem(sys.modules, "agent.platforms._win32", None)  # makes importing it fail
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(ImportError, match=r"this platform is not supported: win32: "):
        platforms.backend()
