"""What the client session engine hands its transport, and what it remembers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    COMPLETED = "completed"          # the server closed the session normally
    ABORTED = "aborted"              # the server sent Alert 1223
    AUTH_FAILED = "auth_failed"      # the server refused our credentials, or we its
    PROTOCOL_ERROR = "protocol_error"  # an unreadable or inconsistent server message
    TRANSPORT_ERROR = "transport_error"  # no answer: refused, reset, timeout, TLS, HTTP error


@dataclass(frozen=True, slots=True)
class Send:
    """Post `body` to `url`; the response body is the server's next message."""

    url: str
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ended:
    """The session is over. `farewell` (an abort) is posted if set; its answer is ignored."""

    outcome: Outcome
    reason: str = ""
    farewell: Send | None = None


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One command the server sent, and the status the handset returned for it."""

    msg_id: str
    cmd_id: str
    cmd: str
    target: str
    status: int
    detail: str = ""
