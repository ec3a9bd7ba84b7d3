"""One delegation, as one server sees it: a sans-I/O state machine over a method table.

The same engine plays DMS-1 or DMS-2 in any of the four methods. From the method's
table (servers.delegation.methods) it derives this role's script: the messages it
sends, the messages it waits for, and the work on the handset it asks its server to do,
each tagged with the figure's step number. Inputs are method calls; outputs are events,
small dataclasses the owning server carries out:

    SendMessage     post this message to the peer; call delivered() when it took it
    PrepareHandset  DMS-1: the preparation session (DMS-2's account, or the bootstrap URL)
    NotifyHandset   DMS-2, methods 1-2: push package 0 and run the session
    AwaitHandset    DMS-2, methods 3-4: the handset will call once bootstrapped
    RemoveDms1      DMS-1, full delegation: delete its account and its ACL entries
    Undo            undo every change made to the handset, and purge this delegation
    Refused         a message not taken (not for us, or a replay); nothing changed
    Finished        confirmed, or rolled back with the failing step and reason

Rules (delegation specification §5.2): a failure up to "delegation complete" (step 7
of methods 1-2, step 9 of methods 3-4), be it ours, the peer's DELEGATION_FAILURE, a
nack, the handset refusing a command, a lost peer or the step-9 timeout, ends the
delegation: the peer is told (unless it told us), every change is undone, the state is
purged. A message from a server not party to the delegation, or whose sequence number
is not above the last one seen, changes nothing: it is Refused. The genuine peer sending
the wrong message for the step is a failure.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

from servers.delegation.messages import (BootstrapUrlRequest, BootstrapUrlResponse, Body,
                                         Confirm, DelType, Failure, Kind, Message, Notif,
                                         Prepared, Reason, Res, Start)
from servers.delegation.methods import METHODS, Action, Method, Role


class Status(StrEnum):
    RUNNING = "running"
    CONFIRMED = "confirmed"
    ROLLED_BACK = "rolled_back"


# ------------------------------------------------------------------ events (outputs)

@dataclass(frozen=True, slots=True)
class SendMessage:
    message: Message


@dataclass(frozen=True, slots=True)
class PrepareHandset:
    action: Action       # PREPARE_WITH_ACCOUNT or PREPARE_WITH_URL
    dmacc: str | None    # DMS-2's account (TNDS), methods 1-2
    url: str | None      # DMS-2's bootstrap server URL, methods 3-4


@dataclass(frozen=True, slots=True)
class NotifyHandset:
    pass


@dataclass(frozen=True, slots=True)
class AwaitHandset:
    deadline: float


@dataclass(frozen=True, slots=True)
class RemoveDms1:
    pass


@dataclass(frozen=True, slots=True)
class Undo:
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A message not taken: from a server not party to this delegation, for another
    delegation, or a replay. Nothing changed; the sender gets the reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Finished:
    status: Status
    step: int | None = None
    reason: str = ""


Event = (SendMessage | PrepareHandset | NotifyHandset | AwaitHandset | RemoveDms1 | Undo
         | Refused | Finished)


# ------------------------------------------------------------------ a role's script

@dataclass(frozen=True, slots=True)
class Beat:
    step: int
    send: Kind | None = None
    expect: Kind | None = None
    work: Action | None = None


#: Which role does the handset work of each action.
_WORKER = {Action.PREPARE_WITH_ACCOUNT: Role.DMS1, Action.PREPARE_WITH_URL: Role.DMS1,
           Action.REMOVE_DMS1: Role.DMS1, Action.SERVER_SESSION: Role.DMS2,
           Action.CLIENT_SESSION: Role.DMS2}


def script(method: Method, role: Role) -> tuple[Beat, ...]:
    beats: list[Beat] = []
    for step in method.steps:
        if isinstance(step.what, Kind):
            mine = step.sender is role
            beats.append(Beat(step.number, send=step.what if mine else None,
                              expect=None if mine else step.what))
            if step.also is not None:
                answering = step.receiver is role
                beats.append(Beat(step.number, send=step.also if answering else None,
                                  expect=None if answering else step.also))
        elif _WORKER.get(step.what) is role:
            beats.append(Beat(step.number, work=step.what))
    return tuple(beats)


# ------------------------------------------------------------------ the machine

@dataclass
class Delegation:
    """One delegation in one role. Make it with `initiate` or `respond`."""

    delegation_id: str
    role: Role
    me: str
    peer: str
    method: Method
    notif: Notif | None = None
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    dmacc: str = ""            # DMS-2: its account for the handset, as TNDS
    bootstrap_url: str = ""    # DMS-2: its bootstrap server (methods 3-4)
    accept: Callable[[Notif], bool] = field(default=lambda notif: True, repr=False)
    step_timeout: float = 30.0  # the step-9 wait of methods 3 and 4
    peer_timeout: float = 120.0  # how long the peer may stay silent when it is its turn
    session_id: str = ""       # DMS-2: the handset session that completed it
    status: Status = Status.RUNNING
    position: int = 0          # index of the next beat
    sent: int = 0              # my last sequence number
    seen: int = 0              # the peer's last sequence number
    deadline: float | None = None
    waiting_since: float | None = None  # since when the peer's next message is due
    received: dict[str, Body] = field(default_factory=dict)

    @property
    def beats(self) -> tuple[Beat, ...]:
        return script(self.method, self.role)

    @property
    def step(self) -> int:
        beats = self.beats
        return beats[min(self.position, len(beats) - 1)].step

    @property
    def full(self) -> bool:
        return self.notif is not None and self.notif.type is DelType.FULL

    @classmethod
    def initiate(cls, delegation_id: str, role: Role, me: str, peer: str, notif: Notif,
                 **options: object) -> tuple["Delegation", list[Event]]:
        method = METHODS[notif.method]
        if method.initiator is not role:
            raise ValueError(f"method {notif.method} is initiated by {method.initiator.value}")
        delegation = cls(delegation_id, role, me, peer, method, notif, **options)  # type: ignore[arg-type]
        return delegation, delegation._run()

    @classmethod
    def respond(cls, message: Message, me: str,
                **options: object) -> tuple["Delegation", list[Event]]:
        """The other side of a DELEGATION_NOTIF that has just arrived."""
        if not isinstance(message.body, Notif):
            raise ValueError("a delegation starts with DELEGATION_NOTIF")
        method = METHODS[message.body.method]
        role = Role.DMS2 if method.initiator is Role.DMS1 else Role.DMS1
        delegation = cls(message.delegation_id, role, me, message.sender, method,
                         **options)  # type: ignore[arg-type]
        return delegation, delegation.receive(message)

    # ------------------------------------------------------------------ inputs

    def receive(self, message: Message) -> list[Event]:
        stranger = self._stranger(message)
        if stranger:
            return [Refused(stranger)]
        if self.status is not Status.RUNNING:
            return [Refused(f"delegation {self.delegation_id} is {self.status.value}")]
        problem = self._unexpected(message)
        if problem:
            return self._fail(Reason.BAD_MESSAGE, problem)
        self.seen = message.sequence
        body = message.body
        if isinstance(body, Failure):
            return self._fail(body.code, f"{self.peer}: {body.text}", tell_peer=False)
        if isinstance(body, Res) and not body.ack:
            return self._fail(Reason.REFUSED, f"{self.peer} declined: "
                              f"{body.reason or 'no reason given'}", tell_peer=False)
        if isinstance(body, Notif):
            self.notif = body
        self.waiting_since = None
        self.received[message.kind.value] = body
        self.position += 1
        return self._run()

    def handset_done(self, ok: bool, detail: str = "", session_id: str = "") -> list[Event]:
        """The outcome of the handset work asked for by the last event."""
        beat = self._beat()
        if self.status is not Status.RUNNING or beat is None or beat.work is None:
            return []
        if not ok:
            return self._fail(_HANDSET_FAILURE[beat.work], detail or "the handset failed")
        if session_id:
            self.session_id = session_id
        if beat.work is Action.PREPARE_WITH_URL:
            self.deadline = self.clock() + self.step_timeout  # the step-9 clock
        self.position += 1
        return self._run()

    def peer_lost(self, detail: str) -> list[Event]:
        """A message to the peer could not be delivered."""
        if self.status is not Status.RUNNING:
            return []
        return self._fail(Reason.PEER_UNREACHABLE, detail, tell_peer=False)

    def delivered(self) -> list[Event]:
        """The peer took the message we last sent (HTTP 2xx). It ends a script whose last
        beat is a message (DMS-2's DELEGATION_CONFIRM): until the peer has it, a failure
        it reports still rolls back."""
        if self.status is Status.RUNNING and self._beat() is None and self._ends_by_sending():
            return [self._finished(Status.CONFIRMED)]
        return []

    def _ends_by_sending(self) -> bool:
        return self.beats[-1].send is not None

    def abort(self, code: Reason, reason: str, step: int | None = None) -> list[Event]:
        """A local fault or an operator stops the delegation; the peer is told."""
        if self.status is not Status.RUNNING:
            return []
        return self._fail(code, reason, at=step)

    def tick(self) -> list[Event]:
        """The waits, against the clock: the step-9 wait of methods 3 and 4, and a peer
        silent for longer than peer_timeout when the next message is its to send (a
        lost peer, seen from the side that was waiting for it)."""
        if self.status is not Status.RUNNING:
            return []
        now = self.clock()
        if self.deadline is not None and now >= self.deadline:
            return self._fail(Reason.TIMEOUT, f"no delegation complete within "
                              f"{self.step_timeout:g} s", at=self.method.last_rollback_step)
        if self.waiting_since is not None and now - self.waiting_since >= self.peer_timeout:
            return self._fail(Reason.PEER_UNREACHABLE, f"no word from {self.peer} for "
                              f"{self.peer_timeout:g} s")
        return []

    # ------------------------------------------------------------------ walking the script

    def _beat(self) -> Beat | None:
        beats = self.beats
        return beats[self.position] if self.position < len(beats) else None

    def _run(self) -> list[Event]:
        """Do my part until I must wait for the peer or for the handset."""
        events: list[Event] = []
        while self.status is Status.RUNNING:
            beat = self._beat()
            if beat is None:
                if not self._ends_by_sending():
                    events.append(self._finished(Status.CONFIRMED))
                break
            if beat.expect is not None:
                if self.waiting_since is None:
                    self.waiting_since = self.clock()
                break
            if beat.send is not None:
                if beat.send is Kind.RES and not self._accepts():
                    events.append(self._send(Res(False, "the delegation was declined")))
                    events.extend(self._fail(Reason.REFUSED, "we declined the delegation",
                                             tell_peer=False))
                    break
                events.append(self._send(self._body(beat.send)))
                self.position += 1
                continue
            work = self._work(beat.work)  # type: ignore[arg-type]
            if work is None:
                self.position += 1
                continue
            events.append(work)
            break
        return events

    def _accepts(self) -> bool:
        return self.notif is not None and self.accept(self.notif)

    def _work(self, action: Action) -> Event | None:
        if action is Action.PREPARE_WITH_ACCOUNT:
            start = self.received.get(Kind.START.value)
            return PrepareHandset(action, start.dmacc if isinstance(start, Start) else None,
                                  None)
        if action is Action.PREPARE_WITH_URL:
            answer = self.received.get(Kind.BOOTSTRAP_URL_RESPONSE.value)
            return PrepareHandset(action, None, answer.url
                                  if isinstance(answer, BootstrapUrlResponse) else None)
        if action is Action.SERVER_SESSION:
            return NotifyHandset()
        if action is Action.CLIENT_SESSION:
            self.deadline = self.clock() + self.step_timeout
            return AwaitHandset(self.deadline)
        return RemoveDms1() if self.full else None  # REMOVE_DMS1: partial keeps DMS-1

    def _body(self, kind: Kind) -> Body:
        if kind is Kind.NOTIF:
            assert self.notif is not None
            return self.notif
        return {Kind.RES: lambda: Res(True), Kind.START: lambda: Start(self.dmacc),
                Kind.BOOTSTRAP_URL_REQUEST: BootstrapUrlRequest,
                Kind.BOOTSTRAP_URL_RESPONSE: lambda: BootstrapUrlResponse(self.bootstrap_url),
                Kind.PREPARED: Prepared,
                Kind.CONFIRM: lambda: Confirm(self.session_id or "-")}[kind]()

    def _send(self, body: Body) -> SendMessage:
        self.sent += 1
        when = datetime.datetime.fromtimestamp(self.clock(), datetime.timezone.utc)
        return SendMessage(Message(self.delegation_id, self.me, self.peer, self.sent, body,
                                   when))

    def _stranger(self, message: Message) -> str:
        """Why a message is not ours to take at all (it changes nothing), or ""."""
        if message.delegation_id != self.delegation_id:
            return f"message for delegation {message.delegation_id}, not {self.delegation_id}"
        if message.sender != self.peer or message.receiver != self.me:
            return f"a message from {message.sender} to {message.receiver} is not for this pair"
        if message.sequence <= self.seen:
            return f"sequence {message.sequence} is a replay (last seen {self.seen})"
        return ""

    def _unexpected(self, message: Message) -> str:
        """The genuine peer broke the protocol: a failure of the delegation, or ""."""
        if isinstance(message.body, Failure):
            return ""
        beat = self._beat()
        expected = beat.expect if beat is not None else None
        if message.kind is not expected:
            want = expected.value if expected else "no message"
            return f"{message.kind.value} at step {self.step}, expecting {want}"
        return ""

    # ------------------------------------------------------------------ the end

    def _fail(self, code: Reason | int, text: str, *, tell_peer: bool = True,
              at: int | None = None) -> list[Event]:
        step = at or self.step
        if step > self.method.last_rollback_step:
            # Past "delegation complete": it stands; the failure is reported, not undone.
            return [self._finished(Status.CONFIRMED, step, text)]
        events: list[Event] = []
        if tell_peer:
            events.append(self._send(Failure(code, text, step)))
        events += [Undo(text), self._finished(Status.ROLLED_BACK, step, text)]
        return events

    def _finished(self, status: Status, step: int | None = None, reason: str = "") -> Finished:
        self.status = status
        self.deadline = self.waiting_since = None
        return Finished(status, step, reason)


_HANDSET_FAILURE = {Action.PREPARE_WITH_ACCOUNT: Reason.CLIENT_REFUSED,
                    Action.PREPARE_WITH_URL: Reason.CLIENT_REFUSED,
                    Action.SERVER_SESSION: Reason.CLIENT_UNREACHABLE,
                    Action.CLIENT_SESSION: Reason.BOOTSTRAP_FAILED,
                    Action.REMOVE_DMS1: Reason.CLIENT_REFUSED}
