"""Every status has one state: new, pending and in_progress are Open; closed and expired are Closed."""

import pytest

from server.teamviewer.states import State, state_of, statuses_of
from sosqueue.statuses import Status


@pytest.mark.parametrize(("status", "state"), [
    (Status.NEW, State.OPEN), (Status.PENDING, State.OPEN), (Status.IN_PROGRESS, State.OPEN),
    (Status.CLOSED, State.CLOSED), (Status.EXPIRED, State.CLOSED)])
def test_each_status_maps_to_its_state(status, state):
    """The table of the README, status by status."""
    assert state_of(status) == state


def test_states_give_back_every_status_once():
    """Open and Closed together are every status; apart, they share none."""
    assert statuses_of({State.OPEN, State.CLOSED}) == set(Status)
    assert not statuses_of({State.OPEN}) & statuses_of({State.CLOSED})
