"""The token bucket behind the creation limit, on a clock the test moves."""

import pytest

from server.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_allowed_then_the_next_waits_for_one_token():
    """With 6 a minute and a burst of 3, the fourth call waits exactly 10 s."""
    limiter = RateLimiter(per_minute=6, burst=3, clock=Clock())
    assert [limiter.acquire("module:a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("module:a") == 10.0


def test_tokens_come_back_at_the_rate():
    """Four seconds after the burst, a token is 40 % back: the wait is 6 s; a bit later it passes."""
    clock = Clock()
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("module:a")
    clock.now += 4
    assert limiter.acquire("module:a") == pytest.approx(6.0)
    clock.now += 6.5
    assert limiter.acquire("module:a") == 0.0


def test_callers_have_buckets_of_their_own():
    """One caller's flood does not slow another."""
    limiter = RateLimiter(per_minute=6, burst=1, clock=Clock())
    assert limiter.acquire("module:a") == 0.0
    assert limiter.acquire("module:a") == 10.0
    assert limiter.acquire("module:b") == 0.0


def test_a_rate_of_zero_turns_the_limit_off():
    """per_minute=0 never refuses."""
    limiter = RateLimiter(per_minute=0, burst=1, clock=Clock())
    assert not limiter.enabled
    assert [limiter.acquire("module:a") for _ in range(50)] == [0.0] * 50
