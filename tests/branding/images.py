"""Test images drawn with Pillow or written byte by byte."""

import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw


def png_header_only(path: Path, width: int, height: int) -> Path:
    """Write a PNG that declares ``width`` × ``height`` pixels but carries no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def draw_mark(size: tuple[int, int], *, background=(0, 0, 0, 0), color="#1B1B1B") -> Image.Image:
    """A triangle with a hole, on ``background``: a typical free-standing logo mark."""
    image = Image.new("RGBA", size, background)
    width, height = size
    draw = ImageDraw.Draw(image)
    corners = [(width / 2, height * 0.08), (width * 0.92, height * 0.88), (width * 0.08, height * 0.88)]
    draw.polygon(corners, fill=color)
    draw.ellipse((width * 0.4, height * 0.5, width * 0.6, height * 0.7), fill=background)
    return image


def ico_around_png(path: Path, png: bytes) -> Path:
    """Write an ICO whose single entry claims 256 × 256 pixels but holds ``png``."""
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    path.write_bytes(struct.pack("<HHH", 0, 1, 1) + entry + png)
    return path
