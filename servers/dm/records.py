"""What the server remembers, as the registry hands it out: jobs, sessions, alerts, devices.

Plain values, so that the admin API can serve them as JSON (dataclasses.asdict) and
tests can compare them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"      # every command answered with a 2xx status
    FAILED = "failed"  # some command failed, went unanswered, or could not be sent


class Initiator(StrEnum):
    CLIENT = "client"  # Alert 1201
    SERVER = "server"  # Alert 1200, after our package 0


class Outcome(StrEnum):
    COMPLETED = "completed"            # we closed it with a Status-only final message
    ABORTED = "aborted"                # the client sent Alert 1223
    AUTH_FAILED = "auth_failed"        # either side refused the other's credentials twice
    PROTOCOL_ERROR = "protocol_error"  # an inconsistent client message; we sent 1223
    TIMEOUT = "timeout"                # silent for longer than session_timeout
    ABANDONED = "abandoned"            # the client started over with the same SessionID
    INTERNAL_ERROR = "internal_error"  # a bug on our side; the client got HTTP 500


@dataclass(frozen=True)
class ResultItem:
    """One Item of a Results (a Get's answer) or of a UI alert's Status (the user's answer)."""

    uri: str
    data: str | bytes | None
    format: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class CommandResult:
    """One command of a job (containers and their children each have one).

    place is its position in the job ("2", "2.1"); status is what the device answered
    (None: never answered); detail says why when the server has something to add.
    """

    place: str
    cmd: str
    uri: str
    status: int | None = None
    results: tuple[ResultItem, ...] = ()
    detail: str = ""

    @property
    def data(self) -> str | bytes | None:
        """The first result's data: what a Get of a leaf returned."""
        return self.results[0].data if self.results else None

    @property
    def format(self) -> str | None:
        return self.results[0].format if self.results else None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.detail


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    device_id: str
    state: JobState
    queued_at: float
    started_at: float | None = None
    ended_at: float | None = None
    session: int | None = None  # the session (SessionRecord.id) that ran it
    commands: tuple[CommandResult, ...] = ()


@dataclass(frozen=True)
class SentCommand:
    """A command the server sent in a session, and the status the device gave it."""

    msg_id: str
    cmd_id: str
    cmd: str
    uri: str
    status: int | None = None
    job_id: str | None = None
    place: str | None = None


@dataclass(frozen=True)
class SessionRecord:
    id: int  # the registry's number; also the `s=` of the session's RespURI
    device_id: str
    session_id: str
    initiator: Initiator
    started_at: float
    ended_at: float | None = None
    outcome: Outcome | None = None  # None while the session runs
    reason: str = ""
    commands: tuple[SentCommand, ...] = ()
    anomalies: tuple[str, ...] = ()  # client behaviour the spec does not allow, tolerated


@dataclass(frozen=True)
class GenericAlertRecord:
    """An Alert 1226 (or 1224) from the device, one record per Item."""

    device_id: str
    session: int
    received_at: float
    code: int
    correlator: str | None
    source: str | None
    type: str | None
    format: str | None
    mark: str | None
    data: str | bytes | None


@dataclass(frozen=True)
class DeviceRecord:
    device_id: str
    client_nonce: bytes  # the nonce the device's next Cred must use
    server_nonce: bytes  # the nonce our next Cred and package 0 use
    devinfo: dict[str, str] = field(default_factory=dict)  # ./DevInfo/... -> value
