"""Colour parsing and WCAG 2.x contrast maths."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branding import colors


@pytest.mark.parametrize("text, expected", [
    ("#0B5FFF", "#0B5FFF"),
    ("#0b5fff", "#0B5FFF"),
    ("#abc", "#AABBCC"),
    ("#FfF", "#FFFFFF"),
    ("  #123456 ", "#123456"),
    ("White", "#FFFFFF"),
    ("navy", "#000080"),
])
def test_normalize_accepts_hex_and_names_in_any_case(text, expected):
    """#RGB, #RRGGBB and the basic names normalise to upper-case #RRGGBB."""
    assert colors.normalize(text) == expected


@pytest.mark.parametrize("text", ["", "#12", "#1234", "#GGGGGG", "123456", "blue!", "rgb(0,0,0)", "#0B5FFF0",
                                  None, 255])
def test_normalize_refuses_what_is_not_a_colour_and_shows_the_form(text):
    """Bad colour syntax raises ValueError whose message shows the accepted form."""
    with pytest.raises(ValueError, match="#RRGGBB"):
        colors.normalize(text)


def test_rgb_round_trip():
    """to_rgb and to_hex are inverses."""
    assert colors.to_rgb("#0B5FFF") == (11, 95, 255)
    assert colors.to_hex((11, 95, 255)) == "#0B5FFF"


def test_relative_luminance_of_white_and_black():
    """White has luminance 1 and black 0."""
    assert colors.relative_luminance("#FFFFFF") == pytest.approx(1.0)
    assert colors.relative_luminance("#000000") == pytest.approx(0.0)


@pytest.mark.parametrize("foreground, background, ratio", [
    ("#000000", "#FFFFFF", 21.0),
    ("#FFFFFF", "#0B5FFF", 5.13),
    ("#777777", "#FFFFFF", 4.48),
    ("#767676", "#FFFFFF", 4.54),
    ("#FFFFFF", "#FF0000", 4.00),
    ("#0B5FFF", "#0B5FFF", 1.0),
])
def test_contrast_ratio_matches_known_pairs(foreground, background, ratio):
    """Contrast ratios match published WCAG values for well-known pairs."""
    assert colors.contrast_ratio(foreground, background) == pytest.approx(ratio, abs=0.01)


def test_grey_777_on_white_fails_the_text_minimum():
    """#777 on white is just below 4.5:1, the classic near miss."""
    assert colors.contrast_ratio("#777", "#FFF") < colors.MIN_TEXT_CONTRAST
    assert colors.contrast_ratio("#767676", "#FFF") > colors.MIN_TEXT_CONTRAST


@given(st.tuples(*[st.integers(0, 255)] * 3), st.tuples(*[st.integers(0, 255)] * 3))
def test_contrast_ratio_is_symmetric_and_grows_as_the_lighter_colour_turns_white(first, second):
    """The order of the colours does not matter; a colour against itself is 1:1; whitening the
    lighter one never lowers the contrast."""
    a, b = colors.to_hex(first), colors.to_hex(second)
    assert colors.contrast_ratio(a, b) == pytest.approx(colors.contrast_ratio(b, a))
    assert colors.contrast_ratio(a, a) == pytest.approx(1.0)
    darker = min(a, b, key=colors.relative_luminance)
    assert colors.contrast_ratio(darker, "#FFFFFF") >= colors.contrast_ratio(a, b) - 1e-9


@pytest.mark.parametrize("background, text", [
    ("#0B5FFF", colors.WHITE),
    ("#FFD400", colors.NEAR_BLACK),
    ("#FFFFFF", colors.NEAR_BLACK),
    ("#111111", colors.WHITE),
    ("#777777", colors.BLACK),
])
def test_best_text_color_picks_white_near_black_or_black(background, text):
    """Text on a background is white or near-black, and pure black where neither reaches 4.5:1."""
    assert colors.best_text_color(background) == text


@given(st.tuples(*[st.integers(0, 255)] * 3))
def test_best_text_color_always_reaches_the_wcag_minimum(rgb):
    """Whatever the background, the picked text colour has at least 4.5:1 contrast."""
    background = colors.to_hex(rgb)
    assert colors.contrast_ratio(colors.best_text_color(background), background) >= colors.MIN_TEXT_CONTRAST


def test_mix_blends_between_two_colours():
    """mix returns the first colour at 0, the second at 1 and the midpoint between."""
    assert colors.mix("#000000", "#FFFFFF", 0) == "#000000"
    assert colors.mix("#000000", "#FFFFFF", 1) == "#FFFFFF"
    assert colors.mix("#000000", "#FFFFFF", 0.5) == "#808080"
