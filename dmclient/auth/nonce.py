"""Nonce and challenge bookkeeping for one direction of authentication in one session.

Everything that decides which nonce a Cred uses, which nonce gets persisted, and how a
header Status moves authentication along lives here; computing the values is
dmclient.auth.credentials' job, and reading or writing the tree is the session's.

Each side of a session plays both roles, one per direction:
- it *sends* credentials built on a nonce the peer issued (the handset's CLCRED
  AAuthData, a server's copy of the handset's SRVCRED nonce): CredentialState;
- it *checks* the peer's credentials against a nonce it issued itself: ChallengeState.

Rules (DM Security 1.2 §5.1.3.3-5.1.4, digest §5):
- Cred sent before any challenge uses the last stored nonce.
- 212: authenticated for the rest of the session; a NextNonce with it is for the next
  session. 200 on a message that carried Cred: the next message carries Cred again, on
  the newest NextNonce. With HMAC every message is answered 200 and a fresh nonce.
- A checker challenges at most MAX_CHALLENGES times per session, each time with a fresh
  nonce: once for missing or stale credentials, once more owed to a failure; the next
  refusal ends the session. A sender gives up on its second refusal in a row.
- The auth type is fixed once the peer has accepted it (HMAC, once started, stays).

Decision on nonces from a peer that has not authenticated (§5.1.3.4): such a NextNonce
is *used* for the next Cred of this session (otherwise two sides with stale nonces
could never recover), but it is *stored* only if the message that carried it was itself
authenticated: by the peer's Cred or HMAC, or by the transport. A challenge that answers
our own failed Cred is no exception: anyone can send "401, here is a new nonce", and
storing it would let them plant the nonce our next session starts with. The price is
one extra round trip in the next session when the peer never authenticates itself,
which the stale-nonce rule already pays for; peers that do (libdmclient answers 212
with a Chal carrying the next session's nonce) keep the stored nonce fresh.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from dmclient.auth.credentials import (
    AuthType,
    CredCheck,
    basic_cred,
    hmac_mac,
    md5_cred,
    verify_cred,
    verify_mac,
)
from dmclient.wire.status import StatusCode

NONCE_SIZE = 16
"""Bytes in a fresh nonce: the 128 bits DM Security recommends."""

MAX_CHALLENGES = 2
"""Challenges per session: the first, plus the one more a failure is owed (§5.1.3.3)."""


class NonceError(ValueError):
    """A NextNonce or stored nonce that is not base64."""


def new_nonce() -> bytes:
    """A fresh, unpredictable nonce."""
    return secrets.token_bytes(NONCE_SIZE)


def encode_nonce(nonce: bytes) -> str:
    """Chal Meta NextNonce (Format b64), and the b64 form AAuthData is kept in."""
    return base64.b64encode(nonce).decode("ascii")


def decode_nonce(text: str) -> bytes:
    """The raw nonce from a NextNonce or AAuthData: base64-decoded exactly once.

    Some peers send b64 of a b64 string; the nonce is then that inner string's bytes,
    which is what both sides hash, so decoding again would break interop.
    """
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NonceError(f"nonce is not base64: {text[:40]!r}") from exc


class CredAction(Enum):
    """What the next message must do about our credentials."""

    NONE = "none"  # authenticated for the session: no Cred
    SEND = "send"  # Cred (or the HMAC header) built on current_nonce
    RESEND = "resend"  # refused: resend the refused package with Cred on the new nonce
    GIVE_UP = "give up"  # refused again, or the type changed after acceptance: end it


_REFUSED = (StatusCode.INVALID_CREDENTIALS, StatusCode.MISSING_CREDENTIALS)
_SENDABLE = (AuthType.BASIC, AuthType.MD5, AuthType.MAC)


@dataclass
class CredentialState:
    """Our credentials towards one peer during one session.

    stored_nonce is what the session persists at the end (AAuthData); current_nonce is
    what the next Cred or MAC is built on.
    """

    auth_type: AuthType
    user: str
    secret: str
    stored_nonce: bytes
    current_nonce: bytes = field(init=False)
    send_cred: bool = field(default=True, init=False)
    accepted: bool = field(default=False, init=False)
    refusals: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.current_nonce = self.stored_nonce

    def cred_data(self) -> str:
        """Cred Data for the next message (basic or md5)."""
        if self.auth_type is AuthType.BASIC:
            return basic_cred(self.user, self.secret)
        if self.auth_type is AuthType.MD5:
            return md5_cred(self.user, self.secret, self.current_nonce)
        raise ValueError(f"{self.auth_type} is not sent in Cred")

    def mac(self, body: bytes) -> str:
        """The x-syncml-hmac mac for the next message's exact body."""
        if self.auth_type is not AuthType.MAC:
            raise ValueError(f"{self.auth_type} has no transport MAC")
        return hmac_mac(self.user, self.secret, self.current_nonce, body)

    def on_status(
        self,
        code: int,
        *,
        chal_type: AuthType | None = None,
        next_nonce: bytes | None = None,
        peer_authenticated: bool,
    ) -> CredAction:
        """Take the peer's header Status (and its Chal, if any) for our last message.

        peer_authenticated: the message carrying this Status was authenticated, by the
        peer's Cred or HMAC or by the transport. Only then is next_nonce stored.
        """
        if next_nonce is not None:
            if peer_authenticated:
                self.stored_nonce = next_nonce
            if code != StatusCode.AUTHENTICATED:
                self.current_nonce = next_nonce
        if chal_type is not None and chal_type != self.auth_type:
            if self.accepted or chal_type not in _SENDABLE:
                return CredAction.GIVE_UP
            self.auth_type = AuthType(chal_type)
        if code == StatusCode.AUTHENTICATED:
            self._accept()
            self.send_cred = False
            return CredAction.NONE
        if code in _REFUSED:
            self.refusals += 1
            self.send_cred = True
            return CredAction.RESEND if self.refusals < MAX_CHALLENGES else CredAction.GIVE_UP
        if not self.send_cred:
            return CredAction.NONE
        if code == StatusCode.OK:
            self._accept()
        return CredAction.SEND

    def _accept(self) -> None:
        self.accepted = True
        self.refusals = 0


