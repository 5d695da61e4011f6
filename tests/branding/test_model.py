"""The brand model: defaults, validation of every setting, and the logo checks."""

import dataclasses
import io
import warnings

import pytest
from PIL import Image, ImageChops

from sosqueue import module_config, palette
from branding import Brand, BrandError, colors, default_brand
from branding.model import BRAND_TEXT_LIMITS, DEFAULT_LOGO, KEPT_LOGO_SIDE, MAX_LOGO_BYTES, TEXT_LIMITS
from tests.branding.images import ico_around_png, png_header_only


def refused(field: str, match: str, **settings) -> BrandError:
    with pytest.raises(BrandError, match=match) as caught:
        Brand(**settings)
    assert caught.value.field == field
    return caught.value


# --- the default brand and what the agent stores


def test_default_brand_needs_no_files():
    """The default brand is valid as it is: sosqueue's logo, product "Support", white on blue."""
    brand = default_brand()
    assert (brand.company, brand.product) == ("sosqueue", "Support")
    assert brand.logo == DEFAULT_LOGO and brand.logo.is_file()
    assert brand.text_color == "#FFFFFF"
    assert brand.title == "Support"
    assert brand.logo_image.mode == "RGBA"


def test_default_logo_is_what_make_logo_draws():
    """The committed default logo is what branding/default/make_logo.py draws."""
    from branding.default.make_logo import draw_logo

    with Image.open(DEFAULT_LOGO) as committed:
        difference = ImageChops.difference(committed.convert("RGBA"), draw_logo())
    # A Pillow release may round a resampled pixel differently; anything more is a real change.
    assert max(high for _low, high in difference.getextrema()) <= 2


def test_stamped_is_the_agents_brand():
    """stamped() gives the agent's Brand, with computed text colour and title."""
    brand = Brand(company="Acme", product="Acme Help", primary="#ffd400", welcome=" Hi ", language="de")
    stored = brand.stamped()
    assert type(stored) is module_config.Brand
    assert (stored.company, stored.product, stored.welcome, stored.waiting, stored.language) == (
        "Acme", "Acme Help", "Hi", "", "de")
    assert stored.accent == "#E5262A"
    assert stored.on_primary == colors.NEAR_BLACK
    assert stored.window_title == "Acme Help"
    assert stored.primary == "#FFD400"


def test_colours_are_normalised():
    """Colours are stored as upper-case #RRGGBB whatever form was given."""
    brand = Brand(primary="#03a", accent="red", on_primary="#fFf")
    assert (brand.primary, brand.accent, brand.on_primary) == ("#0033AA", "#FF0000", "#FFFFFF")


def test_texts_are_trimmed():
    """Leading and trailing blanks are dropped from every text."""
    brand = Brand(company="  Acme ", product=" Help ", welcome="\n Hello \n")
    assert (brand.company, brand.product, brand.welcome) == ("Acme", "Help", "Hello")


def test_replace_revalidates_and_recomputes_the_text_colour():
    """dataclasses.replace checks the new values and picks a new automatic text colour."""
    brand = Brand()
    assert dataclasses.replace(brand, primary="#FFD400").text_color == colors.NEAR_BLACK
    with pytest.raises(BrandError):
        dataclasses.replace(brand, primary="yellowish")


# --- colours and contrast


@pytest.mark.parametrize("field", ["primary", "accent", "on_primary"])
def test_bad_colour_syntax_names_the_field_and_the_form(field):
    """A bad colour is refused with the field's name and the #RRGGBB form."""
    error = refused(field, "#RRGGBB", **{field: "#12345"})
    assert str(error).startswith(f"brand {field}: ")


def test_low_contrast_text_is_refused_with_a_suggestion():
    """Text below 4.5:1 on the primary colour is an error naming the ratio and the fixes."""
    error = refused("on_primary", "4.48:1", primary="#FFFFFF", on_primary="#777777")
    assert "4.5:1" in error.message and "force_contrast" in error.message and "#111111" in error.message


def test_low_contrast_text_is_accepted_when_forced():
    """force_contrast=True accepts text below the WCAG minimum."""
    assert Brand(primary="#FFFFFF", on_primary="#777777", force_contrast=True).text_color == "#777777"


def test_just_enough_contrast_is_accepted():
    """#767676 on white (4.54:1) passes."""
    assert Brand(primary="#FFFFFF", on_primary="#767676").text_color == "#767676"


def test_every_pair_the_agent_draws_is_checked_and_a_faint_one_is_refused_in_one_line(monkeypatch):
    """A text/background pair of the agent below 4.5:1 names the pair, both colours and the fixes."""
    monkeypatch.setattr(palette, "MUTED", "#AAAAAA")
    with pytest.raises(BrandError) as raised:
        Brand()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("brand colours: the agent would draw helper text as #AAAAAA on #FFFFFF, a contrast of 2.32:1")
    assert "force_contrast" in message


