"""Fixtures for branding tests: real logo files drawn with Pillow in a temporary folder."""

from pathlib import Path

import pytest
from PIL import Image

from tests.branding.images import draw_mark


@pytest.fixture
def make_logo(tmp_path):
    """Makes a logo file: ``make_logo("logo.png", size=(512, 512), background=..., format=...)``."""
    def make(name: str = "logo.png", *, size=(512, 512), background=(0, 0, 0, 0), color="#1B1B1B",
             format: str | None = None) -> Path:
        path = tmp_path / name
        image = draw_mark(size, background=background, color=color)
        if (format or path.suffix.lstrip(".").upper()) in ("JPEG", "JPG", "BMP"):
            image = Image.alpha_composite(Image.new("RGBA", size, "white"), image).convert("RGB")
        image.save(path, format=format)
        return path

    return make
