"""A base agent's check and digest, kept per version of its file: reused for the very same file,
made again after any change to it, never kept for a refused base."""

import json
import os
from pathlib import Path

import pytest

from builder import base_checks, bases
from builder.base_checks import CheckedBase
from sosqueue import payload
from sosqueue.errors import BaseError
from sosqueue.platforms import Platform


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json"))


def test_the_answer_is_what_the_base_checks_say(fake_base, cache):
    """Platform and digest are check_base's and base_sha256's."""
    assert base_checks.checked(fake_base, directory=cache) == CheckedBase(Platform.LINUX, bases.base_sha256(fake_base))
    assert len(entries(cache)) == 1


def test_the_same_file_is_not_read_again(fake_base, cache, monkeypatch):
    """The second check of an unchanged file is the kept answer."""
    first = base_checks.checked(fake_base, directory=cache)
    monkeypatch.setattr(base_checks, "check_base", lambda base: pytest.fail("checked again"))
    monkeypatch.setattr(base_checks, "base_sha256", lambda base: pytest.fail("hashed again"))
    assert base_checks.checked(fake_base, directory=cache) == first


def test_a_file_written_to_is_checked_again(fake_base, cache):
    """Other bytes in the same file, even of the same size and time: a new digest."""
    before = base_checks.checked(fake_base, directory=cache)
    status = fake_base.stat()
    data = bytearray(fake_base.read_bytes())
    data[-1] ^= 0xFF
    fake_base.write_bytes(bytes(data))
    os.utime(fake_base, ns=(status.st_atime_ns, status.st_mtime_ns))
    after = base_checks.checked(fake_base, directory=cache)
    assert after.sha256 == bases.base_sha256(fake_base) != before.sha256


def test_a_module_put_in_the_base_s_place_is_refused(fake_base, cache, tmp_path):
    """A stamped module renamed over a checked base is refused, not taken for the base."""
    base_checks.checked(fake_base, directory=cache)
    module = tmp_path / "module"
    payload.stamp(fake_base, payload.Payload(config={}, assets={}), module)
    os.replace(module, fake_base)
    with pytest.raises(BaseError, match="already a stamped module"):
        base_checks.checked(fake_base, directory=cache)


def test_a_refused_base_is_not_kept(tmp_path, cache):
    """A file that is not a base leaves no entry."""
    text = tmp_path / "notes.txt"
    text.write_text("not a program\n")
    with pytest.raises(BaseError):
        base_checks.checked(text, directory=cache)
    assert entries(cache) == []


@pytest.mark.parametrize("damage", ["", "{", "[]", '{"identity": 1}', "null"])
def test_a_damaged_entry_is_checked_again_and_rewritten(fake_base, cache, damage):
    """An entry that does not parse or hold the right fields is replaced by a fresh check."""
    fresh = base_checks.checked(fake_base, directory=cache)
    [entry] = entries(cache)
    intact = json.loads(entry.read_text())
    entry.write_text(damage)
    assert base_checks.checked(fake_base, directory=cache) == fresh
    assert json.loads(entry.read_text()) == intact


def test_an_entry_with_a_malformed_digest_is_not_used(fake_base, cache):
    """A digest that is not 64 hex digits is not stamped into a module."""
    fresh = base_checks.checked(fake_base, directory=cache)
    [entry] = entries(cache)
    record = json.loads(entry.read_text())
    entry.write_text(json.dumps({**record, "sha256": "0" * 63}))
    assert base_checks.checked(fake_base, directory=cache) == fresh


def test_a_missing_base_is_refused_as_check_base_refuses_it(tmp_path, cache):
    """No file: check_base's own message, nothing kept."""
    with pytest.raises(BaseError, match="no base agent"):
        base_checks.checked(tmp_path / "missing", directory=cache)
    assert not cache.exists()
