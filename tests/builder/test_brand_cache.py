"""Rendered brands kept in the user's cache: reused while the brand is unchanged, rendered again
when anything the rendering reads changes, never used when damaged."""

from pathlib import Path

import pytest
from PIL import Image

from branding import render
from branding.model import Brand
from builder import brand_cache
from sosqueue.module_config import ASSET_NAMES
from tests.branding.images import draw_mark


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def logo(tmp_path) -> Path:
    path = tmp_path / "logo.png"
    draw_mark((256, 256)).save(path)
    return path


def deferred(**settings) -> Brand:
    return Brand(**settings, defer_logo=True)


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.bin"))


def test_a_kept_brand_is_byte_identical_to_a_fresh_rendering(cache, logo, monkeypatch):
    """The second call reads the entry the first wrote: the same bytes, without rendering."""
    brand = deferred(logo=logo, product="Helpdesk", primary="#224466")
    first = brand_cache.rendered(brand, directory=cache)
    assert first == render.render_assets(Brand(logo=logo, product="Helpdesk", primary="#224466"))
    assert tuple(first) == ASSET_NAMES
    monkeypatch.setattr(render, "render_assets", lambda brand: pytest.fail("rendered again"))
    assert brand_cache.rendered(deferred(logo=logo, product="Helpdesk", primary="#224466"), directory=cache) == first
    assert len(entries(cache)) == 1


def test_a_kept_brand_is_used_without_decoding_the_logo(cache, logo):
    """A hit never touches the logo's pixels: a brand made with defer_logo stays undecoded."""
    brand_cache.rendered(deferred(logo=logo), directory=cache)
    again = deferred(logo=logo)
    brand_cache.rendered(again, directory=cache)
    assert again._logo_image is None


@pytest.mark.parametrize("change", [
    {"primary": "#0F766E"},
    {"accent": "#7C3AED"},
    {"product": "Hotline"},
    {"company": "Example Ltd"},
    {"on_primary": "#F1F5F9"},
])
def test_a_changed_setting_is_rendered_anew(cache, logo, change):
    """Another colour or name: a new entry, with the images of the new brand."""
    before = brand_cache.rendered(deferred(logo=logo), directory=cache)
    after = brand_cache.rendered(deferred(logo=logo, **change), directory=cache)
    assert after == render.render_assets(Brand(logo=logo, **change))
    assert after != before
    assert len(entries(cache)) == 2


def test_a_changed_logo_file_is_rendered_anew(cache, logo):
    """New bytes at the same path: the new logo is drawn, not the kept one."""
    before = brand_cache.rendered(deferred(logo=logo), directory=cache)
    draw_mark((256, 256), color="#C2410C").save(logo)
    after = brand_cache.rendered(deferred(logo=logo), directory=cache)
    assert after["logo.png"] != before["logo.png"]
    assert after == render.render_assets(Brand(logo=logo))


def test_a_changed_renderer_is_rendered_anew(cache, logo, monkeypatch):
    """Another renderer identity (its code, Pillow, the fonts) is another key."""
    brand_cache.rendered(deferred(logo=logo), directory=cache)
    monkeypatch.setattr("branding.fingerprint._renderer_identity", lambda: "another renderer")
    brand_cache.rendered(deferred(logo=logo), directory=cache)
    assert len(entries(cache)) == 2


@pytest.mark.parametrize("damage", [
    lambda data: data[:-1],
    lambda data: data[:20],
    lambda data: data[:-5] + bytes(5),
    lambda data: b"",
    lambda data: b"not an entry at all",
])
def test_a_damaged_entry_is_rendered_again_and_rewritten(cache, logo, damage):
    """A cut-short or changed entry is never used: the brand is rendered and the entry replaced."""
    fresh = brand_cache.rendered(deferred(logo=logo), directory=cache)
    [entry] = entries(cache)
    intact = entry.read_bytes()
    entry.write_bytes(damage(intact))
    assert brand_cache.rendered(deferred(logo=logo), directory=cache) == fresh
    assert entry.read_bytes() == intact


def test_an_entry_with_other_files_is_not_used(cache, logo):
    """An intact entry that does not hold exactly the asset names of this version is rendered again."""
    fresh = brand_cache.rendered(deferred(logo=logo), directory=cache)
    [entry] = entries(cache)
    entry.write_bytes(brand_cache.encode({name: data for name, data in fresh.items() if name != "banner.png"}))
    assert brand_cache.rendered(deferred(logo=logo), directory=cache) == fresh
    assert brand_cache.decode(entry.read_bytes()) == fresh


def test_a_decoded_logo_is_rendered_and_not_kept(cache, logo):
    """A brand holding a decoded logo (the queue's) has no file bytes to key: rendered every time."""
    brand = Brand().with_logo(Image.open(logo), "the queue's logo")
    assert brand_cache.rendered(brand, directory=cache) == render.render_assets(brand)
    assert entries(cache) == []


def test_an_unwritable_cache_still_renders(tmp_path, logo):
    """A cache that cannot be written costs only the rendering."""
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    assert brand_cache.rendered(deferred(logo=logo), directory=blocked / "cache") == render.render_assets(Brand(logo=logo))


def test_only_the_newest_entries_are_kept(cache, logo, monkeypatch):
    """Writing beyond KEPT_ENTRIES removes the oldest entries."""
    monkeypatch.setattr(brand_cache, "KEPT_ENTRIES", 2)
    for product in ("One", "Two", "Three"):
        brand_cache.rendered(deferred(logo=logo, product=product), directory=cache)
    assert len(entries(cache)) == 2


def test_a_bad_logo_deferred_is_refused_when_rendered(tmp_path, cache):
    """defer_logo reads the bytes; the decoding, at rendering, refuses them as construction would."""
    path = tmp_path / "logo.png"
    path.write_text("this is not a picture\n")
    brand = deferred(logo=path)
    with pytest.raises(ValueError, match="not an image"):
        brand_cache.rendered(brand, directory=cache)
    assert entries(cache) == []
