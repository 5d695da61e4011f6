"""The module payload: written once, read back exactly, stamped onto a base, damage detected."""

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from sosqueue import payload
from sosqueue.payload import DamagedPayload, NoPayload, Payload, PayloadError
from tests.support.modules import sample_assets

TRUE = Path(shutil.which("true") or "/bin/true")


@pytest.fixture
def sample() -> Payload:
    return Payload(config={"format": 1, "hello": "wörld", "nested": {"n": [1, 2, 3]}}, assets=dict(sample_assets()))


@pytest.fixture
def base(tmp_path) -> Path:
    """A real executable to stamp: a copy of ``true``."""
    copy = tmp_path / "base" / "agent-base"
    copy.parent.mkdir()
    shutil.copy2(TRUE, copy)
    return copy


def test_bare_payload_file_reads_back_the_same_config_and_assets(tmp_path, sample):
    """A payload written on its own reads back equal: config and every asset byte."""
    path = tmp_path / "module.bin"
    path.write_bytes(sample.to_bytes())
    assert payload.read(path) == sample


def test_stamped_module_is_base_followed_by_payload(tmp_path, base, sample):
    """The stamped file is the base's bytes, then the payload bytes, nothing else."""
    out = payload.stamp(base, sample, tmp_path / "out" / "Acme Help")
    assert out.read_bytes() == base.read_bytes() + sample.to_bytes()
    assert payload.read(out) == sample


def test_stamping_leaves_the_base_untouched(tmp_path, base, sample):
    """The base agent keeps its bytes and stays unstamped."""
    before = base.read_bytes()
    payload.stamp(base, sample, tmp_path / "stamped")
    assert base.read_bytes() == before
    assert not payload.has_payload(base)


def test_stamped_executable_still_runs(tmp_path, base, sample):
    """The operating system ignores the appended payload: the stamped ``true`` exits 0."""
    out = payload.stamp(base, sample, tmp_path / "stamped-true")
    assert subprocess.run([str(out)], timeout=30).returncode == 0


def test_already_stamped_base_is_refused(tmp_path, base, sample):
    """Stamping a stamped module again is refused and writes nothing."""
    once = payload.stamp(base, sample, tmp_path / "once")
    with pytest.raises(PayloadError, match="already a stamped module"):
        payload.stamp(once, sample, tmp_path / "twice")
    assert not (tmp_path / "twice").exists()


def test_file_without_payload_is_no_payload(tmp_path, base):
    """A plain executable has no payload: NoPayload, not a damaged one."""
    with pytest.raises(NoPayload):
        payload.read(base)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(NoPayload):
        payload.read(empty)


def test_missing_file_is_no_payload(tmp_path):
    """A path that does not exist carries no payload."""
    with pytest.raises(NoPayload):
        payload.read(tmp_path / "nowhere")


def test_every_sampled_single_byte_change_in_the_payload_is_detected(tmp_path, base, sample):
    """Flipping any one byte of the zip body, its length or its checksum is DamagedPayload."""
    stamped = payload.stamp(base, sample, tmp_path / "stamped").read_bytes()
    body_start = len(base.read_bytes())
    trailer = payload.TRAILER.size
    magic_start = len(stamped) - trailer + 8
    positions = [p for p in range(body_start, len(stamped)) if not magic_start <= p < magic_start + 8]
    rng = random.Random(20240601)
    sampled = sorted(set(rng.sample(positions, 44)) | {body_start, magic_start - 1, magic_start + 8, len(stamped) - 1,
                                                       len(stamped) - trailer, len(stamped) - trailer + 7})
    damaged = tmp_path / "damaged"
    for position in sampled:
        corrupted = bytearray(stamped)
        corrupted[position] ^= 0x5A
        damaged.write_bytes(bytes(corrupted))
        with pytest.raises(DamagedPayload):
            payload.read(damaged)


