"""Package 0: the server's out-of-band trigger for a session (DM Notification 1.2).

Layout, big-endian (digest §6):

    digest 16 bytes | 8-byte word | server ID | vendor data (optional)

    word bits 63-54 version, 53-52 UI mode, 51 initiator, 50-24 reserved (0),
              23-8 session ID, 7-0 server ID length

digest = H(B64(H(serverid:password)) ":" nonce ":" B64(H(trigger))), trigger being all
bytes after the digest, password and nonce those of the account's SRVCRED.

A handset decodes first (the server ID picks the account), then verifies the raw bytes
with that account's secret. Every length comes from the input, so each is checked
before use, and NotificationError is the only exception decode lets out.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import Enum, IntEnum

from dmclient.auth.credentials import notification_digest

DIGEST_SIZE = 16
HEADER_SIZE = DIGEST_SIZE + 8
"""The shortest possible message, before the server ID."""

VERSION_1_2 = 11
"""DM 1.2.1 writes the version as 0000001011. libdmclient and Funambol use 11."""
SUPPORTED_VERSIONS = frozenset({11, 12})
"""12 is read too, to be safe (our choice): a sender that writes 1.2 as 12 still works."""

RESYNC_NONCE = b"\x00\x00\x00\x00"
"""The nonce to retry with when the stored one fails: four zero bytes, not "0x00000000"."""

MAX_SERVER_ID = 0xFF
MAX_SESSION_ID = 0xFFFF


class NotificationError(ValueError):
    """A package 0 that cannot be built or read."""


class UIMode(IntEnum):
    """How much the user sees of the session: nothing, a notice, or a prompt to accept it."""

    UNSPECIFIED = 0
    BACKGROUND = 1
    INFORMATIVE = 2
    USER_INTERACTION = 3


class Initiator(IntEnum):
    """Whether a user at the server or the server itself asked for the session."""

    USER = 0
    SERVER = 1


@dataclass(frozen=True, kw_only=True)
class Notification:
    """A decoded package 0, without its digest."""

    version: int = VERSION_1_2
    ui_mode: UIMode = UIMode.UNSPECIFIED
    initiator: Initiator = Initiator.SERVER
    session_id: int
    server_id: str
    vendor: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if self.version not in SUPPORTED_VERSIONS:
            expected = " or ".join(map(str, sorted(SUPPORTED_VERSIONS)))
            raise NotificationError(f"unsupported version {self.version} (expected {expected})")
        try:
            object.__setattr__(self, "ui_mode", UIMode(self.ui_mode))
            object.__setattr__(self, "initiator", Initiator(self.initiator))
        except ValueError as exc:
            raise NotificationError(str(exc)) from None
        if not 0 <= self.session_id <= MAX_SESSION_ID:
            raise NotificationError(f"session ID {self.session_id} is not 0..{MAX_SESSION_ID}")
        size = len(self.server_id.encode())
        if not 1 <= size <= MAX_SERVER_ID:
            raise NotificationError(f"server ID is {size} bytes, not 1..{MAX_SERVER_ID}")
        object.__setattr__(self, "vendor", bytes(self.vendor))

    @property
    def syncml_session_id(self) -> str:
        """The SessionID of the session this triggers: uppercase hex, no leading zeros."""
        return format(self.session_id, "X")


def _trigger(n: Notification) -> bytes:
    server_id = n.server_id.encode()
    word = (
        n.version << 54
        | n.ui_mode << 52
        | n.initiator << 51
        | n.session_id << 8
        | len(server_id)
    )
    return word.to_bytes(8, "big") + server_id + n.vendor


def encode(notification: Notification, server_password: str, nonce: bytes) -> bytes:
    """The package-0 bytes, digest computed with the account's SRVCRED secret and nonce."""
    trigger = _trigger(notification)
    return notification_digest(notification.server_id, server_password, nonce, trigger) + trigger


def decode(data: bytes) -> tuple[Notification, bytes]:
    """(notification, raw digest). Reserved bits are ignored; the digest covers them."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise NotificationError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise NotificationError(
            f"too short: {len(data)} bytes, package 0 has at least {HEADER_SIZE} plus the server ID"
        )
    word = int.from_bytes(data[DIGEST_SIZE:HEADER_SIZE], "big")
    id_len = word & 0xFF
    if id_len == 0:
        raise NotificationError("server ID length is 0")
    id_end = HEADER_SIZE + id_len
    if id_end > len(data):
        raise NotificationError(
            f"server ID length {id_len} runs past the end ({len(data) - HEADER_SIZE} bytes left)"
        )
    try:
        server_id = data[HEADER_SIZE:id_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = HEADER_SIZE + exc.start
        raise NotificationError(f"server ID is not UTF-8 (byte {at})") from None
    notification = Notification(
        version=word >> 54,
        ui_mode=(word >> 52) & 0b11,
        initiator=(word >> 51) & 1,
        session_id=(word >> 8) & 0xFFFF,
        server_id=server_id,
        vendor=data[id_end:],
    )
    return notification, data[:DIGEST_SIZE]


def verify(data: bytes, server_password: str, nonce: bytes) -> bool:
    """True if data is a well-formed package 0 whose digest matches this secret and nonce."""
    try:
        notification, digest = decode(data)
    except NotificationError:
        return False
    expected = notification_digest(
        notification.server_id, server_password, nonce, bytes(data[DIGEST_SIZE:])
    )
    return hmac.compare_digest(digest, expected)


class NonceMatch(Enum):
    """Which nonce made the digest match. After RESYNC the session runs on RESYNC_NONCE
    and refreshes both nonces through Chal."""

    STORED = "stored"
    RESYNC = "resync"
    NONE = "none"

    @property
    def verified(self) -> bool:
        return self is not NonceMatch.NONE


def verify_with_resync(data: bytes, server_password: str, stored_nonce: bytes) -> NonceMatch:
    """Verify with the stored SRVCRED nonce, then with the resync nonce (four zero bytes)
    that a server uses once it has lost track of ours."""
    if verify(data, server_password, stored_nonce):
        return NonceMatch.STORED
    if verify(data, server_password, RESYNC_NONCE):
        return NonceMatch.RESYNC
    return NonceMatch.NONE
