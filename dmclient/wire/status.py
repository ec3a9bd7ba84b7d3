"""OMA DM 1.2 status codes (SyncML RepPro 1.2 and DM Protocol 1.2).

Every operation on the tree and every command in a session answers with one of these,
so the tree, the session engine and the servers speak the same numbers.
"""

from __future__ import annotations

from enum import IntEnum


class StatusCode(IntEnum):
    IN_PROGRESS = 101
    OK = 200
    ACCEPTED = 202
    AUTHENTICATED = 212
    CHUNK_ACCEPTED = 213
    CANCELLED = 214
    NOT_EXECUTED = 215
    ATOMIC_ROLLBACK_OK = 216
    NOT_MODIFIED = 304
    BAD_REQUEST = 400
    INVALID_CREDENTIALS = 401
    FORBIDDEN = 403
    NOT_FOUND = 404
    COMMAND_NOT_ALLOWED = 405
    OPTIONAL_FEATURE_NOT_SUPPORTED = 406
    MISSING_CREDENTIALS = 407
    REQUEST_TIMEOUT = 408
    INCOMPLETE_COMMAND = 412
    REQUEST_ENTITY_TOO_LARGE = 413
    URI_TOO_LONG = 414
    UNSUPPORTED_MEDIA_TYPE = 415
    REQUESTED_SIZE_TOO_BIG = 416
    RETRY_LATER = 417
    ALREADY_EXISTS = 418
    DEVICE_FULL = 420
    SIZE_MISMATCH = 424
    PERMISSION_DENIED = 425
    COMMAND_FAILED = 500
    NOT_IMPLEMENTED = 501
    SERVICE_UNAVAILABLE = 503
    PROCESSING_ERROR = 506
    ATOMIC_FAILED = 507
    DATA_STORE_FAILURE = 510
    ATOMIC_ROLLBACK_FAILED = 516
    ATOMIC_RESPONSE_TOO_LARGE = 517

    @property
    def is_success(self) -> bool:
        """2xx codes: the command was carried out (or accepted, or a chunk taken)."""
        return 200 <= self < 300

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS: dict[StatusCode, str] = {
    StatusCode.IN_PROGRESS: "in progress",
    StatusCode.OK: "OK",
    StatusCode.ACCEPTED: "accepted for processing",
    StatusCode.AUTHENTICATED: "authentication accepted",
    StatusCode.CHUNK_ACCEPTED: "chunked item accepted",
    StatusCode.CANCELLED: "operation cancelled",
    StatusCode.NOT_EXECUTED: "not executed",
    StatusCode.ATOMIC_ROLLBACK_OK: "atomic roll back OK",
    StatusCode.NOT_MODIFIED: "not modified",
    StatusCode.BAD_REQUEST: "bad request",
    StatusCode.INVALID_CREDENTIALS: "invalid credentials",
    StatusCode.FORBIDDEN: "forbidden",
    StatusCode.NOT_FOUND: "not found",
    StatusCode.COMMAND_NOT_ALLOWED: "command not allowed",
    StatusCode.OPTIONAL_FEATURE_NOT_SUPPORTED: "optional feature not supported",
    StatusCode.MISSING_CREDENTIALS: "missing credentials",
    StatusCode.REQUEST_TIMEOUT: "request timeout",
    StatusCode.INCOMPLETE_COMMAND: "incomplete command",
    StatusCode.REQUEST_ENTITY_TOO_LARGE: "request entity too large",
    StatusCode.URI_TOO_LONG: "URI too long",
    StatusCode.UNSUPPORTED_MEDIA_TYPE: "unsupported media type or format",
    StatusCode.REQUESTED_SIZE_TOO_BIG: "requested size too big",
    StatusCode.RETRY_LATER: "retry later",
    StatusCode.ALREADY_EXISTS: "already exists",
    StatusCode.DEVICE_FULL: "device full",
    StatusCode.SIZE_MISMATCH: "size mismatch",
    StatusCode.PERMISSION_DENIED: "permission denied",
    StatusCode.COMMAND_FAILED: "command failed",
    StatusCode.NOT_IMPLEMENTED: "command not implemented",
    StatusCode.SERVICE_UNAVAILABLE: "service unavailable",
    StatusCode.PROCESSING_ERROR: "processing error",
    StatusCode.ATOMIC_FAILED: "atomic failed",
    StatusCode.DATA_STORE_FAILURE: "data store failure",
    StatusCode.ATOMIC_ROLLBACK_FAILED: "atomic roll back failed",
    StatusCode.ATOMIC_RESPONSE_TOO_LARGE: "atomic response too large to fit",
}
