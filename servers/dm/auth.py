"""Authentication both ways for one server session, on dmclient.auth's nonce rules.

- The client proves itself to us (config client_*): ChallengeState checks its header
  Cred (basic, md5) or its x-syncml-hmac, and issues the nonces its next Cred must use.
- We prove ourselves to the client (config server_*): CredentialState builds our Cred or
  MAC and follows the client's header Status and Chal.

A client refused twice in a row is refused for good (the session ends): the first
refusal is the challenge, the second the one more try a stale nonce is owed. The nonces
to persist are `client_nonce` and `server_nonce`; the session stores them when they
change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dmclient.auth import AuthType, ChallengeState, CredAction, CredentialState
from dmclient.auth.nonce import MAX_CHALLENGES
from dmclient.auth.peer import UnknownChallenge, judge, read_chal
from dmclient.wire import HMAC_HEADER_NAME, Cred, Header, HmacHeader, Meta, Status
from dmclient.wire import StatusCode as S
from servers.dm.config import DeviceConfig

CRED_TYPES = (AuthType.BASIC, AuthType.MD5)


@dataclass(frozen=True, slots=True)
class ClientVerdict:
    """Our judgement of one client message: the header Status code and Chal to answer
    with, whether to trust the message, and whether this refusal ends the session."""

    status: S
    chal: Meta | None
    trusted: bool
    final_refusal: bool = False


class SessionAuth:
    def __init__(self, device: DeviceConfig, *, client_nonce: bytes, server_nonce: bytes,
                 make_nonce: Callable[[], bytes]) -> None:
        self._check = ChallengeState(device.client_auth_type, device.client_name,
                                     device.client_secret, client_nonce, make_nonce=make_nonce)
        self._cred = CredentialState(device.server_auth_type, device.server_name,
                                     device.server_secret, server_nonce)

    @property
    def client_nonce(self) -> bytes:
        """The nonce the client's next Cred or MAC must be built on."""
        return self._check.nonce

    @property
    def server_nonce(self) -> bytes:
        """The nonce the client issued us, to start our next session (and package 0) with."""
        return self._cred.stored_nonce

    @property
    def server_name(self) -> str:
        return self._cred.user

    def judge(self, header: Header, body: bytes, headers: Mapping[str, str]) -> ClientVerdict:
        """Check the client's credentials on one message (headers with lower-case names)."""
        check = self._check
        verdict, chal = judge(check, header, body, headers)
        final = not verdict.authenticated and (
            verdict.end_session or check.challenges >= MAX_CHALLENGES)
        return ClientVerdict(verdict.status, chal, verdict.authenticated, final)

    def take_status(self, status: Status, *, trusted: bool) -> CredAction:
        """Follow the client's Status for our header (and its Chal); trusted says whether
        the message carrying it passed judge(), so that its NextNonce may be stored."""
        try:
            chal_type, next_nonce = read_chal(status.chal)
        except UnknownChallenge:
            return CredAction.GIVE_UP
        return self._cred.on_status(status.code, chal_type=chal_type, next_nonce=next_nonce,
                                    peer_authenticated=trusted)

    def header_cred(self) -> Cred | None:
        """Our Cred for the next message's header, until the client has said 212."""
        cred = self._cred
        if not cred.send_cred or cred.auth_type not in CRED_TYPES:
            return None
        return Cred(meta=Meta(type=cred.auth_type.value, format="b64"), data=cred.cred_data())

    def sign(self, body: bytes) -> dict[str, str]:
        """HTTP headers for a message we send: x-syncml-hmac when we authenticate by MAC."""
        cred = self._cred
        if cred.auth_type is not AuthType.MAC:
            return {}
        return {HMAC_HEADER_NAME: str(HmacHeader(username=cred.user, mac=cred.mac(body)))}


