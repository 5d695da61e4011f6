"""The module payload: config and assets stamped onto the end of the base agent.

Layout of a stamped module::

    [base program][header: magic, SHA-256 of the base][payload: a zip archive]
    [trailer: length, magic, SHA-256 of header and payload]

The operating system and PyInstaller ignore bytes after the executable; the agent reads its
own file from the end. A macOS ``.app`` keeps the same header+payload+trailer bytes in
``Contents/Resources/sosqueue-module.bin`` (no program part: codesign covers the bundle). This
module is the one reader and writer of the format: the builder stamps with it and the agent
reads with it.

Reading verifies the whole file and tells three faults apart (:class:`NoPayload`,
:class:`DamagedDownload`, :class:`TamperedPayload`): the header records the base program's
SHA-256, so a program part that differs from it, or a file whose trailer is gone while its header
is still there, is a damaged download, while a payload that fails its checksum in front of an
intact program part was changed. Modules stamped before the header (trailer magic
:data:`LEGACY_MAGIC`) still read; their program part cannot be verified (:attr:`Program.UNRECORDED`).
The header's digest is :func:`program_digest`, which counts the two PE fields a signer rewrites as
zeros; it differs on purpose from the configuration's ``updates.base_sha256``, the plain SHA-256 of
the base file that self-update compares with what the server offers.

Nothing is inflated whole: each zip entry is read through a bounded stream, so a payload that
expands beyond :data:`MAX_ENTRY_BYTES` per entry or :data:`MAX_EXPANDED_BYTES` in all is refused
after reading at most one byte more than the limit.
"""

import hashlib
import io
import json
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sosqueue import binaries

MAGIC = b"SOSQMOD2"
#: The trailer magic of modules stamped before the header recorded the base (no header).
LEGACY_MAGIC = b"SOSQMOD1"
TRAILER = struct.Struct("<Q8s32s")  # length of header and payload, magic, SHA-256 of header and payload
#: Derived rather than written out, so that no base agent (whose code carries this module) holds these
#: bytes: finding them in a file without a trailer means a module cut short, not a base.
HEADER_MAGIC = hashlib.sha256(b"sosqueue module payload header").digest()[:16]
HEADER = struct.Struct("<16s32s")  # magic, SHA-256 of the base program (zeros: none recorded)
NO_PROGRAM = bytes(32)
CONFIG_NAME = "module.json"
MAX_PAYLOAD = 16 * 1024 * 1024  # compressed: header, zip archive
#: The most one entry (the configuration, an asset) may expand to; the rendered assets are far smaller.
MAX_ENTRY_BYTES = 8 * 1024 * 1024
#: The most all entries together may expand to.
MAX_EXPANDED_BYTES = 32 * 1024 * 1024
#: The most entries a payload may hold (the configuration, the assets, a CA bundle).
MAX_ENTRIES = 64
MACOS_RESOURCE = Path("Contents/Resources/sosqueue-module.bin")
PE_CERTIFICATE_ALIGNMENT = 8  # signers pad the file to this before the certificate table
_CHUNK = 1024 * 1024
_MIB = 1024 * 1024


class PayloadError(Exception):
    """The file carries no module payload, or a damaged one."""


class NoPayload(PayloadError):
    """No module payload: a base agent, or another file."""


class DamagedPayload(PayloadError):
    """The payload cannot be used."""


class DamagedDownload(DamagedPayload):
    """The file is cut short, or its program part is not the base it was stamped onto: get it again."""


class TamperedPayload(DamagedPayload):
    """The configuration was changed after stamping: its checksum fails in front of an intact program
    part. The checksum finds accidents and naive edits, not a forger who writes a new one: that is what
    signing the module (Authenticode, codesign) is for."""


class OversizedPayload(DamagedPayload):
    """The payload holds more than ``sosqueue build`` writes (:data:`MAX_ENTRY_BYTES` per file,
    :data:`MAX_EXPANDED_BYTES` and :data:`MAX_ENTRIES` in all), compressed or expanded."""


