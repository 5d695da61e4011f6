"""A watcher's subscription as its stream reads it: waiting readers get every event once, in
order; keepalives only after a quiet period; and the fan-out gives way to requests awaiting
their answer."""

import asyncio
import threading

from server import events
from server.events import _FAN_OUT_SLICE, KEEPALIVE
from tests.server.test_events import COMPANY, bound_broker, drained, settled, wire
from tests.support.loops import run_apart


async def read(subscription, count: int) -> list[int]:
    return [(await subscription.get()).id for _ in range(count)]


def test_waiting_readers_get_every_event_once_in_order_while_a_thread_publishes():
    """Readers wait on their subscription while batches arrive: some events reach a waiting
    reader directly, others pile up while it is busy; each reader sees each one once, in order."""

    async def scenario():
        broker = bound_broker()
        watchers = [broker.subscribe(company_id=COMPANY) for _ in range(2 * _FAN_OUT_SLICE + 5)]
        readers = [asyncio.create_task(read(w, 300)) for w in watchers]
        await asyncio.sleep(0)  # every reader waits
        numbers = iter(range(1, 301))

        def publisher():
            for _ in range(30):
                broker.publish([wire(next(numbers)) for _ in range(10)])

        thread = threading.Thread(target=publisher)
        thread.start()
        received = await asyncio.gather(*readers)
        thread.join()
        assert all(numbers == list(range(1, 301)) for numbers in received)

    run_apart(scenario())


def test_a_quiet_watcher_gets_keepalives_and_a_busy_one_only_after_a_quiet_period():
    async def scenario():
        broker = bound_broker()
        quiet = broker.subscribe(company_id=COMPANY)
        quiet.keep_alive(0.01)
        assert await quiet.get() is KEEPALIVE

        busy = broker.subscribe(company_id=COMPANY)
        busy.keep_alive(0.05)
        busy.put_nowait(wire(1))  # within the first period: that period was not quiet
        assert (await busy.get()).id == 1
        assert await busy.get() is KEEPALIVE  # after the next period, which was
        for subscription in (quiet, busy):
            broker.unsubscribe(subscription)

    run_apart(scenario())


def test_a_watcher_with_events_still_to_send_gets_no_keepalive():
    async def scenario():
        broker = bound_broker()
        behind = broker.subscribe(company_id=COMPANY)
        behind.put_nowait(wire(1))
        behind.keep_alive(0.01)
        await asyncio.sleep(0.1)  # several periods
        broker.unsubscribe(behind)
        return drained(behind)

    assert run_apart(scenario()) == [1]


def test_leaving_stops_the_keepalive_timer():
    async def scenario():
        broker = bound_broker()
        subscription = broker.subscribe(company_id=COMPANY)
        subscription.keep_alive(0.01)
        broker.unsubscribe(subscription)
        await asyncio.sleep(0.05)
        return subscription

    left = run_apart(scenario())
    assert left.empty() and left._keepalive is None


def test_a_watcher_whose_client_left_while_it_was_behind_still_ends():
    async def scenario():
        broker = bound_broker()
        subscription = broker.subscribe(company_id=COMPANY)
        subscription.put_nowait(wire(1))
        subscription.end()
        return [await subscription.get(), await subscription.get()]

    first, last = run_apart(scenario())
    assert first.id == 1 and last is None


def test_the_fan_out_waits_while_a_request_awaits_its_answer(monkeypatch):
    """One slice goes out, then nothing more until no request awaits its answer; then the rest,
    each watcher once."""
    monkeypatch.setattr(events, "_YIELD_LIMIT_S", 3600.0)  # only the answer ends the wait here

    async def scenario():
        broker = bound_broker()
        watchers = [broker.subscribe(company_id=COMPANY) for _ in range(3 * _FAN_OUT_SLICE)]
        broker.answers_pending = 1
        broker.publish([wire(1)])
        for _ in range(20):
            await asyncio.sleep(0.005)
        handed_while_pending = sum(w.qsize() for w in watchers)
        broker.answers_pending = 0
        await settled(broker)
        assert handed_while_pending == _FAN_OUT_SLICE
        assert all(drained(w) == [1] for w in watchers)

    run_apart(scenario())
