"""The handset's side of one OMA DM session, sans-I/O: bytes in, bytes (or the end) out.

    session = ClientSession(tree, "dms1")
    step = session.start()                      # package 1
    while isinstance(step, Send):
        reply = post(step.url, step.body, step.content_type, step.headers)
        step = session.receive(reply.body, reply.content_type, reply.headers)

The engine never opens a socket or reads a clock: the transport posts what it is given
and hands back the answer. Everything that changes the tree goes through the tree's
operations, so every command is checked against the ACLs for the server's ServerID.

Rules kept here (OMA DM Protocol 1.2 and the digest, §1):
- package 1 is Alert 1201 (or 1200 with a package-0 session id), a Replace of
  ./DevInfo, and Cred as the account's CLCRED says; a 401/407 makes it resend package 1
  on the challenge's nonce, once;
- a server whose Cred does not check out against SRVCRED is answered 401/407 with a
  Chal, and none of its commands run (each gets 215);
- a server message with only Status and Final ends the session (nothing is sent);
- a server message without Final is answered with Alert 1222; a reply bigger than the
  server's MaxMsgSize goes out over several messages, large Results in chunks;
- Alert 1223 ends the session at once; anything unreadable or inconsistent ends it with
  a 1223 of our own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Mapping

from dmclient.auth import AAuthType, AuthType, ChallengeState, CredAction, CredentialState
from dmclient.auth.nonce import decode_nonce, new_nonce
from dmclient.auth.peer import UnknownChallenge, judge, read_chal
from dmclient.session.events import CommandRecord, Ended, Outcome, Send
from dmclient.session.executor import ExecHandler, Executor, GenericReport
from dmclient.session.packing import Packer
from dmclient.session.payload import result_item
from dmclient.session.ui import UiPolicy
from dmclient.tree import Tree
from dmclient.tree.accounts import Account, find_account
from dmclient.tree.uri import child_path
from dmclient.wire import (HMAC_HEADER_NAME, Alert, AlertCode, Command, Cred, DecodeError,
                           Encoding, Header, HmacHeader, Item, Location, Message, Meta,
                           Replace, Status, StatusCode as S, decode, encoding_of)

DEFAULT_MAX_MSG_SIZE = 16 * 1024
DEFAULT_MAX_OBJ_SIZE = 1024 * 1024
#: A server message bigger than this is refused before it is parsed.
MAX_INBOUND = 1024 * 1024


class SessionError(ValueError):
    """The session cannot start: no such account, or one the handset cannot use."""


class _State(Enum):
    IDLE = "idle"
    WAITING = "waiting"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class _Verdict:
    """How we judged the server's credentials on one message."""

    status: S
    chal: Meta | None
    trusted: bool
    end: bool = False


