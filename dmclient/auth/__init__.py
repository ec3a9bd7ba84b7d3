"""Credentials for SyncML DM: basic, md5 and HMAC values, nonces, the package-0 digest.

credentials computes and checks values (pure functions); nonce keeps the per-session
state of which nonce to use and to store. Stdlib only, no I/O.
"""

from dmclient.auth.credentials import (
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
from dmclient.auth.nonce import (
    ChallengeState,
    CredAction,
    CredentialState,
    NonceError,
    Verdict,
    decode_nonce,
    encode_nonce,
    new_nonce,
)

__all__ = [
    "AAuthType",
    "AuthType",
    "ChallengeState",
    "CredAction",
    "CredCheck",
    "CredentialState",
    "NonceError",
    "Verdict",
    "basic_cred",
    "decode_nonce",
    "encode_nonce",
    "hmac_mac",
    "md5_cred",
    "md5_key",
    "new_nonce",
    "notification_digest",
    "parse_basic",
    "verify_basic",
    "verify_cred",
    "verify_mac",
    "verify_md5",
]
