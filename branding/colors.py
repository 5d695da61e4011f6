"""Colour parsing and WCAG 2.x contrast maths for brand colours (the maths is the agent's own,
:mod:`sosqueue.palette`, so that the builder and the agent agree on every ratio).

Colours are kept as normalised ``#RRGGBB`` strings in the brand and as ``(r, g, b)``
tuples while drawing.
"""

import re

from sosqueue import palette
from sosqueue.palette import BLACK, MIN_TEXT_CONTRAST, NEAR_BLACK, WHITE

RGB = tuple[int, int, int]

__all__ = ["BLACK", "MIN_TEXT_CONTRAST", "NAMED_COLORS", "NEAR_BLACK", "WHITE", "best_text_color", "contrast_ratio",
           "mix", "normalize", "relative_luminance", "to_hex", "to_rgb"]

#: The colour names a brand may use besides hex notation.
NAMED_COLORS = {
    "black": "#000000",
    "white": "#FFFFFF",
    "red": "#FF0000",
    "green": "#008000",
    "blue": "#0000FF",
    "navy": "#000080",
    "teal": "#008080",
    "orange": "#FFA500",
    "purple": "#800080",
    "gray": "#808080",
    "grey": "#808080",
}

_HEX = re.compile(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})", re.IGNORECASE)


def normalize(text: str) -> str:
    """Return a colour as upper-case ``#RRGGBB``.

    :param text: ``#RGB`` or ``#RRGGBB`` (any case), or one of :data:`NAMED_COLORS`.
    :raises ValueError: if the text is not such a colour; the message shows the accepted forms.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a colour; write it as #RRGGBB, e.g. #0B5FFF")
    cleaned = text.strip()
    named = NAMED_COLORS.get(cleaned.lower())
    if named:
        return named
    if not _HEX.fullmatch(cleaned):
        raise ValueError(
            f"{text!r} is not a colour; write it as #RRGGBB or #RGB (e.g. #0B5FFF) "
            f"or use one of: {', '.join(sorted(NAMED_COLORS))}"
        )
    digits = cleaned[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return "#" + digits.upper()


def to_rgb(color: str) -> RGB:
    """Return the ``(r, g, b)`` tuple of any colour :func:`normalize` accepts."""
    digits = normalize(color)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def to_hex(rgb: RGB) -> str:
    """Return ``#RRGGBB`` for an ``(r, g, b)`` tuple."""
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def relative_luminance(color: str) -> float:
    """Return the WCAG 2.x relative luminance of a colour, from 0 (black) to 1 (white)."""
    return palette.relative_luminance(normalize(color))


def contrast_ratio(foreground: str, background: str) -> float:
    """Return the WCAG 2.x contrast ratio of two colours, from 1 to 21 (order does not matter)."""
    return palette.contrast_ratio(normalize(foreground), normalize(background))


def best_text_color(background: str) -> str:
    """Return white or near-black, whichever reads better on ``background`` (black when neither reaches
    :data:`MIN_TEXT_CONTRAST`)."""
    return palette.readable_text(normalize(background))


def mix(color: str, other: str, amount: float) -> str:
    """Return ``color`` blended towards ``other`` by ``amount`` (0 = color, 1 = other)."""
    return to_hex(tuple(round(a + (b - a) * amount) for a, b in zip(to_rgb(color), to_rgb(other))))
