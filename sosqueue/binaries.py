"""What a program file is, read from its bytes: ELF (Linux), PE (Windows) or a macOS ``.app``
bundle, an ELF program's machine and the glibc versions it needs, and where a PE's
Authenticode signature starts.

The one reader of executable formats: the builder tells bases and modules apart with it, the
``.deb`` takes its architecture and ``libc6`` dependency from it, and the payload reader finds
a signed module's end with it. Standard library only (the frozen agent carries it).
"""

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from sosqueue.platforms import Platform

ELF_MAGIC = b"\x7fELF"
PE_MAGIC = b"MZ"
#: The folder that makes a folder a macOS application bundle.
APP_PROGRAMS = Path("Contents/MacOS")

#: Debian architecture by ELF machine and class (1: 32-bit, 2: 64-bit).
ARCHITECTURES = {
    (62, 2): "amd64", (183, 2): "arm64", (3, 1): "i386", (40, 1): "armhf",
    (243, 2): "riscv64", (21, 2): "ppc64el", (22, 2): "s390x",
}
_EF_ARM_ABI_FLOAT_HARD = 0x400
_SHT_GNU_VERNEED = 0x6FFFFFFE
_ELF_HEADER_SIZE = 40
#: How much of a PE file holds its headers up to the data directories.
_PE_HEAD_SIZE = 4096
_PE_DATA_DIRECTORIES = {0x10B: 96, 0x20B: 112}  # offset in the optional header, by PE32 / PE32+ magic
_PE_CERTIFICATE_TABLE = 4  # the security data directory's entry


# --- which platform -------------------------------------------------------------------------


def platform_of(head: bytes) -> Platform | None:
    """The platform of a program from its first bytes: ELF is Linux, ``MZ`` (PE) is Windows."""
    if head[:4] == ELF_MAGIC:
        return Platform.LINUX
    if head[:2] == PE_MAGIC:
        return Platform.WINDOWS
    return None


def file_platform(path: Path) -> Platform | None:
    """The platform of the program file at ``path``, or ``None`` if it is neither ELF nor PE.

    :raises OSError: if the file cannot be read.
    """
    with open(path, "rb") as handle:
        return platform_of(handle.read(4))


def is_app_bundle(path: Path) -> bool:
    """Whether ``path`` is a macOS ``.app`` bundle (a folder with ``Contents/MacOS``)."""
    return (path / APP_PROGRAMS).is_dir()


# --- ELF: machine and glibc -------------------------------------------------------------------


@dataclass(frozen=True)
class ElfHeader:
    """What the ELF header says about the machine a program runs on."""

    elf_class: int  # 1: 32-bit, 2: 64-bit
    machine: int
    flags: int

    @property
    def debian_architecture(self) -> str | None:
        """The Debian architecture name (``amd64``, ``armhf`` …), or ``None`` for a machine not listed."""
        architecture = ARCHITECTURES.get((self.machine, self.elf_class))
        if architecture == "armhf" and not self.flags & _EF_ARM_ABI_FLOAT_HARD:
            return "armel"
        return architecture


def elf_header(path: Path) -> ElfHeader | None:
    """The ELF header of the file at ``path``, or ``None`` if it is not an ELF file."""
    with open(path, "rb") as handle:
        header = handle.read(_ELF_HEADER_SIZE)
    if len(header) < _ELF_HEADER_SIZE or header[:4] != ELF_MAGIC:
        return None
    byte_order = "<" if header[5] == 1 else ">"
    machine, = struct.unpack_from(f"{byte_order}H", header, 18)
    flags, = struct.unpack_from(f"{byte_order}I", header, 36)
    return ElfHeader(elf_class=header[4], machine=machine, flags=flags)


def elf_architecture(path: Path) -> str | None:
    """The Debian architecture of an ELF program, from its header; ``None`` if unknown."""
    header = elf_header(path)
    return header.debian_architecture if header else None


