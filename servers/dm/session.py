"""The server's side of one OMA DM session: a client message in, our next message out.

Everything that decides what we answer lives here; which session a message belongs to
is server.py's business, and the bytes on the wire are outbox.py's.

Where we are (Phase) and what moves us on, for each client message:

    its credentials fail   -> header 401/407 + Chal, 215 for its commands; the second
                              refusal in a row ends the session (AUTH_FAILED)
    Alert 1223             -> Status only, Final; ABORTED
    ours refused (401/407) -> the commands it answered 215 go back to the front of the
                              queue, and out again under a new Cred; the second refusal
                              gets Alert 1223 (AUTH_FAILED)
    no Final, no 1222      -> the client's package goes on: LISTENING (Status + 1222)
    our queue not empty    -> the next message of our package: SPEAKING, or WAITING if
                              it is the last (Final)
    otherwise              -> our package is answered: finish the running job, take the
                              next queued one and send it; a message with nothing but
                              Status and Final ends the session (COMPLETED), since the
                              client does not answer it

Decisions where the spec is silent or loose (see also outbox.py, auth.py):
- One job per package; jobs run in the order queued, all of a device's queued jobs in
  one session.
- Status for client Results: only when it is not 200 (213 for a chunk, 424, 413),
  the digest's rule for both directions (§1 "No Status is sent for a Results that would
  get 200").
- A client Status matching none of our commands, a skipped MsgID, a Replace outside
  ./DevInfo: recorded as anomalies; the session goes on.
- A job command the client never answered is recorded with status None; a job
  interrupted before any of its commands ran (only 215s) goes back to the queue.
- The same body posted twice in a row (an HTTP retry) gets the same reply again,
  without being processed twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from dmclient.auth import CredAction
from dmclient.wire import (Alert, AlertCode, Body, Command, EmbeddedXml, Encoding, Header,
                           Item, Location, Message, Meta, Replace, Results, Status, encode)
from dmclient.wire import StatusCode as S
from servers.dm.auth import ClientVerdict, SessionAuth
from servers.dm.config import DeviceConfig, ServerConfig
from servers.dm.events import Reply
from servers.dm.jobs import target_of, walk
from servers.dm.outbox import Packer, Sent, Unit, flatten, number, units
from servers.dm.records import (CommandResult, GenericAlertRecord, JobState, Outcome,
                                ResultItem, SentCommand)
from servers.dm.registry import Registry

DEVINFO = "./DevInfo/"
DEFAULT_FORMAT, DEFAULT_TYPE = "chr", "text/plain"
RECORDED_ALERTS = (AlertCode.GENERIC, AlertCode.CLIENT_EVENT)
ACCEPTED_ALERTS = (AlertCode.SERVER_INITIATED_MGMT, AlertCode.CLIENT_INITIATED_MGMT,
                   AlertCode.NEXT_MESSAGE, AlertCode.NO_END_OF_DATA, *RECORDED_ALERTS)


class Phase(Enum):
    AUTHENTICATING = "authenticating"  # the client has not passed authentication yet
    LISTENING = "listening"  # the client's package goes on: we asked for more (1222)
    SPEAKING = "speaking"    # our package goes on: the client asks for more with 1222
    WAITING = "waiting"      # our package is complete (Final): the client's answer is due
    ENDED = "ended"


@dataclass
class _Out:
    """One command we sent, to correlate the client's Status and Results with."""

    cmd: str
    uri: str
    place: str | None  # its job place; None for our session alerts (1222, 1225)
    job: str | None = None  # the job it belongs to
    sent: Sent | None = None  # set on a top-level command: what to resend or cut short
    status: int | None = None


@dataclass
class _Job:
    job_id: str
    results: dict[str, CommandResult]  # by place


@dataclass
class _Incoming:
    """A large object arriving from the client in Results chunks."""

    out: _Out
    uri: str
    size: int | None
    meta: Meta | None
    chunks: list[str | bytes] = field(default_factory=list)

    def received(self) -> int:
        return sum(len(c.encode()) if isinstance(c, str) else len(c) for c in self.chunks)

    def joined(self) -> str | bytes:
        if all(isinstance(c, bytes) for c in self.chunks):
            return b"".join(self.chunks)  # type: ignore[arg-type]
        return "".join(c.decode("utf-8", "replace") if isinstance(c, bytes) else c
                       for c in self.chunks)


