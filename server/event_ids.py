"""Public event ids: an event's place in its company's stream, and nothing about anyone else.

Events are numbered by one sequence for every company (``request_events.id``), so those numbers
would let a company count the events of all the others between two of its own. Clients see each
id through a keyed permutation of 64 bits instead: a Feistel network whose round function is keyed
BLAKE2b (a PRF from the standard library), keyed per company from the server's secret key. The
ids look random, say nothing of order or distance, differ between companies for the same number,
and still resume a stream exactly: decoding gives the number back. They are strings of
:data:`LENGTH` lowercase hex digits everywhere (the history, the streams' ``id:``, their JSON).

Every server process sharing a database has the same secret key (``server.state.load_secret_key``),
so an id stays valid across processes and restarts.
"""

import hashlib
import hmac
import re
from functools import lru_cache

#: Hex digits in a public id (64 bits).
LENGTH = 16
#: The numbers events can have: ``request_events.id`` is an INTEGER (32 bits, signed).
NUMBERS = range(2**31)
_CONTEXT = b"sosqueue event ids v1"
#: The same for webhook deliveries (``X-Sosqueue-Delivery``): notifications are one sequence too.
DELIVERY_CONTEXT = b"sosqueue delivery ids v1"
_ROUNDS = 10  # as NIST's FF1 for small domains; each round costs about half a microsecond
_HALF = 0xFFFFFFFF
_DIGITS = f"[0-9a-f]{{{LENGTH}}}"
#: What a public id looks like (for the API's schema).
PATTERN = f"^{_DIGITS}$"
_ID = re.compile(_DIGITS)


class EventIds:
    """Turns an event's number into its public id for a company, and back; with another ``context``,
    the numbers of another sequence (:data:`DELIVERY_CONTEXT`), whose ids never match an event's."""

    def __init__(self, secret_key: str, *, context: bytes = _CONTEXT):
        master = hmac.digest(secret_key.encode(), context, "sha256")
        self._rounds = lru_cache(maxsize=4096)(lambda company_id: _round_functions(master, company_id))

    def public(self, company_id: str, number: int) -> str:
        """The id clients of ``company_id`` see for event ``number`` (0: before any event)."""
        if not 0 <= number < 2**64:
            raise ValueError(f"event number out of range: {number}")
        left, right = number >> 32, number & _HALF
        for function in self._rounds(company_id):
            left, right = right, left ^ _apply(function, right)
        return f"{left << 32 | right:0{LENGTH}x}"

    def number(self, company_id: str, public: str) -> int | None:
        """The event number behind ``public`` for ``company_id``; None unless it has the form of an id
        and decodes to one of the :data:`NUMBERS` (a forged id does so once in 2**33).

        Whether that number is an event of the company is for the caller to check: an id of another
        company decodes to a number at random.
        """
        if not _ID.fullmatch(public):
            return None
        value = int(public, 16)
        left, right = value >> 32, value & _HALF
        for function in reversed(self._rounds(company_id)):
            left, right = right ^ _apply(function, left), left
        number = left << 32 | right
        return number if number in NUMBERS else None


def _round_functions(master: bytes, company_id: str) -> tuple:
    """The company's round functions: BLAKE2b keyed for the company, primed with the round's number."""
    key = hmac.digest(master, company_id.encode(), "sha256")
    return tuple(hashlib.blake2b(bytes([round_]), key=key, digest_size=4) for round_ in range(_ROUNDS))


def _apply(function, half: int) -> int:
    state = function.copy()
    state.update(half.to_bytes(4, "big"))
    return int.from_bytes(state.digest(), "big")
