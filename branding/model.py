"""The brand a support module carries: names, logo, colours and texts, validated.

A :class:`Brand` is checked when it is made, so a brand that exists is one the builder can
render and stamp. Every problem is a :class:`BrandError` naming the field, what is wrong
and how to fix it. Pillow is imported only when a logo is decoded: a build whose rendered brand
is cached (``builder.brand_cache``) needs neither.
"""

import copy
import dataclasses
import io
import re
import threading
import warnings
from contextlib import contextmanager
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator, Mapping

from branding import colors
from sosqueue import module_config, palette
from sosqueue.module_config import BRAND_TEXTS, DEFAULT_ACCENT, DEFAULT_PRIMARY, LANGUAGES, TEXT_LANGUAGES
from sosqueue.platforms import FILE_NAME_UNSAFE

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

DEFAULT_DIR = Path(__file__).resolve().parent / "default"
#: The logo of the default brand, drawn by ``branding/default/make_logo.py``.
DEFAULT_LOGO = DEFAULT_DIR / "logo.png"
DEFAULT_COMPANY = "sosqueue"
DEFAULT_PRODUCT = "Support"

LOGO_FORMATS = ("PNG", "JPEG", "GIF", "ICO", "BMP", "WEBP")
_FORMATS = "PNG, JPEG, GIF, ICO, BMP or WebP"
MAX_LOGO_PIXELS = 20_000_000
MAX_LOGO_BYTES = 10 * 1024 * 1024
MIN_LOGO_SIDE = 64
#: The decoded logo is kept at most this large; no asset needs more.
KEPT_LOGO_SIDE = 1024
_LOGO_READING = threading.Lock()
#: The most characters of each brand text; the longer ones wrap, the welcome text scrolls after three lines.
BRAND_TEXT_LIMITS = {"welcome": 500, "waiting": 300, "closed": 300, "privacy": 200}
TEXT_LIMITS = {"company": 60, "product": 60, "window_title": 80,
               "welcome": BRAND_TEXT_LIMITS["welcome"], "waiting": BRAND_TEXT_LIMITS["waiting"]}
SINGLE_LINE = ("company", "product", "window_title")


