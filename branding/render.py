"""Render every image a support module needs from its brand's logo and colours.

:func:`render_assets` makes the icons, tray icons, banner and logo the agent reads from its
payload; :func:`render_icns` makes the macOS app icon; :func:`preview` puts the branded help
window and the icons into one picture for the admin. The same brand gives the same bytes.
"""

import io
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageStat

from branding import colors
from branding.fingerprint import FONT_FILES as _FONT_FILES, MONO_FONT_FILES as _MONO_FONT_FILES
from branding.model import Brand
from sosqueue import module_config, platforms
from sosqueue import window_layout as layout
from sosqueue.module_config import ASSET_NAMES
from sosqueue.palette import BORDER, SURFACE, WHITE, Palette

APP_SIZE = 512
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)
TRAY_SIZE = 64
TRAY_STATUSES = ("idle", "waiting", "connected")
BANNER_SIZE = (640, 120)
LOGO_SIZE = 256

#: Badge and glyph colours of the tray icon per status (``idle`` has no badge).
STATUS_BADGES = {"waiting": ("#F59E0B", "#3B2600"), "connected": ("#16A34A", "#FFFFFF")}
WIDE_LOGO = 2.2  # logos wider (or taller) than this ratio get a monogram icon instead
PLATE_BELOW_COVERAGE = 0.8  # logos covering less of their square than this sit on a plate
PLATE = "#FFFFFF"
PLATE_EDGE = "#D5DAE1"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

TITLE_BAR = 30  # the window's title bar in the preview (the desktop's, not the window's)
WINDOW_GAP = 30  # between the windows of the states, and before the icons
ICON_SHEET_WIDTH = 510
#: The preview: a caption and a window for each state, then the icon sheet, with a 40-pixel margin.
PREVIEW_SIZE = (40 + len(layout.PREVIEW_STATES) * (layout.WINDOW_WIDTH + WINDOW_GAP) + ICON_SHEET_WIDTH + 40, 860)


# ---------------------------------------------------------------------------------------
# Public API


def render_assets(brand: Brand) -> dict[str, bytes]:
    """Render the images a module's payload carries.

    :param brand: a validated brand.
    :return: encoded files by name, one for each of :data:`ASSET_NAMES`, in that order.
    """
    art = _Artwork(brand)
    app_icons = {size: art.app_icon(size) for size in (*ICO_SIZES, APP_SIZE)}
    sos_icons = {size: art.sos_icon(size) for size in (*ICO_SIZES, APP_SIZE)}
    assets = {
        "app.png": _png(app_icons[APP_SIZE]),
        "app.ico": _ico(app_icons),
        "sos.png": _png(sos_icons[APP_SIZE]),
        "sos.ico": _ico(sos_icons),
        **{f"tray-{status}.png": _png(art.tray_icon(status)) for status in TRAY_STATUSES},
        "banner.png": _png(art.banner()),
        "logo.png": _png(art.normalized_logo()),
    }
    return {name: assets[name] for name in ASSET_NAMES}


def render_icns(brand: Brand) -> bytes:
    """Render the macOS app icon (``.icns``, 32 to 1024 pixels) for a brand."""
    art = _Artwork(brand)
    icons = [art.app_icon(size) for size in ICNS_SIZES]
    buffer = io.BytesIO()
    icons[-1].save(buffer, format="ICNS", append_images=icons[:-1])
    return buffer.getvalue()


def preview(brand: Brand, assets: dict[str, bytes], *, options: module_config.Options | None = None,
            language: str | None = None) -> Image.Image:
    """Draw the branded help window in each state of :data:`sosqueue.window_layout.PREVIEW_STATES`
    (as :func:`window_picture` draws it) and the icons in one picture, for a check before rollout.

    :param brand: the brand the assets were rendered from.
    :param assets: the result of :func:`render_assets` for ``brand``.
    :param options: the module's options (its form's fields, diagnostics); the defaults without.
    :param language: the window's language (``en``, ``de``); without, :func:`preview_language`.
    :return: an RGB image of :data:`PREVIEW_SIZE`.
    """
    images = {name: Image.open(io.BytesIO(data)) for name, data in assets.items()}
    windows = [window_picture(brand, assets, state, options=options, language=language)[0]
               for state in layout.PREVIEW_STATES]
    return _Preview(brand, images, windows).picture()


@lru_cache(maxsize=64)
def font(size: int, *, bold: bool = True, mono: bool = False) -> Font:
    """Return DejaVu Sans (or the platform's Segoe UI / Arial) at ``size`` pixels; with ``mono``
    DejaVu Sans Mono Bold (or Consolas / Menlo), else the bold face.

    Falls back to Pillow's built-in font when none of them is installed.
    """
    path = (mono and _mono_font_file()) or _font_file(bold or mono)
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def clear_font_cache() -> None:
    """Forget the fonts found so far (after installing one, or in tests)."""
    _font_file.cache_clear()
    _mono_font_file.cache_clear()
    font.cache_clear()