def file_glibc_versions(path: Path) -> set[tuple[int, ...]]:
    """The ``GLIBC_x.y[.z]`` versions the ELF file at ``path`` needs (none for other files)."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return glibc_versions(data)


def glibc_versions(data) -> set[tuple[int, ...]]:
    """The ``GLIBC_x.y[.z]`` versions an ELF image needs (its ``.gnu.version_r`` section)."""
    try:
        return {_version_tuple(name) for name in _needed_versions(data) if name.startswith("GLIBC_")}
    except (struct.error, IndexError, ValueError):
        return set()


def version_text(version: tuple[int, ...]) -> str:
    """``(2, 34)`` as ``2.34``."""
    return ".".join(map(str, version))


def _version_tuple(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.removeprefix("GLIBC_").split("."))


def _needed_versions(data) -> list[str]:
    if data[:4] != ELF_MAGIC:
        return []
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        shoff, = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
        section = struct.Struct(order + "IIQQQQIIQQ")
    else:
        shoff, = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
        section = struct.Struct(order + "IIIIIIIIII")
    sections = [section.unpack_from(data, shoff + index * shentsize) for index in range(shnum)]
    names = []
    for _, kind, _, _, offset, _, link, count, _, _ in sections:
        if kind == _SHT_GNU_VERNEED:
            names += _verneed_names(data, order, offset, count, strings=sections[link][4])
    return names


def _verneed_names(data, order: str, offset: int, count: int, *, strings: int) -> list[str]:
    names = []
    entry = offset
    for _ in range(count):
        _, aux_count, _, aux, next_entry = struct.unpack_from(order + "HHIII", data, entry)
        position = entry + aux
        for _ in range(aux_count):
            _, _, _, name, next_aux = struct.unpack_from(order + "IHHII", data, position)
            names.append(_c_string(data, strings + name))
            position += next_aux
        entry += next_entry
    return names


def _c_string(data, offset: int) -> str:
    end = data.find(b"\x00", offset)
    return bytes(data[offset:end]).decode("ascii")


# --- PE: the Authenticode signature -------------------------------------------------------------


def _pe_headers(head: bytes) -> tuple[int, int] | None:
    """Where a PE's optional header and its certificate table's entry start, from the file's first
    bytes; ``None`` if ``head`` is no PE (or too short to hold that entry)."""
    if len(head) < 0x40 or head[:2] != PE_MAGIC:
        return None
    pe, = struct.unpack_from("<I", head, 0x3C)
    if head[pe:pe + 4] != b"PE\0\0" or pe + 26 > len(head):
        return None
    optional = pe + 24
    magic, = struct.unpack_from("<H", head, optional)
    entry = optional + _PE_DATA_DIRECTORIES.get(magic, len(head)) + _PE_CERTIFICATE_TABLE * 8
    return (optional, entry) if entry + 8 <= len(head) else None


def pe_certificate_table(head: bytes) -> tuple[int, int] | None:
    """Offset and length of a PE's certificate table (its Authenticode signature), from the
    file's first bytes; ``None`` if ``head`` is no PE or names no table."""
    headers = _pe_headers(head)
    if headers is None:
        return None
    offset, length = struct.unpack_from("<II", head, headers[1])
    return (offset, length) if offset else None


def pe_signing_fields(head: bytes) -> list[tuple[int, int]]:
    """Where a PE header keeps what Authenticode signing rewrites, ``(start, size)`` each: the
    optional header's CheckSum and the certificate table's entry; none if ``head`` is no PE."""
    headers = _pe_headers(head)
    if headers is None:
        return []
    optional, entry = headers
    return [(optional + 64, 4), (entry, 8)]


def signed_end(handle, size: int) -> int:
    """Where the bytes before a PE's Authenticode signature end: the signature's start when the
    file (``size`` bytes, open as ``handle``) ends with one, else ``size``."""
    handle.seek(0)
    table = pe_certificate_table(handle.read(_PE_HEAD_SIZE))
    if table and table[0] + table[1] == size:
        return table[0]
    return size