def test_a_faint_pair_of_a_brand_colour_names_that_colour(monkeypatch):
    """A pair drawn with a brand colour points at the setting to change."""
    monkeypatch.setattr(palette, "readable_ink", lambda colour, background: colour)  # links as the primary itself
    with pytest.raises(BrandError) as raised:
        Brand(primary="#66A3FF")
    assert raised.value.field == "primary" and "links as #66A3FF on #FFFFFF" in str(raised.value)


def test_a_faint_agent_pair_is_accepted_when_forced(monkeypatch):
    monkeypatch.setattr(palette, "MUTED", "#AAAAAA")
    assert Brand(force_contrast=True).primary == "#0B5FFF"


@pytest.mark.parametrize(("primary", "accent"), [("#0B5FFF", "#E5262A"), ("#FFCC00", "#FFEB3B"), ("#777777", "#00FFFF"),
                                                 ("#000000", "#FFFFFF"), ("#FFFFFF", "#808080")])
def test_the_agent_picks_readable_colours_for_any_primary_and_accent(primary, accent):
    """Without a chosen text colour every pair passes: light accents get dark text, links darken."""
    brand = Brand(primary=primary, accent=accent)
    assert palette.too_faint(palette.Palette.from_colours(brand.primary, brand.on_primary, brand.accent)) == []


def test_white_on_default_blue_passes():
    """White on #0B5FFF (5.1:1) is accepted without forcing."""
    assert Brand(primary="#0B5FFF", on_primary="#FFFFFF").on_primary == "#FFFFFF"


# --- texts and language


@pytest.mark.parametrize("field", sorted(TEXT_LIMITS))
def test_texts_longer_than_their_limit_are_refused(field):
    """Every text has a length limit; one character over is refused, the limit itself is fine."""
    limit = TEXT_LIMITS[field]
    assert getattr(Brand(**{field: "x" * limit}), field) == "x" * limit
    refused(field, f"{limit + 1} characters, more than {limit}", **{field: "x" * (limit + 1)})


@pytest.mark.parametrize("field", ["company", "product"])
def test_names_must_not_be_empty(field):
    """Company and product names are required."""
    refused(field, "empty", **{field: "   "})


@pytest.mark.parametrize("field", ["company", "product", "window_title"])
def test_names_and_title_must_be_one_line(field):
    """Names and the window title cannot contain line breaks."""
    refused(field, "single line", **{field: "Acme\nHelp"})


def test_welcome_and_waiting_may_span_lines():
    """Longer texts may have line breaks."""
    assert Brand(welcome="Hello.\nWe help.", waiting="One\nTwo").welcome == "Hello.\nWe help."


def test_product_name_must_be_usable_as_a_file_name():
    """Characters a shortcut's file name cannot hold are refused."""
    refused("product", r"contains / :", product="Help/Desk: 24h")


def test_texts_must_be_text():
    """A number where text belongs is refused."""
    refused("welcome", "must be text", welcome=5)


def test_texts_per_language_are_trimmed_and_the_empty_ones_left_out():
    brand = Brand.from_mapping({"texts": {"de": {"welcome": "  Willkommen\nbei uns ", "closed": ""},
                                          "en": {"privacy": "   "}}})
    assert brand.texts == {"de": {"welcome": "Willkommen\nbei uns"}}
    assert brand.stamped().texts == {"de": {"welcome": "Willkommen\nbei uns"}}
    assert Brand.from_mapping(brand.settings()) == brand


@pytest.mark.parametrize("kind", sorted(BRAND_TEXT_LIMITS))
def test_a_text_per_language_longer_than_its_limit_is_refused_naming_language_and_text(kind):
    limit = BRAND_TEXT_LIMITS[kind]
    assert Brand(texts={"de": {kind: "x" * limit}}).texts["de"][kind] == "x" * limit
    refused(f"texts.de.{kind}", f"{limit + 1} characters, more than {limit}", texts={"de": {kind: "x" * (limit + 1)}})


@pytest.mark.parametrize(("texts", "field", "words"), [
    ({"fr": {"welcome": "Bonjour"}}, "texts", "'fr' is not a language of the agent; use en or de"),
    ({"de": {"slogan": "Hallo"}}, "texts.de", "'slogan' is not a brand text; the texts are: welcome, waiting, closed, privacy"),
    ({"de": "Hallo"}, "texts.de", "must be a table of texts"),
    ("Hallo", "texts", "must be a table per language"),
    ({"de": {"welcome": 5}}, "texts.de.welcome", "must be text"),
])
def test_texts_per_language_that_are_not_a_table_of_known_texts_are_refused(texts, field, words):
    refused(field, words, texts=texts)