# ---------------------------------------------------------------------------------------
# Drawing the assets


class _Logo:
    """The brand's logo cropped to its visible pixels, with a cache of halved copies."""

    def __init__(self, brand: Brand):
        image = brand.logo_image
        image = image.crop(image.getchannel("A").getbbox())
        alpha = image.getchannel("A")
        ratio = image.width / image.height
        self.image = image
        self.opaque = alpha.getextrema()[0] >= 250  # gets rounded corners as an icon
        self.wide = not 1 / WIDE_LOGO <= ratio <= WIDE_LOGO  # a word mark: icons show a monogram
        # A free-standing shape (not a tile or a picture) gets a white plate, so that it
        # shows on dark and light desktops and panels alike.
        self.shape = ImageStat.Stat(alpha).sum[0] / 255 / max(image.size) ** 2 < PLATE_BELOW_COVERAGE
        self._halved = [image]

    def fitted(self, width: float, height: float) -> Image.Image:
        """The logo scaled to fit ``width`` × ``height``, keeping its proportions."""
        scale = min(width / self.image.width, height / self.image.height)
        size = (max(1, round(self.image.width * scale)), max(1, round(self.image.height * scale)))
        # Resampling from at most four times the target size looks the same and is much faster.
        level = 0
        while min(self._halved[level].width / size[0], self._halved[level].height / size[1]) >= 4:
            if level + 1 == len(self._halved):
                self._halved.append(self._halved[level].reduce(2))
            level += 1
        return self._halved[level].resize(size, Image.Resampling.LANCZOS)


