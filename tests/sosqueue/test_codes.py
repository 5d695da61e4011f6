"""Session codes: how customers may type them, how they are shown, and how they are made."""

import re

import pytest
from hypothesis import given, strategies as st

from sosqueue.codes import InvalidCode, display, generate, normalize

CANONICAL = re.compile(r"s\d{8}")
DISPLAYED = re.compile(r"s\d{2}-\d{3}-\d{3}")
eight_digits = st.text("0123456789", min_size=8, max_size=8)


@pytest.mark.parametrize(
    "typed",
    [
        "s12345678",
        "S12345678",
        "s12-345-678",
        "S12-345-678",
        "12 345 678",
        "12345678",
        "12-345-678",
        "  s12-345-678\n",
        "s 12 345 678",
        "s12_345_678",
        "s12.345.678",
        "12\t345\t678",
    ],
)
def test_accepted_spellings_normalize_to_the_canonical_code(typed):
    """Every spelling a customer might read out or paste finds the same code."""
    assert normalize(typed) == "s12345678"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "s",
        "s1234567",
        "s123456789",
        "1234567",
        "x12345678",
        "ss12345678",
        "s12-345-67a",
        "s12/345/678",
        "s12+345+678",
        "s１２３４５６７８",  # fullwidth digits
        "s١٢٣٤٥٦٧٨",  # Arabic-Indic digits
        "s12345678\x00",
        "s12-345-678; DROP TABLE",
        "s-1234567-8x",
    ],
)
def test_rejected_spellings_raise_invalid_code(typed):
    """Anything that is not eight ASCII digits (with an optional s) is not a code."""
    with pytest.raises(InvalidCode):
        normalize(typed)


def test_invalid_code_is_a_value_error_with_a_hint():
    """The error says what a code looks like, so the message can be shown as it is."""
    with pytest.raises(ValueError, match="s12-345-678"):
        normalize("nonsense")


def test_display_groups_the_digits_for_reading_out():
    """The canonical code is shown as s12-345-678."""
    assert display("s12345678") == "s12-345-678"
    assert display("s00000000") == "s00-000-000"


@given(eight_digits)
def test_displayed_code_normalizes_back_to_itself(digits):
    """display and normalize are inverse for every code."""
    code = "s" + digits
    assert DISPLAYED.fullmatch(display(code))
    assert normalize(display(code)) == code
    assert normalize(display(code).upper()) == code
    assert normalize(digits) == code


@given(eight_digits, st.lists(st.sampled_from([" ", "-", "_", "."]), min_size=7, max_size=7))
def test_separators_between_any_digits_are_ignored(digits, separators):
    """Separators may sit anywhere between the digits."""
    typed = "S" + "".join(d + s for d, s in zip(digits, [*separators, ""]))
    assert normalize(typed) == "s" + digits


def test_generated_codes_have_the_canonical_format():
    """Every generated code is s followed by eight digits, and displays as s12-345-678."""
    for code in (generate() for _ in range(1000)):
        assert CANONICAL.fullmatch(code), code
        assert DISPLAYED.fullmatch(display(code))


def test_generated_codes_are_not_sequential():
    """1000 codes in a row are neither increasing nor consecutive, so codes cannot be guessed."""
    made = [int(generate()[1:]) for _ in range(1000)]
    assert made != sorted(made)
    steps = {later - earlier for earlier, later in zip(made, made[1:])}
    assert len(steps) > 900  # random codes have (almost) no repeated step
    assert len(set(made)) > 990  # a few collisions are possible; the database rejects them


def test_generated_codes_use_every_digit_in_every_position():
    """The digits are random in every position, also the first (leading zeros are allowed)."""
    made = [generate() for _ in range(1000)]
    for position in range(1, 9):
        assert {code[position] for code in made} == set("0123456789")
