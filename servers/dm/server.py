"""The reference DM server, sans-I/O: a POST body in, the HTTP answer out.

    server = DMServer(load_config("dms1.toml"), Registry(path), clock=time.time)
    reply = server.handle(body, content_type=ct, headers=hdrs)   # each POST
    queued = server.queue_job("IMEI:358240051111110", parse_job(data))
    if queued.notification: post(queued.notification.url, queued.notification.body)

Routing is by the message, not the URL: the header's Source LocURI names the device and
its SessionID the session, so a message posted to the configured URL or to a session's
RespURI lands in the same place.

Answers that are not a SyncML message (the transport sends them as they are):
- 415: a Content-Type that is not SyncML DM (both MIME families are accepted);
- 413: a body over 1 MiB;
- 400: a body that is not a SyncML message, or not in the encoding its Content-Type says;
- 403: a device that is not in the configuration. Our choice over a SyncML 401: an
  unknown sender gets no session, no state and no record, and learns nothing;
- 500: a bug of ours (the session ends as internal_error; the server keeps serving).
A readable message from a known device that starts no session we will run (no Alert
1200/1201 for an unknown SessionID; a 1200 whose SessionID no package 0 of ours
carried) gets a SyncML answer: header Status 400 or 403, Alert 1223, Final.

A client-initiated session is answered in the client's encoding; a server-initiated
one in the device's configured encoding, else the server's. Our messages fit the
client's MaxMsgSize (from its header Meta), else our own max_msg_size. The RespURI is
the configured url plus `s=<session record id>`, unique across devices.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping

from dmclient import notification as package0
from dmclient.auth.nonce import decode_nonce, new_nonce
from dmclient.wire import (Alert, AlertCode, DecodeError, Encoding, Message, decode, detect,
                           encoding_of)
from dmclient.wire import StatusCode as S
from servers.dm.auth import SessionAuth
from servers.dm.config import DeviceConfig, ServerConfig
from servers.dm.events import Notify, Queued, Reply
from servers.dm.jobs import Job
from servers.dm.records import (DeviceRecord, GenericAlertRecord, Initiator, JobRecord,
                                Outcome, SessionRecord)
from servers.dm.registry import Registry
from servers.dm.session import ServerSession, refusal

MAX_MESSAGE = 1 << 20
"""Bytes: a bigger body is refused before it is parsed."""


class UnknownDevice(LookupError):
    pass


def new_session_id() -> int:
    """A fresh package-0 session ID: 16 bits, never 0."""
    return secrets.randbelow(package0.MAX_SESSION_ID) + 1


def _http(status: int, reason: str) -> Reply:
    return Reply(b"", "text/plain", http_status=status, reason=reason)


def _session_alert(message: Message) -> int | None:
    for command in message.body.commands:
        if isinstance(command, Alert) and command.code in (AlertCode.SERVER_INITIATED_MGMT,
                                                           AlertCode.CLIENT_INITIATED_MGMT):
            return command.code
    return None


class DMServer:
    def __init__(self, config: ServerConfig, registry: Registry, *, clock: Callable[[], float],
                 make_nonce: Callable[[], bytes] = new_nonce,
                 make_session_id: Callable[[], int] = new_session_id) -> None:
        self.config = config
        self.registry = registry
        self.clock = clock
        self.make_nonce = make_nonce
        self.make_session_id = make_session_id
        self._sessions: dict[tuple[str, str], ServerSession] = {}
        with registry.transaction():
            for device in config.devices:
                registry.ensure_device(device.device_id, decode_nonce(device.client_nonce),
                                       decode_nonce(device.server_nonce))

    # ------------------------------------------------------------------ messages

    def handle(self, body: bytes, *, content_type: str, headers: Mapping[str, str]) -> Reply:
        """Our answer to one POSTed client message; never raises."""
        encoding = encoding_of(content_type)
        if encoding is None:
            return _http(415, f"Content-Type {content_type!r} is not a SyncML DM type")
        if len(body) > MAX_MESSAGE:
            return _http(413, f"message of {len(body)} bytes is over {MAX_MESSAGE}")
        try:
            if detect(body) is not encoding:
                return _http(400, f"the body is not {encoding.value}, as its Content-Type says")
            message = decode(body, max_size=MAX_MESSAGE)
        except DecodeError as exc:
            return _http(400, f"unreadable message: {exc}")
        device = self.config.device(message.header.source.loc_uri)
        if device is None:
            return _http(403, f"unknown device {message.header.source.loc_uri!r}")
        with self.registry.transaction():
            session = self._route(device, message, body, encoding)
        if isinstance(session, Reply):
            return session
        try:
            with self.registry.transaction():
                reply = session.receive(message, body, {k.lower(): v for k, v in headers.items()})
        except Exception as exc:  # noqa: BLE001 - a bug must end one session, not the server
            with self.registry.transaction():
                session.end(Outcome.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            reply = _http(500, f"internal error: {type(exc).__name__}: {exc}")
        if session.ended:
            self._sessions.pop((device.device_id, session.session_id), None)
        return reply

    def _route(self, device: DeviceConfig, message: Message, body: bytes,
               encoding: Encoding) -> ServerSession | Reply:
        """The session a message belongs to; a new one for a package 1 (Alert 1200/1201
        with MsgID 1, which also replaces a session left running under that SessionID)."""
        header = message.header
        key = (device.device_id, header.session_id)
        start = _session_alert(message)
        session = self._sessions.get(key)
        if session is not None:
            if session.repeats(body) or start is None or header.msg_id != "1":
                return session
            session.end(Outcome.ABANDONED, "the client started over with the same SessionID")
            del self._sessions[key]
        if start is None:
            return self._refuse(message, encoding, S.BAD_REQUEST,
                                f"no session {header.session_id!r} with this device")
        now = self.clock()
        initiator = Initiator.CLIENT
        if start == AlertCode.SERVER_INITIATED_MGMT:
            if not self.registry.take_notification(device.device_id, header.session_id, now):
                return self._refuse(message, encoding, S.FORBIDDEN,
                                    f"no package 0 of ours carried SessionID {header.session_id!r}")
            initiator = Initiator.SERVER
            encoding = device.encoding or self.config.encoding
        known = self.registry.device(device.device_id)
        assert known is not None  # every configured device is registered in __init__
        record = self.registry.open_session(device.device_id, header.session_id, initiator, now)
        auth = SessionAuth(device, client_nonce=known.client_nonce,
                           server_nonce=known.server_nonce, make_nonce=self.make_nonce)
        session = ServerSession(config=self.config, device=device, registry=self.registry,
                                record=record, session_id=header.session_id,
                                encoding=encoding, auth=auth, clock=self.clock)
        self._sessions[key] = session
        return session

    def _refuse(self, message: Message, encoding: Encoding, code: S, reason: str) -> Reply:
        body = refusal(message, url=self.config.url, code=code, encoding=encoding)
        return Reply(body, encoding.content_type, reason=reason)

    def expire_sessions(self) -> list[int]:
        """End sessions silent for longer than session_timeout (TIMEOUT); their records."""
        now = self.clock()
        expired = []
        for key, session in list(self._sessions.items()):
            silent = now - session.last_seen
            if silent > self.config.session_timeout:
                with self.registry.transaction():
                    session.end(Outcome.TIMEOUT, f"no message for {silent:.0f} s")
                del self._sessions[key]
                expired.append(session.record)
        return expired

    # ------------------------------------------------------------------ jobs and package 0

    def _device(self, device_id: str) -> DeviceConfig:
        device = self.config.device(device_id)
        if device is None:
            raise UnknownDevice(device_id)
        return device

    def add_device(self, device: DeviceConfig) -> None:
        """Manage one more device, or give a known one new credentials and nonces (a
        delegated server enrolling a handset it is about to receive)."""
        self.config.put_device(device)
        client, server = decode_nonce(device.client_nonce), decode_nonce(device.server_nonce)
        with self.registry.transaction():
            self.registry.ensure_device(device.device_id, client, server)
            self.registry.set_client_nonce(device.device_id, client)
            self.registry.set_server_nonce(device.device_id, server)

    def remove_device(self, device_id: str) -> None:
        """Stop managing a device: its credentials and queued jobs go; its sessions
        and finished jobs stay on record."""
        self.config.drop_device(device_id)
        self.registry.forget_device(device_id)

    def queue_job(self, device_id: str, job: Job) -> Queued:
        """Queue a job; with a notify_url, also the package 0 that makes the device call."""
        self._device(device_id)
        with self.registry.transaction():
            job_id = self.registry.add_job(device_id, job, self.clock())
            return Queued(job_id, self.notify(device_id))

    def notify(self, device_id: str) -> Notify | None:
        """A package 0 for the device (None without a notify_url), signed with its
        SRVCRED secret and the server nonce we hold now; its SessionID is remembered so
        that the Alert 1200 session it triggers is accepted once."""
        device = self._device(device_id)
        if not device.notify_url:
            return None
        now = self.clock()
        for _ in range(16):
            number = self.make_session_id()
            session_id = format(number, "X")
            if (device_id, session_id) not in self._sessions and \
                    self.registry.add_notification(device_id, session_id, now):
                break
        else:
            raise RuntimeError("make_session_id keeps giving SessionIDs already in use")
        trigger = package0.Notification(ui_mode=device.ui_mode, initiator=package0.Initiator.SERVER,
                                        session_id=number, server_id=self.config.server_id)
        nonce = self.registry.device(device_id).server_nonce  # type: ignore[union-attr]
        return Notify(device.notify_url, package0.encode(trigger, device.server_secret, nonce))

    # ------------------------------------------------------------------ what happened

    def job(self, job_id: str) -> JobRecord:
        return self.registry.job(job_id)

    def jobs(self, device_id: str | None = None) -> list[JobRecord]:
        return self.registry.jobs(device_id)

    def sessions(self, device_id: str | None = None) -> list[SessionRecord]:
        return self.registry.sessions(device_id)

    def generic_alerts(self, device_id: str | None = None) -> list[GenericAlertRecord]:
        return self.registry.generic_alerts(device_id)

    def device(self, device_id: str) -> DeviceRecord:
        self._device(device_id)
        return self.registry.device(device_id)  # type: ignore[return-value]

    def devices(self) -> list[DeviceRecord]:
        return self.registry.devices()