class _Artwork:
    """Draws one brand's images; faces are cached per size while it lives."""

    def __init__(self, brand: Brand):
        self.brand = brand
        self.logo = _Logo(brand)
        self._faces: dict[int, Image.Image] = {}

    def app_icon(self, size: int) -> Image.Image:
        """The logo as a square icon: as it is, on a white plate, with rounded corners or as a monogram."""
        if size not in self._faces:
            self._faces[size] = self._monogram(size) if self.logo.wide else self._logo_face(size)
        return self._faces[size].copy()

    def _logo_face(self, size: int) -> Image.Image:
        if self.logo.shape:
            return self._plate(size)
        if self.logo.opaque:
            fitted = self.logo.fitted(size, size)
            radius = round(min(fitted.size) * 0.18)
            fitted.putalpha(ImageChops.multiply(fitted.getchannel("A"), _rounded_mask(fitted.size, radius)))
        else:
            inner = size - 2 * round(size * 0.03)
            fitted = self.logo.fitted(inner, inner)
        return _centered(fitted, (size, size))

    def _plate(self, size: int) -> Image.Image:
        border = max(1.0, size * 0.012)
        plate = _shape_layer((size, size), lambda draw, scale: draw.rounded_rectangle(
            (0, 0, size * scale - 1, size * scale - 1), radius=size * 0.22 * scale, fill=PLATE,
            outline=PLATE_EDGE, width=round(border * scale)))
        inner = round(size * 0.72)
        plate.alpha_composite(_centered(self.logo.fitted(inner, inner), (size, size)))
        return plate

    def _monogram(self, size: int) -> Image.Image:
        tile = Image.new("RGBA", (size, size), colors.to_rgb(self.brand.primary) + (255,))
        tile.putalpha(_rounded_mask((size, size), round(size * 0.22)))
        letter = next((character for character in self.brand.product if character.isalnum()), "S").upper()
        ImageDraw.Draw(tile).text((size / 2, size / 2), letter, font=font(round(size * 0.6)),
                                  fill=self.brand.text_color, anchor="mm")
        return tile

    def sos_icon(self, size: int) -> Image.Image:
        """The app icon with a pill in the accent colour saying SOS across its lower part."""
        small = size <= 32  # at shortcut sizes the pill takes the full width and half the height
        width, height = (size, size * 0.5) if small else (size * 0.92, size * 0.4)
        left, top = (size - width) / 2, size - height - (0 if small else size * 0.02)
        pill, gap = (left, top, left + width, top + height), size * 0.03

        def paint_gap(draw: ImageDraw.ImageDraw, scale: float) -> None:
            outline = _scaled(_grown(pill, gap), scale)
            draw.rounded_rectangle(outline, radius=(height / 2 + gap) * scale, fill=255)

        def paint_pill(draw: ImageDraw.ImageDraw, scale: float) -> None:
            draw.rounded_rectangle(_scaled(pill, scale), radius=height / 2 * scale, fill=255)

        icon = _knock_out(self.app_icon(size), _shape_mask((size, size), paint_gap))
        icon.paste(colors.to_rgb(self.brand.accent), mask=_shape_mask((size, size), paint_pill))
        label = _fitted_font("SOS", max_width=width * (0.86 if small else 0.74), max_height=height * 0.72)
        ImageDraw.Draw(icon).text((size / 2, top + height / 2), "SOS", font=label, anchor="mm",
                                  fill=colors.best_text_color(self.brand.accent))
        return icon

    def tray_icon(self, status: str) -> Image.Image:
        """The app icon at tray size; waiting and connected add a coloured status badge."""
        icon = self.app_icon(TRAY_SIZE)
        if status == "idle":
            return icon
        badge, glyph = STATUS_BADGES[status]
        size, radius = TRAY_SIZE, TRAY_SIZE * 0.24
        centre = size - radius - 1
        icon = _knock_out(icon, _shape_mask((size, size), lambda draw, scale: draw.ellipse(
            _scaled(_circle(centre, centre, radius + size * 0.05), scale), fill=255)))
        badge_layer = _shape_layer((size, size), lambda draw, scale: _draw_badge(
            draw, scale, status, (centre, centre, radius), badge, glyph))
        return Image.alpha_composite(icon, badge_layer)

    def banner(self) -> Image.Image:
        """Primary colour, the logo on a white card at the left, the product and company names."""
        width, height = BANNER_SIZE
        banner = Image.new("RGBA", BANNER_SIZE, colors.to_rgb(self.brand.primary) + (255,))
        card_height = height - 32
        logo = self.logo.fitted(160 if self.logo.wide else card_height - 16, card_height - 16)
        card_size = (logo.width + 16 if self.logo.wide else card_height, card_height)
        card = Image.new("RGBA", card_size, (255, 255, 255, 255))
        card.putalpha(_shape_mask(card_size, lambda draw, scale: draw.rounded_rectangle(
            _scaled((0, 0, *card_size), scale), radius=14 * scale, fill=255)))
        card.alpha_composite(logo, ((card_size[0] - logo.width) // 2, (card_size[1] - logo.height) // 2))
        banner.alpha_composite(card, (16, 16))
        text_left = 16 + card_size[0] + 20
        self._banner_names(ImageDraw.Draw(banner), text_left, width - text_left - 20)
        return banner

    def _banner_names(self, draw: ImageDraw.ImageDraw, left: int, room: int) -> None:
        product_font = _fitted_font(self.brand.product, max_width=room, max_height=38, minimum=18)
        product = _ellipsized(self.brand.product, product_font, room)
        company_font = font(18, bold=False)
        company = _ellipsized(self.brand.company, company_font, room)
        baseline = BANNER_SIZE[1] / 2 + 2
        draw.text((left, baseline), product, font=product_font, fill=self.brand.text_color, anchor="ls")
        draw.text((left, baseline + 27), company, font=company_font, anchor="ls",
                  fill=colors.mix(self.brand.text_color, self.brand.primary, 0.18))

    def normalized_logo(self) -> Image.Image:
        """The logo cropped to its visible pixels, at most :data:`LOGO_SIZE` pixels a side."""
        image = self.logo.image.copy()
        image.thumbnail((LOGO_SIZE, LOGO_SIZE), Image.Resampling.LANCZOS)
        return image


def _draw_badge(draw: ImageDraw.ImageDraw, scale: float, status: str,
                circle: tuple[float, float, float], badge: str, glyph: str) -> None:
    x, y, radius = (value * scale for value in circle)
    draw.ellipse(_circle(x, y, radius), fill=badge)
    stroke = round(radius * 0.24)
    if status == "connected":
        points = [(x - radius * 0.46, y + radius * 0.02), (x - radius * 0.12, y + radius * 0.36),
                  (x + radius * 0.48, y - radius * 0.32)]
        draw.line(points, fill=glyph, width=stroke, joint="curve")
        for point in (points[0], points[-1]):
            draw.ellipse(_circle(*point, stroke / 2), fill=glyph)
    else:  # a clock at three
        for end in ((x, y - radius * 0.56), (x + radius * 0.44, y)):
            draw.line([(x, y), end], fill=glyph, width=stroke)
            draw.ellipse(_circle(*end, stroke / 2), fill=glyph)
        draw.ellipse(_circle(x, y, stroke / 2), fill=glyph)


# ---------------------------------------------------------------------------------------
# The preview


_INK = "#1F2430"
_MUTED = "#5B6270"
_LINE = "#C9CED8"
_CANVAS = "#E9ECF2"
_STATE_CAPTIONS = {"form": "Asking for help", "waiting": "Waiting for a supporter", "closed": "Closed"}


@dataclass(frozen=True)
class Drawn:
    """A text the preview drew: the layout part it belongs to, the words, the part's box in the
    window (left, top, right, bottom; the window's top left corner is 0, 0, below its title bar)
    and the text's colour."""

    key: str
    text: str
    box: tuple[int, int, int, int]
    ink: str


def window_picture(brand: Brand, assets: dict[str, bytes], state: layout.State, *,
                   options: module_config.Options | None = None,
                   language: str | None = None) -> tuple[Image.Image, list[Drawn]]:
    """The help window in ``state`` as the agent lays it out (:mod:`sosqueue.window_layout`), and
    every text drawn on it in order.

    :param options: the module's options (its fields and whether it sends diagnostics); the defaults without.
    :param language: the window's language (``en``, ``de``); without, :func:`preview_language`.
    """
    banner = Image.open(io.BytesIO(assets["banner.png"])).convert("RGBA")
    return _Window(brand.stamped(), options or module_config.Options(), banner, state,
                   language or preview_language(brand)).picture()


def shortcut_name(brand: Brand) -> str:
    """What the SOS shortcut on the desktop is called (its file name on Windows and macOS, its
    name on Linux): the product name with "SOS"."""
    return platforms.file_name(platforms.sos_name(brand.product))


def preview_language(brand: Brand | module_config.Brand) -> str:
    """The language the preview shows: the brand's, English for ``auto``."""
    return brand.language if brand.language in module_config.TEXT_LANGUAGES else "en"


class _Window:
    """Draws one state of the help window from the layout, as Tk lays the same parts out:
    rows top to bottom with their spacing, parts of a row side by side and centred on it, the
    growing part taking the room the page leaves, texts wrapped where Tk wraps them."""

    def __init__(self, brand: module_config.Brand, options: module_config.Options, banner: Image.Image,
                 state: layout.State, language: str):
        self.brand = brand
        self.options = options
        self.banner = banner
        self.state = state
        self.language = language
        self.gettext = layout.translation(self.language).gettext
        self.palette = Palette.from_brand(brand)
        self.image = Image.new("RGBA", (layout.WINDOW_WIDTH, layout.WINDOW_HEIGHT), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.drawn: list[Drawn] = []
        self._wrapped: dict[str, list[str]] = {}  # by part key: wrapping is the slow part of measuring

    def picture(self) -> tuple[Image.Image, list[Drawn]]:
        self._draw_banner()
        padding = layout.FORM_PADDING if self.state.page == "form" else layout.REQUEST_PADDING
        rows = self._rows()
        room = layout.WINDOW_HEIGHT - layout.BANNER_HEIGHT - padding[1] - padding[3]
        leftover = room - sum(above + self._row_height(row) for above, row in rows)
        top = layout.BANNER_HEIGHT + padding[1]
        for above, row in rows:
            top += above
            height = self._row_height(row)
            if any(part.grows for part in row):  # Tk shrinks it down to one line when room is short
                height = max(self._height(row[0], lines=1), height + leftover)
            self._draw_row(row, top, height)
            top += height
        return self.image.convert("RGB"), self.drawn

    # -- measuring

    def _rows(self) -> list[tuple[int, tuple[layout.Part, ...]]]:
        """The rows on screen in this state, each with the space above it and its parts shown
        (a row keeps its first part's spacing when only the part beside it shows)."""
        rows = []
        for row in layout.rows(layout.PAGES[self.state.page]):
            shown = tuple(part for part in row if layout.shown(part, self.state, self.options.fields,
                                                               diagnostics=self.options.diagnostics,
                                                               topics=bool(self.options.topics)))
            if shown:
                rows.append((0 if row[0].role is layout.Role.GAP else row[0].above, shown))
        return rows

    def _row_height(self, row: tuple[layout.Part, ...]) -> int:
        if row[0].role is layout.Role.GAP:
            return row[0].above
        height = max(self._height(part) for part in row)
        return height + 2 * layout.CODE_BOX_PADDING[1] if row[0].role is layout.Role.CODE else height

    def _height(self, part: layout.Part, *, lines: int | None = None) -> int:
        """The part's height as Tk makes it: its lines, its padding and the theme's frame."""
        look = layout.LOOKS[part.role]
        line = sum(_ui_font(look.font).getmetrics())
        if part.role in _LABEL_ROLES:
            lines = len(self._lines(part))
        elif part.role is layout.Role.WELCOME:
            lines = min(len(self._lines(part)), layout.WELCOME_LINES)
        elif part.role is layout.Role.TEXT_BOX:
            lines = lines or layout.TEXT_BOX_LINES
        return (lines or 1) * line + 2 * look.padding[1] + 2 * look.frame

    def _text(self, part: layout.Part) -> str:
        if part.key == "details_summary":
            return layout.details_summary(layout.DIAGNOSTIC_LABELS, self.gettext)
        if part.role is layout.Role.CODE:
            return layout.SAMPLE_CODE
        return layout.text_of(part, self.brand, self.language, self.gettext, self.state.status)

    def _lines(self, part: layout.Part) -> list[str]:
        if part.key not in self._wrapped:
            self._wrapped[part.key] = self._wrap(part)
        return self._wrapped[part.key]

    def _wrap(self, part: layout.Part) -> list[str]:
        face = _ui_font(layout.LOOKS[part.role].font)
        if part.role is layout.Role.WELCOME:
            lines = _wrapped(self._text(part), face, layout.CONTENT_WIDTH, max_lines=99)
            if len(lines) > layout.WELCOME_LINES:  # a scroll bar takes room beside the text
                lines = _wrapped(self._text(part), face, layout.CONTENT_WIDTH - _SCROLLBAR, max_lines=99)
            return lines
        return _wrapped(self._text(part), face, part.wrap, max_lines=99)

    def _width(self, part: layout.Part) -> int:
        """The part's width as Tk makes it: its longest line (or its least width), padding and frame."""
        look = layout.LOOKS[part.role]
        face = _ui_font(look.font)
        text = max(face.getlength(line) for line in self._lines(part)) if part.role in _LABEL_ROLES else (
            face.getlength(self._text(part)))
        least = look.min_chars * round(face.getlength("0"))
        return round(max(text, least)) + 2 * (look.padding[0] + look.frame) + (
            _INDICATOR if part.role is layout.Role.CHECK else 0)

    # -- drawing

    def _draw_banner(self) -> None:
        self.draw.rectangle((0, 0, layout.WINDOW_WIDTH, layout.BANNER_HEIGHT), fill=self.palette.primary)
        banner = self.banner.copy()
        banner.thumbnail((layout.WINDOW_WIDTH, layout.BANNER_HEIGHT), Image.Resampling.LANCZOS)
        self.image.alpha_composite(banner, ((layout.WINDOW_WIDTH - banner.width) // 2,
                                            (layout.BANNER_HEIGHT - banner.height) // 2))

    def _draw_row(self, row: tuple[layout.Part, ...], top: int, height: int) -> None:
        first = row[0]
        if first.role is layout.Role.GAP:
            return
        left, right = layout.PAD + first.indent, layout.PAD + layout.CONTENT_WIDTH
        if first.role is layout.Role.CODE:
            self.draw.rectangle((left, top, right - 1, top + height - 1), fill=SURFACE)
            left, right = left + layout.CODE_BOX_PADDING[0], right - layout.CODE_BOX_PADDING[0]
            top, height = top + layout.CODE_BOX_PADDING[1], height - 2 * layout.CODE_BOX_PADDING[1]
        boxes = self._place(row, left, right)
        for part, (x0, x1) in zip(row, boxes):
            part_height = height if part.grows else self._height(part)
            y0 = top + (height - part_height) // 2
            self._draw_part(part, (x0, y0, x1, y0 + part_height))

    def _place(self, row: tuple[layout.Part, ...], left: int, right: int) -> list[tuple[int, int]]:
        """Each part's left and right edge, side by side: fixed parts as wide as Tk makes them,
        filling parts (inputs, a lone primary button) the rest; the ``right`` parts at the row's end
        move to the right edge."""
        widths = [None if self._fills(part, row) else self._width(part) for part in row]
        spare = right - left - sum(width or 0 for width in widths) - _SPACING * (len(row) - 1)
        edges, x = [], left
        for part, width in zip(row, widths):
            width = spare - self._scroll_bar(part) if width is None else width
            edges.append((x, x + width))
            x += width + _SPACING
        first_right = len(row)
        while first_right and row[first_right - 1].right:
            first_right -= 1
        shift = right - edges[-1][1]
        return [(start + shift, end + shift) if index >= first_right else (start, end)
                for index, (start, end) in enumerate(edges)]

    def _scroll_bar(self, part: layout.Part) -> int:
        """The room a scroll bar takes beside the part: the welcome text's, when it is longer than it shows."""
        scrolls = part.role is layout.Role.WELCOME and len(self._lines(part)) > layout.WELCOME_LINES
        return _SCROLLBAR if scrolls else 0

    def _fills(self, part: layout.Part, row: tuple[layout.Part, ...]) -> bool:
        return part.role in _FILLING_ROLES or (part.role is layout.Role.PRIMARY_BUTTON and len(row) == 1
                                                and not part.right)

    def _draw_part(self, part: layout.Part, box: tuple[int, int, int, int]) -> None:
        look = layout.LOOKS[part.role]
        face = _ui_font(look.font)
        ink = layout.ink(part.role, self.palette, self.state.status)
        text = self._text(part)
        if part.role in _LABEL_ROLES or part.role is layout.Role.WELCOME:
            lines = self._lines(part)[:layout.WELCOME_LINES] if part.role is layout.Role.WELCOME else self._lines(part)
            self._lines_at(lines, face, ink, box[0] + look.frame, box[1] + look.frame)
            if self._scroll_bar(part):
                self._draw_scroll_bar(box, shown=layout.WELCOME_LINES / len(self._lines(part)))
        elif part.role in (layout.Role.ENTRY, layout.Role.TEXT_BOX):
            self.draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=WHITE, outline=BORDER)
        elif part.role is layout.Role.CODE:
            self.draw.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), text, font=face, fill=ink, anchor="mm")
        elif part.role is layout.Role.CHECK:
            self._check(part, box, face, ink, text)
        else:
            self._button(part, box, face, ink, text)
        if text:
            self.drawn.append(Drawn(part.key, text, box, ink))

    def _draw_scroll_bar(self, box: tuple[int, int, int, int], shown: float) -> None:
        """A scroll bar right of ``box``, its thumb as long as the ``shown`` share of the text."""
        bar = (box[2] + _SCROLLBAR - 14, box[1], box[2] + _SCROLLBAR - 1, box[3] - 1)
        self.draw.rectangle(bar, fill=SURFACE, outline=BORDER)
        self.draw.rectangle((bar[0] + 3, bar[1] + 3, bar[2] - 3, bar[1] + 3 + round((bar[3] - bar[1] - 6) * shown)),
                            fill=BORDER)

    def _lines_at(self, lines: list[str], face: Font, ink: str, left: int, top: int) -> None:
        line = sum(face.getmetrics())
        for index, words in enumerate(lines):
            self.draw.text((left, top + index * line), words, font=face, fill=ink, anchor="la")

    def _check(self, part: layout.Part, box: tuple[int, int, int, int], face: Font, ink: str, text: str) -> None:
        middle, left = (box[1] + box[3]) // 2, box[0] + layout.LOOKS[part.role].frame
        indicator = (left, middle - 5, left + 10, middle + 5)
        self.draw.rectangle(indicator, fill=self.palette.primary)
        self.draw.line([(left + 2, middle), (left + 4, middle + 3), (left + 8, middle - 3)], fill=WHITE, width=2)
        self.draw.text((left + _INDICATOR, middle), text, font=face, fill=ink, anchor="lm")

    def _button(self, part: layout.Part, box: tuple[int, int, int, int], face: Font, ink: str, text: str) -> None:
        middle = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        if part.role is layout.Role.PRIMARY_BUTTON:
            self.draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=self.palette.primary)
        elif part.role is not layout.Role.LINK:
            self.draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=WHITE, outline=BORDER)
        if part.role is layout.Role.LINK:
            left = box[0] + layout.LOOKS[part.role].frame
            self.draw.text((left, middle[1]), text, font=face, fill=ink, anchor="lm")
            ascent, descent = face.getmetrics()
            underline = middle[1] + (ascent - descent) / 2 + 1  # just under the baseline
            self.draw.line([(left, underline), (left + face.getlength(text), underline)], fill=ink, width=1)
        else:
            self.draw.text(middle, text, font=face, fill=ink, anchor="mm")


