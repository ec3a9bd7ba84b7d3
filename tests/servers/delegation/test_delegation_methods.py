"""The method tables give the message order and direction of the specification's figures."""

from __future__ import annotations

import pytest

from servers.delegation.methods import METHODS, Action, Role
from servers.delegation.messages import Kind

D1, D2 = Role.DMS1, Role.DMS2
N, R, S, Q, U, P, C = (Kind.NOTIF, Kind.RES, Kind.START, Kind.BOOTSTRAP_URL_REQUEST,
                       Kind.BOOTSTRAP_URL_RESPONSE, Kind.PREPARED, Kind.CONFIRM)

EXPECTED = {
    1: [(D1, D2, N), (D2, D1, R), (D2, D1, S), (D1, D2, P), (D2, D1, C)],
    2: [(D2, D1, N), (D1, D2, R), (D2, D1, S), (D1, D2, P), (D2, D1, C)],
    3: [(D1, D2, N), (D2, D1, R), (D2, D1, S), (D1, D2, Q), (D2, D1, U), (D2, D1, C)],
    4: [(D2, D1, N), (D1, D2, R), (D2, D1, S), (D1, D2, Q), (D2, D1, U), (D2, D1, C)],
}


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_message_flow(number: int) -> None:
    assert METHODS[number].message_flow() == EXPECTED[number]


def test_steps_are_numbered_as_in_the_figures() -> None:
    for number, method in METHODS.items():
        assert [s.number for s in method.steps] == list(range(1, len(method.steps) + 1))
        assert len(method.steps) == (8 if number in (1, 2) else 10)
        assert method.rollback_steps == range(1, 8 if number in (1, 2) else 10)
        assert method.steps[-1].what is Action.REMOVE_DMS1
    assert METHODS[1].initiator is D1 and METHODS[2].initiator is D2
    assert METHODS[3].initiator is D1 and METHODS[4].initiator is D2


def test_how_the_handset_reaches_dms2() -> None:
    assert METHODS[1].step(6).what is Action.SERVER_SESSION
    assert METHODS[2].step(4).what is Action.PREPARE_WITH_ACCOUNT
    assert METHODS[3].step(5).what is Action.PREPARE_WITH_URL
    assert METHODS[4].step(8).what is Action.CLIENT_SESSION
    assert METHODS[4].step(8).sender is Role.HANDSET