@dataclass(frozen=True)
class Verdict:
    """How to answer the peer's credentials: the header Status and its Chal, if any."""

    check: CredCheck
    status: StatusCode
    chal_type: AuthType | None = None
    next_nonce: bytes | None = None
    end_session: bool = False

    @property
    def authenticated(self) -> bool:
        """The message this answers may be trusted, e.g. to store a NextNonce it carries:
        its credentials checked out, or it needed none in an authenticated session."""
        return self.status in (StatusCode.OK, StatusCode.AUTHENTICATED)


@dataclass
class ChallengeState:
    """Checking the peer's credentials with the nonce we issued to it.

    nonce is the nonce the peer must use; it changes whenever we issue a new one, and
    the session persists it at the end (handset: SRVCRED AAuthData). A nonce is
    replaced as soon as it is issued: if the Chal is lost, the peer's stale nonce fails
    once and earns a fresh challenge.
    """

    auth_type: AuthType
    user: str
    secret: str
    nonce: bytes
    make_nonce: Callable[[], bytes] = field(default=new_nonce, repr=False, compare=False)
    authenticated: bool = field(default=False, init=False)
    challenges: int = field(default=0, init=False)

    def check_cred(self, cred_type: str | None, data: str | None, loc_name: str | None) -> Verdict:
        """Judge the header Cred of a received message (basic or md5)."""
        if self.authenticated:
            # 212 covered the rest of the session; its NextNonce is for the next one, so a
            # peer that keeps sending Cred on the old nonce is not refused for it.
            return Verdict(CredCheck.OK if data else CredCheck.MISSING, StatusCode.OK)
        check = verify_cred(
            cred_type,
            data,
            loc_name,
            expected=self.auth_type,
            user=self.user,
            secret=self.secret,
            nonce=self.nonce,
        )
        if check is not CredCheck.OK:
            return self._refuse(check)
        first = not self.authenticated
        self._accept()
        # The next session's nonce rides on the 212 (md5 only; basic has none).
        if first and self.auth_type is AuthType.MD5:
            return Verdict(check, StatusCode.AUTHENTICATED, AuthType.MD5, self._issue())
        return Verdict(check, StatusCode.AUTHENTICATED)

    def check_mac(self, username: str | None, mac: str | None, body: bytes) -> Verdict:
        """Judge a received message's x-syncml-hmac (username and mac as parsed)."""
        if self.auth_type is not AuthType.MAC:
            raise ValueError(f"expecting {self.auth_type}, not a transport MAC")
        if mac is None:
            check = CredCheck.MISSING
        elif username == self.user and verify_mac(mac, self.user, self.secret, self.nonce, body):
            check = CredCheck.OK
        else:
            check = CredCheck.WRONG_CREDENTIALS
        if check is not CredCheck.OK:
            return self._refuse(check)
        # HMAC never reaches 212: every message is answered 200 and a new nonce.
        self._accept()
        return Verdict(check, StatusCode.OK, AuthType.MAC, self._issue())

    def _accept(self) -> None:
        self.authenticated = True
        self.challenges = 0

    def _refuse(self, check: CredCheck) -> Verdict:
        self.authenticated = False
        if self.challenges >= MAX_CHALLENGES:
            return Verdict(check, check.status, end_session=True)
        self.challenges += 1
        nonce = None if self.auth_type is AuthType.BASIC else self._issue()
        return Verdict(check, check.status, self.auth_type, nonce)

    def _issue(self) -> bytes:
        self.nonce = self.make_nonce()
        return self.nonce
