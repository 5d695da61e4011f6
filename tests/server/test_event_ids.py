"""Public event ids (server/event_ids.py): opaque per company, and exactly reversible with the key."""

import re

import pytest

from server.event_ids import DELIVERY_CONTEXT, NUMBERS, PATTERN, EventIds

KEY = "the server's secret key"


def test_a_public_id_gives_back_its_event_number():
    """Every number an event can have survives the round trip, as 16 lowercase hex digits."""
    ids = EventIds(KEY)
    for number in (0, 1, 2, 41, 12345, NUMBERS[-1]):
        public = ids.public("company-a", number)
        assert re.fullmatch(PATTERN, public)
        assert ids.number("company-a", public) == number


def test_consecutive_events_get_ids_that_neither_sort_nor_count():
    """The ids of events 1..200 are out of order and far apart: they say nothing of how many came between."""
    ids = EventIds(KEY)
    values = [int(ids.public("company-a", number), 16) for number in range(1, 201)]
    assert values != sorted(values) and values != sorted(values, reverse=True)
    assert min(abs(b - a) for a, b in zip(values, values[1:])) > 2**32


def test_each_company_sees_other_ids_for_the_same_number():
    """The same number shows differently to each company, and one company's id names nothing of another's."""
    ids = EventIds(KEY)
    public = ids.public("company-a", 7)
    assert ids.public("company-b", 7) != public
    assert ids.number("company-b", public) != 7


def test_ids_depend_only_on_the_key():
    """Another process (or a restart) with the same key reads the same ids; another key reads others."""
    public = EventIds(KEY).public("company-a", 7)
    assert EventIds(KEY).number("company-a", public) == 7
    assert EventIds("another key").public("company-a", 7) != public


@pytest.mark.parametrize("garbled", ["", "7", "12345", "0123456789ABCDEF", "0123456789abcdefa",
                                     "0123456789abcdeg", " 0123456789abcde", "0123456789abcdef\n"])
def test_a_string_that_is_not_an_id_names_no_event(garbled):
    """Anything but 16 lowercase hex digits (a bare number from before public ids included) is no id."""
    assert EventIds(KEY).number("company-a", garbled) is None


def test_an_id_never_decodes_to_a_number_no_event_can_have():
    """Decoding stays within the numbers of the events table, so a forged id cannot reach the database
    out of range, and only a rare one reaches it at all."""
    ids = EventIds(KEY)
    beyond = ids.public("company-a", NUMBERS[-1] + 1)
    assert ids.number("company-a", beyond) is None
    numbers = [ids.number("company-a", f"{value:016x}") for value in range(0, 2**64, 2**64 // 4096)]
    assert sum(number is not None for number in numbers) <= 1


def test_a_number_out_of_range_is_refused():
    """A negative number or one beyond 64 bits has no public id."""
    ids = EventIds(KEY)
    for number in (-1, 2**64):
        with pytest.raises(ValueError):
            ids.public("company-a", number)


def test_delivery_ids_are_a_permutation_of_their_own():
    """Webhook delivery ids come from the same codec under another context: the same number gives
    another id, and an event id does not decode as a delivery."""
    events, deliveries = EventIds("k" * 32), EventIds("k" * 32, context=DELIVERY_CONTEXT)
    assert deliveries.public("company-a", 41) != events.public("company-a", 41)
    assert deliveries.number("company-a", deliveries.public("company-a", 41)) == 41
    assert deliveries.number("company-a", events.public("company-a", 41)) != 41
