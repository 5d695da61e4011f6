"""The window's look: brand colours, shades and the module's images."""

import io

import pytest
from PIL import Image

from sosqueue.module_config import Brand
from agent.ui import theme
from tests.agent.ui.support import needs_x_tools


def test_shade_darkens_and_lightens():
    """Factors below 1 darken towards black, above 1 lighten towards white."""
    assert theme.shade("#808080", 0.5) == "#404040"
    assert theme.shade("#808080", 2.0) == "#FFFFFF"
    assert theme.shade("#0B5FFF", 1.0) == "#0B5FFF"


@pytest.mark.parametrize(("value", "expected"), [
    ("#0b5fff", "#0B5FFF"), ("#ABCDEF", "#ABCDEF"), ("blue", "#111111"), ("#12345", "#111111"),
    ("#GGGGGG", "#111111"), ("", "#111111"),
])
def test_only_hex_colours_are_used(value, expected):
    """Anything but #RRGGBB falls back rather than breaking Tk."""
    assert theme.valid_colour(value, "#111111") == expected


def test_the_palette_comes_from_the_brand():
    """Primary and its hover/press shades, text on primary, accent."""
    palette = theme.Palette.from_brand(Brand(company="A", product="B", primary="#7A1FA2", on_primary="#FFFFFF",
                                             accent="#FF0000"))
    assert (palette.primary, palette.on_primary, palette.accent) == ("#7A1FA2", "#FFFFFF", "#FF0000")
    assert palette.primary_pressed != palette.primary_active != palette.primary


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 20, 20, 255)).save(buffer, "PNG")
    return buffer.getvalue()


@needs_x_tools
def test_images_are_scaled_into_their_box(tk_root):
    """A large banner is shrunk to the window's width, keeping its proportions."""
    image = theme.photo_image(tk_root, _png(1280, 240), max_width=488, max_height=180)
    assert (image.width(), image.height()) == (488, 92)
    small = theme.photo_image(tk_root, _png(64, 64), max_width=488, max_height=180)
    assert (small.width(), small.height()) == (64, 64)


@needs_x_tools
def test_an_unreadable_image_is_left_out(tk_root):
    """A damaged asset means no picture, not a crash."""
    assert theme.photo_image(tk_root, b"not a png", max_width=100, max_height=100) is None