_LABEL_ROLES = frozenset({layout.Role.BODY, layout.Role.FIELD, layout.Role.MUTED, layout.Role.ERROR,
                          layout.Role.STATUS})
_FILLING_ROLES = frozenset({layout.Role.WELCOME, layout.Role.ENTRY, layout.Role.TEXT_BOX, layout.Role.CODE})
_SPACING = 8  # between the parts of a row
_SCROLLBAR = 20  # the welcome text's scroll bar (Tk's clam theme: 14 px) and its 6-pixel gap
_INDICATOR = 14  # a tick box and its gap before the text


def _ui_font(name: str) -> Font:
    """The window's font ``name`` (:data:`sosqueue.window_layout.FONTS`) at the preview's scale."""
    spec = layout.FONTS[name]
    return font(int(spec.size * layout.PREVIEW_SCALING + 0.5), bold=spec.bold, mono=spec.mono)


class _Preview:
    """Lays out the help window in each previewed state (left) and the icon sheet (right)."""

    def __init__(self, brand: Brand, images: dict[str, Image.Image], windows: list[Image.Image]):
        self.brand = brand
        self.windows = windows  # one picture for each of PREVIEW_STATES
        self.icons = images["sos.ico"]  # an ICO file: its sizes are picked one by one below
        self.images = {name: image.convert("RGBA") for name, image in images.items()}
        self.canvas = Image.new("RGBA", PREVIEW_SIZE, _CANVAS)
        self.draw = ImageDraw.Draw(self.canvas)

    def picture(self) -> Image.Image:
        left = 40
        for state, window in zip(layout.PREVIEW_STATES, self.windows):
            self._window(left, 40, state, window)
            left += layout.WINDOW_WIDTH + WINDOW_GAP
        self._icon_sheet(left, 40)
        return self.canvas.convert("RGB")

    def _window(self, left: int, top: int, state: layout.State, window: Image.Image) -> None:
        self._heading(left, top, _STATE_CAPTIONS[state.name])
        top += 30
        width = layout.WINDOW_WIDTH
        self._card((left, top, left + width, top + TITLE_BAR + layout.WINDOW_HEIGHT), radius=6, fill="#F3F4F7")
        self.canvas.alpha_composite(_shrunk(self.images["app.ico"], 18), (left + 8, top + 6))
        title = font(13, bold=False)
        self.draw.text((left + 34, top + TITLE_BAR // 2), _ellipsized(self.brand.title, title, width - 120),
                       font=title, fill=_INK, anchor="lm")
        for index, color in enumerate(("#C9CDD6", "#C9CDD6", "#E0605A")):
            self.draw.ellipse(_circle(left + width - 60 + index * 20, top + TITLE_BAR // 2, 5), fill=color)
        self.canvas.paste(window, (left, top + TITLE_BAR))

    def _icon_sheet(self, left: int, top: int) -> None:
        right = PREVIEW_SIZE[0] - 40
        self._card((left, top, right, PREVIEW_SIZE[1] - 40), radius=10, fill="#FFFFFF")
        self._heading(left + 24, top + 20, "Icons")
        row = top + 56
        for index, name in enumerate(("app.png", "sos.png")):
            x = left + 24 + index * 150
            self.canvas.alpha_composite(_shrunk(self.images[name], 128), (x, row))
            self._caption(x + 64, row + 136, "App icon" if index == 0 else "SOS shortcut")
        self._small_sizes(left + 316, row)
        self._desktop(left + 24, row + 178, right - left - 48)
        self._tray_panels(left + 24, row + 350, right - left - 48)
        self._logo_and_colors(left + 24, row + 552)

    def _logo_and_colors(self, left: int, top: int) -> None:
        self._heading(left, top, "Logo and colours")
        logo = self.images["logo.png"].copy()
        logo.thumbnail((180, 100), Image.Resampling.LANCZOS)
        self.draw.rounded_rectangle((left, top + 34, left + 200, top + 148), radius=8, outline=_LINE)
        self.canvas.alpha_composite(logo, (left + 100 - logo.width // 2, top + 91 - logo.height // 2))
        text = self.brand.text_color
        ratio = colors.contrast_ratio(text, self.brand.primary)
        rows = (("Primary", self.brand.primary, None), ("Accent", self.brand.accent, None),
                ("Text on primary", f"{text}  ·  contrast {ratio:.1f}:1", text))
        for index, (label, value, sample) in enumerate(rows):
            y = top + 34 + index * 40
            swatch = (left + 224, y, left + 258, y + 34)
            fill = self.brand.primary if sample else value
            self.draw.rounded_rectangle(swatch, radius=6, fill=fill, outline=_LINE)
            if sample:
                self.draw.text((swatch[0] + 17, y + 17), "Aa", font=font(15), fill=sample, anchor="mm")
            self.draw.text((left + 270, y + 1), label, font=font(13), fill=_INK)
            self.draw.text((left + 270, y + 19), value, font=font(12, bold=False), fill=_MUTED)

    def _small_sizes(self, left: int, top: int) -> None:
        sizes = self.icons.info.get("sizes", set())
        x = left
        for size in (48, 32, 24, 16):
            if (size, size) in sizes:
                self.icons.size = (size, size)
                self.canvas.alpha_composite(self.icons.convert("RGBA"), (x, top + 64 - size // 2))
                self._caption(x + size // 2, top + 136, f"{size}")
                x += size + 14

    def _desktop(self, left: int, top: int, width: int) -> None:
        self._heading(left, top, "Desktop")
        for index, (background, ink) in enumerate((("#2D5B8C", "#FFFFFF"), ("#F4F5F7", _INK))):
            box = (left + index * (width // 2 + 6), top + 34, left + (index + 1) * (width // 2) - 6 + index * 6,
                   top + 150)
            self.draw.rounded_rectangle(box, radius=8, fill=background)
            middle = (box[0] + box[2]) // 2
            self.canvas.alpha_composite(_shrunk(self.images["sos.png"], 64), (middle - 32, box[1] + 10))
            label = font(13, bold=False)
            # Desktops wrap a shortcut's name onto two lines and shorten the rest.
            for number, line in enumerate(_wrapped(shortcut_name(self.brand), label, box[2] - box[0] - 16, 2)):
                self.draw.text((middle, box[1] + 80 + number * 15), line, font=label, fill=ink, anchor="mt")

    def _tray_panels(self, left: int, top: int, width: int) -> None:
        self._heading(left, top, "Tray")
        for index, (background, ink) in enumerate((("#202327", "#D8DCE3"), ("#F4F5F7", _MUTED))):
            box = (left, top + 34 + index * 84, left + width, top + 34 + index * 84 + 76)
            self.draw.rounded_rectangle(box, radius=8, fill=background)
            for column, status in enumerate(TRAY_STATUSES):
                x = left + 24 + column * (width // 3)
                icon = self.images[f"tray-{status}.png"]
                self.canvas.alpha_composite(_shrunk(icon, 32), (x, box[1] + 10))
                self.canvas.alpha_composite(_shrunk(icon, 22), (x + 42, box[1] + 15))
                self.draw.text((x, box[1] + 52), status, font=font(12, bold=False), fill=ink)

    def _heading(self, left: int, top: int, text: str) -> None:
        self.draw.text((left, top), text, font=font(16), fill=_INK)

    def _caption(self, x: int, y: int, text: str, anchor: str = "mt") -> None:
        self.draw.text((x, y), text, font=font(12, bold=False), fill=_MUTED, anchor=anchor)

    def _card(self, box: tuple[int, int, int, int], radius: int, fill: str) -> None:
        shadow = (box[0], box[1] + 3, box[2], box[3] + 3)
        self.draw.rounded_rectangle(shadow, radius=radius, fill="#D5D9E1")
        self.draw.rounded_rectangle(box, radius=radius, fill=fill)


# ---------------------------------------------------------------------------------------
# Helpers


@lru_cache(maxsize=2)
def _font_file(bold: bool) -> str | None:
    for candidate in _FONT_FILES[bold]:
        try:
            ImageFont.truetype(candidate, 10)
            return candidate
        except OSError:
            continue
    return _fc_match("DejaVu Sans:bold" if bold else "DejaVu Sans")


@lru_cache(maxsize=1)
def _mono_font_file() -> str | None:
    for candidate in _MONO_FONT_FILES:
        try:
            ImageFont.truetype(candidate, 10)
            return candidate
        except OSError:
            continue
    return _fc_match("DejaVu Sans Mono:bold")


def _fc_match(pattern: str) -> str | None:
    if not shutil.which("fc-match"):
        return None
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
        ImageFont.truetype(found, 10)
        return found
    except (OSError, subprocess.SubprocessError):
        return None


def _fitted_font(text: str, *, max_width: float, max_height: float, minimum: int = 5) -> Font:
    size = max(minimum, round(max_height))
    while size > minimum:
        candidate = font(size)
        left, top, right, bottom = candidate.getbbox(text)
        if right - left <= max_width and bottom - top <= max_height:
            return candidate
        size -= 1
    return font(minimum)


def _ellipsized(text: str, face: Font, width: float) -> str:
    if face.getlength(text) <= width:
        return text
    while text and face.getlength(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrapped(text: str, face: Font, width: float, max_lines: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if line and face.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _ellipsized(lines[-1] + " …", face, width)
    return [_ellipsized(line, face, width) for line in lines]


def _shrunk(image: Image.Image, side: int) -> Image.Image:
    return image.resize((side, side), Image.Resampling.LANCZOS)


def _centered(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    canvas.alpha_composite(image, ((size[0] - image.width) // 2, (size[1] - image.height) // 2))
    return canvas


def _shape_mask(size: tuple[int, int], paint: Callable[[ImageDraw.ImageDraw, float], None]) -> Image.Image:
    scale = _supersampling(size)
    big = Image.new("L", (size[0] * scale, size[1] * scale), 0)
    paint(ImageDraw.Draw(big), scale)
    return big.resize(size, Image.Resampling.BOX)


def _shape_layer(size: tuple[int, int], paint: Callable[[ImageDraw.ImageDraw, float], None]) -> Image.Image:
    scale = _supersampling(size)
    big = Image.new("RGBA", (size[0] * scale, size[1] * scale), (0, 0, 0, 0))
    paint(ImageDraw.Draw(big), scale)
    return big.resize(size, Image.Resampling.BOX)


def _supersampling(size: tuple[int, int]) -> int:
    # Small shapes need 4× for smooth edges; big ones look the same at 2× and draw 4× faster.
    return 4 if max(size) <= 256 else 2


def _rounded_mask(size: tuple[int, int], radius: float) -> Image.Image:
    return _shape_mask(size, lambda draw, scale: draw.rounded_rectangle(
        (0, 0, size[0] * scale - 1, size[1] * scale - 1), radius=radius * scale, fill=255))


def _knock_out(icon: Image.Image, mask: Image.Image) -> Image.Image:
    """Make the icon transparent under ``mask``, leaving a gap around what is drawn there."""
    icon.putalpha(ImageChops.subtract(icon.getchannel("A"), mask))
    return icon


def _circle(x: float, y: float, radius: float) -> tuple[float, float, float, float]:
    return x - radius, y - radius, x + radius, y + radius


def _scaled(box: tuple[float, ...], scale: float) -> tuple[float, ...]:
    return tuple(value * scale for value in box)


def _grown(box: tuple[float, float, float, float], by: float) -> tuple[float, float, float, float]:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ico(icons: dict[int, Image.Image]) -> bytes:
    largest = max(ICO_SIZES)
    buffer = io.BytesIO()
    icons[largest].save(buffer, format="ICO", sizes=[(size, size) for size in ICO_SIZES],
                        append_images=[icons[size] for size in ICO_SIZES if size != largest])
    return buffer.getvalue()
