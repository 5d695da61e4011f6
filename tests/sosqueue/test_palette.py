"""The agent's colours: WCAG maths, colours derived from the brand, the pairs the builder checks."""

import pytest

from sosqueue import palette
from sosqueue.palette import MIN_TEXT_CONTRAST, Palette, contrast_ratio


def test_contrast_ratio_matches_wcag():
    """Black on white is 21:1, a colour on itself 1:1, #767676 on white just over 4.5:1."""
    assert round(contrast_ratio("#000000", "#FFFFFF"), 2) == 21.0
    assert contrast_ratio("#0B5FFF", "#0B5FFF") == 1.0
    assert round(contrast_ratio("#767676", "#FFFFFF"), 2) == 4.54


@pytest.mark.parametrize(("background", "text"), [("#FFFFFF", "#111111"), ("#0B5FFF", "#FFFFFF"),
                                                  ("#FFEB3B", "#111111"), ("#000000", "#FFFFFF")])
def test_text_on_a_colour_is_white_or_near_black_by_contrast(background, text):
    assert palette.readable_text(background) == text


def test_a_light_brand_colour_as_text_is_darkened_until_it_reads():
    ink = palette.readable_ink("#FFCC00", palette.SURFACE)
    assert contrast_ratio(ink, palette.SURFACE) >= MIN_TEXT_CONTRAST
    assert palette.readable_ink("#0B5FFF", palette.WHITE) == "#0B5FFF"  # readable already: kept


@pytest.mark.parametrize("primary", ["#0B5FFF", "#FFCC00", "#777777"])
def test_hover_and_press_move_away_from_the_text_colour(primary):
    colours = Palette.from_colours(primary, None, "#E5262A")
    on_text = contrast_ratio(colours.on_primary, primary)
    assert contrast_ratio(colours.on_primary, colours.primary_active) >= on_text
    assert contrast_ratio(colours.on_primary, colours.primary_pressed) >= contrast_ratio(colours.on_primary,
                                                                                            colours.primary_active)


def test_the_default_colours_pass_every_pair():
    assert palette.too_faint(Palette.from_colours("#0B5FFF", None, "#E5262A")) == []


def test_the_old_amber_and_a_white_on_yellow_bar_would_not_pass():
    """What the list guards against: amber #B26A00 on white, and white text on a yellow accent."""
    assert contrast_ratio("#B26A00", palette.WHITE) < MIN_TEXT_CONTRAST <= contrast_ratio(palette.WAITING, palette.WHITE)
    assert Palette.from_colours("#0B5FFF", None, "#FFEB3B").on_accent != palette.WHITE


def test_a_bad_colour_from_a_module_falls_back():
    assert palette.valid_colour("blue", "#0B5FFF") == "#0B5FFF"
    assert palette.valid_colour("#abcdef", "#0B5FFF") == "#ABCDEF"
