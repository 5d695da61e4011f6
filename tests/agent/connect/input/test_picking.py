"""Picking the input backend: the system's own, or the one SOSQUEUE_INPUT names, and why none works."""

import pytest

from agent.connect import input as injection
from agent.connect.input import InjectionUnavailable, create_injector


def test_the_automatic_choice_is_the_systems_own_backend(monkeypatch):
    monkeypatch.delenv("SOSQUEUE_INPUT", raising=False)
    assert injection.backend().backend_name == "linux"
    assert injection._candidates("win32") == ["win32"]
    assert injection._candidates("darwin") == ["darwin"]


def test_the_environment_variable_picks_the_backend(monkeypatch, injector):
    monkeypatch.setenv("SOSQUEUE_INPUT", "linux")
    with create_injector() as chosen:
        assert chosen.backend_name == "linux"


def test_an_unknown_backend_name_is_one_clear_reason(monkeypatch):
    monkeypatch.setenv("SOSQUEUE_INPUT", "bogus")
    with pytest.raises(InjectionUnavailable) as refused:
        create_injector()
    assert str(refused.value) == ("the mouse and keyboard cannot be controlled here: SOSQUEUE_INPUT='bogus' "
                                  "is not one of linux, win32, darwin")


@pytest.mark.parametrize("name, reason", [("win32", "SendInput exists only on Windows"),
                                          ("darwin", "Quartz events exist only on macOS")])
def test_another_systems_backend_says_why_it_cannot_work_here(monkeypatch, name, reason):
    monkeypatch.setenv("SOSQUEUE_INPUT", name)
    with pytest.raises(InjectionUnavailable, match=reason):
        create_injector()