class Program(StrEnum):
    """What reading found of the program part in front of a payload."""

    VERIFIED = "ok"  # the very base the module was stamped onto
    UNRECORDED = "unverified"  # stamped before modules recorded their base: cannot be verified
    ABSENT = "none"  # a bare payload file or a macOS bundle's resource: no program part


@dataclass(frozen=True)
class Payload:
    config: dict
    assets: dict[str, bytes]

    def to_bytes(self, program_sha256: bytes = NO_PROGRAM) -> bytes:
        """The header, payload and trailer, ready to append to the base program whose
        :func:`program_digest` is ``program_sha256`` (none: a bare payload or a bundle's resource).

        :raises OversizedPayload: if an asset or all of them are larger than a module may carry.
        """
        entries = {CONFIG_NAME: json.dumps(self.config, indent=2, sort_keys=True).encode(),
                   **{f"assets/{name}": data for name, data in sorted(self.assets.items())}}
        for name, data in entries.items():
            if len(data) > MAX_ENTRY_BYTES:
                raise OversizedPayload(f"{name} has {len(data)} bytes; a module carries at most "
                                       f"{MAX_ENTRY_BYTES // _MIB} MiB in one file")
        total = sum(map(len, entries.values()))
        if total > MAX_EXPANDED_BYTES or len(entries) > MAX_ENTRIES:
            raise OversizedPayload(f"the module's files have {total} bytes in {len(entries)} files; a module carries "
                                   f"at most {MAX_EXPANDED_BYTES // _MIB} MiB in {MAX_ENTRIES} files")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
        return frame(buffer.getvalue(), program_sha256)


@dataclass(frozen=True)
class Verified:
    """A payload read from a file, and what was verified of the program part in front of it."""

    payload: Payload
    program: Program


def frame(archive: bytes, program_sha256: bytes = NO_PROGRAM) -> bytes:
    """A zip ``archive`` between its header (recording ``program_sha256``) and its trailer."""
    body = HEADER.pack(HEADER_MAGIC, program_sha256) + archive
    return body + TRAILER.pack(len(body), MAGIC, hashlib.sha256(body).digest())


def has_payload(path: Path) -> bool:
    try:
        _locate(_payload_file(path))
        return True
    except NoPayload:
        return False
    except DamagedPayload:
        return True


def span(path: Path) -> tuple[int, int]:
    """Where the header, payload and trailer lie in a stamped module's file: ``(start, end)``.

    :raises NoPayload: if the file carries none.
    """
    offset, length, _, _ = _locate(_payload_file(path))
    return offset, offset + length + TRAILER.size


def read(path: Path) -> Payload:
    """The payload of a stamped module (file, ``.app`` bundle, or bare payload file), the whole file verified.

    :raises NoPayload, DamagedDownload, TamperedPayload, DamagedPayload: see :func:`verify`.
    :raises OSError: if the file cannot be read.
    """
    return verify(path).payload


def verify(path: Path) -> Verified:
    """Read and verify a stamped module: its program part against the base recorded at stamping, its
    payload against its checksum, and its contents against the size limits.

    :raises NoPayload: if the file carries no payload (a base agent).
    :raises DamagedDownload: if it is cut short or its program part is not the recorded base.
    :raises TamperedPayload: if the payload changed in front of an intact program part.
    :raises OversizedPayload: if it holds or expands to more than the limits.
    :raises DamagedPayload: if the payload is otherwise unusable (not a zip archive, no configuration).
    :raises OSError: if the file cannot be read.
    """
    target = _payload_file(path)
    offset, length, digest, magic = _locate(target)
    with open(target, "rb") as handle:
        handle.seek(offset)
        body = handle.read(length)
        if len(body) != length:
            raise DamagedDownload("the module payload is cut short")
        intact = hashlib.sha256(body).digest() == digest
        recorded = _recorded_program(body, magic)
        program = _check_program(handle, offset, recorded)
    if not intact:
        if program is Program.VERIFIED:
            raise TamperedPayload("the configuration's checksum does not match while the program is intact")
        raise DamagedDownload("the module's checksum does not match: it was changed or cut short")
    if program is None:
        raise DamagedDownload("its program part is not the base agent it was built on")
    if magic == MAGIC and not body.startswith(HEADER_MAGIC):
        raise DamagedPayload("the module payload has no header")
    archive = body[HEADER.size:] if magic == MAGIC else body
    return Verified(payload=_parse(archive), program=program)


