"""Credential values against published and independently computed vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmclient.auth import (
    AAuthType,
    AuthType,
    CredCheck,
    basic_cred,
    hmac_mac,
    md5_cred,
    md5_key,
    notification_digest,
    parse_basic,
    verify_basic,
    verify_cred,
    verify_mac,
    verify_md5,
)
from dmclient.wire.status import StatusCode

USER, SECRET, NONCE = "Bruce2", "OhBehave", b"Nonce"

# OMA DM Protocol 1.2 §4.1.1.6, the Cred example (Bruce2 / OhBehave / Nonce). Older
# SyncML RepPro text printed the same value next to "Bruce1", a known erratum.
MD5_VECTOR = "Zz6EivR3yeaaENcRN6lpAQ=="

# DM Security 1.2 §5.1.4.3 publishes only a header ("Robert Jordan", mac=NTI2...) with no
# password, nonce or body, so no MAC can be checked against it. These were computed once
# from the formula with hashlib, step by step (see test_hmac_formula_step_by_step).
HMAC_VECTORS = [
    (b'<SyncML xmlns="SYNCML:SYNCML1.2"></SyncML>', "aSBvnDHzBa7JhdjeEEUR2g=="),
    (b"\x02\xa4\x01\x6a\x00\x6d\x6c\x71\x031.2\x00\x01", "8j+QoY8pJebz2XRSaEaEYQ=="),
    (b"", "gbjsdKI2jLRPFi9gmOstJg=="),
]


def test_md5_published_vector() -> None:
    assert md5_cred(USER, SECRET, NONCE) == MD5_VECTOR
    assert verify_md5(MD5_VECTOR, USER, SECRET, NONCE)


def test_md5_key_is_what_the_authenticator_may_store() -> None:
    assert md5_key(USER, SECRET) == base64.b64encode(hashlib.md5(b"Bruce2:OhBehave").digest())


@pytest.mark.parametrize(
    ("user", "secret", "nonce"),
    [("Bruce1", SECRET, NONCE), (USER, "ohbehave", NONCE), (USER, SECRET, b"nonce")],
)
def test_md5_rejects_any_changed_input(user: str, secret: str, nonce: bytes) -> None:
    assert not verify_md5(MD5_VECTOR, user, secret, nonce)


@pytest.mark.parametrize("data", ["", "not base64!", "Zz6EivR3yeaaENcRN6lpAQ", "é"])
def test_md5_rejects_malformed_data(data: str) -> None:
    assert not verify_md5(data, USER, SECRET, NONCE)


def test_md5_tolerates_line_breaks_in_data() -> None:
    assert verify_md5("Zz6EivR3yeaa\n  ENcRN6lpAQ==", USER, SECRET, NONCE)


def test_basic_round_trip() -> None:
    data = basic_cred("funambol", "fun:ambol")
    assert data == base64.b64encode(b"funambol:fun:ambol").decode()
    assert parse_basic(data) == ("funambol", "fun:ambol")
    assert verify_basic(data, "funambol", "fun:ambol")
    assert not verify_basic(data, "funambol", "funambol")


@pytest.mark.parametrize("data", ["bm9jb2xvbg==", "%%%", base64.b64encode(b"\xff:x").decode()])
def test_parse_basic_refuses_non_credentials(data: str) -> None:
    assert parse_basic(data) is None


@given(st.text().filter(lambda s: ":" not in s), st.text())
def test_basic_round_trip_any_text(user: str, secret: str) -> None:
    assert parse_basic(basic_cred(user, secret)) == (user, secret)


def test_hmac_formula_step_by_step() -> None:
    body = HMAC_VECTORS[0][0]
    user_hash = base64.b64encode(hashlib.md5(b"Bruce2:OhBehave").digest())
    body_hash = base64.b64encode(hashlib.md5(body).digest())
    mac = base64.b64encode(hashlib.md5(user_hash + b":" + NONCE + b":" + body_hash).digest())
    assert hmac_mac(USER, SECRET, NONCE, body) == mac.decode()


@pytest.mark.parametrize(("body", "mac"), HMAC_VECTORS)
def test_hmac_vectors(body: bytes, mac: str) -> None:
    assert hmac_mac(USER, SECRET, NONCE, body) == mac
    assert verify_mac(mac, USER, SECRET, NONCE, body)


def test_hmac_covers_every_body_byte() -> None:
    body, mac = HMAC_VECTORS[1]
    for i in range(len(body)):
        tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
        assert not verify_mac(mac, USER, SECRET, NONCE, tampered)
    assert not verify_mac(mac, USER, SECRET, NONCE, body + b"\x00")
    assert not verify_mac(mac, USER, SECRET, b"nonce", body)
    assert not verify_mac("garbage", USER, SECRET, NONCE, body)


def test_notification_digest_is_raw_and_follows_the_formula() -> None:
    trigger = bytes.fromhex("02e8000000beef04") + b"dms1"
    key = base64.b64encode(hashlib.md5(b"dms1:srvpwd").digest())
    expected = hashlib.md5(
        key + b":" + b"\x01\x02" + b":" + base64.b64encode(hashlib.md5(trigger).digest())
    ).digest()
    digest = notification_digest("dms1", "srvpwd", b"\x01\x02", trigger)
    assert digest == expected and len(digest) == 16


def test_auth_type_names() -> None:
    assert AuthType("syncml:auth-md5") is AuthType.MD5
    assert AuthType(" SYNCML:AUTH-mac ") is AuthType.MAC
    with pytest.raises(ValueError):
        AuthType("syncml:auth-none")


@pytest.mark.parametrize(
    ("aauth", "syncml"),
    [
        (AAuthType.BASIC, AuthType.BASIC),
        (AAuthType.DIGEST, AuthType.MD5),
        (AAuthType.HMAC, AuthType.MAC),
        (AAuthType.X509, AuthType.X509),
        (AAuthType.HTTP_DIGEST, None),
        (AAuthType.TRANSPORT, None),
    ],
)
def test_aauth_type_mapping(aauth: AAuthType, syncml: AuthType | None) -> None:
    assert AAuthType(aauth.value) is aauth
    assert aauth.auth_type is syncml
    if syncml is not None:
        assert AAuthType.for_auth_type(syncml) is aauth


BASIC = basic_cred(USER, SECRET)
MD5, BASIC_T = AuthType.MD5, AuthType.BASIC
OK, MISSING = CredCheck.OK, CredCheck.MISSING
WRONG_TYPE, WRONG = CredCheck.WRONG_TYPE, CredCheck.WRONG_CREDENTIALS


@pytest.mark.parametrize(
    ("cred_type", "data", "loc_name", "expected", "result"),
    [
        ("syncml:auth-md5", MD5_VECTOR, USER, MD5, OK),
        ("syncml:auth-md5", MD5_VECTOR, "Bruce1", MD5, WRONG),
        ("syncml:auth-md5", MD5_VECTOR, None, MD5, WRONG),
        ("syncml:auth-md5", "AAAA", USER, MD5, WRONG),
        ("syncml:auth-basic", BASIC, None, MD5, WRONG_TYPE),
        ("syncml:auth-whatever", MD5_VECTOR, USER, MD5, WRONG_TYPE),
        (None, None, USER, MD5, MISSING),
        ("syncml:auth-basic", BASIC, None, BASIC_T, OK),
        (None, BASIC, USER, BASIC_T, OK),
        ("syncml:auth-basic", BASIC, "other", BASIC_T, WRONG),
        ("syncml:auth-basic", basic_cred(USER, "x"), None, BASIC_T, WRONG),
    ],
)
def test_verify_cred(
    cred_type: str | None,
    data: str | None,
    loc_name: str | None,
    expected: AuthType,
    result: CredCheck,
) -> None:
    check = verify_cred(
        cred_type, data, loc_name, expected=expected, user=USER, secret=SECRET, nonce=NONCE
    )
    assert check is result


def test_cred_check_statuses() -> None:
    assert CredCheck.OK.status is StatusCode.AUTHENTICATED
    assert CredCheck.MISSING.status is StatusCode.MISSING_CREDENTIALS
    assert CredCheck.WRONG_TYPE.status is StatusCode.INVALID_CREDENTIALS
    assert CredCheck.WRONG_CREDENTIALS.status is StatusCode.INVALID_CREDENTIALS


def test_hmac_is_never_checked_as_cred() -> None:
    with pytest.raises(ValueError):
        verify_cred("syncml:auth-MAC", "x", USER, expected=AuthType.MAC, user=USER, secret=SECRET)
