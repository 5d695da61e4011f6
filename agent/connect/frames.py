"""Screen pictures as frames: whether the screen changed, where, and the bytes sent for it.

Pictures are compared in the scaled space (at most :data:`MAX_WIDTH` wide) that frames are sent
in. A change that covers less than :data:`REGION_SHARE` of the screen goes out as a region frame
(``sosqueue.connect.pack_region``: a small header, then a JPEG of the changed box, its edges
aligned to :data:`ALIGN` pixels); a bigger one, the first picture and a new size as a whole frame
(one JPEG). :class:`QualityLadder` picks the JPEG quality from how fast frames are acknowledged.
"""

import io

from PIL import Image, ImageChops

from sosqueue.connect import Region, pack_region

QUALITY = 70
MAX_WIDTH = 1280
#: The relay refuses larger frames (``connect_max_frame_bytes``).
MAX_FRAME_BYTES = 2 * 1024 * 1024
_FALLBACK_QUALITIES = (50, 30)
#: Region edges fall on multiples of this (JPEG's 16-pixel blocks then never straddle an edge).
ALIGN = 16
#: A changed box covering at least this share of the screen is sent as a whole frame.
REGION_SHARE = 0.5

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), as Pillow's getbbox()


class ChangeDetector:
    """Remembers the last picture sent and tells whether, and where, a new one differs from it."""

    def __init__(self):
        self._last: Image.Image | None = None

    def changed(self, image: Image.Image) -> bool:
        """Whether ``image`` differs in any pixel from the remembered one (always, at first)."""
        return self.changed_box(image) is not None

    def changed_box(self, image: Image.Image) -> Box | None:
        """The box around every pixel that differs from the remembered picture, None when none does.

        The whole picture when there is nothing to compare with (at first, after :meth:`forget`,
        or in another size or mode).
        """
        last = self._last
        if last is None or last.size != image.size or last.mode != image.mode:
            return (0, 0, *image.size)
        return ImageChops.difference(last, image).getbbox()

    def remember(self, image: Image.Image) -> None:
        """``image`` went out: later pictures are compared with it."""
        self._last = image

    def forget(self) -> None:
        """The next picture counts as changed all over (a viewer needs a whole one)."""
        self._last = None


def aligned(box: Box, size: tuple[int, int], align: int = ALIGN) -> Box:
    """``box`` grown outwards to multiples of ``align``, within a picture of ``size``."""
    left, top, right, bottom = box
    width, height = size
    return (left - left % align, top - top % align,
            min(width, -(-right // align) * align), min(height, -(-bottom // align) * align))


def region_of(box: Box, size: tuple[int, int], share: float = REGION_SHARE) -> Box | None:
    """The aligned region to send for a change in ``box``, or None when a whole frame is the better deal."""
    region = aligned(box, size)
    left, top, right, bottom = region
    if (right - left) * (bottom - top) >= share * size[0] * size[1]:
        return None
    return region


def scaled(image: Image.Image, max_width: int = MAX_WIDTH) -> Image.Image:
    """``image`` no wider than ``max_width``, keeping its aspect ratio."""
    if image.width <= max_width:
        return image
    height = max(1, round(image.height * max_width / image.width))
    return image.resize((max_width, height), Image.BILINEAR, reducing_gap=2.0)


def encode_jpeg(image: Image.Image, *, quality: int = QUALITY, max_width: int = MAX_WIDTH,
                max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The frame for ``image``: JPEG, scaled to ``max_width``, within ``max_bytes``.

    :raises ValueError: when even the lowest quality does not fit (a screen of pure noise).
    """
    picture = scaled(image if image.mode == "RGB" else image.convert("RGB"), max_width)
    for level in (quality, *(q for q in _FALLBACK_QUALITIES if q < quality)):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=level)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    raise ValueError(f"a frame of {picture.width}×{picture.height} does not fit in {max_bytes} bytes")


def encode_region(picture: Image.Image, box: Box, *, quality: int = QUALITY,
                  max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The region frame for ``box`` of ``picture`` (already scaled: the box is in its pixels)."""
    left, top, right, bottom = box
    header = Region(left, top, right - left, bottom - top, picture.width, picture.height)
    jpeg = encode_jpeg(picture.crop(box), quality=quality, max_width=picture.width, max_bytes=max_bytes - 64)
    return pack_region(header, jpeg)


class QualityLadder:
    """The JPEG quality for the next frame, from how long the last frames took to be acknowledged.

    :attr:`slow_needed` slow acks in a row (over :attr:`slow` seconds, or none before the
    timeout) step down one rung (70 → 50 → 30): one slow first draw does not lower the picture;
    :attr:`fast_needed` fast acks in a row (under :attr:`fast` seconds) step up one.
    """

    RUNGS = (QUALITY, 50, 30)

    def __init__(self, *, slow: float = 0.25, fast: float = 0.12, slow_needed: int = 2, fast_needed: int = 3):
        self.slow = slow
        self.fast = fast
        self.slow_needed = slow_needed
        self.fast_needed = fast_needed
        self._rung = 0
        self._slow_in_a_row = 0
        self._fast_in_a_row = 0

    @property
    def quality(self) -> int:
        return self.RUNGS[self._rung]

    def observe(self, seconds: float | None) -> int:
        """Note one frame's time from sending to its ack (None: no ack came in time); the quality to use next."""
        slow = seconds is None or seconds > self.slow
        fast = not slow and seconds < self.fast
        self._slow_in_a_row = self._slow_in_a_row + 1 if slow else 0
        self._fast_in_a_row = self._fast_in_a_row + 1 if fast else 0
        if self._slow_in_a_row >= self.slow_needed:
            self._rung = min(self._rung + 1, len(self.RUNGS) - 1)
            self._slow_in_a_row = 0
        elif self._fast_in_a_row >= self.fast_needed:
            self._rung = max(self._rung - 1, 0)
            self._fast_in_a_row = 0
        return self.quality
