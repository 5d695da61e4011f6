"""Running a coroutine to the end from a test, whatever else runs in the test's thread.

Playwright's synchronous API keeps an event loop running in the main thread for as long as a
browser fixture lives, and ``asyncio.run`` refuses to start under a running loop: so the
coroutine gets a thread and a loop of its own.
"""

import asyncio
import threading


def run_apart(coroutine):
    """``asyncio.run(coroutine)`` in a thread of its own; returns its result or raises its error."""
    outcome = {}

    def run():
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as error:  # handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="test-event-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
