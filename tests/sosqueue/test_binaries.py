"""Program files read from their bytes: ELF, PE or .app, an ELF's machine and needed glibc, a
PE's signature."""

import io
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from sosqueue import binaries
from sosqueue.platforms import Platform
from tests.support.bases import minimal_pe
from tests.support.tools import require_tool

TRUE = Path(shutil.which("true") or "/bin/true")
#: Where minimal_pe() keeps the certificate table's entry: the optional header (0x58) + 112 + 4 * 8.
CERTIFICATE_ENTRY = 0x58 + 112 + 4 * 8


def with_elf_machine(tmp_path: Path, machine: int, *, flags: int | None = None) -> Path:
    """A copy of ``true`` claiming another machine (and ARM flags)."""
    data = bytearray(TRUE.read_bytes())
    data[18:20] = machine.to_bytes(2, "little")
    if flags is not None:
        data[36:40] = flags.to_bytes(4, "little")
    path = tmp_path / f"elf-{machine}"
    path.write_bytes(bytes(data))
    return path


def signed_pe(certificate: bytes) -> bytes:
    """minimal_pe() with a certificate table appended and named in its security directory."""
    data = bytearray(minimal_pe())
    struct.pack_into("<II", data, CERTIFICATE_ENTRY, len(data), len(certificate))
    return bytes(data) + certificate


@pytest.mark.parametrize(("head", "platform"), [
    (b"\x7fELF\x02\x01", Platform.LINUX), (b"MZ\x90\x00", Platform.WINDOWS), (b"#!/bin/sh", None), (b"", None),
])
def test_platform_of_a_program_comes_from_its_first_bytes(head, platform):
    """ELF is a Linux program, MZ a Windows one, anything else neither."""
    assert binaries.platform_of(head) is platform


def test_file_platform_reads_the_file(tmp_path):
    """A real ELF program is Linux, a real PE Windows, a text file nothing."""
    (tmp_path / "a.exe").write_bytes(minimal_pe())
    (tmp_path / "notes.txt").write_text("hello")
    assert binaries.file_platform(TRUE) is Platform.LINUX
    assert binaries.file_platform(tmp_path / "a.exe") is Platform.WINDOWS
    assert binaries.file_platform(tmp_path / "notes.txt") is None


def test_file_platform_of_a_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        binaries.file_platform(tmp_path / "nope")


def test_an_app_bundle_is_a_folder_with_contents_macos(tmp_path):
    """Only a folder with Contents/MacOS is an .app bundle."""
    (tmp_path / "Help.app" / "Contents" / "MacOS").mkdir(parents=True)
    (tmp_path / "Other" / "Contents").mkdir(parents=True)
    assert binaries.is_app_bundle(tmp_path / "Help.app")
    assert not binaries.is_app_bundle(tmp_path / "Other")
    assert not binaries.is_app_bundle(TRUE)


@pytest.mark.parametrize(("machine", "flags", "architecture"), [
    (183, None, "arm64"), (243, None, "riscv64"), (0x9999, None, None),
])
def test_elf_architecture_is_the_debian_name_of_the_machine(tmp_path, machine, flags, architecture):
    """The ELF machine gives the Debian architecture; an unlisted machine gives None."""
    assert binaries.elf_architecture(with_elf_machine(tmp_path, machine, flags=flags)) == architecture


def test_elf_header_of_this_computers_program_matches_dpkg():
    """``true`` is built for the architecture dpkg installs for."""
    dpkg = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    assert binaries.elf_architecture(TRUE) == dpkg


def test_32_bit_arm_is_armhf_with_hard_float_else_armel(tmp_path):
    """EF_ARM_ABI_FLOAT_HARD in the header's flags tells armhf from armel."""
    data = bytearray(TRUE.read_bytes()[:64])
    data[4] = 1  # ELFCLASS32
    data[18:20] = (40).to_bytes(2, "little")  # EM_ARM
    hard, soft = tmp_path / "hard", tmp_path / "soft"
    hard.write_bytes(bytes(data[:36]) + (0x05000400).to_bytes(4, "little") + bytes(data[40:]))
    soft.write_bytes(bytes(data[:36]) + (0x05000200).to_bytes(4, "little") + bytes(data[40:]))
    assert binaries.elf_architecture(hard) == "armhf"
    assert binaries.elf_architecture(soft) == "armel"


def test_a_file_that_is_no_elf_has_no_header(tmp_path):
    (tmp_path / "a.exe").write_bytes(minimal_pe())
    (tmp_path / "short").write_bytes(b"\x7fELF")
    assert binaries.elf_header(tmp_path / "a.exe") is None
    assert binaries.elf_header(tmp_path / "short") is None
    assert binaries.elf_architecture(tmp_path / "a.exe") is None


def test_glibc_versions_are_those_objdump_lists():
    """The GLIBC_ versions read from .gnu.version_r are the ones objdump shows for the program."""
    objdump = require_tool("objdump", "binutils")
    dump = subprocess.run([objdump, "-T", TRUE], capture_output=True, text=True, check=True).stdout
    expected = {tuple(map(int, version.split("."))) for version in re.findall(r"\(GLIBC_([\d.]+)\)", dump)}
    assert binaries.file_glibc_versions(TRUE) == expected
    assert binaries.version_text(max(expected)) == ".".join(map(str, max(expected)))


@pytest.mark.parametrize("data", [b"", b"\x7fELF", b"\x7fELF\x02\x01" + bytes(100), minimal_pe()])
def test_glibc_versions_of_what_is_no_usable_elf_are_none(data):
    """A PE, a cut-short or an empty ELF image needs no glibc version (and does not crash)."""
    assert binaries.glibc_versions(data) == set()


def test_certificate_table_of_a_signed_pe():
    """The security directory names where the signature starts and how long it is."""
    signed = signed_pe(b"\x00" * 24)
    assert binaries.pe_certificate_table(signed) == (len(minimal_pe()), 24)
    assert binaries.signed_end(io.BytesIO(signed), len(signed)) == len(minimal_pe())


def test_an_unsigned_pe_or_other_file_ends_at_its_size():
    """Without a certificate table (or a PE at all) the bytes end where the file ends."""
    unsigned = minimal_pe()
    assert binaries.pe_certificate_table(unsigned) is None
    assert binaries.signed_end(io.BytesIO(unsigned), len(unsigned)) == len(unsigned)
    assert binaries.signed_end(io.BytesIO(b"\x7fELF" + bytes(60)), 64) == 64


def test_a_certificate_table_that_does_not_end_the_file_is_not_a_signature():
    """Bytes appended after signing mean the table no longer ends the file: its end is the file's."""
    signed = signed_pe(b"\x00" * 24) + b"appended"
    assert binaries.signed_end(io.BytesIO(signed), len(signed)) == len(signed)


@pytest.mark.parametrize("head", [b"MZ" + bytes(10), b"MZ" + bytes(0x3A) + struct.pack("<I", 0x40) + b"NE\0\0",
                                  b"MZ" + bytes(0x3A) + struct.pack("<I", 0x4000)])
def test_damaged_pe_headers_name_no_certificate_table(head):
    assert binaries.pe_certificate_table(head) is None