def _text(data: object) -> str | bytes | None:
    return data.xml if isinstance(data, EmbeddedXml) else data  # type: ignore[return-value]


def _status(msg_id: str, command: Command, code: int) -> Status:
    return Status(cmd_id="", msg_ref=msg_id, cmd_ref=command.cmd_id, cmd=type(command).__name__,
                  code=int(code))


def _uri(command: Command) -> str:
    items = [command.item] if hasattr(command, "item") else getattr(command, "items", [])
    for item in items:
        if item.target is not None:
            return item.target.loc_uri
    return ""


class ServerSession:
    def __init__(self, *, config: ServerConfig, device: DeviceConfig, registry: Registry,
                 record: int, session_id: str, encoding: Encoding, auth: SessionAuth,
                 clock: Callable[[], float]) -> None:
        self.config = config
        self.device = device
        self.registry = registry
        self.record = record
        self.session_id = session_id
        self.encoding = encoding
        self.clock = clock
        self.phase = Phase.AUTHENTICATING
        self.last_seen = clock()
        separator = "&" if "?" in config.url else "?"
        self.resp_uri = f"{config.url}{separator}s={record}"
        self._auth = auth
        self._nonces = (auth.client_nonce, auth.server_nonce)
        self._packer = Packer(encoding, config.max_msg_size, None)
        self._versions = ("1.2", "DM/1.2")
        self._msg_count = 0
        self._client_msg = 0
        self._jobs_run = 0
        self._last: tuple[bytes, Reply] | None = None
        self._queue: deque[Unit] = deque()
        self._out: dict[tuple[str, str], _Out] = {}
        self._job: _Job | None = None
        self._incoming: dict[tuple[str, str, str], _Incoming] = {}
        self._alerts_due: list[Command] = []

    @property
    def ended(self) -> bool:
        return self.phase is Phase.ENDED

    # ------------------------------------------------------------------ the exchange

    def repeats(self, body: bytes) -> bool:
        """The same body as the last message: an HTTP retry, to answer as before."""
        return self._last is not None and self._last[0] == body

    def receive(self, message: Message, body: bytes, headers: Mapping[str, str]) -> Reply:
        """Our answer to one client message (headers with lower-case names)."""
        if self._last is not None and self.repeats(body):
            return self._last[1]
        reply = self._receive(message, body, headers)
        self._last = (body, reply)
        return reply

    def _receive(self, message: Message, body: bytes, headers: Mapping[str, str]) -> Reply:
        header = message.header
        commands = message.body.commands
        self.last_seen = self.clock()
        self._versions = (header.ver_dtd, header.ver_proto)
        self._note_msg_id(header.msg_id)
        verdict = self._auth.judge(header, body, headers)
        self._save_nonces()
        head: list[Command] = [self._header_status(header, verdict)]

        if any(isinstance(c, Alert) and c.code == AlertCode.SESSION_ABORT for c in commands):
            head += [_status(header.msg_id, c, S.OK) for c in commands if isinstance(c, Alert)]
            reply = self._send(head, final=True)
            self.end(Outcome.ABORTED, "the client aborted the session (1223)")
            return reply
        if not verdict.trusted:
            head += [_status(header.msg_id, c, S.NOT_EXECUTED) for c in commands
                     if not isinstance(c, (Status, Results))]
            waiting = Phase.AUTHENTICATING if self.phase is Phase.AUTHENTICATING \
                else Phase.WAITING
            reply = self._send(head, final=True, phase=waiting)
            if verdict.final_refusal:
                self.end(Outcome.AUTH_FAILED, f"the client's credentials were refused twice "
                                              f"({verdict.status})")
            return reply

        self._take_limits(header)
        refused = None
        ours = next((c for c in commands if isinstance(c, Status) and c.cmd_ref == "0"), None)
        if ours is not None:
            action = self._auth.take_status(ours, trusted=True)
            self._save_nonces()
            if action is CredAction.GIVE_UP:
                reply = self._send(head + [Alert(cmd_id="", code=AlertCode.SESSION_ABORT)],
                                   final=True)
                self.end(Outcome.AUTH_FAILED, f"the client refused our credentials ({ours.code})")
                return reply
            if action is CredAction.RESEND:
                refused = ours.msg_ref
        asked_next = self._take(message, head, refused)

        if not message.body.final and not asked_next:
            return self._send(head + [Alert(cmd_id="", code=AlertCode.NEXT_MESSAGE)],
                              final=False, phase=Phase.LISTENING)
        if message.body.final:
            if self.phase is Phase.SPEAKING and self._queue:
                self._anomaly("the client closed its package while ours was still open")
            self._interrupt_incoming(set())
        if not self._queue:
            self._next_job()
        head += self._alerts_due
        self._alerts_due = []
        reply, asks = self._speak(head)
        if not asks:  # only Status, and Final: the client will not answer
            self.end(Outcome.COMPLETED, "")
        return reply

    def end(self, outcome: Outcome, reason: str) -> None:
        """Close the session: settle the running job and record the outcome."""
        if self.ended:
            return
        now = self.clock()
        job = self._job
        if job is not None:
            ran = any(r.status not in (None, S.NOT_EXECUTED) for r in job.results.values())
            if ran or outcome is Outcome.COMPLETED:
                self._finish_job(now)
            else:
                self.registry.requeue_job(job.job_id)
                self._job = None
        self.registry.close_session(self.record, outcome, reason, now)
        self.phase = Phase.ENDED

    # ------------------------------------------------------------------ the client's commands

    def _take(self, message: Message, head: list[Command], refused: str | None) -> bool:
        """Act on a trusted message's commands; our Statuses for them go onto head.
        Returns whether the client asked for our next message (1222)."""
        msg_id = message.header.msg_id
        asked_next = False
        touched: set[tuple[str, str, str]] = set()
        requeue: list[Sent] = []
        for command in message.body.commands:
            if isinstance(command, Status):
                if command.cmd_ref != "0":
                    self._on_status(command, refused, requeue)
            elif isinstance(command, Results):
                head += self._on_results(msg_id, command, touched)
            elif isinstance(command, Alert):
                asked_next |= command.code == AlertCode.NEXT_MESSAGE
                head.append(self._on_alert(msg_id, command))
            elif isinstance(command, Replace):
                head.append(self._on_devinfo(msg_id, command))
            else:
                self._anomaly(f"the client sent {type(command).__name__} {command.cmd_id}, "
                              "which a DM client may not send")
                head.append(_status(msg_id, command, S.COMMAND_NOT_ALLOWED))
        self._requeue(requeue)
        self._interrupt_incoming(touched)
        return asked_next

    def _on_status(self, status: Status, refused: str | None, requeue: list[Sent]) -> None:
        out = self._out.get((status.msg_ref, status.cmd_ref))
        if out is None:
            self._anomaly(f"Status for message {status.msg_ref} command {status.cmd_ref}, "
                          "which we never sent")
            return
        # One Status per Item (libdmclient) or per command: a failure among them wins.
        if out.status is None or (200 <= out.status < 300 and not 200 <= status.code < 300):
            out.status = status.code
        self.registry.log_status(self.record, status.msg_ref, status.cmd_ref, out.status)
        if not self._current(out):
            return
        if status.msg_ref == refused and status.code == S.NOT_EXECUTED and out.sent is not None:
            requeue.append(out.sent)  # refused with our credentials: it goes out again
            return
        sent = out.sent
        if sent is not None and sent.more_data and out.status != S.CHUNK_ACCEPTED:
            self._drop(sent.rest)  # a chunk failed: the rest of the object stays here
        answers = tuple(ResultItem("", _text(i.data)) for i in status.items)
        self._set(out.place, status=out.status, results=answers or None)

    def _on_results(self, msg_id: str, results: Results,
                    touched: set[tuple[str, str, str]]) -> list[Command]:
        # Without MsgRef, Results answer the message we sent last (RepPro).
        msg_ref = results.msg_ref or str(self._msg_count)
        out = self._out.get((msg_ref, results.cmd_ref))
        if out is None or not self._current(out):
            self._anomaly(f"Results for message {results.msg_ref} command {results.cmd_ref}, "
                          "which is no command of the running job")
            return []
        answers: list[Command] = []
        found: list[ResultItem] = []
        for item in results.items:
            uri = item.source.loc_uri if item.source else (
                item.target.loc_uri if item.target else out.uri)
            meta = item.meta or results.meta
            key = (msg_ref, results.cmd_ref, uri)
            incoming = self._incoming.get(key)
            if incoming is None and not item.more_data:
                found.append(self._result_item(uri, _text(item.data), meta))
                continue
            if incoming is None:
                incoming = self._incoming[key] = _Incoming(out, uri, meta.size if meta else None,
                                                           meta)
            touched.add(key)
            incoming.chunks.append(_text(item.data) or "")  # type: ignore[arg-type]
            code = self._on_chunk(key, incoming, item.more_data, found)
            if code != S.OK:
                answers.append(_status(msg_id, results, code))
        if found:
            previous = self._job.results[out.place].results  # type: ignore[union-attr,index]
            self._set(out.place, results=previous + tuple(found))  # type: ignore[arg-type]
        return answers

    def _on_chunk(self, key: tuple[str, str, str], incoming: _Incoming, more: bool,
                  found: list[ResultItem]) -> int:
        received = incoming.received()
        if received > self.config.max_obj_size:
            del self._incoming[key]
            self._set(incoming.out.place, detail=f"Results over our MaxObjSize "  # type: ignore[arg-type]
                                                 f"({self.config.max_obj_size} bytes)")
            return S.REQUEST_ENTITY_TOO_LARGE
        if more:
            return S.CHUNK_ACCEPTED
        del self._incoming[key]
        if incoming.size is not None and received != incoming.size:
            self._set(incoming.out.place, status=S.SIZE_MISMATCH,  # type: ignore[arg-type]
                      detail=f"Results of {received} bytes, Meta Size said {incoming.size}")
            return S.SIZE_MISMATCH
        found.append(self._result_item(incoming.uri, incoming.joined(), incoming.meta))
        return S.OK

    def _interrupt_incoming(self, touched: set[tuple[str, str, str]]) -> None:
        """A large object whose next chunk did not come in this message was cut short:
        Alert 1225 goes out with our next package."""
        for key in [k for k in self._incoming if k not in touched]:
            incoming = self._incoming.pop(key)
            self._anomaly(f"large Results for {incoming.uri} interrupted")
            self._set(incoming.out.place, detail="large Results interrupted")  # type: ignore[arg-type]
            self._alerts_due.append(Alert(cmd_id="", code=AlertCode.NO_END_OF_DATA,
                                          items=[Item(source=Location(loc_uri=incoming.uri))]))

    @staticmethod
    def _result_item(uri: str, data: str | bytes | None, meta: Meta | None) -> ResultItem:
        return ResultItem(uri, data, (meta.format if meta else None) or DEFAULT_FORMAT,
                          (meta.type if meta else None) or DEFAULT_TYPE)

    def _on_alert(self, msg_id: str, alert: Alert) -> Status:
        if alert.code not in ACCEPTED_ALERTS:
            self._anomaly(f"the client sent Alert {alert.code}")
            return _status(msg_id, alert, S.COMMAND_NOT_ALLOWED)
        if alert.code == AlertCode.NO_END_OF_DATA:
            self._anomaly("the client reports one of our large objects interrupted (1225)")
        if alert.code in RECORDED_ALERTS:
            now = self.clock()
            if not alert.items:
                self._anomaly(f"Alert {alert.code} {alert.cmd_id} has no Item")
            for item in alert.items:
                meta = item.meta or Meta()
                self.registry.add_generic_alert(GenericAlertRecord(
                    self.device.device_id, self.record, now, alert.code, alert.correlator,
                    item.source.loc_uri if item.source else None, meta.type, meta.format,
                    meta.mark, _text(item.data)))
        return _status(msg_id, alert, S.OK)

    def _on_devinfo(self, msg_id: str, replace_: Replace) -> Status:
        values = {}
        for item in replace_.items:
            place = item.source or item.target
            uri = place.loc_uri if place else ""
            if not uri.startswith(DEVINFO):
                self._anomaly(f"the client sent Replace of {uri!r}; only ./DevInfo is allowed")
                return _status(msg_id, replace_, S.COMMAND_NOT_ALLOWED)
            data = _text(item.data)
            values[uri] = data.decode("utf-8", "replace") if isinstance(data, bytes) else data or ""
        device_id = values.get(DEVINFO + "DevId")
        if device_id is not None and device_id != self.device.device_id:
            self._anomaly(f"DevInfo/DevId {device_id!r} is not the header's {self.device.device_id!r}")
        known = self.registry.device(self.device.device_id)
        self.registry.set_devinfo(self.device.device_id, {**(known.devinfo if known else {}),
                                                          **values})
        return _status(msg_id, replace_, S.OK)

    # ------------------------------------------------------------------ jobs

    def _next_job(self) -> None:
        """Finish the job our last package carried, and queue the next one, if any."""
        now = self.clock()
        if self._job is not None:
            self._finish_job(now)
        limit = self.config.jobs_per_session
        if limit and self._jobs_run >= limit:
            return
        claimed = self.registry.claim_job(self.device.device_id, self.record, now)
        if claimed is None:
            self._job = None
            return
        job_id, job = claimed
        self._jobs_run += 1
        self._job = _Job(job_id, {place: CommandResult(place, type(c).__name__, target_of(c))
                                  for place, c in walk(job.commands)})
        self._queue.extend(units(job))

    def _finish_job(self, now: float) -> None:
        job = self._job
        assert job is not None
        for place, result in job.results.items():
            if result.status is None and not result.detail:
                self._set(place, detail="no status received")
            elif result.status == S.CHUNK_ACCEPTED:
                self._set(place, detail="large object not completed")
        ok = all(r.ok for r in job.results.values())
        self.registry.finish_job(job.job_id, JobState.DONE if ok else JobState.FAILED, now)
        self._job = None

    def _set(self, place: str, *, status: int | None = None,
             results: tuple[ResultItem, ...] | None = None, detail: str | None = None) -> None:
        job = self._job
        if job is None or place not in job.results:
            return
        old = job.results[place]
        job.results[place] = result = CommandResult(  # not dataclasses.replace: hot, and slow
            place, old.cmd, old.uri, old.status if status is None else int(status),
            old.results if results is None else results,
            old.detail if detail is None else detail)
        self.registry.save_command(job.job_id, result)

    def _requeue(self, refused: list[Sent]) -> None:
        """Put commands the client refused unexecuted back at the front, in order."""
        for sent in reversed(refused):
            self._drop(sent.rest)
            self._queue.appendleft(sent.unit)

    def _drop(self, unit: Unit | None) -> None:
        if unit is not None and unit in self._queue:
            self._queue.remove(unit)

    # ------------------------------------------------------------------ our messages

    def _header_status(self, header: Header, verdict: ClientVerdict) -> Status:
        return Status(cmd_id="", msg_ref=header.msg_id, cmd_ref="0", cmd="SyncHdr",
                      code=int(verdict.status), target_refs=[header.target.loc_uri],
                      source_refs=[header.source.loc_uri], chal=verdict.chal)

    def _send(self, head: list[Command], *, final: bool,
              phase: Phase = Phase.WAITING) -> Reply:
        """A message of ours that carries no job commands (Statuses, session alerts)."""
        header = self._next_header()
        body = self._packer.encode(header, head, final)
        return self._emit(header, head, [], body, phase)

    def _speak(self, head: list[Command]) -> tuple[Reply, bool]:
        """The next message of our package: head, then as much of the queue as fits.
        Also says whether the client must answer it: False for Status only and Final."""
        header = self._next_header()
        packed = self._packer.pack(header, head, self._queue)
        for unit, why in packed.dropped:
            for place in unit.places:
                self._set(place, detail=f"not sent: {why}")
        phase = Phase.WAITING if packed.final else Phase.SPEAKING
        reply = self._emit(header, head, packed.sent, packed.body, phase)
        asks = bool(packed.sent) or not packed.final or any(isinstance(c, Alert) for c in head)
        return reply, asks

    def _next_header(self) -> Header:
        self._msg_count += 1
        meta = None
        if self._msg_count == 1:
            meta = Meta(max_msg_size=self.config.max_msg_size,
                        max_obj_size=self.config.max_obj_size)
        return Header(session_id=self.session_id, msg_id=str(self._msg_count),
                      target=Location(loc_uri=self.device.device_id),
                      source=Location(loc_uri=self.config.url, loc_name=self._auth.server_name),
                      ver_dtd=self._versions[0], ver_proto=self._versions[1],
                      resp_uri=self.resp_uri, cred=self._auth.header_cred(), meta=meta)

    def _emit(self, header: Header, head: list[Command], sent: list[Sent], body: bytes,
              phase: Phase) -> Reply:
        """Remember what a message carried (to correlate the answers) and sign it."""
        self.phase = phase
        for command in head:
            if isinstance(command, Alert):
                self._remember(header.msg_id, command, None, None)
        for item in sent:
            for n, (command, place) in enumerate(zip(flatten(item.command), item.unit.places)):
                self._remember(header.msg_id, command, place, item if n == 0 else None)
        return Reply(body, self.encoding.content_type, self._auth.sign(body))

    def _remember(self, msg_id: str, command: Command, place: str | None,
                  sent: Sent | None) -> None:
        job = self._job.job_id if self._job is not None and place is not None else None
        out = _Out(type(command).__name__, _uri(command), place, job, sent)
        self._out[(msg_id, command.cmd_id)] = out
        self.registry.log_sent(self.record, SentCommand(msg_id, command.cmd_id, out.cmd,
                                                        out.uri, job_id=job, place=place))

    def _current(self, out: _Out) -> bool:
        """Whether a command we sent belongs to the running job (not a session alert,
        not a job finished in an earlier package)."""
        return out.place is not None and self._job is not None and out.job == self._job.job_id

    # ------------------------------------------------------------------ bookkeeping

    def _take_limits(self, header: Header) -> None:
        """The client's MaxMsgSize and MaxObjSize hold for the rest of the session."""
        meta = header.meta
        if meta is not None and meta.max_msg_size:
            self._packer.max_msg_size = meta.max_msg_size
        if meta is not None and meta.max_obj_size:
            self._packer.max_obj_size = meta.max_obj_size

    def _note_msg_id(self, msg_id: str) -> None:
        expected = self._client_msg + 1
        if msg_id != str(expected):
            self._anomaly(f"client MsgID {msg_id!r}, expected {expected}")
        self._client_msg = int(msg_id) if msg_id.isdigit() else expected

    def _save_nonces(self) -> None:
        client, server = self._auth.client_nonce, self._auth.server_nonce
        if client != self._nonces[0]:
            self.registry.set_client_nonce(self.device.device_id, client)
        if server != self._nonces[1]:
            self.registry.set_server_nonce(self.device.device_id, server)
        self._nonces = (client, server)

    def _anomaly(self, text: str) -> None:
        self.registry.add_anomaly(self.record, text)


def refusal(message: Message, *, url: str, code: int, encoding: Encoding) -> bytes:
    """Our answer to a message that belongs to no session we will run: Status `code` for
    its header, Alert 1223, Final. Nothing is recorded: there is no session."""
    header = message.header
    commands: list[Command] = [
        Status(cmd_id="", msg_ref=header.msg_id, cmd_ref="0", cmd="SyncHdr", code=int(code),
               target_refs=[header.target.loc_uri], source_refs=[header.source.loc_uri]),
        Alert(cmd_id="", code=AlertCode.SESSION_ABORT)]
    number(commands)
    reply = Message(header=Header(session_id=header.session_id, msg_id="1",
                                  target=Location(loc_uri=header.source.loc_uri),
                                  source=Location(loc_uri=url), ver_dtd=header.ver_dtd,
                                  ver_proto=header.ver_proto),
                    body=Body(commands=commands, final=True))
    return encode(reply, encoding)