def program_digest(handle, end: int, *, copy_to=None) -> bytes:
    """The SHA-256 of the program in ``handle`` (an open binary file) up to ``end``, read in chunks
    (and written to ``copy_to`` as read), with the two fields of a PE header that Authenticode
    signing rewrites (CheckSum and the certificate table's entry) counted as zeros: signing a
    stamped module keeps its digest."""
    handle.seek(0)
    head = handle.read(min(end, _CHUNK))
    counted = bytearray(head)
    for start, size in binaries.pe_signing_fields(head):
        counted[start:start + size] = bytes(size)
    digest = hashlib.sha256(counted)
    chunk, left = head, end - len(head)
    while True:
        if copy_to is not None:
            copy_to.write(chunk)
        if left <= 0:
            return digest.digest()
        chunk = handle.read(min(left, _CHUNK))
        if not chunk:
            raise DamagedDownload("the file is cut short")
        digest.update(chunk)
        left -= len(chunk)


def stamp(base: Path, payload: Payload, output: Path) -> Path:
    """Write ``base`` + ``payload`` to ``output`` atomically, the header recording the base's digest;
    ``base`` is never modified."""
    if base.is_dir():
        raise PayloadError("stamping a macOS .app bundle: use stamp_bundle")
    if has_payload(base):
        raise PayloadError(f"{base} is already a stamped module, not a base agent")
    if output.exists() and output.resolve() == base.resolve():
        raise PayloadError(f"{output} is the base agent itself; stamp to another path")
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    os.close(descriptor)
    staging = Path(name)
    try:
        with open(base, "rb") as source, open(staging, "wb") as handle:
            digest = program_digest(source, os.fstat(source.fileno()).st_size, copy_to=handle)
            handle.write(payload.to_bytes(digest))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staging, 0o755)
        os.replace(staging, output)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return output


def _payload_file(path: Path) -> Path:
    return path / MACOS_RESOURCE if path.is_dir() else path


