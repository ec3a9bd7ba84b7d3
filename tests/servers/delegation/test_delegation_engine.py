"""Two delegation engines, DMS-1 and DMS-2, driven against each other in memory.

Messages go through the real codec (encode, XSD, decode) between them; the handset's
part is played by answering each piece of handset work. Every method x type completes
with the table's messages; a failure at any step before completion rolls both back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from servers.delegation.engine import (AwaitHandset, Delegation, Event, Finished, NotifyHandset,
                                       PrepareHandset, Refused, RemoveDms1, SendMessage, Status,
                                       Undo)
from servers.delegation.messages import (Confirm, DelInfo, DelType, Kind, Message, Notif,
                                         Prepared, Reason, decode, encode)
from servers.delegation.methods import METHODS, Role

TNDS = ('<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>dms2</NodeName>'
        '</Node></MgmtTree>')
URL = "https://127.0.0.1:8444/bootstrap"


@dataclass
class Lab:
    method: int
    type: DelType
    fail_at: int | None = None
    now: float = 1_700_000_000.0
    engines: dict[Role, Delegation] = field(default_factory=dict)
    flow: list[tuple[str, str, str]] = field(default_factory=list)
    work: list[tuple[Role, str]] = field(default_factory=list)
    undone: set[Role] = field(default_factory=set)
    finished: dict[Role, Finished] = field(default_factory=dict)
    awaiting: bool = False

    def options(self, role: Role) -> dict:
        extra = {"dmacc": TNDS, "bootstrap_url": URL} if role is Role.DMS2 else {}
        return {"clock": lambda: self.now, **extra}

    def run(self) -> "Lab":
        method = METHODS[self.method]
        initiator = method.initiator
        me = "dms1" if initiator is Role.DMS1 else "dms2"
        peer = "dms2" if me == "dms1" else "dms1"
        notif = Notif(me, DelInfo("IMEI:358240051111110", ("./Vendor/DMLab",)), self.type,
                      self.method)
        engine, events = Delegation.initiate("d-0123456789", initiator, me, peer, notif,
                                             **self.options(initiator))
        self.engines[initiator] = engine
        pending = [(initiator, e) for e in events]
        while pending:
            owner, event = pending.pop(0)
            pending += self.handle(owner, event)
        return self

    def handset_calls_dms2(self) -> list[tuple[Role, Event]]:
        """Steps 6-8 of methods 3-4: bootstrap, then the session that completes it."""
        self.awaiting = False
        if self.fail_at == "timeout":
            self.now += 31  # the handset never calls
            return [(Role.DMS1, e) for e in self.engines[Role.DMS1].tick()]
        dms2 = self.engines[Role.DMS2]
        ok = self.fail_at not in (6, 7, 8)
        return [(Role.DMS2, e) for e in dms2.handset_done(ok, "" if ok else "bootstrap failed",
                                                          session_id="1A2B")]

    def other(self, role: Role) -> Role:
        return Role.DMS2 if role is Role.DMS1 else Role.DMS1

    def handle(self, owner: Role, event: Event) -> list[tuple[Role, Event]]:
        """Carry out one event; the events it leads to, with the engine they came from."""
        engine = self.engines[owner]
        if isinstance(event, SendMessage):
            message = decode(encode(event.message))  # through the schema, as on the wire
            self.flow.append((message.sender, message.receiver, message.kind.value))
            target = self.other(owner)
            if target not in self.engines:
                created, events = Delegation.respond(message, message.receiver,
                                                     **self.options(target))
                self.engines[target] = created
                return [(target, e) for e in events]
            receiver = self.engines[target]
            if self.fail_at == 2 and message.kind is Kind.START:
                # Step 2 is the TLS link itself: the connection carrying START fails it.
                return [(target, e) for e in receiver.abort(
                    Reason.WRONG_SENDER, "mutual authentication failed", step=2)]
            if self.fail_at is not None and receiver.step == self.fail_at and \
                    message.kind is not Kind.FAILURE:
                return [(target, e) for e in receiver.abort(Reason.INTERNAL, "injected")]
            answer = [(target, e) for e in receiver.receive(message)]
            if receiver.status is not Status.ROLLED_BACK:  # taken: as an HTTP 2xx says
                answer += [(owner, e) for e in engine.delivered()]
            return answer
        if isinstance(event, AwaitHandset):
            self.work.append((owner, "AwaitHandset"))
            self.awaiting = True  # the handset calls once DMS-1 has given it the URL
            return []
        if isinstance(event, (PrepareHandset, NotifyHandset, RemoveDms1)):
            self.work.append((owner, type(event).__name__))
            ok = engine.step != self.fail_at
            events = [(owner, e) for e in engine.handset_done(ok, "" if ok else "injected",
                                                              session_id="1A2B")]
            if isinstance(event, PrepareHandset) and event.url and self.awaiting and ok:
                events += self.handset_calls_dms2()
            return events
        if isinstance(event, Undo):
            self.undone.add(owner)
        if isinstance(event, Finished):
            self.finished[owner] = event
        return []


K = Kind
EXPECTED_FLOW = {
    1: [("dms1", "dms2", K.NOTIF), ("dms2", "dms1", K.RES), ("dms2", "dms1", K.START),
        ("dms1", "dms2", K.PREPARED), ("dms2", "dms1", K.CONFIRM)],
    2: [("dms2", "dms1", K.NOTIF), ("dms1", "dms2", K.RES), ("dms2", "dms1", K.START),
        ("dms1", "dms2", K.PREPARED), ("dms2", "dms1", K.CONFIRM)],
    3: [("dms1", "dms2", K.NOTIF), ("dms2", "dms1", K.RES), ("dms2", "dms1", K.START),
        ("dms1", "dms2", K.BOOTSTRAP_URL_REQUEST), ("dms2", "dms1", K.BOOTSTRAP_URL_RESPONSE),
        ("dms2", "dms1", K.CONFIRM)],
}
EXPECTED_FLOW[4] = [(a if k is not K.NOTIF else "dms2", b if k is not K.NOTIF else "dms1", k)
                    for a, b, k in EXPECTED_FLOW[3]]
EXPECTED_FLOW[4][1] = ("dms1", "dms2", K.RES)


@pytest.mark.parametrize("type_", [DelType.FULL, DelType.PARTIAL])
@pytest.mark.parametrize("method", [1, 2, 3, 4])
def test_every_method_confirms(method: int, type_: DelType) -> None:
    lab = Lab(method, type_).run()
    assert lab.flow == [(a, b, k.value) for a, b, k in EXPECTED_FLOW[method]]
    assert {r: f.status for r, f in lab.finished.items()} == {
        Role.DMS1: Status.CONFIRMED, Role.DMS2: Status.CONFIRMED}
    assert not lab.undone
    work = [w for _, w in lab.work]
    assert ("RemoveDms1" in work) is (type_ is DelType.FULL)
    reaches = "NotifyHandset" if method in (1, 2) else "AwaitHandset"
    assert reaches in work and "PrepareHandset" in work


CASES = [(m, s, t) for m in (1, 2, 3, 4) for s in METHODS[m].rollback_steps
         for t in (DelType.FULL, DelType.PARTIAL)]


@pytest.mark.parametrize("method, step, type_", CASES)
def test_a_failure_at_any_step_before_completion_rolls_both_back(method: int, step: int,
                                                                 type_: DelType) -> None:
    lab = Lab(method, type_, fail_at=step).run()
    statuses = {r: f.status for r, f in lab.finished.items()}
    if step == 1 and len(lab.engines) == 1:
        pytest.fail("the responder must exist once the NOTIF is sent")
    assert statuses == {Role.DMS1: Status.ROLLED_BACK, Role.DMS2: Status.ROLLED_BACK}, lab
    assert lab.undone == {Role.DMS1, Role.DMS2}
    assert "RemoveDms1" not in [w for _, w in lab.work]
    assert any(kind == "DELEGATION_FAILURE" for _, _, kind in lab.flow)


@pytest.mark.parametrize("method", [3, 4])
def test_the_step_9_timeout_rolls_back(method: int) -> None:
    lab = Lab(method, DelType.FULL, fail_at="timeout").run()  # type: ignore[arg-type]
    assert lab.finished[Role.DMS1] == Finished(Status.ROLLED_BACK, 9, lab.finished[Role.DMS1].reason)
    assert "no delegation complete" in lab.finished[Role.DMS1].reason
    assert lab.finished[Role.DMS2].status is Status.ROLLED_BACK


def test_a_nack_ends_both_without_work() -> None:
    notif = Notif("dms1", DelInfo("IMEI:1", (".",)), DelType.FULL, 1)
    dms1, events = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif)
    message = decode(encode(events[0].message))
    dms2, answer = Delegation.respond(message, "dms2", accept=lambda n: False)
    assert [type(e).__name__ for e in answer] == ["SendMessage", "Undo", "Finished"]
    assert answer[-1].status is Status.ROLLED_BACK
    final = dms1.receive(decode(encode(answer[0].message)))
    assert final[-1] == Finished(Status.ROLLED_BACK, 1, final[-1].reason)
    assert "declined" in final[-1].reason


def test_replays_and_strangers_change_nothing() -> None:
    notif = Notif("dms1", DelInfo("IMEI:1", (".",)), DelType.FULL, 1)
    dms1, events = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif)
    message = decode(encode(events[0].message))
    dms2, answer = Delegation.respond(message, "dms2", dmacc=TNDS)
    res, start = answer[0].message, answer[1].message
    assert dms1.receive(res) == []  # waiting for START now
    before = (dms1.position, dms1.seen, dms1.status)
    replay = dms1.receive(res)      # the same RES again
    assert len(replay) == 1 and isinstance(replay[0], Refused) and "replay" in replay[0].reason
    stranger = Message("d-0123456789", "dms3", "dms1", 9, Prepared())
    refused = dms1.receive(stranger)
    assert isinstance(refused[0], Refused) and "not for this pair" in refused[0].reason
    other = Message("d-another-one", "dms2", "dms1", 9, Prepared())
    assert isinstance(dms1.receive(other)[0], Refused)
    assert (dms1.position, dms1.seen, dms1.status) == before
    # ...and the delegation goes on.
    assert isinstance(dms1.receive(start)[0], PrepareHandset)


def test_the_genuine_peer_out_of_order_is_a_failure() -> None:
    notif = Notif("dms1", DelInfo("IMEI:1", (".",)), DelType.FULL, 1)
    dms1, events = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif)
    early = Message("d-0123456789", "dms2", "dms1", 1, Confirm("1A2B"))
    answer = dms1.receive(early)
    assert answer[-1].status is Status.ROLLED_BACK and "expecting DELEGATION_RES" in \
        answer[-1].reason
    assert isinstance(dms1.receive(early)[0], Refused)  # finished: nothing more is taken


def test_a_silent_peer_is_a_lost_peer() -> None:
    now = [1_700_000_000.0]
    notif = Notif("dms1", DelInfo("IMEI:1", (".",)), DelType.FULL, 1)
    dms1, _ = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif,
                                  clock=lambda: now[0], peer_timeout=60)
    now[0] += 59
    assert dms1.tick() == []
    now[0] += 1  # dms2 never answered the NOTIF
    events = dms1.tick()
    assert [type(e) for e in events] == [SendMessage, Undo, Finished]
    assert events[0].message.body.code is Reason.PEER_UNREACHABLE
    assert events[-1] == Finished(Status.ROLLED_BACK, 1, events[-1].reason)
    assert "no word from dms2" in events[-1].reason


def test_an_answer_stops_the_peer_clock() -> None:
    now = [1_700_000_000.0]
    notif = Notif("dms1", DelInfo("IMEI:1", (".",)), DelType.FULL, 1)
    dms1, events = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif,
                                       clock=lambda: now[0], peer_timeout=60)
    dms2, answer = Delegation.respond(decode(encode(events[0].message)), "dms2", dmacc=TNDS)
    now[0] += 50
    dms1.receive(decode(encode(answer[0].message)))  # RES: now waiting for START, afresh
    now[0] += 50
    assert dms1.tick() == []
