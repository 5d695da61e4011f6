"""Picking a platform backend: the override, the first candidate that imports, one clear error."""

import pytest

from agent import backends

CHOICES = dict(variable="SOSQUEUE_TEST_BACKEND", backends=("linux", "dummy", "missing"), failure="cannot do it")


def test_the_first_candidate_that_imports_is_picked(monkeypatch):
    monkeypatch.delenv("SOSQUEUE_TEST_BACKEND", raising=False)
    picked = backends.pick("agent.platforms", "Desktop", candidates=["missing", "dummy"], **CHOICES)
    assert picked.__module__ == "agent.platforms._dummy"


def test_the_environment_override_wins_over_the_candidates(monkeypatch):
    monkeypatch.setenv("SOSQUEUE_TEST_BACKEND", "dummy")
    picked = backends.pick("agent.platforms", "Desktop", candidates=["linux"], **CHOICES)
    assert picked.__module__ == "agent.platforms._dummy"


def test_when_none_imports_one_error_says_why_for_each(monkeypatch):
    monkeypatch.setenv("SOSQUEUE_TEST_BACKEND", "bogus")
    with pytest.raises(ImportError) as raised:
        backends.pick("agent.platforms", "Desktop", candidates=["linux"], **CHOICES)
    assert str(raised.value) == "cannot do it: SOSQUEUE_TEST_BACKEND='bogus' is not one of linux, dummy, missing"
    monkeypatch.delenv("SOSQUEUE_TEST_BACKEND")
    with pytest.raises(ImportError, match=r"^cannot do it: missing: No module named 'agent\.platforms\._missing'$"):
        backends.pick("agent.platforms", "Desktop", candidates=["missing"], **CHOICES)