def _locate(path: Path) -> tuple[int, int, bytes, bytes]:
    """Where the header and payload start, their length, their digest and the trailer's magic.

    :raises NoPayload: if there is no trailer and no header.
    :raises DamagedDownload: if there is a header but no trailer (cut short), or the trailer claims
        more than the file has.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            # Signing a stamped Windows module (osslsigncode, signtool) appends the certificate
            # table after the trailer, padded with zeros to 8 bytes: the trailer then ends at or a
            # few bytes before the table's start.
            end = binaries.signed_end(handle, size)
            padding = PE_CERTIFICATE_ALIGNMENT if end != size else 1
            for candidate in range(end, max(end - padding, TRAILER.size - 1), -1):
                handle.seek(candidate - TRAILER.size)
                length, magic, digest = TRAILER.unpack(handle.read(TRAILER.size))
                if magic in (MAGIC, LEGACY_MAGIC):
                    break
            else:
                if _holds_header(handle, size):
                    raise DamagedDownload("the file is cut short: its end is missing")
                raise NoPayload("no module payload")
    except FileNotFoundError:
        raise NoPayload(f"{path} does not exist") from None
    if length > min(MAX_PAYLOAD, candidate - TRAILER.size):
        raise DamagedDownload("the module payload is cut short")
    return candidate - TRAILER.size - length, length, digest, magic


def _holds_header(handle, size: int) -> bool:
    """Whether a payload header lies within the last :data:`MAX_PAYLOAD` bytes of the file, read in chunks."""
    position = max(size - MAX_PAYLOAD - TRAILER.size, 0)
    overlap = len(HEADER_MAGIC) - 1
    handle.seek(position)
    tail = b""
    while chunk := handle.read(_CHUNK):
        window = tail + chunk
        if HEADER_MAGIC in window:
            return True
        tail = window[-overlap:]
    return False


def _recorded_program(body: bytes, magic: bytes) -> bytes | None:
    """The program digest the header records (:data:`NO_PROGRAM` for a bare payload); ``None`` for a
    legacy payload, which has no header."""
    if magic != MAGIC or len(body) < HEADER.size:
        return None
    header_magic, recorded = HEADER.unpack_from(body)
    return recorded if header_magic == HEADER_MAGIC else None


def _check_program(handle, offset: int, recorded: bytes | None) -> Program | None:
    """What the program part before ``offset`` is; ``None`` when it differs from ``recorded`` (a header
    that records no program, in front of a program, differs too: stamping always records it)."""
    if offset == 0:
        return Program.ABSENT
    if recorded is None:
        return Program.UNRECORDED
    if recorded == NO_PROGRAM:
        return None
    return Program.VERIFIED if program_digest(handle, offset) == recorded else None


def _parse(archive: bytes) -> Payload:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            entries = [info for info in opened.infolist() if not info.is_dir()]
            if len(entries) > MAX_ENTRIES:
                raise OversizedPayload(f"the module payload holds {len(entries)} files, more than sosqueue build "
                                      f"writes ({MAX_ENTRIES} at most)")
            contents, budget = {}, MAX_EXPANDED_BYTES
            for info in entries:
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise DamagedPayload(f"the module's {info.filename} is compressed in a way sosqueue build "
                                         "never writes")
                contents[info.filename] = data = _bounded(opened, info, budget)
                budget -= len(data)
            config = json.loads(contents[CONFIG_NAME])
    except (zipfile.BadZipFile, KeyError, ValueError, zlib.error, EOFError, NotImplementedError, RuntimeError,
            OSError) as error:
        raise DamagedPayload(f"the module payload cannot be read: {error}") from None
    if not isinstance(config, dict):
        raise DamagedPayload("the module configuration is not a JSON object")
    assets = {name.removeprefix("assets/"): data for name, data in contents.items() if name.startswith("assets/")}
    return Payload(config=config, assets=assets)


def _bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry ``info`` expanded, reading at most one byte more than its limit (a stream, never the whole).

    :raises OversizedPayload: if it expands beyond :data:`MAX_ENTRY_BYTES` or the ``budget`` left of all entries.
    """
    limit = min(MAX_ENTRY_BYTES, budget)
    if info.file_size <= limit:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
        if len(data) <= limit:
            return data
    if limit < MAX_ENTRY_BYTES:
        raise OversizedPayload(f"the module payload expands to more than {MAX_EXPANDED_BYTES // _MIB} MiB, "
                              "more than sosqueue build writes")
    raise OversizedPayload(f"the module's {info.filename} expands to more than {MAX_ENTRY_BYTES // _MIB} MiB, "
                          "more than sosqueue build writes")


def stamp_bundle(base: Path, payload: Payload, output: Path) -> Path:
    """Copy a macOS ``.app`` base to ``output`` with the payload in its resources."""
    if (base / MACOS_RESOURCE).exists():
        raise PayloadError(f"{base} is already a stamped module, not a base agent")
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}."))
    try:
        bundle = staging / output.name
        shutil.copytree(base, bundle, symlinks=True)
        (bundle / MACOS_RESOURCE).parent.mkdir(parents=True, exist_ok=True)
        (bundle / MACOS_RESOURCE).write_bytes(payload.to_bytes())
        if output.exists():
            shutil.rmtree(output)
        os.replace(bundle, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output
