"""Judging the credentials a received message carries, the same way on both sides.

A handset checks its server's header Cred (or x-syncml-hmac) against SRVCRED; a server
checks its handset's against what it expects. Both answer with a header Status and,
when they challenge, a Chal whose Meta carries the type and the next nonce.
"""

from __future__ import annotations

from collections.abc import Mapping

from dmclient.auth.credentials import AuthType
from dmclient.auth.nonce import ChallengeState, NonceError, Verdict, decode_nonce, encode_nonce
from dmclient.wire import HMAC_HEADER_NAME, DecodeError, Header, HmacHeader, Meta


def judge(check: ChallengeState, header: Header, body: bytes,
          headers: Mapping[str, str]) -> tuple[Verdict, Meta | None]:
    """The verdict on one received message (`headers` with lower-case names) and the
    Chal Meta to answer with, if any."""
    if check.auth_type is AuthType.MAC:
        parsed = parse_hmac_header(headers.get(HMAC_HEADER_NAME))
        verdict = check.check_mac(parsed.username if parsed else None,
                                  parsed.mac if parsed else None, body)
    else:
        cred = header.cred
        verdict = check.check_cred(cred.meta.type if cred and cred.meta else None,
                                   cred.data if cred else None, header.source.loc_name)
    chal = None
    if verdict.chal_type is not None:
        chal = Meta(type=verdict.chal_type.value, format="b64",
                    next_nonce=encode_nonce(verdict.next_nonce)
                    if verdict.next_nonce is not None else None)
    return verdict, chal


class UnknownChallenge(ValueError):
    """A Chal naming an auth type we do not know: the session cannot go on."""


def read_chal(chal: Meta | None) -> tuple[AuthType | None, bytes | None]:
    """The auth type and NextNonce a peer's Chal asks for (a NextNonce that does not
    decode is ignored); UnknownChallenge for a type we do not know."""
    if chal is None:
        return None, None
    try:
        auth_type = AuthType(chal.type) if chal.type else None
    except ValueError:
        raise UnknownChallenge(f"unknown auth type {chal.type!r}") from None
    try:
        return auth_type, decode_nonce(chal.next_nonce) if chal.next_nonce else None
    except NonceError:
        return auth_type, None


def parse_hmac_header(value: str | None) -> HmacHeader | None:
    """The x-syncml-hmac header, or None when it is missing or malformed (a refusal)."""
    if not value:
        return None
    try:
        return HmacHeader.parse(value)
    except DecodeError:
        return None
