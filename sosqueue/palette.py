"""The help window's colours and every text/background pair the agent draws with them.

They live in the shared core because two parts need the same list: the agent draws with it
(:mod:`agent.ui.theme`) and the builder checks each pair's contrast before it stamps a brand
(:mod:`branding.model`); neither part may import the other. The WCAG 2.x maths is here for
the same reason. Standard library only.
"""

import logging
from dataclasses import dataclass

from sosqueue.i18n import N_
from sosqueue.module_config import DEFAULT_ACCENT, DEFAULT_PRIMARY

log = logging.getLogger("sosqueue.agent")

#: WCAG 2.x minimum contrast for normal-size text (success criterion 1.4.3, level AA).
MIN_TEXT_CONTRAST = 4.5

WHITE = "#FFFFFF"
NEAR_BLACK = "#111111"
BLACK = "#000000"
SURFACE = "#F3F5F8"  # boxes on the page: the session code, the chat, the diagnostics values
DISABLED = "#E4E8EE"  # a button that waits
TEXT = "#1F2933"
MUTED = "#4F5B69"  # helper text
BORDER = "#CCD3DD"  # lines only, never text
ERROR = "#B3261E"
WAITING = "#8F5500"  # amber, dark enough to read on white
CONNECTED = "#1E7F3C"
FINISHED = MUTED

def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _linear(channel: int) -> float:
    # sRGB transfer function as in WCAG 2.x (0.04045 is the sRGB threshold; WCAG 2.0 printed
    # 0.03928, which gives the same result for 8-bit channels).
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """The WCAG 2.x relative luminance of ``#RRGGBB``, from 0 (black) to 1 (white)."""
    red, green, blue = (_linear(channel) for channel in _rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG 2.x contrast ratio of two ``#RRGGBB`` colours, from 1 to 21 (order does not matter)."""
    darker, lighter = sorted((relative_luminance(foreground), relative_luminance(background)))
    return (lighter + 0.05) / (darker + 0.05)


def readable_text(background: str) -> str:
    """White or near-black, whichever reads better on ``background``.

    Near-black is softer than black, but on a few mid-tone backgrounds neither it nor white
    reaches :data:`MIN_TEXT_CONTRAST`; pure black always does, so it is used then.
    """
    def contrast(candidate: str) -> float:
        return contrast_ratio(candidate, background)

    best = max((WHITE, NEAR_BLACK), key=contrast)
    return best if contrast(best) >= MIN_TEXT_CONTRAST else max((WHITE, BLACK), key=contrast)


def readable_ink(colour: str, background: str) -> str:
    """``colour`` as text on a light ``background``: itself when it reads, else darkened until it does."""
    ink = colour
    for step in range(1, 21):
        if contrast_ratio(ink, background) >= MIN_TEXT_CONTRAST:
            return ink
        ink = shade(colour, 1 - step * 0.05)
    return BLACK


def shade(colour: str, factor: float) -> str:
    """``colour`` darkened (factor < 1) or lightened towards white (factor > 1)."""
    red, green, blue = _rgb(colour)
    if factor <= 1:
        parts = (round(part * factor) for part in (red, green, blue))
    else:
        parts = (round(part + (255 - part) * (factor - 1)) for part in (red, green, blue))
    return "#" + "".join(f"{min(255, max(0, part)):02X}" for part in parts)


def valid_colour(value: str | None, fallback: str) -> str:
    """``#RRGGBB`` as given, or ``fallback`` when the module carries something else."""
    text = (value or "").strip()
    if len(text) == 7 and text.startswith("#"):
        try:
            int(text[1:], 16)
            return text.upper()
        except ValueError:
            pass
    log.warning("ignored the colour %r; using %s", value, fallback)
    return fallback


@dataclass(frozen=True)
class Palette:
    """The brand's colours as the agent uses them, with what is derived from them.

    Hover and press shades move away from the text colour, so text stays readable on them;
    links and the sharing bar's button take the brand colour darkened until it reads.
    """

    primary: str
    on_primary: str
    accent: str
    on_accent: str
    primary_active: str
    primary_pressed: str
    link: str
    link_active: str
    accent_ink: str

    @classmethod
    def from_colours(cls, primary: str, on_primary: str | None, accent: str) -> "Palette":
        on_primary = on_primary or readable_text(primary)
        towards = 1.12 if relative_luminance(on_primary) < relative_luminance(primary) else 0.88
        link = readable_ink(primary, SURFACE)  # SURFACE is the darker of the two it is drawn on
        return cls(
            primary=primary, on_primary=on_primary, accent=accent, on_accent=readable_text(accent),
            primary_active=shade(primary, towards), primary_pressed=shade(primary, towards * towards),
            link=link, link_active=readable_ink(shade(link, 0.8), SURFACE), accent_ink=readable_ink(accent, SURFACE),
        )

    @classmethod
    def from_brand(cls, brand) -> "Palette":
        """From a module's brand (:class:`sosqueue.module_config.Brand`); bad colours fall back to the defaults."""
        primary = valid_colour(brand.primary, DEFAULT_PRIMARY)
        on_primary = valid_colour(brand.on_primary, readable_text(primary)) if brand.on_primary else None
        return cls.from_colours(primary, on_primary, valid_colour(brand.accent, DEFAULT_ACCENT))


@dataclass(frozen=True)
class TextPair:
    """Text of one colour on a background of another, somewhere in the agent's windows.

    :param name: where it is, in English (marked for the dashboard's catalogue, which shows it translated).
    :param brand_key: the brand setting that decides this pair ("" for fixed colours).
    """

    name: str
    text: str
    background: str
    brand_key: str = ""

    @property
    def contrast(self) -> float:
        return contrast_ratio(self.text, self.background)


def text_pairs(palette: Palette) -> list[TextPair]:
    """Every text/background pair the agent draws (the window, its dialogs, menus and the sharing bar)."""
    return [
        TextPair(N_("text"), TEXT, WHITE),
        TextPair(N_("text in a box"), TEXT, SURFACE),
        TextPair(N_("helper text"), MUTED, WHITE),
        TextPair(N_("helper text in a box"), MUTED, SURFACE),
        TextPair(N_("a waiting button"), MUTED, DISABLED),
        TextPair(N_("error text"), ERROR, WHITE),
        TextPair(N_("waiting status"), WAITING, WHITE),
        TextPair(N_("connected status"), CONNECTED, WHITE),
        TextPair(N_("finished status"), FINISHED, WHITE),
        TextPair(N_("text on the primary colour"), palette.on_primary, palette.primary, "on_primary"),
        TextPair(N_("a hovered button"), palette.on_primary, palette.primary_active, "on_primary"),
        TextPair(N_("a pressed button"), palette.on_primary, palette.primary_pressed, "on_primary"),
        TextPair(N_("links"), palette.link, WHITE, "primary"),
        TextPair(N_("the supporter's name in the chat"), palette.link, SURFACE, "primary"),
        TextPair(N_("a hovered link"), palette.link_active, WHITE, "primary"),
        TextPair(N_("the sharing bar"), palette.on_accent, palette.accent, "accent"),
        TextPair(N_("the sharing bar's buttons"), palette.accent_ink, WHITE, "accent"),
        TextPair(N_("a hovered sharing bar button"), palette.accent_ink, SURFACE, "accent"),
    ]


def too_faint(palette: Palette) -> list[TextPair]:
    """The pairs below :data:`MIN_TEXT_CONTRAST`."""
    return [pair for pair in text_pairs(palette) if pair.contrast < MIN_TEXT_CONTRAST]
