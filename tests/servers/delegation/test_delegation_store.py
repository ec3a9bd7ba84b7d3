"""Delegations survive in SQLite, and a restart rolls back whatever was running."""

from __future__ import annotations

from pathlib import Path

from servers.delegation.engine import (Delegation, Finished, PrepareHandset, SendMessage, Status,
                                       Undo)
from servers.delegation.messages import DelInfo, DelType, Kind, Notif, Reason, decode, encode
from servers.delegation.methods import Role
from servers.delegation.store import DelegationStore, delegation_from, state_of

TNDS = '<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD></MgmtTree>'


def mid_delegation() -> tuple[Delegation, Delegation]:
    """Method 1 up to DMS-1 preparing the handset (step 4)."""
    notif = Notif("dms1", DelInfo("IMEI:1", ("./Vendor/DMLab",), "dmlab", "Virtual Handset 1"),
                  DelType.PARTIAL, 1)
    dms1, events = Delegation.initiate("d-0123456789", Role.DMS1, "dms1", "dms2", notif)
    dms2, answer = Delegation.respond(decode(encode(events[0].message)), "dms2", dmacc=TNDS)
    for event in answer:
        assert isinstance(event, SendMessage)
        result = dms1.receive(decode(encode(event.message)))
    assert isinstance(result[-1], PrepareHandset) and result[-1].dmacc == TNDS
    return dms1, dms2


def test_state_round_trips() -> None:
    dms1, dms2 = mid_delegation()
    for engine in (dms1, dms2):
        again = delegation_from(state_of(engine))
        assert state_of(again) == state_of(engine)
        assert again.notif == engine.notif and again.received == engine.received


def test_a_restart_rolls_back_and_purges(tmp_path: Path) -> None:
    dms1, dms2 = mid_delegation()
    path = str(tmp_path / "dms1.sqlite")
    store = DelegationStore(path)
    journal = {"replaced": {"./Vendor/DMLab?prop=ACL": "Get=dms1"}}
    store.save(dms1, journal)
    store.close()

    reopened = DelegationStore(path)  # the server comes back
    [(delegation, kept, events)] = reopened.recover()
    assert kept == journal and delegation.step == 4
    assert [type(e) for e in events] == [SendMessage, Undo, Finished]
    assert events[0].message.kind is Kind.FAILURE and events[0].message.sequence == dms1.sent + 1
    assert events[-1].status is Status.ROLLED_BACK
    assert reopened.running() == []
    # The peer, told, rolls back too.
    answer = dms2.receive(decode(encode(events[0].message)))
    assert answer[-1].status is Status.ROLLED_BACK and "restarted" in answer[-1].reason


def test_finished_delegations_are_not_kept() -> None:
    dms1, _ = mid_delegation()
    store = DelegationStore()
    store.save(dms1)
    dms1.abort(Reason.REFUSED, "the operator cancelled it")
    store.save(dms1)
    assert store.running() == []
