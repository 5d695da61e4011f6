"""Frames: a change is any differing pixel; a frame is a JPEG (whole, or of the changed region) of at most
1280 px width and 2 MiB; slow acks lower the quality."""

import io
import os

import pytest
from PIL import Image

from agent.connect.frames import ChangeDetector, QualityLadder, aligned, encode_jpeg, encode_region, region_of, scaled
from sosqueue.connect import Region, parse_region
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


# -- regions ---------------------------------------------------------------------------------


def test_a_change_in_a_corner_is_a_small_region_aligned_to_16_pixels():
    """A few pixels in the bottom-right corner: the aligned box around them, sent as a region frame."""
    detector = ChangeDetector()
    picture = Image.new("RGB", (1280, 800), "#FFFFFF")
    detector.remember(picture)
    changed = picture.copy()
    changed.paste((255, 0, 0), (1270, 790, 1275, 795))
    box = detector.changed_box(changed)
    assert box == (1270, 790, 1275, 795)
    assert region_of(box, changed.size) == (1264, 784, 1280, 800)
    frame = encode_region(changed, region_of(box, changed.size))
    region, jpeg = parse_region(frame)
    assert region == Region(1264, 784, 16, 16, 1280, 800)
    with Image.open(io.BytesIO(jpeg)) as part:
        assert part.size == (16, 16)
        assert near(part.convert("RGB").getpixel((8, 8)), (255, 0, 0), tolerance=40)  # JPEG blurs a 5-pixel square


def test_aligning_grows_a_box_outwards_within_the_picture():
    assert aligned((17, 33, 18, 34), (100, 50)) == (16, 32, 32, 48)
    assert aligned((0, 0, 16, 16), (100, 50)) == (0, 0, 16, 16)
    assert aligned((90, 40, 99, 49), (100, 50)) == (80, 32, 100, 50)


def test_a_change_over_half_the_screen_or_more_is_a_whole_frame():
    size = (1280, 800)
    assert region_of((0, 0, 1280, 400), size) is None
    assert region_of((0, 0, 1280, 390), size) is None  # aligned to 400 rows: half of it, so whole
    assert region_of((0, 0, 1280, 380), size) == (0, 0, 1280, 384)
    assert region_of((0, 0, 640, 380), size) == (0, 0, 640, 384)


def test_the_first_picture_and_a_new_size_are_changed_all_over():
    detector = ChangeDetector()
    assert detector.changed_box(Image.new("RGB", (320, 200))) == (0, 0, 320, 200)
    detector.remember(Image.new("RGB", (320, 200)))
    assert detector.changed_box(Image.new("RGB", (320, 200))) is None
    assert detector.changed_box(Image.new("RGB", (640, 400))) == (0, 0, 640, 400)


def test_a_region_drawn_over_the_last_picture_gives_the_new_one():
    """What the viewer does: paste the region frame's JPEG at its place over the last whole picture."""
    last = Image.new("RGB", (1280, 800), (40, 90, 160))
    new = last.copy()
    new.paste((250, 200, 0), (300, 200, 500, 400))  # the benchmark's 200-pixel box
    detector = ChangeDetector()
    detector.remember(last)
    region = region_of(detector.changed_box(new), new.size)
    frame = encode_region(new, region)
    assert len(frame) < len(encode_jpeg(new)) / 3
    placed, jpeg = parse_region(frame)
    shown = last.copy()
    shown.paste(decode(jpeg), (placed.x, placed.y))
    for point in ((400, 300), (308, 208), (492, 392), (10, 10), (1270, 790), (520, 420), (290, 190)):
        assert near(shown.getpixel(point), new.getpixel(point)), point


# -- quality ---------------------------------------------------------------------------------


def test_slow_acks_step_the_quality_down_and_fast_ones_back_up():
    ladder = QualityLadder(slow=0.25, fast=0.12, slow_needed=2, fast_needed=3)
    assert ladder.quality == 70
    assert ladder.observe(0.3) == 70  # one slow ack (a first draw, say) changes nothing
    assert ladder.observe(0.05) == 70
    assert ladder.observe(0.3) == 70
    assert ladder.observe(0.3) == 50  # two in a row: one rung down
    assert ladder.observe(None) == 50  # no ack before the timeout counts as slow
    assert ladder.observe(2.0) == 30
    assert [ladder.observe(1.0) for _ in range(3)] == [30, 30, 30]  # the lowest rung
    assert [ladder.observe(0.05) for _ in range(3)] == [30, 30, 50]  # three fast acks in a row: one rung up
    assert ladder.observe(0.05) == 50
    assert ladder.observe(0.2) == 50  # neither slow nor fast: the run of fast ones starts again
    assert [ladder.observe(0.05) for _ in range(6)] == [50, 50, 70, 70, 70, 70]


def test_a_lower_quality_makes_a_smaller_frame():
    picture = Image.effect_noise((320, 200), 40).convert("RGB")
    assert len(encode_jpeg(picture, quality=30)) < len(encode_jpeg(picture, quality=50)) < len(encode_jpeg(picture))


def near(pixel, colour, tolerance: int = 16) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))
