"""Package 0: layout, digest, tampering, resync and hostile input."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmclient.notification import (
    RESYNC_NONCE,
    Initiator,
    NonceMatch,
    Notification,
    NotificationError,
    UIMode,
    decode,
    encode,
    verify,
    verify_with_resync,
)

PASSWORD, NONCE = "srvpwd", b"\x8a\x13\x07\x42server-nonce"

SAMPLE = Notification(
    version=11,
    ui_mode=UIMode.INFORMATIVE,
    initiator=Initiator.SERVER,
    session_id=0xBEEF,
    server_id="dms1",
    vendor=b"\x01\x02",
)


def _hand_built(nonce: bytes) -> bytes:
    """SAMPLE laid out from the bit table with struct, digest from the formula."""
    flags = (11 << 6) | (2 << 4) | (1 << 3)  # version 10b | ui 2b | initiator 1b | 3 reserved
    trigger = struct.pack(">H3xHB", flags, 0xBEEF, 4) + b"dms1" + b"\x01\x02"
    key = base64.b64encode(hashlib.md5(b"dms1:srvpwd").digest())
    body = base64.b64encode(hashlib.md5(trigger).digest())
    return hashlib.md5(key + b":" + nonce + b":" + body).digest() + trigger


def test_known_vector() -> None:
    data = _hand_built(NONCE)
    # The 8-byte word, by hand: 0000001011 10 1 000... | BEEF | 04.
    assert data[16:24] == bytes.fromhex("02e8000000beef04")
    assert encode(SAMPLE, PASSWORD, NONCE) == data
    assert decode(data) == (SAMPLE, data[:16])
    assert verify(data, PASSWORD, NONCE)


def test_round_trip_defaults() -> None:
    notification = Notification(session_id=1, server_id="funambol")
    assert notification.version == 11
    assert notification.ui_mode is UIMode.UNSPECIFIED
    assert notification.initiator is Initiator.SERVER
    decoded, _ = decode(encode(notification, PASSWORD, NONCE))
    assert decoded == notification


def test_version_12_is_accepted() -> None:
    notification = Notification(version=12, session_id=7, server_id="x")
    assert decode(encode(notification, PASSWORD, NONCE))[0].version == 12


@pytest.mark.parametrize(
    ("session_id", "text"), [(0, "0"), (0x00AB, "AB"), (0xBEEF, "BEEF"), (0x0100, "100")]
)
def test_syncml_session_id(session_id: int, text: str) -> None:
    assert Notification(session_id=session_id, server_id="s").syncml_session_id == text


def test_every_flipped_bit_fails_verification() -> None:
    data = encode(SAMPLE, PASSWORD, NONCE)
    for position in range(len(data)):
        for bit in range(8):
            tampered = bytearray(data)
            tampered[position] ^= 1 << bit
            assert not verify(bytes(tampered), PASSWORD, NONCE), (position, bit)
    assert not verify(data + b"\x00", PASSWORD, NONCE)
    assert not verify(data[:-1], PASSWORD, NONCE)
    assert not verify(data, "other", NONCE)
    assert not verify(data, PASSWORD, NONCE + b"\x00")


def test_resync_with_the_zero_nonce() -> None:
    assert RESYNC_NONCE == bytes(4)
    assert verify_with_resync(encode(SAMPLE, PASSWORD, NONCE), PASSWORD, NONCE) is NonceMatch.STORED
    resync = verify_with_resync(encode(SAMPLE, PASSWORD, bytes(4)), PASSWORD, NONCE)
    assert resync is NonceMatch.RESYNC and resync.verified
    # libdmclient's mistake, the ASCII text, is not the resync nonce.
    wrong = verify_with_resync(encode(SAMPLE, PASSWORD, b"0x00000000"), PASSWORD, NONCE)
    assert wrong is NonceMatch.NONE and not wrong.verified
    assert verify_with_resync(b"junk", PASSWORD, NONCE) is NonceMatch.NONE


def _word(version: int = 11, id_len: int = 4, reserved: int = 0) -> bytes:
    return ((version << 54) | (reserved << 24) | id_len).to_bytes(8, "big")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (bytes(23), "too short"),
        (bytes(16) + _word(id_len=0), "length is 0"),
        (bytes(16) + _word(id_len=5) + b"dms1", "runs past the end"),
        (bytes(16) + _word(version=10) + b"dms1", "unsupported version 10"),
        (bytes(16) + _word(version=1023) + b"dms1", "unsupported version"),
        (bytes(16) + _word(id_len=2) + b"\xc3\x28", "not UTF-8"),
        ("text", "expected bytes"),
    ],
)
def test_malformed_input_is_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(NotificationError, match=message):
        decode(data)


def test_reserved_bits_are_ignored_but_covered_by_the_digest() -> None:
    notification, _ = decode(bytes(16) + _word(reserved=5) + b"dms1")
    assert notification.server_id == "dms1"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"version": 13},
        {"session_id": 0x10000},
        {"session_id": -1},
        {"server_id": ""},
        {"server_id": "é" * 128},
        {"ui_mode": 4},
        {"initiator": 2},
    ],
)
def test_invalid_notifications_cannot_be_built(kwargs: dict) -> None:
    with pytest.raises(NotificationError):
        Notification(**{"session_id": 1, "server_id": "s", **kwargs})


notifications = st.builds(
    Notification,
    version=st.sampled_from([11, 12]),
    ui_mode=st.sampled_from(UIMode),
    initiator=st.sampled_from(Initiator),
    session_id=st.integers(0, 0xFFFF),
    server_id=st.text(min_size=1, max_size=60).filter(lambda s: 1 <= len(s.encode()) <= 255),
    vendor=st.binary(max_size=64),
)


@given(notifications, st.text(max_size=20), st.binary(max_size=24))
def test_round_trip_any_notification(
    notification: Notification, password: str, nonce: bytes
) -> None:
    data = encode(notification, password, nonce)
    decoded, digest = decode(data)
    assert decoded == notification
    assert digest == data[:16]
    assert verify(data, password, nonce)


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_random_bytes_raise_only_notification_error(data: bytes) -> None:
    try:
        decode(data)
    except NotificationError:
        pass
    assert verify(data, PASSWORD, NONCE) in (True, False)


def test_every_truncation_is_refused_or_unverified() -> None:
    data = encode(SAMPLE, PASSWORD, NONCE)
    id_end = 24 + len(SAMPLE.server_id)
    for cut in range(len(data)):
        if cut < id_end:
            with pytest.raises(NotificationError):
                decode(data[:cut])
        else:  # only vendor bytes lost: still readable, no longer authentic
            assert decode(data[:cut])[0].vendor == SAMPLE.vendor[: cut - id_end]
        assert not verify(data[:cut], PASSWORD, NONCE)


@given(notifications, st.data())
def test_truncated_and_mutated_input_raise_only_notification_error(
    notification: Notification, data: st.DataObject
) -> None:
    encoded = bytearray(encode(notification, PASSWORD, NONCE))
    cut = data.draw(st.integers(0, len(encoded)))
    edit = st.tuples(st.integers(0, len(encoded) - 1), st.integers(0, 255))
    for index, value in data.draw(st.lists(edit, max_size=4)):
        encoded[index] = value
    try:
        decode(bytes(encoded[:cut]))
    except NotificationError:
        pass
