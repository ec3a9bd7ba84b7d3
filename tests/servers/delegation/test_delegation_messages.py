"""Delegation messages: every kind round trips, and anything off the schema is refused."""

from __future__ import annotations

import datetime

import pytest

from servers.delegation.messages import (BootstrapUrlRequest, BootstrapUrlResponse, Confirm,
                                         DelInfo, DelType, Failure, Kind, Message, MessageError,
                                         Notif, Prepared, Reason, Res, Start, decode, encode)

SENT = datetime.datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=datetime.timezone.utc)
TNDS = ('<MgmtTree xmlns="syncml:dmddf1.2"><VerDTD>1.2</VerDTD><Node><NodeName>dms2</NodeName>'
        '<Node><NodeName>ServerID</NodeName><Value>dms2</Value></Node></Node></MgmtTree>')
BODIES = [
    Notif("dms1", DelInfo("IMEI:358240051111110", ("./Vendor/DMLab", "./DevDetail"),
                          "dmlab", "Virtual Handset 1", "http://127.0.0.1:9100/notification"),
          DelType.PARTIAL, 3),
    Notif("dms2", DelInfo("IMEI:1", (".",)), DelType.FULL, 2),
    Res(True), Res(False, "not our customer"),
    Start(TNDS), BootstrapUrlRequest(), BootstrapUrlResponse("https://127.0.0.1:8444/bootstrap"),
    Prepared(), Failure(Reason.CLIENT_REFUSED, "425 on ./DMAcc/dms2", 4),
    Failure(Reason.TIMEOUT, "no DELEGATION_CONFIRM in 30 s"), Confirm("1A2B"),
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: type(b).__name__)
def test_every_kind_round_trips(body: object) -> None:
    message = Message("d-0123456789", "dms1", "dms2", 7, body, SENT)  # type: ignore[arg-type]
    data = encode(message)
    assert data.startswith(b"<?xml")
    back = decode(data)
    if isinstance(body, Start):
        assert back.body.dmacc.replace(' xmlns="syncml:dmddf1.2"', "") == \
            TNDS.replace(' xmlns="syncml:dmddf1.2"', "")
        back = Message(back.delegation_id, back.sender, back.receiver, back.sequence, body,
                       back.sent)
    assert back == message
    names = {"Notif": "DELEGATION_NOTIF", "Res": "DELEGATION_RES", "Start": "DELEGATION_START",
             "BootstrapUrlRequest": "BOOTSTRAP_URL_REQUEST",
             "BootstrapUrlResponse": "BOOTSTRAP_URL_RESPONSE",
             "Prepared": "DELEGATION_PREPARED", "Failure": "DELEGATION_FAILURE",
             "Confirm": "DELEGATION_CONFIRM"}
    assert back.kind is Kind(names[type(body).__name__])
    assert f"<{names[type(body).__name__]}".encode() in data


def _valid() -> bytes:
    return encode(Message("d-0123456789", "dms1", "dms2", 1, Res(True), SENT))


@pytest.mark.parametrize("change", [
    (b"<Ack>true</Ack>", b"<Ack>maybe</Ack>"),
    (b"<Sequence>1</Sequence>", b"<Sequence>0</Sequence>"),
    (b"<DelegationID>d-0123456789</DelegationID>", b"<DelegationID>x</DelegationID>"),
    (b"<Sender>dms1</Sender>", b""),
    (b"<Ack>true</Ack>", b"<Ack>true</Ack><Extra/>"),
    (b"DELEGATION_RES", b"DELEGATION_MAYBE"),
    (b'version="1.0"', b'version="2.0"'),
    (b"urn:dmlab:delegation:1.0", b"urn:other"),
])
def test_a_message_off_the_schema_is_refused(change: tuple[bytes, bytes]) -> None:
    old, new = change
    data = _valid()
    assert old in data
    with pytest.raises(MessageError, match="schema"):
        decode(data.replace(old, new))


@pytest.mark.parametrize("data, why", [
    (b"not xml", "well-formed"),
    (b'<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delegation>&e;</Delegation>',
     "DTD|well-formed"),
    (b"<x/>" + b" " * (300 * 1024), "limit"),
])
def test_hostile_documents_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why):
        decode(data)


def test_a_bad_notif_cannot_even_be_encoded() -> None:
    with pytest.raises(MessageError, match="schema"):
        encode(Message("d-0123456789", "dms1", "dms2", 1,
                       Notif("dms1", DelInfo("IMEI:1", ()), DelType.FULL, 5), SENT))


def test_unknown_failure_codes_are_kept() -> None:
    data = encode(Message("d-0123456789", "dms2", "dms1", 3, Failure(Reason.INTERNAL, "x"), SENT))
    back = decode(data.replace(b"<Code>500</Code>", b"<Code>777</Code>"))
    assert back.body.code == 777
