"""The module payload: config and assets stamped onto the end of the base agent.

Layout of a stamped module::

    [base executable][payload: a zip archive][trailer: length, magic, SHA-256 of payload]

The operating system and PyInstaller ignore bytes after the executable; the agent reads its
own file from the end. A macOS ``.app`` keeps the same payload+trailer bytes in
``Contents/Resources/sosqueue-module.bin``. This module is the one reader and writer of the
format: the builder stamps with it and the agent reads with it.
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
from pathlib import Path

from sosqueue import binaries

MAGIC = b"SOSQMOD1"
TRAILER = struct.Struct("<Q8s32s")  # payload length, magic, SHA-256 of the payload
CONFIG_NAME = "module.json"
MAX_PAYLOAD = 16 * 1024 * 1024
MACOS_RESOURCE = Path("Contents/Resources/sosqueue-module.bin")
PE_CERTIFICATE_ALIGNMENT = 8  # signers pad the file to this before the certificate table


class PayloadError(Exception):
    """The file carries no module payload, or a damaged one."""


class NoPayload(PayloadError):
    pass


class DamagedPayload(PayloadError):
    pass


@dataclass(frozen=True)
class Payload:
    config: dict
    assets: dict[str, bytes]

    def to_bytes(self) -> bytes:
        """The payload and its trailer, ready to append to a base executable."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(CONFIG_NAME, json.dumps(self.config, indent=2, sort_keys=True))
            for name, data in sorted(self.assets.items()):
                archive.writestr(f"assets/{name}", data)
        body = buffer.getvalue()
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
    """Where the payload and its trailer lie in a stamped module's file: ``(start, end)``.

    :raises NoPayload: if the file carries none.
    """
    offset, length, _ = _locate(_payload_file(path))
    return offset, offset + length + TRAILER.size


def read(path: Path) -> Payload:
    """The payload of a stamped module (file, ``.app`` bundle, or bare payload file)."""
    target = _payload_file(path)
    offset, length, digest = _locate(target)
    with open(target, "rb") as handle:
        handle.seek(offset)
        body = handle.read(length)
    if len(body) != length or hashlib.sha256(body).digest() != digest:
        raise DamagedPayload("the module's checksum does not match: it was changed or cut short")
    return _parse(body)


def stamp(base: Path, payload: Payload, output: Path) -> Path:
    """Write ``base`` + ``payload`` to ``output`` atomically; ``base`` is never modified."""
    data = payload.to_bytes()
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
        shutil.copyfile(base, staging)  # the kernel copies (copy_file_range/sendfile)
        with open(staging, "ab") as handle:
            handle.write(data)
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


def _locate(path: Path) -> tuple[int, int, bytes]:
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
                if magic == MAGIC:
                    break
            else:
                raise NoPayload("no module payload")
    except FileNotFoundError:
        raise NoPayload(f"{path} does not exist") from None
    if length > min(MAX_PAYLOAD, candidate - TRAILER.size):
        raise DamagedPayload("the module payload is cut short")
    return candidate - TRAILER.size - length, length, digest


def _parse(body: bytes) -> Payload:
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            config = json.loads(archive.read(CONFIG_NAME))
            assets = {
                name.removeprefix("assets/"): archive.read(name)
                for name in archive.namelist()
                if name.startswith("assets/") and not name.endswith("/")
            }
    except (zipfile.BadZipFile, KeyError, ValueError, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise DamagedPayload(f"the module payload cannot be read: {error}") from None
    if not isinstance(config, dict):
        raise DamagedPayload("the module configuration is not a JSON object")
    return Payload(config=config, assets=assets)


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