class BrandError(ValueError):
    """A brand setting is invalid.

    :param field: the brand key at fault, as written in the module config (``logo``, ``primary`` …).
    :param message: what is wrong and how to fix it.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"brand {field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Brand:
    """A validated brand; ``Brand()`` is the default brand.

    :param company: the company name, shown in the window and the installers.
    :param product: what the shortcut, the window and the tray icon are called.
    :param logo: a PNG, JPEG, GIF, ICO, BMP or WebP file; ``None`` for the default logo.
    :param primary: the main colour (``#RRGGBB``, ``#RGB`` or a basic colour name).
    :param accent: the colour of the SOS badge.
    :param on_primary: the text colour on the primary colour; ``None`` picks white or
        near-black, whichever contrasts more.
    :param window_title: the help window's title; empty means the product name.
    :param welcome: the text above the request form in every language; empty means the agent's built-in text.
    :param waiting: the text while the customer waits in every language; empty means the agent's built-in text.
    :param texts: the brand's texts per language, ``{"de": {"welcome": …}}``: any of
        :data:`~sosqueue.module_config.BRAND_TEXTS` in any of :data:`~sosqueue.module_config.TEXT_LANGUAGES`;
        they win over ``welcome`` and ``waiting``, and a text not given is the agent's built-in one.
    :param language: ``auto`` (the customer's system language), ``en`` or ``de``.
    :param force_contrast: accept text below the WCAG 4.5:1 minimum: on the primary colour, and in any
        other pair the agent draws with the brand's colours (:func:`sosqueue.palette.text_pairs`).
    :param defer_logo: check only that the logo file exists and is not too large, and read its bytes
        (:attr:`logo_bytes`); decode it on first use of :attr:`logo_image`, which raises the
        :class:`BrandError` a bad logo would have raised here.
    :raises BrandError: for the first invalid setting.
    """

    company: str = DEFAULT_COMPANY
    product: str = DEFAULT_PRODUCT
    logo: Path | None = None
    primary: str = DEFAULT_PRIMARY
    accent: str = DEFAULT_ACCENT
    on_primary: str | None = None
    window_title: str = ""
    welcome: str = ""
    waiting: str = ""
    language: str = "auto"
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    force_contrast: bool = False
    defer_logo: InitVar[bool] = False
    _logo_image: "Picture | None" = field(init=False, repr=False, compare=False)
    _logo_bytes: bytes | None = field(init=False, repr=False, compare=False)

    def __post_init__(self, defer_logo: bool) -> None:
        for name in TEXT_LIMITS:
            self._set(name, _check_text(name, getattr(self, name)))
        _check_product_file_name(self.product)
        self._set("texts", _check_texts(self.texts))
        if self.language not in LANGUAGES:
            raise BrandError("language", f"{self.language!r} is not a language; use one of: "
                                         f"{', '.join(LANGUAGES)}")
        self._set("primary", _check_color("primary", self.primary))
        self._set("accent", _check_color("accent", self.accent))
        if self.on_primary:
            self._set("on_primary", _check_color("on_primary", self.on_primary))
            self._check_contrast()
        else:
            self._set("on_primary", None)
        self._check_agent_colours()
        self._set("logo", Path(self.logo).expanduser() if self.logo else DEFAULT_LOGO)
        if defer_logo:
            self._set("_logo_bytes", read_logo(self.logo))
            self._set("_logo_image", None)
        else:
            self._set("_logo_bytes", None)
            self._set("_logo_image", load_logo(self.logo))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _check_contrast(self) -> None:
        ratio = colors.contrast_ratio(self.on_primary, self.primary)
        if ratio < colors.MIN_TEXT_CONTRAST and not self.force_contrast:
            suggestion = colors.best_text_color(self.primary)
            raise BrandError(
                "on_primary",
                f"text {self.on_primary} on {self.primary} has a contrast of {ratio:.2f}:1, below the "
                f"WCAG minimum of {colors.MIN_TEXT_CONTRAST}:1; use {suggestion}, leave on_primary out "
                "to pick one automatically, or set force_contrast = true",
            )

    def _check_agent_colours(self) -> None:
        """Every text/background pair the agent draws with this brand's colours reaches the minimum."""
        if self.force_contrast:
            return
        agent_colours = palette.Palette.from_colours(self.primary, self.on_primary, self.accent)
        for pair in palette.too_faint(agent_colours):
            fix = f"choose another {pair.brand_key} colour or set" if pair.brand_key else "set"
            raise BrandError(
                pair.brand_key or "colours",
                f"the agent would draw {pair.name} as {pair.text} on {pair.background}, a contrast of "
                f"{pair.contrast:.2f}:1, below the WCAG minimum of {colors.MIN_TEXT_CONTRAST}:1; {fix} "
                "force_contrast = true",
            )

    @property
    def text_color(self) -> str:
        """The colour of text on the primary colour, as ``#RRGGBB``."""
        return self.on_primary or colors.best_text_color(self.primary)

    @property
    def title(self) -> str:
        """The help window's title."""
        return self.window_title or self.product

    @property
    def logo_image(self) -> "Picture":
        """The decoded logo as an RGBA image, at most :data:`KEPT_LOGO_SIDE` pixels a side (a copy).

        :raises BrandError: for a deferred logo (``defer_logo``) that cannot be decoded.
        """
        if self._logo_image is None:
            self._set("_logo_image", decode_logo(self._logo_bytes, str(self.logo)))
        return self._logo_image.copy()

    @property
    def logo_bytes(self) -> bytes | None:
        """The logo file's bytes as a brand made with ``defer_logo`` read them; ``None`` otherwise."""
        return self._logo_bytes

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base_dir: Path | None = None,
                     defer_logo: bool = False) -> "Brand":
        """Make a brand from a module config's ``[brand]`` table.

        :param data: keys as in :class:`Brand`; missing keys take the default brand's values.
        :param base_dir: the folder relative logo paths start from (the config file's folder).
        :param defer_logo: decode the logo on first use (see :class:`Brand`).
        :raises BrandError: for unknown keys, wrong types and every invalid setting.
        """
        known = [item.name for item in dataclasses.fields(cls) if item.init]
        values = {}
        for key, value in data.items():
            if key not in known:
                raise BrandError(key, f"is not a brand setting; the settings are: {', '.join(known)}")
            if key == "force_contrast":
                if not isinstance(value, bool):
                    raise BrandError(key, f"must be true or false, not {value!r}")
            elif key == "texts":
                pass  # checked with the other settings, as a table of tables
            elif not isinstance(value, str):
                raise BrandError(key, f"must be text in quotes, not {value!r}")
            values[key] = value
        logo = values.get("logo")
        if logo and base_dir is not None:
            values["logo"] = Path(base_dir) / Path(logo).expanduser()
        return cls(**values, defer_logo=defer_logo)

    def settings(self) -> dict[str, Any]:
        """The brand's settings as a module config's ``[brand]`` has them (normalised), which
        :meth:`from_mapping` takes back: all but the logo, and ``on_primary`` only when it is set."""
        return {name: copy.deepcopy(getattr(self, name)) for name in self.setting_names()
                if getattr(self, name) is not None}

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The names of the brand's settings but the logo."""
        return tuple(item.name for item in dataclasses.fields(cls) if item.init and item.name != "logo")

    def with_logo(self, image: "Picture", name: str) -> "Brand":
        """This brand with a logo decoded before (:func:`decode_logo`) instead of its file; the logo
        is called ``name`` where a path would be shown."""
        branded = copy.copy(self)
        branded._set("logo", Path(name))
        branded._set("_logo_image", image.convert("RGBA"))
        branded._set("_logo_bytes", None)
        return branded

    def stamped(self) -> module_config.Brand:
        """The brand as a module carries it (:class:`sosqueue.module_config.Brand`): this brand's
        names, colours and texts, with the text colour and the window title worked out."""
        carried = {item.name: copy.deepcopy(getattr(self, item.name)) for item in dataclasses.fields(module_config.Brand)}
        return module_config.Brand(**{**carried, "on_primary": self.text_color, "window_title": self.title})


def default_brand() -> Brand:
    """Return the default brand: the sosqueue logo and colours, product name "Support"."""
    return Brand()


def load_logo(path: Path) -> "Picture":
    """Check a logo file and decode it, refusing oversized images before decoding them.

    :param path: the logo file.
    :return: the logo as RGBA, upright (EXIF orientation applied), at most
        :data:`KEPT_LOGO_SIDE` pixels a side.
    :raises BrandError: if the file is missing, not a supported image, too large, too small
        or damaged.
    """
    _check_logo_file(path)
    return _decode_logo(path, str(path))


def read_logo(path: Path) -> bytes:
    """The bytes of a logo file, after the checks that need no decoding (it exists, is a file, is
    not too large); :func:`decode_logo` checks the rest."""
    _check_logo_file(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise BrandError("logo", f"{path} cannot be read ({error.strerror or error}); "
                                 "check its permissions") from None


def decode_logo(data: bytes, name: str, *, max_bytes: int = MAX_LOGO_BYTES) -> "Picture":
    """:func:`load_logo` for a logo's bytes (an upload), called ``name`` in the messages."""
    if len(data) > max_bytes:
        raise _too_many_bytes(name, len(data), max_bytes)
    return _decode_logo(io.BytesIO(data), name)


def logo_png(image: "Picture") -> bytes:
    """A decoded logo (:func:`load_logo`, :attr:`Brand.logo_image`) encoded as PNG."""
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    return encoded.getvalue()


def _decode_logo(source: Path | BinaryIO, name: str) -> "Picture":
    from PIL import Image, ImageOps

    with _logo_pixel_limit(name):
        image = _open_image(source, name)
        with image:
            _check_logo_header(name, image)
            _decode(name, image)
            upright = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
            rgba = upright.convert("RGBA")
    if rgba.getchannel("A").getbbox() is None:
        raise BrandError("logo", f"{name} is fully transparent; export the logo with its visible pixels")
    rgba.thumbnail((KEPT_LOGO_SIDE, KEPT_LOGO_SIDE), Image.Resampling.LANCZOS)
    return rgba


@contextmanager
def _logo_pixel_limit(name: str) -> Iterator[None]:
    """Run Pillow's decompression-bomb check at the logo limit, as an error, while reading a logo.

    Pillow checks the size from the header in ``Image.open``, before anything is decoded,
    and again for images inside others (an ICO entry may hold a PNG far larger than the
    ICO's header says). The limit and the warning filters are global in Pillow and Python:
    the queue server reads uploaded logos on several threads, so one logo is read at a time.
    """
    from PIL import Image

    with _LOGO_READING:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_LOGO_PIXELS
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                warnings.filterwarnings("ignore", "Image was not the expected size")
                yield
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise _too_large(name, str(error)) from None
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _check_logo_file(path: Path) -> None:
    if not path.exists():
        raise BrandError("logo", f"{path} does not exist; check the path "
                                 "(a relative path starts at the config file's folder)")
    if not path.is_file():
        raise BrandError("logo", f"{path} is not a file; give the path of a {_FORMATS} image")
    size = path.stat().st_size
    if size > MAX_LOGO_BYTES:
        raise _too_many_bytes(str(path), size)


def _too_many_bytes(name: str, size: int, limit: int = MAX_LOGO_BYTES) -> BrandError:
    return BrandError(
        "logo",
        f"{name} is {size / 1024 / 1024:.1f} MB, over the limit of {limit / 1024 / 1024:g} MB; "
        "export the logo at 512 to 1024 pixels",
    )


def _open_image(source: Path | BinaryIO, name: str) -> "Picture":
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(source)
    except UnidentifiedImageError:
        raise BrandError("logo", f"{name} is not an image Pillow can read; use a {_FORMATS} file") from None
    except OSError as error:
        raise BrandError("logo", f"{name} cannot be read ({error.strerror or error}); "
                                 "check its permissions") from None


def _decode(path: str, image: "Picture") -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise BrandError("logo", f"{path} is damaged ({error}); export the logo again") from None


def _check_logo_header(path: str, image: "Picture") -> None:
    if image.format not in LOGO_FORMATS:
        raise BrandError("logo", f"{path} is a {image.format} image; use a {_FORMATS} file")
    width, height = image.size
    if min(width, height) < MIN_LOGO_SIDE:
        raise BrandError(
            "logo",
            f"{path} is {width}×{height} pixels, too small for the icons; use a logo at least "
            f"{MIN_LOGO_SIDE} pixels on each side (512 or more looks best)",
        )


def _too_large(path: str, pillow_message: str) -> BrandError:
    found = re.search(r"\((\d+) pixels\)", pillow_message)
    size = f"{int(found.group(1)) / 1_000_000:.1f} megapixels" if found else "too many pixels"
    return BrandError(
        "logo",
        f"{path} has {size}, over the limit of {MAX_LOGO_PIXELS // 1_000_000} megapixels; "
        "export the logo at 512 to 1024 pixels",
    )


def _check_text(name: str, value: Any, limit: int | None = None) -> str:
    if not isinstance(value, str):
        raise BrandError(name, f"must be text, not {value!r}")
    text = value.strip()
    if name in ("company", "product") and not text:
        raise BrandError(name, "is empty; give a name of 1 to 60 characters")
    limit = limit or TEXT_LIMITS[name]
    if len(text) > limit:
        raise BrandError(name, f"has {len(text)} characters, more than {limit}; shorten it")
    if name in SINGLE_LINE and any(character < " " for character in text):
        raise BrandError(name, "must be a single line; remove line breaks and tabs")
    return text


def _check_texts(texts: Any) -> dict[str, dict[str, str]]:
    """The texts per language, stripped, without empty ones; a ``BrandError`` names the first wrong one."""
    if not isinstance(texts, Mapping):
        raise BrandError("texts", "must be a table per language, such as [brand.texts.de]")
    checked = {}
    for language, given in texts.items():
        if language not in TEXT_LANGUAGES:
            raise BrandError("texts", f"{language!r} is not a language of the agent; use {' or '.join(TEXT_LANGUAGES)}")
        if not isinstance(given, Mapping):
            raise BrandError(f"texts.{language}", "must be a table of texts, such as welcome = \"…\"")
        words = {}
        for kind, value in given.items():
            if kind not in BRAND_TEXTS:
                raise BrandError(f"texts.{language}", f"{kind!r} is not a brand text; the texts are: {', '.join(BRAND_TEXTS)}")
            words[kind] = _check_text(f"texts.{language}.{kind}", value, BRAND_TEXT_LIMITS[kind])
        if any(words.values()):
            checked[language] = {kind: text for kind, text in words.items() if text}
    return checked


def _check_product_file_name(product: str) -> None:
    unsafe = sorted({character for character in product if character in FILE_NAME_UNSAFE})
    if unsafe:
        raise BrandError(
            "product",
            f"contains {' '.join(unsafe)}, which cannot be in a shortcut's file name; remove them",
        )


def _check_color(name: str, value: Any) -> str:
    try:
        return colors.normalize(value)
    except ValueError as error:
        raise BrandError(name, str(error)) from None
