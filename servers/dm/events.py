"""What the server engine hands its transport: a reply to post back, a package 0 to push."""

from __future__ import annotations

from dataclasses import dataclass, field

NOTIFICATION_TYPE = "application/vnd.syncml.notification"


@dataclass(frozen=True, slots=True)
class Reply:
    """The HTTP response to one client POST.

    reason explains a refusal (4xx, or a session the server ended) for logs and traces;
    it is not part of the protocol and the transport need not send it.
    """

    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    http_status: int = 200
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Notify:
    """A package 0 to POST to the device's notify_url (standing in for WAP push)."""

    url: str
    body: bytes
    content_type: str = NOTIFICATION_TYPE


@dataclass(frozen=True, slots=True)
class Queued:
    """A queued job; notification is None when the device has no notify_url (the job
    then waits for the device's next client-initiated session)."""

    job_id: str
    notification: Notify | None