def test_changed_magic_reads_as_no_payload_not_as_a_crash(tmp_path, sample):
    """A changed trailer magic is still a clean PayloadError (the file has no recognisable payload)."""
    data = bytearray(sample.to_bytes())
    data[-payload.TRAILER.size + 8] ^= 0xFF
    path = tmp_path / "module.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(NoPayload):
        payload.read(path)


@pytest.mark.parametrize("cut", [1, 100, 1000])
def test_truncated_module_is_damaged(tmp_path, base, sample, cut):
    """A download cut short in the payload (trailer rebuilt to look whole) is DamagedPayload."""
    stamped = payload.stamp(base, sample, tmp_path / "stamped").read_bytes()
    trailer = stamped[-payload.TRAILER.size:]
    cut_short = stamped[: -payload.TRAILER.size - cut] + trailer
    path = tmp_path / "cut"
    path.write_bytes(cut_short)
    with pytest.raises(DamagedPayload):
        payload.read(path)


def test_payload_longer_than_its_file_is_damaged(tmp_path, sample):
    """A trailer that claims more bytes than the file has is DamagedPayload."""
    data = sample.to_bytes()
    path = tmp_path / "module.bin"
    path.write_bytes(data[len(data) // 2:])
    with pytest.raises(DamagedPayload):
        payload.read(path)


def test_checksum_valid_payload_that_is_not_a_zip_is_damaged(tmp_path):
    """A well-formed trailer around junk (a foreign tool's payload) is DamagedPayload."""
    import hashlib

    junk = b"this is not a zip archive" * 10
    path = tmp_path / "module.bin"
    path.write_bytes(junk + payload.TRAILER.pack(len(junk), payload.MAGIC, hashlib.sha256(junk).digest()))
    with pytest.raises(DamagedPayload):
        payload.read(path)


def _leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


def test_stamping_leaves_no_temporary_files(tmp_path, base, sample):
    """After a successful stamp the output folder holds only the module."""
    out_dir = tmp_path / "dist"
    payload.stamp(base, sample, out_dir / "Acme Help")
    assert _leftovers(out_dir, {"Acme Help"}) == []


def test_failed_stamp_leaves_no_output_and_no_temporary_files(tmp_path, sample):
    """Stamping a missing base fails and leaves the output folder as it was."""
    out_dir = tmp_path / "dist"
    out_dir.mkdir()
    (out_dir / "older").write_bytes(b"kept")
    with pytest.raises(OSError):
        payload.stamp(tmp_path / "no-such-base", sample, out_dir / "Acme Help")
    assert _leftovers(out_dir, {"older"}) == []
    assert (out_dir / "older").read_bytes() == b"kept"


def test_restamping_replaces_an_existing_output_whole(tmp_path, base, sample):
    """Stamping over an older module replaces it with the new bytes."""
    out = tmp_path / "dist" / "module"
    out.parent.mkdir()
    out.write_bytes(b"an old module")
    payload.stamp(base, sample, out)
    assert out.read_bytes() == base.read_bytes() + sample.to_bytes()


def test_stamped_module_is_executable(tmp_path, base, sample):
    """The stamped file keeps the executable bit so a customer can run it."""
    out = payload.stamp(base, sample, tmp_path / "stamped")
    assert out.stat().st_mode & 0o111


def test_bundle_stamp_puts_the_payload_in_resources(tmp_path, sample):
    """A macOS ``.app`` base gets the payload in Contents/Resources and reads back equal."""
    base_app = tmp_path / "Base.app"
    (base_app / "Contents" / "MacOS").mkdir(parents=True)
    (base_app / "Contents" / "MacOS" / "agent").write_bytes(b"binary")
    out = payload.stamp_bundle(base_app, sample, tmp_path / "dist" / "Acme Help.app")
    assert payload.read(out) == sample
    assert not (base_app / payload.MACOS_RESOURCE).exists()
    assert (out / "Contents" / "MacOS" / "agent").read_bytes() == b"binary"
