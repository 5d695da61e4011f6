"""Module payloads that weigh little and expand enormously (zip bombs), framed with a valid checksum
and the right base digest, as an attacker who knows the format would make them; and how much memory
a process that reads one takes at its peak.

``bomb_archive()`` is 512 MiB of zeros in one asset, compressed to about half a MiB;
``stamped_bomb(base)`` is ``base`` followed by it, as ``sosqueue build`` would lay it out.
"""

import json
import struct
import subprocess
import sys
import tempfile
import zlib
from functools import cache
from pathlib import Path

from sosqueue import payload

MIB = 1024 * 1024
#: What the bomb's one asset expands to.
BOMB_BYTES = 512 * MIB
_ZEROS = bytes(MIB)


@cache
def bomb_archive(expands_to: int = BOMB_BYTES, entries: int = 1, declared: int | None = None) -> bytes:
    """A zip archive with a configuration and ``entries`` assets of ``expands_to`` zero bytes each
    (whole MiBs), never whole in memory; ``declared``: the size the archive claims for each asset
    instead of the true one (a lying archive)."""
    stream, crc = _deflated_zeros(expands_to // MIB)
    config = json.dumps({"format": 1}).encode()
    files = [(payload.CONFIG_NAME, zlib.compress(config, 9, -15), zlib.crc32(config), len(config))]
    files += [(f"assets/zeros-{index}.png", stream, crc, expands_to if declared is None else declared)
              for index in range(entries)]
    return _zip(files)


def stamped_bomb(base: Path, archive: bytes | None = None) -> bytes:
    """``base``'s bytes followed by ``archive`` (the 512 MiB bomb) framed as a payload with a valid
    checksum and ``base``'s digest: a module whose program part verifies."""
    with open(base, "rb") as handle:
        digest = payload.program_digest(handle, base.stat().st_size)
    return base.read_bytes() + payload.frame(archive or bomb_archive(), digest)


def _deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``mebibytes`` MiB of zeros and their CRC-32: one MiB compressed with a
    full flush (which forgets the history, so every further MiB compresses to the same bytes), repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    if not mebibytes:
        return compressor.flush(), 0
    first = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(_ZEROS, crc)
    return first + again * (mebibytes - 1) + compressor.flush(), crc


def _zip(files: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive of deflated ``(name, raw deflate data, CRC-32, size)`` entries."""
    local, central = bytearray(), bytearray()
    for name, data, crc, size in files:
        encoded = name.encode()
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, len(local)) + encoded
        local += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size,
                             len(encoded), 0) + encoded + data
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(files), len(files), len(central), len(local), 0)
    return bytes(local + central + end)


_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {done.returncode}")
"""


def peak_rss(argv: list, **kwargs) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``argv`` from a fresh wrapper process (``kwargs`` as :func:`subprocess.run` takes them:
    ``capture_output`` captures the program's own output); what it did (its exit code, its output)
    and the peak resident memory in bytes of it and its descendants (a PyInstaller program's
    bootloader and Python; ``ru_maxrss`` is in KiB on Linux)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as result:
        done = subprocess.run([sys.executable, "-c", _MEASURE, result.name, *map(str, argv)], **kwargs)
        kibibytes, code = result.read().split()
    done.returncode = int(code)
    return done, int(kibibytes) * 1024
