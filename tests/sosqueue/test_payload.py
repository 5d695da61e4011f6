"""The module payload: written once, read back exactly, stamped onto a base, damage detected."""

import hashlib
import io
import random
import shutil
import subprocess
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from sosqueue import payload
from sosqueue.payload import (
    DamagedDownload,
    DamagedPayload,
    NoPayload,
    OversizedPayload,
    Payload,
    PayloadError,
    TamperedPayload,
)
from tests.support import bombs
from tests.support.modules import sample_assets

TRUE = Path(shutil.which("true") or "/bin/true")


@pytest.fixture
def sample() -> Payload:
    return Payload(config={"format": 1, "hello": "wörld", "nested": {"n": [1, 2, 3]}}, assets=dict(sample_assets()))


def program_sha256(path: Path) -> bytes:
    """What the header of a module stamped onto ``path`` records."""
    with open(path, "rb") as handle:
        return payload.program_digest(handle, path.stat().st_size)


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
    """The stamped file is the base's bytes, then the payload bytes recording the base's SHA-256, nothing else."""
    out = payload.stamp(base, sample, tmp_path / "out" / "Acme Help")
    assert program_sha256(base) == hashlib.sha256(base.read_bytes()).digest()
    assert out.read_bytes() == base.read_bytes() + sample.to_bytes(program_sha256(base))
    assert payload.verify(out) == payload.Verified(sample, payload.Program.VERIFIED)


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


def test_changed_trailer_magic_reads_as_a_damaged_download_not_as_a_crash(tmp_path, sample):
    """A changed trailer magic in front of a payload's header is a module whose end is damaged."""
    data = bytearray(sample.to_bytes())
    data[-payload.TRAILER.size + 8] ^= 0xFF
    path = tmp_path / "module.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedDownload, match="cut short"):
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
    assert out.read_bytes() == base.read_bytes() + sample.to_bytes(program_sha256(base))


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


# --- the whole file: the program part, a download cut short, a changed configuration ----------


def flipped(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x5A]) + data[position + 1:]


@pytest.mark.parametrize("cut", [1, payload.TRAILER.size, 5000])
def test_module_cut_short_to_its_header_is_a_damaged_download_not_a_base(tmp_path, base, sample, cut):
    """A download that lost its end (the trailer gone, the header still there) is a damaged download."""
    stamped = payload.stamp(base, sample, tmp_path / "stamped").read_bytes()
    path = tmp_path / "cut"
    path.write_bytes(stamped[:-cut])
    with pytest.raises(DamagedDownload, match="cut short"):
        payload.read(path)
    assert payload.has_payload(path)


