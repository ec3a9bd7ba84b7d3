"""syncml:auth-basic, syncml:auth-md5, the HMAC-MD5 transport MAC and the package-0 digest.

Three of the four share one recipe (DM Security 1.2 §5.1.3-5.1.4, DM Notification §6),
with H = MD5, B64 = base64 and the nonce as raw bytes:

    key    = B64(H(user ":" secret))
    digest = H(key ":" nonce [":" B64(H(body))])

md5 Cred Data is B64(digest) without a body; the HMAC is B64(digest) over the exact HTTP
body; the package-0 digest is the raw digest over the trigger, with the ServerID as user.
Pure functions only: which nonce to use when is dmclient.auth.nonce's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from enum import Enum, StrEnum

from dmclient.wire.status import StatusCode


class AuthType(StrEnum):
    """The Meta Type of a Cred or a Chal: how the credentials are computed."""

    BASIC = "syncml:auth-basic"
    MD5 = "syncml:auth-md5"
    MAC = "syncml:auth-MAC"
    X509 = "syncml:auth-X509"
    SECURID = "syncml:auth-securid"
    SAFEWORD = "syncml:auth-safeword"
    DIGIPASS = "syncml:auth-digipass"

    @classmethod
    def _missing_(cls, value: object) -> AuthType | None:
        # Peers differ in case and padding ("syncml:auth-mac"); the names never collide.
        if isinstance(value, str):
            wanted = value.strip().lower()
            for member in cls:
                if member.value.lower() == wanted:
                    return member
        return None


class AAuthType(StrEnum):
    """DMAcc AppAuth/<X>/AAuthType values. HTTP-* and TRANSPORT live below SyncML: no Cred."""

    HTTP_BASIC = "HTTP-BASIC"
    HTTP_DIGEST = "HTTP-DIGEST"
    BASIC = "BASIC"
    DIGEST = "DIGEST"
    HMAC = "HMAC"
    X509 = "X509"
    SECURID = "SECURID"
    SAFEWORD = "SAFEWORD"
    DIGIPASS = "DIGIPASS"
    TRANSPORT = "TRANSPORT"

    @property
    def auth_type(self) -> AuthType | None:
        """The SyncML name, or None for the transport-level types."""
        return _TO_SYNCML.get(self)

    @classmethod
    def for_auth_type(cls, auth_type: AuthType) -> AAuthType:
        """The account entry to look for when a peer challenges with auth_type."""
        return _FROM_SYNCML[auth_type]


_TO_SYNCML: dict[AAuthType, AuthType] = {
    AAuthType.BASIC: AuthType.BASIC,
    AAuthType.DIGEST: AuthType.MD5,
    AAuthType.HMAC: AuthType.MAC,
    AAuthType.X509: AuthType.X509,
    AAuthType.SECURID: AuthType.SECURID,
    AAuthType.SAFEWORD: AuthType.SAFEWORD,
    AAuthType.DIGIPASS: AuthType.DIGIPASS,
}
_FROM_SYNCML: dict[AuthType, AAuthType] = {v: k for k, v in _TO_SYNCML.items()}


def _h(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def _unb64(text: str) -> bytes | None:
    """Decode base64 from a peer: whitespace (XML line breaks) allowed, nothing else."""
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def md5_key(user: str, secret: str) -> bytes:
    """B64(H(user:secret)): all an authenticator needs to store instead of the password."""
    return _b64(_h(f"{user}:{secret}".encode()))


def _digest(user: str, secret: str, nonce: bytes, body: bytes | None = None) -> bytes:
    parts = [md5_key(user, secret), nonce]
    if body is not None:
        parts.append(_b64(_h(body)))
    return _h(b":".join(parts))


def basic_cred(user: str, secret: str) -> str:
    """syncml:auth-basic Cred Data: B64(user:secret)."""
    return _b64(f"{user}:{secret}".encode()).decode("ascii")


def parse_basic(data: str) -> tuple[str, str] | None:
    """(user, secret) from basic Cred Data; None if it is not b64 of UTF-8 'user:secret'."""
    raw = _unb64(data)
    if raw is None:
        return None
    try:
        user, sep, secret = raw.decode("utf-8").partition(":")
    except UnicodeDecodeError:
        return None
    return (user, secret) if sep else None


def md5_cred(user: str, secret: str, nonce: bytes) -> str:
    """syncml:auth-md5 Cred Data: B64(H(B64(H(user:secret)):nonce))."""
    return _b64(_digest(user, secret, nonce)).decode("ascii")


def hmac_mac(user: str, secret: str, nonce: bytes, body: bytes) -> str:
    """The mac= value of x-syncml-hmac, over the exact body bytes as sent (XML or WBXML)."""
    return _b64(_digest(user, secret, nonce, body)).decode("ascii")


def notification_digest(server_id: str, secret: str, nonce: bytes, trigger: bytes) -> bytes:
    """The raw 16-byte package-0 digest; trigger is everything after the digest."""
    return _digest(server_id, secret, nonce, trigger)


def _same(received_b64: str, expected_raw: bytes) -> bool:
    raw = _unb64(received_b64)
    return raw is not None and hmac.compare_digest(raw, expected_raw)


def verify_basic(data: str, user: str, secret: str) -> bool:
    """True if basic Cred Data carries exactly user:secret (constant-time compare)."""
    raw = _unb64(data)
    return raw is not None and hmac.compare_digest(raw, f"{user}:{secret}".encode())


def verify_md5(data: str, user: str, secret: str, nonce: bytes) -> bool:
    """True if md5 Cred Data matches (compared as raw digests, constant time)."""
    return _same(data, _digest(user, secret, nonce))


def verify_mac(mac: str, user: str, secret: str, nonce: bytes, body: bytes) -> bool:
    """True if an x-syncml-hmac mac matches the body (compared as raw digests)."""
    return _same(mac, _digest(user, secret, nonce, body))


class CredCheck(Enum):
    """Outcome of checking a peer's Cred against what we expect of it."""

    OK = "ok"
    MISSING = "missing"
    WRONG_TYPE = "wrong type"
    WRONG_CREDENTIALS = "wrong credentials"

    @property
    def status(self) -> StatusCode:
        """The usual header Status: 212 for OK (a session wanting Cred on every message
        answers 200 instead), 407 for missing, 401 otherwise."""
        return _CHECK_STATUS[self]


