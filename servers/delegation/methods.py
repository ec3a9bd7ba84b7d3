"""The four delegation methods as tables that read like the specification's figures.

Everything about the order of a delegation lives here; the state machines only walk
these tables. Each step is numbered as in the figure for its method (1-8 for methods 1
and 2, 1-10 for methods 3 and 4) and says who acts, towards whom, and with what: a
server-to-server message, or something that happens with the handset.

Steps before "delegation complete" can fail and must then be rolled back: up to 7 for
methods 1 and 2, up to 9 for methods 3 and 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from servers.delegation.messages import Kind


class Role(StrEnum):
    DMS1 = "DMS-1"          # the delegating server: manages the handset today
    DMS2 = "DMS-2"          # the delegated server: will manage it
    HANDSET = "handset"
    BOOTSTRAP = "bootstrap"  # DMS-2's bootstrap server (methods 3 and 4)


class Action(StrEnum):
    """What happens at a step that is not a server-to-server message."""

    MUTUAL_AUTH = "mutual authentication (TLS with client certificates)"
    PREPARE_WITH_ACCOUNT = "DMS-1 session: install DMS-2's DMAcc (SuppressSession) and ACLs"
    PREPARE_WITH_URL = "DMS-1 session: update the ACLs, hand over the bootstrap server URL"
    SERVER_SESSION = "DMS-2 opens a server-initiated session (package 0)"
    BOOTSTRAP_REQUEST = "the handset asks the bootstrap server for DMS-2's bootstrap"
    BOOTSTRAP_RESPONSE = "the bootstrap server sends DMS-2's bootstrap"
    CLIENT_SESSION = "the handset opens a client-initiated session to DMS-2"
    REMOVE_DMS1 = "full delegation only: DMS-1 deletes its DMAcc and its ACL entries"


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    sender: Role
    receiver: Role
    what: Kind | Action
    also: Kind | None = None  # a second message at the same step (the answer to NOTIF)

    @property
    def messages(self) -> tuple[Kind, ...]:
        kinds = [k for k in (self.what, self.also) if isinstance(k, Kind)]
        return tuple(kinds)


@dataclass(frozen=True, slots=True)
class Method:
    number: int
    title: str
    initiator: Role
    steps: tuple[Step, ...]
    last_rollback_step: int  # "delegation complete": a failure up to here rolls back

    @property
    def rollback_steps(self) -> range:
        return range(1, self.last_rollback_step + 1)

    def step(self, number: int) -> Step:
        return self.steps[number - 1]

    def message_flow(self) -> list[tuple[Role, Role, Kind]]:
        """Every server-to-server message in order: (from, to, kind)."""
        flow = []
        for step in self.steps:
            if isinstance(step.what, Kind):
                flow.append((step.sender, step.receiver, step.what))
            if step.also is not None:
                flow.append((step.receiver, step.sender, step.also))
        return flow


D1, D2, H, B = Role.DMS1, Role.DMS2, Role.HANDSET, Role.BOOTSTRAP


def _opening(initiator: Role, other: Role) -> tuple[Step, Step, Step]:
    """Steps 1-3, shared by all: notification and answer, TLS, DMS-2's account."""
    return (Step(1, initiator, other, Kind.NOTIF, also=Kind.RES),
            Step(2, D1, D2, Action.MUTUAL_AUTH),
            Step(3, D2, D1, Kind.START))


def _by_account(number: int, initiator: Role, other: Role, title: str) -> Method:
    return Method(number, title, initiator, (
        *_opening(initiator, other),
        Step(4, D1, H, Action.PREPARE_WITH_ACCOUNT),
        Step(5, D1, D2, Kind.PREPARED),
        Step(6, D2, H, Action.SERVER_SESSION),
        Step(7, D2, D1, Kind.CONFIRM),
        Step(8, D1, H, Action.REMOVE_DMS1),
    ), last_rollback_step=7)


def _by_bootstrap(number: int, initiator: Role, other: Role, title: str) -> Method:
    """Methods 3 and 4. DMS-1 asks for the bootstrap URL (the figure's step 3) as soon as
    DMS-2's account information (DELEGATION_START) is in."""
    return Method(number, title, initiator, (
        *_opening(initiator, other)[:2],
        Step(3, D2, D1, Kind.START, also=Kind.BOOTSTRAP_URL_REQUEST),
        Step(4, D2, D1, Kind.BOOTSTRAP_URL_RESPONSE),
        Step(5, D1, H, Action.PREPARE_WITH_URL),
        Step(6, H, B, Action.BOOTSTRAP_REQUEST),
        Step(7, B, H, Action.BOOTSTRAP_RESPONSE),
        Step(8, H, D2, Action.CLIENT_SESSION),
        Step(9, D2, D1, Kind.CONFIRM),
        Step(10, D1, H, Action.REMOVE_DMS1),
    ), last_rollback_step=9)


METHODS: dict[int, Method] = {
    1: _by_account(1, D1, D2, "Delegating DM Server initiates"),
    2: _by_account(2, D2, D1, "Delegated DM Server initiates"),
    3: _by_bootstrap(3, D1, D2, "Delegating server initiates and provides DMS-2's bootstrap "
                                "server URL"),
    4: _by_bootstrap(4, D2, D1, "Delegated server initiates and provides its bootstrap "
                                "server URL to the client"),
}
