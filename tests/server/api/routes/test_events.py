"""Opening event streams: a crowd of watchers connecting at once shares a few threads."""

import asyncio
import threading
import time

from server.api.routes.events import OPENING_THREADS, in_opening_thread


def test_a_crowd_of_stream_openings_runs_on_at_most_a_few_threads_at_once():
    running, most = 0, 0
    lock = threading.Lock()

    def opening(number: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)  # a database read
        with lock:
            running -= 1
        return number

    async def crowd():
        return await asyncio.gather(*(in_opening_thread(opening, n) for n in range(10 * OPENING_THREADS)))

    assert asyncio.run(crowd()) == list(range(10 * OPENING_THREADS))
    assert most == OPENING_THREADS
