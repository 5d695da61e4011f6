"""Rendering the icons, tray icons, banner, logo and preview from a brand."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from sosqueue import module_config
from branding import Brand, colors, render
from branding.render import (APP_SIZE, BANNER_SIZE, ICNS_SIZES, ICO_SIZES, LOGO_SIZE, PREVIEW_SIZE,
                             STATUS_BADGES, TRAY_SIZE, TRAY_STATUSES, preview, render_assets, render_icns)
from tests.branding.images import draw_mark


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def share_near(image: Image.Image, color: str, box=None, tolerance: int = 40) -> float:
    """The share of pixels in ``box`` that are opaque and within ``tolerance`` of ``color``."""
    region = image.convert("RGBA").crop(box or (0, 0, *image.size))
    solid = Image.new("RGB", region.size, colors.to_rgb(color))
    red, green, blue = ImageChops.difference(region.convert("RGB"), solid).split()
    farthest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    close = farthest.point(lambda v: 255 if v <= tolerance else 0)
    opaque = region.getchannel("A").point(lambda v: 255 if v > 200 else 0)
    return ImageChops.multiply(close, opaque).histogram()[255] / (region.width * region.height)


@pytest.fixture(scope="module")
def default_assets():
    return render_assets(Brand())


@pytest.fixture
def big_logo_brand(tmp_path):
    """A brand with a free-standing 1024-pixel logo mark on transparency."""
    path = tmp_path / "mark.png"
    draw_mark((1024, 1024)).save(path)
    return Brand(company="Delta GmbH", product="Delta Hilfe", logo=path, primary="#2E7D32", accent="#FFA500")


def test_asset_names_are_the_agents():
    """render_assets produces exactly the names sosqueue.module_config expects, in its order."""
    assert tuple(render_assets(Brand())) == module_config.ASSET_NAMES


@pytest.mark.parametrize("name, size", [
    ("app.png", (APP_SIZE, APP_SIZE)),
    ("sos.png", (APP_SIZE, APP_SIZE)),
    ("tray-idle.png", (TRAY_SIZE, TRAY_SIZE)),
    ("tray-waiting.png", (TRAY_SIZE, TRAY_SIZE)),
    ("tray-connected.png", (TRAY_SIZE, TRAY_SIZE)),
    ("banner.png", BANNER_SIZE),
])
def test_png_assets_have_their_sizes(default_assets, name, size):
    """Each PNG asset is an RGBA PNG of its documented size."""
    image = opened(default_assets[name])
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", size)


@pytest.mark.parametrize("name", ["app.ico", "sos.ico"])
def test_ico_assets_hold_every_size_from_16_to_256(default_assets, name):
    """Both icon files hold 16, 24, 32, 48, 64, 128 and 256 pixel images."""
    icon = opened(default_assets[name])
    assert icon.format == "ICO"
    assert icon.info["sizes"] == {(size, size) for size in ICO_SIZES}
    for size in ICO_SIZES:
        icon.size = (size, size)
        icon.load()
        assert icon.im.size == (size, size)


def test_small_ico_sizes_are_drawn_for_their_size_not_shrunk(default_assets):
    """The 32-pixel SOS icon is its own layout, not the 256-pixel one reduced."""
    icon = opened(default_assets["sos.ico"])
    icon.size = (32, 32)
    small = icon.convert("RGBA")
    icon.size = (256, 256)
    shrunk = icon.convert("RGBA").resize((32, 32), Image.Resampling.LANCZOS)
    assert ImageChops.difference(small, shrunk).getbbox() is not None


def test_logo_asset_is_at_most_256_pixels_and_cropped(tmp_path):
    """logo.png is the visible part of the logo, at most 256 pixels a side."""
    path = tmp_path / "padded.png"
    padded = Image.new("RGBA", (1000, 600))
    padded.paste(Image.new("RGBA", (400, 200), "#123456"), (300, 200))
    padded.save(path)
    logo = opened(render_assets(Brand(logo=path))["logo.png"])
    assert logo.size == (LOGO_SIZE, LOGO_SIZE // 2)
    assert logo.getchannel("A").getbbox() == (0, 0, *logo.size)


def test_icns_holds_the_mac_sizes():
    """render_icns writes an ICNS file with every size up to 1024 pixels."""
    icns = Image.open(io.BytesIO(render_icns(Brand())))
    assert icns.format == "ICNS"
    assert {width * scale for width, _height, scale in icns.info["sizes"]} == set(ICNS_SIZES)
    icns.size = (1024, 1024)
    icns.load()
    assert icns.im.size == (1024, 1024)


def test_rendering_is_deterministic(big_logo_brand):
    """The same brand renders to the same bytes, and so does an equal brand made again."""
    first = render_assets(big_logo_brand)
    assert render_assets(big_logo_brand) == first
    again = Brand(company="Delta GmbH", product="Delta Hilfe", logo=big_logo_brand.logo,
                  primary="#2e7d32", accent="orange")
    assert render_assets(again) == first
    assert render_icns(big_logo_brand) == render_icns(again)


def test_tray_icons_differ_per_status(default_assets):
    """Idle, waiting and connected tray icons are pairwise different pictures."""
    icons = {status: opened(default_assets[f"tray-{status}.png"]) for status in TRAY_STATUSES}
    for first, second in [("idle", "waiting"), ("idle", "connected"), ("waiting", "connected")]:
        difference = ImageChops.difference(icons[first], icons[second]).convert("L")
        changed = sum(1 for value in difference.getdata() if value > 48)
        assert changed > TRAY_SIZE * TRAY_SIZE * 0.08, (first, second)


@pytest.mark.parametrize("status", ["waiting", "connected"])
def test_tray_status_badge_has_its_colour_in_the_corner(default_assets, status):
    """Waiting shows an amber badge and connected a green one, bottom right; idle has neither."""
    corner = (TRAY_SIZE // 2, TRAY_SIZE // 2, TRAY_SIZE, TRAY_SIZE)
    badge_color = STATUS_BADGES[status][0]
    assert share_near(opened(default_assets[f"tray-{status}.png"]), badge_color, corner) > 0.25
    assert share_near(opened(default_assets["tray-idle.png"]), badge_color, corner) < 0.02


@pytest.mark.parametrize("size", [32, 48, 256])
def test_sos_icon_has_an_accent_badge_with_contrasting_text(default_assets, size):
    """The SOS icon's lower part is the accent colour with text in a contrasting colour on it."""
    icon = opened(default_assets["sos.ico"])
    icon.size = (size, size)
    image = icon.convert("RGBA")
    lower = (0, size * 6 // 10, size, size * 9 // 10)
    accent = Brand().accent
    assert share_near(image, accent, lower) > 0.3
    assert share_near(image, colors.best_text_color(accent), lower) > 0.08
    assert share_near(image, accent, (0, 0, size, size // 4)) < 0.05


def test_sos_icon_differs_from_app_icon(default_assets):
    """The SOS shortcut icon is not the plain app icon."""
    assert ImageChops.difference(opened(default_assets["app.png"]), opened(default_assets["sos.png"])).getbbox()


def test_banner_is_primary_with_the_product_name_in_the_text_colour():
    """The banner's background is the primary colour; its text area holds the text colour."""
    brand = Brand(product="Acme Help", primary="#FFD400")
    banner = opened(render_assets(brand)["banner.png"])
    assert banner.getpixel((2, 2)) == (*colors.to_rgb("#FFD400"), 255)
    assert banner.getpixel((BANNER_SIZE[0] - 2, BANNER_SIZE[1] - 2)) == (*colors.to_rgb("#FFD400"), 255)
    text_area = (120, 20, BANNER_SIZE[0], BANNER_SIZE[1] // 2 + 4)
    assert share_near(banner, brand.text_color, text_area, tolerance=30) > 0.03


def test_banner_changes_with_the_primary_colour():
    """A different primary colour gives a different banner."""
    blue = render_assets(Brand(primary="#0B5FFF"))["banner.png"]
    green = render_assets(Brand(primary="#2E7D32"))["banner.png"]
    assert blue != green


def test_long_names_fit_in_the_banner():
    """A 60-character product name is shrunk or shortened, never drawn past the right edge."""
    brand = Brand(product="W" * 60, company="M" * 60)
    banner = opened(render_assets(brand)["banner.png"])
    right_strip = (BANNER_SIZE[0] - 16, 0, BANNER_SIZE[0], BANNER_SIZE[1])
    assert share_near(banner, brand.primary, right_strip, tolerance=0) == 1.0


def test_wide_logo_gets_a_monogram_icon(make_logo):
    """A word-mark logo (wider than 2.2:1) becomes a primary-coloured tile with the first letter."""
    brand = Brand(product="acme help", logo=make_logo("wordmark.png", size=(900, 200)), primary="#C2185B")
    app = opened(render_assets(brand)["app.png"])
    assert share_near(app, "#C2185B", tolerance=4) > 0.5
    assert share_near(app, brand.text_color, tolerance=30) > 0.05


def test_free_standing_logo_sits_on_a_white_plate(big_logo_brand):
    """A transparent logo mark gets a white plate, so it shows on dark desktops and panels."""
    tray = opened(render_assets(big_logo_brand)["tray-idle.png"])
    edge = (TRAY_SIZE // 2 - 4, 2, TRAY_SIZE // 2 + 4, 6)
    assert share_near(tray, "#FFFFFF", edge, tolerance=10) == 1.0


def test_opaque_logo_gets_rounded_corners(make_logo):
    """An opaque square logo keeps its pixels but loses its corners."""
    brand = Brand(logo=make_logo("photo.png", size=(600, 600), background="#FFD400"))
    app = opened(render_assets(brand)["app.png"])
    assert app.getpixel((0, 0))[3] == 0
    assert app.getpixel((APP_SIZE // 2, 10))[:3] == colors.to_rgb("#FFD400")


def test_font_is_dejavu_bold_on_debian():
    """Text is set in DejaVu Sans Bold where Debian installs it."""
    if not Path(render._FONT_FILES[True][0]).is_file():
        pytest.skip("DejaVu fonts are not installed (apt install fonts-dejavu-core)")
    assert render.font(20).path == render._FONT_FILES[True][0]


@pytest.fixture
def no_fonts(monkeypatch):
    """No font file where render looks, and no fc-match on PATH; caches are cleared around it."""
    monkeypatch.setattr(render, "_FONT_FILES", {True: ("/nonexistent/b.ttf",), False: ("/nonexistent/r.ttf",)})
    monkeypatch.setenv("PATH", "")
    render.clear_font_cache()
    yield
    monkeypatch.undo()
    render.clear_font_cache()


def test_renders_without_any_installed_font(no_fonts):
    """With no font files and no fc-match, Pillow's built-in font is used and rendering works."""
    assert render._font_file(True) is None
    assets = render_assets(Brand())
    assert opened(assets["banner.png"]).size == BANNER_SIZE
    assert opened(assets["sos.png"]).size == (APP_SIZE, APP_SIZE)


def test_preview_has_its_size_and_the_brand_colours(default_assets):
    """The preview is an RGB picture of the documented size showing the banner's primary colour."""
    picture = preview(Brand(), default_assets)
    assert (picture.mode, picture.size) == ("RGB", PREVIEW_SIZE)
    assert share_near(picture, Brand().primary, tolerance=2) > 0.05
    assert share_near(picture, Brand().accent, tolerance=2) > 0.003


def test_preview_follows_the_language(default_assets):
    """A German brand previews a German window (different text, same layout size)."""
    english = preview(Brand(language="en"), default_assets)
    german = preview(Brand(language="de"), default_assets)
    assert german.size == english.size
    assert ImageChops.difference(english, german).getbbox() is not None


def test_a_language_can_be_chosen_for_the_preview(default_assets):
    """A brand for every language (auto) previews in English unless asked for German."""
    assert render.preview_language(Brand()) == "en"
    german = preview(Brand(language="de"), default_assets)
    assert ImageChops.difference(german, preview(Brand(), default_assets, language="de")).getbbox() is None


def test_sample_renders_are_kept_for_ci(artifacts_dir, big_logo_brand, make_logo):
    """Sample assets and previews of three brands are written to test-artifacts/branding/."""
    brands = {
        "default": Brand(),
        "mark": big_logo_brand,
        "wordmark": Brand(company="ACME Corporation", product="ACME Fernwartung", language="de",
                          logo=make_logo("wordmark.jpg", size=(1000, 280), color="#C2185B"),
                          primary="#FFD400", accent="#C2185B"),
    }
    folder = artifacts_dir / "branding"
    for name, brand in brands.items():
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        assets = render_assets(brand)
        for asset, data in assets.items():
            (target / asset).write_bytes(data)
        (target / "app.icns").write_bytes(render_icns(brand))
        preview(brand, assets).save(target / "preview.png")
        assert Image.open(target / "preview.png").size == PREVIEW_SIZE
        assert sorted(path.name for path in target.iterdir()) == sorted([*assets, "app.icns", "preview.png"])


@pytest.mark.parametrize(("product", "name"), [("Acme Help", "Acme Help SOS"), ("Acme SOS", "Acme SOS")])
def test_the_desktop_label_is_what_the_sos_shortcut_is_called(product, name):
    """The preview's desktop shows the SOS shortcut's real name, not the product name."""
    assert render.shortcut_name(Brand(product=product)) == name


def test_the_preview_shows_the_modules_form(default_assets):
    """Hiding a field and the diagnostics changes the previewed form; the default options are the defaults."""
    plain = preview(Brand(), default_assets)
    fewer = module_config.Options(fields=module_config.Fields(name="hidden"), diagnostics=False)
    assert ImageChops.difference(plain, preview(Brand(), default_assets, options=fewer)).getbbox() is not None
    same = preview(Brand(), default_assets, options=module_config.Options())
    assert ImageChops.difference(plain, same).getbbox() is None


def test_window_picture_is_the_window_size_and_lists_what_it_drew(default_assets):
    """Each previewed state is a window-sized picture; every text drawn lies inside it, top to bottom."""
    from sosqueue import window_layout

    for state in window_layout.PREVIEW_STATES:
        picture, drawn = render.window_picture(Brand(), default_assets, state)
        assert picture.size == (window_layout.WINDOW_WIDTH, window_layout.WINDOW_HEIGHT)
        assert drawn and all(0 <= part.box[1] < part.box[3] <= window_layout.WINDOW_HEIGHT for part in drawn)
        assert [part.box[1] for part in drawn] == sorted(part.box[1] for part in drawn)
