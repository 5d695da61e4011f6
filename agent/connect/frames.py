"""Screen pictures as frames: whether the screen changed, and the JPEG bytes sent for it."""

import io

from PIL import Image, ImageChops

QUALITY = 70
MAX_WIDTH = 1280
#: The relay refuses larger frames (``connect_max_frame_bytes``).
MAX_FRAME_BYTES = 2 * 1024 * 1024
_FALLBACK_QUALITIES = (50, 30)


class ChangeDetector:
    """Remembers the last picture sent and tells whether a new one differs from it."""

    def __init__(self):
        self._last: Image.Image | None = None

    def changed(self, image: Image.Image) -> bool:
        """Whether ``image`` differs in any pixel from the remembered one (always, at first)."""
        last = self._last
        if last is None or last.size != image.size or last.mode != image.mode:
            return True
        return ImageChops.difference(last, image).getbbox() is not None

    def remember(self, image: Image.Image) -> None:
        """``image`` went out: later pictures are compared with it."""
        self._last = image

    def forget(self) -> None:
        """The next picture counts as changed (a new viewer needs a whole one)."""
        self._last = None


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
    picture = scaled(image.convert("RGB"), max_width)
    for level in (quality, *(q for q in _FALLBACK_QUALITIES if q < quality)):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=level)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    raise ValueError(f"a frame of {picture.width}×{picture.height} does not fit in {max_bytes} bytes")