def test_changed_byte_in_the_program_part_is_a_damaged_download(tmp_path, base, sample):
    """A byte changed anywhere in front of the payload: the program is not the base the module was built on."""
    stamped = payload.stamp(base, sample, tmp_path / "stamped").read_bytes()
    size = base.stat().st_size
    path = tmp_path / "damaged"
    for position in (0, 1000, size // 2, size - 1):
        path.write_bytes(flipped(stamped, position))
        with pytest.raises(DamagedDownload, match="program part is not the base agent it was built on"):
            payload.read(path)


def test_changed_configuration_in_front_of_an_intact_program_is_tampered(tmp_path, base, sample):
    """A byte changed in the zip archive while the program verifies: the configuration was changed."""
    stamped = payload.stamp(base, sample, tmp_path / "stamped").read_bytes()
    path = tmp_path / "tampered"
    for position in (base.stat().st_size + payload.HEADER.size, len(stamped) - payload.TRAILER.size - 1):
        path.write_bytes(flipped(stamped, position))
        with pytest.raises(TamperedPayload, match="checksum does not match while the program is intact"):
            payload.read(path)


def test_changed_header_is_a_damaged_download(tmp_path, base, sample):
    """A changed digest of the base in the header: neither the checksum nor the program verify."""
    stamped = payload.stamp(base, sample, tmp_path / "stamped").read_bytes()
    path = tmp_path / "damaged"
    path.write_bytes(flipped(stamped, base.stat().st_size + len(payload.HEADER_MAGIC) + 3))
    with pytest.raises(DamagedDownload, match="checksum does not match"):
        payload.read(path)


def test_bare_payload_file_has_no_program_part_to_verify(tmp_path, sample):
    """A payload on its own (``--module`` from source, a macOS bundle's resource): program "none"."""
    path = tmp_path / "module.bin"
    path.write_bytes(sample.to_bytes())
    assert payload.verify(path) == payload.Verified(sample, payload.Program.ABSENT)


def legacy_module(base: Path, sample: Payload) -> bytes:
    """A module as stamped before the header: base, zip archive, trailer with the old magic."""
    archive = sample.to_bytes()[payload.HEADER.size:-payload.TRAILER.size]
    trailer = payload.TRAILER.pack(len(archive), payload.LEGACY_MAGIC, hashlib.sha256(archive).digest())
    return base.read_bytes() + archive + trailer


def test_module_stamped_before_the_header_reads_with_its_program_unverified(tmp_path, base, sample):
    """An older module still reads; its program part cannot be verified, and reading says so."""
    path = tmp_path / "legacy"
    path.write_bytes(legacy_module(base, sample))
    assert payload.verify(path) == payload.Verified(sample, payload.Program.UNRECORDED)
    path.write_bytes(flipped(legacy_module(base, sample), 100))
    assert payload.verify(path).program is payload.Program.UNRECORDED


def test_changed_payload_of_an_older_module_is_a_damaged_download(tmp_path, base, sample):
    """Without a recorded base nothing tells a changed configuration from damage: get it again."""
    path = tmp_path / "legacy"
    path.write_bytes(flipped(legacy_module(base, sample), base.stat().st_size + 10))
    with pytest.raises(DamagedDownload, match="checksum does not match"):
        payload.read(path)


def test_the_pe_fields_signing_rewrites_do_not_change_the_program_digest(tmp_path, sample):
    """CheckSum and the certificate table's entry (which a signer sets after stamping) are not
    counted; any other header byte is."""
    from tests.support.bases import minimal_pe

    base = tmp_path / "agent.exe"
    base.write_bytes(minimal_pe())
    stamped = payload.stamp(base, sample, tmp_path / "Acme.exe").read_bytes()
    optional = 0x40 + 24  # minimal_pe: the PE header at 0x40, a PE32+ optional header
    signed = bytearray(stamped)
    signed[optional + 64:optional + 68] = b"\x12\x34\x56\x78"
    signed[optional + 112 + 32:optional + 112 + 40] = len(stamped).to_bytes(4, "little") + (16).to_bytes(4, "little")
    path = tmp_path / "signed.exe"
    path.write_bytes(bytes(signed))
    assert payload.verify(path).program is payload.Program.VERIFIED
    path.write_bytes(flipped(stamped, optional + 60))
    with pytest.raises(DamagedDownload):
        payload.read(path)


# --- how far a payload may expand --------------------------------------------------------------


#: Far below the 512 MiB a bomb expands to, well above what reading a module needs.
PEAK_LIMIT = 4 * payload.MAX_ENTRY_BYTES


def peak_while(read) -> int:
    """The peak of memory Python allocates while ``read()`` runs."""
    tracemalloc.start()
    try:
        read()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_asset_expanding_to_512_mib_is_refused_without_inflating_it(tmp_path):
    """512 MiB of zeros compressed below 1 MiB, with a valid checksum: refused, memory stays small."""
    path = tmp_path / "bomb.bin"
    path.write_bytes(payload.frame(bombs.bomb_archive()))
    assert path.stat().st_size < bombs.MIB

    def read():
        with pytest.raises(OversizedPayload, match="zeros-0.png expands to more than 8 MiB"):
            payload.read(path)

    assert peak_while(read) < PEAK_LIMIT


@pytest.mark.parametrize("declared", [bombs.MIB, payload.MAX_ENTRY_BYTES])
def test_asset_that_claims_less_than_it_expands_to_is_refused_reading_no_more_than_the_limit(tmp_path, declared):
    """An archive that lies about an asset's size is read only up to what it claims (at most the limit),
    then refused as damaged."""
    path = tmp_path / "bomb.bin"
    path.write_bytes(payload.frame(bombs.bomb_archive(declared=declared)))

    def read():
        with pytest.raises(DamagedPayload, match="cannot be read"):
            payload.read(path)

    assert peak_while(read) < PEAK_LIMIT


def test_assets_expanding_beyond_the_total_limit_are_refused(tmp_path):
    """Five assets of 7 MiB each pass one by one but not together (32 MiB in all)."""
    path = tmp_path / "bombs.bin"
    path.write_bytes(payload.frame(bombs.bomb_archive(7 * bombs.MIB, entries=5)))
    with pytest.raises(OversizedPayload, match="expands to more than 32 MiB"):
        payload.read(path)


def test_more_files_than_a_module_holds_are_refused(tmp_path):
    """A payload of many tiny files is refused before any is read."""
    path = tmp_path / "many.bin"
    path.write_bytes(payload.frame(bombs.bomb_archive(0, entries=payload.MAX_ENTRIES)))
    with pytest.raises(OversizedPayload, match="holds 65 files"):
        payload.read(path)


def test_an_asset_over_the_limit_is_never_written():
    """Writing refuses what reading would refuse: one asset over 8 MiB, or all over 32 MiB."""
    with pytest.raises(OversizedPayload, match="assets/big.png has 8388609 bytes"):
        Payload(config={}, assets={"big.png": bytes(payload.MAX_ENTRY_BYTES + 1)}).to_bytes()
    many = {f"{index}.png": bytes(payload.MAX_ENTRY_BYTES) for index in range(4)}
    with pytest.raises(OversizedPayload, match="at most 32 MiB"):
        Payload(config={}, assets=many).to_bytes()


@pytest.mark.parametrize("compression", [zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_an_entry_compressed_as_sosqueue_build_never_does_is_damaged_before_it_is_read(tmp_path, compression):
    """A valid checksum around an LZMA or bzip2 entry (whose broken data would raise errors of their
    own): DamagedPayload naming the file, never a crash."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(payload.CONFIG_NAME, b"not what it claims to be")
    data = bytearray(buffer.getvalue())
    data[40] ^= 0xFF  # inside the compressed data
    path = tmp_path / "module.bin"
    path.write_bytes(payload.frame(bytes(data)))
    with pytest.raises(DamagedPayload, match=f"{payload.CONFIG_NAME} is compressed in a way sosqueue build never writes"):
        payload.read(path)


def test_a_header_that_records_no_program_in_front_of_a_program_is_a_damaged_download(tmp_path, base, sample):
    """Stamping always records its base: a header of zeros in front of a program is not "unverified"."""
    path = tmp_path / "zeros"
    path.write_bytes(base.read_bytes() + sample.to_bytes(payload.NO_PROGRAM))
    with pytest.raises(DamagedDownload, match="not the base agent it was built on"):
        payload.verify(path)
