"""Frames: a change is any differing pixel; a frame is a JPEG of at most 1280 px width and 2 MiB."""

import io
import os

import pytest
from PIL import Image

from agent.connect.frames import ChangeDetector, encode_jpeg, scaled
from tests.agent.connect.support import decode


def test_the_first_picture_counts_as_changed_and_an_identical_one_does_not():
    """Nothing sent yet: changed. The same picture again: unchanged."""
    detector = ChangeDetector()
    picture = Image.new("RGB", (320, 200), "#0B5FFF")
    assert detector.changed(picture) is True
    detector.remember(picture)
    assert detector.changed(picture.copy()) is False


def test_a_single_changed_pixel_is_a_change():
    """A blinking text cursor is one column of pixels; it must show."""
    detector = ChangeDetector()
    picture = Image.new("RGB", (320, 200), "#FFFFFF")
    detector.remember(picture)
    changed = picture.copy()
    changed.putpixel((319, 199), (254, 255, 255))
    assert detector.changed(changed) is True


def test_a_new_screen_size_is_a_change_and_forget_makes_the_next_picture_one():
    """Another resolution always counts; forget() forces a whole frame for a new viewer."""
    detector = ChangeDetector()
    detector.remember(Image.new("RGB", (320, 200)))
    assert detector.changed(Image.new("RGB", (640, 400))) is True
    same = Image.new("RGB", (320, 200))
    detector.remember(same)
    detector.forget()
    assert detector.changed(same) is True


@pytest.mark.parametrize(("size", "expected"), [
    ((1920, 1080), (1280, 720)), ((2560, 1600), (1280, 800)), ((1280, 800), (1280, 800)), ((1024, 768), (1024, 768)),
    ((3840, 1080), (1280, 360)),
])
def test_wide_screens_are_scaled_to_1280_pixels_keeping_their_aspect(size, expected):
    """Wider than 1280: scaled down with the same aspect ratio; narrower: left alone."""
    assert scaled(Image.new("RGB", size)).size == expected
    assert decode(encode_jpeg(Image.new("RGB", size))).size == expected


def test_a_frame_is_a_jpeg_at_quality_70():
    """FF D8 at the start, and the quantisation tables Pillow writes for quality 70."""
    frame = encode_jpeg(Image.new("RGB", (640, 400), "#1E7F3C"))
    assert frame[:2] == b"\xff\xd8"
    assert _tables(frame) == _tables(_jpeg(Image.new("RGB", (8, 8)), quality=70))


def test_a_frame_over_the_limit_is_encoded_again_at_lower_quality():
    """Noise at 1280×800 is 0.57 MB at quality 70; with a 0.5 MB limit the frame comes at quality 50."""
    noise = Image.frombytes("RGB", (1280, 800), os.urandom(1280 * 800 * 3))
    assert len(encode_jpeg(noise, max_bytes=10 ** 9)) > 500_000
    frame = encode_jpeg(noise, max_bytes=500_000)
    assert len(frame) <= 500_000
    assert _tables(frame) == _tables(_jpeg(Image.new("RGB", (8, 8)), quality=50))


def test_a_frame_that_cannot_fit_says_so():
    """Even the lowest quality above the limit: a ValueError naming size and limit."""
    noise = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    with pytest.raises(ValueError, match="a frame of 200×200 does not fit in 1000 bytes"):
        encode_jpeg(noise, max_bytes=1000)


def _jpeg(picture: Image.Image, *, quality: int) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _tables(frame: bytes) -> dict:
    """The JPEG's quantisation tables: Pillow writes one set per quality."""
    with Image.open(io.BytesIO(frame)) as image:
        assert image.format == "JPEG"
        return image.quantization