class ClientSession:
    def __init__(self, tree: Tree, server_id: str, *, encoding: Encoding = Encoding.XML,
                 session_id: str | None = None, clock: Callable[[], float] = time.time,
                 ui: UiPolicy | None = None, exec_handler: ExecHandler | None = None,
                 max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
                 max_obj_size: int = DEFAULT_MAX_OBJ_SIZE,
                 make_nonce: Callable[[], bytes] = new_nonce,
                 reports: tuple[GenericReport, ...] = ()) -> None:
        account = find_account(tree, server_id)
        if account is None:
            raise SessionError(f"the handset has no DM account for ServerID {server_id!r}")
        if not account.addr:
            raise SessionError(f"account {account.path} has no AppAddr/Addr")
        self.tree = tree
        self.account = account
        self.server_id = server_id
        self.encoding = encoding
        self.server_initiated = session_id is not None
        self.session_id = session_id or format(int.from_bytes(make_nonce()[:2], "big") or 1, "X")
        self.clock = clock
        self.url = account.addr
        self.max_msg_size = max_msg_size
        self.max_obj_size = max_obj_size
        self.devid = _leaf(tree, "./DevInfo/DevId")
        self._cred = _client_credentials(account)
        self._check = _server_check(account, make_nonce)
        self._executor = Executor(tree, server_id, ui=ui or UiPolicy(),
                                  exec_handler=exec_handler, max_obj_size=max_obj_size)
        self._reports = list(reports)
        self._state = _State.IDLE
        self._msg_id = 0
        self._sent: set[str] = set()
        self._packer = Packer(encoding)
        self._outbox: list[list[Command]] = []
        self.started_at: float | None = None
        self.outcome: Outcome | None = None
        self.reason = ""
        self.messages: list[tuple[str, bytes]] = []  # ("out"|"in", body), for traces

    # ------------------------------------------------------------------ public

    @property
    def records(self) -> list[CommandRecord]:
        """Every command the server sent, with the status the handset returned."""
        return self._executor.records

    @property
    def pending_reports(self) -> list[GenericReport]:
        """Asynchronous Exec results (202) still to be reported in a later session."""
        return self._executor.reports

    def start(self) -> Send:
        if self._state is not _State.IDLE:
            raise RuntimeError("session already started")
        self.started_at = self.clock()
        self._state = _State.WAITING
        return self._send(self._package1(), final=True)

    def receive(self, body: bytes, content_type: str = "",
                headers: Mapping[str, str] | None = None) -> Send | Ended:
        """Take the server's answer to what we last sent; return what to send next."""
        if self._state is not _State.WAITING:
            raise RuntimeError(f"session is {self._state.value}")
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.messages.append(("in", body))
        if not body:
            return self._end(Outcome.PROTOCOL_ERROR, "the server sent an empty body",
                             abort=True)
        if content_type and encoding_of(content_type) is None:
            return self._end(Outcome.PROTOCOL_ERROR,
                             f"unexpected content type {content_type!r}", abort=True)
        if len(body) > MAX_INBOUND:
            return self._end(Outcome.PROTOCOL_ERROR,
                             f"server message of {len(body)} bytes is over the "
                             f"{MAX_INBOUND}-byte limit", abort=True)
        try:
            message = decode(body, max_size=MAX_INBOUND)
        except DecodeError as exc:
            return self._end(Outcome.PROTOCOL_ERROR, f"unreadable server message: {exc}",
                             abort=True)
        problem = self._inconsistency(message)
        if problem:
            return self._end(Outcome.PROTOCOL_ERROR, problem, abort=True)
        return self._on_message(message, body, headers)

    def fail(self, reason: str) -> Ended:
        """The transport could not deliver our last message or bring back an answer."""
        if self._state is not _State.WAITING:
            raise RuntimeError(f"session is {self._state.value}")
        return self._end(Outcome.TRANSPORT_ERROR, reason)

    # ------------------------------------------------------------------ the exchange

    def _on_message(self, message: Message, body: bytes, headers: dict[str, str]) -> Send | Ended:
        header = message.header
        commands = message.body.commands
        if header.resp_uri:
            self.url = header.resp_uri
        if header.meta and header.meta.max_msg_size:
            self._packer.limit = header.meta.max_msg_size
        if any(isinstance(c, Alert) and c.code == AlertCode.SESSION_ABORT for c in commands):
            if self._check is not None and self._check.challenges and \
                    not self._check.authenticated:
                return self._end(Outcome.AUTH_FAILED, "the server gave up (1223) after "
                                 "failing to authenticate itself")
            return self._end(Outcome.ABORTED, "the server aborted the session (1223)")

        verdict = self._judge_server(header, body, headers)
        if verdict.end:
            return self._end(Outcome.AUTH_FAILED,
                             "the server failed to authenticate itself twice", abort=True)
        ours = self._status_for_us(message)
        if ours is not None and self._cred is not None:
            action = self._take_challenge(ours, verdict.trusted)
            if action is CredAction.GIVE_UP:
                return self._end(Outcome.AUTH_FAILED,
                                 f"the server refused our credentials ({ours.code})")
            if action is CredAction.RESEND:
                self._outbox.clear()
                reply = [self._header_status(message, verdict)] + self._package1()
                return self._send(reply, final=True)

        asked_next = any(isinstance(c, Alert) and c.code == AlertCode.NEXT_MESSAGE
                         for c in commands)
        if not verdict.trusted:
            answers = self._executor.refuse(header.msg_id, commands, S.NOT_EXECUTED)
        else:
            answers = self._executor.run(header.msg_id, commands)
        header_status = self._header_status(message, verdict)

        if self._outbox and (asked_next or not answers):
            # The server wants the rest of our package before it says more.
            return self._send([header_status] + answers + self._outbox.pop(0),
                              final=not self._outbox)
        if not message.body.final:
            # The server's package goes on: answer this part and ask for the next.
            return self._send([header_status] + answers + [self._alert(AlertCode.NEXT_MESSAGE)],
                              final=False)
        if not answers and not self._reports_due():
            if not verdict.trusted:
                return self._end(Outcome.AUTH_FAILED,
                                 "the server closed the session without authenticating")
            return self._end(Outcome.COMPLETED, "")
        answers += self._report_alerts()
        messages, body = self._packer.split(self._header_for(str(self._msg_id + 1)),
                                            header_status, answers)
        self._outbox = messages[1:]
        return self._send(messages[0], final=not self._outbox, body=body)

    def _judge_server(self, header: Header, body: bytes, headers: dict[str, str]) -> _Verdict:
        check = self._check
        if check is None:
            return _Verdict(S.OK, None, trusted=True)
        result, chal = judge(check, header, body, headers)
        return _Verdict(result.status, chal, trusted=result.authenticated, end=result.end_session)

    def _take_challenge(self, status: Status, trusted: bool) -> CredAction:
        assert self._cred is not None
        try:
            chal_type, next_nonce = read_chal(status.chal)
        except UnknownChallenge:
            return CredAction.GIVE_UP
        before = self._cred.stored_nonce
        action = self._cred.on_status(status.code, chal_type=chal_type, next_nonce=next_nonce,
                                      peer_authenticated=trusted)
        if self._cred.stored_nonce != before:
            self._store_nonce("CLCRED", self._cred.stored_nonce)
        return action

    # ------------------------------------------------------------------ building messages

    def _package1(self) -> list[Command]:
        code = AlertCode.SERVER_INITIATED_MGMT if self.server_initiated \
            else AlertCode.CLIENT_INITIATED_MGMT
        devinfo = self.tree.node("./DevInfo")
        items = []
        for name in devinfo.children if devinfo else ():
            uri = child_path("./DevInfo", name)
            node = self.tree.node(uri)
            if node is not None and not node.interior:
                item = result_item(uri, node.value, node.format, node.type)
                items.append(item)
        return [self._alert(code), Replace(cmd_id="", items=items)] + self._report_alerts()

    def _reports_due(self) -> bool:
        return bool(self._reports)

    def _report_alerts(self) -> list[Command]:
        """Generic Alerts 1226 for asynchronous Exec results handed in at the start."""
        alerts: list[Command] = []
        for report in self._reports:
            alerts.append(Alert(cmd_id="", code=AlertCode.GENERIC, correlator=report.correlator,
                                items=[Item(source=Location(loc_uri=report.uri),
                                            meta=Meta(type=report.type, format=report.format,
                                                      mark=report.mark),
                                            data=report.data)]))
        self._reports = []
        return alerts

    @staticmethod
    def _alert(code: AlertCode) -> Alert:
        return Alert(cmd_id="", code=int(code))

    def _header_status(self, message: Message, verdict: _Verdict) -> Status:
        header = message.header
        return Status(cmd_id="", msg_ref=header.msg_id, cmd_ref="0", cmd="SyncHdr",
                      code=int(verdict.status), target_refs=[header.target.loc_uri],
                      source_refs=[header.source.loc_uri], chal=verdict.chal)

    def _header_for(self, msg_id: str) -> Header:
        cred = None
        credentials = self._cred
        if credentials is not None and credentials.send_cred \
                and credentials.auth_type in (AuthType.BASIC, AuthType.MD5):
            cred = Cred(meta=Meta(type=credentials.auth_type.value, format="b64"),
                        data=credentials.cred_data())
        meta = None
        if msg_id == "1":
            meta = Meta(max_msg_size=self.max_msg_size, max_obj_size=self.max_obj_size)
        return Header(session_id=self.session_id, msg_id=msg_id,
                      target=Location(loc_uri=self.account.addr),
                      source=Location(loc_uri=self.devid,
                                      loc_name=credentials.user if credentials else None),
                      cred=cred, meta=meta)

    def _send(self, commands: list[Command], *, final: bool, body: bytes | None = None) -> Send:
        """Send commands as our next message; `body` when they are already encoded."""
        self._msg_id += 1
        msg_id = str(self._msg_id)
        self._sent.add(msg_id)
        if body is None:
            body = self._packer.encode(self._header_for(msg_id), commands, final)
        headers = {}
        if self._cred is not None and self._cred.auth_type is AuthType.MAC:
            headers[HMAC_HEADER_NAME] = str(HmacHeader(username=self._cred.user,
                                                       mac=self._cred.mac(body)))
        self.messages.append(("out", body))
        self._keep_issued_nonce(commands)
        return Send(self.url, body, self.encoding.content_type, headers)

    def _keep_issued_nonce(self, commands: list[Command]) -> None:
        """A nonce we issue to the server is stored once a message carries it to the
        server: it checks the server's next Cred and package 0. One issued on a message
        we never answer (the server's last) never reached it, and is not kept."""
        for command in commands:
            if isinstance(command, Status) and command.cmd_ref == "0" and command.chal \
                    and command.chal.next_nonce:
                self._store_nonce("SRVCRED", decode_nonce(command.chal.next_nonce))

    # ------------------------------------------------------------------ checks and the end

    def _inconsistency(self, message: Message) -> str:
        header = message.header
        if header.session_id != self.session_id:
            return f"SessionID {header.session_id!r} is not this session's {self.session_id!r}"
        for command in message.body.commands:
            if isinstance(command, Status) and command.msg_ref not in self._sent:
                return (f"Status {command.cmd_id} refers to message {command.msg_ref!r}, "
                        "which the handset never sent")
        return ""

    def _status_for_us(self, message: Message) -> Status | None:
        for command in message.body.commands:
            if isinstance(command, Status) and command.cmd_ref == "0":
                return command
        return None

    def _end(self, outcome: Outcome, reason: str, *, abort: bool = False) -> Ended:
        farewell = None
        if abort:
            self._msg_id += 1
            header = self._header_for(str(self._msg_id))
            body = self._packer.encode(header, [self._alert(AlertCode.SESSION_ABORT)], True)
            farewell = Send(self.url, body, self.encoding.content_type)
            self.messages.append(("out", body))
        self._state = _State.ENDED
        self.outcome, self.reason = outcome, reason
        return Ended(outcome, reason, farewell)

    # ------------------------------------------------------------------ nonces

    def _store_nonce(self, level: str, nonce: bytes) -> None:
        """Write a nonce to the account's AAuthData for `level` (device authority)."""
        credential = self.account.credential(level)
        if credential is None:
            return
        self.tree.replace(child_path(credential.path, "AAuthData"), None, value=nonce,
                          format="bin")



def _leaf(tree: Tree, path: str) -> str:
    node = tree.node(path)
    if node is None or node.value is None:
        return ""
    value = node.value
    return value.decode() if isinstance(value, bytes) else value


def _auth_type(name: str) -> AuthType | None:
    try:
        return AAuthType(name.upper()).auth_type
    except ValueError:
        return None


def _client_credentials(account: Account) -> CredentialState | None:
    credential = account.client_credential
    if credential is None:
        return None
    auth = _auth_type(credential.type)
    if auth not in (AuthType.BASIC, AuthType.MD5, AuthType.MAC):
        return None  # transport-level (HTTP, TLS) authentication: nothing in SyncML
    return CredentialState(auth, user=credential.name, secret=credential.secret,
                           stored_nonce=credential.data)


def _server_check(account: Account, make_nonce: Callable[[], bytes]) -> ChallengeState | None:
    credential = account.server_credential
    if credential is None:
        return None
    auth = _auth_type(credential.type)
    if auth not in (AuthType.BASIC, AuthType.MD5, AuthType.MAC):
        return None
    return ChallengeState(auth, user=credential.name, secret=credential.secret,
                          nonce=credential.data, make_nonce=make_nonce)