def test_unknown_language_is_refused():
    """Only auto, en and de are languages."""
    refused("language", "auto, en, de", language="fr")


# --- the logo


def test_missing_logo_file(tmp_path):
    """A logo path that does not exist says so."""
    refused("logo", "does not exist", logo=tmp_path / "nope.png")


def test_logo_that_is_a_folder(tmp_path):
    """A folder is not a logo."""
    refused("logo", "is not a file", logo=tmp_path)


def test_text_file_named_logo_png(tmp_path):
    """A text file with a .png name is refused as not an image, listing the accepted types."""
    path = tmp_path / "logo.png"
    path.write_text("this is not a picture\n")
    refused("logo", "not an image.*PNG, JPEG, GIF, ICO, BMP or WebP", logo=path)


def test_truncated_png_is_refused_as_damaged(tmp_path):
    """A PNG cut in half is refused as damaged."""
    data = DEFAULT_LOGO.read_bytes()
    path = tmp_path / "logo.png"
    path.write_bytes(data[: len(data) // 2])
    refused("logo", "damaged", logo=path)


def test_fifty_megapixel_logo_is_refused(tmp_path):
    """A real 10000×5000 PNG is refused as over 20 megapixels."""
    path = tmp_path / "huge.png"
    Image.new("1", (10_000, 5_000)).save(path)
    refused("logo", "has 50.0 megapixels, over the limit of 20 megapixels", logo=path)


def test_huge_logo_is_refused_from_its_header_without_decoding(tmp_path):
    """A PNG declaring 50 megapixels but holding no pixel data is refused for size, not as damaged."""
    path = png_header_only(tmp_path / "huge.png", 10_000, 5_000)
    refused("logo", "has 50.0 megapixels, over the limit of 20 megapixels", logo=path)


def test_logo_just_over_the_pixel_limit_is_refused(tmp_path):
    """One pixel row more than 20 megapixels allow is refused."""
    path = png_header_only(tmp_path / "big.png", 5_000, 4_001)
    refused("logo", "over the limit of 20 megapixels", logo=path)


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_decompression_bomb_sizes_give_a_brand_error_not_a_pillow_warning(tmp_path, side):
    """Sizes past Pillow's own bomb limits (100 and 400 MP) become a BrandError, and the limit is restored."""
    path = png_header_only(tmp_path / "bomb.png", side, side)
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refused("logo", "over the limit of 20 megapixels", logo=path)
    assert Image.MAX_IMAGE_PIXELS == limit


def test_ico_hiding_a_huge_png_is_refused_before_decoding_it(tmp_path):
    """An ICO whose entry claims 256 pixels but holds a 24-megapixel PNG is refused for size."""
    huge = io.BytesIO()
    Image.new("1", (6_000, 4_000)).save(huge, format="PNG")
    path = ico_around_png(tmp_path / "logo.ico", huge.getvalue())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refused("logo", "has 24.0 megapixels, over the limit of 20 megapixels", logo=path)


def test_ico_holding_a_normal_png_is_accepted(tmp_path):
    """The same kind of ICO with a 256-pixel PNG inside is a fine logo."""
    inner = io.BytesIO()
    Image.new("RGBA", (256, 256), "#0B5FFF").save(inner, format="PNG")
    assert Brand(logo=ico_around_png(tmp_path / "logo.ico", inner.getvalue())).logo_image.size == (256, 256)


def test_logo_file_over_ten_megabytes_is_refused(tmp_path):
    """A file over 10 MB is refused before it is opened."""
    path = tmp_path / "logo.png"
    path.write_bytes(DEFAULT_LOGO.read_bytes() + b"\0" * MAX_LOGO_BYTES)
    refused("logo", "over the limit of 10 MB", logo=path)


@pytest.mark.parametrize("size", [(32, 32), (400, 40)])
def test_logo_smaller_than_64_pixels_is_refused(make_logo, size):
    """A logo with a side under 64 pixels is too small for the icons."""
    refused("logo", "too small.*at least 64 pixels", logo=make_logo(size=size))


def test_unsupported_image_format_is_refused(make_logo):
    """A TIFF is an image, but not one of the logo formats."""
    refused("logo", "is a TIFF image", logo=make_logo("logo.tiff"))


def test_fully_transparent_logo_is_refused(tmp_path):
    """A logo with no visible pixel is refused."""
    path = tmp_path / "logo.png"
    Image.new("RGBA", (128, 128)).save(path)
    refused("logo", "fully transparent", logo=path)


@pytest.mark.parametrize("name", ["logo.png", "logo.jpg", "logo.gif", "logo.ico", "logo.bmp", "logo.webp"])
def test_every_logo_format_is_accepted(make_logo, name):
    """PNG, JPEG, GIF, ICO, BMP and WebP logos load as RGBA."""
    brand = Brand(logo=make_logo(name, size=(256, 256)))
    assert brand.logo_image.mode == "RGBA"
    assert brand.logo_image.size == (256, 256)


def test_large_logo_is_kept_at_most_1024_pixels(make_logo):
    """A 2000-pixel logo is kept reduced, in proportion."""
    brand = Brand(logo=make_logo(size=(2000, 1000)))
    assert brand.logo_image.size == (KEPT_LOGO_SIDE, KEPT_LOGO_SIDE // 2)


def test_jpeg_orientation_is_applied(tmp_path):
    """A JPEG whose EXIF says "rotate 90°" is loaded upright."""
    path = tmp_path / "logo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (200, 100), "#336699").save(path, exif=exif)
    assert Brand(logo=path).logo_image.size == (100, 200)


def test_logo_image_is_a_copy():
    """Changing the returned logo does not change the brand."""
    brand = Brand()
    brand.logo_image.paste((0, 0, 0, 0), (0, 0, 512, 512))
    assert brand.logo_image.getpixel((256, 256))[3] == 255


# --- from a module config's [brand] table


def test_from_mapping_resolves_the_logo_against_the_config_folder(make_logo, tmp_path):
    """A relative logo path starts at the config file's folder."""
    make_logo("acme.png")
    brand = Brand.from_mapping({"logo": "acme.png", "product": "Acme Help"}, base_dir=tmp_path)
    assert brand.logo == tmp_path / "acme.png"
    assert brand.product == "Acme Help"


def test_from_mapping_with_nothing_is_the_default_brand():
    """An empty [brand] table gives the default brand."""
    assert Brand.from_mapping({}) == default_brand()


def test_from_mapping_refuses_unknown_keys_and_lists_the_known_ones():
    """A misspelt key is refused, naming the real settings."""
    with pytest.raises(BrandError, match="not a brand setting.*primary") as caught:
        Brand.from_mapping({"colour": "#FFFFFF"})
    assert caught.value.field == "colour"


@pytest.mark.parametrize("key, value, match", [
    ("primary", 0x0B5FFF, "text in quotes"),
    ("force_contrast", "yes", "true or false"),
    ("logo", 3, "text in quotes"),
])
def test_from_mapping_refuses_wrong_types(key, value, match):
    """Values of the wrong TOML type are refused with the expected type."""
    with pytest.raises(BrandError, match=match):
        Brand.from_mapping({key: value})


def test_brand_error_is_a_value_error_with_field_and_message():
    """BrandError carries the field and the message and reads as one line."""
    error = BrandError("primary", "bad")
    assert isinstance(error, ValueError)
    assert (error.field, error.message, str(error)) == ("primary", "bad", "brand primary: bad")


# -- logos as bytes, as the queue server reads uploads ---------------------------------------


def test_a_logo_read_from_bytes_is_checked_like_a_file_and_named_as_given(tmp_path):
    """decode_logo applies load_logo's checks; its messages name the logo as the caller calls it."""
    from branding.model import decode_logo, load_logo

    assert decode_logo(DEFAULT_LOGO.read_bytes(), "the upload").tobytes() == load_logo(DEFAULT_LOGO).tobytes()
    bomb = png_header_only(tmp_path / "bomb.png", 20_000, 20_000).read_bytes()
    with pytest.raises(BrandError, match="^brand logo: the upload has 400.0 megapixels, over the limit of 20"):
        decode_logo(bomb, "the upload")
    with pytest.raises(BrandError, match="^brand logo: the upload is not an image Pillow can read"):
        decode_logo(b"text", "the upload")
    with pytest.raises(BrandError, match="^brand logo: the upload is 1.0 MB, over the limit of 0.5 MB"):
        decode_logo(b"\0" * 1024 * 1024, "the upload", max_bytes=512 * 1024)


def test_a_brand_with_a_decoded_logo_renders_that_logo_and_keeps_its_settings(make_logo):
    """with_logo swaps the logo image only; settings() is what a config's [brand] says but the logo."""
    from branding.model import decode_logo, logo_png

    logo = Brand(logo=make_logo("logo.png", size=(200, 100))).logo_image
    brand = Brand(product="Help", primary="#1A7F37").with_logo(decode_logo(logo_png(logo), "x"), "x")
    assert brand.logo_image.tobytes() == logo.tobytes()
    assert Brand.from_mapping(brand.settings()) == Brand(product="Help", primary="#1A7F37")