_CHECK_STATUS = {
    CredCheck.OK: StatusCode.AUTHENTICATED,
    CredCheck.MISSING: StatusCode.MISSING_CREDENTIALS,
    CredCheck.WRONG_TYPE: StatusCode.INVALID_CREDENTIALS,
    CredCheck.WRONG_CREDENTIALS: StatusCode.INVALID_CREDENTIALS,
}


def verify_cred(
    cred_type: str | None,
    data: str | None,
    loc_name: str | None,
    *,
    expected: AuthType,
    user: str,
    secret: str,
    nonce: bytes = b"",
) -> CredCheck:
    """Check a header Cred (Meta Type, Data, and the header's Source/LocName).

    Only basic and md5 travel in Cred; HMAC is a transport header (verify_mac). The
    LocName names the user for md5, so it must match; for basic it must match if given.
    """
    if expected not in (AuthType.BASIC, AuthType.MD5):
        raise ValueError(f"{expected} is not carried in Cred")
    if data is None:
        return CredCheck.MISSING
    # A Cred without Meta Type is read as basic, the SyncML RepPro default.
    try:
        received = AuthType(cred_type) if cred_type is not None else AuthType.BASIC
    except ValueError:
        return CredCheck.WRONG_TYPE
    if received is not expected:
        return CredCheck.WRONG_TYPE
    if expected is AuthType.BASIC:
        ok = (loc_name is None or loc_name == user) and verify_basic(data, user, secret)
    else:
        ok = loc_name == user and verify_md5(data, user, secret, nonce)
    return CredCheck.OK if ok else CredCheck.WRONG_CREDENTIALS
