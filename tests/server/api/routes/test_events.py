"""Opening event streams: a crowd of watchers connecting at once shares a few threads."""

import asyncio
import threading
import time

from server.api.routes.events import OPENING_THREADS, in_opening_thread
from tests.support.loops import run_apart


def test_a_crowd_of_stream_openings_runs_on_at_most_a_few_threads_at_once():
    running, most = 0, 0
    lock = threading.Lock()
    all_busy = threading.Event()

    def opening(number: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == OPENING_THREADS:
                all_busy.set()
        # The first openings hold their threads until every allowed one is busy, and a while longer:
        # long enough for a thread beyond the limit to start, however loaded the machine is.
        all_busy.wait(timeout=10)
        time.sleep(0.05)  # a database read
        with lock:
            running -= 1
        return number

    async def crowd():
        return await asyncio.gather(*(in_opening_thread(opening, n) for n in range(10 * OPENING_THREADS)))

    assert run_apart(crowd()) == list(range(10 * OPENING_THREADS))
    assert most == OPENING_THREADS
