"""Waiting for things to happen, without asserting how long they take."""

import time

GENEROUS = 60.0


def eventually(condition, *, timeout: float = GENEROUS, interval: float = 0.02, what: str = "condition"):
    """Poll ``condition()`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come true within {timeout} s")
        time.sleep(interval)
