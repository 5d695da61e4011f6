"""The broker's fan-out (off the publisher's path, in slices, in order, exactly once, to the right
watchers) and the memory it gives back when a crowd of watchers has left."""

import asyncio
import gc
import sys
import threading

from server import events
from server.event_ids import EventIds
from server.events import _FAN_OUT_SLICE, _QUEUE_SIZE, Broker, WireEvent
from tests.support.loops import run_apart

COMPANY = "company-a"
OTHER = "company-b"


def wire(number: int, company_id: str = COMPANY, request_id: int = 1) -> WireEvent:
    return WireEvent(number, company_id, request_id, "created", "{}", f"id: {number}\n\n".encode())


def drained(subscription) -> list[int]:
    numbers = []
    while not subscription.queue.empty():
        numbers.append(subscription.queue.get_nowait().id)
    return numbers


async def settled(broker: Broker) -> None:
    """Until the broker has handed out everything published so far."""
    await asyncio.sleep(0)  # publish's call_soon_threadsafe
    while broker._fan_out_task is not None:
        await asyncio.sleep(0)


def bound_broker() -> Broker:
    broker = Broker(EventIds(""))
    broker.bind(asyncio.get_running_loop())
    return broker


def test_publish_returns_before_any_watcher_has_the_event_and_the_loop_runs_between_slices():
    """Publishing hands over and returns; with more watchers than a slice, other work on the loop
    (the publishing request's answer) runs before the last watcher is handed the event."""

    switch_interval = sys.getswitchinterval()

    async def scenario():
        broker = bound_broker()
        watchers = [broker.subscribe(company_id=COMPANY) for _ in range(3 * _FAN_OUT_SLICE)]
        broker.publish([wire(1)])
        assert all(w.queue.empty() for w in watchers)
        await asyncio.sleep(0)  # the hand-over reaches the loop
        seen_by_other_work = []
        asyncio.get_running_loop().call_soon(lambda: seen_by_other_work.append(sum(w.queue.qsize() for w in watchers)))
        await settled(broker)
        assert 0 < seen_by_other_work[0] < len(watchers)
        assert all(drained(w) == [1] for w in watchers)

    run_apart(scenario())
    assert sys.getswitchinterval() == switch_interval  # lowered only while the fan-out runs


def test_every_watcher_gets_every_event_once_in_order_while_publishers_and_watchers_come_and_go():
    async def scenario():
        broker = bound_broker()
        steady = [broker.subscribe(company_id=COMPANY) for _ in range(2 * _FAN_OUT_SLICE + 7)]
        leaving = [broker.subscribe(company_id=COMPANY) for _ in range(_FAN_OUT_SLICE)]
        numbers = iter(range(1, 301))

        def publisher():  # like commits in the thread pool: one batch after the other
            for _ in range(30):
                broker.publish([wire(next(numbers)) for _ in range(10)])

        thread = threading.Thread(target=publisher)
        thread.start()
        late = []
        while thread.is_alive() or broker._fan_out_task is not None:
            if leaving:
                broker.unsubscribe(leaving.pop())
            late.append(broker.subscribe(company_id=COMPANY))
            await asyncio.sleep(0)
        thread.join()
        await settled(broker)
        assert all(drained(w) == list(range(1, 301)) for w in steady)
        for subscription in late:  # whatever a late watcher gets: in order, each once
            received = drained(subscription)
            assert received == sorted(set(received))

    run_apart(scenario())


def test_events_reach_only_their_company_and_their_request_watchers():
    async def scenario():
        broker = bound_broker()
        company = broker.subscribe(company_id=COMPANY)
        other_company = broker.subscribe(company_id=OTHER)
        request_1 = broker.subscribe(company_id=COMPANY, request_id=1)
        request_2 = broker.subscribe(company_id=COMPANY, request_id=2)
        broker.publish([wire(1, request_id=1), wire(2, request_id=2), wire(3, OTHER, request_id=3)])
        await settled(broker)
        assert drained(company) == [1, 2]
        assert drained(other_company) == [3]
        assert drained(request_1) == [1]
        assert drained(request_2) == [2]

    run_apart(scenario())


def test_a_watcher_too_far_behind_is_marked_overflowed_and_the_others_still_get_theirs():
    async def scenario():
        broker = bound_broker()
        stuck = broker.subscribe(company_id=COMPANY)
        for number in range(1, _QUEUE_SIZE + 1):
            stuck.queue.put_nowait(wire(number))
        reading = broker.subscribe(company_id=COMPANY)
        broker.publish([wire(_QUEUE_SIZE + 1)])
        await settled(broker)
        assert stuck.overflowed and not reading.overflowed
        assert drained(reading) == [_QUEUE_SIZE + 1]

    run_apart(scenario())


def test_the_broker_holds_nothing_once_every_watcher_has_left():
    """What a watcher costs goes when it leaves: no index entry, no pending event, no task."""

    async def scenario():
        broker = bound_broker()
        watchers = [broker.subscribe(company_id=COMPANY, request_id=n % 3 or None) for n in range(600)]
        broker.publish([wire(1), wire(2, request_id=2)])
        await settled(broker)
        for subscription in watchers:
            broker.unsubscribe(subscription)
        assert broker.watchers == 0
        assert not broker._by_company and not broker._by_request
        assert not broker._pending and broker._fan_out_task is None

    run_apart(scenario())


def test_memory_is_given_back_once_a_crowd_of_watchers_has_left(monkeypatch):
    """A full collection runs (freeing the cycles ended streams leave) a moment after a crowd
    of watchers has left, and not while it is still there."""
    monkeypatch.setattr(events, "_RELEASE_DELAY_S", 0.05)
    collections = []

    def note(phase, info):
        if phase == "stop" and info["generation"] == 2:
            collections.append(info)

    async def scenario():
        broker = bound_broker()
        crowd = [broker.subscribe(company_id=COMPANY) for _ in range(events.RELEASE_AFTER_WATCHERS)]
        for subscription in crowd[: len(crowd) // 2]:
            broker.unsubscribe(subscription)
        await asyncio.sleep(0.2)
        half_left = len(collections)
        for subscription in crowd[len(crowd) // 2:]:
            broker.unsubscribe(subscription)
        await asyncio.sleep(0.2)
        return half_left

    gc.callbacks.append(note)
    gc.disable()  # only the broker's collection counts
    try:
        half_left = run_apart(scenario())
    finally:
        gc.enable()
        gc.callbacks.remove(note)
    assert half_left == 0
    assert len(collections) == 1
