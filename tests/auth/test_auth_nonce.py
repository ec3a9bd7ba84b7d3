"""Nonce rules: which nonce a Cred uses, which one is stored, how statuses move auth along."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from dmclient.auth import (
    AuthType,
    ChallengeState,
    CredAction,
    CredCheck,
    CredentialState,
    NonceError,
    basic_cred,
    decode_nonce,
    encode_nonce,
    hmac_mac,
    md5_cred,
    new_nonce,
)
from dmclient.wire.status import StatusCode

USER, SECRET = "Bruce2", "OhBehave"
OLD, NEW, NEXT = b"old-nonce", b"new-nonce", b"next-session"


def counter() -> Callable[[], bytes]:
    """Deterministic nonces n1, n2, ... for the checking side."""
    count = 0

    def make() -> bytes:
        nonlocal count
        count += 1
        return f"n{count}".encode()

    return make


def md5_sender(stored: bytes = OLD) -> CredentialState:
    return CredentialState(AuthType.MD5, USER, SECRET, stored)


def md5_checker(nonce: bytes = OLD) -> ChallengeState:
    return ChallengeState(AuthType.MD5, USER, SECRET, nonce, make_nonce=counter())


# --- nonce helpers -------------------------------------------------------------------


def test_fresh_nonces_are_128_bits_and_differ() -> None:
    assert len(new_nonce()) == 16
    assert new_nonce() != new_nonce()


def test_next_nonce_round_trip() -> None:
    assert decode_nonce(encode_nonce(b"\x00\xffabc")) == b"\x00\xffabc"
    assert decode_nonce("ZG9i\nZWhhdmUNCg==") == b"dobehave\r\n"


def test_next_nonce_is_decoded_once() -> None:
    inner = base64.b64encode(b"raw")
    assert decode_nonce(base64.b64encode(inner).decode()) == inner


@pytest.mark.parametrize("text", ["***", "abc", "é"])
def test_bad_next_nonce(text: str) -> None:
    with pytest.raises(NonceError):
        decode_nonce(text)


# --- sending our credentials ---------------------------------------------------------


def test_first_cred_uses_the_stored_nonce() -> None:
    state = CredentialState(AuthType.MD5, USER, SECRET, b"Nonce")
    assert state.send_cred
    assert state.cred_data() == "Zz6EivR3yeaaENcRN6lpAQ=="


def test_212_authenticates_the_session_and_its_nonce_is_for_next_session() -> None:
    state = md5_sender()
    action = state.on_status(
        StatusCode.AUTHENTICATED, chal_type=AuthType.MD5, next_nonce=NEXT, peer_authenticated=True
    )
    assert action is CredAction.NONE
    assert state.stored_nonce == NEXT
    assert state.current_nonce == OLD  # not used in this session
    assert not state.send_cred
    # Later headers are answered 200 without any Cred: nothing to do.
    assert state.on_status(StatusCode.OK, peer_authenticated=True) is CredAction.NONE


def test_nonce_from_unauthenticated_peer_is_never_stored() -> None:
    state = md5_sender()
    state.on_status(StatusCode.AUTHENTICATED, next_nonce=NEXT, peer_authenticated=False)
    assert state.stored_nonce == OLD


def test_challenge_on_our_failed_cred_is_used_but_not_stored() -> None:
    state = md5_sender()
    action = state.on_status(
        StatusCode.INVALID_CREDENTIALS,
        chal_type=AuthType.MD5,
        next_nonce=NEW,
        peer_authenticated=False,
    )
    assert action is CredAction.RESEND
    assert state.current_nonce == NEW and state.stored_nonce == OLD
    assert state.cred_data() == md5_cred(USER, SECRET, NEW)
    assert state.on_status(StatusCode.AUTHENTICATED, peer_authenticated=False) is CredAction.NONE
    assert state.stored_nonce == OLD


def test_challenge_from_authenticated_peer_is_stored() -> None:
    state = md5_sender()
    state.on_status(StatusCode.INVALID_CREDENTIALS, next_nonce=NEW, peer_authenticated=True)
    assert state.stored_nonce == NEW == state.current_nonce


@pytest.mark.parametrize("first", [StatusCode.INVALID_CREDENTIALS, StatusCode.MISSING_CREDENTIALS])
def test_second_refusal_gives_up(first: StatusCode) -> None:
    state = md5_sender()
    assert state.on_status(first, next_nonce=NEW, peer_authenticated=False) is CredAction.RESEND
    again = state.on_status(StatusCode.INVALID_CREDENTIALS, peer_authenticated=False)
    assert again is CredAction.GIVE_UP


def test_200_on_cred_asks_for_cred_again_on_the_new_nonce() -> None:
    state = md5_sender()
    action = state.on_status(StatusCode.OK, next_nonce=NEW, peer_authenticated=False)
    assert action is CredAction.SEND
    assert state.accepted and state.send_cred
    assert state.cred_data() == md5_cred(USER, SECRET, NEW)
    # A refusal after acceptance earns a retry again (a lost message can stale a nonce).
    refused = state.on_status(
        StatusCode.INVALID_CREDENTIALS, next_nonce=NEXT, peer_authenticated=False
    )
    assert refused is CredAction.RESEND


def test_hmac_uses_each_new_nonce() -> None:
    state = CredentialState(AuthType.MAC, USER, SECRET, OLD)
    body = b"<SyncML/>"
    assert state.mac(body) == hmac_mac(USER, SECRET, OLD, body)
    for nonce in (NEW, NEXT):
        action = state.on_status(StatusCode.OK, next_nonce=nonce, peer_authenticated=True)
        assert action is CredAction.SEND
        assert state.mac(body) == hmac_mac(USER, SECRET, nonce, body)
    assert state.stored_nonce == NEXT
    with pytest.raises(ValueError):
        state.cred_data()
    with pytest.raises(ValueError):
        md5_sender().mac(body)


def test_challenge_may_change_the_type_only_before_acceptance() -> None:
    state = md5_sender()
    refused = state.on_status(
        StatusCode.INVALID_CREDENTIALS, chal_type=AuthType.BASIC, peer_authenticated=False
    )
    assert refused is CredAction.RESEND
    assert state.auth_type is AuthType.BASIC
    assert state.cred_data() == basic_cred(USER, SECRET)
    assert state.on_status(StatusCode.OK, peer_authenticated=False) is CredAction.SEND
    switched = state.on_status(
        StatusCode.OK, chal_type=AuthType.MD5, next_nonce=NEW, peer_authenticated=False
    )
    assert switched is CredAction.GIVE_UP


def test_challenge_for_a_type_we_cannot_send_gives_up() -> None:
    state = md5_sender()
    action = state.on_status(
        StatusCode.MISSING_CREDENTIALS, chal_type=AuthType.X509, peer_authenticated=False
    )
    assert action is CredAction.GIVE_UP and state.auth_type is AuthType.MD5


# --- checking the peer's credentials -------------------------------------------------


def test_missing_cred_is_challenged_with_a_fresh_nonce() -> None:
    state = md5_checker()
    verdict = state.check_cred(None, None, None)
    assert verdict.check is CredCheck.MISSING
    assert verdict.status is StatusCode.MISSING_CREDENTIALS
    assert (verdict.chal_type, verdict.next_nonce) == (AuthType.MD5, b"n1")
    assert state.nonce == b"n1" and not verdict.authenticated


def test_stale_nonce_earns_one_more_challenge_then_the_session_ends() -> None:
    state = md5_checker(NEW)
    stale = md5_cred(USER, SECRET, OLD)
    first = state.check_cred("syncml:auth-md5", stale, USER)
    assert (first.status, first.next_nonce, first.end_session) == (401, b"n1", False)
    second = state.check_cred("syncml:auth-md5", md5_cred(USER, "wrong", b"n1"), USER)
    assert (second.status, second.next_nonce, second.end_session) == (401, b"n2", False)
    third = state.check_cred("syncml:auth-md5", md5_cred(USER, "wrong", b"n2"), USER)
    assert third.end_session and third.chal_type is None and third.next_nonce is None


def test_good_cred_gets_212_and_the_next_sessions_nonce() -> None:
    state = md5_checker()
    verdict = state.check_cred("syncml:auth-md5", md5_cred(USER, SECRET, OLD), USER)
    assert (verdict.check, verdict.status) == (CredCheck.OK, StatusCode.AUTHENTICATED)
    assert (verdict.chal_type, verdict.next_nonce) == (AuthType.MD5, b"n1")
    assert state.nonce == b"n1" and verdict.authenticated
    later = state.check_cred(None, None, None)
    assert later.status is StatusCode.OK and later.next_nonce is None and later.authenticated
    # 212 holds for the rest of the session: Cred still on the old nonce is not refused.
    again = state.check_cred("syncml:auth-md5", md5_cred(USER, SECRET, OLD), USER)
    assert again.status is StatusCode.OK and again.next_nonce is None and state.nonce == b"n1"


def test_basic_challenge_has_no_nonce() -> None:
    state = ChallengeState(AuthType.BASIC, USER, SECRET, b"", make_nonce=counter())
    refused = state.check_cred("syncml:auth-basic", basic_cred(USER, "x"), None)
    assert (refused.status, refused.chal_type, refused.next_nonce) == (
        StatusCode.INVALID_CREDENTIALS,
        AuthType.BASIC,
        None,
    )
    ok = state.check_cred("syncml:auth-basic", basic_cred(USER, SECRET), None)
    assert (ok.status, ok.chal_type, ok.next_nonce) == (StatusCode.AUTHENTICATED, None, None)


def test_hmac_checking_answers_200_and_a_new_nonce_each_message() -> None:
    state = ChallengeState(AuthType.MAC, USER, SECRET, OLD, make_nonce=counter())
    body = b"\x02\xa4\x01\x6a\x00"
    for expected_nonce in (b"n1", b"n2"):
        verdict = state.check_mac(USER, hmac_mac(USER, SECRET, state.nonce, body), body)
        assert (verdict.status, verdict.chal_type) == (StatusCode.OK, AuthType.MAC)
        assert verdict.next_nonce == expected_nonce
    assert state.check_mac(None, None, body).status is StatusCode.MISSING_CREDENTIALS
    good = hmac_mac(USER, SECRET, state.nonce, body)
    assert state.check_mac(USER, good, body + b"x").status is StatusCode.INVALID_CREDENTIALS
    stranger = hmac_mac("someone", SECRET, state.nonce, body)
    assert state.check_mac("someone", stranger, body).check is CredCheck.WRONG_CREDENTIALS
    with pytest.raises(ValueError):
        md5_checker().check_mac(USER, good, body)


# --- both sides in memory ------------------------------------------------------------


def _run_session(
    client: CredentialState, server: ChallengeState, *, server_authenticated: bool
) -> list[StatusCode]:
    """Client packages with Cred until the server's header Status settles it."""
    statuses = []
    while client.send_cred:
        verdict = server.check_cred(client.auth_type, client.cred_data(), client.user)
        statuses.append(verdict.status)
        action = client.on_status(
            verdict.status,
            chal_type=verdict.chal_type,
            next_nonce=verdict.next_nonce,
            peer_authenticated=server_authenticated,
        )
        if action is CredAction.GIVE_UP:
            break
    return statuses


def test_stale_nonces_recover_and_authenticated_server_keeps_them_fresh() -> None:
    client, server = md5_sender(OLD), md5_checker(NEW)
    assert _run_session(client, server, server_authenticated=True) == [401, 212]
    assert client.stored_nonce == server.nonce  # the next session's nonce, from the 212
    client, server = md5_sender(client.stored_nonce), md5_checker(server.nonce)
    assert _run_session(client, server, server_authenticated=True) == [212]


def test_unauthenticated_server_costs_a_round_trip_every_session() -> None:
    client, server = md5_sender(OLD), md5_checker(NEW)
    assert _run_session(client, server, server_authenticated=False) == [401, 212]
    assert client.stored_nonce == OLD
    client, server = md5_sender(client.stored_nonce), md5_checker(server.nonce)
    assert _run_session(client, server, server_authenticated=False) == [401, 212]


def test_wrong_secret_ends_after_two_challenges() -> None:
    client = CredentialState(AuthType.MD5, USER, "wrong", OLD)
    assert _run_session(client, md5_checker(NEW), server_authenticated=False) == [401, 401]
